"""Public tests of exercises/batchnorm.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

# four examples, two features
X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [6.0, 40.0]])
GAMMA = np.array([1.0, 2.0])
BETA = np.array([0.0, -1.0])


def _reference(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, xhat


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_batchnorm_forward_normalizes_each_feature(impl):
    out, _ = expect_tuple(call(impl.batchnorm_forward, X, np.ones(2), np.zeros(2)), 2,
                          "batchnorm_forward")
    assert np.shape(out) == X.shape, f"batchnorm_forward: out must have shape {X.shape}, " \
        f"got {np.shape(out)}"
    mean = np.mean(out, axis=0)
    assert np.allclose(mean, 0.0, atol=1e-7), (
        f"batchnorm_forward with gamma=1, beta=0: each column (feature) should have mean 0, "
        f"got {mean}")
    var = out.var(axis=0)
    assert np.allclose(var, 1.0, atol=1e-3), (
        f"batchnorm_forward with gamma=1, beta=0: each column should have variance 1 "
        f"(normalize over the batch axis 0, with the biased variance), got {var}")


@pytest.mark.points(2)
@pytest.mark.checks("batchnorm_forward")
def test_batchnorm_forward_values(impl):
    out, _ = call(impl.batchnorm_forward, X, GAMMA, BETA)
    assert_close(out, _reference(X, GAMMA, BETA)[0], "batchnorm_forward: out",
                 dtype=np.float64)
    # a batch of two with the eps it is given (small values, so that eps counts)
    x2 = np.array([[0.01, 1.0, 3.0], [0.03, -1.0, 5.0]])
    g2, b2 = np.array([1.0, 0.5, 2.0]), np.array([0.0, 1.0, -1.0])
    out, _ = call(impl.batchnorm_forward, x2, g2, b2, eps=1e-3)
    assert_close(out, _reference(x2, g2, b2, eps=1e-3)[0], "batchnorm_forward with N=2 and "
                 "eps=1e-3 (use the eps argument; biased variance: divide by N)",
                 dtype=np.float64)
    # a constant feature: its variance is 0, and eps keeps the division finite
    x3 = X.copy()
    x3[:, 1] = 4.0
    out, _ = call(impl.batchnorm_forward, x3, GAMMA, BETA)
    assert_close(out, _reference(x3, GAMMA, BETA)[0], "batchnorm_forward with a constant "
                 "feature (variance 0: eps keeps the division finite)", dtype=np.float64)


def _check_backward(impl, fn_name):
    # the four-row batch, then a batch of two (where every term of dx counts)
    for x, dout, what in ((X, np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 0.0], [0.25, 1.0]]),
                           ""),
                          (X[:2], np.array([[1.0, -0.5], [0.25, 2.0]]), " with N=2")):
        _, cache = forward_for_backward(impl, "batchnorm_forward", x, GAMMA, BETA,
                                        expected=_reference(x, GAMMA, BETA)[0],
                                        judged=fn_name)
        grads = expect_tuple(call(getattr(impl, fn_name), dout, cache), 3, fn_name)
        _, xhat = _reference(x, GAMMA, BETA)
        m = x.shape[0]
        invstd = 1 / np.sqrt(x.var(axis=0) + 1e-5)
        dx = GAMMA * invstd / m * (m * dout - dout.sum(axis=0)
                                   - xhat * (dout * xhat).sum(axis=0))
        assert_close(grads[0], dx, f"{fn_name}{what}: dx", dtype=np.float64)
        assert_close(grads[1], (dout * xhat).sum(axis=0), f"{fn_name}{what}: dgamma = "
                     "sum(dout * xhat)", dtype=np.float64)
        assert_close(grads[2], dout.sum(axis=0), f"{fn_name}{what}: dbeta = sum(dout)",
                     dtype=np.float64)


@pytest.mark.points(3)
@pytest.mark.checks("batchnorm_backward")
def test_batchnorm_backward_values(impl):
    _check_backward(impl, "batchnorm_backward")


@pytest.mark.points(2)
@pytest.mark.checks("batchnorm_backward_fast")
def test_batchnorm_backward_fast_values(impl):
    _check_backward(impl, "batchnorm_backward_fast")


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_inference")
def test_batchnorm_inference_values(impl):
    mean, var = np.array([2.0, 20.0]), np.array([4.0, 100.0])
    out = call(impl.batchnorm_inference, X, GAMMA, BETA, mean, var)
    expected = GAMMA * (X - mean) / np.sqrt(var + 1e-5) + BETA
    assert_close(out, expected, "batchnorm_inference: gamma * (x - running_mean) / "
                 "sqrt(running_var + eps) + beta", dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("running_stats_update")
def test_running_stats_update_values(impl):
    mean, var = np.zeros(2), np.ones(2)
    batch_mean, batch_var = np.array([3.0, 25.0]), np.array([3.5, 125.0])
    new = expect_tuple(call(impl.running_stats_update, mean, var, batch_mean, batch_var, 4,
                            0.1), 2, "running_stats_update")
    assert_close(new[0], 0.9 * mean + 0.1 * batch_mean, "running_stats_update: new mean "
                 "(momentum is the weight of the new batch)", dtype=np.float64)
    assert_close(new[1], 0.9 * var + 0.1 * batch_var * 4 / 3, "running_stats_update: new var "
                 "(stores the unbiased batch variance, batch_var * n / (n - 1))",
                 dtype=np.float64)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


X32, GAMMA32, BETA32 = (a.astype(np.float32) for a in (X, GAMMA, BETA))


@pytest.mark.points(0.5)
@pytest.mark.checks("batchnorm_forward")
def test_batchnorm_forward_keeps_float32(impl):
    out, _ = expect_tuple(call(impl.batchnorm_forward, X32, GAMMA32, BETA32), 2,
                          "batchnorm_forward")
    try:
        _float32_close(_reference(X, GAMMA, BETA)[0])(out)
    except AssertionError as e:
        raise AssertionError(f"batchnorm_forward on float32 input: {e}") from None


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.checks(n)) for n in
                                  ("batchnorm_backward", "batchnorm_backward_fast")])
def test_batchnorm_backward_keeps_float32(impl, name):
    _, cache = forward_for_backward(impl, "batchnorm_forward", X32, GAMMA32, BETA32,
                                    expected=_float32_close(_reference(X, GAMMA, BETA)[0]),
                                    judged=name)
    dout = np.array([[1.0, -1.0], [0.5, 2.0], [-2.0, 0.0], [0.25, 1.0]], dtype=np.float32)
    grads = expect_tuple(call(getattr(impl, name), dout, cache), 3, name)
    _, xhat = _reference(X, GAMMA, BETA)
    m = X.shape[0]
    invstd = 1 / np.sqrt(X.var(axis=0) + 1e-5)
    d64 = dout.astype(np.float64)
    expected = (GAMMA * invstd / m * (m * d64 - d64.sum(axis=0) - xhat * (d64 * xhat).sum(axis=0)),
                (d64 * xhat).sum(axis=0), d64.sum(axis=0))
    for what, g, ref in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert np.asarray(g).dtype == np.float32, (
            f"{name}: {what} must stay float32 for float32 input, got {np.asarray(g).dtype}")
        assert_close(g, ref, f"{name} on float32 input: {what}", rtol=1e-4)


@pytest.mark.points(1)
@pytest.mark.checks("running_stats_update")
def test_running_stats_update_shape_and_no_eps(impl):
    # one feature whose variances are 0: the new running variance is exactly 0 (eps is
    # added only inside sqrt(var + eps) when normalizing, never stored), and both outputs
    # have the shape (D,) = (1,) of the running statistics
    mean, var = np.array([1.0]), np.array([0.0])
    new = expect_tuple(call(impl.running_stats_update, mean, var, np.array([3.0]),
                            np.array([0.0]), 4, 0.5), 2, "running_stats_update")
    for what, got in zip(("new mean", "new var"), new, strict=True):
        assert np.shape(got) == (1,), (
            f"running_stats_update with one feature: the {what} must have shape (D,) = (1,), "
            f"like the running statistics, got {np.shape(got)}")
    assert_close(new[0], np.array([2.0]), "running_stats_update: new mean = 0.5 * 1 + 0.5 * 3",
                 dtype=np.float64)
    got = float(np.asarray(new[1])[0])
    assert abs(got) <= 1e-12, (
        f"running_stats_update: with running and batch variance 0 the new running variance "
        f"is 0, got {got:.3g}; do not add eps to the variance you store")
