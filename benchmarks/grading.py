"""What the grader's protection costs: seconds per submission, sandboxed and not, and a class.

Measured in one run, on this machine:

1. one submission (a copy of the reference solutions, so that every test runs to the end)
   graded with the public and hidden tests, ``sandbox="require"`` (bubblewrap) and
   ``sandbox="off"`` (the two-process design without the sandbox), in alternating rounds
   so that load from other processes hits both alike: median and minimum seconds, and
   the median over the rounds of the ratio of the two runs graded back to back;
2. a class of 20 such submissions (half correct, half stubs) graded in parallel with
   ``grade_submissions(..., jobs=2)``: total seconds and seconds per submission.

For context only, not measured here: issue 8's reference, 5.8 s per submission on 2 cores
for the grader before the redesign (everything in one process), and its bar, 1.5 times
that.

Usage::

    python benchmarks/grading.py [--rounds 5] [--class-size 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from nnlib.grading.grader.classes import grade_submissions  # noqa: E402
from nnlib.grading.grader.grade import grade  # noqa: E402
from nnlib.grading.impl import find_root  # noqa: E402

BASELINE = 5.8
"""Seconds per submission before the redesign (issue 8, 2 cores): NOT measured here."""
BAR = 1.5


def _copy(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in src.glob("*.py"):
        shutil.copyfile(f, dest / f.name)
    return dest


def _time_one(folder: Path, sandbox: str | None) -> tuple[float, object]:
    kwargs = {} if sandbox is None else {"sandbox": sandbox}
    start = time.perf_counter()
    result = grade(folder, hidden=True, **kwargs)
    seconds = time.perf_counter() - start
    if result.score != result.max_score:
        raise SystemExit(f"the reference solutions scored {result.score:g} / "
                         f"{result.max_score:g} with sandbox={sandbox!r}: {result.problems}")
    return seconds, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of sandboxed and unsandboxed grading")
    parser.add_argument("--class-size", type=int, default=20,
                        help="submissions in the class graded in parallel")
    parser.add_argument("--jobs", type=int, default=2, help="parallel gradings of the class")
    args = parser.parse_args(argv)

    root = find_root()
    has_sandbox = "sandbox" in inspect.signature(grade).parameters
    modes = ["require", "off"] if has_sandbox else [None]
    print(f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy "
          f"{np.__version__}, {platform.machine()}")
    with tempfile.TemporaryDirectory(prefix="nnlib-bench-") as tmp:
        one = _copy(root / "solutions", Path(tmp) / "one")
        times: dict[str | None, list[float]] = {m: [] for m in modes}
        protections = {}
        _time_one(one, modes[-1])  # warm the file caches
        for _ in range(args.rounds):
            for mode in modes:
                seconds, result = _time_one(one, mode)
                times[mode].append(seconds)
                protections[mode] = getattr(result, "protections", None)
        print(f"\none submission, public and hidden tests ({result.max_score:g} points), "
              f"{args.rounds} rounds:")
        print(f"  {'sandbox':10} {'median s':>9} {'min s':>7}")
        for mode in modes:
            label = mode if mode is not None else "(none)"
            print(f"  {label:10} {statistics.median(times[mode]):9.2f} {min(times[mode]):7.2f}")
        if has_sandbox:
            ratios = [a / b for a, b in zip(times["require"], times["off"], strict=True)]
            print(f"  sandboxed / unsandboxed: {statistics.median(ratios):.2f} (median of the "
                  f"rounds), {min(times['require']) / min(times['off']):.2f} (of the minima)")
        else:
            print("  this grader has no sandbox option: only its default was timed")
        for mode in modes:
            if protections[mode]:
                print(textwrap.fill("; ".join(protections[mode]), width=96,
                                    initial_indent=f"  protections with {mode}: ",
                                    subsequent_indent="    "))

        subs = Path(tmp) / "class"
        subs.mkdir()
        for i in range(args.class_size):
            src = root / ("solutions" if i % 2 == 0 else "exercises")
            _copy(src, subs / f"student{i:02d}")
        start = time.perf_counter()
        results = grade_submissions(subs, Path(tmp) / "grades.csv", hidden=True,
                                    jobs=args.jobs, progress=False)
        total = time.perf_counter() - start
        full = sum(g.score == g.max_score for g in results.values())
        print(f"\na class of {args.class_size} ({full} correct, the others stubs), hidden "
              f"tests, jobs={args.jobs}: {total:.1f} s, {total / args.class_size:.2f} s per "
              "submission")

    worst = max(statistics.median(v) for v in times.values())
    print(f"\nnot measured in this run, for context: before the redesign, {BASELINE:g} s per "
          f"submission on 2 cores (issue 8); the bar is {BAR:g} x that = "
          f"{BAR * BASELINE:.1f} s. This run's slowest median: {worst:.2f} s per submission.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
