"""Numerical stability, dtype preservation, and no mutation or surprising aliasing."""

import warnings

import numpy as np
import pytest

import nnlib
import nnlib.functional as F

# --------------------------------------------------------------------------- stability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(dtype):
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = F.sigmoid(x)
        out, cache = F.sigmoid_forward(x)
        dx = F.sigmoid_backward(np.ones_like(x), cache)
    assert s.dtype == dtype
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    np.testing.assert_array_equal(out, s)
    assert dx[0] == 0.0 and dx[-1] == 0.0 and dx[2] == 0.25
    assert np.all(np.isfinite(dx))


def test_sigmoid_keeps_relative_precision_for_tiny_outputs():
    x = np.array([-30.0, -100.0, -700.0])
    expected = np.exp(x) / (1 + np.exp(x))
    np.testing.assert_allclose(F.sigmoid(x), expected, rtol=1e-15)
    assert F.sigmoid(np.array([3], dtype=np.int64)).dtype == np.float64


def test_softmax_cross_entropy_with_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = F.softmax_cross_entropy(logits, np.array([0, 0]))
        p = F.softmax(logits)
        logp = F.log_softmax(logits)
    # example 0 is certain and right (loss 0); example 1 puts probability 1/2 on each of
    # two wrong classes: loss 1e4 + log 2 for it
    assert loss == pytest.approx((0 + 1e4 + np.log(2)) / 2, rel=1e-15)
    np.testing.assert_allclose(d, [[0, 0, 0], [-0.5, 0.25, 0.25]], atol=1e-15)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    assert np.all(np.isfinite(logp[0, :2])) and logp[0, 2] == -2e4
    for dtype in (np.float32, np.float64):
        loss, d = F.softmax_cross_entropy(logits.astype(dtype), np.array([0, 1]))
        assert np.isfinite(loss) and np.all(np.isfinite(d)) and d.dtype == dtype


def test_binary_cross_entropy_never_takes_log_of_zero():
    logits = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, d = F.binary_cross_entropy_with_logits(logits, y)
    assert loss == pytest.approx((0 + 0 + 1000 + 1000 + np.log(2)) / 5, rel=1e-15)
    np.testing.assert_allclose(d, np.array([0, 0, 1, -1, -0.5]) / 5, atol=1e-16)
    loss32, _ = F.binary_cross_entropy_with_logits(logits.astype(np.float32),
                                                   y.astype(np.float32))
    assert loss32 == pytest.approx(loss, rel=1e-6)


def test_tanh_and_batchnorm_extremes_are_finite():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, cache = F.tanh_forward(np.array([[-1e5, 1e5]]))
        assert np.all(F.tanh_backward(np.ones((1, 2)), cache) == 0)
        x = np.array([[1e8, 0.0], [1e8 + 1, 0.0]])
        out, _ = F.batchnorm_forward(x, np.ones(2), np.zeros(2))
    assert np.all(np.isfinite(out))


# --------------------------------------------------------------------------- dtypes

def kernel_runs(x, dtype, rng):
    """(name, arrays produced) for every kernel applied to ``x`` of ``dtype``."""
    n, d = x.shape
    W, b = rng.standard_normal((3, d)).astype(dtype), np.zeros(3, dtype)
    g, be = np.ones(d, dtype), np.zeros(d, dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    res = {}
    z, c = F.dense_forward(x, W, b)
    res["dense"] = (z, *F.dense_backward(rng.standard_normal(z.shape).astype(dtype), c))
    for name, (fwd, bwd) in {"relu": (F.relu_forward, F.relu_backward),
                             "leaky": (F.leaky_relu_forward, F.leaky_relu_backward),
                             "sigmoid": (F.sigmoid_forward, F.sigmoid_backward),
                             "tanh": (F.tanh_forward, F.tanh_backward)}.items():
        o, c = fwd(x)
        res[name] = (o, bwd(dout, c))
    o, c = F.batchnorm_forward(x, g, be)
    res["bn"] = (o, *F.batchnorm_backward(dout, c), *F.batchnorm_backward_fast(dout, c), *c[1:5])
    o, c = F.batchnorm_inference_forward(x, g, be, np.zeros(d, dtype), np.ones(d, dtype))
    res["bn_eval"] = (o, *F.batchnorm_inference_backward(dout, c))
    o, c = F.layernorm_forward(x, g, be)
    res["ln"] = (o, *F.layernorm_backward(dout, c))
    o, c = F.dropout_forward(x, 0.5, rng)
    res["dropout"] = (o, c, F.dropout_backward(dout, c))
    res["softmax"] = (F.softmax(x), F.log_softmax(x),
                      F.softmax_cross_entropy(x, rng.integers(0, d, n))[1])
    res["bce"] = (F.binary_cross_entropy_with_logits(x, (x > 0).astype(np.float64))[1],)
    res["mse"] = (F.mse_loss(x, np.zeros(x.shape))[1],)
    return res


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_keep_the_dtype(rng, dtype):
    x = rng.standard_normal((6, 4)).astype(dtype)
    for name, arrays in kernel_runs(x, dtype, rng).items():
        for a in arrays:
            assert a.dtype == dtype, f"{name}: {a.dtype}"


@pytest.mark.parametrize("opt", ["sgd", "sgd_momentum", "adam"])
def test_float32_through_layers_and_optimizers(rng, make_bn_mlp, opt):
    model = make_bn_mlp(rng, dtype=np.float32, sizes=(5, 8, 8, 3), dropout=0.1)
    model.layers.insert(3, nnlib.LayerNorm(8, dtype=np.float32))
    model.layers.insert(4, nnlib.Tanh())
    optimizer = {"sgd": lambda: nnlib.SGD(model, lr=0.1),
                 "sgd_momentum": lambda: nnlib.SGD(model, lr=0.1, momentum=0.9,
                                                   weight_decay=1e-3),
                 "adam": lambda: nnlib.Adam(model, lr=0.01)}[opt]()
    x = rng.standard_normal((7, 5)).astype(np.float32)
    for _ in range(3):
        out = model.forward(x)
        assert out.dtype == np.float32
        _, d = F.softmax_cross_entropy(out, rng.integers(0, 3, 7))
        assert model.backward(d).dtype == np.float32
        optimizer.step()
    for p in model.parameters():
        assert p.value.dtype == np.float32 and p.grad.dtype == np.float32, p
    for layer in model:
        for v in layer.buffers.values():
            assert v.dtype == np.float32
    model.eval()
    assert model.forward(x[:1]).dtype == np.float32


@pytest.mark.parametrize("layer", [nnlib.Dense(3, 2, rng=np.random.default_rng(0),
                                               dtype=np.float32),
                                   nnlib.BatchNorm(3, dtype=np.float32),
                                   nnlib.LayerNorm(3, dtype=np.float32)], ids=repr)
def test_float64_input_to_a_float32_layer_is_a_type_error(layer):
    with pytest.raises(TypeError, match=r"float32 parameters but received float64 input.*astype"):
        layer.forward(np.zeros((4, 3)))


def test_integer_input_is_converted_to_the_layer_dtype(rng):
    layer = nnlib.Dense(3, 2, rng=rng, dtype=np.float32)
    assert layer.forward(np.ones((2, 3), dtype=np.int64)).dtype == np.float32


def test_activations_keep_float32(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    for layer in (nnlib.ReLU(), nnlib.LeakyReLU(), nnlib.Sigmoid(), nnlib.Tanh(),
                  nnlib.Dropout(0.5, rng=rng)):
        assert layer.forward(x).dtype == np.float32
        assert layer.backward(x).dtype == np.float32


# --------------------------------------------------------------------------- no mutation

def test_kernels_do_not_mutate_their_inputs(rng):
    x = rng.standard_normal((6, 4))
    before = x.copy()
    kernel_runs(x, np.float64, rng)
    np.testing.assert_array_equal(x, before)


def test_backward_passes_do_not_mutate_dout_or_caches(rng, make_bn_mlp):
    for mode in ("fast", "staged"):
        model = make_bn_mlp(rng, sizes=(4, 6, 6, 3))
        for layer in model:
            if isinstance(layer, nnlib.BatchNorm):
                layer.backward_mode = mode
        model.layers += [nnlib.LayerNorm(3), nnlib.LeakyReLU(), nnlib.Tanh(), nnlib.ReLU()]
        x = rng.standard_normal((5, 4))
        x_before = x.copy()
        out = model.forward(x)
        out_before = out.copy()
        dout = rng.standard_normal(out.shape)
        dout_before = dout.copy()
        dx1 = model.backward(dout)
        np.testing.assert_array_equal(dout, dout_before)
        np.testing.assert_array_equal(out, out_before)
        np.testing.assert_array_equal(x, x_before)
        # a second backward from the same forward gives the same result: caches intact
        np.testing.assert_array_equal(model.backward(dout), dx1)


def test_layer_outputs_do_not_alias_inputs(rng):
    x = rng.standard_normal((4, 3))
    layers = [nnlib.Dense(3, 3, rng=rng), nnlib.BatchNorm(3), nnlib.BatchNorm(3).eval(),
              nnlib.LayerNorm(3), nnlib.ReLU(), nnlib.LeakyReLU(), nnlib.Sigmoid(), nnlib.Tanh(),
              nnlib.Dropout(0.5, rng=rng), nnlib.Dropout(0.5, rng=rng).eval(),
              nnlib.Dropout(0.0, rng=rng)]
    for layer in layers:
        out = layer.forward(x)
        assert not np.shares_memory(out, x), layer
        dout = rng.standard_normal(out.shape)
        assert not np.shares_memory(layer.backward(dout), dout), layer


def test_gradients_are_not_aliased_to_each_other(rng):
    layer = nnlib.Dense(3, 2, rng=rng)
    layer.forward(rng.standard_normal((4, 3)))
    layer.backward(rng.standard_normal((4, 2)))
    g1 = layer.grads["W"].copy()
    x2, dout2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer.forward(x2)
    layer.backward(dout2)
    # overwritten by the second batch's gradient, not accumulated onto the first
    np.testing.assert_allclose(layer.grads["W"], dout2.T @ x2, rtol=1e-12)
    assert not np.allclose(layer.grads["W"], g1 + dout2.T @ x2)
    assert not np.shares_memory(layer.grads["W"], layer.params["W"])


def test_sigmoid_accepts_python_and_numpy_scalars():
    assert F.sigmoid(0.0) == 0.5
    assert F.sigmoid(np.float32(0.0)).dtype == np.float32
    np.testing.assert_allclose(F.sigmoid(np.array(2.0)), 1.0 / (1.0 + np.exp(-2.0)), rtol=1e-15)
