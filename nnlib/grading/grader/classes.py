"""Grading a whole class: every sub-folder of a submissions folder, in parallel.

:func:`grade_submissions` grades each folder as :func:`nnlib.grading.grader.grade.grade`
grades one, then writes the grades table (and, when asked, one results.json per student and
a Canvas gradebook import). Every entry it does not grade is named with the reason. The
class's judges are forked from one template judge (:mod:`nnlib.grading.grader.judges`),
which halves the cost of each.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nnlib._files import write_text
from nnlib.grading.clock import DEFAULT_TIMEOUT
from nnlib.grading.grader import judges
from nnlib.grading.grader.grade import _grade_handin, _records, _sandbox, collect, test_files
from nnlib.grading.grader.report import check_report_dir, write_report
from nnlib.grading.grader.results import (
    Grade,
    _fmt_points,
    check_output_path,
    safe_cell,
    write_json,
)
from nnlib.grading.grader.submission import inspect_handin, shown_name
from nnlib.grading.impl import GradingSetupError, find_root
from nnlib.grading.judge.sandbox import Sandbox
from nnlib.grading.registry import TOPICS

__all__ = ["grade_submissions", "list_submissions", "read_roster", "canvas_rows",
           "CANVAS_COLUMNS"]


def _failed_grade(collected: list[dict[str, Any]], why: str) -> Grade:
    records = _records(collected, {}, why)
    return Grade(records=records, problems=[why])


def _looks(name: str) -> str:
    """How a folder name is shown, in one Unicode form (NFC)."""
    return unicodedata.normalize("NFC", shown_name(name))


def list_submissions(base: Path) -> tuple[list[Path], dict[str, str]]:
    r"""The entries of ``base`` to grade, and ``{name: why it is not graded}`` for the rest.

    Every sub-folder is graded, symbolic links included (they earn 0, saying why); an entry
    whose name starts with ``.`` (``.git``, ``.ipynb_checkpoints``, a hidden folder) and a
    plain file are not, and are named with the reason so that nobody vanishes silently.
    A folder whose name is not UTF-8, or holds control characters, is graded under its
    :func:`~nnlib.grading.grader.submission.shown_name`. Entries whose names look alike
    (a byte 0x9b and the character U+009B, both written ``\x9b``; ``é`` as one character
    and as ``e`` with an accent; an escaped name that is another entry's name) are none of
    them graded, so that no result can take another's place or be read as another's.
    """
    entries, skipped = [], {}
    paths = sorted(Path(base).iterdir())
    alike = Counter(_looks(p.name) for p in paths)
    for p in paths:
        name = shown_name(p.name)
        if p.name.startswith("."):
            what = "folder" if p.is_dir() else "file"
            skipped[name] = (f"a hidden {what} (its name starts with '.'): not graded; "
                             "rename it to grade it")
        elif alike[_looks(p.name)] > 1:
            key, k = f"{name} (looks alike)", 2
            while key in skipped:  # each of the names alike is named
                key, k = f"{name} (looks alike #{k})", k + 1
            skipped[key] = ("its name, as it is shown, looks the same as another entry's "
                            "(other bytes, Unicode forms or escapes): not graded; rename it "
                            "to grade it")
        elif p.is_dir() or p.is_symlink():
            entries.append(p)
        else:
            skipped[name] = "a file, not a folder: not graded (one folder per student)"
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
        raise GradingSetupError(f"cannot read the roster {path}: {e.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise GradingSetupError(f"the roster {path} is not a CSV file: {e}") from None
    header = set(rows[0]) if rows else set()
    key = "folder" if "folder" in header else id_column
    if key not in header:
        raise GradingSetupError(
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


def _check_json_names(folder: Path, names: list[str]) -> None:
    """Fail before grading if a student's ``<name>.json`` is too long a name for ``folder``."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    long = [n for n in names if len(os.fsencode(f"{n}.json")) > limit]
    if long:
        more = f" (and {len(long) - 1} more)" if len(long) > 1 else ""
        raise GradingSetupError(
            f"--json-dir: a results file would have a name longer than the {limit} bytes "
            f"the file system allows: {long[0]}.json{more}; shorten the folder's name")


def _grade_all(entries: list[Path], collected: list[dict[str, Any]], root: Path,
               files: list[Path], topics: list[str] | None, timeout: float,
               box: Sandbox, jobs: int, progress: bool) -> dict[str, Grade]:
    """Grade the folders ``entries``, ``jobs`` at a time, printing each score if ``progress``."""
    results: dict[str, Grade] = {}

    def one(folder: Path) -> tuple[str, Grade]:
        name = shown_name(folder.name)
        try:
            if folder.is_symlink():
                return name, _failed_grade(
                    collected, "the submission folder is a symbolic link: not graded")
            handin = inspect_handin(folder, topics)
            return name, _grade_handin(root, files, handin, timeout, box)
        except Exception as e:  # noqa: BLE001 - one submission never stops the class run
            return name, _failed_grade(collected, f"could not be graded: {shown_name(str(e))}")

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
    return results


def grade_submissions(submissions: str | os.PathLike[str],
                      csv_path: str | os.PathLike[str] | None,
                      hidden: bool = False, timeout: float = DEFAULT_TIMEOUT,
                      jobs: int | None = None, json_dir: str | os.PathLike[str] | None = None,
                      progress: bool = True, sandbox: str = "auto",
                      unisolated: bool = False,
                      canvas: str | os.PathLike[str] | None = None,
                      roster: dict[str, dict[str, str]] | None = None,
                      assignment: str = "nnlib exercises",
                      id_column: str = "SIS Login ID",
                      topics: Iterable[str] | None = None,
                      report: str | os.PathLike[str] | None = None) -> dict[str, Grade]:
    """Grade every sub-folder of ``submissions`` in parallel and write a grades CSV.

    ``csv_path`` may be None when another output (``report``, ``json_dir``, ``canvas``)
    is asked for.

    The CSV has one row per submission folder (its name): the points of each exercise and
    the total; a last row ``max_points`` holds the points possible, computed from the tests'
    definitions. With ``json_dir``, a Gradescope ``<student>.json`` is written per student
    as well; with ``canvas``, a Canvas gradebook import (:func:`canvas_rows`); with
    ``report``, the class report in that folder
    (:func:`nnlib.grading.grader.report.write_report`). Output paths
    are checked before anything is graded; every file is written atomically, by this
    process only. Entries that are not graded (:func:`list_submissions`) are printed with
    the reason, as are the folders left out of the Canvas file, when ``progress``.
    ``sandbox`` and ``unisolated`` are as for :func:`grade` (``unisolated`` is never
    implied for a class).
    """
    if csv_path is not None:
        check_output_path(csv_path, "grades table")
    if canvas is not None:
        check_output_path(canvas, "Canvas grades file")
    if json_dir is not None:
        jd = Path(json_dir)
        if jd.exists() and not jd.is_dir():
            raise GradingSetupError(f"--json-dir {jd} exists and is not a folder")
        jd.mkdir(parents=True, exist_ok=True)
        check_output_path(jd / "probe.json", "results folder entry")
    if report is not None:
        check_report_dir(report)
    base = Path(submissions)
    if not base.is_dir():
        raise GradingSetupError(f"no such submissions folder: {submissions}")
    entries, skipped = list_submissions(base)
    if not entries:
        raise GradingSetupError(f"no submission folders in {submissions}"
                                  + "".join(f"; {n}: {why}" for n, why in skipped.items()))
    if json_dir is not None:
        _check_json_names(Path(json_dir), [shown_name(p.name) for p in entries])
    if progress:
        for name, why in skipped.items():
            print(f"skipped {name}: {why}", flush=True)
    root = find_root()
    topics = list(topics) if topics is not None else None
    files = test_files(root, hidden, topics)
    box = _sandbox(sandbox, unisolated)
    with judges.templates(root):  # every judge of the class forked from one template
        collected = collect(hidden, topics)
        results = _grade_all(entries, collected, root, files, topics, timeout, box,
                             jobs or os.cpu_count() or 1, progress)
    graded = [t for t in TOPICS if any(c["topic"] == t for c in collected)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", *graded, "total"])
    for name, result in results.items():
        per = result.by_topic()
        writer.writerow([safe_cell(name), *(_fmt_points(per[t]["score"]) if t in per else "0"
                                            for t in graded), _fmt_points(result.score)])
    writer.writerow(["max_points",
                     *(_fmt_points(sum(c["points"] for c in collected if c["topic"] == t))
                       for t in graded),
                     _fmt_points(sum(c["points"] for c in collected))])
    if csv_path is not None:
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
    if report is not None:
        write_report(results, report)
    return results
