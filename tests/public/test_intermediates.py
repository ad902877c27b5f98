"""Public tests of exercises/intermediates.py: one test per intermediate, from the loss back.

Each test checks one gradient against centered differences of the loss
(:func:`nnlib.course.intermediates.reference_grads`). A gradient that is wrong while one
before it (counting from the loss) is wrong too is *waiting*: every gradient is computed
from the ones before it, so the first wrong one is the one to fix, and its test says so.
"""

import numpy as np
import pytest

from nnlib.course.intermediates import ORDER, forward_intermediates, init_params, reference_grads
from nnlib.grading.judge.testing import Waiting, call

FUNCTION = "intermediate_grads"
ZERO = ("logit_maxes", "b1")
"""The gradients that are zero (up to rounding): an array of zeros would match them."""


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(2016)
    X = rng.standard_normal((8, 6))
    y = np.array([0, 1, 2, 3, 3, 1, 0, 2])
    params = init_params(6, 10, 4, rng)
    return X, y, params, forward_intermediates(X, y, params), reference_grads(X, y, params)


def wrong(grads, name, expected, rtol=1e-5):
    """Why ``grads[name]`` is not ``expected``, or None when it is right."""
    if name not in grads:
        return "missing from the returned dict"
    a = grads[name]
    if not isinstance(a, (np.ndarray, np.generic, float, int)):
        return f"not an array ({type(a).__name__})"
    a = np.asarray(a)
    if a.shape != expected.shape:
        return f"shape {a.shape}, expected {expected.shape} (the shape of {name})"
    if not np.all(np.isfinite(a)):
        return "contains nan or inf"
    diff = float(np.linalg.norm(a.astype(np.float64) - expected))
    size = float(np.linalg.norm(a.astype(np.float64)) + np.linalg.norm(expected))
    if diff > rtol * max(size, 1e-3):
        i = np.unravel_index(int(np.argmax(np.abs(a - expected))), a.shape)
        return (f"relative error {diff / max(size, 1e-300):.1e}; at index "
                f"{tuple(int(k) for k in i)}: got {float(a[i]):.6g}, expected "
                f"{float(expected[i]):.6g}")
    return None


def judge(grads, name, reference):
    """Pass, fail naming ``name``, or wait naming the first wrong gradient before it."""
    if not isinstance(grads, dict):
        raise AssertionError(f"{FUNCTION} must return a dict of gradients by name, got "
                             f"{type(grads).__name__}")
    why = wrong(grads, name, reference[name])
    if why is None and name not in ZERO:
        return
    for before in ORDER[:ORDER.index(name)]:
        first = wrong(grads, before, reference[before])
        if first is not None:
            if why is None:  # a zero proves nothing while the chain before it is wrong
                raise Waiting(f"d{name} is zero, as it should be, but it counts once every "
                              f"gradient before it is right; the first wrong one counting "
                              f"from the loss is d{before} ({first})", FUNCTION)
            raise Waiting(f"d{name} is wrong, but the first wrong gradient counting from the "
                          f"loss is d{before} ({first}): fix d{before} first, every "
                          "gradient after it is computed from it", FUNCTION)
    if why is None:
        return
    raise AssertionError(f"{FUNCTION}: d{name} is the first wrong gradient counting from the "
                         f"loss: {why}")


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.points(0.5), pytest.mark.checks("intermediate_grads")])
    for name in ORDER])
def test_intermediate_gradient(impl, case, name):
    X, y, params, inter, reference = case
    judge(call(impl.intermediate_grads, X, y, params, inter), name, reference)
