"""Exercise: a whole network, forward, backward and one SGD step (notebooks ``04``, ``05``).

The network is a stack of dense layers with ReLU between them and no activation
after the last one (it outputs logits)::

    a0 = X
    a1 = relu(a0 @ W0.T + b0)
    ...
    logits = a_{L-1} @ W_{L-1}.T + b_{L-1}

``params`` is a list of ``(W, b)`` pairs, one per dense layer, ``W`` of shape
(out, in) and ``b`` of shape (out,). This file is self-contained: write the
dense and ReLU steps here with numpy (you may copy from your ``dense.py`` and
``activations.py``).

Rules: numpy only; keep the dtype of the inputs; never modify the arguments you are
given, the arrays nor the lists that hold them (walk ``caches`` backwards by index or with
``reversed``, do not ``pop`` from it). The one exception is :func:`sgd_step`, whose job is
to update the arrays of ``params`` in place.
"""

from __future__ import annotations

import numpy as np


def network_forward(
    X: np.ndarray, params: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, object]:
    """Forward pass of the ReLU network described in the module docstring.

    Taught in notebook ``04_network_backward``, just before the heading "Exercises: the
    dense backward pass and a whole network".

    Parameters
    ----------
    X : ndarray, shape (N, D)
    params : list of (W, b)
        ``W`` of layer l has shape (out_l, in_l), with ``in_0 = D`` and
        ``in_l = out_{l-1}``; ``b`` has shape (out_l,).

    Returns
    -------
    logits : ndarray, shape (N, out_{L-1})
    caches : object
        Whatever :func:`network_backward` needs, e.g. a list with the input of
        each layer and its pre-activation ``z``.
    """
    raise NotImplementedError("network_forward is not implemented yet")


def network_backward(
    dlogits: np.ndarray, caches: object
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Backward pass of :func:`network_forward`: the gradients of every parameter.

    Walk the layers from the last to the first: a dense layer turns ``dz`` into
    ``dW = dz.T @ a_in``, ``db = dz.sum(axis=0)`` and ``da_in = dz @ W``; before
    going on, a ReLU turns ``da`` into ``dz = da * (z > 0)`` of the layer below.

    Taught in notebook ``04_network_backward``, just before the heading "Exercises: the
    dense backward pass and a whole network".

    Parameters
    ----------
    dlogits : ndarray, shape (N, out_{L-1})
        Gradient of the loss with respect to the logits (e.g. from
        ``softmax_cross_entropy``).
    caches : object
        From :func:`network_forward`.

    Returns
    -------
    grads : list of (dW, db)
        In the same order as ``params``, each with the shape of its parameter.
    """
    raise NotImplementedError("network_backward is not implemented yet")


def sgd_step(
    params: list[tuple[np.ndarray, np.ndarray]],
    grads: list[tuple[np.ndarray, np.ndarray]],
    lr: float,
) -> None:
    """One step of gradient descent, *in place*: ``W -= lr * dW`` and ``b -= lr * db``.

    Update the arrays themselves (``W -= ...`` or ``W[...] = ...``): writing
    ``W = W - lr * dW`` only rebinds a local name and leaves the network unchanged.
    The gradients must not be modified.

    Taught in notebook ``05_training``, just before the heading "Exercise: one SGD
    step".

    Parameters
    ----------
    params : list of (W, b)
        Updated in place.
    grads : list of (dW, db)
        Same structure and shapes as ``params``.
    lr : float
        Learning rate.

    Returns
    -------
    None
    """
    raise NotImplementedError("sgd_step is not implemented yet")
