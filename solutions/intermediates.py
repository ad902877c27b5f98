"""Exercise: backprop through every intermediate (notebook ``08_batchnorm_backward``).

One training step of ``X -> Dense -> BatchNorm -> tanh -> Dense -> softmax cross-entropy``,
written out as a chain of named arrays (N rows, D inputs, H hidden units, C classes)::

    hprebn         = X @ W1.T + b1                      # (N, H)
    bnmeani        = hprebn.mean(axis=0)                # (H,)
    bndiff         = hprebn - bnmeani                   # (N, H)
    bndiff2        = bndiff ** 2                        # (N, H)
    bnvar          = bndiff2.mean(axis=0)               # (H,)   biased: divide by N
    bnvar_inv      = (bnvar + eps) ** -0.5              # (H,)
    bnraw          = bndiff * bnvar_inv                 # (N, H)
    hpreact        = gamma * bnraw + beta               # (N, H)
    h              = np.tanh(hpreact)                   # (N, H)
    logits         = h @ W2.T + b2                      # (N, C)
    logit_maxes    = logits.max(axis=1, keepdims=True)  # (N, 1)
    norm_logits    = logits - logit_maxes               # (N, C)
    counts         = np.exp(norm_logits)                # (N, C)
    counts_sum     = counts.sum(axis=1, keepdims=True)  # (N, 1)
    counts_sum_inv = counts_sum ** -1                   # (N, 1)
    probs          = counts * counts_sum_inv            # (N, C)
    logprobs       = np.log(probs)                      # (N, C)
    loss           = -logprobs[np.arange(N), y].mean()  # a number

You compute ``d loss / d name`` for every intermediate and every parameter, one line (or
two) each, from the loss backwards: each gradient from the ones already computed.

Rules: numpy only; never modify the arrays you are given; every gradient has the shape
of its array; where an array feeds two later ones (``bndiff``, ``counts``, ``hprebn``,
``logits``), its gradient is the *sum* of what comes back along both paths.
"""

from __future__ import annotations

import numpy as np


def intermediate_grads(
    X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray], inter: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The gradient of the loss with respect to every intermediate (see the module docstring).

    Taught in notebook ``08_batchnorm_backward``, just before the heading "Exercise: the
    gradient of every intermediate".
    Each gradient is checked on its own, from the loss backwards; the first wrong one
    is named (every gradient after it is computed from it).

    Parameters
    ----------
    X : ndarray, shape (N, D), float64
    y : ndarray of int, shape (N,)
        The class of each row, in ``0 .. C - 1``.
    params : dict of ndarray
        ``W1`` (H, D), ``b1`` (H,), ``gamma`` (H,), ``beta`` (H,), ``W2`` (C, H),
        ``b2`` (C,).
    inter : dict of ndarray
        The forward pass's intermediates, by the names of the module docstring
        (``inter["probs"]``, ...; ``inter["loss"]`` is a float).

    Returns
    -------
    grads : dict of ndarray
        ``grads[name] = d loss / d name``, with the shape of that array, for the names
        ``logprobs, probs, counts_sum_inv, counts_sum, counts, norm_logits, logit_maxes,
        logits, h, W2, b2, hpreact, gamma, beta, bnraw, bnvar_inv, bnvar, bndiff2,
        bndiff, bnmeani, hprebn, W1, b1, X`` (in the order to compute them).

    Notes
    -----
    ``eps`` is not given: ``(bnvar + eps) ** -1.5`` is ``bnvar_inv ** 3``. A sum over an
    axis in the forward pass (``mean``, ``sum``) becomes a broadcast in the backward pass,
    and a broadcast (``hprebn - bnmeani``, ``gamma * bnraw``) becomes a sum.
    ``logit_maxes`` cancels out of the loss: its gradient is zero up to rounding.
    """
    # BEGIN SOLUTION
    v = inter
    n = X.shape[0]
    g = {}
    g["logprobs"] = np.zeros_like(v["logprobs"])
    g["logprobs"][np.arange(n), y] = -1.0 / n
    g["probs"] = g["logprobs"] / v["probs"]
    g["counts_sum_inv"] = (v["counts"] * g["probs"]).sum(axis=1, keepdims=True)
    g["counts_sum"] = -v["counts_sum"] ** -2 * g["counts_sum_inv"]
    g["counts"] = v["counts_sum_inv"] * g["probs"] + g["counts_sum"]
    g["norm_logits"] = v["counts"] * g["counts"]
    g["logit_maxes"] = -g["norm_logits"].sum(axis=1, keepdims=True)
    first = np.argmax(v["logits"], axis=1)
    g["logits"] = g["norm_logits"].copy()
    g["logits"][np.arange(n), first] += g["logit_maxes"][:, 0]
    g["h"] = g["logits"] @ params["W2"]
    g["W2"] = g["logits"].T @ v["h"]
    g["b2"] = g["logits"].sum(axis=0)
    g["hpreact"] = (1.0 - v["h"] ** 2) * g["h"]
    g["gamma"] = (v["bnraw"] * g["hpreact"]).sum(axis=0)
    g["beta"] = g["hpreact"].sum(axis=0)
    g["bnraw"] = params["gamma"] * g["hpreact"]
    g["bnvar_inv"] = (v["bndiff"] * g["bnraw"]).sum(axis=0)
    g["bnvar"] = -0.5 * v["bnvar_inv"] ** 3 * g["bnvar_inv"]
    g["bndiff2"] = np.ones_like(v["bndiff2"]) / n * g["bnvar"]
    g["bndiff"] = v["bnvar_inv"] * g["bnraw"] + 2.0 * v["bndiff"] * g["bndiff2"]
    g["bnmeani"] = -g["bndiff"].sum(axis=0)
    g["hprebn"] = g["bndiff"] + g["bnmeani"] / n
    g["W1"] = g["hprebn"].T @ X
    g["b1"] = g["hprebn"].sum(axis=0)
    g["X"] = g["hprebn"] @ params["W1"]
    return g
    # END SOLUTION
