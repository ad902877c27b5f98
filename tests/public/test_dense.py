"""Public tests of exercises/dense.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

# Two examples with three features, a layer with two units.
X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 2.0]])
W = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]])
B = np.array([0.1, -0.2])


@pytest.mark.points(1)
@pytest.mark.checks("dense_forward")
def test_dense_forward_shape(impl):
    # a layer with one unit: z has shape (N, out) = (2, 1)
    w, b = W[:1], B[:1]
    expected = X @ w.T + b
    z, _ = expect_tuple(call(impl.dense_forward, X, w, b), 2, "dense_forward")
    assert np.shape(z) == (2, 1), (
        f"dense_forward: z must have shape (N, out) = (2, 1), got {np.shape(z)}")
    assert_close(z, expected, "dense_forward with one unit: z = x @ W.T + b", dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("dense_forward")
def test_dense_forward_values(impl):
    z, _ = call(impl.dense_forward, X, W, B)
    # row 0: 0.5 - 2 + 6 + 0.1 = 4.6 and 1 - 1.5 - 0.2 = -0.7
    expected = np.array([[4.6, -0.7], [3.6, -2.2]])
    assert_close(z, expected, "dense_forward: z = x @ W.T + b", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("dense_backward")
def test_dense_backward_shapes(impl):
    _, cache = forward_for_backward(impl, "dense_forward", X, W, B, expected=X @ W.T + B,
                                    judged="dense_backward")
    dz = np.ones((2, 2))
    expected = (dz @ W, dz.T @ X, dz.sum(axis=0))
    grads = expect_tuple(call(impl.dense_backward, dz, cache), 3, "dense_backward")
    for name, g, ref in zip(("dx", "dW", "db"), grads, (X, W, B), strict=True):
        assert np.shape(g) == ref.shape, (
            f"dense_backward: {name} must have shape {ref.shape} like the array it is the "
            f"gradient of, got {np.shape(g)}")
    for name, g, ref in zip(("dx", "dW", "db"), grads, expected, strict=True):
        assert_close(g, ref, f"dense_backward with dz all ones: {name}", dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("dense_backward")
def test_dense_backward_values(impl):
    _, cache = forward_for_backward(impl, "dense_forward", X, W, B, expected=X @ W.T + B,
                                    judged="dense_backward")
    dz = np.array([[1.0, -1.0], [2.0, 0.5]])
    dx, dW, db = call(impl.dense_backward, dz, cache)
    assert_close(dx, dz @ W, "dense_backward: dx = dz @ W", dtype=np.float64)
    assert_close(dW, dz.T @ X, "dense_backward: dW = dz.T @ x", dtype=np.float64)
    assert_close(db, dz.sum(axis=0), "dense_backward: db = dz summed over the batch",
                 dtype=np.float64)


@pytest.mark.points(0.5)
@pytest.mark.checks("dense_forward")
def test_dense_forward_non_contiguous(impl):
    # x in column-major order and W a transposed view: neither is C-contiguous
    x = np.asfortranarray(np.arange(12.0).reshape(4, 3) - 5.0)
    W = np.ascontiguousarray(np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]])).T  # (2, 3)
    z, _ = expect_tuple(call(impl.dense_forward, x, W, B), 2, "dense_forward")
    assert_close(z, x @ W.T + B, "dense_forward with a non-contiguous x and W (a transposed "
                 "view): z = x @ W.T + b", dtype=np.float64)


@pytest.mark.points(0.5)
@pytest.mark.checks("dense_forward")
def test_dense_forward_keeps_float32(impl):
    x, w, b = X.astype(np.float32), W.astype(np.float32), B.astype(np.float32)
    z, _ = expect_tuple(call(impl.dense_forward, x, w, b), 2, "dense_forward")
    assert np.asarray(z).dtype == np.float32, (
        f"dense_forward: float32 inputs must give float32 z, got {np.asarray(z).dtype}")
    assert_close(z, X @ W.T + B, "dense_forward on float32 input", rtol=1e-6)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-6)
    return check


@pytest.mark.points(0.5)
@pytest.mark.checks("dense_backward")
def test_dense_backward_keeps_float32(impl):
    x, w, b = X.astype(np.float32), W.astype(np.float32), B.astype(np.float32)
    _, cache = forward_for_backward(impl, "dense_forward", x, w, b,
                                    expected=_float32_close(X @ W.T + B), judged="dense_backward")
    dz = np.array([[1.0, -1.0], [2.0, 0.5]], dtype=np.float32)
    grads = expect_tuple(call(impl.dense_backward, dz, cache), 3, "dense_backward")
    expected = (dz @ W, dz.T @ X, dz.sum(axis=0))
    for name, g, ref in zip(("dx", "dW", "db"), grads, expected, strict=True):
        assert np.asarray(g).dtype == np.float32, (
            f"dense_backward: {name} must stay float32, got {np.asarray(g).dtype}")
        assert_close(g, ref, f"dense_backward on float32 input: {name}", rtol=1e-6)
