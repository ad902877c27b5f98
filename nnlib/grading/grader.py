"""Grade exercise implementations: one submission, or a whole class in parallel.

Each submission runs in its own subprocess (:mod:`nnlib.grading.runner`), which streams
one event per test to a file. If the subprocess dies (``os._exit``, a crash) or stops
making progress, the test it was running fails with a clear message and the remaining
tests run in a fresh subprocess, so one broken function never costs the other exercises
their points.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlib.grading.impl import ImplementationError, find_root, impl_dir
from nnlib.grading.plugin import DEFAULT_TIMEOUT
from nnlib.grading.topics import TOPICS

__all__ = ["Grade", "grade", "grade_submissions", "format_table", "gradescope_results"]

STATUS_ORDER = ("passed", "failed", "waiting", "not implemented")


@dataclass
class Grade:
    """The outcome of grading one implementation: one record per test."""

    records: list[dict[str, Any]]
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned."""
        return sum(r["score"] for r in self.records)

    @property
    def max_score(self) -> float:
        """Points possible."""
        return sum(r["points"] for r in self.records)

    def by_topic(self) -> dict[str, dict[str, Any]]:
        """``{topic: {"score", "max_score", "passed", "tests", "status", "message"}}``."""
        out: dict[str, dict[str, Any]] = {}
        for topic in TOPICS:
            mine = [r for r in self.records if r["topic"] == topic]
            if not mine:
                continue
            failed = [r for r in mine if r["status"] != "passed"]
            if not failed:
                status = "passed"
            elif all(r["status"] == "not implemented" for r in failed) and len(failed) == len(mine):
                status = "not implemented"
            else:
                waiting = sum(r["status"] == "waiting" for r in failed)
                status = f"failed {len(failed) - waiting} of {len(mine)}"
                if waiting:  # judged only once the function they depend on passes
                    status += f", {waiting} waiting"
            out[topic] = {
                "score": sum(r["score"] for r in mine),
                "max_score": sum(r["points"] for r in mine),
                "tests": len(mine),
                "status": status,
                "message": _first_message(failed),
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
            raise ImplementationError("the hidden tests are not part of this copy of the course "
                                      "(tests/hidden is missing); grade without --hidden")
        folders.append(root / "tests" / "hidden")
    files = [f / f"test_{t}.py" for f in folders for t in topics]
    return [f for f in files if f.is_file()]


def _read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def _run_submission(folder: Path, files: list[Path], timeout: float) -> list[dict[str, Any]]:
    """Run ``files`` against the implementation in ``folder``; return one record per test."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env.update(NNLIB_IMPL=str(folder), NNLIB_ROOT=str(find_root()),
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    # the runner must import this very nnlib, not whatever the student's folder holds
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2])]
                                        + [p for p in [os.environ.get("PYTHONPATH")] if p])
    stall = 3 * timeout + 30  # seconds without any event before the run is declared hung
    records: dict[str, dict[str, Any]] = {}
    collected: list[dict[str, Any]] | None = None
    with tempfile.TemporaryDirectory(prefix="nnlib-grade-") as tmp:
        for attempt in range(50):
            events_path = Path(tmp) / f"events{attempt}.jsonl"
            skip_path = Path(tmp) / f"skip{attempt}.txt"
            skip_path.write_text("\n".join(records), encoding="utf-8")
            cmd = [sys.executable, "-m", "nnlib.grading.runner", "--out", str(events_path),
                   "--timeout", f"{timeout:g}", "--skip", str(skip_path)] + [str(f) for f in files]
            proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            last_size, last_change, killed = -1, time.monotonic(), False
            while proc.poll() is None:
                time.sleep(0.05)
                size = events_path.stat().st_size if events_path.exists() else 0
                if size != last_size:
                    last_size, last_change = size, time.monotonic()
                elif time.monotonic() - last_change > stall:
                    proc.kill()
                    proc.wait()
                    killed = True
            started = None
            finished = False
            for event in _read_events(events_path):
                if "collected" in event and collected is None:
                    collected = event["collected"]
                elif "start" in event:
                    started = event["start"]
                elif "record" in event:
                    records[event["record"]["nodeid"]] = event["record"]
                    started = None
                elif "finished" in event:
                    finished = True
            if collected is None:
                raise ImplementationError("the tests could not be collected (is the course "
                                          "folder complete?)")
            if finished or started is None:
                break
            info = next((c for c in collected if c["nodeid"] == started), None)
            if info is None:
                break
            why = (f"stopped responding (no result within {stall:g} s)" if killed else
                   "crashed the test process (os._exit, a crash, or running out of memory?)")
            records[started] = dict(info, status="failed", message=f"{info['function']} {why}")
            if len(records) >= len(collected):
                break
    out = []
    for info in collected or []:
        rec = records.get(info["nodeid"]) or dict(
            info, status="failed", message="did not run (the test process kept crashing)")
        rec = dict(rec)
        rec["score"] = rec["points"] if rec["status"] == "passed" else 0.0
        out.append(rec)
    return out


def grade(impl: str | os.PathLike[str] = "exercises", hidden: bool = False,
          timeout: float = DEFAULT_TIMEOUT, topics: Iterable[str] | None = None) -> Grade:
    """Grade one implementation (``exercises``, ``solutions`` or a folder) in a subprocess."""
    start = time.monotonic()
    root = find_root()
    folder = impl_dir(impl)
    if not folder.is_dir():
        raise ImplementationError(f"implementation folder not found: {impl}")
    files = test_files(root, hidden, topics)
    records = _run_submission(folder, files, timeout)
    return Grade(records=records, seconds=time.monotonic() - start)


def format_table(result: Grade, width: int = 100) -> str:
    """The per-exercise table, ending with exactly one line ``Score: X / Y``."""
    rows = [("exercise", "points", "status", "first failure")]
    for topic, t in result.by_topic().items():
        rows.append((topic, f"{_fmt_points(t['score'])} / {_fmt_points(t['max_score'])}",
                     t["status"], t["message"]))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    lines = []
    for r in rows:
        head = f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:<{w2}}  "
        msg = " ".join(r[3].split())
        room = max(width - len(head), 20)
        if len(msg) > room:
            msg = msg[: room - 3] + "..."
        lines.append((head + msg).rstrip())
    lines.insert(1, "-" * min(width, max(len(line) for line in lines)))
    lines.append(f"Score: {_fmt_points(result.score)} / {_fmt_points(result.max_score)}")
    return "\n".join(lines)


def gradescope_results(result: Grade) -> dict[str, Any]:
    """A Gradescope autograder ``results.json`` document for ``result``.

    Public tests are ``visible``; hidden tests are ``after_published``, so students see
    them (name, score and the curated message, never the test's source) only once the
    grades are published.
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
    return {
        "score": result.score,
        "execution_time": round(result.seconds),
        "output": output,
        "visibility": "visible",
        "tests": tests,
    }


def write_json(result: Grade, path: str | os.PathLike[str]) -> None:
    """Write :func:`gradescope_results` to ``path``."""
    Path(path).write_text(json.dumps(gradescope_results(result), indent=2) + "\n",
                          encoding="utf-8")


def grade_submissions(submissions: str | os.PathLike[str], csv_path: str | os.PathLike[str],
                      hidden: bool = False, timeout: float = DEFAULT_TIMEOUT,
                      jobs: int | None = None, json_dir: str | os.PathLike[str] | None = None,
                      progress: bool = True) -> dict[str, Grade]:
    """Grade every sub-folder of ``submissions`` in parallel and write a grades CSV.

    The CSV has one row per student (the folder's name): the points of each exercise and
    the total; a last row ``max_points`` holds the points possible. With ``json_dir``, a
    Gradescope ``<student>.json`` is written per student as well.
    """
    folders = sorted(p for p in Path(submissions).iterdir() if p.is_dir())
    if not folders:
        raise ImplementationError(f"no submission folders in {submissions}")
    jobs = jobs or os.cpu_count() or 1
    results: dict[str, Grade] = {}

    def one(folder: Path) -> tuple[str, Grade]:
        try:
            return folder.name, grade(folder, hidden=hidden, timeout=timeout)
        except ImplementationError as e:
            return folder.name, Grade(records=[], problems=[str(e)])

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (name, result) in enumerate(pool.map(one, folders), 1):
            results[name] = result
            if progress:
                print(f"[{i}/{len(folders)}] {name}: {_fmt_points(result.score)} / "
                      f"{_fmt_points(result.max_score)}", flush=True)
    full = next((g for g in results.values() if g.records), None)
    topics = [t for t in TOPICS if full and t in full.by_topic()]
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *topics, "total"])
        for name, result in results.items():
            per = result.by_topic()
            writer.writerow([name, *(_fmt_points(per[t]["score"]) if t in per else "0"
                                     for t in topics), _fmt_points(result.score)])
        if full is not None:
            per = full.by_topic()
            writer.writerow(["max_points", *(_fmt_points(per[t]["max_score"]) for t in topics),
                             _fmt_points(full.max_score)])
    if json_dir is not None:
        Path(json_dir).mkdir(parents=True, exist_ok=True)
        for name, result in results.items():
            write_json(result, Path(json_dir) / f"{name}.json")
    return results
