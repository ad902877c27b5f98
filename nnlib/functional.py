"""Stateless kernels: forwards return ``(out, cache)``, backwards take ``(dout, cache)``.

Conventions
-----------
* Rows are examples: a batch ``x`` has shape (N, D).
* A dense layer's weight ``W`` has shape (out, in) as in ``z = W a + b``; batched, this
  is ``Z = X @ W.T + b`` with ``b`` of shape (out,).
* Kernels never change the floating dtype: float32 in gives float32 out, gradients
  included.
* The cache is documented in each forward's docstring; treat it as opaque outside the
  matching backward.
* Losses return ``(loss, dlogits)`` directly: the gradient of the scalar loss with respect
  to its first argument, already divided by the batch size.

Every kernel is written to be numerically stable: no overflow warnings, no ``log(0)``.
"""

from __future__ import annotations

import numpy as np

from nnlib._checks import (
    MIN_STATISTICS_BATCH,
    as_batch,
    check_drop_probability,
    check_shape,
    check_statistics_batch,
    class_labels,
    same_shape,
)

__all__ = [
    "dense_forward",
    "dense_backward",
    "relu_forward",
    "relu_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "sigmoid",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_fast",
    "batchnorm_inference_forward",
    "batchnorm_inference_backward",
    "batchnorm_running_update",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
]


# --------------------------------------------------------------------------- dense
def dense_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray | None
) -> tuple[np.ndarray, tuple]:
    """Affine map of a batch: ``z = x @ W.T + b``.

    Parameters
    ----------
    x : ndarray, shape (N, in)
    W : ndarray, shape (out, in)
    b : ndarray, shape (out,), or None
        None for a layer without bias (``z = x @ W.T``).

    Returns
    -------
    z : ndarray, shape (N, out)
    cache : tuple ``(x, W)``
        The input and the weights, both needed by the backward pass.
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"dense_forward: W must have shape (out, in), got shape {W.shape}.")
    x = as_batch(x, "dense_forward", W.shape[1])
    z = x @ W.T
    if b is not None:
        check_shape(b, (W.shape[0],), "dense_forward", "b")
        z += b
    return z, (x, W)


def dense_backward(dz: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`dense_forward`.

    Parameters
    ----------
    dz : ndarray, shape (N, out)
        Upstream gradient dL/dz.
    cache : tuple
        From :func:`dense_forward`.

    Returns
    -------
    dx : ndarray, shape (N, in)
        ``dz @ W``.
    dW : ndarray, shape (out, in)
        ``dz.T @ x``: the sum over the batch of the outer products delta a^T.
    db : ndarray, shape (out,)
        ``dz.sum(axis=0)``.
    """
    x, W = cache
    check_shape(dz, (x.shape[0], W.shape[0]), "dense_backward", "dz")
    return dz @ W, dz.T @ x, dz.sum(axis=0)


# --------------------------------------------------------------------------- activations
def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit ``max(0, x)``, elementwise, any shape.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ndarray of bool, same shape as ``x``
        The mask ``x > 0``.
    """
    x = np.asarray(x)
    mask = x > 0
    return x * mask, mask


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`relu_forward`: ``dout * (x > 0)`` (the subgradient at 0 is 0)."""
    same_shape(cache, dout, "relu_backward", "x", "dout")
    return dout * cache


def leaky_relu_forward(x: np.ndarray, alpha: float = 0.01) -> tuple[np.ndarray, tuple]:
    """Leaky ReLU: ``x`` where ``x > 0`` and ``alpha * x`` elsewhere; any shape.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : tuple ``(mask, alpha)`` with ``mask = x > 0``
    """
    x = np.asarray(x)
    mask = x > 0
    return np.where(mask, x, alpha * x).astype(x.dtype, copy=False), (mask, alpha)


def leaky_relu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of :func:`leaky_relu_forward`."""
    mask, alpha = cache
    same_shape(mask, dout, "leaky_relu_backward", "x", "dout")
    return np.where(mask, dout, alpha * dout).astype(dout.dtype, copy=False)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, exact at the extremes, for any finite ``x``.

    For very negative ``x``, ``exp(-x)`` overflows to ``inf`` (past about 709 in float64,
    88 in float32), and ``1 / (1 + inf)`` is exactly 0, which is the correctly rounded
    answer; that overflow is expected and silenced. So ``sigmoid(-1000)`` is exactly 0 and
    ``sigmoid(1000)`` exactly 1, with no warning, and small outputs keep full relative
    precision (unlike ``1 - sigmoid(-x)``). Integer input gives float64.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    out = np.negative(x, out=np.empty_like(x))  # an array even for 0-d input
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid, elementwise, any shape.

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray
        ``out`` itself, since ``sigmoid'(x) = out * (1 - out)``.
    """
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`sigmoid_forward`: ``dout * s * (1 - s)``."""
    same_shape(cache, dout, "sigmoid_backward", "x", "dout")
    dx = np.subtract(1.0, cache)
    dx *= cache
    dx *= dout
    return dx


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent, elementwise, any shape.

    Returns
    -------
    out : ndarray, same shape as ``x``
    cache : ndarray
        ``out`` itself, since ``tanh'(x) = 1 - out**2``.
    """
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of :func:`tanh_forward`: ``dout * (1 - t**2)``."""
    same_shape(cache, dout, "tanh_backward", "x", "dout")
    dx = np.multiply(cache, cache)
    np.subtract(1.0, dx, out=dx)
    dx *= dout
    return dx


# --------------------------------------------------------------------------- losses
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
    logits = as_batch(logits, "softmax_cross_entropy")
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
    logits = np.asarray(logits)
    y = np.asarray(y)
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
    pred = np.asarray(pred)
    target = np.asarray(target)
    same_shape(pred, target, "mse_loss", "pred", "target")
    diff = pred - target.astype(pred.dtype, copy=False)
    return float(np.mean(diff * diff)), diff * (2.0 / diff.size)


# --------------------------------------------------------------------------- batch norm
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


# --------------------------------------------------------------------------- dropout
def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator, training: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest.

    In training, ``out = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``, so the
    expected output equals ``x`` and inference needs no rescaling. In inference
    (``training=False``) it is the identity.

    Parameters
    ----------
    x : ndarray, any shape
    p : float
        Drop probability, in [0, 1).
    rng : numpy.random.Generator
        The only source of randomness.
    training : bool

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ndarray or None
        The scaled mask ``mask / (1 - p)`` in the dtype of ``x``; None in inference.
    """
    check_drop_probability(p, "dropout_forward")
    x = np.asarray(x)
    if not training or p == 0.0:
        return x.copy(), None
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "dropout_forward: rng must be a numpy.random.Generator, "
            f"such as np.random.default_rng(0); got {type(rng).__name__}."
        )
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    mask = (rng.random(x.shape) >= p).astype(dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """Backward pass of :func:`dropout_forward`: ``dout * mask / (1 - p)``."""
    if cache is None:
        return dout.copy()
    same_shape(cache, dout, "dropout_backward", "x", "dout")
    return dout * cache
