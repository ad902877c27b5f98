"""Public tests of exercises/adam.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple

pytestmark = pytest.mark.checks("adam_update")


@pytest.mark.points(2)
def test_adam_first_step(impl):
    # after one step from m = v = 0 the bias-corrected step is lr * sign(dw) (up to eps)
    w = np.array([1.0, -2.0, 3.0])
    dw = np.array([0.5, -4.0, 1e-3])
    zeros = np.zeros(3)
    w1, m1, v1 = expect_tuple(call(impl.adam_update, w, dw, zeros, zeros, 1, lr=0.1), 3,
                              "adam_update")
    assert_close(m1, 0.1 * dw, "adam_update: m after one step = (1 - beta1) * dw",
                 dtype=np.float64)
    assert_close(v1, 0.001 * dw**2, "adam_update: v after one step = (1 - beta2) * dw**2",
                 dtype=np.float64)
    assert_close(w1, w - 0.1 * dw / (np.abs(dw) + 1e-8), "adam_update: w after the first "
                 "step moves by lr * sign(dw) (bias correction with t = 1)", rtol=1e-6)


@pytest.mark.points(2)
def test_adam_second_step(impl):
    w = np.array([[1.0, 2.0]])
    m = np.array([[0.1, -0.2]])
    v = np.array([[0.01, 0.03]])
    dw = np.array([[0.3, 0.1]])
    w2, m2, v2 = call(impl.adam_update, w, dw, m, v, 2, lr=0.01, beta1=0.8, beta2=0.99,
                      eps=1e-6)
    m_ref = 0.8 * m + 0.2 * dw
    v_ref = 0.99 * v + 0.01 * dw**2
    w_ref = w - 0.01 * (m_ref / (1 - 0.8**2)) / (np.sqrt(v_ref / (1 - 0.99**2)) + 1e-6)
    assert_close(m2, m_ref, "adam_update: m = beta1 * m + (1 - beta1) * dw")
    assert_close(v2, v_ref, "adam_update: v = beta2 * v + (1 - beta2) * dw**2")
    assert_close(w2, w_ref, "adam_update: w with the bias-corrected moments at t = 2")


@pytest.mark.points(0.5)
def test_adam_keeps_float32(impl):
    w = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    dw = np.array([0.5, -4.0, 0.25], dtype=np.float32)
    m = np.array([0.1, 0.0, -0.2], dtype=np.float32)
    v = np.array([0.01, 0.5, 0.02], dtype=np.float32)
    out = expect_tuple(call(impl.adam_update, w, dw, m, v, 2, lr=0.1), 3, "adam_update")
    m64, v64, dw64 = m.astype(np.float64), v.astype(np.float64), dw.astype(np.float64)
    m_ref = 0.9 * m64 + 0.1 * dw64
    v_ref = 0.999 * v64 + 0.001 * dw64**2
    w_ref = w - 0.1 * (m_ref / (1 - 0.9**2)) / (np.sqrt(v_ref / (1 - 0.999**2)) + 1e-8)
    for name, a, ref in zip(("w_new", "m_new", "v_new"), out, (w_ref, m_ref, v_ref),
                            strict=True):
        assert np.asarray(a).dtype == np.float32, (
            f"adam_update: {name} must stay float32 for float32 arrays, got "
            f"{np.asarray(a).dtype}")
        assert_close(a, ref, f"adam_update on float32 arrays: {name}", rtol=1e-5)
