"""Every kind of bad input gets a clear error naming who complained and the shapes."""

import re

import numpy as np
import pytest

import nnlib
import nnlib.functional as F


@pytest.fixture
def model(rng):
    return nnlib.Sequential([nnlib.Dense(4, 3, rng=rng), nnlib.BatchNorm(3), nnlib.ReLU(),
                             nnlib.Dense(3, 2, rng=rng)])


@pytest.mark.parametrize(("layer", "match"), [
    (nnlib.Dense(4, 3, rng=np.random.default_rng(0)),
     r"^Dense\(4 -> 3\): expected input of shape \(N, 4\) with 4 features, got shape \(5, 6\)"),
    (nnlib.BatchNorm(4), r"^BatchNorm\(4\): .*\(N, 4\).*got shape \(5, 6\)"),
    (nnlib.LayerNorm(4), r"^LayerNorm\(4\): .*\(N, 4\).*got shape \(5, 6\)"),
], ids=["dense", "batchnorm", "layernorm"])
def test_wrong_number_of_features(layer, match):
    with pytest.raises(ValueError, match=match):
        layer.forward(np.zeros((5, 6)))


def test_wrong_number_of_features_inside_a_model(model):
    with pytest.raises(ValueError,
                       match=r"^Sequential layer 0: Dense\(4 -> 3\).*\(N, 4\).*\(5, 6\)"):
        model.forward(np.zeros((5, 6)))
    model.forward(np.zeros((5, 4)))
    model.layers[3] = nnlib.Dense(5, 2, rng=np.random.default_rng(0))  # a mis-built model
    with pytest.raises(ValueError,
                       match=r"^Sequential layer 3: Dense\(5 -> 2\).*\(N, 5\).*\(5, 3\)"):
        model.forward(np.zeros((5, 4)))


@pytest.mark.parametrize("shape", [(4,), (2, 2, 4), ()])
def test_input_that_is_not_a_2d_batch(model, shape):
    with pytest.raises(ValueError, match=r"Dense\(4 -> 3\): expected a 2-D batch.*" +
                       str(shape).replace("(", r"\(").replace(")", r"\)")):
        model.forward(np.zeros(shape))


def test_1d_input_gets_a_reshape_hint(model):
    with pytest.raises(ValueError, match=r"x\.reshape\(1, -1\)"):
        model.forward(np.zeros(4))


def test_empty_batch(model):
    with pytest.raises(ValueError, match=r"N >= 1, got \(0, 4\)"):
        model.forward(np.zeros((0, 4)))


def test_batchnorm_batch_of_one_in_training(model):
    with pytest.raises(ValueError, match=r"Sequential layer 1: BatchNorm\(3\): training mode "
                                         r"needs more than one example.*\(1, 3\).*model\.eval\(\)"):
        model.forward(np.zeros((1, 4)))
    model.eval()
    assert model.forward(np.zeros((1, 4))).shape == (1, 2)


def test_labels_out_of_range_and_count_mismatch():
    logits = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: labels must lie in \[0, 1\] for "
                                         r"2 classes, got values from 0 to 2"):
        F.softmax_cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"from -1 to 1"):
        F.softmax_cross_entropy(logits, np.array([0, 1, -1]))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\).*got shape \(2,\)"):
        F.softmax_cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\).*got shape \(3, 1\)"):
        F.softmax_cross_entropy(logits, np.zeros((3, 1), dtype=int))
    with pytest.raises(TypeError, match="labels must be integers, got dtype float64"):
        F.softmax_cross_entropy(logits, np.array([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: y must have the shape "
                                         r"of logits, \(3, 1\), got shape \(3,\)"):
        F.binary_cross_entropy_with_logits(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match=r"mse_loss: target .*\(3, 2\), got shape \(2, 3\)"):
        F.mse_loss(np.zeros((3, 2)), np.zeros((2, 3)))


def test_whole_float_labels_are_accepted():
    loss_int, _ = F.softmax_cross_entropy(np.eye(2), np.array([0, 1]))
    loss_float, _ = F.softmax_cross_entropy(np.eye(2), np.array([0.0, 1.0]))
    assert loss_int == loss_float


@pytest.mark.parametrize("make", [
    lambda: nnlib.Dense(4, 3, rng=np.random.default_rng(0)),
    lambda: nnlib.BatchNorm(4),
    lambda: nnlib.BatchNorm(4, backward_mode="staged"),
    lambda: nnlib.BatchNorm(4).eval(),
    lambda: nnlib.LayerNorm(4),
    lambda: nnlib.ReLU(),
    lambda: nnlib.LeakyReLU(),
    lambda: nnlib.Sigmoid(),
    lambda: nnlib.Tanh(),
    lambda: nnlib.Dropout(0.5, rng=np.random.default_rng(0)),
], ids=["dense", "bn", "bn_staged", "bn_eval", "ln", "relu", "leaky", "sigmoid", "tanh",
        "dropout"])
def test_wrong_dout_shape_in_backward(make):
    layer = make()
    out = layer.forward(np.ones((5, 4)) + np.arange(4))
    with pytest.raises(ValueError, match=rf"dout must have .*shape.*{out.shape[0]}, "
                                         rf"{out.shape[1]}\).*got shape \(5, 7\)"):
        layer.backward(np.zeros((5, 7)))


@pytest.mark.parametrize("layer", [
    nnlib.Dense(4, 3, rng=np.random.default_rng(0)), nnlib.BatchNorm(4), nnlib.LayerNorm(4),
    nnlib.ReLU(), nnlib.LeakyReLU(), nnlib.Sigmoid(), nnlib.Tanh(),
    nnlib.Dropout(0.5, rng=np.random.default_rng(0)),
], ids=repr)
def test_backward_before_forward(layer):
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.zeros((5, 4)))


def test_backward_before_forward_in_a_model_names_the_layer(model):
    with pytest.raises(RuntimeError, match=r"^Sequential layer 3: Dense.*before forward"):
        model.backward(np.zeros((5, 2)))


def test_wrong_dout_in_a_model_names_the_layer(model):
    model.forward(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"^Sequential layer 3: Dense\(3 -> 2\): dout must have "
                                         r"shape \(5, 2\), got shape \(5, 3\)"):
        model.backward(np.zeros((5, 3)))


def test_kernel_argument_shapes():
    with pytest.raises(ValueError, match=r"dense_forward: W must have shape \(out, in\)"):
        F.dense_forward(np.zeros((2, 3)), np.zeros(3), np.zeros(1))
    with pytest.raises(ValueError,
                       match=r"dense_forward: expected input of shape \(N, 3\).*\(2, 4\)"):
        F.dense_forward(np.zeros((2, 4)), np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError,
                       match=r"dense_forward: b must have shape \(5,\), got shape \(3,\)"):
        F.dense_forward(np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(3))
    _, cache = F.dense_forward(np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match=r"dense_backward: dz must have shape \(2, 5\)"):
        F.dense_backward(np.zeros((2, 3)), cache)
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma must have shape \(3,\)"):
        F.batchnorm_forward(np.zeros((4, 3)), np.ones(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"batchnorm_inference_forward: running_var must have"):
        F.batchnorm_inference_forward(np.zeros((4, 3)), np.ones(3), np.zeros(3), np.zeros(3),
                                      np.ones(4))
    with pytest.raises(ValueError, match=r"layernorm_forward: beta must have shape \(3,\)"):
        F.layernorm_forward(np.zeros((4, 3)), np.ones(3), np.zeros(4))
    _, cache = F.relu_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"relu_backward: dout must have the shape of x, \(2, 3\)"):
        F.relu_backward(np.zeros((3, 2)), cache)


def test_dropout_arguments():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1.0"):
        nnlib.Dropout(1.0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        nnlib.Dropout(0.5)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        F.dropout_forward(np.zeros((2, 2)), 0.5, rng=0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        F.dropout_forward(np.zeros((2, 2)), -0.1, rng=np.random.default_rng(0))


def test_layer_constructor_errors():
    with pytest.raises(TypeError, match=r"rng=np\.random\.default_rng"):
        nnlib.Dense(3, 2)
    with pytest.raises(ValueError, match="positive"):
        nnlib.Dense(0, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown initializer 'glorious'"):
        nnlib.Dense(3, 2, init="glorious", rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="float32 or float64"):
        nnlib.Dense(3, 2, rng=np.random.default_rng(0), dtype=np.float16)
    with pytest.raises(TypeError, match="item 1 is int"):
        nnlib.Sequential([nnlib.ReLU(), 3])


# ------------------------------------------------------- values that are not real numbers
@pytest.mark.parametrize("layer", [
    nnlib.Dense(2, 2, rng=np.random.default_rng(0)), nnlib.BatchNorm(2), nnlib.LayerNorm(2),
    nnlib.ReLU(), nnlib.Sigmoid(), nnlib.Tanh(), nnlib.LeakyReLU(0.1),
    nnlib.Dropout(0.5, rng=np.random.default_rng(0)),
], ids=lambda layer: type(layer).__name__)
def test_complex_and_text_input_is_refused_naming_the_layer(layer):
    name = layer.name if hasattr(layer, "name") else type(layer).__name__
    for x in (np.ones((3, 2)) + 1j, np.full((3, 2), "a")):
        with pytest.raises(TypeError, match=rf"^{re.escape(name)}: expected real numbers, "
                                            rf"got an array of dtype {x.dtype}"):
            layer.forward(x)


def test_a_numpy_error_inside_a_model_keeps_its_message_and_gains_the_layer():
    class Strict(nnlib.Layer):  # a layer of one's own that lets numpy raise
        def forward(self, x):
            return np.add(x, 1, casting="no", dtype=np.int8)

    with pytest.raises(TypeError, match=r"^Sequential layer 1: .*Cannot cast"):
        nnlib.Sequential([nnlib.ReLU(), Strict()]).forward(np.ones((2, 2)))


def test_integer_input_becomes_float64_everywhere():
    x = np.array([[-4, 4, -1]])
    for layer in (nnlib.ReLU(), nnlib.Sigmoid(), nnlib.Tanh(), nnlib.LeakyReLU(0.5)):
        assert layer.forward(x).dtype == np.float64, layer
    np.testing.assert_array_equal(nnlib.LeakyReLU(0.5).forward(x), [[-2.0, 4.0, -0.5]])
    assert nnlib.Tanh().forward(np.array([[True, False]])).dtype == np.float64
    loss, dpred = F.mse_loss(np.array([[1]]), np.array([[1.5]]))  # not cast to int
    assert loss == 0.25 and dpred.dtype == np.float64
    loss, _ = F.binary_cross_entropy_with_logits(np.array([2]), np.array([0.5]))
    assert loss == pytest.approx(F.binary_cross_entropy_with_logits(np.array([2.0]),
                                                                    np.array([0.5]))[0])
    # the kernels too: dropout in both modes, softmax cross-entropy with boolean logits
    for training in (True, False):
        out, _ = F.dropout_forward(x, 0.5, rng=np.random.default_rng(0), training=training)
        assert out.dtype == np.float64, training
    loss, dlogits = F.softmax_cross_entropy(np.array([[True, False]]), np.array([0]))
    assert dlogits.dtype == np.float64
    assert loss == pytest.approx(F.softmax_cross_entropy(np.array([[1.0, 0.0]]),
                                                         np.array([0]))[0])
    with pytest.raises(TypeError, match="^dropout_forward: expected real numbers"):
        F.dropout_forward(np.ones(3) + 1j, 0.5, rng=np.random.default_rng(0), training=False)


# ------------------------------------------------------------------------- fit's data
def test_data_that_is_not_finite_is_named_before_training(model, rng):
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 2, 10)
    X[3, 1] = np.nan
    opt = nnlib.SGD(model.parameters(), lr=1e-6)
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"^fit: X contains nan at index \(3, 1\)"):
        nnlib.fit(model, X, y, optimizer=opt, rng=rng, verbose=0)
    assert all(np.array_equal(a, p.value) for a, p in zip(before, model.parameters(),
                                                          strict=True))
    with pytest.raises(ValueError, match=r"^evaluate: X contains nan at index \(3, 1\)"):
        nnlib.evaluate(model, X, y)
    reg = nnlib.Sequential([nnlib.Dense(4, 1, rng=rng)])
    t = rng.standard_normal(10)
    t[7] = np.inf
    with pytest.raises(ValueError, match=r"^fit: y contains inf at index \(7, 0\)"):
        nnlib.fit(reg, np.ones((10, 4)), t, optimizer=nnlib.SGD(reg.parameters(), lr=0.1),
                  loss="mse", rng=rng, verbose=0)


def test_a_batchnorm_model_refuses_batches_of_one_before_training(model, rng):
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 2, 10)
    opt = nnlib.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"^fit: BatchNorm\(3\) needs at least 2 examples per "
                                         r"training batch.*batch_size=1\. Use batch_size >= 2"):
        nnlib.fit(model, X, y, optimizer=opt, batch_size=1, rng=rng, verbose=0)
    with pytest.raises(ValueError, match=r"got 1 rows in X"):
        nnlib.fit(model, X[:1], y[:1], optimizer=opt, rng=rng, verbose=0)


def test_validation_data_is_checked_against_x_before_training(model, rng):
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 2, 10)
    opt = nnlib.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"^fit: X_val must have the columns of X, shape "
                                         r"\(N, 4\), got shape \(3, 5\)"):
        nnlib.fit(model, X, y, optimizer=opt, rng=rng, verbose=0,
                  validation_data=(np.ones((3, 5)), y[:3]))
    with pytest.raises(TypeError, match=r"^fit: X_val is float32 but X is float64"):
        nnlib.fit(model, X, y, optimizer=opt, rng=rng, verbose=0,
                  validation_data=(X.astype(np.float32), y))


def test_one_hot_checks_its_labels():
    from nnlib.datasets import one_hot

    np.testing.assert_array_equal(one_hot([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"one_hot: expected integer labels of shape \(2,\)"):
        one_hot([[0], [2]], 3)
    with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 2\]"):
        one_hot([0, -1], 3)
    with pytest.raises(TypeError, match="one_hot: labels must be integers"):
        one_hot([0.5, 1.0], 3)


def test_normalization_and_adam_settings_that_would_give_nan_are_refused():
    for cls in (nnlib.BatchNorm, nnlib.LayerNorm):
        name = cls.__name__
        for bad in (0, -1, 2.5, True):
            with pytest.raises(ValueError, match=rf"^{name}: num_features must be a positive "
                                                 rf"integer, got {bad!r}"):
                cls(bad)
        for eps in (0, -1.0):
            with pytest.raises(ValueError, match=rf"^{name}: eps must be positive"):
                cls(4, eps=eps)
    model = nnlib.Sequential([nnlib.Dense(2, 2, rng=np.random.default_rng(0))])
    with pytest.raises(ValueError, match=r"^Adam: eps must be positive"):
        nnlib.Adam(model.parameters(), eps=0.0)


def test_common_slips_with_optimizers_and_batch_sizes_get_a_plain_message(model, rng):
    with pytest.raises(TypeError, match=r"^SGD: got the method itself; call it: "
                                        r"SGD\(model\.parameters\(\), \.\.\.\)"):
        nnlib.SGD(model.parameters, lr=0.1)
    with pytest.raises(TypeError, match=r"^Adam: lr must be a number, got '0\.1'"):
        nnlib.Adam(model.parameters(), lr="0.1")
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 2, 10)
    with pytest.raises(TypeError, match=r"^fit: optimizer must be an optimizer object with a "
                                        r"step\(\) method, .*got SGD"):
        nnlib.fit(model, X, y, optimizer=nnlib.SGD, rng=rng, verbose=0)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match=r"^predict: batch_size must be a positive "
                                             rf"integer or None, got {bad!r}"):
            nnlib.predict(model, X, batch_size=bad)
