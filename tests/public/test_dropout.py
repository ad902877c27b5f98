"""Public tests of exercises/dropout.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import (
    assert_close,
    call,
    expect_tuple,
    forward_for_backward,
    global_random_state,
)

X = np.arange(1.0, 2001.0).reshape(40, 50)


def _dropped(x, p):
    """A check that ``out`` is ``x`` with about a fraction p dropped, the rest scaled."""
    def check(out):
        assert np.shape(out) == x.shape, f"out has shape {np.shape(out)}, expected {x.shape}"
        assert abs(np.mean(out == 0) - p) < 0.04, f"about {p:.0%} of out should be 0"
        kept = out != 0
        assert_close(out[kept], x[kept] / (1 - p), "out: kept elements scaled by 1 / (1 - p)")
    return check


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_dropout_masks_are_independent(impl):
    """Each element is dropped on its own draw: no row and no column all kept or all dropped.

    For a correct mask (independent elements, p = 0.5), a given column of X's 40 rows is
    all kept or all dropped with probability 2 * 0.5**40 = 2**-39, a given row of 50
    columns with 2**-49; by the union bound a correct implementation fails with probability
    at most 50 * 2**-39 + 40 * 2**-49 < 1e-10, whatever order it draws its numbers in.
    The seed is fixed: the test is deterministic.
    """
    out, _ = expect_tuple(call(impl.dropout_forward, X, 0.5, np.random.default_rng(4)), 2,
                          "dropout_forward")
    assert np.shape(out) == X.shape, f"dropout_forward: out must have shape {X.shape}"
    dropped = np.asarray(out) == 0
    for axis, what, other in ((0, "column", "row"), (1, "row", "column")):
        constant = np.all(dropped, axis=axis) | np.all(~dropped, axis=axis)
        assert not np.any(constant), (
            f"dropout_forward with p=0.5: {int(constant.sum())} of the {constant.size} "
            f"{what}s of out are entirely kept or entirely dropped, as if one random number "
            f"per {what} were shared by every {other}; draw one number per element: "
            "rng.random(x.shape)")


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
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    out, _ = expect_tuple(call(impl.dropout_forward, X, 0.5, rng, training=False), 2,
                          "dropout_forward")
    assert_close(out, X, "dropout_forward with training=False must return x unchanged",
                 rtol=0)
    assert rng.bit_generator.state == before, (
        "dropout_forward with training=False must not draw random numbers from rng")
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
    # after an inference-mode forward nothing was dropped: the gradient passes unchanged
    _, cache = forward_for_backward(impl, "dropout_forward", X, p, np.random.default_rng(1),
                                    training=False, expected=X, judged="dropout_backward")
    dx = call(impl.dropout_backward, dout, cache)
    assert_close(dx, dout, "dropout_backward after an inference-mode forward "
                 "(training=False): dx = dout", dtype=np.float64)


@pytest.mark.points(0.5)
@pytest.mark.checks("dropout_forward")
def test_dropout_forward_keeps_float32(impl):
    x = X.astype(np.float32)
    out, _ = expect_tuple(call(impl.dropout_forward, x, 0.25, np.random.default_rng(2)), 2,
                          "dropout_forward")
    assert np.asarray(out).dtype == np.float32, (
        f"dropout_forward: float32 x must give float32 out, got {np.asarray(out).dtype} "
        "(convert the mask to x.dtype before scaling it)")
    try:
        _dropped(x, 0.25)(out)
    except AssertionError as e:
        raise AssertionError(f"dropout_forward on float32 input: {e}") from None


@pytest.mark.points(0.5)
@pytest.mark.checks("dropout_backward")
def test_dropout_backward_keeps_float32(impl):
    x = X.astype(np.float32)

    def float32_dropped(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        _dropped(x, 0.25)(out)

    out, cache = forward_for_backward(impl, "dropout_forward", x, 0.25,
                                      np.random.default_rng(3), expected=float32_dropped,
                                      judged="dropout_backward")
    dout = np.linspace(-1.0, 1.0, x.size, dtype=np.float32).reshape(x.shape)
    dx = call(impl.dropout_backward, dout, cache)
    assert np.asarray(dx).dtype == np.float32, (
        f"dropout_backward: dx must stay float32, got {np.asarray(dx).dtype}")
    assert_close(dx, np.where(out != 0, dout / 0.75, 0.0), "dropout_backward on float32 "
                 "input: dx = dout * mask / (1 - p)", rtol=1e-6)


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_dropout_forward_any_shape(impl):
    # 8000 elements each: a correct mask drops 25% +- 0.5% (one standard deviation), far
    # inside the 4% that _dropped allows
    for x, what in ((np.arange(1.0, 8001.0), "a 1-D input"),
                    (np.arange(1.0, 16001.0).reshape(8, 40, 50)[:, :, ::2],
                     "a 3-D, non-contiguous input")):
        out, _ = expect_tuple(call(impl.dropout_forward, x, 0.25, np.random.default_rng(5)), 2,
                              "dropout_forward")
        try:
            _dropped(x, 0.25)(out)
        except AssertionError as e:
            raise AssertionError(f"dropout_forward on {what} (x may have any shape: draw the "
                                 f"mask with rng.random(x.shape)): {e}") from None


@pytest.mark.points(1)
@pytest.mark.checks("dropout_backward")
def test_dropout_backward_any_shape(impl):
    # 8000 elements each: a correct mask drops 25% +- 0.5% (one standard deviation), far
    # inside the 4% that _dropped allows
    for x, what in ((np.arange(1.0, 8001.0), "a 1-D input"),
                    (np.arange(1.0, 16001.0).reshape(8, 40, 50)[:, :, ::2],
                     "a 3-D, non-contiguous input")):
        out, cache = forward_for_backward(impl, "dropout_forward", x, 0.25,
                                          np.random.default_rng(6), expected=_dropped(x, 0.25),
                                          judged="dropout_backward")
        dout = np.linspace(-1.0, 1.0, x.size).reshape(x.shape)
        dx = call(impl.dropout_backward, dout, cache)
        assert_close(dx, np.where(out != 0, dout / 0.75, 0.0), f"dropout_backward on {what}: "
                     "dx = dout * mask / (1 - p) with the forward's mask", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_dropout_uses_only_the_generator(impl):
    state = global_random_state()
    a, _ = expect_tuple(call(impl.dropout_forward, X, 0.25, np.random.default_rng(7)), 2,
                        "dropout_forward")
    b, _ = expect_tuple(call(impl.dropout_forward, X, 0.25, np.random.default_rng(7)), 2,
                        "dropout_forward")
    assert global_random_state() == state, (
        "dropout_forward used numpy's global random state (np.random.*); draw the mask from "
        "the rng you are given")
    assert np.array_equal(a, b), (
        "dropout_forward: the same generator seed must give the same mask")
    _dropped(X, 0.25)(a)
    rng = np.random.default_rng(8)
    c, _ = expect_tuple(call(impl.dropout_forward, X, 0.25, rng), 2, "dropout_forward")
    d, _ = expect_tuple(call(impl.dropout_forward, X, 0.25, rng), 2, "dropout_forward")
    assert not np.array_equal(c == 0, d == 0), (
        "dropout_forward: two calls with the same generator must draw different masks (a new "
        "mask for every batch): draw from the rng you are given, not from a generator of "
        "your own")
