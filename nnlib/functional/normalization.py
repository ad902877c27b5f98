"""Batch normalization (training, inference, running statistics) and layer normalization."""

from __future__ import annotations

import numpy as np

from nnlib._checks import (
    MIN_STATISTICS_BATCH,
    as_batch,
    check_shape,
    check_statistics_batch,
    same_shape,
)


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, tuple]:
    """Batch normalization with the statistics of this batch (training mode).

    Per feature j over the N rows (the paper's Algorithm 1)::

        mu  = mean(x[:, j])
        var = mean((x[:, j] - mu)**2)            # biased: divides by N
        xhat = (x[:, j] - mu) / sqrt(var + eps)
        out = gamma[j] * xhat + beta[j]

    The variance is computed in two passes (mean first, then the mean of squared
    deviations), which stays accurate in float32 where ``E[x^2] - E[x]^2`` does not.

    Parameters
    ----------
    x : ndarray, shape (N, D), N > 1
    gamma, beta : ndarray, shape (D,)
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple ``(x, xhat, mu, var, invstd, gamma, eps)``
        ``mu``, ``var`` and ``invstd = 1/sqrt(var + eps)`` have shape (D,); the staged
        backward uses ``x``, ``mu`` and ``var``, the compact one ``xhat`` and ``invstd``.
        The batch statistics ``mu`` and ``var`` also feed
        :func:`batchnorm_running_update`.
    """
    x = as_batch(x, "batchnorm_forward")
    d = x.shape[1]
    check_shape(gamma, (d,), "batchnorm_forward", "gamma")
    check_shape(beta, (d,), "batchnorm_forward", "beta")
    check_statistics_batch(x, "batchnorm_forward", "Use the running statistics "
                           "(batchnorm_inference_forward) for single examples.")
    n = x.shape[0]
    mu = np.add.reduce(x, axis=0)  # x.mean(axis=0) and out.mean(axis=0) below, bit for bit,
    mu /= n                        # without np.mean's Python-level overhead
    xmu = x - mu
    out = np.multiply(xmu, xmu)  # squared deviations; the buffer is reused for the output
    var = np.add.reduce(out, axis=0)
    var /= n
    invstd = var + eps
    np.sqrt(invstd, out=invstd)
    np.reciprocal(invstd, out=invstd)
    xhat = np.multiply(xmu, invstd, out=xmu)
    np.multiply(xhat, gamma, out=out)
    out += beta
    return out, (x, xhat, mu, var, invstd, gamma, eps)


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward`, stage by stage through the graph.

    These are the paper's equations (Ioffe & Szegedy 2015, Section 3), one node at a
    time, with m = N::

        dxhat = dout * gamma
        dvar  = sum(dxhat * (x - mu)) * -1/2 * (var + eps)^(-3/2)
        dmu   = sum(-dxhat / sqrt(var + eps)) + dvar * sum(-2 (x - mu)) / m
        dx    = dxhat / sqrt(var + eps) + dvar * 2 (x - mu) / m + dmu / m
        dgamma = sum(dout * xhat),  dbeta = sum(dout)

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : tuple
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    x, xhat, mu, var, invstd, gamma, eps = cache
    same_shape(x, dout, "batchnorm_backward", "x", "dout")
    m = x.shape[0]
    xmu = x - mu
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * invstd**3
    dmu = np.sum(-dxhat * invstd, axis=0) + dvar * np.sum(-2.0 * xmu, axis=0) / m
    dx = dxhat * invstd + dvar * 2.0 * xmu / m + dmu / m
    return dx, dgamma, dbeta


def batchnorm_backward_fast(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward` in the compact closed form.

    Simplifying the staged graph gives, per feature, with m = N::

        dx = gamma * invstd / m * (m * dout - sum(dout) - xhat * sum(dout * xhat))

    It reuses ``dbeta = sum(dout)`` and ``dgamma = sum(dout * xhat)``, so it makes
    fewer passes over the batch than :func:`batchnorm_backward` and returns the same
    values up to rounding.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    x, xhat, mu, var, invstd, gamma, eps = cache
    same_shape(xhat, dout, "batchnorm_backward_fast", "x", "dout")
    m = xhat.shape[0]
    dbeta = dout.sum(axis=0)
    tmp = np.multiply(dout, xhat)
    dgamma = tmp.sum(axis=0)
    dx = np.multiply(dout, m)
    dx -= dbeta
    dx -= np.multiply(xhat, dgamma, out=tmp)
    dx *= (gamma * invstd) / m
    return dx, dgamma, dbeta


def batchnorm_inference_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> tuple[np.ndarray, tuple]:
    """Batch normalization with fixed (running) statistics: the paper's Algorithm 2.

    A fixed affine map per feature, ``out = gamma * (x - running_mean) / sqrt(running_var + eps)
    + beta``; any batch size, including 1, is accepted and rows do not interact.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta, running_mean, running_var : ndarray, shape (D,)

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple ``(xhat, invstd, gamma)``
    """
    x = as_batch(x, "batchnorm_inference_forward")
    d = x.shape[1]
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        check_shape(a, (d,), "batchnorm_inference_forward", name)
    invstd = 1.0 / np.sqrt(running_var + eps)
    xhat = (x - running_mean) * invstd
    return gamma * xhat + beta, (xhat, invstd, gamma)


def batchnorm_inference_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_inference_forward` (the statistics are constants).

    Returns
    -------
    dx : ndarray, shape (N, D)
        ``dout * gamma * invstd``.
    dgamma, dbeta : ndarray, shape (D,)
    """
    xhat, invstd, gamma = cache
    same_shape(xhat, dout, "batchnorm_inference_backward", "x", "dout")
    return dout * (gamma * invstd), np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_running_update(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    batch_mean: np.ndarray,
    batch_var: np.ndarray,
    n: int,
    momentum: float = 0.1,
) -> None:
    """Update running statistics in place from one training batch (PyTorch's convention).

    ``momentum`` is the weight of the new batch::

        running_mean = (1 - momentum) * running_mean + momentum * batch_mean
        running_var  = (1 - momentum) * running_var  + momentum * batch_var * n / (n - 1)

    The stored variance is the unbiased estimate (the paper's Algorithm 2), while the
    normalization itself uses the biased ``batch_var``. Keras writes the same rule with
    ``momentum_keras = 1 - momentum`` and stores the biased variance.

    The exercise ``running_stats_update`` (notebook 09) computes the same formula but
    returns new arrays and leaves its arguments unchanged.

    Parameters
    ----------
    running_mean, running_var : ndarray, shape (D,)
        Updated in place.
    batch_mean, batch_var : ndarray, shape (D,)
        The batch mean and the biased batch variance (``mu`` and ``var`` of the cache).
    n : int
        Batch size, > 1.
    momentum : float
        In [0, 1].
    """
    if n < MIN_STATISTICS_BATCH:
        raise ValueError(f"batchnorm_running_update: needs a batch of n > 1 examples, got n={n}.")
    keep = 1.0 - momentum
    running_mean *= keep
    running_mean += momentum * batch_mean
    running_var *= keep
    running_var += (momentum * n / (n - 1)) * batch_var


# --------------------------------------------------------------------------- layer norm
def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, tuple]:
    """Layer normalization: normalize each row over its D features.

    Identical in form to batch normalization with the roles of the axes swapped, so it
    behaves the same in training and inference and accepts a batch of one.

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta : ndarray, shape (D,)

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : tuple ``(xhat, invstd, gamma)`` with ``invstd`` of shape (N, 1)
    """
    x = as_batch(x, "layernorm_forward")
    d = x.shape[1]
    check_shape(gamma, (d,), "layernorm_forward", "gamma")
    check_shape(beta, (d,), "layernorm_forward", "beta")
    mu = x.mean(axis=1, keepdims=True)
    xmu = x - mu
    invstd = 1.0 / np.sqrt(np.mean(xmu * xmu, axis=1, keepdims=True) + eps)
    xhat = xmu * invstd
    return gamma * xhat + beta, (xhat, invstd, gamma)


def layernorm_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`layernorm_forward` (compact form, per row).

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    xhat, invstd, gamma = cache
    same_shape(xhat, dout, "layernorm_backward", "x", "dout")
    d = xhat.shape[1]
    dxhat = dout * gamma
    dx = (invstd / d) * (
        d * dxhat
        - dxhat.sum(axis=1, keepdims=True)
        - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)
    )
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)
