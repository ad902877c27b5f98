"""Public tests of exercises/assembly.py: the assembled network against nnlib's layers.

The student's functions get the reference layer functions (``reference_layers``), so
that only the assembly is judged; the expected values come from the same network built
from nnlib's layer classes (``reference_step``, ``reference_predict``). The dropout mask
is reproduced from a generator of a fixed seed on both sides.
"""

import numpy as np
import pytest

from nnlib.course.assembly import (
    init_params,
    reference_layers,
    reference_predict,
    reference_step,
)
from nnlib.grading.judge.testing import call, expect_tuple

SEED = 11


def _case(n=10, d=6, h=8, c=4, seed=2016):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 0.5
    y = rng.integers(0, c, n)
    params, running = init_params(d, h, c, rng)
    params["gamma"] = 1.0 + 0.2 * rng.standard_normal(h)
    params["beta"] = 0.2 * rng.standard_normal(h)
    params["b1"] = 0.1 * rng.standard_normal(h)
    params["b2"] = 0.1 * rng.standard_normal(c)
    running = {"mean": 0.3 * rng.standard_normal(h), "var": 1.0 + rng.random(h)}
    return X, y, params, running


def close(actual, expected, what, rtol=1e-7):
    """Fail unless ``actual`` is an array of ``expected``'s shape with close values."""
    if not isinstance(actual, (np.ndarray, np.generic, float, int)):
        raise AssertionError(f"{what}: expected an array, got {type(actual).__name__}")
    a = np.asarray(actual, dtype=np.float64) if np.asarray(actual).dtype.kind in "fiu" else None
    if a is None or a.shape != np.shape(expected):
        raise AssertionError(f"{what}: wrong shape or type {np.shape(actual)}, expected "
                             f"{np.shape(expected)}")
    diff = float(np.linalg.norm(a - expected))
    if not np.all(np.isfinite(a)) or diff > rtol * max(
            float(np.linalg.norm(a) + np.linalg.norm(expected)), 1e-6):
        raise AssertionError(f"{what}: wrong values (difference {diff:.2e}, norm of the "
                             f"expected {np.linalg.norm(expected):.3g})")


CALLS = {"dense_forward": 2, "dense_backward": 2, "batchnorm_forward": 1,
         "batchnorm_backward_fast": 1, "relu_forward": 1, "relu_backward": 1,
         "dropout_forward": 1, "dropout_backward": 1, "softmax_cross_entropy": 1,
         "running_stats_update": 1}
"""How often one training step of the network calls each layer function."""


def _counting(layers, counts):
    """``layers``, each function counting its calls in ``counts``."""
    def counted(name, f):
        def g(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return f(*args, **kwargs)
        return g
    return {name: counted(name, f) for name, f in layers.items()}


def step(impl, X, y, params, running, p, counts=None):
    layers = reference_layers(np.random.default_rng(SEED))
    if counts is not None:
        layers = _counting(layers, counts)
    out = call(impl.assembled_loss, X, y, params, running, layers, p,
               np.random.default_rng(SEED))
    loss, grads, new_running = expect_tuple(out, 3, "assembled_loss")
    for name, d, keys in (("grads", grads, params), ("new_running", new_running, running)):
        if not isinstance(d, dict) or set(d) != set(keys):
            raise AssertionError(f"assembled_loss: {name} must be a dict with the keys "
                                 f"{sorted(keys)}, got {type(d).__name__}"
                                 + (f" with {sorted(d)}" if isinstance(d, dict) else ""))
    return loss, grads, new_running


@pytest.mark.points(3)
@pytest.mark.checks("assembled_loss")
def test_assembled_loss_and_gradients(impl):
    X, y, params, running = _case()
    counts = {}
    loss, grads, _ = step(impl, X, y, params, running, 0.5, counts)
    ref_loss, ref_grads, _ = reference_step(X, y, params, running, 0.5, SEED)
    close(loss, ref_loss, "assembled_loss: the loss (training mode: BatchNorm with the batch "
          "statistics, dropout with p=0.5)")
    for name in ("W2", "b2", "gamma", "beta", "W1", "b1"):
        close(grads[name], ref_grads[name], f"assembled_loss: the gradient of {name}")
    for name, n in CALLS.items():  # each layer function where the network uses it, no more
        assert counts.get(name, 0) == n, (
            f"assembled_loss called layers[{name!r}] {counts.get(name, 0)} times in one "
            f"training step; the network uses it {n} time{'s' if n > 1 else ''}")
    assert set(counts) <= set(CALLS), (
        f"assembled_loss called {sorted(set(counts) - set(CALLS))} in a training step, which "
        "the network does not use there (BatchNorm in training mode normalizes with the "
        "batch's statistics)")


@pytest.mark.points(1)
@pytest.mark.checks("assembled_loss")
def test_assembled_loss_running_statistics(impl):
    X, y, params, running = _case()
    _, _, new_running = step(impl, X, y, params, running, 0.5)
    _, _, ref_running = reference_step(X, y, params, running, 0.5, SEED)
    for name in ("mean", "var"):
        close(new_running[name], ref_running[name], f"assembled_loss: the new running {name} "
              "(running_stats_update with the mean and the biased variance of BatchNorm's "
              "input, the first Dense layer's output)")


@pytest.mark.points(2)
@pytest.mark.checks("assembled_predict")
def test_assembled_predict_inference_mode(impl):
    X, _, params, running = _case()
    dropout_rng = np.random.default_rng(SEED)
    layers = reference_layers(dropout_rng)
    state = dropout_rng.bit_generator.state
    logits = call(impl.assembled_predict, X, params, running, layers)
    close(logits, reference_predict(X, params, running), "assembled_predict: the logits "
          "(inference mode: BatchNorm with the running statistics, no dropout)")
    assert dropout_rng.bit_generator.state == state, (
        "assembled_predict drew a dropout mask: at inference dropout is the identity "
        "(call layers['dropout_forward'] with training=False, or not at all)")
    one = call(impl.assembled_predict, X[:1], params, running, layers)
    close(one, reference_predict(X[:1], params, running), "assembled_predict on a batch of "
          "one row")
