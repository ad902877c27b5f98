"""Public tests of exercises/initialization.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import call, global_random_state

FAN_OUT, FAN_IN = 200, 300


def _draw(fn, *extra, seed=0, **kwargs):
    W = call(fn, FAN_OUT, FAN_IN, np.random.default_rng(seed), *extra, **kwargs)
    name = fn.__name__
    assert isinstance(W, np.ndarray), f"{name} must return a numpy array, got {type(W).__name__}"
    assert W.shape == (FAN_OUT, FAN_IN), (
        f"{name}({FAN_OUT}, {FAN_IN}, rng) must have shape (fan_out, fan_in) = "
        f"{(FAN_OUT, FAN_IN)}, got {W.shape}")
    assert W.dtype == np.float64, f"{name}: expected float64, got {W.dtype}"
    return W


def _check_std(W, std, name):
    assert abs(W.mean()) < 0.05 * std, f"{name}: the mean should be 0, got {W.mean():.3g}"
    assert abs(W.std() / std - 1) < 0.03, (
        f"{name}: the standard deviation should be {std:.4f}, got {W.std():.4f}")


@pytest.mark.points(1)
@pytest.mark.checks("small_init")
def test_small_init_shape_and_std(impl):
    W = _draw(impl.small_init)
    _check_std(W, 0.01, "small_init")
    _check_std(_draw(impl.small_init, scale=0.1), 0.1, "small_init(..., scale=0.1)")


@pytest.mark.points(1)
@pytest.mark.checks("xavier_init")
def test_xavier_init_shape_and_std(impl):
    W = _draw(impl.xavier_init)
    _check_std(W, np.sqrt(2 / (FAN_IN + FAN_OUT)), "xavier_init (std sqrt(2 / (fan_in + fan_out)))")


@pytest.mark.points(1)
@pytest.mark.checks("he_init")
def test_he_init_shape_and_std(impl):
    W = _draw(impl.he_init)
    _check_std(W, np.sqrt(2 / FAN_IN), "he_init (std sqrt(2 / fan_in))")


@pytest.mark.points(1)
@pytest.mark.checks("he_init")
def test_he_init_is_reproducible(impl):
    state = global_random_state()
    a = _draw(impl.he_init)
    b = _draw(impl.he_init)
    assert global_random_state() == state, (
        "he_init used numpy's global random state (np.random.*); draw from rng instead")
    assert np.array_equal(a, b), (
        "he_init: the same generator seed must give the same weights; draw from rng, "
        "not from np.random")
    assert not np.array_equal(a, _draw(impl.he_init, seed=1)), (
        "he_init: different generator seeds must give different weights; draw from the rng "
        "you are given, not from a generator of your own")
    _check_std(a, np.sqrt(2 / FAN_IN), "he_init (std sqrt(2 / fan_in))")


@pytest.mark.points(1)
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.checks(n))
                                  for n in ("small_init", "xavier_init")])
def test_init_uses_only_the_generator(impl, name):
    fn = getattr(impl, name)
    state = global_random_state()
    a = _draw(fn)
    b = _draw(fn)
    assert global_random_state() == state, (
        f"{name} used numpy's global random state (np.random.*); draw from rng instead")
    assert np.array_equal(a, b), f"{name}: the same generator seed must give the same weights"
    assert not np.array_equal(a, _draw(fn, seed=1)), (
        f"{name}: different generator seeds must give different weights; draw from the rng "
        "you are given, not from a generator of your own")
    std = 0.01 if name == "small_init" else np.sqrt(2 / (FAN_IN + FAN_OUT))
    _check_std(a, std, name)
