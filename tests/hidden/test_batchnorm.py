"""Hidden tests of exercises/batchnorm.py."""

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

BACKWARDS = [pytest.param(n, marks=pytest.mark.checks(n))
             for n in ("batchnorm_backward", "batchnorm_backward_fast")]


def _data(seed, n=8, d=5, dtype=np.float64, scale=3.0, shift=2.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, d)) * scale + shift).astype(dtype)
    gamma = (rng.standard_normal(d) + 1.0).astype(dtype)
    beta = rng.standard_normal(d).astype(dtype)
    return x, gamma, beta


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_forward_matches_reference(impl):
    x, gamma, beta = _data(71)
    out, _ = expect_tuple(call(impl.batchnorm_forward, x, gamma, beta), 2, "batchnorm_forward")
    assert_close(out, F.batchnorm_forward(x, gamma, beta)[0], "batchnorm_forward: out "
                 "(statistics over the batch axis 0, biased variance, eps inside the sqrt)",
                 dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_forward_square_batch(impl):
    # N == D: normalizing over the wrong axis gives no shape error here
    x, gamma, beta = _data(72, n=4, d=4)
    out, _ = call(impl.batchnorm_forward, x, gamma, beta)
    assert_close(out, F.batchnorm_forward(x, gamma, beta)[0], "batchnorm_forward on a 4x4 "
                 "batch: each column (feature) is normalized over the rows (axis 0)")


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_forward_batch_of_two(impl):
    x, gamma, beta = _data(73, n=2, d=3)
    out, _ = call(impl.batchnorm_forward, x, gamma, beta, eps=1e-3)
    assert_close(out, F.batchnorm_forward(x, gamma, beta, eps=1e-3)[0],
                 "batchnorm_forward with N=2 and eps=1e-3 (biased variance: divide by N)")


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_forward_constant_feature(impl):
    x, gamma, beta = _data(74, n=6, d=3)
    x[:, 1] = 4.0  # a feature with zero variance
    out, _ = call(impl.batchnorm_forward, x, gamma, beta)
    assert_close(out, F.batchnorm_forward(x, gamma, beta)[0], "batchnorm_forward with a "
                 "constant feature (its variance is 0: eps keeps the division finite)")


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_forward_large_magnitudes(impl):
    x, gamma, beta = _data(75, scale=1e4, shift=1e5)
    out, _ = call(impl.batchnorm_forward, x, gamma, beta)
    assert_close(out, F.batchnorm_forward(x, gamma, beta)[0], "batchnorm_forward for inputs "
                 "around 1e5 (compute the variance as the mean of (x - mu)**2)", rtol=1e-6)


@pytest.mark.points(0.5)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_forward_variance_below_eps(impl):
    # one feature varies by about 1e-3 (variance 1e-6 < eps): sqrt(var + eps) = 3.3e-3
    # and sqrt(var) + eps = 1.0e-3 differ three times there
    x, gamma, beta = _data(84, n=10, d=4)
    x[:, 1] = 1e-3 * np.random.default_rng(85).standard_normal(10) + 0.5
    out, _ = expect_tuple(call(impl.batchnorm_forward, x, gamma, beta), 2, "batchnorm_forward")
    assert_close(out, F.batchnorm_forward(x, gamma, beta)[0], "batchnorm_forward with a "
                 "feature whose variance is below eps (eps goes inside the square root)",
                 dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_forward")
def test_hidden_batchnorm_keeps_float32(impl):
    x, gamma, beta = _data(76, dtype=np.float32)
    ref_out = F.batchnorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))[0]
    out, _ = expect_tuple(call(impl.batchnorm_forward, x, gamma, beta), 2,
                          "batchnorm_forward")
    assert np.asarray(out).dtype == np.float32, (
        f"batchnorm_forward: float32 in must give float32 out, got {np.asarray(out).dtype}")
    assert_close(out, ref_out, "batchnorm_forward on float32 input", rtol=1e-5)


def _float32_close(expected):
    """A check that a forward's ``out`` is float32 and close to ``expected``."""
    def check(out):
        assert np.asarray(out).dtype == np.float32, (
            f"float32 input must give float32 output, got {np.asarray(out).dtype}")
        assert_close(out, expected, "out", rtol=1e-5)
    return check


@pytest.mark.points(0.5)
@pytest.mark.parametrize("name", BACKWARDS)
def test_hidden_batchnorm_backward_keeps_float32(impl, name):
    x, gamma, beta = _data(76, dtype=np.float32)
    dout = np.random.default_rng(86).standard_normal(x.shape).astype(np.float32)
    ref_out, ref_cache = F.batchnorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))
    expected = F.batchnorm_backward(dout.astype(np.float64), ref_cache)
    _, cache = forward_for_backward(impl, "batchnorm_forward", x, gamma, beta,
                                    expected=_float32_close(ref_out), judged=name)
    grads = expect_tuple(call(getattr(impl, name), dout, cache), 3, name)
    for what, g, ref in zip(("dx", "dgamma", "dbeta"), grads, expected, strict=True):
        assert np.asarray(g).dtype == np.float32, (
            f"{name}: {what} must stay float32, got {np.asarray(g).dtype}")
        assert_close(g, ref, f"{name} on float32 input: {what}", rtol=1e-4)


@pytest.mark.points(3)
@pytest.mark.parametrize("name", BACKWARDS)
def test_hidden_batchnorm_backward_gradcheck(impl, name):
    x, gamma, beta = _data(77, n=6, d=4)
    dout = np.random.default_rng(78).standard_normal(x.shape)
    _, cache = forward_for_backward(impl, "batchnorm_forward", x, gamma, beta,
                                    expected=F.batchnorm_forward(x, gamma, beta)[0], judged=name)
    dx, dgamma, dbeta = expect_tuple(call(getattr(impl, name), dout, cache), 3, name)
    fwd = F.batchnorm_forward  # finite differences of the reference, never the student's
    assert_close(dx, numeric_grad(lambda v: fwd(v, gamma, beta)[0], x, dout),
                 f"{name}: dx against finite differences (every row affects mu and var: "
                 "include the terms through both)", rtol=1e-6)
    assert_close(dgamma, numeric_grad(lambda v: fwd(x, v, beta)[0], gamma, dout),
                 f"{name}: dgamma against finite differences", rtol=1e-6)
    assert_close(dbeta, numeric_grad(lambda v: fwd(x, gamma, v)[0], beta, dout),
                 f"{name}: dbeta against finite differences", rtol=1e-6)


@pytest.mark.points(1)
@pytest.mark.parametrize("name", BACKWARDS)
def test_hidden_batchnorm_backward_batch_of_two(impl, name):
    x, gamma, beta = _data(79, n=2, d=3)
    dout = np.random.default_rng(80).standard_normal(x.shape)
    _, cache = forward_for_backward(impl, "batchnorm_forward", x, gamma, beta,
                                    expected=F.batchnorm_forward(x, gamma, beta)[0], judged=name)
    dx, dgamma, dbeta = call(getattr(impl, name), dout, cache)
    ref = F.batchnorm_backward(dout, F.batchnorm_forward(x, gamma, beta)[1])
    for what, got, exp in zip(("dx", "dgamma", "dbeta"), (dx, dgamma, dbeta), ref, strict=True):
        assert_close(got, exp, f"{name} with N=2: {what}", rtol=1e-6)


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_inference")
def test_hidden_batchnorm_inference_matches_reference(impl):
    x, gamma, beta = _data(81)
    rng = np.random.default_rng(82)
    mean, var = rng.standard_normal(5), rng.random(5) + 0.5
    out = call(impl.batchnorm_inference, x, gamma, beta, mean, var)
    ref = F.batchnorm_inference_forward(x, gamma, beta, mean, var)[0]
    assert_close(out, ref, "batchnorm_inference: out uses the running statistics",
                 dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_inference")
def test_hidden_batchnorm_inference_zero_running_variance(impl):
    # a feature that never varied has running variance 0: sqrt(0 + eps) = 3.2e-3, while
    # sqrt(0) + eps = 1e-5 would scale it up 316 times
    x, gamma, beta = _data(86)
    mean = np.random.default_rng(87).standard_normal(5)
    var = np.array([0.0, 1.0, 0.5, 2.0, 1e-6])
    out = call(impl.batchnorm_inference, x, gamma, beta, mean, var)
    assert_close(out, F.batchnorm_inference_forward(x, gamma, beta, mean, var)[0],
                 "batchnorm_inference with a running variance of 0 (eps goes inside the "
                 "square root)", dtype=np.float64)


@pytest.mark.points(1)
@pytest.mark.checks("batchnorm_inference")
def test_hidden_batchnorm_inference_rows_are_independent(impl):
    x, gamma, beta = _data(83)
    mean, var = np.full(5, 0.5), np.full(5, 2.0)
    ref = F.batchnorm_inference_forward(x[3:4], gamma, beta, mean, var)[0]
    full = call(impl.batchnorm_inference, x, gamma, beta, mean, var)
    one = call(impl.batchnorm_inference, x[3:4], gamma, beta, mean, var)
    assert_close(one, ref, "batchnorm_inference on a batch of one (the running statistics "
                 "alone, not batch statistics)")
    assert_close(one, full[3:4], "batchnorm_inference on a batch of one: each row is "
                 "normalized with the running statistics alone, not with batch statistics")


@pytest.mark.points(1)
@pytest.mark.checks("running_stats_update")
def test_hidden_running_stats_update_momentum(impl):
    rng = np.random.default_rng(84)
    mean, var = rng.standard_normal(4), rng.random(4) + 0.5
    bm, bv = rng.standard_normal(4), rng.random(4) + 0.5
    ref_mean, ref_var = mean.copy(), var.copy()
    F.batchnorm_running_update(ref_mean, ref_var, bm.copy(), bv.copy(), 16, 0.3)
    new_mean, new_var = expect_tuple(call(impl.running_stats_update, mean, var, bm, bv, 16,
                                          momentum=0.3), 2, "running_stats_update")
    assert_close(new_mean, ref_mean, "running_stats_update with momentum=0.3: new mean = "
                 "0.7 * running_mean + 0.3 * batch_mean (momentum weighs the new batch)")
    assert_close(new_var, ref_var, "running_stats_update with momentum=0.3: new var")


@pytest.mark.points(1)
@pytest.mark.checks("running_stats_update")
def test_hidden_running_stats_update_unbiased_for_two(impl):
    mean, var = np.zeros(3), np.ones(3)
    bm, bv = np.array([1.0, 2.0, 3.0]), np.array([0.25, 1.0, 4.0])
    expected = 0.9 * var + 0.1 * bv * 2.0
    _, new_var = expect_tuple(call(impl.running_stats_update, mean, var, bm, bv, 2), 2,
                              "running_stats_update")
    assert_close(new_var, expected, "running_stats_update with n=2: the running variance "
                 "stores batch_var * n / (n - 1)")


@pytest.mark.points(1)
@pytest.mark.checks("running_stats_update")
def test_hidden_running_stats_converge(impl):
    # feeding the same batch statistics again and again must converge to them
    mean, var = np.zeros(2), np.ones(2)
    bm, bv = np.array([5.0, -1.0]), np.array([2.0, 0.5])
    limit_mean, limit_var = bm.copy(), bv * 10 / 9
    # (momentum 0.5: 40 updates leave 0.5**40, about 1e-12, of the start; each is a round trip)
    for _ in range(40):
        mean, var = expect_tuple(call(impl.running_stats_update, mean, var, bm, bv, 10, 0.5),
                                 2, "running_stats_update")
    assert_close(mean, limit_mean, "running_stats_update repeated 40 times with momentum 0.5: "
                 "the running mean must converge to the batch mean", rtol=1e-6)
    assert_close(var, limit_var, "running_stats_update repeated 40 times with momentum 0.5: "
                 "the running variance must converge to the unbiased batch variance",
                 rtol=1e-6)


@pytest.mark.points(1)
@pytest.mark.checks("running_stats_update")
def test_hidden_running_stats_shape_and_no_eps(impl):
    # one feature: the outputs have shape (1,), like the inputs (not a number, not (1, 1));
    # its batch variance is 0, so the running variance stays exactly 0: eps belongs to the
    # normalization (sqrt(var + eps)), never to the statistics stored
    mean, var = np.array([2.0]), np.array([0.0])
    bm, bv = np.array([2.0]), np.array([0.0])
    new = expect_tuple(call(impl.running_stats_update, mean, var, bm, bv, 8, 0.25), 2,
                       "running_stats_update")
    for what, got in zip(("new mean", "new var"), new, strict=True):
        assert np.shape(got) == (1,), (
            f"running_stats_update with one feature: the {what} must have shape (D,) = (1,) "
            f"like the running statistics, got {np.shape(got)}")
    assert_close(new[0], mean, "running_stats_update: the new mean when the batch mean "
                 "equals the running mean")
    assert abs(float(np.asarray(new[1])[0])) <= 1e-12, (
        f"running_stats_update: a feature with batch variance 0 and running variance 0 keeps "
        f"running variance 0, got {float(np.asarray(new[1])[0]):.3g}; do not add eps to the "
        "variance you store (eps is added only inside sqrt(var + eps) when normalizing)")
    # several features, one with a zero variance, momentum 0.5
    mean, var = np.array([0.0, 1.0, -3.0]), np.array([0.0, 2.0, 0.5])
    bm, bv = np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.5, 4.0])
    ref_mean, ref_var = mean.copy(), var.copy()
    F.batchnorm_running_update(ref_mean, ref_var, bm.copy(), bv.copy(), 5, 0.5)
    new_mean, new_var = expect_tuple(call(impl.running_stats_update, mean, var, bm, bv, 5, 0.5),
                                     2, "running_stats_update")
    assert_close(new_mean, ref_mean, "running_stats_update with three features: new mean",
                 dtype=np.float64)
    assert_close(new_var, ref_var, "running_stats_update with three features: new var "
                 "(no eps in it)", dtype=np.float64)
    assert abs(float(new_var[0])) <= 1e-12, (
        f"running_stats_update: a feature whose variances are all 0 keeps running variance "
        f"0, got {float(new_var[0]):.3g}; eps is not part of the stored statistics")
