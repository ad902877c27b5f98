"""Hidden tests of exercises/initialization.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import call, global_random_state

INITS = ("small_init", "xavier_init", "he_init")
BY_INIT = [pytest.param(n, marks=pytest.mark.checks(n)) for n in INITS]


def _std_ok(W, std, what):
    assert np.ndim(W) == 2 and np.size(W) >= 10000, f"{what}: expected a large 2-D array"
    assert abs(W.std() / std - 1) < 0.03, (
        f"{what}: the standard deviation should be {std:.4f}, got {W.std():.4f}")


@pytest.mark.points(1)
@pytest.mark.checks("xavier_init")
def test_hidden_xavier_uses_both_fans(impl):
    W = call(impl.xavier_init, 400, 100, np.random.default_rng(41))
    assert W.shape == (400, 100), f"xavier_init(400, 100, rng): shape must be (400, 100), " \
        f"got {W.shape}"
    _std_ok(W, np.sqrt(2 / 500), "xavier_init(fan_out=400, fan_in=100): std sqrt(2 / (100 + 400))")


@pytest.mark.points(1)
@pytest.mark.checks("he_init")
def test_hidden_he_uses_fan_in(impl):
    W = call(impl.he_init, 50, 400, np.random.default_rng(42))
    assert W.shape == (50, 400), f"he_init(50, 400, rng): shape must be (fan_out, fan_in) = " \
        f"(50, 400), got {W.shape}"
    _std_ok(W, np.sqrt(2 / 400), "he_init(fan_out=50, fan_in=400): std sqrt(2 / fan_in)")


@pytest.mark.points(1)
@pytest.mark.checks("small_init")
def test_hidden_small_init_scale(impl):
    W = call(impl.small_init, 100, 200, np.random.default_rng(43), scale=0.1)
    _std_ok(W, 0.1, "small_init(..., scale=0.1)")


@pytest.mark.points(1)
@pytest.mark.parametrize("name", BY_INIT)
def test_hidden_init_uses_only_the_generator(impl, name):
    fn = getattr(impl, name)
    state = global_random_state()
    a = call(fn, 6, 5, np.random.default_rng(44))
    b = call(fn, 6, 5, np.random.default_rng(44))
    c = call(fn, 6, 5, np.random.default_rng(45))
    assert global_random_state() == state, (
        f"{name} used numpy's global random state (np.random.*); draw from rng instead")
    assert np.array_equal(a, b), f"{name}: the same seed must give the same weights"
    assert not np.array_equal(a, c), f"{name}: different seeds must give different weights"
