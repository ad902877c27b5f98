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
                 "mse_loss: dpred = 2 (pred - target) / pred.size", dtype=np.float64)
    # two outputs per row: the mean is over all pred.size = 6 elements, not over the N rows
    pred2 = np.array([[1.0, 0.0], [2.0, 1.0], [4.0, -1.0]])
    target2 = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0]])
    loss, dpred = expect_tuple(call(impl.mse_loss, pred2, target2), 2, "mse_loss")
    assert abs(_loss_value(loss, "mse_loss") - 10 / 6) < 1e-12, (
        f"mse_loss on a (3, 2) pred: the mean over all 6 elements is 10/6, got {float(loss)}")
    assert_close(dpred, (pred2 - target2) / 3, "mse_loss on a (3, 2) pred: dpred = "
                 "2 (pred - target) / pred.size, with pred.size = 6", dtype=np.float64)


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


@pytest.mark.points(1)
@pytest.mark.checks("softmax_cross_entropy")
def test_softmax_cross_entropy_huge_logits(impl):
    # exp(1000) overflows: subtract each row's maximum first (softmax does not change)
    logits = np.array([[500.0, -500.0, 0.0], [0.0, 1000.0, 990.0]])
    y = np.array([0, 2])
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    expected = (0.0 + 10.0 + np.log1p(np.exp(-10.0))) / 2  # row 1: 1000 - 990 + log(1 + e^-10)
    value = _loss_value(loss, "softmax_cross_entropy")
    assert abs(value - expected) < 1e-10, (
        f"softmax_cross_entropy with logits of +-1000: the loss should be {expected:.6f}, got "
        f"{value} (subtract each row's maximum before exp)")
    p1 = 1 / (1 + np.exp(-10.0))
    onehot_d = np.array([[0.0, 0.0, 0.0], [0.0, p1 - 0.0, (1 - p1) - 1.0]]) / 2
    assert_close(dlogits, onehot_d, "softmax_cross_entropy: dlogits for logits of +-1000",
                 dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("softmax_cross_entropy")
def test_softmax_cross_entropy_confident_mistakes(impl):
    # the labelled class of row 0 has log-probability -800: its probability exp(-800)
    # underflows to 0 in float64, so log(p) would be -inf; row 1's labelled class has
    # log-probability -300 (probability about 5e-131, not 0). The loss is (800 + 300) / 2.
    logits = np.array([[0.0, 800.0], [300.0, 0.0]])
    y = np.array([0, 1])
    loss, _ = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                           "softmax_cross_entropy")
    value = _loss_value(loss, "softmax_cross_entropy")
    assert np.isfinite(value), (
        f"softmax_cross_entropy: the loss is {value} where it should be 550: a probability "
        "of exp(-800) underflows to 0 and log(0) is -inf; compute log p as "
        "shifted - log(sum(exp(shifted))) (log-sum-exp), never log(p)")
    assert abs(value - 550.0) < 1e-9, (
        f"softmax_cross_entropy on confident mistakes: the loss should be 550, got "
        f"{value:.6g}; a confident mistake must cost its full loss (do not clip the "
        "probabilities before the log: clipping to 1e-10 caps each row's loss at 23)")


@pytest.mark.points(0.5)
@pytest.mark.checks("softmax_cross_entropy")
def test_softmax_cross_entropy_keeps_float32(impl):
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    y = np.array([2, 0])
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    assert np.asarray(dlogits).dtype == np.float32, (
        f"softmax_cross_entropy: float32 logits must give float32 dlogits, got "
        f"{np.asarray(dlogits).dtype}")
    z = logits.astype(np.float64)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = -(np.log(p[0, 2]) + np.log(p[1, 0])) / 2
    value = _loss_value(loss, "softmax_cross_entropy")
    assert abs(value - expected) < 1e-5, (
        f"softmax_cross_entropy with float32 logits: loss should be {expected:.6f}, got "
        f"{value:.6f}")
    onehot = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert_close(dlogits, (p - onehot) / 2, "softmax_cross_entropy: dlogits for float32 logits",
                 rtol=1e-5)


@pytest.mark.points(1)
@pytest.mark.checks("binary_cross_entropy_with_logits")
def test_binary_cross_entropy_huge_logits(impl):
    # sigmoid(800) is 1.0 and sigmoid(-800) is 0.0 in float64: log(1 - p) and log(p) would
    # be log(0); max(s, 0) - s y + log(1 + exp(-|s|)) gives 800 for both wrong rows
    # first positive logits only (no overflow in a sigmoid; log(1 - p) would be log(0))
    value = _loss_value(expect_tuple(call(impl.binary_cross_entropy_with_logits,
                                          np.array([800.0, 800.0]), np.array([1.0, 0.0])),
                                     2, "binary_cross_entropy_with_logits")[0],
                        "binary_cross_entropy_with_logits")
    assert abs(value - 400.0) < 1e-9, (
        f"binary_cross_entropy_with_logits with logits of +800: the loss should be 400, got "
        f"{value} (never take log(0): use max(s, 0) - s y + log(1 + exp(-|s|)))")
    logits = np.array([800.0, -800.0, 800.0, -800.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss, dlogits = expect_tuple(call(impl.binary_cross_entropy_with_logits, logits, y), 2,
                                 "binary_cross_entropy_with_logits")
    value = _loss_value(loss, "binary_cross_entropy_with_logits")
    assert abs(value - 400.0) < 1e-9, (
        f"binary_cross_entropy_with_logits with logits of +-800: the loss should be 400, got "
        f"{value} (never take log(0): use max(s, 0) - s y + log(1 + exp(-|s|)))")
    assert_close(dlogits, np.array([0.0, 0.0, 1.0, -1.0]) / 4, "binary_cross_entropy_with_"
                 "logits: dlogits = (sigmoid(logits) - y) / N for logits of +-800",
                 dtype=np.float64)
