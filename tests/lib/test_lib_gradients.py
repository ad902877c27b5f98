"""Gradient checks of every kernel and layer against centered differences (float64).

Each check uses a random upstream gradient (never all ones) and the relative error
||analytic - numerical|| / (||analytic|| + ||numerical||), which must stay below 1e-7.
"""

import numpy as np
import pytest

import nnlib
import nnlib.functional as F
from nnlib.gradcheck import numerical_gradient, relative_error

TOL = 1e-7


def away_from_zero(rng, shape, gap=0.1):
    """Normal samples pushed at least ``gap`` away from 0 (kinks of ReLU-like functions)."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * gap


def check(f, analytic, inputs, dout):
    """Compare each analytic gradient with the numerical gradient of sum(f() * dout)."""
    for name, arr in inputs.items():
        num = numerical_gradient(lambda _v: f(), arr, dout)
        err = relative_error(analytic[name], num)
        assert err < TOL, f"{name}: relative error {err:.2e}"
        assert np.linalg.norm(num) > 1e-6, f"{name}: vanishing gradient tests nothing"


def test_dense(rng):
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    out, cache = F.dense_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W.T + b, rtol=1e-14)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = F.dense_backward(dout, cache)
    check(lambda: F.dense_forward(x, W, b)[0], {"x": dx, "W": dW, "b": db},
          {"x": x, "W": W, "b": b}, dout)


@pytest.mark.parametrize(
    ("forward", "backward"),
    [
        (F.relu_forward, F.relu_backward),
        (lambda x: F.leaky_relu_forward(x, 0.1), F.leaky_relu_backward),
        (F.sigmoid_forward, F.sigmoid_backward),
        (F.tanh_forward, F.tanh_backward),
    ],
    ids=["relu", "leaky_relu", "sigmoid", "tanh"],
)
def test_activations(rng, forward, backward):
    x = away_from_zero(rng, (6, 5))
    out, cache = forward(x)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    check(lambda: forward(x)[0], {"x": dx}, {"x": x}, dout)


def test_activation_values(rng):
    x = rng.standard_normal((4, 3)) * 3
    np.testing.assert_array_equal(F.relu_forward(x)[0], np.maximum(x, 0))
    np.testing.assert_array_equal(F.leaky_relu_forward(x, 0.2)[0], np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(F.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_array_equal(F.tanh_forward(x)[0], np.tanh(x))
    # the subgradient of ReLU at 0 is 0
    assert F.relu_backward(np.ones((1, 1)), F.relu_forward(np.zeros((1, 1)))[1])[0, 0] == 0


def test_softmax_cross_entropy(rng):
    logits = rng.standard_normal((6, 4)) * 2
    y = rng.integers(0, 4, 6)
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])), rel=1e-14)
    check(lambda: F.softmax_cross_entropy(logits, y)[0], {"logits": dlogits},
          {"logits": logits}, None)


@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft_targets"])
def test_binary_cross_entropy(rng, soft):
    logits = rng.standard_normal((7, 1)) * 2
    y = rng.uniform(size=(7, 1)) if soft else rng.integers(0, 2, (7, 1)).astype(float)
    loss, dlogits = F.binary_cross_entropy_with_logits(logits, y)
    s = 1 / (1 + np.exp(-logits))
    assert loss == pytest.approx(-np.mean(y * np.log(s) + (1 - y) * np.log(1 - s)), rel=1e-13)
    check(lambda: F.binary_cross_entropy_with_logits(logits, y)[0], {"l": dlogits},
          {"l": logits}, None)


def test_mse(rng):
    pred, target = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    loss, dpred = F.mse_loss(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2), rel=1e-14)
    check(lambda: F.mse_loss(pred, target)[0], {"pred": dpred}, {"pred": pred}, None)


def bn_inputs(rng, n=8, d=5):
    x = rng.standard_normal((n, d)) * 3 + 1
    return x, rng.standard_normal(d) + 1, rng.standard_normal(d)


@pytest.mark.parametrize("backward", [F.batchnorm_backward, F.batchnorm_backward_fast],
                         ids=["staged", "fast"])
def test_batchnorm_train(rng, backward):
    x, gamma, beta = bn_inputs(rng)
    out, cache = F.batchnorm_forward(x, gamma, beta)
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = backward(dout, cache)
    check(lambda: F.batchnorm_forward(x, gamma, beta)[0],
          {"x": dx, "gamma": dgamma, "beta": dbeta}, {"x": x, "gamma": gamma, "beta": beta}, dout)


def test_batchnorm_staged_and_fast_agree(rng):
    x, gamma, beta = bn_inputs(rng, 32, 10)
    out, cache = F.batchnorm_forward(x, gamma, beta)
    dout = rng.standard_normal(out.shape)
    for a, b in zip(F.batchnorm_backward(dout, cache), F.batchnorm_backward_fast(dout, cache),
                    strict=True):
        assert relative_error(a, b) < 1e-12


def test_batchnorm_dx_sums_to_zero_per_feature(rng):
    x, gamma, beta = bn_inputs(rng, 16, 6)
    out, cache = F.batchnorm_forward(x, gamma, beta)
    dout = rng.standard_normal(out.shape)
    for backward in (F.batchnorm_backward, F.batchnorm_backward_fast):
        dx = backward(dout, cache)[0]
        assert np.abs(dx).max() > 0.1
        np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-13)


def test_all_ones_dout_makes_batchnorm_dx_vanish(rng):
    """Why gradient checks use a random dout: with all ones, BN's dx is exactly 0 in theory.

    sum(out) = sum(gamma * xhat + beta) does not depend on x, because each column of xhat
    always sums to 0. So even a backward pass that returns zeros would "pass" such a check.
    """
    x, gamma, beta = bn_inputs(rng)
    out, cache = F.batchnorm_forward(x, gamma, beta)
    ones = np.ones_like(out)
    dx = F.batchnorm_backward_fast(ones, cache)[0]
    assert np.abs(dx).max() < 1e-13
    num = numerical_gradient(lambda _v: F.batchnorm_forward(x, gamma, beta)[0], x, ones)
    assert np.abs(num).max() < 1e-6
    assert relative_error(np.zeros_like(dx), num) == pytest.approx(1.0)  # no information
    dx_random = F.batchnorm_backward_fast(rng.standard_normal(out.shape), cache)[0]
    assert np.abs(dx_random).max() > 0.1


def test_batchnorm_inference(rng):
    x, gamma, beta = bn_inputs(rng)
    rm, rv = rng.standard_normal(5), rng.uniform(0.5, 2, 5)
    out, cache = F.batchnorm_inference_forward(x, gamma, beta, rm, rv, 1e-5)
    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv + 1e-5) + beta, rtol=1e-14)
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = F.batchnorm_inference_backward(dout, cache)
    check(lambda: F.batchnorm_inference_forward(x, gamma, beta, rm, rv, 1e-5)[0],
          {"x": dx, "gamma": dgamma, "beta": dbeta}, {"x": x, "gamma": gamma, "beta": beta}, dout)


def test_layernorm(rng):
    x, gamma, beta = bn_inputs(rng, 6, 7)
    out, cache = F.layernorm_forward(x, gamma, beta)
    xhat = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, gamma * xhat + beta, rtol=1e-13)
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = F.layernorm_backward(dout, cache)
    check(lambda: F.layernorm_forward(x, gamma, beta)[0],
          {"x": dx, "gamma": dgamma, "beta": dbeta}, {"x": x, "gamma": gamma, "beta": beta}, dout)


def test_dropout_with_fixed_mask(rng):
    x = rng.standard_normal((10, 6))
    out, mask = F.dropout_forward(x, 0.4, np.random.default_rng(5))
    assert 0 < np.count_nonzero(mask) < mask.size
    np.testing.assert_array_equal(np.unique(mask), [0, 1 / 0.6])
    dout = rng.standard_normal(out.shape)
    dx = F.dropout_backward(dout, mask)
    # the same seed for every evaluation fixes the mask
    check(lambda: F.dropout_forward(x, 0.4, np.random.default_rng(5))[0], {"x": dx}, {"x": x},
          dout)


def layer_cases():
    r = np.random.default_rng(0)
    return {
        "dense": (nnlib.Dense(4, 3, rng=r), (6, 4)),
        "dense_no_bias": (nnlib.Dense(4, 3, rng=r, bias=False), (6, 4)),
        "relu": (nnlib.ReLU(), (6, 4)),
        "leaky_relu": (nnlib.LeakyReLU(0.05), (6, 4)),
        "sigmoid": (nnlib.Sigmoid(), (6, 4)),
        "tanh": (nnlib.Tanh(), (6, 4)),
        "batchnorm_fast": (nnlib.BatchNorm(4), (6, 4)),
        "batchnorm_staged": (nnlib.BatchNorm(4, backward_mode="staged"), (6, 4)),
        "batchnorm_eval": (nnlib.BatchNorm(4).eval(), (6, 4)),
        "layernorm": (nnlib.LayerNorm(5), (3, 5)),
        "dropout": (nnlib.Dropout(0.3, rng=np.random.default_rng(1)), (6, 4)),
    }


@pytest.mark.parametrize("name", list(layer_cases()))
def test_layer_gradcheck(name, rng):
    layer, shape = layer_cases()[name]
    if isinstance(layer, nnlib.BatchNorm):
        layer.params["gamma"][...] = rng.uniform(0.5, 2, shape[1])
        layer.params["beta"][...] = rng.standard_normal(shape[1])
        layer.buffers["running_mean"][...] = rng.standard_normal(shape[1])
        layer.buffers["running_var"][...] = rng.uniform(0.5, 2, shape[1])
    errors = nnlib.gradcheck(layer, away_from_zero(rng, shape), rng=rng)
    assert set(errors) == {"x", *(p.name for p in layer.parameters())}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_whole_sequential_with_batchnorm(rng, make_bn_mlp, mode):
    model = make_bn_mlp(rng, sizes=(5, 7, 6, 3), dropout=0.2)
    model.train(mode == "train")
    x = rng.standard_normal((9, 5))
    errors = nnlib.gradcheck(model, x, rng=rng)
    assert len(errors) == 1 + len(model.parameters())
    assert max(errors.values()) < TOL, errors


def test_whole_network_through_the_loss(rng):
    """The full chain model -> softmax cross-entropy, checked on the scalar loss."""
    model = nnlib.Sequential([nnlib.Dense(4, 6, rng=rng, bias=False), nnlib.BatchNorm(6),
                              nnlib.Tanh(),
                              nnlib.Dense(6, 6, rng=rng), nnlib.LayerNorm(6), nnlib.ReLU(),
                              nnlib.Dense(6, 3, rng=rng)])
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    bn = model[1]
    saved = {k: v.copy() for k, v in bn.buffers.items()}

    def loss():
        for k, v in saved.items():
            bn.buffers[k][...] = v
        return F.softmax_cross_entropy(model.forward(x), y)[0]

    _, dlogits = F.softmax_cross_entropy(model.forward(x), y)
    dx = model.backward(dlogits)
    analytic = {"x": dx, **{p.name: p.grad.copy() for p in model.parameters()}}
    inputs = {"x": x, **{p.name: p.value for p in model.parameters()}}
    check(loss, analytic, inputs, None)


def test_backward_without_input_gradient_gives_the_same_parameter_gradients(rng, make_bn_mlp):
    inner = make_bn_mlp(rng, sizes=(5, 6, 3))
    for model in (make_bn_mlp(rng, sizes=(5, 7, 6, 3)),
                  nnlib.Sequential([inner, nnlib.Tanh(), nnlib.Dense(3, 2, rng=rng)]),
                  nnlib.Sequential([nnlib.BatchNorm(5), nnlib.Dense(5, 2, rng=rng)])):
        x = rng.standard_normal((8, 5))
        dout = rng.standard_normal(model.forward(x).shape)
        model.backward(dout)
        full = [p.grad.copy() for p in model.parameters()]
        for p in model.parameters():
            p.grad[...] = np.nan
        assert model.backward(dout, input_grad=False) is None
        for p, g in zip(model.parameters(), full, strict=True):
            np.testing.assert_array_equal(p.grad, g)


@pytest.mark.parametrize("name", list(layer_cases()))
def test_every_layer_takes_input_grad_and_then_returns_none(name, rng):
    """backward(dout, input_grad=False): the same parameter gradients, and None."""
    layer, shape = layer_cases()[name]
    x = away_from_zero(rng, shape)
    dout = rng.standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout, input_grad=True)
    assert dx.shape == x.shape
    full = {k: g.copy() for k, g in layer.grads.items()}
    for g in layer.grads.values():
        g[...] = np.nan
    assert layer.backward(dout, input_grad=False) is None
    assert set(full) == set(layer.grads)
    for k, g in full.items():
        np.testing.assert_array_equal(layer.grads[k], g)


def test_a_layer_written_without_input_grad_still_works_in_a_sequential(rng):
    class Double(nnlib.Layer):
        def forward(self, x):
            return 2 * x

        def backward(self, dout):
            return 2 * dout

    model = nnlib.Sequential([Double(), nnlib.Dense(3, 2, rng=rng)])
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal(model.forward(x).shape)
    np.testing.assert_array_equal(model.backward(dout), 2 * (dout @ model[1].params["W"]))
    assert model.backward(dout, input_grad=False) is None
    assert Double().backward(dout, input_grad=False) is None
