"""Feedback that points at the real mistake: a backward pass is not blamed for its forward
pass's mistake, and check() reads the course copy the notebook runs in (and says which
file it read when that is not the obvious one)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nnlib.course.release import build_release
from nnlib.grading.grader.grade import grade
from nnlib.grading.grader.results import format_table
from nnlib.grading.impl import course_root_of, find_root
from nnlib.grading.judge.testing import Waiting, assert_close, expect_tuple, forward_for_backward

from .conftest import ROOT, clean_env, run
from .mutants import MUTANTS, write_submission

BY_NAME = {m.name: m for m in MUTANTS}

CHECK = """
from nnlib.grading import check
import sys
for args in sys.argv[1:]:
    check(*args.split(","))
"""


def _check(impl, *calls, cwd=ROOT):
    proc = run(["-c", CHECK, *calls], cwd=cwd, env=clean_env(NNLIB_IMPL=str(impl)))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


# ------------------------------------------------------------------ waiting for the forward
def test_forward_for_backward_passes_a_correct_forward_through():
    class Impl:
        @staticmethod
        def f(x):
            return x * 2, "cache"

    out, cache = forward_for_backward(Impl, "f", np.ones(3), expected=np.full(3, 2.0),
                                      judged="b")
    assert cache == "cache" and np.array_equal(out, np.full(3, 2.0))


@pytest.mark.parametrize(("body", "why"), [
    (lambda x: (x * 3, None), "(out: wrong values (relative error 2.0e-01)): b is judged"),
    (lambda x: x * 2, "(it must return a tuple (out, cache))"),
    (lambda x: (x.__imul__(2), None), "modified its argument x in place"),
    (lambda x: (np.ones((2, 2)) @ x.reshape(1, 3), None), "it raises ValueError: matmul"),
])
def test_forward_for_backward_waits_for_a_wrong_forward(body, why):
    class Impl:
        @staticmethod
        def f(x):
            return body(x)

    with pytest.raises(Waiting) as info:
        forward_for_backward(Impl, "f", np.ones(3), expected=np.full(3, 2.0), judged="b")
    message = str(info.value)
    assert message.startswith("waiting for f, which fails its tests (") and why in message
    assert isinstance(info.value, AssertionError)  # any grader shows it as a failure


def test_forward_for_backward_lets_not_implemented_through():
    class Impl:
        @staticmethod
        def f(x):
            raise NotImplementedError("f is not implemented yet")

    with pytest.raises(NotImplementedError):
        forward_for_backward(Impl, "f", np.ones(3), expected=np.ones(3), judged="b")


@pytest.fixture(scope="module")
def unbiased(tmp_path_factory):
    """The issue's case: batchnorm_forward with the unbiased variance, correct backwards."""
    folder = tmp_path_factory.mktemp("unbiased") / "student"
    return write_submission(BY_NAME["batchnorm_unbiased_variance"], folder)


def test_check_says_the_backward_waits_for_the_failing_forward(unbiased):
    out = _check(unbiased, "batchnorm,batchnorm_backward", "batchnorm")
    lines = out.splitlines()
    assert lines[0] == "check('batchnorm', 'batchnorm_backward'): 0 of 2 tests passed."
    assert lines[1] == ("  batchnorm_backward  waiting for batchnorm_forward, which fails its "
                        "tests: fix it first")
    assert "dx: wrong values" not in out and "dx" not in lines[1]
    assert "  batchnorm_forward        FAILED 3 of 3 tests" in out
    assert "  batchnorm_backward_fast  waiting for batchnorm_forward, which fails" in out
    assert "  batchnorm_inference      ok (1 test)" in out


def test_hidden_grading_marks_the_backwards_waiting_not_failed(unbiased):
    g = grade(unbiased, hidden=True, topics=["batchnorm"])
    by_function = {}
    for r in g.records:
        by_function.setdefault(r["function"], set()).add(r["status"])
    assert by_function["batchnorm_backward"] == by_function["batchnorm_backward_fast"] \
        == {"waiting"}
    assert "failed" in by_function["batchnorm_forward"]
    assert by_function["batchnorm_inference"] == by_function["running_stats_update"] \
        == {"passed"}
    waiting = [r for r in g.records if r["status"] == "waiting"]
    assert all(r["score"] == 0 for r in waiting)
    assert all(r["message"].startswith("waiting for batchnorm_forward, which fails its tests")
               for r in waiting)
    assert not any("dx" in r["message"].split("(")[0] for r in waiting)
    failed = sum(r["status"] == "failed" for r in g.records)
    row = next(line for line in format_table(g, width=200).splitlines()
               if line.startswith("batchnorm"))
    assert f"failed {failed} of {len(g.records)}, {len(waiting)} waiting" in row
    assert "batchnorm_forward" in row and "waiting for" not in row  # the cause is shown


def test_a_wrong_backward_with_a_correct_forward_still_fails(tmp_path):
    sub = write_submission(BY_NAME["batchnorm_backward_missing_dmu"], tmp_path / "student")
    out = _check(sub, "batchnorm,batchnorm_backward")
    lines = out.splitlines()
    assert lines[1].startswith("  batchnorm_backward  FAILED 2 of 2 tests; first: "
                               "test_batchnorm_backward_values"), out
    text = " ".join(out.split())
    # the mistake is named first, then the test's own words
    assert lines[2].strip().startswith("Your dx is what you get without the path"), out
    assert "(the known mistake 'bn_backward_missing_dmu')" in text, out
    assert "The test says: batchnorm_backward: dx: wrong values" in text, out
    assert "waiting" not in out


@pytest.mark.parametrize(("mutant", "backward"), [
    ("dense_forward_W_not_transposed", "dense_backward"),
    ("network_relu_on_output", "network_backward"),
    ("layernorm_wrong_axis", "layernorm_backward"),
    ("sigmoid_overflow", None),  # its backward's tests use inputs where the forward is right
])
def test_other_backwards_wait_for_their_forward(tmp_path, mutant, backward):
    m = BY_NAME[mutant]
    sub = write_submission(m, tmp_path / "student")
    g = grade(sub, hidden=True, topics=[m.topic])
    statuses = {r["status"] for r in g.records if r["function"] == backward}
    if backward is None:
        assert "waiting" not in {r["status"] for r in g.records}
    else:
        assert statuses == {"waiting"}, statuses
    assert g.by_topic()[m.topic]["message"].startswith(m.function)


# ------------------------------------------------------------------ which copy check() reads
@pytest.fixture(scope="module")
def two_copies(tmp_path_factory):
    """Two student releases: ``a`` (stubs, nnlib imported from it) and ``b`` (dense solved)."""
    base = tmp_path_factory.mktemp("copies")
    build_release(base / "a", root=ROOT)
    build_release(base / "b", root=ROOT)
    shutil.copyfile(ROOT / "solutions" / "dense.py", base / "b" / "exercises" / "dense.py")
    (base / "elsewhere").mkdir()
    return base


SCRIPT = """
import nnlib
from nnlib.grading import check
print(nnlib.__file__)
check("dense")
"""


def _check_in(copies, cwd):
    env = clean_env(PYTHONPATH=str(copies / "a"))
    proc = run(["-c", SCRIPT], cwd=cwd, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert Path(first).resolve() == (copies / "a" / "nnlib" / "__init__.py").resolve()
    return rest


def test_check_reads_the_copy_the_notebook_runs_in(two_copies):
    assert _check_in(two_copies, two_copies / "b" / "course") == [
        "check('dense'): all 7 tests passed."]
    assert _check_in(two_copies, two_copies / "b" / "exercises") == [
        "check('dense'): all 7 tests passed."]
    mine = _check_in(two_copies, two_copies / "a" / "course")
    assert mine[0] == "check('dense'): 0 of 7 tests passed." and "checking" not in "".join(mine)


def test_check_says_which_file_it_read_outside_a_course_folder(two_copies):
    lines = _check_in(two_copies, two_copies / "elsewhere")
    shown = os.path.join("..", "a", "exercises", "dense.py")
    assert lines[0] == f"check('dense'): checking {shown}"
    assert lines[1] == "check('dense'): 0 of 7 tests passed."
    assert "write its body in exercises/dense.py" in lines[2]


def test_find_root_prefers_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "copy" / "tests" / "public").mkdir(parents=True)
    (tmp_path / "copy" / "course").mkdir()
    monkeypatch.delenv("NNLIB_ROOT", raising=False)
    monkeypatch.chdir(tmp_path / "copy" / "course")
    assert find_root() == (tmp_path / "copy").resolve()
    assert course_root_of(tmp_path) is None
    monkeypatch.chdir(tmp_path)
    assert find_root() == ROOT  # no course folder here: the installed package's


def test_long_messages_are_wrapped_between_words_never_inside_a_number():
    """JupyterLab breaks an overlong output line anywhere ("got 0.39" then "3548"); check()
    wraps its lines itself, at spaces, so a number is never cut."""
    from nnlib.grading.selfcheck import WIDTH, _summarize
    numbers = " ".join(f"0.{i}93548{i}" for i in range(40))
    message = f"batchnorm_forward: each column should have variance 1, got [{numbers}]"
    records = [{"status": "failed", "function": "batchnorm_forward", "name": "t1",
                "message": message},
               {"status": "passed", "function": "batchnorm_forward", "name": "t2",
                "message": ""}]
    ok, lines = _summarize("batchnorm", records, "exercises/batchnorm.py",
                           ("batchnorm_forward",))
    assert not ok
    assert lines[0] == "check('batchnorm', 'batchnorm_forward'): 1 of 2 tests passed."
    assert all(len(line) <= WIDTH for line in lines), lines
    words = " ".join(lines[2:]).split()
    assert [w.strip("[]") for w in words if w.strip("[]").startswith("0.")] == numbers.split()
    assert all(line.startswith(" " * 23) for line in lines[3:])  # under the message


def test_the_summary_reads_the_records_fields_not_their_wording():
    """Reworded messages do not change whom a test waits for (typed records)."""
    from nnlib.grading.selfcheck import _summarize

    base = {"topic": "dense", "points": 1.0, "name": "t", "nodeid": "t"}
    records = [
        dict(base, function="dense_forward", status="failed", message="anything at all",
             missing="", waiting_for=""),
        dict(base, function="dense_backward", status="waiting", message="reworded freely",
             missing="", waiting_for="dense_forward"),
    ]
    _, lines = _summarize("dense", records, "exercises/dense.py")
    assert any("waiting for dense_forward, which fails its tests" in line for line in lines)
    stub = [dict(base, function="dense_backward", status="not implemented",
                 message="no name in here", missing="dense_forward", waiting_for="")]
    _, lines = _summarize("dense", stub, "exercises/dense.py")
    assert any("waiting for dense_forward (not implemented yet)" in line for line in lines)


def test_a_wrong_value_is_shown_with_the_digits_that_differ():
    """A one-sided difference is off by 2e-7 at -4: six digits showed "got -4, expected
    -4"."""
    with pytest.raises(AssertionError) as e:
        assert_close(np.array([0.5, -3.99999981]), np.array([0.5, -4.0]), "grad", rtol=1e-9)
    assert str(e.value).endswith("largest difference at index (1,): got -3.9999998, "
                                 "expected -4 (a difference of 1.9e-07)")


def test_a_function_that_returns_nothing_is_told_about_return():
    for check in (lambda: assert_close(None, np.ones(3), "tanh_backward: dx"),
                  lambda: expect_tuple(None, 2, "dense_forward")):
        with pytest.raises(AssertionError, match=r"got a? ?NoneType \(a function without a "
                                                 r"`return` gives None\)$"):
            check()

