"""Public tests of exercises/losses.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple


def _loss_value(loss, name):
    assert np.ndim(loss) == 0, f"{name}: the loss must be a single number, got shape " \
        f"{np.shape(loss)}"
    return float(loss)


@pytest.mark.points(1)
@pytest.mark.checks("mse_loss")
def test_mse_loss_values(impl):
    pred = np.array([[1.0], [2.0], [4.0]])
    target = np.array([[0.0], [2.0], [2.0]])
    loss, dpred = expect_tuple(call(impl.mse_loss, pred, target), 2, "mse_loss")
    assert abs(_loss_value(loss, "mse_loss") - 5 / 3) < 1e-12, (
        f"mse_loss: mean((pred - target)**2) is 5/3 here, got {float(loss)}")
    assert_close(dpred, np.array([[2 / 3], [0.0], [4 / 3]]),
                 "mse_loss: dpred = 2 (pred - target) / N", dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("binary_cross_entropy_with_logits")
def test_binary_cross_entropy_values(impl):
    logits = np.array([0.0, 2.0, -1.0, 3.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss, dlogits = expect_tuple(call(impl.binary_cross_entropy_with_logits, logits, y), 2,
                                 "binary_cross_entropy_with_logits")
    p = 1 / (1 + np.exp(-logits))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    value = _loss_value(loss, "binary_cross_entropy_with_logits")
    assert abs(value - expected) < 1e-10, (
        f"binary_cross_entropy_with_logits: loss should be {expected:.6f}, got {value:.6f}")
    assert_close(dlogits, (p - y) / 4, "binary_cross_entropy_with_logits: dlogits = "
                 "(sigmoid(logits) - y) / N", dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("softmax_cross_entropy")
def test_softmax_cross_entropy_values(impl):
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    y = np.array([2, 0])
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -(np.log(p[0, 2]) + np.log(p[1, 0])) / 2
    value = _loss_value(loss, "softmax_cross_entropy")
    assert abs(value - expected) < 1e-10, (
        f"softmax_cross_entropy: loss should be {expected:.6f}, got {value:.6f}")
    onehot = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert_close(dlogits, (p - onehot) / 2, "softmax_cross_entropy: dlogits = "
                 "(softmax(logits) - onehot(y)) / N", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("softmax_cross_entropy")
def test_softmax_cross_entropy_uniform_logits(impl):
    # equal logits: every class has probability 1/C, so the loss is log(C)
    loss, _ = call(impl.softmax_cross_entropy, np.zeros((4, 10)), np.arange(4))
    value = _loss_value(loss, "softmax_cross_entropy")
    assert abs(value - np.log(10)) < 1e-10, (
        f"softmax_cross_entropy: with all logits equal over 10 classes the loss is "
        f"log(10) = {np.log(10):.6f}, got {value:.6f}")
