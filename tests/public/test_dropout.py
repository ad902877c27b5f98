"""Public tests of exercises/dropout.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

X = np.arange(1.0, 2001.0).reshape(40, 50)


def _dropped(x, p):
    """A check that ``out`` is ``x`` with about a fraction p dropped, the rest scaled."""
    def check(out):
        assert np.shape(out) == x.shape, f"out has shape {np.shape(out)}, expected {x.shape}"
        assert abs(np.mean(out == 0) - p) < 0.04, f"about {p:.0%} of out should be 0"
        kept = out != 0
        assert_close(out[kept], x[kept] / (1 - p), "out: kept elements scaled by 1 / (1 - p)")
    return check


@pytest.mark.points(2)
@pytest.mark.checks("dropout_forward")
def test_dropout_forward_training(impl):
    p = 0.25
    out, _ = expect_tuple(call(impl.dropout_forward, X, p, np.random.default_rng(0)), 2,
                          "dropout_forward")
    assert np.shape(out) == X.shape and out.dtype == X.dtype, (
        f"dropout_forward: out must have the shape and dtype of x, {X.shape} {X.dtype}, "
        f"got {np.shape(out)} {out.dtype}")
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 0.04, (
        f"dropout_forward: with p={p} about {p:.0%} of the elements should be 0 "
        f"(p is the probability to drop), got {dropped:.1%}")
    kept = out != 0
    assert_close(out[kept], X[kept] / (1 - p), "dropout_forward: kept elements are scaled "
                 "by 1 / (1 - p)")


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_dropout_forward_inference_is_identity(impl):
    out, _ = expect_tuple(call(impl.dropout_forward, X, 0.5, np.random.default_rng(0),
                               training=False), 2, "dropout_forward")
    assert_close(out, X, "dropout_forward with training=False must return x unchanged",
                 rtol=0)
    # ... while the same call in training mode drops
    out, _ = expect_tuple(call(impl.dropout_forward, X, 0.5, np.random.default_rng(0)), 2,
                          "dropout_forward")
    try:
        _dropped(X, 0.5)(out)
    except AssertionError as e:
        raise AssertionError(f"dropout_forward with training=True (the default): {e}") from None


@pytest.mark.points(2)
@pytest.mark.checks("dropout_backward")
def test_dropout_backward_uses_the_forward_mask(impl):
    p = 0.5
    out, cache = forward_for_backward(impl, "dropout_forward", X, p, np.random.default_rng(1),
                                      expected=_dropped(X, p), judged="dropout_backward")
    dout = np.linspace(-1.0, 1.0, X.size).reshape(X.shape)
    dx = call(impl.dropout_backward, dout, cache)
    expected = np.where(out != 0, dout / (1 - p), 0.0)
    assert_close(dx, expected, "dropout_backward: dx = dout * mask / (1 - p) with the mask of "
                 "the forward pass", dtype=np.float64)
