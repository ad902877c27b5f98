"""Inverted dropout."""

from __future__ import annotations

import numpy as np

from nnlib._checks import as_float, check_drop_probability, same_shape


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
    out : ndarray, same shape and dtype as ``x`` (float64 for integer or boolean ``x``)
    cache : ndarray or None
        The scaled mask ``mask / (1 - p)`` in the dtype of ``out``; None in inference.
    """
    check_drop_probability(p, "dropout_forward")
    x = as_float(x, "dropout_forward")
    if not training or p == 0.0:
        return x.copy(), None
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "dropout_forward: rng must be a numpy.random.Generator, "
            f"such as np.random.default_rng(0); got {type(rng).__name__}."
        )
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """Backward pass of :func:`dropout_forward`: ``dout * mask / (1 - p)``."""
    if cache is None:
        return dout.copy()
    same_shape(cache, dout, "dropout_backward", "x", "dout")
    return dout * cache
