"""Exercise: inverted dropout (notebook ``10_dropout_layernorm``).

In training, every element is dropped (set to 0) independently with
probability ``p`` and the survivors are scaled by ``1 / (1 - p)``, so that the
expected output equals the input and nothing needs rescaling at inference,
where dropout is the identity.

Rules: numpy only; all randomness from the ``rng`` you are given (never
``np.random.rand`` and friends); keep the dtype of ``x``; never modify ``x``.
"""

from __future__ import annotations

import numpy as np


def dropout_forward(
    x: np.ndarray, p: float, rng: np.random.Generator, training: bool = True
) -> tuple[np.ndarray, object]:
    """Inverted dropout: ``out = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``.

    ``p`` is the probability to *drop* an element (keep probability ``1 - p``).
    With ``training=False`` return a copy of ``x`` unchanged (and draw nothing
    from ``rng``).

    Taught in notebook ``10_dropout_layernorm``, just before the heading "Exercise:
    dropout".

    Parameters
    ----------
    x : ndarray, any shape
    p : float
        Drop probability, in [0, 1).
    rng : numpy.random.Generator
    training : bool

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : object
        Whatever :func:`dropout_backward` needs (hint: the scaled mask).

    Notes
    -----
    Keep the dtype: a boolean mask divided by the Python float ``1 - p`` becomes float64
    (booleans are promoted to numpy's default float), and a float64 mask turns a float32
    ``x`` into float64. Convert the mask to ``x.dtype`` first,
    ``(rng.random(x.shape) >= p).astype(x.dtype)``; dividing that by the Python float
    ``1 - p`` keeps ``x.dtype`` (notebook ``02_dense_forward``, dtypes).
    """
    raise NotImplementedError("dropout_forward is not implemented yet")


def dropout_backward(dout: np.ndarray, cache: object) -> np.ndarray:
    """Backward pass of :func:`dropout_forward`: ``dx = dout * mask / (1 - p)``.

    Taught in notebook ``10_dropout_layernorm``, just before the heading "Exercise:
    dropout".

    Use the *same* mask as the forward pass (do not draw a new one). After an
    inference-mode forward, the gradient passes through unchanged.

    Parameters
    ----------
    dout : ndarray, same shape as the forward input
    cache : object
        From :func:`dropout_forward`.

    Returns
    -------
    dx : ndarray, same shape and dtype as ``dout``
    """
    raise NotImplementedError("dropout_backward is not implemented yet")
