"""The layer functions for notebook 11's network, and its reference (the tests' oracle).

``exercises/assembly.py`` assembles ``X -> Dense -> BatchNorm -> ReLU -> Dropout -> Dense
-> softmax cross-entropy`` from layer functions passed in a dict (:data:`LAYER_FUNCTIONS`
names them). The notebook passes the student's own functions (:func:`student_layer_functions`);
the tests pass the reference ones (:func:`reference_layers`) and compare with the same
network built from nnlib's layers (:func:`reference_step`, :func:`reference_predict`),
which shares no code with the exercise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import nnlib.functional as F
from nnlib.layers import BatchNorm, Dense, Dropout, ReLU
from nnlib.sequential import Sequential

__all__ = ["LAYER_FUNCTIONS", "init_params", "reference_layers", "reference_step",
           "reference_predict", "student_layer_functions"]

LAYER_FUNCTIONS: dict[str, str] = {
    "dense_forward": "dense",
    "dense_backward": "dense",
    "batchnorm_forward": "batchnorm",
    "batchnorm_backward_fast": "batchnorm",
    "batchnorm_inference": "batchnorm",
    "running_stats_update": "batchnorm",
    "relu_forward": "activations",
    "relu_backward": "activations",
    "dropout_forward": "dropout",
    "dropout_backward": "dropout",
    "softmax_cross_entropy": "losses",
}
"""Every key of the ``layers`` dict -> the exercise file (topic) that defines it."""


def init_params(n_in: int, n_hidden: int, n_out: int, rng: np.random.Generator
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Return ``(params, running)`` for a fresh network.

    He-initialized weights, zero biases, ``gamma = 1``, ``beta = 0``; running statistics
    mean 0 and variance 1, as a BatchNorm layer starts.
    """
    params = {
        "W1": rng.standard_normal((n_hidden, n_in)) * np.sqrt(2.0 / n_in),
        "b1": np.zeros(n_hidden),
        "gamma": np.ones(n_hidden),
        "beta": np.zeros(n_hidden),
        "W2": rng.standard_normal((n_out, n_hidden)) * np.sqrt(2.0 / n_hidden),
        "b2": np.zeros(n_out),
    }
    return params, {"mean": np.zeros(n_hidden), "var": np.ones(n_hidden)}


def reference_layers(dropout_rng: np.random.Generator) -> dict[str, Callable[..., Any]]:
    """Return nnlib's layer functions under the exercises' names and signatures.

    ``dropout_forward`` draws its mask from ``dropout_rng`` whatever generator it is
    given: while grading, the generator that the student's code passes on lives in the
    sandboxed worker and cannot come back to the judge, so the tests reproduce the mask
    from a generator of the same seed held here.
    """

    def dropout_forward(x: np.ndarray, p: float, rng: Any = None, training: bool = True
                        ) -> tuple[np.ndarray, Any]:
        return F.dropout_forward(x, p, dropout_rng, training)

    def batchnorm_inference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                            running_mean: np.ndarray, running_var: np.ndarray,
                            eps: float = 1e-5) -> np.ndarray:
        return F.batchnorm_inference_forward(x, gamma, beta, running_mean, running_var, eps)[0]

    def running_stats_update(running_mean: np.ndarray, running_var: np.ndarray,
                             batch_mean: np.ndarray, batch_var: np.ndarray, n: int,
                             momentum: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        mean, var = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)
        F.batchnorm_running_update(mean, var, batch_mean, batch_var, n, momentum)
        return mean, var

    return {
        "dense_forward": F.dense_forward,
        "dense_backward": F.dense_backward,
        "batchnorm_forward": F.batchnorm_forward,
        "batchnorm_backward_fast": F.batchnorm_backward_fast,
        "batchnorm_inference": batchnorm_inference,
        "running_stats_update": running_stats_update,
        "relu_forward": F.relu_forward,
        "relu_backward": F.relu_backward,
        "dropout_forward": dropout_forward,
        "dropout_backward": F.dropout_backward,
        "softmax_cross_entropy": F.softmax_cross_entropy,
    }


def _model(params: dict[str, np.ndarray], running: dict[str, np.ndarray], p: float,
           rng: np.random.Generator) -> Sequential:
    bn = BatchNorm(params["gamma"].shape[0])
    bn.params["gamma"][...] = params["gamma"]
    bn.params["beta"][...] = params["beta"]
    bn.running_mean[...] = running["mean"]
    bn.running_var[...] = running["var"]
    return Sequential([Dense.from_arrays(params["W1"], params["b1"]), bn, ReLU(),
                       Dropout(p, rng=rng), Dense.from_arrays(params["W2"], params["b2"])])


def reference_step(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray],
                   running: dict[str, np.ndarray], p: float, dropout_seed: int
                   ) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(loss, grads, new_running)`` of one training step, with nnlib's layers.

    The dropout mask comes from ``np.random.default_rng(dropout_seed)``, drawn once.
    """
    model = _model(params, running, p, np.random.default_rng(dropout_seed))
    model.train()
    loss, dlogits = F.softmax_cross_entropy(model.forward(np.asarray(X, dtype=float)), y)
    model.backward(dlogits)
    dense1, bn, _, _, dense2 = model.leaves()
    grads = {"W1": dense1.grads["W"].copy(), "b1": dense1.grads["b"].copy(),
             "gamma": bn.grads["gamma"].copy(), "beta": bn.grads["beta"].copy(),
             "W2": dense2.grads["W"].copy(), "b2": dense2.grads["b"].copy()}
    return float(loss), grads, {"mean": bn.running_mean.copy(), "var": bn.running_var.copy()}


def reference_predict(X: np.ndarray, params: dict[str, np.ndarray],
                      running: dict[str, np.ndarray]) -> np.ndarray:
    """The logits in inference mode, with nnlib's layers."""
    model = _model(params, running, 0.5, np.random.default_rng(0))
    model.eval()
    return model.forward(np.asarray(X, dtype=float))


def student_layer_functions(impl: str | None = None) -> dict[str, Callable[..., Any]]:
    """The student's own layer functions under the names of :data:`LAYER_FUNCTIONS`.

    Read afresh from the exercise files (``exercises/`` or ``NNLIB_IMPL``); a function
    not written yet raises :class:`nnlib.grading.ExerciseNotImplementedError` when called,
    naming its file.
    """
    from nnlib.course.student_layers import student_function

    return {name: student_function(topic, name, impl) for name, topic in
            LAYER_FUNCTIONS.items()}
