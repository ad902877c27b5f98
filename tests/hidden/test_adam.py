"""Hidden tests of exercises/adam.py."""

import numpy as np
import pytest

import nnlib
from nnlib.grading.judge.testing import assert_close, call, expect_tuple

pytestmark = pytest.mark.checks("adam_update")


@pytest.mark.points(2)
def test_hidden_adam_matches_reference_over_steps(impl):
    rng = np.random.default_rng(111)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(6)]
    layer = nnlib.Dense.from_arrays(w0.copy(), np.zeros(3))
    param = layer.parameters()[0]  # the weight matrix
    opt = nnlib.Adam([param], lr=0.01, betas=(0.85, 0.99), eps=1e-7)
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        param.grad[...] = g
        opt.step()
        w, m, v = expect_tuple(call(impl.adam_update, w, g, m, v, t, lr=0.01, beta1=0.85,
                                    beta2=0.99, eps=1e-7), 3, "adam_update")
    assert_close(w, param.value, "adam_update: w after 6 steps (t counts from 1; bias-correct "
                 "both moments)", rtol=1e-9)


@pytest.mark.points(1)
def test_hidden_adam_eps_outside_the_sqrt(impl):
    w, dw, zeros = np.zeros(2), np.array([1e-9, -1e-9]), np.zeros(2)
    w1, _, _ = call(impl.adam_update, w, dw, zeros, zeros, 1, lr=1.0)
    expected = -dw / (np.abs(dw) + 1e-8)
    assert_close(w1, expected, "adam_update with tiny gradients: w - lr * m_hat / "
                 "(sqrt(v_hat) + eps), eps added after the square root", rtol=1e-9)


@pytest.mark.points(0.5)
def test_hidden_adam_keeps_float32(impl):
    rng = np.random.default_rng(112)
    w = rng.standard_normal(5).astype(np.float32)
    dw = rng.standard_normal(5).astype(np.float32)
    m = rng.standard_normal(5).astype(np.float32) * 0.1
    v = rng.random(5).astype(np.float32) * 0.01
    # the same step in float64
    m_ref = 0.9 * m.astype(np.float64) + 0.1 * dw
    v_ref = 0.999 * v.astype(np.float64) + 0.001 * dw.astype(np.float64) ** 2
    w_ref = w - 1e-3 * (m_ref / (1 - 0.9**3)) / (np.sqrt(v_ref / (1 - 0.999**3)) + 1e-8)
    out = expect_tuple(call(impl.adam_update, w, dw, m, v, 3), 3, "adam_update")
    for name, a, ref in zip(("w_new", "m_new", "v_new"), out, (w_ref, m_ref, v_ref),
                            strict=True):
        assert np.asarray(a).dtype == np.float32, (
            f"adam_update: {name} must stay float32, got {np.asarray(a).dtype}")
        assert_close(a, ref, f"adam_update on float32 arrays: {name}", rtol=1e-5)
