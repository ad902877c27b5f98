"""Hidden tests of exercises/dense.py."""

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


def _arrays(seed, n, d_in, d_out, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d_in)).astype(dtype),
            rng.standard_normal((d_out, d_in)).astype(dtype),
            rng.standard_normal(d_out).astype(dtype))


@pytest.mark.points(1)
@pytest.mark.checks("dense_forward")
def test_hidden_dense_forward_matches_reference(impl):
    x, W, b = _arrays(31, 5, 4, 3)
    z, _ = expect_tuple(call(impl.dense_forward, x, W, b), 2, "dense_forward")
    assert_close(z, F.dense_forward(x, W, b)[0], "dense_forward: z for N=5, in=4, out=3",
                 dtype=np.float64)


@pytest.mark.points(0.5)
@pytest.mark.checks("dense_forward")
def test_hidden_dense_forward_non_contiguous(impl):
    x, W, b = _arrays(32, 4, 6, 3)
    x = np.asfortranarray(x)
    Wt = np.ascontiguousarray(W.T)  # W below is a transposed view
    expected = x @ W.T + b
    z, _ = expect_tuple(call(impl.dense_forward, x, Wt.T, b), 2, "dense_forward")
    assert_close(z, expected, "dense_forward with non-contiguous x and W")


@pytest.mark.points(2)
@pytest.mark.checks("dense_backward")
@pytest.mark.parametrize("shape", [(5, 4, 3), (4, 4, 4)], ids=["rectangular", "square"])
def test_hidden_dense_backward_gradcheck(impl, shape):
    x, W, b = _arrays(33, *shape)
    _, cache = forward_for_backward(impl, "dense_forward", x, W, b, expected=x @ W.T + b,
                                    judged="dense_backward")
    dz = np.random.default_rng(34).standard_normal((shape[0], shape[2]))
    dx, dW, db = expect_tuple(call(impl.dense_backward, dz, cache), 3, "dense_backward")
    fwd = F.dense_forward  # finite differences of the reference, never the student's
    assert_close(dx, numeric_grad(lambda v: fwd(v, W, b)[0], x, dz),
                 "dense_backward: dx against finite differences")
    assert_close(dW, numeric_grad(lambda v: fwd(x, v, b)[0], W, dz),
                 "dense_backward: dW against finite differences (shape (out, in): dz.T @ x)")
    assert_close(db, numeric_grad(lambda v: fwd(x, W, v)[0], b, dz),
                 "dense_backward: db against finite differences (sum over the batch, "
                 "no 1/N here)")


@pytest.mark.points(1)
@pytest.mark.checks("dense_backward")
def test_hidden_dense_batch_of_one(impl):
    x, W, b = _arrays(35, 1, 3, 2)
    z, cache = forward_for_backward(impl, "dense_forward", x, W, b, expected=x @ W.T + b,
                                    judged="dense_backward")
    assert np.shape(z) == (1, 2), f"dense_forward: a batch of one gives z of shape (1, 2), " \
        f"got {np.shape(z)}"
    dz = np.array([[0.5, -2.0]])
    dx, dW, db = call(impl.dense_backward, dz, cache)
    assert_close(dx, dz @ W, "dense_backward with N=1: dx")
    assert_close(dW, dz.T @ x, "dense_backward with N=1: dW")
    assert_close(db, dz[0], "dense_backward with N=1: db must have shape (out,)")


@pytest.mark.points(0.5)
@pytest.mark.checks("dense_forward")
def test_hidden_dense_forward_keeps_float32(impl):
    x, W, b = _arrays(36, 3, 4, 2, np.float32)
    z, _ = expect_tuple(call(impl.dense_forward, x, W, b), 2, "dense_forward")
    assert np.asarray(z).dtype == np.float32, (
        f"dense_forward: float32 in must give float32 out, got {np.asarray(z).dtype}")
    assert_close(z, F.dense_forward(x.astype(np.float64), W.astype(np.float64),
                                    b.astype(np.float64))[0],
                 "dense_forward on float32 input", rtol=1e-5)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


@pytest.mark.points(0.5)
@pytest.mark.checks("dense_backward")
def test_hidden_dense_keeps_float32(impl):
    x, W, b = _arrays(36, 3, 4, 2, np.float32)
    ref_z, ref_cache = F.dense_forward(x.astype(np.float64), W.astype(np.float64),
                                       b.astype(np.float64))
    _, cache = forward_for_backward(impl, "dense_forward", x, W, b,
                                    expected=_float32_close(ref_z), judged="dense_backward")
    dz = np.random.default_rng(37).standard_normal((3, 2)).astype(np.float32)
    expected = F.dense_backward(dz.astype(np.float64), ref_cache)
    grads = expect_tuple(call(impl.dense_backward, dz, cache), 3, "dense_backward")
    for name, g, ref in zip(("dx", "dW", "db"), grads, expected, strict=True):
        assert np.asarray(g).dtype == np.float32, (
            f"dense_backward: {name} must stay float32, got {np.asarray(g).dtype}")
        assert_close(g, ref, f"dense_backward on float32 input: {name}", rtol=1e-5)
