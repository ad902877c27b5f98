"""SGD and Adam against hand-computed updates; argument checks."""

import math

import numpy as np
import pytest

import nnlib


def layer_with_grads(rng, dtype=np.float64):
    layer = nnlib.Dense(3, 2, rng=rng, dtype=dtype)
    return layer


def set_grads(layer, rng):
    grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in layer.params.items()}
    for k, g in grads.items():
        layer.grads[k][...] = g
    return grads


def test_sgd_plain_update(rng):
    layer = layer_with_grads(rng)
    w0 = {k: v.copy() for k, v in layer.params.items()}
    ids = {k: id(v) for k, v in layer.params.items()}
    g = set_grads(layer, rng)
    nnlib.SGD(layer.parameters(), lr=0.3).step()
    for k in w0:
        np.testing.assert_allclose(layer.params[k], w0[k] - 0.3 * g[k], rtol=1e-15)
        assert id(layer.params[k]) == ids[k]  # updated in place


def test_sgd_momentum_and_weight_decay_by_hand(rng):
    layer = layer_with_grads(rng)
    opt = nnlib.SGD(layer, lr=0.1, momentum=0.9, weight_decay=0.01)
    w = layer.params["W"].copy()
    v = np.zeros_like(w)
    for _ in range(4):
        g = set_grads(layer, rng)["W"]
        opt.step()
        v = 0.9 * v + (g + 0.01 * w)
        w = w - 0.1 * v
        np.testing.assert_allclose(layer.params["W"], w, rtol=1e-14)


def test_sgd_momentum_first_steps_explicitly():
    layer = nnlib.Dense.from_arrays(np.array([[1.0]]), np.array([0.0]))
    opt = nnlib.SGD(layer, lr=0.5, momentum=0.5)
    layer.grads["W"][...] = 2.0
    layer.grads["b"][...] = 0.0
    opt.step()  # v = 2, w = 1 - 1 = 0
    assert layer.params["W"][0, 0] == 0.0
    opt.step()  # v = 0.5 * 2 + 2 = 3, w = 0 - 1.5
    assert layer.params["W"][0, 0] == -1.5


def adam_reference(w, grads, lr, b1, b2, eps):
    """Algorithm 1 of Kingma & Ba, written out plainly."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("eps", [1e-8, 1e-2])
def test_adam_matches_reference(rng, eps):
    layer = layer_with_grads(rng)
    w0 = layer.params["W"].copy()
    opt = nnlib.Adam(layer, lr=0.01, betas=(0.8, 0.95), eps=eps)
    grads = []
    for expected_t in range(1, 6):
        grads.append(set_grads(layer, rng)["W"])
        opt.step()
        assert opt.t == expected_t
        ref = adam_reference(w0, grads, 0.01, 0.8, 0.95, eps)[-1]
        np.testing.assert_allclose(layer.params["W"], ref, rtol=1e-12, atol=1e-15)


def test_adam_first_step_moves_each_weight_by_about_lr(rng):
    layer = layer_with_grads(rng)
    w0 = layer.params["W"].copy()
    g = set_grads(layer, rng)["W"]
    nnlib.Adam(layer, lr=1e-3).step()
    np.testing.assert_allclose(layer.params["W"] - w0, -1e-3 * np.sign(g), rtol=1e-6)


@pytest.mark.parametrize("make", [lambda p: nnlib.SGD(p, lr=0.1),
                                  lambda p: nnlib.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: nnlib.Adam(p, lr=0.1)])
def test_optimizers_keep_float32(rng, make):
    layer = layer_with_grads(rng, np.float32)
    opt = make(layer)
    for _ in range(2):
        set_grads(layer, rng)
        opt.step()
    for p in layer.parameters():
        assert p.value.dtype == np.float32


def test_optimizer_argument_errors(rng):
    layer = layer_with_grads(rng)
    with pytest.raises(ValueError, match="no parameters"):
        nnlib.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="no parameters"):
        nnlib.Adam(nnlib.ReLU())
    for lr in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="lr must be positive"):
            nnlib.SGD(layer, lr=lr)
        with pytest.raises(ValueError, match="lr must be positive"):
            nnlib.Adam(layer, lr=lr)
    with pytest.raises(ValueError, match="momentum"):
        nnlib.SGD(layer, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        nnlib.Adam(layer, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="model.parameters()"):
        nnlib.SGD([layer.params["W"]], lr=0.1)


def test_optimizer_sees_gradient_arrays_replaced_by_a_layer(rng):
    """Parameter handles look the arrays up on every access."""
    layer = layer_with_grads(rng)
    opt = nnlib.SGD(layer, lr=1.0)
    w0 = layer.params["W"].copy()
    layer.grads["W"] = np.ones_like(w0)
    layer.grads["b"] = np.zeros(2)
    opt.step()
    np.testing.assert_array_equal(layer.params["W"], w0 - 1.0)


@pytest.mark.parametrize("make", [lambda p: nnlib.SGD(p, lr=0.1),
                                  lambda p: nnlib.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda p: nnlib.Adam(p, lr=0.1)])
def test_step_leaves_the_gradients_alone(rng, make):
    layer = layer_with_grads(rng)
    opt = make(layer)
    g = {k: v.copy() for k, v in set_grads(layer, rng).items()}
    opt.step()
    for k, v in layer.grads.items():
        np.testing.assert_array_equal(v, g[k])
