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


ROWS, COLS = 60, 80


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_hidden_dropout_masks_are_independent(impl):
    """Every element is dropped on its own draw: no row and no column is all kept or all dropped.

    One draw per column shared by every row (``rng.random(x.shape[1])``) makes every column
    all kept or all dropped; one draw per row makes every row so. For a correct mask
    (independent elements, p = 0.5), a given column of 60 rows is all kept or all dropped
    with probability 2 * 0.5**60 = 2**-59, and a given row of 80 columns with 2**-79; by
    the union bound, a correct implementation fails this test with probability at most
    80 * 2**-59 + 60 * 2**-79 < 1.5e-16 (below 1e-9 whatever order it draws its numbers
    in). The seed is fixed, so the test is deterministic.
    """
    x = np.arange(1.0, ROWS * COLS + 1.0).reshape(ROWS, COLS)  # no zeros
    out, _ = expect_tuple(call(impl.dropout_forward, x, 0.5, np.random.default_rng(2024)), 2,
                          "dropout_forward")
    assert np.shape(out) == x.shape, (
        f"dropout_forward: out must have the shape of x, {x.shape}, got {np.shape(out)}")
    dropped = np.asarray(out) == 0
    for axis, what, other, draw in ((0, "column", "row", "rng.random(x.shape[1])"),
                                    (1, "row", "column", "rng.random((x.shape[0], 1))")):
        constant = np.all(dropped, axis=axis) | np.all(~dropped, axis=axis)
        if np.any(constant):
            k = int(np.argmax(constant))
            raise AssertionError(
                f"dropout_forward on a {ROWS}x{COLS} batch with p=0.5: {int(constant.sum())} "
                f"of the {constant.size} {what}s of out are entirely kept or entirely dropped "
                f"(e.g. {what} {k}), as if one random number per {what} were shared by every "
                f"{other} (like {draw}); draw one number per element: rng.random(x.shape)")


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
    out, _ = expect_tuple(call(impl.dropout_forward, x, 0.5, rng, training=False), 2,
                          "dropout_forward")
    assert_close(out, x, "dropout_forward with training=False must return x", rtol=0)
    assert rng.bit_generator.state == before, (
        "dropout_forward with training=False must not draw random numbers")
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
def test_hidden_dropout_backward_after_inference(impl):
    x = _x()
    _, cache = forward_for_backward(impl, "dropout_forward", x, 0.5, np.random.default_rng(8),
                                    training=False, expected=x, judged="dropout_backward")
    dout = np.random.default_rng(9).standard_normal(x.shape)
    dx = call(impl.dropout_backward, dout, cache)
    assert_close(dx, dout, "dropout_backward after an inference-mode forward: dx = dout",
                 rtol=0)


def _float32(check):
    """``check`` (from :func:`_dropped`), after checking that ``out`` is float32."""
    def checked(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        check(out)
    return checked


@pytest.mark.points(1)
@pytest.mark.checks("dropout_backward")
def test_hidden_dropout_backward_float32_and_mask(impl):
    x = _x(np.float32)
    out, cache = forward_for_backward(impl, "dropout_forward", x, 0.25,
                                      np.random.default_rng(11),
                                      expected=_float32(_dropped(x, 0.25)),
                                      judged="dropout_backward")
    dout = np.random.default_rng(12).standard_normal(x.shape).astype(np.float32)
    dx = call(impl.dropout_backward, dout, cache)
    assert np.asarray(dx).dtype == np.float32, (
        f"dropout_backward: dx must stay float32, got {np.asarray(dx).dtype}")
    assert_close(dx, np.where(out != 0, dout / np.float32(0.75), 0), "dropout_backward: "
                 "dx = dout * mask / (1 - p) with the forward's mask", rtol=1e-6)


def _positive(seed, shape):
    return np.random.default_rng(seed).random(shape) + 1.0  # no zeros


@pytest.mark.points(1)
@pytest.mark.checks("dropout_forward")
def test_hidden_dropout_forward_any_shape(impl):
    big = _positive(13, (10, 30, 40))
    for x, what in ((_positive(14, 5000), "a 1-D input of 5000 elements"),
                    (big[:, ::2, :], "a 3-D, non-contiguous input of shape (10, 15, 40)")):
        out, _ = expect_tuple(call(impl.dropout_forward, x, 0.3, np.random.default_rng(15)), 2,
                              "dropout_forward")
        try:
            _dropped(x, 0.3)(out)
        except AssertionError as e:
            raise AssertionError(f"dropout_forward on {what} (x may have any shape: draw the "
                                 f"mask with rng.random(x.shape)): {e}") from None


@pytest.mark.points(1)
@pytest.mark.checks("dropout_backward")
def test_hidden_dropout_backward_any_shape(impl):
    big = _positive(16, (10, 30, 40))
    for x, what in ((_positive(17, 5000), "a 1-D input"),
                    (big[:, ::2, :], "a 3-D, non-contiguous input")):
        out, cache = forward_for_backward(impl, "dropout_forward", x, 0.3,
                                          np.random.default_rng(18), expected=_dropped(x, 0.3),
                                          judged="dropout_backward")
        dout = np.random.default_rng(19).standard_normal(x.shape)
        dx = call(impl.dropout_backward, dout, cache)
        assert_close(dx, np.where(out != 0, dout / 0.7, 0.0), f"dropout_backward on {what}: "
                     "dx = dout * mask / (1 - p) with the forward's mask", dtype=np.float64)
