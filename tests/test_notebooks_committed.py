"""The course notebooks are committed executed, top to bottom, with their outputs.

nbval only compares cells that have a stored execution count, so an unexecuted notebook
would pass strict nbval vacuously; this test closes that hole.
"""

import re
from pathlib import Path

import nbformat
import pytest

COURSE = Path(__file__).resolve().parents[1] / "course"
NOTEBOOKS = sorted(COURSE.glob("*.ipynb"))


def test_course_has_notebooks():
    assert NOTEBOOKS, "course/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_executed_in_order_with_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code, f"{path.name} has no code cells"
    counts = [c.execution_count for c in code]
    missing = [i for i, n in enumerate(counts) if n is None]
    assert not missing, f"{path.name}: code cells {missing} were never executed"
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: cells were not executed once each, top to bottom, in a fresh kernel "
        f"(execution counts {counts}); run scripts/run_notebooks.py {path.name}"
    )
    for i, c in enumerate(code):
        for out in c.outputs:
            assert out.output_type != "error", f"{path.name}: code cell {i} stored an error"


def test_no_global_random_state():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        for banned in ("np.random.seed(", "np.random.rand(", "np.random.randn(",
                       "np.random.normal(", "np.random.uniform(", "np.random.randint("):
            assert banned not in text, f"{path.name} uses numpy's global random state: {banned}"


def test_excused_cells_are_few_and_each_has_a_verdict_beside_it():
    """Strict nbval compares every output; cells marked to skip or ignore are the exception.

    A cell may be excused only when its numbers are decided by rounding (training at an edge
    of stability): (or by the machine's speed, for a timing), then the next code cell prints
    the claims those numbers support, each with a margin, and that verdict is compared exactly.
    """
    markers = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")
    tags = {"nbval-ignore-output", "nbval-skip", "raises-exception"}
    excused, total = [], 0
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        total += len(code)
        for k, (i, c) in enumerate(code):
            if not (any(m in c.source for m in markers) or tags & set(c.metadata.get("tags", []))):
                continue
            where = f"{path.name} cell {i}"
            excused.append(where)
            assert "check(" not in c.source, f"{where}: a check cell is excused"
            assert k + 1 < len(code), f"{where}: an excused cell needs a verdict cell after it"
            verdict = code[k + 1][1]
            printed = "".join(o.get("text", "") for o in verdict.outputs)
            assert ": True" in printed, (
                f"{where}: the code cell after an excused cell must print the claims its "
                f"numbers support, ending in ': True' (e.g. print(result.claims()))")
            assert ": False" not in printed, f"{where}: a claim beside it does not hold"
    assert len(excused) < 0.1 * total, f"too many cells excused from nbval: {excused}"


def test_metadata_is_what_a_readme_install_writes():
    """A fresh clone opens unmodified: JupyterLab rewrites a kernelspec or language_info that
    differs from the running kernel's, marking the notebook modified (and autosave writes it).

    The kernelspec must be the installed ``python3`` one (ipykernel's "Python 3 (ipykernel)"),
    language_info what ipykernel reports, except ``version``: that is the Python the notebooks
    were executed with (JupyterLab updates it under another Python version).
    """
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    kernelspec = {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
    info = {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        fix = f"run `python scripts/run_notebooks.py --metadata-only {path.name}`"
        assert nb.metadata.get("kernelspec") == kernelspec, f"{path.name}: kernelspec; {fix}"
        stored = dict(nb.metadata.get("language_info", {}))
        version = stored.pop("version", "")
        assert stored == info, f"{path.name}: language_info; {fix}"
        assert re.fullmatch(r"3\.\d+\.\d+", version), f"{path.name}: language_info.version"


WIDGET_REPR = re.compile(r"\b\w+\((children|value|options|description|outputs)=")


def test_widget_outputs_are_stored_as_a_sentence_only():
    """No widget state, no live view (useless without a kernel), and a text/plain that says
    what the widget is instead of ipywidgets' repr (see scripts/run_notebooks.py)."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata, f"{path.name} stores widget state"
        for i, c in enumerate(nb.cells):
            for out in c.get("outputs", []):
                data = out.get("data", {})
                assert "application/vnd.jupyter.widget-view+json" not in data, (
                    f"{path.name} cell {i} stores a widget view")
                text = "".join(data.get("text/plain", ""))
                assert not WIDGET_REPR.search(text), (
                    f"{path.name} cell {i} shows a raw widget repr: {text[:80]!r}")


def test_stored_outputs_claim_nothing_the_student_has_not_produced():
    """Check cells and the cells that train with the student's layers store what a student
    sees before writing the exercise (scripts/run_notebooks.py runs them on fresh stubs)."""
    from nnlib.course.release import stored_claims

    checks = payoffs = 0
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert stored_claims(nb) == [], (f"{path.name}: re-execute it with "
                                         "`python scripts/run_notebooks.py`")
        for c in nb.cells:
            checks += c.cell_type == "code" and "check(" in c.source
            payoffs += c.cell_type == "code" and "student_layers(" in c.source
    assert checks >= 10 and payoffs >= 2


CODE_LINK = re.compile(r"\[`[^`\]]+`\]\(")


def test_links_are_written_so_that_they_look_like_links():
    """JupyterLab shows a link whose text is a code span as plain black code, without an
    underline: nobody would click it. Link text is plain text (scripts/browser_check.py
    checks the rendered colours)."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, c in enumerate(nb.cells):
            if c.cell_type == "markdown":
                found = CODE_LINK.findall(c.source)
                assert not found, f"{path.name} cell {i}: code span as link text: {found}"
