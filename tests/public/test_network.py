"""Public tests of exercises/network.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call, expect_tuple, forward_for_backward

X = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]])
W0 = np.array([[1.0, 0.5], [-1.0, 1.0], [0.5, -0.5]])
B0 = np.array([0.0, 0.5, -0.25])
W1 = np.array([[1.0, -1.0, 2.0], [0.5, 0.5, -1.0]])
B1 = np.array([0.1, -0.1])


def _params():
    return [(W0.copy(), B0.copy()), (W1.copy(), B1.copy())]


def _reference():
    z0 = X @ W0.T + B0
    a1 = np.maximum(z0, 0)
    return z0, a1, a1 @ W1.T + B1


def _deep(sizes):
    """Parameters of a network of any depth (``sizes``: input width, then each layer's)."""
    rng = np.random.default_rng(len(sizes))
    return [(rng.standard_normal((o, i)), rng.standard_normal(o))
            for i, o in zip(sizes[:-1], sizes[1:], strict=False)]


def _deep_forward(X, params):
    """Logits and, per layer, its input and pre-activation (the reference's forward)."""
    a, seen = X, []
    for k, (W, b) in enumerate(params):
        z = a @ W.T + b
        seen.append((a, z))
        a = z if k == len(params) - 1 else np.maximum(z, 0)
    return a, seen


@pytest.mark.points(2)
@pytest.mark.checks("network_forward")
def test_network_forward_values(impl):
    logits, _ = expect_tuple(call(impl.network_forward, X, _params()), 2, "network_forward")
    assert_close(logits, _reference()[2], "network_forward: logits of a 2-layer ReLU network "
                 "(no activation after the last layer)", dtype=np.float64)
    # any number of layers: loop over params, not two hard-coded layers
    for sizes in ([2, 3], [2, 4, 3, 2]):
        params = _deep(sizes)
        logits, _ = expect_tuple(call(impl.network_forward, X, params), 2, "network_forward")
        assert_close(logits, _deep_forward(X, params)[0], f"network_forward: logits of a "
                     f"{len(params)}-layer network ({'-'.join(map(str, sizes))})",
                     dtype=np.float64)


@pytest.mark.points(2)
@pytest.mark.checks("network_backward")
def test_network_backward_values(impl):
    _, caches = forward_for_backward(impl, "network_forward", X, _params(),
                                     expected=_reference()[2], judged="network_backward")
    dlogits = np.array([[1.0, -0.5], [0.25, 2.0], [-1.0, 0.5]])
    grads = call(impl.network_backward, dlogits, caches)
    assert isinstance(grads, (list, tuple)) and len(grads) == 2, (
        "network_backward must return a list with one (dW, db) pair per layer")
    z0, a1, _ = _reference()
    dz0 = (dlogits @ W1) * (z0 > 0)
    expected = [(dz0.T @ X, dz0.sum(axis=0)), (dlogits.T @ a1, dlogits.sum(axis=0))]
    # from the output back: the first wrong layer counting from the output is named
    for i in reversed(range(len(expected))):
        dW, db = expected[i]
        got = expect_tuple(grads[i], 2, f"network_backward: entry {i}")
        assert_close(got[0], dW, f"network_backward: dW of layer {i}", dtype=np.float64)
        assert_close(got[1], db, f"network_backward: db of layer {i}", dtype=np.float64)
    # any number of layers: one (dW, db) pair per layer, walked from the last to the first
    for sizes in ([2, 3], [2, 4, 3, 2]):
        params = _deep(sizes)
        logits, seen = _deep_forward(X, params)
        _, caches = forward_for_backward(impl, "network_forward", X, params, expected=logits,
                                         judged="network_backward")
        dlogits = np.random.default_rng(7).standard_normal(logits.shape)
        grads = call(impl.network_backward, dlogits, caches)
        name = f"a {len(params)}-layer network"
        assert isinstance(grads, (list, tuple)) and len(grads) == len(params), (
            f"network_backward on {name} must return {len(params)} (dW, db) pairs")
        dz = dlogits
        for i in reversed(range(len(params))):
            a, _ = seen[i]
            got = expect_tuple(grads[i], 2, f"network_backward: entry {i}")
            assert_close(got[0], dz.T @ a, f"network_backward on {name}: dW of layer {i}",
                         dtype=np.float64)
            assert_close(got[1], dz.sum(axis=0), f"network_backward on {name}: db of layer "
                         f"{i}", dtype=np.float64)
            if i:
                dz = (dz @ params[i][0]) * (seen[i - 1][1] > 0)


@pytest.mark.points(2)
@pytest.mark.checks("sgd_step")
def test_sgd_step_updates_in_place(impl):
    params = _params()
    grads = [(np.ones_like(W0), np.full_like(B0, 2.0)), (np.ones_like(W1), np.ones_like(B1))]
    arrays = [a for pair in params for a in pair]
    result = call(impl.sgd_step, params, grads, 0.1, mutable=(0,))
    assert result is None, "sgd_step updates params in place and returns None"
    assert all(a is b for a, b in zip(arrays, [a for pair in params for a in pair],
                                      strict=True)), (
        "sgd_step must update the arrays in place (W -= lr * dW), not replace them")
    assert_close(params[0][0], W0 - 0.1, "sgd_step: W of layer 0 after W -= lr * dW")
    assert_close(params[0][1], B0 - 0.2, "sgd_step: b of layer 0 after b -= lr * db")
    assert_close(params[1][0], W1 - 0.1, "sgd_step: W of layer 1 after W -= lr * dW")
    assert_close(params[1][1], B1 - 0.1, "sgd_step: b of layer 1 after b -= lr * db")


@pytest.mark.points(0.5)
@pytest.mark.checks("sgd_step")
def test_sgd_step_keeps_float32(impl):
    params = [(W0.astype(np.float32), B0.astype(np.float32))]
    grads = [(np.ones((3, 2), dtype=np.float32), np.full(3, 2.0, dtype=np.float32))]
    call(impl.sgd_step, params, grads, 0.1, mutable=(0,))
    W, b = params[0]
    assert W.dtype == np.float32 and b.dtype == np.float32, (
        f"sgd_step: float32 parameters must stay float32, got {W.dtype} and {b.dtype}")
    assert_close(W, W0 - 0.1, "sgd_step: W of float32 parameters after W -= lr * dW",
                 rtol=1e-6)
    assert_close(b, B0 - 0.2, "sgd_step: b of float32 parameters after b -= lr * db",
                 rtol=1e-6)
