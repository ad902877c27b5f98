"""Execute course notebooks top to bottom, in place, exactly as CI validates them.

    python scripts/run_notebooks.py                      # every notebook in course/
    python scripts/run_notebooks.py course/03_*.ipynb    # some of them
    python scripts/run_notebooks.py --metadata-only      # only what is saved besides outputs

Each notebook runs in a fresh kernel from this Python environment, with its folder as the
working directory and no timing metadata, so that re-running an unchanged notebook gives an
identical file. Commit the result: nbval compares fresh runs against these outputs.

The exercises are the stubs generated from ``solutions/`` now, in a course folder of their
own (``NNLIB_ROOT`` and ``NNLIB_IMPL`` point the kernel there; the working ``exercises/``,
which belongs to whoever does the course in this clone, is never read): check cells and
the cells that train with the student's layers store what a student sees before writing
the exercise ("0 of 4 tests passed ... not implemented yet"), never the reference
solutions' results. nbval runs the kernels the same way (conftest.py), and
``tests/grading/test_payoff_cells.py`` runs those cells against the solutions.

What is saved is what a student's JupyterLab would keep, so that a fresh clone opens
unmodified:

- ``metadata.kernelspec`` is the installed ``python3`` kernelspec (ipykernel's: display
  name "Python 3 (ipykernel)") and ``metadata.language_info`` is what the kernel reported;
  JupyterLab rewrites both on open when they differ, which marks the notebook modified.
  ``language_info.version`` is the executing Python's, so notebooks open clean under the
  Python version they were executed with.
- Widgets: no widget state (``metadata.widgets``) and no live widget views, only their
  plain-text form (``Interactive ...: run this cell to use it.``). Measured in JupyterLab
  4.6 with ipywidgets 8.1: stored state is ignored while a notebook is untrusted (a fresh
  clone) and, once trusted, shows the controls with red "disconnected" icons that do
  nothing until the cell is re-run; a stored view without state shows "Error displaying
  widget: model not found". Each widget in the course is followed by a static figure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def kernelspec_metadata(name: str = KERNEL) -> dict[str, str]:
    """The notebook metadata JupyterLab writes for the installed kernel ``name``."""
    spec = KernelSpecManager().get_kernel_spec(name)
    return {"display_name": spec.display_name, "language": spec.language, "name": name}


def as_saved(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Set the kernelspec; drop widget state and widget views (see the module docstring)."""
    nb.metadata["kernelspec"] = kernelspec_metadata()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and "text/plain" in data:
                del data[WIDGET_VIEW]
    return nb


def stub_env(folder: Path) -> dict[str, str]:
    """Write a course folder with fresh stubs into ``folder``; the kernel's NNLIB_* for it."""
    sys.path.insert(0, str(ROOT))
    from nnlib.course.release import write_stub_course

    dest = write_stub_course(folder / "course", ROOT)
    return {"NNLIB_ROOT": str(dest), "NNLIB_IMPL": str(dest / "exercises")}


def run(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as in CI (see conftest.py)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=KERNEL, record_timing=False, coalesce_streams=True,
        store_widget_state=False, resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(as_saved(nb), path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    if argv[:1] == ["--metadata-only"]:
        # Apply what run() saves besides the outputs, without executing (a metadata change).
        for p in [Path(a) for a in argv[1:]] or sorted((ROOT / "course").glob("*.ipynb")):
            nbformat.write(as_saved(nbformat.read(p, as_version=4)), p)
            print(f"{p}: metadata and widget outputs as run() saves them")
        return 0
    paths = [Path(a) for a in argv] or sorted((ROOT / "course").glob("*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="nnlib-notebook-stubs-") as tmp:
        os.environ.update(stub_env(Path(tmp)))  # the kernels inherit it
        for p in paths:
            seconds = run(p.resolve())
            print(f"{p}: executed in {seconds:.1f} s (exercises: fresh stubs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
