"""The payoff cells work with the reference solutions.

The committed notebooks store what a student sees before writing the exercises (their
kernels run on fresh stubs), so the cells that train a network with the student's own
layers (``student_layers()``) store only "write these functions first". Here the notebook
runs up to each such cell with ``NNLIB_IMPL=solutions``: with correct exercises, the cell
trains and every claim it prints holds. One class per notebook, for pytest-xdist.
"""

import re

import nbformat
import pytest

from .conftest import ROOT, clean_env, run

RUNNER = """
import pathlib, sys
import nbformat
from nbclient import NotebookClient
path = pathlib.Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
last = max(i for i, c in enumerate(nb.cells)
           if c.cell_type == "code" and "student_layers(" in c.source)
nb.cells = nb.cells[:last + 1]   # up to the last payoff cell
NotebookClient(nb, timeout=300, kernel_name="python3",
               resources={"metadata": {"path": str(path.parent)}}).execute()
for cell in nb.cells:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            print("ERROR", out.ename, out.evalue)
    if cell.cell_type == "code" and "student_layers(" in cell.source:
        print("=== payoff cell")
        print("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout"))
"""

PAYOFF_NOTEBOOKS = sorted(
    p.name for p in (ROOT / "course").glob("*.ipynb")
    if any(c.cell_type == "code" and "student_layers(" in c.source
           for c in nbformat.read(p, as_version=4).cells))


def payoff_cells_hold_with_the_solutions(name):
    proc = run(["-c", RUNNER, str(ROOT / "course" / name)], cwd=ROOT / "course",
               env=clean_env(NNLIB_IMPL="solutions"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ERROR" not in proc.stdout, proc.stdout
    cells = proc.stdout.split("=== payoff cell\n")[1:]
    assert cells, proc.stdout
    for text in cells:
        assert "write these functions first" not in text, text
        assert "your" in text.lower(), text  # it trained with the student's layers
        verdicts = re.findall(r": (True|False)\b", text)
        assert verdicts and set(verdicts) == {"True"}, text


def test_the_course_has_payoff_cells():
    assert {"06_optimizers.ipynb", "09_batchnorm_inference.ipynb"} <= set(PAYOFF_NOTEBOOKS)


def _notebook_class(name: str) -> type:
    @pytest.mark.slow
    def test_payoff_cells_hold_with_the_solutions(self):
        payoff_cells_hold_with_the_solutions(name)

    stem = name.removesuffix(".ipynb")
    return type(f"TestPayoff_{stem}", (), {
        "test_payoff_cells_hold_with_the_solutions": test_payoff_cells_hold_with_the_solutions,
        "__doc__": f"{name}: its payoff cells with the reference solutions."})


for _name in PAYOFF_NOTEBOOKS:
    _cls = _notebook_class(_name)
    globals()[_cls.__name__] = _cls
