"""Softmax, log-softmax and the losses; each loss returns ``(loss, dlogits)``."""

from __future__ import annotations

import numpy as np

from nnlib._checks import as_batch, as_float, class_labels, same_shape
from nnlib.functional.activations import sigmoid


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of a (N, C) array, stable for logits of any magnitude."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a (N, C) array; each row sums to 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=1, keepdims=True)
    return e


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of a softmax classifier, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (N, C)
        Unnormalized class scores.
    y : ndarray of int, shape (N,)
        Class labels in ``[0, C)``.

    Returns
    -------
    loss : float
        ``-mean_i log softmax(logits)[i, y_i]``.
    dlogits : ndarray, shape (N, C)
        ``(softmax(logits) - onehot(y)) / N``, in the dtype of ``logits``.
    """
    logits = as_batch(as_float(logits, "softmax_cross_entropy"), "softmax_cross_entropy")
    n, c = logits.shape
    y = class_labels(y, n, c, "softmax_cross_entropy")
    shifted = logits - logits.max(axis=1, keepdims=True)
    dlogits = np.exp(shifted)
    total = dlogits.sum(axis=1, keepdims=True)  # >= 1: the largest term is exp(0)
    rows = np.arange(n)
    # -log softmax(logits)[i, y_i] = log(total_i) - shifted[i, y_i]
    loss = float(np.add.reduce(np.log(total[:, 0]) - shifted[rows, y]) / n)  # np.mean
    dlogits /= total
    dlogits[rows, y] -= 1.0
    dlogits /= n
    return loss, dlogits


def binary_cross_entropy_with_logits(
    logits: np.ndarray, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of ``sigmoid(logits)`` against 0/1 targets, and its gradient.

    Computed as ``max(s, 0) - s*y + log(1 + exp(-|s|))``, which never takes ``log(0)``.

    Parameters
    ----------
    logits : ndarray, any shape (typically (N,) or (N, 1))
    y : ndarray, same shape as ``logits``
        Targets in [0, 1].

    Returns
    -------
    loss : float
        Mean over all elements.
    dlogits : ndarray, same shape as ``logits``
        ``(sigmoid(logits) - y) / logits.size``.
    """
    logits = as_float(logits, "binary_cross_entropy_with_logits")
    y = as_float(y, "binary_cross_entropy_with_logits")
    same_shape(logits, y, "binary_cross_entropy_with_logits", "logits", "y")
    y = y.astype(logits.dtype, copy=False)
    losses = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
    dlogits = (sigmoid(logits) - y) / logits.size
    return float(losses.mean()), dlogits


def mse_loss(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements, and its gradient.

    Parameters
    ----------
    pred : ndarray, any shape
    target : ndarray, same shape as ``pred``

    Returns
    -------
    loss : float
        ``mean((pred - target)**2)``.
    dpred : ndarray, same shape as ``pred``
        ``2 * (pred - target) / pred.size``.
    """
    pred = as_float(pred, "mse_loss")
    target = as_float(target, "mse_loss")
    same_shape(pred, target, "mse_loss", "pred", "target")
    diff = pred - target.astype(pred.dtype, copy=False)
    return float(np.mean(diff * diff)), diff * (2.0 / diff.size)
