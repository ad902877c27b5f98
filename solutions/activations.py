"""Exercise: activation functions, forward and backward (notebook ``02_dense_forward``).

Each forward takes an array of any shape and returns ``(out, cache)``; the
matching backward takes the upstream gradient ``dout`` (same shape) and that
``cache``, and returns ``dx = dout * f'(x)`` (the chain rule, elementwise). What
you put in the cache is up to you: store whatever the backward pass needs.

Rules: numpy only; keep the dtype of the input (float32 in, float32 out); never
modify the arrays you are given; no warnings (overflow, divide by zero).
"""

from __future__ import annotations

import numpy as np


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, object]:
    """Logistic sigmoid, elementwise: ``s = 1 / (1 + exp(-x))``.

    ``exp(-x)`` overflows for very negative ``x`` (try ``x = -1000``): compute
    ``exp`` only of ``-|x|`` and use ``sigmoid(x) = exp(x) / (1 + exp(x))`` for
    negative ``x``, so that any finite input works without a warning.

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    activations".

    Parameters
    ----------
    x : ndarray, any shape, float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``, values in [0, 1]
    cache : object
        Whatever :func:`sigmoid_backward` needs (hint: ``s`` itself).
    """
    # BEGIN SOLUTION
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    out = np.where(x >= 0, r, e * r).astype(x.dtype, copy=False)
    return out, out
    # END SOLUTION


def sigmoid_backward(dout: np.ndarray, cache: object) -> np.ndarray:
    """Backward pass of :func:`sigmoid_forward`: ``dx = dout * s * (1 - s)``.

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    activations".

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
        Upstream gradient dL/ds.
    cache : object
        From :func:`sigmoid_forward`.

    Returns
    -------
    dx : ndarray, same shape and dtype as ``dout``
    """
    # BEGIN SOLUTION
    s = cache
    return dout * s * (1.0 - s)
    # END SOLUTION


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, object]:
    """Rectified linear unit, elementwise: ``out = max(0, x)``.

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    activations".

    Parameters
    ----------
    x : ndarray, any shape, float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : object
        Whatever :func:`relu_backward` needs (hint: where was ``x > 0``?).
    """
    # BEGIN SOLUTION
    x = np.asarray(x)
    mask = x > 0
    return x * mask, mask
    # END SOLUTION


def relu_backward(dout: np.ndarray, cache: object) -> np.ndarray:
    """Backward pass of :func:`relu_forward`: ``dx = dout * (x > 0)``.

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    activations".

    The gradient passes where the input was positive and is 0 elsewhere, including
    at exactly ``x = 0`` (the convention: ReLU has no derivative there, and 0 is the
    value nnlib, PyTorch and TensorFlow use). Note that it is the sign of the *input*
    ``x`` that matters, not the sign of ``dout``.

    Return a new array and leave ``dout`` alone: ``dx = dout; dx[x <= 0] = 0`` does
    not copy, ``dx`` *is* ``dout``, so it would zero entries of the caller's array
    (notebook ``01_chain_rule``, views and copies).

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
    cache : object
        From :func:`relu_forward`.

    Returns
    -------
    dx : ndarray, same shape and dtype as ``dout``
    """
    # BEGIN SOLUTION
    return dout * cache
    # END SOLUTION


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, object]:
    """Hyperbolic tangent, elementwise: ``t = tanh(x)`` (use ``np.tanh``).

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    activations".

    Parameters
    ----------
    x : ndarray, any shape, float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``, values in [-1, 1]
    cache : object
        Whatever :func:`tanh_backward` needs.
    """
    # BEGIN SOLUTION
    out = np.tanh(x)
    return out, out
    # END SOLUTION


def tanh_backward(dout: np.ndarray, cache: object) -> np.ndarray:
    """Backward pass of :func:`tanh_forward`: ``dx = dout * (1 - t**2)``.

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    activations".

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
    cache : object
        From :func:`tanh_forward`.

    Returns
    -------
    dx : ndarray, same shape and dtype as ``dout``
    """
    # BEGIN SOLUTION
    t = cache
    return dout * (1.0 - t * t)
    # END SOLUTION
