"""Execute course notebooks top to bottom, in place, exactly as CI validates them.

    python scripts/run_notebooks.py                      # every notebook in course/
    python scripts/run_notebooks.py course/03_*.ipynb    # some of them

Each notebook runs in a fresh kernel from this Python environment, with its folder as the
working directory, NNLIB_IMPL=solutions (so exercise check cells show the reference
results) and no timing metadata, so that re-running an unchanged notebook gives an
identical file. Commit the result: nbval compares fresh runs against these outputs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ["NNLIB_IMPL"] = os.environ.get("NNLIB_IMPL", "solutions")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as in CI (see conftest.py)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", record_timing=False, coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "course").glob("*.ipynb"))
    for p in paths:
        seconds = run(p.resolve())
        print(f"{p}: executed in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
