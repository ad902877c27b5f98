"""BatchNorm semantics: train vs eval, running statistics, edge cases, float32 accuracy."""

import numpy as np
import pytest

import nnlib
import nnlib.functional as F


def test_training_mode_normalizes_with_the_batch(rng):
    bn = nnlib.BatchNorm(4)
    bn.params["gamma"][...] = [1.0, 2.0, 0.5, 3.0]
    bn.params["beta"][...] = [0.0, -1.0, 4.0, 0.5]
    x = rng.standard_normal((50, 4)) * [1, 10, 0.1, 5] + [3, -2, 100, 0]
    out = bn.forward(x)
    np.testing.assert_allclose(out.mean(axis=0), bn.params["beta"], atol=1e-12)
    # biased variance: the per-feature std of the output is gamma * sqrt(var / (var + eps))
    var = x.var(axis=0)
    np.testing.assert_allclose(out.std(axis=0), bn.params["gamma"] * np.sqrt(var / (var + 1e-5)),
                               rtol=1e-12)


def test_eval_mode_uses_running_statistics_and_rows_do_not_interact(rng):
    bn = nnlib.BatchNorm(3, eps=1e-3)
    bn.buffers["running_mean"][...] = [1.0, 2.0, 3.0]
    bn.buffers["running_var"][...] = [4.0, 0.25, 1.0]
    bn.eval()
    x = rng.standard_normal((6, 3))
    out = bn.forward(x)
    np.testing.assert_allclose(out, (x - [1, 2, 3]) / np.sqrt(np.array([4, 0.25, 1]) + 1e-3),
                               rtol=1e-14)
    np.testing.assert_array_equal(bn.forward(x[2:3]), out[2:3])  # batch of one, same row
    np.testing.assert_array_equal(bn.running_mean, [1, 2, 3])  # eval never updates them
    bn.train()
    assert not np.allclose(bn.forward(x), out)


def test_running_statistics_by_hand(rng):
    """Start at 0 and 1; momentum is the new batch's weight; the unbiased variance is stored."""
    bn = nnlib.BatchNorm(2, momentum=0.1)
    np.testing.assert_array_equal(bn.running_mean, [0, 0])
    np.testing.assert_array_equal(bn.running_var, [1, 1])
    batches = [np.array([[1.0, 10.0], [3.0, 14.0]]),  # mean (2, 12), unbiased var (2, 8)
               np.array([[0.0, 0.0], [0.0, 3.0], [6.0, 6.0]]),  # mean (2, 3), var (12, 9)
               np.array([[4.0, -1.0], [4.0, 1.0], [4.0, -1.0], [4.0, 1.0]])]  # (4, 0), (0, 4/3)
    rm = np.array([0.0, 0.0])
    rv = np.array([1.0, 1.0])
    expected = [((0.2, 1.2), (1.1, 1.7)),
                ((0.38, 1.38), (0.9 * 1.1 + 1.2, 0.9 * 1.7 + 0.9)),
                ((0.742, 1.242), (0.9 * 2.19, 0.9 * 2.43 + 0.4 / 3))]
    for x, (mean_hand, var_hand) in zip(batches, expected, strict=True):
        bn.forward(x)
        rm = 0.9 * rm + 0.1 * x.mean(axis=0)
        rv = 0.9 * rv + 0.1 * x.var(axis=0, ddof=1)
        np.testing.assert_allclose(bn.running_mean, mean_hand, rtol=1e-14)
        np.testing.assert_allclose(bn.running_var, var_hand, rtol=1e-14)
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-14)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-14)


def test_running_update_kernel_in_place_and_keras_mapping():
    rm, rv = np.zeros(2), np.ones(2)
    ids = (id(rm), id(rv))
    F.batchnorm_running_update(rm, rv, np.array([1.0, 2.0]), np.array([3.0, 6.0]), n=4,
                               momentum=0.25)
    assert (id(rm), id(rv)) == ids
    np.testing.assert_allclose(rm, [0.25, 0.5])
    np.testing.assert_allclose(rv, [0.75 + 0.25 * 4, 0.75 + 0.25 * 8])
    # Keras: moving = momentum_keras * moving + (1 - momentum_keras) * batch, with 0.99
    keras_momentum = 0.99
    km = np.zeros(2)
    km = keras_momentum * km + (1 - keras_momentum) * np.array([1.0, 2.0])
    rm = np.zeros(2)
    F.batchnorm_running_update(rm, np.ones(2), np.array([1.0, 2.0]), np.ones(2), n=2,
                               momentum=1 - keras_momentum)
    np.testing.assert_allclose(rm, km, rtol=1e-14)
    with pytest.raises(ValueError, match="n > 1"):
        F.batchnorm_running_update(rm, rv, rm, rv, n=1)


def test_eval_after_many_batches_estimates_the_population(rng):
    bn = nnlib.BatchNorm(3, momentum=0.05)
    mean, std = np.array([5.0, -3.0, 0.0]), np.array([2.0, 0.5, 10.0])
    for _ in range(400):
        bn.forward(rng.standard_normal((16, 3)) * std + mean)
    assert np.all(np.abs(bn.running_mean - mean) < 0.2 * std)
    np.testing.assert_allclose(bn.running_var, std**2, rtol=0.2)


def test_batch_of_two(rng):
    bn = nnlib.BatchNorm(3)
    x = rng.standard_normal((2, 3))
    out = bn.forward(x)
    # xhat is +-sqrt(var / (var + eps)), just below 1 in magnitude
    np.testing.assert_allclose(np.abs(out), 1.0, atol=1e-4)
    np.testing.assert_array_equal(np.sign(out[0]), np.sign(x[0] - x[1]))
    bn2 = nnlib.BatchNorm(3)
    errors = nnlib.gradcheck(bn2, x, rng=rng)
    assert max(errors.values()) < 1e-7, errors
    bn2.forward(x)
    dx = bn2.backward(rng.standard_normal((2, 3)))
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12)


def test_constant_feature(rng):
    bn = nnlib.BatchNorm(3)
    bn.params["beta"][...] = [0.5, -2.0, 1.0]
    bn.params["gamma"][...] = [3.0, 3.0, 3.0]
    x = rng.standard_normal((8, 3))
    x[:, 1] = 7.25
    out = bn.forward(x)
    assert np.all(out[:, 1] == -2.0)  # exactly beta
    dx = bn.backward(rng.standard_normal((8, 3)))
    for g in (dx, bn.grads["gamma"], bn.grads["beta"]):
        assert np.all(np.isfinite(g))
    np.testing.assert_allclose(dx[:, 1].sum(), 0, atol=1e-9)
    staged = nnlib.BatchNorm(3, backward_mode="staged")
    staged.params["gamma"][...] = 3.0
    staged.forward(x)
    assert np.all(np.isfinite(staged.backward(rng.standard_normal((8, 3)))))


def test_train_refuses_a_batch_of_one_and_eval_accepts_it(rng):
    bn = nnlib.BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm\(3\).*more than one example.*\(1, 3\).*eval"):
        bn.forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"batchnorm_forward.*more than one example"):
        F.batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3))
    bn.eval()
    out = bn.forward(np.full((1, 3), 2.0))
    np.testing.assert_allclose(out, 2.0 / np.sqrt(1 + 1e-5))


def test_float32_large_mean_small_spread_keeps_its_variance():
    rng = np.random.default_rng(0)
    x64 = 1e4 + 1e-2 * rng.standard_normal((256, 4))
    x = x64.astype(np.float32)
    true_var = x.astype(np.float64).var(axis=0)
    _, cache = F.batchnorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32))
    var = cache[3]
    assert var.dtype == np.float32
    np.testing.assert_allclose(var, true_var, rtol=1e-2)
    # the one-pass formula E[x^2] - E[x]^2 loses it completely in float32
    naive = (x * x).mean(axis=0) - x.mean(axis=0) ** 2
    assert np.max(np.abs(naive - true_var) / true_var) > 1.0


def test_no_gradient_flows_into_running_statistics(rng):
    bn = nnlib.BatchNorm(3)
    bn.forward(rng.standard_normal((5, 3)))
    before = {k: v.copy() for k, v in bn.buffers.items()}
    bn.backward(rng.standard_normal((5, 3)))
    for k, v in bn.buffers.items():
        np.testing.assert_array_equal(v, before[k])
    assert {p.name for p in bn.parameters()} == {"gamma", "beta"}


def test_backward_uses_the_mode_of_the_last_forward(rng):
    bn = nnlib.BatchNorm(3)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    bn.eval()
    bn.forward(x)
    bn.train()  # switching modes between forward and backward must not mix caches
    dx = bn.backward(dout)
    np.testing.assert_allclose(dx, dout / np.sqrt(1 + 1e-5), rtol=1e-14)


def test_constructor_checks():
    with pytest.raises(ValueError, match="num_features"):
        nnlib.BatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        nnlib.BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        nnlib.BatchNorm(3, eps=0)
    with pytest.raises(ValueError, match="backward_mode"):
        nnlib.BatchNorm(3, backward_mode="slow")
    with pytest.raises(TypeError, match="float32 or float64"):
        nnlib.BatchNorm(3, dtype=np.int32)
