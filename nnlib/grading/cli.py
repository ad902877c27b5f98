"""``nnlib grade`` and ``nnlib release``: the command-line side of grading."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from nnlib.grading.plugin import DEFAULT_TIMEOUT


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``grade`` and ``release`` sub-commands to the ``nnlib`` parser."""
    g = sub.add_parser(
        "grade", help="grade exercise implementations with the public (and hidden) tests",
        description="Grade the exercises: runs the tests in a subprocess per submission, "
                    "prints a table per exercise and ends with 'Score: X / Y'.")
    g.add_argument("--impl", default="exercises",
                   help="'exercises' (default), 'solutions', or a submission folder holding "
                        "the exercise files")
    g.add_argument("--hidden", action="store_true", help="add the hidden tests (instructors)")
    g.add_argument("--json", metavar="FILE", help="write a Gradescope results.json")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per test (default {DEFAULT_TIMEOUT:g})")
    g.add_argument("--topics", help="comma-separated exercise topics (default: all)")
    g.add_argument("--submissions", metavar="DIR",
                   help="grade every sub-folder of DIR (one per student) in parallel")
    g.add_argument("--csv", metavar="FILE", default="grades.csv",
                   help="with --submissions: the grades table to write (default grades.csv)")
    g.add_argument("--json-dir", metavar="DIR",
                   help="with --submissions: also write DIR/<student>.json (Gradescope)")
    g.add_argument("--jobs", type=int, default=None,
                   help="with --submissions: parallel gradings (default: all cores)")
    g.set_defaults(func=_grade)

    r = sub.add_parser(
        "release", help="build the student release of the course",
        description="Write the student release into OUTDIR from an explicit allowlist "
                    "(no solutions, no hidden tests), or, with --stubs-only, regenerate "
                    "exercises/ from solutions/.")
    r.add_argument("outdir", nargs="?", help="folder to create")
    r.add_argument("--stubs-only", action="store_true",
                   help="only regenerate exercises/ from solutions/")
    r.add_argument("--force", action="store_true", help="replace OUTDIR if it exists")
    r.set_defaults(func=_release)


def _grade(args: argparse.Namespace) -> int:
    from nnlib.grading.grader import format_table, grade, grade_submissions, write_json
    from nnlib.grading.impl import ImplementationError
    from nnlib.grading.topics import TOPICS

    topics = None
    if args.topics:
        topics = [t.strip() for t in args.topics.split(",") if t.strip()]
        unknown = [t for t in topics if t not in TOPICS]
        if unknown:
            print(f"nnlib grade: unknown topic(s) {', '.join(unknown)}; "
                  f"choose from {', '.join(TOPICS)}", file=sys.stderr)
            return 2
    try:
        if args.submissions:
            results = grade_submissions(args.submissions, args.csv, hidden=args.hidden,
                                        timeout=args.timeout, jobs=args.jobs,
                                        json_dir=args.json_dir)
            print(f"Graded {len(results)} submissions; grades written to {args.csv}")
            return 0
        result = grade(args.impl, hidden=args.hidden, timeout=args.timeout, topics=topics)
    except ImplementationError as e:
        print(f"nnlib grade: {e}", file=sys.stderr)
        return 2
    print(format_table(result, width=shutil.get_terminal_size((120, 20)).columns))
    if args.json:
        write_json(result, args.json)
    return 0


def _release(args: argparse.Namespace) -> int:
    from nnlib.grading.impl import find_root
    from nnlib.grading.release import ReleaseError, build_release, write_stubs

    try:
        if args.stubs_only:
            changed = write_stubs(find_root() / "exercises")
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
