"""Exercise: the numerical gradient (notebook ``01_chain_rule``).

Backpropagation computes gradients with the chain rule; a numerical gradient
computes them by brute force from function values. Being slow and approximate,
it is useless for training but perfect for *checking* a backward pass.

Fill in the body of each function (replace ``raise NotImplementedError``) using
numpy only, then run ``check("gradients")`` in the notebook or
``python -m nnlib grade`` in a terminal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Centered-difference estimate of the gradient of a scalar function.

    For every entry ``x[i]`` (``i`` a multi-index, any number of dimensions)::

        grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)

    where ``e_i`` is 1 at position ``i`` and 0 elsewhere. The error of this
    centered formula shrinks like h**2 (the one-sided ``(f(x + h e_i) - f(x)) / h``
    only like h), which is why gradient checks use it.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: the
    numerical gradient".

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``x`` and returns a scalar (float).
    x : ndarray, any shape, float64
        The point where the gradient is taken. You may perturb it in place while
        computing, but it must hold its original values when you return (the
        caller's array must not change), and ``x`` need not be contiguous.
    h : float
        Step size.

    Returns
    -------
    grad : ndarray, same shape as ``x``, float64
        The estimated gradient df/dx.

    Notes
    -----
    The library's ``nnlib.numerical_gradient(f, x, dout=None, h=1e-6)`` is the same
    estimate for functions that return arrays: its third argument is an upstream gradient
    ``dout`` (it differentiates ``sum(f(x) * dout)``), and the step size comes fourth. Here,
    for a scalar ``f``, the third argument is the step size ``h``.
    """
    # BEGIN SOLUTION
    x_work = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros(x_work.shape, dtype=np.float64)
    for i in np.ndindex(*x_work.shape):
        old = x_work[i]
        x_work[i] = old + h
        plus = float(f(x_work))
        x_work[i] = old - h
        minus = float(f(x_work))
        x_work[i] = old
        grad[i] = (plus - minus) / (2.0 * h)
    return grad
    # END SOLUTION
