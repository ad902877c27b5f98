"""Command line: ``python -m nnlib <command>`` (also installed as ``nnlib``).

Commands
--------
grade       grade exercise implementations with the public (and hidden) tests
release     build the student release of the course
experiment  run a batch-normalization experiment at full length
autograder  build a Gradescope autograder zip
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser; each subsystem registers its own sub-command."""
    from nnlib.experiments import cli as experiments_cli
    from nnlib.grading.grader import autograder
    from nnlib.grading.grader import cli as grading_cli
    parser = argparse.ArgumentParser(prog="nnlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    grading_cli.register(sub)
    experiments_cli.register(sub)
    autograder.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status.

    When the reader of the output goes away (``python -m nnlib grade | head``), the
    command stops quietly with the status 141 a shell reports for SIGPIPE, instead of a
    BrokenPipeError traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
    except BrokenPipeError:
        # Python would try to flush stdout again at exit and print a second error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
