"""``nnlib grade`` and ``nnlib release``: the command-line side of grading."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from nnlib.grading.clock import DEFAULT_TIMEOUT


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``grade`` and ``release`` sub-commands to the ``nnlib`` parser."""
    g = sub.add_parser(
        "grade", help="grade exercise implementations with the public (and hidden) tests",
        description="Grade the exercises. The tests run in a trusted judge process; the "
                    "student's code runs in a separate worker process, in a bubblewrap "
                    "sandbox where one can start. Prints a table per exercise, the first "
                    "failure of each, one line on the protections (--verbose: all of "
                    "them), and ends with "
                    "'Score: X / Y'. Exit status 0 when grading ran (whatever the score), "
                    "2 for usage or setup errors.")
    g.add_argument("--impl", default="exercises",
                   help="what to grade: 'exercises' (default), 'solutions', or a submission "
                        "folder (the exercise files, or exercises/ inside it, or one "
                        "sub-folder holding them)")
    g.add_argument("--hidden", action="store_true",
                   help="add the hidden tests (instructors; needs tests/hidden)")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="list every protection in force while the student's code ran "
                        "(instructors; the table otherwise names them in one line)")
    g.add_argument("--json", metavar="FILE",
                   help="also write a Gradescope results.json to FILE (written atomically)")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds per test and per call of a student function (default "
                        f"{DEFAULT_TIMEOUT:g}); a submission gets 30 times this in all")
    g.add_argument("--topics", metavar="A,B",
                   help="comma-separated exercise topics to grade (default: all)")
    box = g.add_mutually_exclusive_group()
    box.add_argument("--require-sandbox", dest="sandbox", action="store_const",
                     const="require", default="auto",
                     help="refuse to grade unless the bubblewrap sandbox can start")
    box.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off",
                     help="run the worker without bubblewrap: as root, in the chroot "
                          "fallback; otherwise only with --unisolated")
    g.add_argument("--unisolated", action="store_true",
                   help="allow grading where student code cannot be isolated (not root and "
                        "no bubblewrap): it then runs as your user and can change your files; "
                        "only for code you trust (implied for the public tests of one "
                        "submission)")
    g.add_argument("--submissions", metavar="DIR",
                   help="grade every sub-folder of DIR (one per student) in parallel; "
                        "needs --csv, --report, --json-dir or --canvas")
    g.add_argument("--csv", metavar="FILE",
                   help="with --submissions: the grades table to write, one row per "
                        "sub-folder plus a max_points row")
    g.add_argument("--canvas", metavar="FILE",
                   help="with --submissions: also write a CSV that Canvas's gradebook imports "
                        "as it is (Grades, Import): the student columns and one column of "
                        "total points, one row per graded folder, no other rows; see "
                        "docs/grading.md")
    g.add_argument("--roster", metavar="FILE",
                   help="with --canvas: the students' Canvas columns, from Canvas's gradebook "
                        "export (matched to folder names by --canvas-id-column) or a CSV "
                        "with a 'folder' column; without it the folder name is the ID")
    g.add_argument("--canvas-id-column", default="SIS Login ID",
                   choices=["SIS Login ID", "SIS User ID", "ID"],
                   help="with --canvas: the Canvas column that folder names hold (default "
                        "'SIS Login ID')")
    g.add_argument("--assignment", default="nnlib exercises", metavar="NAME",
                   help="with --canvas: the assignment column's header; Canvas creates a new "
                        "assignment of that name, or fills the existing one written as it "
                        "exports it, 'Name (id)' (default 'nnlib exercises')")
    g.add_argument("--json-dir", metavar="DIR",
                   help="with --submissions: also write DIR/<student>.json (Gradescope)")
    g.add_argument("--report", metavar="DIR",
                   help="with --submissions: also write the class report, DIR/index.html "
                        "with PNG figures (scores, pass rate per test, named mistakes and "
                        "who made them, per student); opens from file:// with no server")
    g.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="with --submissions: gradings in parallel (default: one per core)")
    g.set_defaults(func=_grade)

    r = sub.add_parser(
        "release", help="build the student release of the course",
        description="Write the student release into OUTDIR from an explicit allowlist "
                    "(no solutions, no hidden tests), or, with --stubs-only, regenerate "
                    "exercises/ from solutions/.")
    r.add_argument("outdir", nargs="?", help="folder to create (not with --stubs-only)")
    r.add_argument("--stubs-only", action="store_true",
                   help="only regenerate exercises/ from solutions/")
    r.add_argument("--check", action="store_true",
                   help="with --stubs-only: write nothing; exit 1 unless exercises/ holds "
                        "exactly the stubs generated from solutions/ (for CI)")
    r.add_argument("--force", action="store_true",
                   help="replace OUTDIR if it exists; with --stubs-only, overwrite exercises "
                        "written in exercises/")
    r.set_defaults(func=_release)


def _usage(message: str) -> int:
    print(f"nnlib grade: {message}", file=sys.stderr)
    return 2


def _grade(args: argparse.Namespace) -> int:
    from nnlib.grading.grader.classes import grade_submissions, read_roster
    from nnlib.grading.grader.grade import grade
    from nnlib.grading.grader.results import check_output_path, format_table, write_json
    from nnlib.grading.impl import ImplementationError
    from nnlib.grading.registry import TOPICS

    topics = None
    if args.topics:
        topics = [t.strip() for t in args.topics.split(",") if t.strip()]
        unknown = [t for t in topics if t not in TOPICS]
        if unknown:
            return _usage(f"unknown topic(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(TOPICS)}")
    class_only = [name for name, value in (("--csv", args.csv), ("--json-dir", args.json_dir),
                                           ("--jobs", args.jobs), ("--canvas", args.canvas),
                                           ("--roster", args.roster),
                                           ("--report", args.report)) if value is not None]
    if class_only and not args.submissions:
        return _usage(f"{', '.join(class_only)} only work with --submissions DIR")
    if args.roster and not args.canvas:
        return _usage("--roster goes with --canvas FILE (the Canvas file to write)")
    if args.submissions and not (args.csv or args.report or args.json_dir or args.canvas):
        return _usage("--submissions needs somewhere to write the grades: --csv FILE (the "
                      "grades table), --report DIR, --json-dir DIR or --canvas FILE")
    if args.submissions and (args.json or args.topics):
        return _usage("--json and --topics grade one submission; with --submissions use "
                      "--json-dir")
    if args.timeout <= 0:
        return _usage("--timeout must be positive")
    try:
        if args.submissions:
            roster = read_roster(args.roster, args.canvas_id_column) if args.roster else None
            results = grade_submissions(args.submissions, args.csv, hidden=args.hidden,
                                        timeout=args.timeout, jobs=args.jobs,
                                        json_dir=args.json_dir, sandbox=args.sandbox,
                                        unisolated=args.unisolated,
                                        canvas=args.canvas, roster=roster,
                                        assignment=args.assignment,
                                        id_column=args.canvas_id_column,
                                        report=args.report)
            first = next(iter(results.values()))
            if first.protections:  # the instructor's log: every protection
                shown = ["an unprivileged uid of its own per submission"
                         if p.startswith("unprivileged uid") else p for p in first.protections]
                print("Protections: " + "; ".join(shown) + ".")
            outputs = [what for what, given in (
                (f"grades written to {args.csv}", args.csv),
                (f"Canvas import file to {args.canvas}", args.canvas),
                (f"Gradescope results in {args.json_dir}", args.json_dir),
                (f"class report to {Path(args.report or '.') / 'index.html'}", args.report),
            ) if given]
            print(f"Graded {len(results)} submissions; {', '.join(outputs)}")
            return 0
        if args.json:
            check_output_path(args.json, "results file")
        result = grade(args.impl, hidden=args.hidden, timeout=args.timeout, topics=topics,
                       sandbox=args.sandbox, unisolated=args.unisolated or None)
    except ImplementationError as e:
        return _usage(str(e))
    if args.json:  # first: the results file never depends on printing the table
        try:
            write_json(result, args.json)
        except OSError as e:
            return _usage(f"cannot write {args.json}: {e}")
    print(format_table(result, width=min(shutil.get_terminal_size((100, 20)).columns, 120),
                       verbose=args.verbose))
    return 0


def _release(args: argparse.Namespace) -> int:
    from nnlib.course.release import ReleaseError, build_release, stubs_status, write_stubs
    from nnlib.grading.impl import find_root

    try:
        if args.check:
            if not args.stubs_only:
                print("nnlib release: --check goes with --stubs-only", file=sys.stderr)
                return 2
            problems = stubs_status(find_root() / "exercises")
            if problems:
                print("exercises/ is not what `python -m nnlib release --stubs-only` generates "
                      f"from solutions/: {'; '.join(problems)}. (In a copy where exercises "
                      "are being written this is expected: the check is for the committed "
                      "stubs.)")
                return 1
            print("exercises/ holds exactly the stubs generated from solutions/")
            return 0
        if args.stubs_only:
            changed = write_stubs(find_root() / "exercises", force=args.force)
            print(f"exercises/: {len(changed)} file(s) regenerated from solutions/"
                  + (f" ({', '.join(changed)})" if changed else ""))
            return 0
        if not args.outdir:
            print("nnlib release: give OUTDIR (or --stubs-only)", file=sys.stderr)
            return 2
        files = build_release(Path(args.outdir), force=args.force)
    except ReleaseError as e:
        print(f"nnlib release: {e}", file=sys.stderr)
        return 2
    print(f"release written to {args.outdir}: {len(files)} files")
    return 0
