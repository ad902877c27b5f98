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
