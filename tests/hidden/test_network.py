"""Hidden tests of exercises/network.py."""

import numpy as np
import pytest

import nnlib
import nnlib.functional as F
from nnlib.grading.judge.testing import (
    assert_close,
    call,
    expect_tuple,
    forward_for_backward,
    numeric_grad,
)


def _net(seed, sizes, n=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = [(rng.standard_normal((o, i)).astype(dtype), rng.standard_normal(o).astype(dtype))
              for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    return X, params


def _reference_logits(X, params):
    """The network's logits from the reference kernels (for finite differences)."""
    a = X
    for i, (W, b) in enumerate(params):
        a = F.dense_forward(a, W, b)[0]
        if i < len(params) - 1:
            a = F.relu_forward(a)[0]
    return a


def _reference_model(params):
    layers = []
    for i, (W, b) in enumerate(params):
        layers.append(nnlib.Dense.from_arrays(W.copy(), b.copy()))
        if i < len(params) - 1:
            layers.append(nnlib.ReLU())
    return nnlib.Sequential(layers)


@pytest.mark.points(1)
@pytest.mark.checks("network_forward")
def test_hidden_network_forward_three_layers(impl):
    X, params = _net(61, [4, 6, 5, 3])
    logits, _ = expect_tuple(call(impl.network_forward, X, params), 2, "network_forward")
    assert_close(logits, _reference_model(params).forward(X), "network_forward: logits of a "
                 "4-6-5-3 ReLU network")


@pytest.mark.points(1)
@pytest.mark.checks("network_forward")
def test_hidden_network_forward_single_layer(impl):
    X, params = _net(62, [3, 2])
    logits, _ = call(impl.network_forward, X, params)
    W, b = params[0]
    assert_close(logits, X @ W.T + b, "network_forward with one layer: no ReLU on the output")


@pytest.mark.points(3)
@pytest.mark.checks("network_backward")
def test_hidden_network_backward_gradcheck(impl):
    X, params = _net(63, [4, 5, 4, 3], n=6)
    dlogits = np.random.default_rng(64).standard_normal((6, 3))
    _, caches = forward_for_backward(impl, "network_forward", X, params,
                                     expected=_reference_model(params).forward(X),
                                     judged="network_backward")
    grads = call(impl.network_backward, dlogits, caches)
    assert isinstance(grads, (list, tuple)) and len(grads) == len(params), (
        f"network_backward must return one (dW, db) pair per layer ({len(params)}), "
        f"got {type(grads).__name__}")
    # from the output back: the first wrong layer counting from the output is named, as
    # backpropagation meets it
    for i in reversed(range(len(params))):
        W, b = params[i]
        dW, db = expect_tuple(grads[i], 2, f"network_backward: entry {i}")

        # finite differences of the reference, never of the student's network_forward
        def with_W(v, i=i):
            return _reference_logits(X, [(v if j == i else Wj, bj)
                                         for j, (Wj, bj) in enumerate(params)])

        def with_b(v, i=i):
            return _reference_logits(X, [(Wj, v if j == i else bj)
                                         for j, (Wj, bj) in enumerate(params)])

        assert_close(dW, numeric_grad(with_W, W, dlogits),
                     f"network_backward: dW of layer {i} (layers counted from 0 at the input; the "
                     "first wrong one counting back from the output) against finite differences")
        assert_close(db, numeric_grad(with_b, b, dlogits),
                     f"network_backward: db of layer {i} against finite differences")


@pytest.mark.points(0.5)
@pytest.mark.checks("sgd_step")
def test_hidden_sgd_step_three_layers_float32(impl):
    _, params = _net(65, [3, 4, 4, 2], dtype=np.float32)
    _, grads = _net(66, [3, 4, 4, 2], dtype=np.float32)
    expected = [(W - np.float32(0.05) * dW, b - np.float32(0.05) * db)
                for (W, b), (dW, db) in zip(params, grads, strict=True)]
    call(impl.sgd_step, params, grads, 0.05, mutable=(0,))
    for i, ((W, b), (W1, b1)) in enumerate(zip(params, expected, strict=True)):
        assert W.dtype == np.float32, f"sgd_step: layer {i} W must stay float32, got {W.dtype}"
        assert_close(W, W1, f"sgd_step: W of layer {i}", rtol=1e-6)
        assert_close(b, b1, f"sgd_step: b of layer {i}", rtol=1e-6)
