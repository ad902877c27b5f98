"""The exercise tests compute every expected value on the trusted side.

``call()`` gives the student's function private copies of its arguments and checks every
one of them afterwards, whatever the signature; the exercise tests call student functions
only through it, and never take finite differences of a student's function. (The hostile
suite, ``test_hostile.py``, grades the matching attacks end to end.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from nnlib.grading.judge.testing import call

from .conftest import ROOT

EXERCISE_TESTS = sorted((ROOT / "tests" / "public").glob("test_*.py")) + sorted(
    (ROOT / "tests" / "hidden").glob("test_*.py"))


# ------------------------------------------------------------------ call()
def _zero_everything(*args, **kwargs):
    for a in [*args, *kwargs.values()]:
        if isinstance(a, np.ndarray):
            a[...] = 0
    return 1.0


@pytest.mark.parametrize("where", ["third positional", "keyword"])
def test_call_sees_a_mutation_behind_args_and_kwargs(where):
    a, b, c = np.ones(2), np.ones(2), np.ones(2)
    args, kwargs = ((a, b, c), {}) if where == "third positional" else ((a,), {"rest": c})

    def sneaky(*args, **kwargs):
        target = args[2] if len(args) > 2 else kwargs["rest"]
        target[...] = 0
        return 0.0

    with pytest.raises(AssertionError, match="modified its argument"):
        call(sneaky, *args, **kwargs)
    assert np.array_equal(c, np.ones(2)), "the test's own array was written"


def test_call_never_lets_the_function_write_the_tests_arrays():
    x = np.arange(6.0).reshape(2, 3)
    stats = (np.ones(3), [np.full(2, 2.0)], {"m": np.zeros(1)})
    with pytest.raises(AssertionError, match="modified its argument"):
        call(_zero_everything, x, stats, key=np.ones(4))
    assert np.array_equal(x, np.arange(6.0).reshape(2, 3))
    assert np.array_equal(stats[0], np.ones(3)) and np.array_equal(stats[1][0], [2.0, 2.0])


def test_call_names_the_argument_from_the_signature_for_the_message_only():
    def running_stats_update(running_mean, running_var, batch_mean, batch_var, n, momentum=0.1):
        batch_mean[...] = 0
        return running_mean, running_var

    with pytest.raises(AssertionError, match="its argument batch_mean in place"):
        call(running_stats_update, np.ones(2), np.ones(2), np.ones(2), np.ones(2), 4,
             momentum=0.3)


def test_mutable_arguments_are_the_tests_and_named_by_position():
    params = [(np.ones((2, 2)), np.zeros(2))]
    grads = [(np.ones((2, 2)), np.ones(2))]

    def sgd_step(params, grads, lr):
        for (W, b), (dW, db) in zip(params, grads, strict=True):
            W -= lr * dW
            b -= lr * db

    call(sgd_step, params, grads, 0.5, mutable=(0,))
    assert np.array_equal(params[0][0], np.full((2, 2), 0.5))
    assert np.array_equal(grads[0][0], np.ones((2, 2)))

    # a parameter renamed "params" does not make the gradients mutable
    def renamed(grads_, params, lr):
        params[0][0][...] = 0

    with pytest.raises(AssertionError, match="its argument params in place"):
        call(renamed, params, grads, 0.5, mutable=(0,))
    assert np.array_equal(grads[0][0], np.ones((2, 2)))


def test_call_passes_copies_laid_out_like_the_tests_arrays():
    big = np.arange(24.0).reshape(4, 6)
    seen = {}

    def record(c, f, s, ro):
        seen.update(c=c.flags.c_contiguous, f=f.flags.f_contiguous and not f.flags.c_contiguous,
                    s=not (s.flags.c_contiguous or s.flags.f_contiguous),
                    ro=not ro.flags.writeable, same=[c is big, s.base is big])
        return 0

    ro = np.ones(3)
    ro.flags.writeable = False
    call(record, big, np.asfortranarray(big), big[:, 1:5], ro)
    assert seen == {"c": True, "f": True, "s": True, "ro": True, "same": [False, False]}


# ------------------------------------------------------------------ the exercise tests
def _calls_impl_directly(node: ast.Call) -> bool:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "impl":
        return True
    return (isinstance(f, ast.Call) and isinstance(f.func, ast.Name) and f.func.id == "getattr"
            and bool(f.args) and isinstance(f.args[0], ast.Name) and f.args[0].id == "impl")


def _mentions_impl(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "impl" for n in ast.walk(node))


@pytest.mark.parametrize("path", EXERCISE_TESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_exercise_tests_call_student_functions_only_through_call(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    direct = [n.lineno for n in ast.walk(tree)
              if isinstance(n, ast.Call) and _calls_impl_directly(n)]
    assert not direct, f"{path.name}: student functions called without call() at lines {direct}"
    # no callback (a numeric_grad function, a check) built around the student's functions
    inner = [n.lineno for top in tree.body if isinstance(top, ast.FunctionDef)
             for n in ast.walk(top) if n is not top
             and isinstance(n, (ast.Lambda, ast.FunctionDef)) and _mentions_impl(n)]
    assert not inner, f"{path.name}: functions built on the student's code at lines {inner}"


def test_a_backward_that_zeroes_dout_itself_is_told_dx_is_not_a_copy():
    def relu_backward(dout, cache):
        dx = dout  # the same array: the next line writes the test's dout
        dx[cache <= 0] = 0
        return dx

    with pytest.raises(AssertionError, match=r"modified its argument dout in place; .*dx = "
                                             r"dout is the same array, not a copy"):
        call(relu_backward, np.ones(4), np.array([1.0, -1.0, 2.0, -2.0]))
