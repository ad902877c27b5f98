"""Hidden tests of exercises/assembly.py: other shapes, no dropout, each layer called once."""

import numpy as np
import pytest

from nnlib.course.assembly import (
    init_params,
    reference_layers,
    reference_predict,
    reference_step,
)
from nnlib.grading.judge.testing import call, expect_tuple


def _case(n, d, h, c, seed):
    rng = np.random.default_rng(seed)
    X = 2.0 * rng.standard_normal((n, d)) - 1.0
    y = rng.integers(0, c, n)
    params, _ = init_params(d, h, c, rng)
    params["gamma"] = 1.0 + 0.3 * rng.standard_normal(h)
    params["beta"] = 0.3 * rng.standard_normal(h)
    running = {"mean": rng.standard_normal(h), "var": 0.5 + rng.random(h)}
    return X, y, params, running


def _close(actual, expected, what, rtol=1e-7):
    a = np.asarray(actual)
    if a.shape != np.shape(expected) or a.dtype.kind not in "fiu":
        raise AssertionError(f"{what}: wrong shape or type {a.shape}, expected "
                             f"{np.shape(expected)}")
    a = a.astype(np.float64)
    diff = float(np.linalg.norm(a - expected))
    if not np.all(np.isfinite(a)) or diff > rtol * max(
            float(np.linalg.norm(a) + np.linalg.norm(expected)), 1e-6):
        raise AssertionError(f"{what}: wrong values (difference {diff:.2e})")


def _counting(seed):
    """The reference layers, counting how often each is called, and dropout's generator."""
    counts = {}
    dropout_rng = np.random.default_rng(seed)
    layers = reference_layers(dropout_rng)

    def counted(name, f):
        def g(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return f(*args, **kwargs)
        g.__name__ = name
        return g

    return {k: counted(k, f) for k, f in layers.items()}, counts, dropout_rng


def _step_matches(impl, case, p, seed, what):
    X, y, params, running = case
    layers, counts, _ = _counting(seed)
    out = call(impl.assembled_loss, X, y, params, running, layers, p,
               np.random.default_rng(seed))
    loss, grads, new_running = expect_tuple(out, 3, "assembled_loss")
    ref_loss, ref_grads, ref_running = reference_step(X, y, params, running, p, seed)
    _close(loss, ref_loss, f"assembled_loss ({what}): the loss")
    for name in ref_grads:
        _close(grads.get(name) if isinstance(grads, dict) else None, ref_grads[name],
               f"assembled_loss ({what}): the gradient of {name}")
    for name in ref_running:
        _close(new_running.get(name) if isinstance(new_running, dict) else None,
               ref_running[name], f"assembled_loss ({what}): the new running {name}")
    return counts


@pytest.mark.points(1)
@pytest.mark.checks("assembled_loss")
def test_hidden_assembled_loss_square_batch_and_no_dropout(impl):
    _step_matches(impl, _case(7, 7, 7, 7, 81), 0.0, 3, "a 7 x 7 batch, p=0")
    _step_matches(impl, _case(2, 5, 3, 2, 82), 0.3, 4, "a batch of two rows, p=0.3")


@pytest.mark.points(1)
@pytest.mark.checks("assembled_loss")
def test_hidden_assembled_loss_calls_each_layer_as_the_network_does(impl):
    counts = _step_matches(impl, _case(12, 9, 6, 3, 83), 0.5, 5, "12 rows")
    expected = {"dense_forward": 2, "dense_backward": 2, "batchnorm_forward": 1,
                "relu_forward": 1, "relu_backward": 1, "dropout_forward": 1,
                "dropout_backward": 1, "softmax_cross_entropy": 1,
                "running_stats_update": 1}
    for name, n in expected.items():
        assert counts.get(name, 0) == n, (
            f"assembled_loss called layers[{name!r}] {counts.get(name, 0)} times in one "
            f"training step; the network uses it {n} time{'s' if n > 1 else ''}")
    assert counts.get("batchnorm_inference", 0) == 0, (
        "assembled_loss used batchnorm_inference: in training mode BatchNorm normalizes "
        "with the batch's own statistics (batchnorm_forward)")


@pytest.mark.points(1)
@pytest.mark.checks("assembled_predict")
def test_hidden_assembled_predict_draws_nothing_and_uses_running_stats(impl):
    X, _, params, running = _case(9, 4, 5, 3, 84)
    layers, counts, dropout_rng = _counting(6)
    state = dropout_rng.bit_generator.state
    logits = call(impl.assembled_predict, X, params, running, layers)
    _close(logits, reference_predict(X, params, running), "assembled_predict: the logits")
    assert dropout_rng.bit_generator.state == state, (
        "assembled_predict drew a dropout mask: at inference dropout is the identity "
        "(call layers['dropout_forward'] with training=False, or not at all)")
    assert counts.get("batchnorm_forward", 0) == 0, (
        "assembled_predict called batchnorm_forward, which normalizes with the batch's "
        "statistics; in inference use batchnorm_inference with the running statistics")
    assert counts.get("batchnorm_inference", 0) == 1, (
        "assembled_predict must call layers['batchnorm_inference'] once")
