"""Every notebook of the student release runs end to end against the stub exercises.

One test class per notebook, so that pytest-xdist (``--dist loadscope``) runs the
notebooks side by side: each takes a kernel and 3-20 s.
"""

import re

import pytest

from .conftest import ROOT, clean_env, run

NOTEBOOK_RUNNER = """
import pathlib, sys
import nbformat
from nbclient import NotebookClient
path = pathlib.Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3",
               resources={"metadata": {"path": str(path.parent)}}).execute()
for cell in nb.cells:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            print("ERROR", out.ename, out.evalue)
        elif "check(" in cell.source and out.get("name") == "stdout":
            print(out.text)
"""


COURSE_NOTEBOOKS = sorted(p.name for p in (ROOT / "course").glob("*.ipynb"))


def check_runs_against_the_stubs(release, name):
    """The notebook executes end to end with the stub exercises, and every check cell says
    "not implemented yet" instead of crashing."""
    out, _ = release
    notebook = out / "course" / name
    proc = run(["-c", NOTEBOOK_RUNNER, str(notebook)], cwd=out / "course",
               env=clean_env(PYTHONPATH=str(out)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ERROR" not in proc.stdout, proc.stdout
    source = (ROOT / "course" / name).read_text()
    if re.search(r"\bcheck\(", source):
        assert "not implemented yet" in proc.stdout, proc.stdout
        summaries = re.findall(r"check\('\w+'(?:, '\w+')*\): (.*) passed\.", proc.stdout)
        assert summaries and all(re.fullmatch(r"0 of \d+ tests?", s) for s in summaries), \
            proc.stdout


def _notebook_class(name: str) -> type:
    @pytest.mark.slow
    def test_runs_against_the_stubs(self, release):
        check_runs_against_the_stubs(release, name)

    stem = name.removesuffix(".ipynb")
    body = {"test_runs_against_the_stubs": test_runs_against_the_stubs,
            "__doc__": f"{name} against the stubs."}
    return type(f"TestStubs_{stem}", (), body)


for _name in COURSE_NOTEBOOKS:
    _cls = _notebook_class(_name)
    globals()[_cls.__name__] = _cls
