"""Public tests of exercises/activations.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

X = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
XR = np.array([[-2.0, -0.5, 0.25], [0.5, 1.0, 3.0]])  # no exact zero: ReLU'(0) is tested once

FORWARDS = {"sigmoid_forward": lambda x: 1 / (1 + np.exp(-x)),
            "relu_forward": lambda x: np.maximum(x, 0),
            "tanh_forward": np.tanh}
DERIVATIVES = {"sigmoid_backward": lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
               "relu_backward": lambda x: (x > 0).astype(np.float64),
               "tanh_backward": lambda x: 1 - np.tanh(x) ** 2}
BY_FORWARD = [pytest.param(n, marks=pytest.mark.checks(n)) for n in FORWARDS]
BY_BACKWARD = [pytest.param(n, marks=pytest.mark.checks(n)) for n in DERIVATIVES]


@pytest.mark.points(1)
@pytest.mark.checks("sigmoid_forward")
def test_sigmoid_forward_values(impl):
    out, _ = expect_tuple(call(impl.sigmoid_forward, X), 2, "sigmoid_forward")
    assert_close(out, 1 / (1 + np.exp(-X)), "sigmoid_forward output", dtype=np.float64)
    assert out[0, 2] == 0.5, f"sigmoid(0) must be 0.5, got {out[0, 2]}"


@pytest.mark.points(1)
@pytest.mark.checks("sigmoid_forward")
def test_sigmoid_forward_large_inputs(impl):
    x = np.array([[-800.0, -40.0, 0.0, 40.0, 800.0]])
    # the stable form: exp only of -|x|
    e = np.exp(-np.abs(x))
    expected = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    out, _ = expect_tuple(call(impl.sigmoid_forward, x), 2, "sigmoid_forward")
    assert_close(out, expected, "sigmoid_forward for inputs of +-800 (exp(800) overflows: "
                 "compute exp only of -|x|)", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("sigmoid_backward")
def test_sigmoid_backward_values(impl):
    out, cache = forward_for_backward(impl, "sigmoid_forward", X, expected=1 / (1 + np.exp(-X)),
                                      judged="sigmoid_backward")
    dout = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]])
    s = 1 / (1 + np.exp(-X))
    dx = call(impl.sigmoid_backward, dout, cache)
    assert_close(dx, dout * s * (1 - s), "sigmoid_backward: dx (should be dout * s * (1 - s))",
                 dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("relu_forward")
def test_relu_forward_values(impl):
    out, _ = expect_tuple(call(impl.relu_forward, X), 2, "relu_forward")
    assert_close(out, np.maximum(X, 0), "relu_forward output", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("relu_backward")
def test_relu_backward_values(impl):
    _, cache = forward_for_backward(impl, "relu_forward", XR, expected=np.maximum(XR, 0),
                                    judged="relu_backward")
    dout = np.array([[1.0, -2.0, 0.5], [3.0, -1.0, -1.0]])
    dx = call(impl.relu_backward, dout, cache)
    expected = np.array([[0.0, 0.0, 0.5], [3.0, -1.0, -1.0]])
    assert_close(dx, expected, "relu_backward: dx (the gradient passes where x > 0, "
                 "whatever the sign of dout)", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("relu_backward")
def test_relu_backward_at_zero(impl):
    # the one test of the convention ReLU'(0) = 0 (ReLU has no derivative at 0)
    x = np.array([[0.0, -1.0, 2.0], [0.0, 3.0, 0.0]])
    _, cache = forward_for_backward(impl, "relu_forward", x, expected=np.maximum(x, 0),
                                    judged="relu_backward")
    dout = np.array([[5.0, 1.0, 1.0], [-2.0, 1.0, 4.0]])
    dx = call(impl.relu_backward, dout, cache)
    assert_close(dx, np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), "relu_backward at x = 0: "
                 "the course's convention is ReLU'(0) = 0, as in nnlib, PyTorch and "
                 "TensorFlow (gate with x > 0, not x >= 0)", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("tanh_forward")
def test_tanh_forward_values(impl):
    out, _ = expect_tuple(call(impl.tanh_forward, X), 2, "tanh_forward")
    assert_close(out, np.tanh(X), "tanh_forward output", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("tanh_backward")
def test_tanh_backward_values(impl):
    _, cache = forward_for_backward(impl, "tanh_forward", X, expected=np.tanh(X),
                                    judged="tanh_backward")
    dout = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]])
    dx = call(impl.tanh_backward, dout, cache)
    assert_close(dx, dout * (1 - np.tanh(X) ** 2), "tanh_backward: dx (should be "
                 "dout * (1 - tanh(x)**2))", dtype=np.float64)


def _x32(seed=3):
    return (np.random.default_rng(seed).standard_normal((4, 5)) * 3).astype(np.float32)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BY_FORWARD)
def test_activation_forward_keeps_float32(impl, name):
    x = _x32()
    out, _ = expect_tuple(call(getattr(impl, name), x), 2, name)
    assert np.asarray(out).dtype == np.float32, (
        f"{name}: float32 input must give float32 output, got {np.asarray(out).dtype} "
        "(a float64 constant or array in the computation promotes the result)")
    assert_close(out, FORWARDS[name](x.astype(np.float64)), f"{name} on float32 input",
                 rtol=1e-5)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BY_BACKWARD)
def test_activation_backward_keeps_float32(impl, name):
    forward = name.replace("backward", "forward")
    x = _x32()
    x64 = x.astype(np.float64)
    _, cache = forward_for_backward(impl, forward, x,
                                    expected=_float32_close(FORWARDS[forward](x64)),
                                    judged=name)
    dout = np.random.default_rng(4).standard_normal(x.shape).astype(np.float32)
    dx = call(getattr(impl, name), dout, cache)
    assert np.asarray(dx).dtype == np.float32, (
        f"{name}: float32 gradients must stay float32, got {np.asarray(dx).dtype}")
    assert_close(dx, dout * DERIVATIVES[name](x64), f"{name} on float32 input", rtol=1e-5)


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BY_FORWARD)
def test_activation_forward_any_shape_and_strides(impl, name):
    big = np.random.default_rng(5).standard_normal((2, 3, 8)) * 3
    x = big[:, :, ::2]  # 3-D and non-contiguous (a view with gaps)
    out, _ = expect_tuple(call(getattr(impl, name), x), 2, name)
    assert_close(out, FORWARDS[name](x), f"{name} on a 3-D, non-contiguous input (work "
                 "elementwise on any shape)", dtype=np.float64)
