"""Hidden tests of exercises/intermediates.py: a batch of two and a square batch."""

import numpy as np
import pytest

from nnlib.course.intermediates import ORDER, forward_intermediates, init_params, reference_grads
from nnlib.grading.judge.testing import call


def _first_wrong(grads, reference, rtol=1e-5):
    if not isinstance(grads, dict):
        return f"intermediate_grads must return a dict, got {type(grads).__name__}"
    for name in ORDER:
        a, e = grads.get(name), reference[name]
        if not isinstance(a, (np.ndarray, np.generic, float, int)) or np.shape(a) != e.shape:
            return f"d{name} is missing or has the wrong shape ({e.shape} expected)"
        a = np.asarray(a, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            return f"d{name} contains nan or inf"
        diff = float(np.linalg.norm(a - e))
        if diff > rtol * max(float(np.linalg.norm(a) + np.linalg.norm(e)), 1e-3):
            return f"d{name} (relative error {diff / (np.linalg.norm(a) + np.linalg.norm(e)):.1e})"
    return None


def _case(seed, n, d, h, c):
    rng = np.random.default_rng(seed)
    X = 2.0 * rng.standard_normal((n, d)) + 1.0
    y = rng.integers(0, c, n)
    params = init_params(d, h, c, rng)
    return X, y, params


@pytest.mark.points(1)
@pytest.mark.checks("intermediate_grads")
def test_hidden_intermediates_batch_of_two(impl):
    X, y, params = _case(71, 2, 3, 5, 3)
    grads = call(impl.intermediate_grads, X, y, params, forward_intermediates(X, y, params))
    first = _first_wrong(grads, reference_grads(X, y, params))
    assert first is None, ("intermediate_grads on a batch of 2 rows: the first wrong gradient "
                           f"counting from the loss is {first}")


@pytest.mark.points(1)
@pytest.mark.checks("intermediate_grads")
def test_hidden_intermediates_square_batch_same_class(impl):
    X, _, params = _case(72, 7, 7, 7, 7)
    y = np.full(7, 3)
    grads = call(impl.intermediate_grads, X, y, params, forward_intermediates(X, y, params))
    first = _first_wrong(grads, reference_grads(X, y, params))
    assert first is None, ("intermediate_grads on a 7 x 7 batch, every row of class 3 (N = D "
                           f"= H = C: a transpose goes unnoticed by the shapes): the first "
                           f"wrong gradient counting from the loss is {first}")
