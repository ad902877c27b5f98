"""The student release: built from an allowlist, without solutions or hidden tests, and
gradable out of the box (score 0 with the stubs).

The release is exercised with its folder on PYTHONPATH and as the working directory
instead of `pip install -e .`, which would take minutes; that is equivalent because an
editable install only puts the same folder on the path.
"""

import re
import shutil
from pathlib import Path

import pytest

from nnlib.course.release import ReleaseError, build_release, stubs, write_stubs
from nnlib.grading.registry import MISTAKES, TOPICS

from .conftest import ROOT, clean_env, run
from .mutants import MUTANTS

ALLOWED = [
    r"README\.md", r"pyproject\.toml", r"\.gitignore",
    r"course/[^/]+\.ipynb", r"course/nbval_sanitize\.cfg", r"course/.+\.(png|jpe?g|svg|gif)",
    r"nnlib/.+\.py", r"nnlib/data/[^/]+\.h5",
    r"exercises/[a-z_]+\.py",
    r"tests/public/[a-z_]+\.py",
]


def _env(release_dir):
    return clean_env(PYTHONPATH=str(release_dir))


def test_release_holds_only_the_allowlist(release):
    out, files = release
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == files
    for rel in on_disk:
        assert any(re.fullmatch(pattern, rel) for pattern in ALLOWED), f"{rel} is not allowed"
    for topic in TOPICS:
        assert f"exercises/{topic}.py" in files and f"tests/public/test_{topic}.py" in files
    for nb in (ROOT / "course").glob("*.ipynb"):
        assert f"course/{nb.name}" in files
    assert "nnlib/data/digits.h5" in files and "nnlib/grading/grader/grade.py" in files
    for absent in ("solutions", "tests/hidden", "tests/grading", "docs", "scripts", ".ci",
                   "conftest.py", "benchmarks"):
        assert not (out / absent).exists(), f"{absent} leaked into the release"


def test_release_leaks_no_solution_and_no_hidden_test(release):
    out, files = release
    hidden_names = set()
    for f in (ROOT / "tests" / "hidden").glob("test_*.py"):
        hidden_names |= set(re.findall(r"def (test_\w+)", f.read_text()))
    # a mutant named after its catalogued mistake shares a public name: the catalogue of
    # named mistakes ships with the grader on purpose (students read those names)
    mutants = {m.name for m in MUTANTS} - {m.id for m in MISTAKES}
    assert hidden_names and mutants
    for rel in files:
        if rel.endswith(".h5"):
            continue
        text = (out / rel).read_text(encoding="utf-8")
        assert not any(line.strip() in ("# BEGIN SOLUTION", "# END SOLUTION")
                       for line in text.splitlines()), f"solution marker in {rel}"
        for name in hidden_names | mutants:
            assert name not in text, f"{rel} mentions {name}"
    generated = stubs(ROOT)  # from solutions/ now, not the working exercises/
    for topic in TOPICS:
        stub = (out / "exercises" / f"{topic}.py").read_text()
        assert stub == generated[f"{topic}.py"]
        assert stub != (ROOT / "solutions" / f"{topic}.py").read_text()


def test_release_pyproject_runs_the_public_tests_without_nbval(release):
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    out, _ = release
    config = tomllib.loads((out / "pyproject.toml").read_text())
    pytest_config = config["tool"]["pytest"]["ini_options"]
    assert pytest_config["testpaths"] == ["tests/public"]
    assert not any("nbval" in a for a in pytest_config["addopts"])
    assert pytest_config["filterwarnings"] == ["error"]
    assert config["project"]["name"] == "nnlib"
    # the student's: no instructor tool settings, no linter, no browser check
    text = (out / "pyproject.toml").read_text()
    assert "ruff" not in config.get("tool", {}) and "ruff" not in text
    extras = config["project"]["optional-dependencies"]
    assert set(extras) == {"dev"} and any(d.startswith("jupyterlab") for d in extras["dev"])
    assert "browser" not in text
    deps = " ".join(config["project"]["dependencies"])
    assert "pytest>=" in deps and "pytest-timeout" in deps  # `pip install -e .` can grade
    assert "Submitting" in (out / "README.md").read_text()


def test_grading_the_release_gives_zero(release, solutions_grade):
    out, _ = release
    where = run(["-c", "import nnlib; print(nnlib.__file__)"], cwd=out, env=_env(out))
    assert Path(where.stdout.strip()).is_relative_to(out)
    proc = run(["-m", "nnlib", "grade"], cwd=out, env=_env(out))
    assert proc.returncode == 0, proc.stderr
    public_max = sum(r["points"] for r in solutions_grade.records if r["visibility"] == "visible")
    assert proc.stdout.splitlines()[-1] == f"Score: 0 / {public_max:g}"
    hidden = run(["-m", "nnlib", "grade", "--hidden"], cwd=out, env=_env(out))
    assert hidden.returncode == 2 and "hidden tests are not part" in hidden.stderr
    rel = run(["-m", "nnlib", "release", str(out / "again")], cwd=out, env=_env(out))
    assert rel.returncode == 2 and "no solutions/" in rel.stderr


def test_pytest_in_the_release_runs_the_public_tests(release):
    out, _ = release
    proc = run(["-m", "pytest", "-v", "-p", "no:randomly"], cwd=out, env=_env(out))
    defined = sum(len(re.findall(r"\ndef test_", p.read_text()))
                  for p in (out / "tests" / "public").glob("test_*.py"))
    # a parametrized test (one per intermediate of intermediate_grads) is several items;
    # -v prints one line per item run
    n_public = sum(line.startswith("tests/public/test_") and "::" in line
                   for line in proc.stdout.splitlines())
    assert n_public >= defined, proc.stdout[-2000:]
    assert f"{n_public} failed" in proc.stdout.splitlines()[-1], proc.stdout[-2000:]


def test_release_refuses_to_overwrite(tmp_path):
    from nnlib.course.release import ReleaseError

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not empty"):
        build_release(tmp_path / "x")
    with pytest.raises(ReleaseError, match="instructor repository"):
        build_release(ROOT, force=True)


def test_release_notebooks_are_the_committed_ones_and_claim_nothing_for_the_student(release):
    """The committed outputs were computed against fresh stubs, so they ship as they are:
    every check cell says what a student sees before writing the exercise."""
    import json

    from nnlib.course.release import stored_claims

    out, _ = release
    checks = 0
    for nb_path in sorted((out / "course").glob("*.ipynb")):
        assert nb_path.read_bytes() == (ROOT / "course" / nb_path.name).read_bytes()
        nb = json.loads(nb_path.read_text())
        assert stored_claims(nb) == [], nb_path.name
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and re.search(r"\bcheck\(", source):
                text = "".join("".join(o.get("text", "")) for o in cell["outputs"])
                assert re.search(r"\): 0 of \d+ tests? passed\.", text), (nb_path.name, text)
                checks += 1
    assert checks >= 10, "the course notebooks should hold check cells"


def test_a_notebook_that_claims_a_students_result_is_not_released(tmp_path):
    import json

    from nnlib.course.release import ReleaseError, release_notebook, stored_claims

    def nb(source, text):
        return {"cells": [{"cell_type": "code", "source": source, "metadata": {},
                           "execution_count": 1,
                           "outputs": [{"output_type": "stream", "name": "stdout",
                                        "text": text}]}]}

    passed = nb("check('dense')", "check('dense'): all 4 tests passed.\n")
    payoff = nb("mine = student_layers()\nprint(...)", "your layers: test accuracy 0.983\n")
    fine = nb("check('dense')", "check('dense'): 0 of 1 test passed.\n  dense_forward  "
              "not implemented yet\n")
    report = nb("mine = student_layers()", "To train with your own layers, write these "
                "functions first:\n")
    assert stored_claims(passed) == ["code cell 0: all 4 tests passed"]
    assert len(stored_claims(payoff)) == 1 and stored_claims(fine) == stored_claims(report) == []
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(payoff))
    with pytest.raises(ReleaseError, match="x.ipynb stores results the student has not "
                                           "produced .*run_notebooks.py"):
        release_notebook(path)


def test_regenerating_the_stubs_never_overwrites_written_exercises(tmp_path):
    """`release --stubs-only` in a working copy would have replaced a student's code by the
    stubs without a word; stale stubs (older docstrings, an exercise added since) are
    still regenerated."""
    folder = tmp_path / "exercises"
    folder.mkdir()
    fresh = stubs(ROOT)
    for name, text in fresh.items():
        (folder / name).write_text(text)
    written = fresh["dense.py"].replace(
        'raise NotImplementedError("dense_forward is not implemented yet")',
        "return x @ W.T + b, (x, W)")
    (folder / "dense.py").write_text(written)
    stale = fresh["losses.py"].replace("Mean binary cross-entropy", "Mean BCE")
    (folder / "losses.py").write_text(stale)
    engine = fresh["engine.py"]
    (folder / "engine.py").write_text(engine[:engine.index("def backward(")])  # added since
    with pytest.raises(ReleaseError, match=r"written exercises \(dense\.py: dense_forward\)"):
        write_stubs(folder, ROOT)
    assert (folder / "dense.py").read_text() == written
    assert (folder / "losses.py").read_text() == stale  # nothing written at all
    (folder / "dense.py").write_text(fresh["dense.py"])
    assert sorted(write_stubs(folder, ROOT)) == ["engine.py", "losses.py"]
    (folder / "dense.py").write_text(written)
    assert write_stubs(folder, ROOT, force=True) == ["dense.py"]
    assert {p.name: p.read_text() for p in folder.glob("*.py")} == fresh
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")  # the command, from a root
    (folder / "dense.py").write_text(written)
    env = clean_env(NNLIB_ROOT=str(tmp_path))
    proc = run(["-m", "nnlib", "release", "--stubs-only"], env=env)
    assert proc.returncode == 2 and "pass --force" in proc.stderr, proc.stderr
    assert (folder / "dense.py").read_text() == written
    proc = run(["-m", "nnlib", "release", "--stubs-only", "--force"], env=env)
    assert proc.returncode == 0 and (folder / "dense.py").read_text() == fresh["dense.py"]

