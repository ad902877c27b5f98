"""Grade one submission (a class is graded by :mod:`nnlib.grading.grader.classes`).

Grading runs in two roles (see docs/grading.md):

- the **judge** (:mod:`nnlib.grading.judge`), one trusted process per submission: pytest
  with the tests, nnlib and the reference. It gives every point.
- the **worker** (:mod:`nnlib.grading.sandboxed.worker`), one untrusted process per
  submission, in a
  bubblewrap sandbox where one can start: it loads only the student's files (with numpy)
  and runs the calls the judge sends it (:mod:`nnlib.grading.judge.session`).

This module prepares a private copy of the hand-in (:mod:`nnlib.grading.grader.submission`),
starts the judge, reads its records, and returns the :class:`Grade` once every process of
the submission has ended; :mod:`nnlib.grading.grader.results` shows it as the table and
writes Gradescope's ``results.json``. If the judge itself stops (it should not: no student
code runs in it), the test it was running fails and the remaining tests run in a new judge.
"""

from __future__ import annotations

import json
import os
import select
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlib.grading.clock import COLLECT, DEFAULT_TIMEOUT, JUDGES, Limits
from nnlib.grading.grader import isolation, judges
from nnlib.grading.grader.results import Grade
from nnlib.grading.grader.submission import Handin, copy_handin, inspect_handin
from nnlib.grading.impl import GradingSetupError, ImplementationError, find_root, impl_dir
from nnlib.grading.judge import sandbox as sandboxing
from nnlib.grading.judge.records import STATUS_ORDER
from nnlib.grading.registry import TOPICS

__all__ = ["grade", "collect", "test_files", "SandboxRequired", "UNISOLATED_REFUSED"]


class SandboxRequired(GradingSetupError):
    """``sandbox="require"`` (``--require-sandbox``) and the sandbox cannot start here."""


def test_files(root: Path, hidden: bool, topics: Iterable[str] | None = None) -> list[Path]:
    """The test files to run: public, and hidden when asked, for ``topics`` (default all)."""
    topics = list(topics or TOPICS)
    folders = [root / "tests" / "public"]
    if hidden:
        if not (root / "tests" / "hidden").is_dir():
            raise GradingSetupError("the hidden tests are not part of this copy of the course "
                                      "(tests/hidden is missing); grade without --hidden")
        folders.append(root / "tests" / "hidden")
    files = [f / f"test_{t}.py" for f in folders for t in topics]
    return [f for f in files if f.is_file()]


UNISOLATED_REFUSED = (
    "student code cannot be isolated here: {reason}. Without isolation it would run as "
    "your user, and a hostile submission could change your tests and grades, read the "
    "solutions and use the network. Grade where bubblewrap can start, or as root (where the "
    "chroot fallback isolates it), or pass --unisolated (unisolated=True) if you trust "
    "every submission")


def _sandbox(mode: str, unisolated: bool = False) -> sandboxing.Sandbox:
    """The sandbox to grade with; refuses ``"none"`` unless ``unisolated`` allows it."""
    try:
        box = isolation.choose(mode)
    except isolation.SandboxUnavailable as e:
        raise SandboxRequired(str(e)) from None
    except ValueError as e:
        raise GradingSetupError(str(e)) from None
    if box.kind == "none" and not unisolated:
        raise SandboxRequired(UNISOLATED_REFUSED.format(reason=box.reason))
    if box.kind == "none" and os.geteuid() != 0:
        # the worker will run as our user: keep it from our pipes and memory (/proc/PID/fd)
        from nnlib.grading.judge.process import harden_judge

        harden_judge()
    return box


def _run_judge(cfg: dict[str, Any], cwd: Path, hard_deadline: float,
               stall: float) -> tuple[list[dict[str, Any]], int | None]:
    """Run one judge with ``cfg``; return its events and its pid."""
    r, w = os.pipe()
    cwd.mkdir(exist_ok=True)
    with tempfile.TemporaryFile() as err:
        try:
            proc = judges.start(cfg, cwd, w, err.fileno())
        finally:
            os.close(w)
        events: list[dict[str, Any]] = []
        buf = b""
        last = time.monotonic()
        with os.fdopen(r, "rb", buffering=0) as pipe:
            while True:
                now = time.monotonic()
                if now > hard_deadline or now - last > stall:
                    proc.kill()
                    events.append({"killed": "deadline" if now > hard_deadline else "stall"})
                    break
                ready, _, _ = select.select([pipe], [], [], 0.5)
                if not ready:
                    continue
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                last = time.monotonic()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        continue
        proc.wait()
        if not any("finished" in e for e in events):
            err.seek(0)
            tail = err.read()[-800:].decode("utf-8", "replace").strip()
            if tail:
                events.append({"stderr": tail})
    return events, proc.pid


def _records(collected: list[dict[str, Any]], done: dict[str, dict[str, Any]],
             missing: str) -> list[dict[str, Any]]:
    out = []
    for info in collected:
        rec = dict(done.get(info["nodeid"]) or dict(info, status="failed", message=missing))
        if rec["status"] not in STATUS_ORDER:
            rec["status"] = "failed"
        rec["score"] = rec["points"] if rec["status"] == "passed" else 0.0
        out.append(rec)
    return out


@dataclass
class _Rounds:
    """The judges of one submission: run one after another until every test has a record.

    A judge that stops (it should not: no student code runs in it) costs the test it was
    running, and the next judge goes on with the remaining tests. The submission's folders
    are laid out once, before the first judge (:func:`sandboxing.prepare`), and reused as
    they are: nothing the worker could have written is ever prepared again.
    """

    root: Path
    files: list[Path]
    handin: Handin
    timeout: float
    box: sandboxing.Sandbox
    tmp: Path
    dirs: dict[str, str]
    uid: int | None
    budget: float
    ends: float
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    collected: list[dict[str, Any]] | None = None
    problems: list[str] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    sandboxed: bool = False
    isolation: str = ""

    def run(self) -> None:
        """Run judges until every test is done or the submission's time is up."""
        for _attempt in range(JUDGES):
            remaining = self.ends - time.monotonic()
            if remaining <= 1 or not self._one_judge(remaining):
                return

    def _one_judge(self, remaining: float) -> bool:
        """Run one judge; True when another judge must take over the remaining tests."""
        h = self.handin
        cfg = {"root": str(self.root), "files": [str(f) for f in self.files],
               "timeout": self.timeout, "budget": remaining, "total": self.budget,
               "skip": sorted(self.done), "tmp": str(self.tmp), "shown": h.shown,
               "refused": h.refused, "sandbox": self.box.to_json(), "dirs": self.dirs,
               "uid": self.uid}
        limits = Limits(self.timeout)
        events, _ = _run_judge(cfg, self.tmp / "judge",
                               time.monotonic() + remaining + limits.judge_grace(), limits.stall)
        self.end_worker()  # in case the judge was killed before it could end its worker
        started, finished = None, False
        for event in events:
            if "collected" in event and self.collected is None:
                self.collected = event["collected"]
            elif "protections" in event:
                self.protections = event["protections"]
                self.sandboxed = bool(event["sandboxed"])
                self.isolation = str(event.get("isolation", ""))
            elif "start" in event:
                started = event["start"]
            elif "record" in event:
                self.done[event["record"]["nodeid"]] = event["record"]
                started = None
            elif "finished" in event:
                finished = True
                for e in event.get("collect_errors") or ():
                    self.problems.append(f"test collection error: {e}")
        if self.collected is None:
            detail = next((e["stderr"] for e in events if "stderr" in e), "")
            raise ImplementationError("the tests could not be collected (is the course "
                                      "folder complete?)" + (f": {detail}" if detail else ""))
        info = next((c for c in self.collected if c["nodeid"] == started), None)
        if finished or info is None:
            return False
        killed = next((e["killed"] for e in events if "killed" in e), "")
        why = ("the submission's overall time limit ran out" if killed == "deadline" else
               "the grading process stopped responding" if killed else
               "the grading process stopped during this test")
        self.done[started] = dict(info, status="failed", message=f"{info['function']}: {why}")
        return len(self.done) < len(self.collected)

    def end_worker(self) -> None:
        """End every process of the submission's uid (as root)."""
        if self.uid is not None:
            sandboxing.kill_uid_from_threads(self.uid, judges.judge_env(self.root))


def _grade_handin(root: Path, files: list[Path], h: Handin, timeout: float,
                  box: sandboxing.Sandbox) -> Grade:
    start = time.monotonic()
    budget = Limits(timeout).submission
    problems = list(h.problems)
    with tempfile.TemporaryDirectory(prefix="nnlib-grade-") as tmp_name:
        tmp = Path(tmp_name)
        uid = sandboxing.new_uid()
        dirs = sandboxing.prepare(box, tmp, uid)
        rounds = _Rounds(root, files, h, timeout, box, tmp, dirs, uid, budget, start + budget)
        try:
            copy_handin(h, Path(dirs["submission"]))
            sandboxing.seal(dirs["submission"], uid)
            problems += [why for why in h.refused.values() if why not in problems]
            rounds.run()
        finally:
            rounds.end_worker()
            if box.kind == "jail":
                from nnlib.grading.judge import jail
                jail.build().remove_box(Path(dirs["submission"]))
    records = _records(rounds.collected or [], rounds.done,
                       "not graded: the submission's overall time limit ran out")
    return Grade(records=records, seconds=time.monotonic() - start,
                 problems=problems + rounds.problems, protections=rounds.protections,
                 sandboxed=rounds.sandboxed, isolation=rounds.isolation, note=h.note)


def grade(impl: str | os.PathLike[str] = "exercises", hidden: bool = False,
          timeout: float = DEFAULT_TIMEOUT, topics: Iterable[str] | None = None,
          sandbox: str = "auto", unisolated: bool | None = None) -> Grade:
    """Grade one implementation: ``exercises``, ``solutions`` or a submission folder.

    Parameters
    ----------
    impl : str or path
        What to grade. A folder may hold the files, ``exercises/``, or one sub-folder
        holding either.
    hidden : bool
        Add the hidden tests (instructors).
    timeout : float
        Seconds per test (and per call of a student function).
    topics : iterable of str, optional
        Grade these topics only.
    sandbox : {"auto", "require", "off"}
        Run the worker in bubblewrap when it can start (``auto``), refuse to grade without it
        (``require``: raises :class:`SandboxRequired`), or never (``off``). Without
        bubblewrap, as root, the chroot fallback isolates the worker.
    unisolated : bool, optional
        Allow grading where the worker cannot be isolated at all (not root, and bubblewrap
        cannot start): it then runs as the grader's user. Default: allowed for the public
        tests only (a student grading their own code), refused with the hidden tests
        (raises :class:`SandboxRequired`).
    """
    root = find_root()
    files = test_files(root, hidden, topics)
    box = _sandbox(sandbox, unisolated=not hidden if unisolated is None else unisolated)
    spec = os.fspath(impl)
    folder = impl_dir(impl)
    if not folder.is_dir():
        raise ImplementationError(f"implementation folder not found: {impl}")
    prefix = f"{spec}/" if spec in ("exercises", "solutions") else ""
    return _grade_handin(root, files, inspect_handin(folder, topics, prefix=prefix), timeout,
                         box)


def collect(hidden: bool = False, topics: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The tests' definitions (node id, topic, function, points, ...), without any submission."""
    root = find_root()
    files = test_files(root, hidden, topics)
    with tempfile.TemporaryDirectory(prefix="nnlib-collect-") as tmp:
        cfg = {"root": str(root), "files": [str(f) for f in files], "timeout": DEFAULT_TIMEOUT,
               "budget": 60, "collect_only": True}
        events, _ = _run_judge(cfg, Path(tmp) / "judge", time.monotonic() + COLLECT, COLLECT)
    for event in events:
        if "collected" in event:
            return event["collected"]
    detail = next((e["stderr"] for e in events if "stderr" in e), "")
    raise ImplementationError("the tests could not be collected" + (f": {detail}" if detail
                                                                     else ""))
