"""Exercise: batch normalization (notebooks 07 to 09).

The forward pass and the staged backward pass are taught in ``07_batchnorm_forward``, the
compact backward pass in ``08_batchnorm_backward``, inference and running statistics in
``09_batchnorm_inference``.

Per feature j, over the N rows of a batch x of shape (N, D) (Ioffe & Szegedy,
2015, Algorithm 1)::

    mu[j]   = mean_n x[n, j]
    var[j]  = mean_n (x[n, j] - mu[j])**2        # biased: divide by N, not N - 1
    xhat    = (x - mu) / sqrt(var + eps)
    out     = gamma * xhat + beta

In inference the batch statistics are replaced by running averages collected
during training (Algorithm 2).

Rules: numpy only; statistics over axis 0 (the batch), one per feature; keep the
dtype of ``x``; never modify the arrays you are given.
"""

from __future__ import annotations

import numpy as np


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, object]:
    """Batch normalization in training mode, with the statistics of this batch.

    Taught in notebook ``07_batchnorm_forward``, just before the heading "Exercise: the
    forward pass".

    Parameters
    ----------
    x : ndarray, shape (N, D), N > 1
    gamma, beta : ndarray, shape (D,)
        Learned scale and shift.
    eps : float
        Added to the variance, inside the square root.

    Returns
    -------
    out : ndarray, shape (N, D)
    cache : object
        Whatever the two backward functions need (both receive this same cache;
        they will need at least ``x`` or ``xhat``, ``mu``, ``var``, ``gamma`` and
        ``eps``). The batch mean and variance are also what
        :func:`running_stats_update` consumes.
    """
    # BEGIN SOLUTION
    mu = x.mean(axis=0)
    xmu = x - mu
    var = np.mean(xmu * xmu, axis=0)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = xmu * invstd
    out = gamma * xhat + beta
    return out, (x, xhat, mu, var, invstd, gamma, eps)
    # END SOLUTION


def batchnorm_backward(
    dout: np.ndarray, cache: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward`, node by node through the graph.

    With sums over the batch axis (the paper's Section 3, whose m is our N)::

        dxhat  = dout * gamma
        dvar   = sum(dxhat * (x - mu)) * (-1/2) * (var + eps)**(-3/2)
        dmu    = sum(-dxhat / sqrt(var + eps)) + dvar * sum(-2 (x - mu)) / N
        dx     = dxhat / sqrt(var + eps) + dvar * 2 (x - mu) / N + dmu / N
        dgamma = sum(dout * xhat)
        dbeta  = sum(dout)

    Every row of the batch influences mu and var, so ``dx`` has three terms; the
    ``dmu / N`` term is the one most often forgotten.

    Taught in notebook ``07_batchnorm_forward``, just before the heading "Exercise: the
    backward pass, staged".

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : object
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    # BEGIN SOLUTION
    x, xhat, mu, var, invstd, gamma, eps = cache
    m = x.shape[0]
    xmu = x - mu
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * invstd**3
    dmu = np.sum(-dxhat * invstd, axis=0) + dvar * np.sum(-2.0 * xmu, axis=0) / m
    dx = dxhat * invstd + dvar * 2.0 * xmu / m + dmu / m
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)
    # END SOLUTION


def batchnorm_backward_fast(
    dout: np.ndarray, cache: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward` in the simplified closed form.

    Simplifying the staged equations gives, per feature, with N rows::

        dx = gamma / (N * sqrt(var + eps)) * (N * dout - sum(dout) - xhat * sum(dout * xhat))

    It must agree with :func:`batchnorm_backward` up to rounding.

    Taught in notebook ``08_batchnorm_backward``, just before the heading "Exercise: the
    backward pass, compact".

    Parameters
    ----------
    dout : ndarray, shape (N, D)
    cache : object
        From :func:`batchnorm_forward`.

    Returns
    -------
    dx : ndarray, shape (N, D)
    dgamma, dbeta : ndarray, shape (D,)
    """
    # BEGIN SOLUTION
    x, xhat, mu, var, invstd, gamma, eps = cache
    m = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = (gamma * invstd / m) * (m * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
    # END SOLUTION


def batchnorm_inference(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Batch normalization in inference mode, with the running statistics.

    ``out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta``: a fixed
    affine map per feature, so any batch size works (even 1) and the rows do not
    influence each other.

    Taught in notebook ``09_batchnorm_inference``, just before the heading "Exercise:
    inference and running statistics".

    Parameters
    ----------
    x : ndarray, shape (N, D)
    gamma, beta, running_mean, running_var : ndarray, shape (D,), in the dtype of ``x``
    eps : float

    Returns
    -------
    out : ndarray, shape (N, D)
    """
    # BEGIN SOLUTION
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    # END SOLUTION


def running_stats_update(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    batch_mean: np.ndarray,
    batch_var: np.ndarray,
    n: int,
    momentum: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """New running statistics after one training batch (PyTorch's convention).

    ``momentum`` is the weight of the *new* batch::

        new_mean = (1 - momentum) * running_mean + momentum * batch_mean
        new_var  = (1 - momentum) * running_var  + momentum * batch_var * n / (n - 1)

    ``batch_var`` is the biased variance used to normalize the batch; the running
    variance stores the unbiased estimate, hence the factor n / (n - 1).
    (Keras's momentum is the weight of the *old* value, 1 - this momentum, and Keras
    stores the biased ``batch_var`` without the factor n / (n - 1): notebook 09 measures
    the difference.)

    Taught in notebook ``09_batchnorm_inference``, just before the heading "Exercise:
    inference and running statistics".

    Parameters
    ----------
    running_mean, running_var : ndarray, shape (D,)
        Current running statistics (not modified: return new arrays). Note that
        ``nnlib.functional.batchnorm_running_update`` computes the same formula but
        updates its arrays in place, as a layer updates its buffers; this exercise, like
        every other one, returns new arrays instead.
    batch_mean, batch_var : ndarray, shape (D,)
        Mean and biased variance of the batch.
    n : int
        Batch size, > 1.
    momentum : float

    Returns
    -------
    new_mean, new_var : ndarray, shape (D,)
    """
    # BEGIN SOLUTION
    new_mean = (1.0 - momentum) * running_mean + momentum * batch_mean
    new_var = (1.0 - momentum) * running_var + momentum * batch_var * (n / (n - 1))
    return new_mean, new_var
    # END SOLUTION
