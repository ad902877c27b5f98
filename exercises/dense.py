"""Exercise: the dense (fully connected) layer (notebooks ``02`` and ``04``).

Conventions: rows are examples, so a batch ``x`` has shape (N, in). The weight
matrix ``W`` has shape (out, in), as in ``z = W a + b`` for one example; for a
batch this becomes ``z = x @ W.T + b`` with ``b`` of shape (out,).

Rules: numpy only; keep the dtype of the inputs; never modify the arrays you
are given.
"""

from __future__ import annotations

import numpy as np


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, object]:
    """Affine map of a batch: ``z = x @ W.T + b``.

    Per example n and output unit j: ``z[n, j] = sum_k W[j, k] x[n, k] + b[j]``.

    Taught in notebook ``02_dense_forward``, just before the heading "Exercise: the
    dense forward pass".

    Parameters
    ----------
    x : ndarray, shape (N, in)
    W : ndarray, shape (out, in)
    b : ndarray, shape (out,)

    Returns
    -------
    z : ndarray, shape (N, out)
    cache : object
        Whatever :func:`dense_backward` needs (hint: ``x`` and ``W``).
    """
    raise NotImplementedError("dense_forward is not implemented yet")


def dense_backward(dz: np.ndarray, cache: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`dense_forward`.

    With upstream gradient ``dz = dL/dz`` of shape (N, out)::

        dx = dz @ W          # (N, in)
        dW = dz.T @ x        # (out, in): the sum over the batch of outer products
        db = sum_n dz[n, :]  # (out,)

    Check the shapes: each gradient has exactly the shape of the array it belongs
    to. Do not divide by N here: the loss's gradient already carries the 1/N.

    Taught in notebook ``04_network_backward``, just before the heading "Exercises: the
    dense backward pass and a whole network".

    Parameters
    ----------
    dz : ndarray, shape (N, out)
    cache : object
        From :func:`dense_forward`.

    Returns
    -------
    dx : ndarray, shape (N, in)
    dW : ndarray, shape (out, in)
    db : ndarray, shape (out,)
    """
    raise NotImplementedError("dense_backward is not implemented yet")
