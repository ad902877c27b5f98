"""Grade exercise implementations: one submission, or a whole class in parallel.

Grading runs in two roles (see docs/grading.md):

- the **judge** (:mod:`nnlib.grading.judge`), one trusted process per submission: pytest
  with the tests, nnlib and the reference. It gives every point.
- the **worker** (:mod:`nnlib.grading.sandboxed.worker`), one untrusted process per
  submission, in a
  bubblewrap sandbox where one can start: it loads only the student's files (with numpy)
  and runs the calls the judge sends it (:mod:`nnlib.grading.judge.session`).

This module prepares a private copy of the hand-in (:mod:`nnlib.grading.grader.submission`),
starts the judge, reads its records, and alone writes the results: the table, Gradescope's
``results.json`` and the class's ``grades.csv``, each written atomically after every
process of the submission has ended. If the judge itself stops (it should not: no student
code runs in it), the test it was running fails and the remaining tests run in a new judge.
"""

from __future__ import annotations

import csv
import io
import json
import os
import select
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlib._files import write_text
from nnlib.grading.clock import COLLECT, DEFAULT_TIMEOUT, JUDGES, Limits
from nnlib.grading.grader import isolation
from nnlib.grading.grader.submission import Handin, copy_handin, inspect_handin
from nnlib.grading.impl import GradingSetupError, ImplementationError, find_root, impl_dir
from nnlib.grading.judge import sandbox as sandboxing
from nnlib.grading.registry import TOPICS

__all__ = ["Grade", "grade", "grade_submissions", "format_table", "gradescope_results",
           "write_json", "SandboxRequired", "check_output_path", "collect", "protections_line"]

STATUS_ORDER = ("passed", "failed", "waiting", "not implemented")


class SandboxRequired(GradingSetupError):
    """``sandbox="require"`` (``--require-sandbox``) and the sandbox cannot start here."""


@dataclass
class Grade:
    """The outcome of grading one implementation: one record per test."""

    records: list[dict[str, Any]]
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    """The protections in force while the student's code ran (human-readable)."""
    sandboxed: bool = False
    """True when the worker ran in the bubblewrap sandbox."""
    note: str = ""
    """How the hand-in was read, when it was not flat (e.g. ``exercises/`` inside it)."""

    @property
    def score(self) -> float:
        """Points earned."""
        return sum(r["score"] for r in self.records)

    @property
    def max_score(self) -> float:
        """Points possible."""
        return sum(r["points"] for r in self.records)

    def by_topic(self) -> dict[str, dict[str, Any]]:
        """``{topic: {"score", "max_score", "tests", "status", "message"}}``."""
        out: dict[str, dict[str, Any]] = {}
        for topic in TOPICS:
            mine = [r for r in self.records if r["topic"] == topic]
            if not mine:
                continue
            failed = [r for r in mine if r["status"] == "failed"]
            waiting = [r for r in mine if r["status"] == "waiting"]
            missing = [r for r in mine if r["status"] == "not implemented"]
            if not failed and not waiting and not missing:
                status = "passed"
            elif len(missing) == len(mine):
                status = "not implemented"
            else:
                # waiting: judged only once the function they depend on passes
                parts = [f"{len(v)} {word}" for v, word in ((waiting, "waiting"),
                                                           (missing, "not implemented")) if v]
                if failed:
                    parts.insert(0, f"failed {len(failed)} of {len(mine)}")
                else:
                    parts[0] = parts[0].replace(" ", f" of {len(mine)} ", 1)
                status = ", ".join(parts)
            out[topic] = {
                "score": sum(r["score"] for r in mine),
                "max_score": sum(r["points"] for r in mine),
                "tests": len(mine),
                "status": status,
                "message": _first_message(failed or waiting or missing),
            }
        return out


def _first_message(failed: list[dict[str, Any]]) -> str:
    if not failed:
        return ""
    first = min(failed, key=lambda r: r["status"] == "waiting")  # the cause before its effects
    function, message = first["function"], first["message"]
    return message if message.startswith(function) else f"{function}: {message}"


def _fmt_points(x: float) -> str:
    return f"{x:g}"


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


def _judge_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NNLIB_"))}
    env.update(NNLIB_ROOT=str(root), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # the judge must import this very nnlib, never anything from the submission
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[3])]
                                        + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


def _run_judge(cfg: dict[str, Any], cwd: Path, hard_deadline: float,
               stall: float) -> tuple[list[dict[str, Any]], int | None]:
    """Run one judge process with ``cfg``; return its events and its uid's base pid."""
    r, w = os.pipe()
    cfg = dict(cfg, events_fd=w)
    cwd.mkdir(exist_ok=True)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "nnlib.grading.judge"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                pass_fds=[w], env=_judge_env(Path(cfg["root"])), cwd=cwd,
                                start_new_session=True)
        os.close(w)
        events: list[dict[str, Any]] = []
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(cfg).encode("utf-8"))
            proc.stdin.close()
        except OSError:
            pass
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
            sandboxing.kill_uid_from_threads(self.uid, _judge_env(self.root))


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
                 sandboxed=rounds.sandboxed, note=h.note)


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


# ------------------------------------------------------------------ output
def _wrap(text: str, width: int, indent: str) -> list[str]:
    # between words only: a number or a path is never cut in two
    return textwrap.wrap(" ".join(text.split()), width=max(width, len(indent) + 20),
                         initial_indent=indent, subsequent_indent=" " * len(indent),
                         break_long_words=False, break_on_hyphens=False) or [indent]


def protections_line(result: Grade) -> str:
    """The protections in one short line, for the student's view ("" when none reported).

    The full list (:attr:`Grade.protections`) is for instructors: ``nnlib grade --verbose``,
    the class run's log, the Gradescope autograder's output.
    """
    if not result.protections:
        return ""
    text = " ".join(result.protections)
    if "chroot fallback" in text:
        return "your code ran sandboxed (a chroot of its own), apart from the grader"
    if result.sandboxed:
        return "your code ran sandboxed (bubblewrap), apart from the grader"
    return "your code ran in a process apart from the grader, without a sandbox"


def format_table(result: Grade, width: int = 100, verbose: bool = False) -> str:
    """The per-exercise table, with each exercise's first failure in full.

    The first failure is wrapped inside its column (under the table when the terminal is
    too narrow for a column), never cut. Then any problem with the hand-in, one line on
    the protections in force (with ``verbose``, all of them, for instructors) and, last,
    exactly one line ``Score: X / Y``.
    """
    per = result.by_topic()
    rows = [("exercise", "points", "status", "first failure")]
    for topic, t in per.items():
        rows.append((topic, f"{_fmt_points(t['score'])} / {_fmt_points(t['max_score'])}",
                     t["status"], t["message"]))
    w0, w1, w2 = (max(len(r[i]) for r in rows) for i in range(3))
    indent = w0 + w1 + w2 + 6
    room = width - indent
    lines = []
    below = []
    for r in rows:
        head = f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:<{w2}}  "
        if room >= 30 or not r[3] or r is rows[0]:
            text = _wrap(r[3], room, "") if r[3] else [""]
            lines.append((head + text[0].strip()).rstrip())
            lines += [" " * indent + t.strip() for t in text[1:]]
        else:
            lines.append(head.rstrip())
            below += _wrap(r[3], width, f"  {r[0]:<{w0}}  ")
    lines.insert(1, "-" * min(width, max(len(line) for line in lines)))
    if below:
        lines += ["", "First failure of each exercise:", *below]
    for problem in result.problems:
        lines += _wrap(problem, width, "Problem: ")
    if result.note:
        lines += _wrap(result.note + ".", width, "Note: ")
    if result.protections and verbose:
        lines += _wrap("; ".join(result.protections) + ".", width, "Protections: ")
    elif result.protections:
        lines.append(f"Protections: {protections_line(result)} (--verbose lists them).")
    lines.append(f"Score: {_fmt_points(result.score)} / {_fmt_points(result.max_score)}")
    return "\n".join(lines)


def gradescope_results(result: Grade) -> dict[str, Any]:
    """A Gradescope autograder ``results.json`` document for ``result``.

    Public tests are ``visible``; hidden tests are ``after_published``, so students see
    them (name, score and the curated message, never the test's source) only once the
    grades are published. The top-level ``output`` names the protections in one line
    (:func:`protections_line`); the full list is for instructors (the autograder prints it
    to its standard output, which Gradescope shows to instructors only).
    """
    tests = []
    numbers: dict[str, int] = {}
    topic_index = {t: i + 1 for i, t in enumerate(TOPICS)}
    for r in result.records:
        numbers[r["topic"]] = numbers.get(r["topic"], 0) + 1
        hidden = r["visibility"] == "hidden"
        entry = {
            "name": f"{r['topic']}: {r['function']}: {r['name']}" + (" (hidden)" if hidden else ""),
            "number": f"{topic_index.get(r['topic'], 0)}.{numbers[r['topic']]}",
            "score": r["score"],
            "max_score": r["points"],
            "status": "passed" if r["status"] == "passed" else "failed",
            "output": r["message"] if r["status"] != "passed" else "",
            "tags": [r["topic"], r["function"]],
            "visibility": "after_published" if hidden else "visible",
        }
        tests.append(entry)
    n_hidden = sum(r["visibility"] == "hidden" for r in result.records)
    output = (f"Graded {len(result.records)} tests"
              + (f" ({n_hidden} of them hidden until grades are published)" if n_hidden else "")
              + ". Run `python -m nnlib grade` to see the public tests' results yourself.")
    if result.note:
        output += f"\nNote: {result.note}."
    for problem in result.problems:
        output += f"\nProblem: {problem}"
    if result.protections:
        output += f"\nProtections: {protections_line(result)}."
    return {
        "score": result.score,
        "execution_time": round(result.seconds),
        "output": output,
        "visibility": "visible",
        "tests": tests,
    }


def check_output_path(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Fail with a clear :class:`GradingSetupError` unless ``path`` can be (re)written."""
    p = Path(path)
    if p.is_dir():
        raise GradingSetupError(f"the {what} {p} is a folder; give a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise GradingSetupError(f"cannot write the {what} {p}: the folder {folder} does "
                                  "not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise GradingSetupError(f"cannot write the {what} {p}: {e.strerror}") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise GradingSetupError(f"cannot write the {what} {p}: permission denied")
    return p


def write_json(result: Grade, path: str | os.PathLike[str]) -> None:
    """Write :func:`gradescope_results` to ``path`` atomically (a temp file, then a rename)."""
    write_text(path, json.dumps(gradescope_results(result), indent=2) + "\n", "nnlib grade")


def safe_cell(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet reads as a formula (``'`` before it).

    ``max_points``, the name of the grades table's last row, gets the ``'`` too, so that a
    student folder of that name cannot be taken for it.
    """
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") or text == "max_points":
        return "'" + text
    return text


def _failed_grade(collected: list[dict[str, Any]], why: str) -> Grade:
    records = _records(collected, {}, why)
    return Grade(records=records, problems=[why])


def list_submissions(base: Path) -> tuple[list[Path], dict[str, str]]:
    """The entries of ``base`` to grade, and ``{name: why it is not graded}`` for the rest.

    Every sub-folder is graded, symbolic links included (they earn 0, saying why); an entry
    whose name starts with ``.`` (``.git``, ``.ipynb_checkpoints``, a hidden folder) and a
    plain file are not, and are named with the reason so that nobody vanishes silently.
    """
    entries, skipped = [], {}
    for p in sorted(Path(base).iterdir()):
        if p.name.startswith("."):
            what = "folder" if p.is_dir() else "file"
            skipped[p.name] = (f"a hidden {what} (its name starts with '.'): not graded; "
                               "rename it to grade it")
        elif p.is_dir() or p.is_symlink():
            entries.append(p)
        else:
            skipped[p.name] = "a file, not a folder: not graded (one folder per student)"
    return entries, skipped


CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
"""The student columns of a Canvas gradebook CSV, in the order Canvas exports them."""


def read_roster(path: str | os.PathLike[str],
                id_column: str = "SIS Login ID") -> dict[str, dict[str, str]]:
    """``{submission folder name: Canvas student columns}`` from a roster CSV.

    The roster is either Canvas's own gradebook export (Grades, Export; its "Points
    Possible" row is ignored), whose students are matched to folders by ``id_column``, or
    any CSV with a ``folder`` column and some of :data:`CANVAS_COLUMNS`.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ImplementationError(f"cannot read the roster {path}: {e.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise ImplementationError(f"the roster {path} is not a CSV file: {e}") from None
    header = set(rows[0]) if rows else set()
    key = "folder" if "folder" in header else id_column
    if key not in header:
        raise ImplementationError(
            f"the roster {path} has neither a 'folder' column nor a {id_column!r} column "
            f"(it has: {', '.join(sorted(header)) or 'no header'})")
    roster: dict[str, dict[str, str]] = {}
    for row in rows:
        name = (row.get(key) or "").strip()
        if not name or "points possible" in (row.get("Student") or "").lower():
            continue
        roster[name] = {c: (row.get(c) or "").strip() for c in CANVAS_COLUMNS}
    return roster


def canvas_rows(results: dict[str, Grade], assignment: str,
                roster: dict[str, dict[str, str]] | None = None,
                id_column: str = "SIS Login ID") -> tuple[list[list[str]], dict[str, str]]:
    """Rows of a Canvas gradebook import (header first) and ``{folder: why left out}``.

    One row per graded folder and nothing else: no points-possible row, no totals. Without
    a roster the folder name is the student's ``id_column``; with one, the roster's columns
    are copied, and a folder that is not in the roster is left out (Canvas could not match
    it) and named.
    """
    rows = [[*CANVAS_COLUMNS, assignment]]
    left_out: dict[str, str] = {}
    for name, result in results.items():
        if roster is None:
            student = dict.fromkeys(CANVAS_COLUMNS, "")
            student[id_column] = name
        elif name in roster:
            student = roster[name]
        else:
            left_out[name] = "not in the roster: left out of the Canvas file"
            continue
        rows.append([*(safe_cell(student[c]) for c in CANVAS_COLUMNS),
                     _fmt_points(result.score)])
    return rows, left_out


def grade_submissions(submissions: str | os.PathLike[str], csv_path: str | os.PathLike[str],
                      hidden: bool = False, timeout: float = DEFAULT_TIMEOUT,
                      jobs: int | None = None, json_dir: str | os.PathLike[str] | None = None,
                      progress: bool = True, sandbox: str = "auto",
                      unisolated: bool = False,
                      canvas: str | os.PathLike[str] | None = None,
                      roster: dict[str, dict[str, str]] | None = None,
                      assignment: str = "nnlib exercises",
                      id_column: str = "SIS Login ID") -> dict[str, Grade]:
    """Grade every sub-folder of ``submissions`` in parallel and write a grades CSV.

    The CSV has one row per submission folder (its name): the points of each exercise and
    the total; a last row ``max_points`` holds the points possible, computed from the tests'
    definitions. With ``json_dir``, a Gradescope ``<student>.json`` is written per student
    as well; with ``canvas``, a Canvas gradebook import (:func:`canvas_rows`). Output paths
    are checked before anything is graded; every file is written atomically, by this
    process only. Entries that are not graded (:func:`list_submissions`) are printed with
    the reason, as are the folders left out of the Canvas file, when ``progress``.
    ``sandbox`` and ``unisolated`` are as for :func:`grade` (``unisolated`` is never
    implied for a class).
    """
    check_output_path(csv_path, "grades table")
    if canvas is not None:
        check_output_path(canvas, "Canvas grades file")
    if json_dir is not None:
        jd = Path(json_dir)
        if jd.exists() and not jd.is_dir():
            raise GradingSetupError(f"--json-dir {jd} exists and is not a folder")
        jd.mkdir(parents=True, exist_ok=True)
        check_output_path(jd / "probe.json", "results folder entry")
    base = Path(submissions)
    if not base.is_dir():
        raise GradingSetupError(f"no such submissions folder: {submissions}")
    entries, skipped = list_submissions(base)
    if not entries:
        raise GradingSetupError(f"no submission folders in {submissions}"
                                  + "".join(f"; {n}: {why}" for n, why in skipped.items()))
    if progress:
        for name, why in skipped.items():
            print(f"skipped {name}: {why}", flush=True)
    root = find_root()
    files = test_files(root, hidden)
    box = _sandbox(sandbox, unisolated)
    collected = collect(hidden)
    jobs = jobs or os.cpu_count() or 1
    results: dict[str, Grade] = {}

    def one(folder: Path) -> tuple[str, Grade]:
        try:
            if folder.is_symlink():
                return folder.name, _failed_grade(
                    collected, "the submission folder is a symbolic link: not graded")
            return folder.name, _grade_handin(root, files, inspect_handin(folder), timeout, box)
        except Exception as e:  # noqa: BLE001 - one submission never stops the class run
            return folder.name, _failed_grade(collected, f"could not be graded: {e}")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (name, result) in enumerate(pool.map(one, entries), 1):
            results[name] = result
            if progress:
                try:
                    why = f" ({result.problems[0]})" if result.problems else ""
                    print(f"[{i}/{len(entries)}] {name}: {_fmt_points(result.score)} / "
                          f"{_fmt_points(result.max_score)}{why}", flush=True)
                except BrokenPipeError:  # `... | head`: keep grading, write the results
                    progress = False
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
    topics = [t for t in TOPICS if any(c["topic"] == t for c in collected)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", *topics, "total"])
    for name, result in results.items():
        per = result.by_topic()
        writer.writerow([safe_cell(name), *(_fmt_points(per[t]["score"]) if t in per else "0"
                                            for t in topics), _fmt_points(result.score)])
    writer.writerow(["max_points",
                     *(_fmt_points(sum(c["points"] for c in collected if c["topic"] == t))
                       for t in topics),
                     _fmt_points(sum(c["points"] for c in collected))])
    write_text(csv_path, out.getvalue(), "nnlib grade")
    if canvas is not None:
        rows, left_out = canvas_rows(results, assignment, roster, id_column)
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        write_text(canvas, text.getvalue(), "nnlib grade")
        if progress:
            for name, why in left_out.items():
                print(f"{name}: {why}", flush=True)
            for name in sorted(set(roster or ()) - set(results)):
                print(f"{name} (roster): no submission folder, so no row in the Canvas file "
                      "(Canvas keeps the gradebook's current value)", flush=True)
    if json_dir is not None:
        for name, result in results.items():
            write_json(result, Path(json_dir) / f"{name}.json")
    return results
