"""Hidden tests of exercises/activations.py."""

import numpy as np
import pytest

import nnlib.functional as F
from nnlib.grading.judge.testing import (
    assert_close,
    call,
    expect_tuple,
    forward_for_backward,
    numeric_grad,
)

FORWARDS = ("sigmoid_forward", "relu_forward", "tanh_forward")
BY_FORWARD = [pytest.param(n, marks=pytest.mark.checks(n)) for n in FORWARDS]
BY_BACKWARD = [pytest.param(n.replace("forward", "backward"),
                            marks=pytest.mark.checks(n.replace("forward", "backward")))
               for n in FORWARDS]
REFERENCE = {"sigmoid_forward": F.sigmoid_forward, "relu_forward": F.relu_forward,
             "tanh_forward": F.tanh_forward}
BACKWARD = {"sigmoid_backward": F.sigmoid_backward, "relu_backward": F.relu_backward,
            "tanh_backward": F.tanh_backward}


def _x(seed, shape=(5, 4), zeros=True):
    """Random inputs, with exact zeros unless ``zeros=False``.

    ReLU's derivative at exactly 0 is a convention (0, as the course states), checked by one
    public test of 1 point only: the inputs of every test of ``relu_backward`` here have no
    exact zero (``zeros=False``).
    """
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    if zeros:
        x.flat[::7] = 0.0
    else:
        assert np.all(x != 0.0)
    return x


@pytest.mark.points(2)
@pytest.mark.checks("sigmoid_forward")
def test_hidden_sigmoid_large_inputs_do_not_overflow(impl):
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    out, _ = call(impl.sigmoid_forward, x)
    assert_close(out, F.sigmoid(x), "sigmoid_forward for inputs of +-1000 (compute exp only "
                 "of -|x|)", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("sigmoid_backward")
def test_hidden_sigmoid_backward_gradcheck(impl):
    x = _x(21)
    dout = np.random.default_rng(22).standard_normal(x.shape)
    _, cache = forward_for_backward(impl, "sigmoid_forward", x, expected=F.sigmoid(x),
                                    judged="sigmoid_backward")
    dx = call(impl.sigmoid_backward, dout, cache)
    assert_close(dx, numeric_grad(lambda v: F.sigmoid_forward(v)[0], x, dout),
                 "sigmoid_backward: dx against finite differences", rtol=1e-7)


@pytest.mark.points(2)
@pytest.mark.checks("relu_backward")
def test_hidden_relu_backward_random_upstream(impl):
    x = _x(23, zeros=False)
    dout = np.random.default_rng(24).standard_normal(x.shape)
    _, cache = forward_for_backward(impl, "relu_forward", x, expected=np.maximum(x, 0),
                                    judged="relu_backward")
    dx = call(impl.relu_backward, dout, cache)
    assert_close(dx, F.relu_backward(dout, F.relu_forward(x)[1]),
                 "relu_backward with an upstream gradient of both signs: dx = dout where "
                 "x > 0, else 0", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("tanh_backward")
def test_hidden_tanh_backward_gradcheck(impl):
    x = _x(25)
    dout = np.random.default_rng(26).standard_normal(x.shape)
    _, cache = forward_for_backward(impl, "tanh_forward", x, expected=np.tanh(x),
                                    judged="tanh_backward")
    dx = call(impl.tanh_backward, dout, cache)
    assert_close(dx, numeric_grad(lambda v: F.tanh_forward(v)[0], x, dout),
                 "tanh_backward: dx against finite differences", rtol=1e-7)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BY_FORWARD)
def test_hidden_activation_keeps_float32(impl, name):
    x = _x(27).astype(np.float32)
    out, _ = expect_tuple(call(getattr(impl, name), x), 2, name)
    assert np.asarray(out).dtype == np.float32, (
        f"{name}: float32 input must give float32 output, got {np.asarray(out).dtype}")
    assert_close(out, REFERENCE[name](x.astype(np.float64))[0], f"{name} on float32 input",
                 rtol=1e-5)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BY_BACKWARD)
def test_hidden_activation_backward_keeps_float32(impl, name):
    forward = name.replace("backward", "forward")
    x = _x(27, zeros=False).astype(np.float32)
    dout = np.random.default_rng(29).standard_normal(x.shape).astype(np.float32)
    ref_out, ref_cache = REFERENCE[forward](x.astype(np.float64))
    ref_dx = BACKWARD[name](dout.astype(np.float64), ref_cache)
    _, cache = forward_for_backward(impl, forward, x, expected=_float32_close(ref_out),
                                    judged=name)
    dx = call(getattr(impl, name), dout, cache)
    assert np.asarray(dx).dtype == np.float32, (
        f"{name}: float32 gradients must stay float32, got {np.asarray(dx).dtype}")
    assert_close(dx, ref_dx, f"{name} on float32 input", rtol=1e-5)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BY_FORWARD)
def test_hidden_activation_any_shape_and_strides(impl, name):
    x = _x(28, (3, 4, 6))[:, :, ::2]  # 3-D and non-contiguous
    out, _ = call(getattr(impl, name), x)
    assert_close(out, REFERENCE[name](x)[0], f"{name} on a 3-D, non-contiguous input")
