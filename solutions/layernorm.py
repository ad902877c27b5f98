"""Exercise: layer normalization (notebook ``10_dropout_layernorm``).

Like batch normalization with the axes swapped: each *row* (example) of x of
shape (N, D) is normalized over its D features::

    mu[n]  = mean_j x[n, j]
    var[n] = mean_j (x[n, j] - mu[n])**2          # biased
    xhat   = (x - mu) / sqrt(var + eps)
    out    = gamma * xhat + beta                  # gamma, beta of shape (D,)

It behaves the same in training and inference and works for a batch of one.

Rules: numpy only; keep the dtype of ``x``; never modify the arrays you are given.
"""

from __future__ import annotations

import numpy as np


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, object]:
    """Layer normalization of each row, then a per-feature scale and shift.

    Taught in notebook ``10_dropout_layernorm``, just before the heading "Exercise:
    layer normalization".

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)
    eps : float

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : object
        Whatever :func:`layernorm_backward` needs.
    """
    # BEGIN SOLUTION
    mu = x.mean(axis=1, keepdims=True)
    xmu = x - mu
    invstd = 1.0 / np.sqrt(np.mean(xmu * xmu, axis=1, keepdims=True) + eps)
    xhat = xmu * invstd
    return gamma * xhat + beta, (xhat, invstd, gamma)
    # END SOLUTION


def layernorm_backward(
    dout: np.ndarray, cache: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`layernorm_forward`.

    Notebook ``10_dropout_layernorm`` (layer normalization) draws the graph of one row
    and gives the staged steps, the batch-normalization ones of notebook
    ``07_batchnorm_forward`` (section 2) with the axis swapped: per row, over its D
    features, with ``dxhat = dout * gamma`` (``gamma`` now varies along the normalized
    axis, so it stays inside the sums), first ``dvar``, then ``dmu``, then ``dx``. The
    parameter gradients sum over the batch, as for batch normalization. Check each stage
    numerically before you move on; the compact form is optional.

    Taught in notebook ``10_dropout_layernorm``, just before the heading "Exercise:
    layer normalization".

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : object
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    # BEGIN SOLUTION
    xhat, invstd, gamma = cache
    d = xhat.shape[1]
    dxhat = dout * gamma
    dx = (invstd / d) * (
        d * dxhat
        - dxhat.sum(axis=1, keepdims=True)
        - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)
    )
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)
    # END SOLUTION
