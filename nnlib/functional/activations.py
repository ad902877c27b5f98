"""Elementwise activation kernels: ReLU, leaky ReLU, sigmoid and tanh."""

from __future__ import annotations

import numpy as np

from nnlib._checks import as_float, same_shape


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
    x = as_float(x, "leaky_relu_forward")
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
    88 in float32), and ``1 / (1 + inf)`` is exactly 0. The true value there is below the
    smallest normal number (about 2.2e-308 in float64, 1.2e-38 in float32), so 0 is off by
    less than that, and it is the correctly rounded answer from about -745 (float64) and
    -104 (float32) on; that overflow is expected and silenced. So ``sigmoid(-1000)`` is
    exactly 0 and ``sigmoid(1000)`` exactly 1, with no warning, and small outputs keep full
    relative precision (unlike ``1 - sigmoid(-x)``). Integer input gives float64.
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
