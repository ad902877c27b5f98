"""What grading produced, and how it is shown: the table, Gradescope's results.json.

:class:`Grade` holds one record per test (its status, points and the message the judge
composed); :func:`format_table` prints it for a terminal and :func:`gradescope_results`
turns it into Gradescope's ``results.json``. Every file is written atomically, by the
grading process only.
"""

from __future__ import annotations

import json
import os
import textwrap
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlib._files import temp_file, write_text
from nnlib.grading.impl import GradingSetupError
from nnlib.grading.judge.records import STATUS_ORDER, Status
from nnlib.grading.registry import MISTAKES, TOPICS

MISTAKE_IDS = frozenset(m.id for m in MISTAKES)

__all__ = ["Grade", "format_table", "gradescope_results", "protections_line", "write_json",
           "check_output_path", "safe_cell", "STATUS_ORDER"]


@dataclass
class Grade:
    """The outcome of grading one implementation: one record per test."""

    records: list[dict[str, Any]]
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    """The protections in force while the student's code ran (human-readable)."""
    sandboxed: bool = False
    """True when the worker was isolated (bubblewrap or the chroot fallback)."""
    isolation: str = ""
    """How: ``"bwrap"``, ``"jail"`` (the chroot fallback) or ``"none"``; ``""`` when no
    student code ran."""
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
            waiting = [r for r in mine if r["status"] == Status.WAITING]
            missing = [r for r in mine if r["status"] == Status.NOT_IMPLEMENTED]
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
    first = min(failed, key=lambda r: r["status"] == Status.WAITING)  # the cause, not effects
    function, message = first["function"], first["message"]
    return message if message.startswith(function) else f"{function}: {message}"


def _fmt_points(x: float) -> str:
    return f"{x:g}"


def _columns(c: str) -> int:
    """The terminal columns a character takes: two for a wide one (CJK, emoji)."""
    return 2 if unicodedata.east_asian_width(c) in "WF" else 1


def _wrap(text: str, width: int, indent: str) -> list[str]:
    """``text`` in lines of at most ``width`` terminal columns after ``indent``.

    Between words, so a number or a path is never cut in two, unless a word is wider than
    a line: it is cut, so that the terminal never wraps a line itself (which would put the
    student's text at the start of a line of the table, a fake total say).
    """
    width = max(width, len(indent) + 20)
    room, words = width - len(indent), []
    for word in text.split():
        piece, used = "", 0
        for c in word:
            if used + _columns(c) > room:
                words.append(piece)
                piece, used = "", 0
            piece, used = piece + c, used + _columns(c)
        words.append(piece)
    # each wide character counted twice (a NUL before it), so that textwrap counts columns
    padded = " ".join("".join("\0" * (_columns(c) - 1) + c for c in w) for w in words)
    lines = textwrap.wrap(padded, width=width, initial_indent=indent,
                          subsequent_indent=" " * len(indent), break_long_words=False,
                          break_on_hyphens=False)
    return [line.replace("\0", "") for line in lines] or [indent]


def protections_line(result: Grade) -> str:
    """The protections in one short line, for the student's view ("" when none reported).

    The full list (:attr:`Grade.protections`) is for instructors: ``nnlib grade --verbose``,
    the class run's log, the Gradescope autograder's output.
    """
    if not result.protections:
        return ""
    if result.isolation == "jail":
        return "your code ran sandboxed (a chroot of its own), apart from the grader"
    if result.isolation == "bwrap":
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
        if r["status"] != "passed" and r.get("mistake") in MISTAKE_IDS:
            entry["extra_data"] = {"mistake": r["mistake"]}
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
        temp_file(p).unlink()
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
