"""Exercise: weight initialization (notebook ``05_training``).

Each function returns a new weight matrix of shape (fan_out, fan_in) (that is
(out, in), as ``W`` of a dense layer), float64, drawn from a normal
distribution with mean 0 and the standard deviation given below.

All randomness must come from the generator ``rng`` you are given (for example
``rng.standard_normal(shape)`` or ``rng.normal(0.0, std, size=shape)``); never
use numpy's global random state (``np.random.randn``, ``np.random.seed``, ...),
so that the same ``rng`` always gives the same weights.
"""

from __future__ import annotations

import numpy as np


def small_init(
    fan_out: int, fan_in: int, rng: np.random.Generator, scale: float = 0.01
) -> np.ndarray:
    """Gaussian weights times a small constant: ``W ~ N(0, scale**2)``.

    This is the classic ``randn(out, in) * 0.01``. It works for shallow networks,
    but the signal shrinks layer after layer in deep ones.

    Taught in notebook ``05_training``, just before the heading "Exercise: the three
    initializers".

    Parameters
    ----------
    fan_out, fan_in : int
        Number of output and input units of the layer.
    rng : numpy.random.Generator
    scale : float
        The standard deviation.

    Returns
    -------
    W : ndarray, shape (fan_out, fan_in), float64
    """
    raise NotImplementedError("small_init is not implemented yet")


def xavier_init(fan_out: int, fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot/Xavier normal initialization: std ``sqrt(2 / (fan_in + fan_out))``.

    Keeps the variance of activations and of gradients roughly constant across
    layers with symmetric activations such as tanh (Glorot & Bengio, 2010).

    Taught in notebook ``05_training``, just before the heading "Exercise: the three
    initializers".

    Parameters
    ----------
    fan_out, fan_in : int
    rng : numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (fan_out, fan_in), float64
    """
    raise NotImplementedError("xavier_init is not implemented yet")


def he_init(fan_out: int, fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """He/Kaiming normal initialization: std ``sqrt(2 / fan_in)``.

    ReLU zeroes half of its inputs, halving the variance; the factor 2 makes up
    for it (He et al., 2015).

    Taught in notebook ``05_training``, just before the heading "Exercise: the three
    initializers".

    Parameters
    ----------
    fan_out, fan_in : int
    rng : numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (fan_out, fan_in), float64
    """
    raise NotImplementedError("he_init is not implemented yet")
