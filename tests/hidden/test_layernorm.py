"""Hidden tests of exercises/layernorm.py."""

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


def _data(seed, n=6, d=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal((n, d)) * 2 + 1).astype(dtype),
            (rng.standard_normal(d) + 1).astype(dtype), rng.standard_normal(d).astype(dtype))


@pytest.mark.points(1)
@pytest.mark.checks("layernorm_forward")
def test_hidden_layernorm_forward_matches_reference(impl):
    x, gamma, beta = _data(101)
    out, _ = expect_tuple(call(impl.layernorm_forward, x, gamma, beta), 2, "layernorm_forward")
    assert_close(out, F.layernorm_forward(x, gamma, beta)[0], "layernorm_forward: out",
                 dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("layernorm_forward")
def test_hidden_layernorm_batch_of_one_and_constant_row(impl):
    x, gamma, beta = _data(102, n=3, d=4)
    x[1] = 7.0
    out, _ = call(impl.layernorm_forward, x[:1], gamma, beta)
    assert_close(out, F.layernorm_forward(x[:1], gamma, beta)[0], "layernorm_forward on a "
                 "batch of one (statistics over the features, axis 1)")
    out, _ = call(impl.layernorm_forward, x, gamma, beta)
    assert_close(out, F.layernorm_forward(x, gamma, beta)[0], "layernorm_forward with a "
                 "constant row")


@pytest.mark.points(2)
@pytest.mark.checks("layernorm_backward")
@pytest.mark.parametrize("shape", [(6, 5), (4, 4)], ids=["rectangular", "square"])
def test_hidden_layernorm_backward_gradcheck(impl, shape):
    x, gamma, beta = _data(103, *shape)
    dout = np.random.default_rng(104).standard_normal(x.shape)
    _, cache = forward_for_backward(impl, "layernorm_forward", x, gamma, beta,
                                    expected=F.layernorm_forward(x, gamma, beta)[0],
                                    judged="layernorm_backward")
    dx, dgamma, dbeta = expect_tuple(call(impl.layernorm_backward, dout, cache), 3,
                                     "layernorm_backward")
    fwd = F.layernorm_forward  # finite differences of the reference, never the student's
    assert_close(dx, numeric_grad(lambda v: fwd(v, gamma, beta)[0], x, dout),
                 "layernorm_backward: dx against finite differences", rtol=1e-6)
    assert_close(dgamma, numeric_grad(lambda v: fwd(x, v, beta)[0], gamma, dout),
                 "layernorm_backward: dgamma against finite differences (sum over the batch)",
                 rtol=1e-6)
    assert_close(dbeta, numeric_grad(lambda v: fwd(x, gamma, v)[0], beta, dout),
                 "layernorm_backward: dbeta against finite differences", rtol=1e-6)


@pytest.mark.points(0.5)
@pytest.mark.checks("layernorm_forward")
def test_hidden_layernorm_forward_keeps_float32(impl):
    x, gamma, beta = _data(105, dtype=np.float32)
    ref_out = F.layernorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))[0]
    out, _ = expect_tuple(call(impl.layernorm_forward, x, gamma, beta), 2, "layernorm_forward")
    assert np.asarray(out).dtype == np.float32, (
        f"layernorm_forward: float32 in must give float32 out, got {np.asarray(out).dtype}")
    assert_close(out, ref_out, "layernorm_forward on float32 input", rtol=1e-5)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


@pytest.mark.points(0.5)
@pytest.mark.checks("layernorm_backward")
def test_hidden_layernorm_keeps_float32(impl):
    x, gamma, beta = _data(105, dtype=np.float32)
    dout = np.random.default_rng(106).standard_normal(x.shape).astype(np.float32)
    ref_out, ref_cache = F.layernorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))
    expected = F.layernorm_backward(dout.astype(np.float64), ref_cache)
    _, cache = forward_for_backward(impl, "layernorm_forward", x, gamma, beta,
                                    expected=_float32_close(ref_out),
                                    judged="layernorm_backward")
    grads = expect_tuple(call(impl.layernorm_backward, dout, cache), 3, "layernorm_backward")
    for name, g, ref in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert np.asarray(g).dtype == np.float32, (
            f"layernorm_backward: {name} must stay float32, got {np.asarray(g).dtype}")
        assert_close(g, ref, f"layernorm_backward on float32 input: {name}", rtol=1e-4)
