"""The stubs generated from solutions/ hold no solution code, and the committed exercises/
are those stubs (checked in CI only: in a clone, exercises/ is the student's)."""

import ast
import os

import pytest

from nnlib.course.release import ReleaseError, make_stub
from nnlib.grading.impl import ImplementationError, forbidden_imports, load_topic
from nnlib.grading.registry import TOPICS

from .conftest import ROOT

SYNC_CHECK = "NNLIB_CHECK_EXERCISES"


@pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get(SYNC_CHECK)),
    reason=f"exercises/ is the working copy of whoever does the course in this clone; the "
           f"check that it holds exactly the stubs generated from solutions/ runs in CI "
           f"(CI set) or with {SYNC_CHECK}=1, or run `python -m nnlib release --stubs-only "
           f"--check`")
def test_exercises_are_the_stubs_generated_from_solutions():
    """For instructors and CI: the committed exercises/ must be the untouched stubs."""
    from nnlib.course.release import stubs_status

    problems = stubs_status(ROOT / "exercises", ROOT)
    assert not problems, (
        "exercises/ is not what `python -m nnlib release --stubs-only` generates from "
        f"solutions/: {'; '.join(problems)}. Instructors: run that command and commit "
        "exercises/. Working through the course in this clone? This check is not for you: "
        f"it runs only when CI or {SYNC_CHECK} is set.")


def _functions(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("topic", list(TOPICS))
def test_every_exercise_function_is_a_stub(topic, stub_course):
    path = stub_course / "exercises" / f"{topic}.py"
    funcs = _functions(path)
    assert set(TOPICS[topic]) <= set(funcs), f"{path.name} lacks {set(TOPICS[topic]) - set(funcs)}"
    for name, node in funcs.items():
        if name.startswith("_"):
            continue
        body = [n for n in node.body if not (isinstance(n, ast.Expr)
                                              and isinstance(n.value, ast.Constant))]
        assert len(body) == 1 and isinstance(body[0], ast.Raise), (
            f"exercises/{topic}.py: {name} must contain only its docstring and "
            "`raise NotImplementedError(...)`")
        assert "NotImplementedError" in ast.unparse(body[0])
        assert ast.get_docstring(node), f"exercises/{topic}.py: {name} has no docstring"


@pytest.mark.parametrize("topic", list(TOPICS))
def test_solutions_match_the_stub_signatures_and_use_numpy_only(topic, stub_course):
    sol = ROOT / "solutions" / f"{topic}.py"
    assert forbidden_imports(sol) == [], f"solutions/{topic}.py imports nnlib"
    text = sol.read_text(encoding="utf-8")
    assert text.count("# BEGIN SOLUTION") == len(TOPICS[topic]) == text.count("# END SOLUTION")
    s_funcs, e_funcs = _functions(sol), _functions(stub_course / "exercises" / f"{topic}.py")
    for name in TOPICS[topic]:
        assert ast.dump(s_funcs[name].args) == ast.dump(e_funcs[name].args)


def test_make_stub_replaces_function_regions_and_drops_module_regions():
    source = (
        "import numpy as np\n"
        "# BEGIN SOLUTION\n"
        "def _helper():\n"
        "    return 1\n"
        "# END SOLUTION\n"
        "\n"
        "def f(x):\n"
        '    """Doc."""\n'
        "    # BEGIN SOLUTION\n"
        "    return _helper() + x\n"
        "    # END SOLUTION\n"
    )
    stub = make_stub(source)
    assert "_helper" not in stub and "return" not in stub
    assert '    raise NotImplementedError("f is not implemented yet")\n' in stub
    assert stub.startswith("import numpy as np\n\ndef f(x):\n")


@pytest.mark.parametrize("source", [
    "def f():\n    # BEGIN SOLUTION\n    return 1\n",
    "def f():\n    return 1\n    # END SOLUTION\n",
    "def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    # END SOLUTION\n",
])
def test_make_stub_rejects_unbalanced_markers(source):
    with pytest.raises(ReleaseError):
        make_stub(source)


def test_forbidden_imports_are_found_statically(tmp_path):
    f = tmp_path / "dense.py"
    f.write_text("import numpy as np\nimport nnlib.functional as F\n"
                 "from solutions import dense\nm = __import__('nnlib')\n")
    assert forbidden_imports(f) == ["line 2 imports nnlib.functional",
                                    "line 3 imports solutions", "line 4 imports nnlib"]
    with pytest.raises(ImplementationError, match="numpy only"):
        load_topic("dense", tmp_path)


def test_load_topic_is_fresh_and_reports_missing_files(tmp_path):
    f = tmp_path / "adam.py"
    f.write_text("def adam_update():\n    return 1\n")
    assert load_topic("adam", tmp_path).adam_update() == 1
    f.write_text("def adam_update():\n    return 2\n")  # same size, same second
    assert load_topic("adam", tmp_path).adam_update() == 2
    with pytest.raises(ImplementationError, match="not found"):
        load_topic("dense", tmp_path)


def test_stubs_status_names_what_differs(tmp_path):
    from nnlib.course.release import stubs_status, write_stubs

    folder = tmp_path / "exercises"
    write_stubs(folder, ROOT)
    assert stubs_status(folder, ROOT) == []
    (folder / "dense.py").write_text("def dense_forward(x, W, b):\n    return x @ W.T + b\n")
    (folder / "adam.py").unlink()
    (folder / "notes.py").write_text("")
    assert stubs_status(folder, ROOT) == ["missing: adam.py",
                                          "not generated from solutions/: notes.py",
                                          "different from the stub: dense.py"]


def test_the_stubs_check_command_says_what_it_checks(tmp_path):
    from .conftest import clean_env, run

    root = tmp_path / "course"
    for sub in ("solutions", "tests/public"):
        (root / sub).mkdir(parents=True)
    for f in (ROOT / "solutions").glob("*.py"):
        (root / "solutions" / f.name).write_text(f.read_text())
    ok = run(["-m", "nnlib", "release", "--stubs-only"], env=clean_env(NNLIB_ROOT=str(root)))
    assert ok.returncode == 0, ok.stderr
    check = ["-m", "nnlib", "release", "--stubs-only", "--check"]
    proc = run(check, env=clean_env(NNLIB_ROOT=str(root)))
    assert proc.returncode == 0 and "holds exactly the stubs" in proc.stdout
    (root / "exercises" / "dense.py").write_text("# my work\n")
    proc = run(check, env=clean_env(NNLIB_ROOT=str(root)))
    assert proc.returncode == 1
    assert proc.stdout.strip() == ("exercises/ is not what `python -m nnlib release "
                                   "--stubs-only` generates from solutions/: different from "
                                   "the stub: dense.py. (In a copy where exercises are being "
                                   "written this is expected: the check is for the committed "
                                   "stubs.)")
