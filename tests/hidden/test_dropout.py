"""Hidden tests of exercises/dropout.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import (
    assert_close,
    call,
    expect_tuple,
    forward_for_backward,
    global_random_state,
)


def _dropped(x, p):
    """A check that ``out`` is ``x`` with about a fraction p dropped, the rest scaled."""
    def check(out):
        assert np.shape(out) == x.shape, f"out has shape {np.shape(out)}, expected {x.shape}"
        assert abs(np.mean(out == 0) - p) < 0.05, f"about {p:.0%} of out should be 0"
        kept = out != 0
        assert_close(out[kept], x[kept] / np.float32(1 - p), "out: kept elements scaled by "
                     "1 / (1 - p)", rtol=1e-6)
    return check


def _x(dtype=np.float64):
    return np.random.default_rng(91).standard_normal((50, 40)).astype(dtype) + 3.0


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_hidden_dropout_uses_only_the_generator(impl):
    x = _x()
    state = global_random_state()
    a, _ = expect_tuple(call(impl.dropout_forward, x, 0.3, np.random.default_rng(5)), 2,
                        "dropout_forward")
    b, _ = expect_tuple(call(impl.dropout_forward, x, 0.3, np.random.default_rng(5)), 2,
                        "dropout_forward")
    assert global_random_state() == state, (
        "dropout_forward used numpy's global random state; draw the mask from rng")
    assert np.array_equal(a, b), "dropout_forward: the same generator seed must give the same mask"
    rng = np.random.default_rng(6)
    c, _ = expect_tuple(call(impl.dropout_forward, x, 0.3, rng), 2, "dropout_forward")
    d, _ = expect_tuple(call(impl.dropout_forward, x, 0.3, rng), 2, "dropout_forward")
    assert not np.array_equal(c == 0, d == 0), (
        "dropout_forward: two calls with the same generator must draw different masks "
        "(use the rng you are given, do not create a new one)")
    for out in (a, c, d):
        _dropped(x, 0.3)(out)


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_hidden_dropout_keeps_the_expectation(impl):
    x = np.ones((200, 100))
    out, _ = call(impl.dropout_forward, x, 0.6, np.random.default_rng(7))
    assert abs(out.mean() - 1.0) < 0.05, (
        f"dropout_forward with p=0.6: the mean of the output should stay about 1 (the mean of "
        f"x), got {out.mean():.3f}; scale the kept elements by 1 / (1 - p)")
    assert abs(np.mean(out == 0) - 0.6) < 0.02, (
        f"dropout_forward with p=0.6: about 60% of the elements should be dropped, "
        f"got {np.mean(out == 0):.1%}")


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_hidden_dropout_inference_draws_nothing(impl):
    x = _x()
    rng = np.random.default_rng(8)
    before = rng.bit_generator.state
    out, cache = expect_tuple(call(impl.dropout_forward, x, 0.5, rng, training=False), 2,
                              "dropout_forward")
    assert_close(out, x, "dropout_forward with training=False must return x", rtol=0)
    assert rng.bit_generator.state == before, (
        "dropout_forward with training=False must not draw random numbers")
    dout = np.random.default_rng(9).standard_normal(x.shape)
    dx = call(impl.dropout_backward, dout, cache)
    assert_close(dx, dout, "dropout_backward after an inference-mode forward: dx = dout",
                 rtol=0)
    # ... while the same call in training mode drops
    out, _ = expect_tuple(call(impl.dropout_forward, x, 0.5, rng), 2, "dropout_forward")
    try:
        _dropped(x, 0.5)(out)
    except AssertionError as e:
        raise AssertionError(f"dropout_forward with training=True (the default): {e}") from None


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_hidden_dropout_p_zero_and_float32(impl):
    x = _x(np.float32)
    out, _ = expect_tuple(call(impl.dropout_forward, x, 0.0, np.random.default_rng(10)), 2,
                          "dropout_forward")
    assert out.dtype == np.float32, f"dropout_forward: float32 in must give float32 out, " \
        f"got {out.dtype}"
    assert_close(out, x, "dropout_forward with p=0 keeps everything", rtol=0)
    out, _ = expect_tuple(call(impl.dropout_forward, x, 0.4, np.random.default_rng(10)), 2,
                          "dropout_forward")
    assert out.dtype == np.float32, f"dropout_forward: float32 in must give float32 out, " \
        f"got {out.dtype}"
    try:
        _dropped(x, 0.4)(out)
    except AssertionError as e:
        raise AssertionError(f"dropout_forward with p=0.4 on float32 input: {e}") from None


@pytest.mark.points(1)
@pytest.mark.checks("dropout_backward")
def test_hidden_dropout_backward_float32_and_mask(impl):
    x = _x(np.float32)
    out, cache = forward_for_backward(impl, "dropout_forward", x, 0.25,
                                      np.random.default_rng(11), expected=_dropped(x, 0.25),
                                      judged="dropout_backward")
    dout = np.random.default_rng(12).standard_normal(x.shape).astype(np.float32)
    dx = call(impl.dropout_backward, dout, cache)
    assert dx.dtype == np.float32, f"dropout_backward: dx must stay float32, got {dx.dtype}"
    assert_close(dx, np.where(out != 0, dout / np.float32(0.75), 0), "dropout_backward: "
                 "dx = dout * mask / (1 - p) with the forward's mask", rtol=1e-6)
