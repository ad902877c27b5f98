"""Public tests of exercises/layernorm.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

X = np.array([[1.0, 2.0, 3.0, 6.0], [10.0, 0.0, -10.0, 4.0]])
GAMMA = np.array([1.0, 2.0, 0.5, -1.0])
BETA = np.array([0.0, 1.0, -1.0, 0.5])


def _xhat(x, eps=1e-5):
    mu = x.mean(axis=1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=1, keepdims=True) + eps)


@pytest.mark.points(2)
@pytest.mark.checks("layernorm_forward")
def test_layernorm_forward_values(impl):
    out, _ = expect_tuple(call(impl.layernorm_forward, X, GAMMA, BETA), 2, "layernorm_forward")
    assert_close(out, GAMMA * _xhat(X) + BETA, "layernorm_forward: out (each row normalized "
                 "over its features, axis 1)", dtype=np.float64)
    # a batch of one row works (the statistics are per row), and so does a constant row
    out, _ = expect_tuple(call(impl.layernorm_forward, X[:1], GAMMA, BETA), 2,
                          "layernorm_forward")
    assert_close(out, GAMMA * _xhat(X[:1]) + BETA, "layernorm_forward on a batch of one "
                 "(statistics over the features, axis 1)", dtype=np.float64)
    x = np.vstack([X, np.full((1, 4), 7.0)])
    out, _ = expect_tuple(call(impl.layernorm_forward, x, GAMMA, BETA), 2, "layernorm_forward")
    assert_close(out, GAMMA * _xhat(x) + BETA, "layernorm_forward with a constant row "
                 "(variance 0: eps keeps the division finite)", dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("layernorm_backward")
def test_layernorm_backward_values(impl):
    _, cache = forward_for_backward(impl, "layernorm_forward", X, GAMMA, BETA,
                                    expected=GAMMA * _xhat(X) + BETA, judged="layernorm_backward")
    dout = np.array([[1.0, -1.0, 0.5, 2.0], [-2.0, 0.0, 0.25, 1.0]])
    dx, dgamma, dbeta = expect_tuple(call(impl.layernorm_backward, dout, cache), 3,
                                     "layernorm_backward")
    xhat = _xhat(X)
    d = X.shape[1]
    invstd = 1 / np.sqrt(X.var(axis=1, keepdims=True) + 1e-5)
    dxhat = dout * GAMMA
    expected = invstd / d * (d * dxhat - dxhat.sum(axis=1, keepdims=True)
                             - xhat * (dxhat * xhat).sum(axis=1, keepdims=True))
    assert_close(dx, expected, "layernorm_backward: dx", dtype=np.float64)
    assert_close(dgamma, (dout * xhat).sum(axis=0), "layernorm_backward: dgamma = "
                 "sum over the batch of dout * xhat", dtype=np.float64)
    assert_close(dbeta, dout.sum(axis=0), "layernorm_backward: dbeta = sum over the batch "
                 "of dout", dtype=np.float64)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


X32, GAMMA32, BETA32 = (a.astype(np.float32) for a in (X, GAMMA, BETA))


@pytest.mark.points(0.5)
@pytest.mark.checks("layernorm_forward")
def test_layernorm_forward_keeps_float32(impl):
    out, _ = expect_tuple(call(impl.layernorm_forward, X32, GAMMA32, BETA32), 2,
                          "layernorm_forward")
    try:
        _float32_close(GAMMA * _xhat(X) + BETA)(out)
    except AssertionError as e:
        raise AssertionError(f"layernorm_forward on float32 input: {e}") from None


@pytest.mark.points(0.5)
@pytest.mark.checks("layernorm_backward")
def test_layernorm_backward_keeps_float32(impl):
    _, cache = forward_for_backward(impl, "layernorm_forward", X32, GAMMA32, BETA32,
                                    expected=_float32_close(GAMMA * _xhat(X) + BETA),
                                    judged="layernorm_backward")
    dout = np.array([[1.0, -1.0, 0.5, 2.0], [-2.0, 0.0, 0.25, 1.0]], dtype=np.float32)
    grads = expect_tuple(call(impl.layernorm_backward, dout, cache), 3, "layernorm_backward")
    xhat = _xhat(X)
    d = X.shape[1]
    invstd = 1 / np.sqrt(X.var(axis=1, keepdims=True) + 1e-5)
    dxhat = dout.astype(np.float64) * GAMMA
    expected = (invstd / d * (d * dxhat - dxhat.sum(axis=1, keepdims=True)
                              - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)),
                (dout * xhat).sum(axis=0), dout.astype(np.float64).sum(axis=0))
    for what, g, ref in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert np.asarray(g).dtype == np.float32, (
            f"layernorm_backward: {what} must stay float32 for float32 input, got "
            f"{np.asarray(g).dtype}")
        assert_close(g, ref, f"layernorm_backward on float32 input: {what}", rtol=1e-4)
