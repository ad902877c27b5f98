"""Exercise: loss functions and their gradients (notebook ``03_backpropagation``).

Each loss returns ``(loss, grad)``: the mean loss over the batch as a Python
float, and the gradient of that mean with respect to the first argument (same
shape). Because the loss is a *mean*, the gradient carries the factor 1/N (or
1/size): the backward passes of the layers then must not divide again.

Rules: numpy only; keep the dtype of the first argument for the gradient; never
modify the arrays you are given; no warnings, even for huge logits (no overflow
in ``exp``, no ``log(0)``).
"""

from __future__ import annotations

import numpy as np


def mse_loss(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements.

    ``loss = mean((pred - target)**2)`` and ``dpred = 2 (pred - target) / pred.size``.

    Taught in notebook ``03_backpropagation``, just before the heading "Exercise: the
    losses".

    Parameters
    ----------
    pred : ndarray, any shape, e.g. (N, 1)
    target : ndarray, same shape as ``pred``

    Returns
    -------
    loss : float
    dpred : ndarray, same shape and dtype as ``pred``
    """
    raise NotImplementedError("mse_loss is not implemented yet")


def binary_cross_entropy_with_logits(
    logits: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of ``p = sigmoid(logits)`` against targets ``y`` in {0, 1}.

    Per element: ``-(y log p + (1 - y) log(1 - p))``, which simplifies to
    ``max(s, 0) - s y + log(1 + exp(-|s|))`` for a logit ``s``: this form never
    overflows and never takes ``log(0)``. The gradient of the mean is
    ``(sigmoid(logits) - y) / logits.size``, with the sigmoid computed from ``exp(-|s|)``
    only, as in ``sigmoid_forward`` (the tests use logits of ±1000).

    Taught in notebook ``03_backpropagation``, just before the heading "Exercise: the
    losses".

    Parameters
    ----------
    logits : ndarray, any shape, e.g. (N,) or (N, 1)
    y : ndarray, same shape as ``logits``, values 0 or 1

    Returns
    -------
    loss : float
    dlogits : ndarray, same shape and dtype as ``logits``
    """
    raise NotImplementedError("binary_cross_entropy_with_logits is not implemented yet")


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of a softmax classifier with integer labels.

    With ``p = softmax(logits)`` row by row, ``loss = -mean_n log p[n, y[n]]`` and
    ``dlogits = (p - onehot(y)) / N``. Subtract each row's maximum before ``exp``
    (softmax does not change) so that large logits do not overflow, and compute
    ``log p`` as ``shifted - log(sum(exp(shifted)))`` rather than ``log(p)``.

    Taught in notebook ``03_backpropagation``, just before the heading "Exercise: the
    losses".

    Parameters
    ----------
    logits : ndarray, shape (N, C)
    y : ndarray of int, shape (N,), values in [0, C)

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (N, C), dtype of ``logits``
    """
    raise NotImplementedError("softmax_cross_entropy is not implemented yet")
