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
import sys


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser; each subsystem registers its own sub-command."""
    from nnlib.experiments import cli as experiments_cli
    from nnlib.grading import autograder
    from nnlib.grading import cli as grading_cli

    parser = argparse.ArgumentParser(prog="nnlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    grading_cli.register(sub)
    experiments_cli.register(sub)
    autograder.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
