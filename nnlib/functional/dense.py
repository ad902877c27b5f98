"""The dense (affine) kernel: ``Z = X @ W.T + b`` and its backward."""

from __future__ import annotations

import numpy as np

from nnlib._checks import as_batch, check_shape


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
