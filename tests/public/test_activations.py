"""Public tests of exercises/activations.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

X = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])


@pytest.mark.points(1)
@pytest.mark.checks("sigmoid_forward")
def test_sigmoid_forward_values(impl):
    out, _ = expect_tuple(call(impl.sigmoid_forward, X), 2, "sigmoid_forward")
    assert_close(out, 1 / (1 + np.exp(-X)), "sigmoid_forward output", dtype=np.float64)
    assert out[0, 2] == 0.5, f"sigmoid(0) must be 0.5, got {out[0, 2]}"


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
    _, cache = forward_for_backward(impl, "relu_forward", X, expected=np.maximum(X, 0),
                                    judged="relu_backward")
    dout = np.array([[1.0, -2.0, 0.5], [3.0, -1.0, -1.0]])
    dx = call(impl.relu_backward, dout, cache)
    expected = np.array([[0.0, 0.0, 0.0], [3.0, -1.0, -1.0]])
    assert_close(dx, expected, "relu_backward: dx (the gradient passes where x > 0, "
                 "whatever the sign of dout)", dtype=np.float64)


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
