"""Hidden tests of exercises/losses.py."""

import numpy as np
import pytest

import nnlib.functional as F
from nnlib.grading.judge.testing import assert_close, call, expect_tuple, numeric_grad


def _loss_close(loss, expected, what, rtol=1e-9):
    assert np.ndim(loss) == 0, f"{what}: the loss must be a single number"
    loss = float(loss)
    assert np.isfinite(loss), f"{what}: the loss is {loss}"
    assert abs(loss - expected) <= rtol * max(1.0, abs(expected)), (
        f"{what}: loss should be {expected:.8g}, got {loss:.8g}")


def _logits(seed, n=6, c=4, scale=2.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)) * scale, rng.integers(0, c, size=n)


@pytest.mark.points(2)
@pytest.mark.checks("softmax_cross_entropy")
def test_hidden_softmax_cross_entropy_gradcheck(impl):
    logits, y = _logits(51)
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    _loss_close(loss, F.softmax_cross_entropy(logits, y)[0], "softmax_cross_entropy")
    num = numeric_grad(lambda v: F.softmax_cross_entropy(v, y)[0], logits, np.array(1.0))
    assert_close(dlogits, num, "softmax_cross_entropy: dlogits against finite differences of "
                 "the mean loss (remember the 1/N)")


@pytest.mark.points(2)
@pytest.mark.checks("softmax_cross_entropy")
def test_hidden_softmax_cross_entropy_huge_logits(impl):
    logits = np.array([[1000.0, 0.0, -1000.0], [-500.0, 800.0, 790.0]])
    y = np.array([0, 2])
    loss, dlogits = call(impl.softmax_cross_entropy, logits, y)
    ref_loss, ref_d = F.softmax_cross_entropy(logits, y)
    _loss_close(loss, ref_loss, "softmax_cross_entropy with logits of +-1000 (subtract each "
                "row's maximum before exp)")
    assert_close(dlogits, ref_d, "softmax_cross_entropy: dlogits for logits of +-1000")


@pytest.mark.points(1)
@pytest.mark.checks("softmax_cross_entropy")
def test_hidden_softmax_cross_entropy_underflowing_label(impl):
    # the labelled classes of rows 0 and 2 have log-probabilities -800 and -1000: their
    # probabilities exp(-800) and exp(-1000) underflow to 0 in float64, so log(p) is -inf,
    # while log-sum-exp gives the finite loss (800 + 1.74 + 1000) / 3, about 600.6
    logits = np.array([[0.0, 800.0, 5.0], [2.0, -1.0, 0.5], [-900.0, 0.0, 100.0]])
    y = np.array([0, 2, 0])
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    ref_loss, ref_d = F.softmax_cross_entropy(logits, y)
    _loss_close(loss, ref_loss, "softmax_cross_entropy when the labelled class's probability "
                "underflows to 0 (exp(-800)): compute log p as shifted - log(sum(exp(shifted))), "
                "never log(p)")
    assert_close(dlogits, ref_d, "softmax_cross_entropy: dlogits when a labelled class's "
                 "probability underflows")


@pytest.mark.points(1)
@pytest.mark.checks("softmax_cross_entropy")
def test_hidden_softmax_cross_entropy_confident_mistakes(impl):
    # confident mistakes: the labelled classes have log-probabilities -650 and -600, so the
    # loss is 625 (their probabilities, about 1e-283 and 1e-261, do not underflow);
    # probabilities clipped to 1e-10 before the log would give about 23
    logits = np.array([[0.0, 650.0, 1.0], [400.0, -200.0, 0.0]])
    y = np.array([0, 1])
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    ref_loss, ref_d = F.softmax_cross_entropy(logits, y)
    _loss_close(loss, ref_loss, "softmax_cross_entropy on confident mistakes (a loss in the "
                "hundreds: do not clip the probabilities before the log)")
    assert_close(dlogits, ref_d, "softmax_cross_entropy: dlogits on confident mistakes")


@pytest.mark.points(0.5)
@pytest.mark.checks("softmax_cross_entropy")
def test_hidden_softmax_cross_entropy_float32(impl):
    logits, y = _logits(52)
    logits = logits.astype(np.float32)
    ref_loss, ref_d = F.softmax_cross_entropy(logits.astype(np.float64), y)
    loss, dlogits = expect_tuple(call(impl.softmax_cross_entropy, logits, y), 2,
                                 "softmax_cross_entropy")
    assert np.asarray(dlogits).dtype == np.float32, (
        "softmax_cross_entropy: float32 logits must give float32 dlogits, got "
        f"{np.asarray(dlogits).dtype}")
    _loss_close(loss, ref_loss, "softmax_cross_entropy with float32 logits", rtol=1e-5)
    assert_close(dlogits, ref_d, "softmax_cross_entropy: dlogits for float32 logits",
                 rtol=1e-5)


@pytest.mark.points(1)
@pytest.mark.checks("binary_cross_entropy_with_logits")
def test_hidden_binary_cross_entropy_gradcheck(impl):
    rng = np.random.default_rng(53)
    logits = rng.standard_normal((7, 1)) * 3
    y = (rng.random((7, 1)) < 0.5).astype(np.float64)
    loss, dlogits = expect_tuple(call(impl.binary_cross_entropy_with_logits, logits, y), 2,
                                 "binary_cross_entropy_with_logits")
    _loss_close(loss, F.binary_cross_entropy_with_logits(logits, y)[0],
                "binary_cross_entropy_with_logits")
    num = numeric_grad(lambda v: F.binary_cross_entropy_with_logits(v, y)[0], logits,
                       np.array(1.0))
    assert_close(dlogits, num, "binary_cross_entropy_with_logits: dlogits against finite "
                 "differences (shape (N, 1))")


@pytest.mark.points(2)
@pytest.mark.checks("binary_cross_entropy_with_logits")
def test_hidden_binary_cross_entropy_huge_logits(impl):
    # first positive logits only: sigmoid(1000) is 1.0 with no overflow, so a naive
    # log(1 - p) meets log(0) here, while a naive sigmoid elsewhere overflows only below
    logits = np.array([1000.0, 1000.0, 40.0])
    y = np.array([1.0, 0.0, 1.0])
    loss, _ = call(impl.binary_cross_entropy_with_logits, logits, y)
    _loss_close(loss, F.binary_cross_entropy_with_logits(logits, y)[0],
                "binary_cross_entropy_with_logits with logits of +1000 (never take log(0); "
                "use max(s, 0) - s y + log(1 + exp(-|s|)))")
    logits = np.array([1000.0, -1000.0, 1000.0, -1000.0, 40.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss, dlogits = call(impl.binary_cross_entropy_with_logits, logits, y)
    ref_loss, ref_d = F.binary_cross_entropy_with_logits(logits, y)
    _loss_close(loss, ref_loss, "binary_cross_entropy_with_logits with logits of +-1000 "
                "(never take log(0); use max(s, 0) - s y + log(1 + exp(-|s|)))")
    assert_close(dlogits, ref_d, "binary_cross_entropy_with_logits: dlogits for logits of "
                 "+-1000")


@pytest.mark.points(1)
@pytest.mark.checks("mse_loss")
def test_hidden_mse_gradcheck(impl):
    rng = np.random.default_rng(54)
    pred, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    loss, dpred = expect_tuple(call(impl.mse_loss, pred, target), 2, "mse_loss")
    _loss_close(loss, F.mse_loss(pred, target)[0], "mse_loss (mean over all elements)")
    num = numeric_grad(lambda v: F.mse_loss(v, target)[0], pred, np.array(1.0))
    assert_close(dpred, num, "mse_loss: dpred against finite differences (2 (pred - target) "
                 "/ pred.size)")
