"""Exercise: assemble a network from your own layers (notebook ``11_assemble_network``).

The network, CS231n style, for N rows of D features, H hidden units and C classes::

    X (N, D) -> Dense(W1, b1) -> BatchNorm(gamma, beta) -> ReLU -> Dropout(p)
             -> Dense(W2, b2) -> logits (N, C) -> softmax cross-entropy with y

You write no new math here: you call the layer functions you wrote in the earlier
notebooks, in the right order, keep each one's cache, and call the backward functions in
the reverse order with those caches. The functions arrive in the dict ``layers``, by
their exercise names (the notebook fills it with *your* functions; the grader with the
reference ones)::

    layers["dense_forward"](x, W, b) -> (z, cache)
    layers["dense_backward"](dz, cache) -> (dx, dW, db)
    layers["batchnorm_forward"](x, gamma, beta) -> (out, cache)
    layers["batchnorm_backward_fast"](dout, cache) -> (dx, dgamma, dbeta)
    layers["batchnorm_inference"](x, gamma, beta, running_mean, running_var) -> out
    layers["running_stats_update"](running_mean, running_var, batch_mean, batch_var, n)
        -> (new_mean, new_var)
    layers["relu_forward"](x) -> (out, cache)
    layers["relu_backward"](dout, cache) -> dx
    layers["dropout_forward"](x, p, rng, training=True) -> (out, cache)
    layers["dropout_backward"](dout, cache) -> dx
    layers["softmax_cross_entropy"](logits, y) -> (loss, dlogits)

Rules: numpy only; call each layer function where the network uses it (exactly one
``dropout_forward`` per training step, with the ``rng`` you are given, so that the mask
can be reproduced); never modify the arrays and dicts you are given (return new ones).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def assembled_loss(
    X: np.ndarray,
    y: np.ndarray,
    params: dict[str, np.ndarray],
    running: dict[str, np.ndarray],
    layers: dict[str, Callable],
    p: float,
    rng: np.random.Generator,
) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One training step's loss, gradients and running statistics (training mode).

    Forward in training mode (BatchNorm with the statistics of this batch, dropout
    drawing its mask from ``rng``), the softmax cross-entropy of the logits with ``y``,
    then the backward pass through every layer in reverse order, and the new running
    statistics of the BatchNorm layer (from the mean and the biased variance of the
    batch's pre-activations, the input of BatchNorm; momentum 0.1).

    Taught in notebook ``11_assemble_network``, just before the heading "Exercise:
    assemble the network".

    Parameters
    ----------
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
    params : dict of ndarray
        ``W1`` (H, D), ``b1`` (H,), ``gamma`` (H,), ``beta`` (H,), ``W2`` (C, H),
        ``b2`` (C,).
    running : dict of ndarray
        The BatchNorm running statistics ``mean`` and ``var``, shape (H,) each.
    layers : dict of callable
        The layer functions, by name (see the module docstring).
    p : float
        Dropout's drop probability.
    rng : numpy.random.Generator
        Passed to ``layers["dropout_forward"]``, once.

    Returns
    -------
    loss : float
    grads : dict of ndarray
        ``d loss / d param`` for every key of ``params`` and no other key, each with its
        parameter's shape.
    new_running : dict of ndarray
        The updated ``mean`` and ``var``, and no other key (new arrays; ``running`` is left
        unchanged).
    """
    raise NotImplementedError("assembled_loss is not implemented yet")


def assembled_predict(
    X: np.ndarray,
    params: dict[str, np.ndarray],
    running: dict[str, np.ndarray],
    layers: dict[str, Callable],
) -> np.ndarray:
    """The logits of the network in inference mode.

    BatchNorm uses the running statistics (``layers["batchnorm_inference"]``), and
    dropout is the identity (no call, nothing drawn): every row's logits depend on that
    row alone, so a batch of one works.

    Taught in notebook ``11_assemble_network``, just before the heading "Exercise:
    assemble the network".

    Parameters
    ----------
    X : ndarray, shape (N, D)
    params : dict of ndarray
        As for :func:`assembled_loss`.
    running : dict of ndarray
        ``mean`` and ``var``, shape (H,) each.
    layers : dict of callable
        As for :func:`assembled_loss`.

    Returns
    -------
    logits : ndarray, shape (N, C)
    """
    raise NotImplementedError("assembled_predict is not implemented yet")
