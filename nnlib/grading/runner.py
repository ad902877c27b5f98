"""Run exercise tests in this process and stream one JSON line per event to a file.

The grader starts this module in a subprocess per submission::

    NNLIB_IMPL=<folder> python -m nnlib.grading.runner --out EVENTS.jsonl --timeout 10 TESTS...

so that a submission that crashes, hangs or exits cannot take the grader down with it.
Imports of ``solutions`` are refused here, whatever the submission tries.
"""

from __future__ import annotations

import argparse
import importlib.abc
import os
import sys
from pathlib import Path


class _RefuseSolutions(importlib.abc.MetaPathFinder):
    """Make ``import solutions`` fail while grading a submission."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102
        if fullname.split(".")[0] == "solutions":
            raise ImportError("importing the reference solutions is not allowed while grading")
        return None


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run pytest with the collector, and exit hard."""
    parser = argparse.ArgumentParser(prog="python -m nnlib.grading.runner")
    parser.add_argument("--out", required=True, help="file receiving the JSON-lines events")
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--skip", help="file with node ids (one per line) not to run")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)

    if os.environ.get("NNLIB_IMPL", "exercises") != "solutions":
        sys.meta_path.insert(0, _RefuseSolutions())
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"

    import pytest

    from nnlib.grading.impl import find_root
    from nnlib.grading.plugin import Collector, pytest_args

    skip = Path(args.skip).read_text().split() if args.skip else []
    code = 3
    with open(args.out, "a", encoding="utf-8") as stream:
        collector = Collector(stream=stream, timeout=args.timeout, skip=skip)
        try:
            code = int(pytest.main(
                pytest_args(find_root(), [Path(p) for p in args.paths], args.timeout,
                            capture="fd"),
                plugins=[collector],
            ))
        finally:
            stream.write(f'{{"finished": {code}}}\n')
            stream.flush()
    # exit at once: a submission may have left threads or handlers behind
    os._exit(code if code in (0, 1) else 0)


if __name__ == "__main__":
    main()
