"""Judges forked from a template grade exactly as spawned ones, and the template never outlives
its class run nor stops one when it is gone."""

import json
import os
import signal
import socket
import sys
from pathlib import Path

from nnlib.grading.grader import judges
from nnlib.grading.grader.classes import grade_submissions
from nnlib.grading.grader.grade import grade

from .conftest import ROOT, make_submission
from .mutants import MUTANTS, write_submission


def _children_running(pattern: str) -> list[int]:
    """Pids of this process's children whose command line holds ``pattern``."""
    me, out = str(os.getpid()), []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[1] == me and pattern in cmd:
            out.append(int(p.name))
    return out


def _essentials(g):
    return [(r["nodeid"], r["status"], r["score"], r["message"], r["mistake"])
            for r in g.records]


def _counting(monkeypatch) -> list[int]:
    forked: list[int] = []
    original = judges.Template.fork

    def fork(self, *args):
        judge = original(self, *args)
        if judge is not None:
            forked.append(judge.pid)
        return judge

    monkeypatch.setattr(judges.Template, "fork", fork)
    return forked


def test_a_forked_judge_grades_exactly_as_a_spawned_one(tmp_path, monkeypatch):
    mutant = next(m for m in MUTANTS if m.catalogue)
    folder = write_submission(mutant, tmp_path / "mutant")
    spawned = grade(folder, hidden=True, topics=[mutant.topic])
    forked_pids = _counting(monkeypatch)
    with judges.templates(ROOT):
        forked = grade(folder, hidden=True, topics=[mutant.topic])
    assert len(forked_pids) == 1
    assert _essentials(forked) == _essentials(spawned)
    assert any(r["mistake"] == mutant.catalogue for r in forked.records)
    assert forked.isolation == spawned.isolation


def test_a_class_forks_every_judge_from_one_template_that_ends_with_the_run(tmp_path,
                                                                             monkeypatch):
    subs = tmp_path / "subs"
    for name in ("ann", "bob", "cyd"):
        make_submission(subs / name)
    forked_pids = _counting(monkeypatch)
    results = grade_submissions(subs, tmp_path / "grades.csv", topics=["dense"],
                                progress=False, jobs=2)
    assert {n: r.score for n, r in results.items()} == {
        n: results["ann"].max_score for n in ("ann", "bob", "cyd")}
    assert results["ann"].max_score > 0
    # the collection and the three submissions, each in a process of its own
    assert len(set(forked_pids)) == 4
    assert not judges._templates
    assert not _children_running("nnlib.grading.judge.template")


def test_forked_judges_compile_the_tests_once_into_a_folder_gone_with_the_template(tmp_path):
    folder = make_submission(tmp_path / "sub")
    with judges.templates(ROOT):
        (template,) = judges._templates.values()
        cache = Path(template.pycache.name)
        first = grade(folder, topics=["dense"])
        compiled = {p.relative_to(cache): p.stat().st_mtime_ns for p in cache.rglob("*.pyc")}
        second = grade(folder, topics=["dense"])
        again = {p.relative_to(cache): p.stat().st_mtime_ns for p in cache.rglob("*.pyc")}
        assert oct(cache.stat().st_mode & 0o777) == "0o700"
    tag = sys.implementation.cache_tag
    assert {f"test_dense.{tag}.pyc", f"conftest.{tag}.pyc"} <= {p.name for p in compiled}
    assert again == compiled  # read by the second judge, not written again
    assert _essentials(second) == _essentials(first) and first.score == first.max_score > 0
    assert not cache.exists()


def test_judges_are_spawned_when_the_template_is_gone(tmp_path, monkeypatch):
    folder = make_submission(tmp_path / "sub")
    forked_pids = _counting(monkeypatch)
    with judges.templates(ROOT):
        (template,) = judges._templates.values()
        assert template.proc is not None
        os.kill(template.proc.pid, signal.SIGKILL)
        template.proc.wait()
        g = grade(folder, topics=["dense"])
        assert template.proc is None  # given up: later judges are spawned at once
        g2 = grade(folder, topics=["losses"])
    assert not forked_pids
    assert g.score == g.max_score > 0 and g2.score == g2.max_score > 0


def test_the_template_forks_nothing_for_a_malformed_request():
    with judges.templates(ROOT):
        (template,) = judges._templates.values()
        with template.lock:
            r, w = os.pipe()
            try:
                socket.send_fds(template.sock, [b"not json"], [w, w])
                reply, fds, _, _ = socket.recv_fds(template.sock, 4096, 1)
            finally:
                os.close(r)
                os.close(w)
        assert json.loads(reply) == {"error": "bad request"} and not fds
        with template.lock:  # a configuration without the two descriptors
            socket.send_fds(template.sock, [json.dumps({"cwd": "/"}).encode()], [])
            reply, fds, _, _ = socket.recv_fds(template.sock, 4096, 1)
        assert json.loads(reply) == {"error": "bad request"} and not fds
        assert template.proc is not None and template.proc.poll() is None


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_forked_judge_that_hangs_is_killed_through_its_pidfd(tmp_path):
    (tmp_path / "test_hang.py").write_text("import time\ntime.sleep(600)\n")
    cfg = {"root": str(tmp_path), "files": [str(tmp_path / "test_hang.py")], "timeout": 10,
           "budget": 60, "collect_only": True}
    r, w = os.pipe()
    with open(tmp_path / "err", "wb") as err, judges.templates(ROOT):
        (template,) = judges._templates.values()
        judge = template.fork(cfg, tmp_path, w, err.fileno())
        os.close(w)
        assert judge is not None
        judge.kill()
        judge.wait()
        assert _read_all(r) == b""  # ended before it could report anything
        os.close(r)


def test_a_judge_that_cannot_start_says_why_on_its_standard_error(tmp_path):
    r, w = os.pipe()
    with open(tmp_path / "err", "wb") as err, judges.templates(ROOT):
        (template,) = judges._templates.values()
        judge = template.fork({"root": str(ROOT)}, tmp_path / "missing", w, err.fileno())
        os.close(w)
        assert judge is not None
        judge.wait()
        assert _read_all(r) == b""
        os.close(r)
    assert "FileNotFoundError" in (tmp_path / "err").read_text()
