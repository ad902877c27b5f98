"""Every notebook of the student release runs end to end against the stub exercises.

The execution itself is nbval's (``pytest course/``, part of ``pytest``): the root
conftest.py starts each notebook's kernel in a student release built fresh
(:func:`nnlib.course.release.build_release`), with the release's own copy of ``nnlib`` on
``PYTHONPATH`` and its stub ``exercises/``, and strict nbval fails on any error output and on
any output that differs from the committed one. Executing the notebooks a second time here
would prove nothing more, so this module checks what that run leaves open: the release holds
the committed notebooks unchanged, their stored check cells say "not implemented yet" (and
nbval holds the fresh outputs to them), a kernel started inside the release finds the
release and its exercises by itself, and nbval's kernels really run in such a release.
"""

import json
import re
from pathlib import Path

import pytest

from .conftest import ROOT, clean_env, run

COURSE_NOTEBOOKS = sorted(p.name for p in (ROOT / "course").glob("*.ipynb"))


def _stored_check_outputs(path: Path) -> str:
    """The stored stdout of the notebook's check cells, as the kernel printed it."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    texts = []
    for cell in nb["cells"]:
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") != "code" or "check(" not in source:
            continue
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", (path.name, source[:80])
            if out.get("name") == "stdout":
                text = out.get("text", "")
                texts.append(text if isinstance(text, str) else "".join(text))
    return "\n".join(texts)


@pytest.mark.parametrize("name", COURSE_NOTEBOOKS)
def test_the_release_holds_the_notebook_and_its_check_cells_say_not_implemented(release,
                                                                                name):
    """The release's copy is the committed notebook; its check cells store "0 of N tests
    passed ... not implemented yet" (nbval compares the fresh run against exactly this)."""
    out, files = release
    assert f"course/{name}" in files
    committed = (ROOT / "course" / name).read_text(encoding="utf-8")
    assert (out / "course" / name).read_text(encoding="utf-8") == committed
    source = "".join("".join(c.get("source", [])) for c in json.loads(committed)["cells"])
    text = _stored_check_outputs(ROOT / "course" / name)
    if re.search(r"\bcheck\(", source):
        assert "not implemented yet" in text, text
        summaries = re.findall(r"check\('\w+'(?:, '\w+')*\): (.*) passed\.", text)
        assert summaries and all(re.fullmatch(r"0 of \d+ tests?", s) for s in summaries), text


FINDS_ITSELF = """
import os, sys
from nnlib.grading.impl import find_root, impl_dir
import nnlib
print(os.path.dirname(os.path.dirname(os.path.abspath(nnlib.__file__))))
print(find_root())
print(impl_dir())
"""


def test_a_kernel_in_the_release_finds_the_release_and_its_stubs(release):
    """What a student's kernel sees in the release's course/ (no NNLIB_* set): the release's
    nnlib, the release as the course root and its exercises/ as the implementation."""
    out, _ = release
    env = clean_env(PYTHONPATH=str(out))
    proc = run(["-c", FINDS_ITSELF], cwd=out / "course", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    package, root, impl = proc.stdout.split()
    resolved = out.resolve()
    assert Path(package).resolve() == resolved
    assert Path(root).resolve() == resolved
    assert Path(impl).resolve() == resolved / "exercises"


def test_nbval_runs_the_kernels_in_a_fresh_release(pytestconfig):
    """The root conftest.py gives nbval's kernels a release of their own (not this clone's
    exercises/ or nnlib): the execution that the tests above rely on."""
    root_conftest = next(m for m in pytestconfig.pluginmanager.get_plugins()
                         if getattr(m, "__file__", None)
                         and Path(m.__file__).resolve() == (ROOT / "conftest.py").resolve())
    env = root_conftest.notebook_env()
    release = Path(env["NNLIB_ROOT"])
    assert env["PYTHONPATH"] == str(release)
    assert Path(env["NNLIB_IMPL"]) == release / "exercises"
    assert release.resolve() != ROOT.resolve() and ROOT.resolve() not in release.parents
    assert (release / "nnlib" / "__init__.py").is_file()
    for name in COURSE_NOTEBOOKS:
        assert (release / "course" / name).read_bytes() == (ROOT / "course" / name).read_bytes()
    assert not (release / "solutions").exists() and not (release / "tests" / "hidden").exists()
