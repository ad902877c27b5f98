"""The exercise registry is the one list of exercises: everything else agrees with it, and
adding one entry (with its solution and tests) is all a new exercise needs."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnlib.grading.registry import EXERCISES, NOTEBOOKS, TOPICS, exercise, topic_of

from .conftest import ROOT, clean_env

DOC_TABLES = {"grading.md": "## The exercises",
              "student_README.md": "| exercise file | functions | notebook |"}
"""The docs with an exercise table (the students' README is the release's README), and where
each table starts."""


def _doc_rows(doc: str) -> dict[str, tuple[list[str], list[str]]]:
    """The exercise table of ``docs/<doc>``: topic -> (functions, notebooks)."""
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    table = text[text.index(DOC_TABLES[doc]):]
    rows = {}
    for line in table.splitlines()[1:]:
        m = re.match(r"\| `(\w+)\.py` \| (.*?) \| (.*?) \|$", line)
        if m:
            functions = re.findall(r"`(\w+)(?:\(|`)", m.group(2))
            rows[m.group(1)] = (functions, [n.strip() for n in m.group(3).split(",")])
        elif rows and not line.startswith("|"):
            break
    return rows


@pytest.mark.parametrize("doc", DOC_TABLES)
def test_the_docs_tables_list_the_registry(doc):
    rows = _doc_rows(doc)
    assert set(rows) == set(TOPICS)
    for topic, (functions, notebooks) in rows.items():
        assert functions == list(TOPICS[topic]), topic
        taught = list(dict.fromkeys(exercise(f).notebook for f in TOPICS[topic]))
        assert notebooks == taught, topic


def test_every_registered_notebook_exists_and_names_its_exercises():
    for e in EXERCISES:
        nb = ROOT / "course" / f"{e.notebook}.ipynb"
        assert nb.is_file(), e
        assert e.function in nb.read_text(encoding="utf-8"), f"{e.function} not in {nb.name}"
    assert set(NOTEBOOKS) == set(TOPICS)


def _checked_functions(folder: Path) -> dict[str, set[str]]:
    """``test file -> functions its tests declare with @pytest.mark.checks(...)``."""
    out = {}
    for f in sorted(folder.glob("test_*.py")):
        names = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("mark.checks")
                    and node.args and isinstance(node.args[0], ast.Constant)):
                names.add(node.args[0].value)
        out[f.name] = names
    return out


def _headings(notebook: str) -> set[str]:
    """The markdown headings of ``course/<notebook>.ipynb``, without their ``#``."""
    nb = json.loads((ROOT / "course" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    return {line.lstrip("#").strip() for cell in nb["cells"] if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if re.match(r"#{1,6} ", line)}


def test_every_docstring_names_its_notebook_and_the_heading_of_its_exercise():
    # what a student reads in exercises/ (the stubs keep the solutions' docstrings)
    pattern = re.compile(r'Taught in notebook ``(\w+)``, just before the heading "([^"]+)"\.')
    for topic, functions in TOPICS.items():
        tree = ast.parse((ROOT / "solutions" / f"{topic}.py").read_text(encoding="utf-8"))
        docs = {n.name: " ".join((ast.get_docstring(n) or "").split())
                for n in tree.body if isinstance(n, ast.FunctionDef)}
        for function in functions:
            found = pattern.findall(docs[function])
            assert len(found) == 1, (function, found)
            notebook, heading = found[0]
            assert notebook == exercise(function).notebook, function
            assert heading in _headings(notebook), (function, heading)


def test_every_test_checks_a_registered_function_of_its_topic_and_each_has_tests():
    for kind in ("public", "hidden"):
        seen = set()
        for name, functions in _checked_functions(ROOT / "tests" / kind).items():
            topic = name.removeprefix("test_").removesuffix(".py")
            for f in functions:
                assert topic_of(f) == topic, f"tests/{kind}/{name} checks {f}"
            seen |= functions
        registered = {e.function for e in EXERCISES}
        assert seen <= registered, f"tests/{kind}: {sorted(seen - registered)}"
        if kind == "public":  # every graded function has a public test
            assert seen == registered, f"no public test: {sorted(registered - seen)}"


def test_solutions_and_stubs_define_the_registered_functions(stub_course):
    # the stubs generated from solutions/ now, never this clone's working exercises/
    for topic, functions in TOPICS.items():
        for folder in (ROOT / "solutions", stub_course / "exercises"):
            tree = ast.parse((folder / f"{topic}.py").read_text(encoding="utf-8"))
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert set(functions) <= defined, (folder, topic)


def test_every_mutant_patches_a_registered_function():
    from .mutants import MUTANTS

    for m in MUTANTS:
        assert topic_of(m.function) == m.topic, m


FAKE_SOLUTION = '''
"""A fake exercise: double an array."""

import numpy as np


def double(x):
    """Return ``2 * x`` (same shape and dtype).

    Parameters
    ----------
    x : ndarray
    """
    # BEGIN SOLUTION
    return 2 * np.asarray(x)
    # END SOLUTION
'''

FAKE_TEST = '''
import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call


@pytest.mark.points(3)
@pytest.mark.checks("double")
def test_double(impl):
    x = np.array([1.0, -2.0])
    assert_close(call(impl.double, x), 2 * x, "double")
'''


@pytest.mark.slow
def test_one_registry_entry_adds_an_exercise(tmp_path):
    """In a copy of the course: a solution, a test and one entry; then it is graded,
    checked and released."""
    course = tmp_path / "course"
    for name in ("nnlib", "solutions", "tests/public", "tests/hidden", "course"):
        shutil.copytree(ROOT / name, course / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(ROOT / "pyproject.toml", course / "pyproject.toml")
    (course / "solutions" / "fake.py").write_text(textwrap.dedent(FAKE_SOLUTION))
    (course / "tests" / "public" / "test_fake.py").write_text(textwrap.dedent(FAKE_TEST))
    registry = course / "nnlib" / "grading" / "registry.py"
    text = registry.read_text()
    anchor = 'Exercise("adam_update", "adam", "06_optimizers", ("same", 0, "w")),\n'
    assert anchor in text
    registry.write_text(text.replace(anchor, anchor + '    Exercise("double", "fake", '
                                     '"01_chain_rule", ("same", 0, "out")),\n'))
    env = clean_env(PYTHONPATH=str(course), NNLIB_ROOT=str(course))

    def py(*args, **extra):
        return subprocess.run([sys.executable, *args], cwd=course, env=dict(env, **extra),
                              capture_output=True, text=True, timeout=600)

    released = py("-m", "nnlib", "release", "--stubs-only")
    assert released.returncode == 0, released.stderr
    stub = (course / "exercises" / "fake.py").read_text()
    assert "raise NotImplementedError" in stub and "2 * np.asarray" not in stub
    graded = py("-m", "nnlib", "grade", "--impl", "solutions", "--topics", "fake")
    assert graded.returncode == 0 and "Score: 3 / 3" in graded.stdout, graded.stdout
    stubs = py("-m", "nnlib", "grade", "--impl", "exercises", "--topics", "fake")
    assert "Score: 0 / 3" in stubs.stdout, stubs.stdout
    checked = py("-c", "from nnlib.grading import check; check('fake')",
                 NNLIB_IMPL="solutions")
    assert "check('fake'): 1 test passed." in checked.stdout, checked.stdout + checked.stderr
