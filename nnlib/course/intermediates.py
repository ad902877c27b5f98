"""One training step written as a chain of named intermediates (notebook 08's last exercise).

The network is ``X -> Dense(W1, b1) -> BatchNorm(gamma, beta) -> tanh -> Dense(W2, b2) ->
softmax cross-entropy``, every operation one named array, as in Karpathy's makemore part 4
("becoming a backprop ninja"). :func:`forward_intermediates` computes them all;
:func:`reference_grads` computes the gradient of the loss with respect to each of them by
centered differences: node by node, perturbing one entry and recomputing everything
computed from it, so each reference is the *total* derivative of the loss, the sum over
every path from that node to the loss (``bndiff`` feeds both ``bndiff2`` and ``bnraw``).

The exercise (``exercises/intermediates.py``, ``intermediate_grads``) computes the same
gradients with the chain rule; the tests and the notebook compare them with these
references, in :data:`ORDER`, from the loss backwards, and name the first wrong one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["STEPS", "ORDER", "PARAMS", "init_params", "forward_intermediates",
           "reference_grads"]

PARAMS = ("W1", "b1", "gamma", "beta", "W2", "b2")
"""The parameters, in the order of the forward pass."""


def _steps(eps: float) -> list[tuple[str, Callable[[dict], np.ndarray]]]:
    """The forward pass, one named step each, on a stack of B networks at once.

    Every array carries a leading axis of size B (or 1, broadcast), so that
    :func:`reference_grads` runs all the perturbations of one node in one pass; a
    per-feature vector (B, H) meets a batch (B, N, H) as ``v[:, None, :]``. ``y`` (N,)
    is never perturbed and has no such axis.
    """
    def t(w: np.ndarray) -> np.ndarray:
        return np.swapaxes(w, 1, 2)

    return [
        ("hprebn", lambda v: v["X"] @ t(v["W1"]) + v["b1"][:, None, :]),
        ("bnmeani", lambda v: v["hprebn"].mean(axis=1)),
        ("bndiff", lambda v: v["hprebn"] - v["bnmeani"][:, None, :]),
        ("bndiff2", lambda v: v["bndiff"] ** 2),
        ("bnvar", lambda v: v["bndiff2"].mean(axis=1)),
        ("bnvar_inv", lambda v: (v["bnvar"] + eps) ** -0.5),
        ("bnraw", lambda v: v["bndiff"] * v["bnvar_inv"][:, None, :]),
        ("hpreact", lambda v: v["gamma"][:, None, :] * v["bnraw"] + v["beta"][:, None, :]),
        ("h", lambda v: np.tanh(v["hpreact"])),
        ("logits", lambda v: v["h"] @ t(v["W2"]) + v["b2"][:, None, :]),
        ("logit_maxes", lambda v: v["logits"].max(axis=2, keepdims=True)),
        ("norm_logits", lambda v: v["logits"] - v["logit_maxes"]),
        ("counts", lambda v: np.exp(v["norm_logits"])),
        ("counts_sum", lambda v: v["counts"].sum(axis=2, keepdims=True)),
        ("counts_sum_inv", lambda v: v["counts_sum"] ** -1),
        ("probs", lambda v: v["counts"] * v["counts_sum_inv"]),
        ("logprobs", lambda v: np.log(v["probs"])),
        ("loss", lambda v: -v["logprobs"][:, np.arange(v["y"].shape[0]), v["y"]].mean(axis=1)),
    ]


STEPS = tuple(name for name, _ in _steps(1e-5))
"""The intermediates in the order the forward pass computes them (``"loss"`` last)."""

ORDER = ("logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits",
         "logit_maxes", "logits", "h", "W2", "b2", "hpreact", "gamma", "beta", "bnraw",
         "bnvar_inv", "bnvar", "bndiff2", "bndiff", "bnmeani", "hprebn", "W1", "b1", "X")
"""Every array whose gradient the exercise computes, from the loss backwards."""


def init_params(n_in: int, n_hidden: int, n_out: int, rng: np.random.Generator
                ) -> dict[str, np.ndarray]:
    """Small random parameters (float64) for the network of this module.

    ``W1`` (n_hidden, n_in) and ``W2`` (n_out, n_hidden) with Xavier scales, ``b1``
    small random (BN removes it, but its gradient, zero, is still checked), ``gamma``
    around 1 and ``beta`` around 0 (random, so that no gradient is trivially symmetric).
    """
    return {
        "W1": rng.standard_normal((n_hidden, n_in)) / np.sqrt(n_in),
        "b1": 0.1 * rng.standard_normal(n_hidden),
        "gamma": 1.0 + 0.1 * rng.standard_normal(n_hidden),
        "beta": 0.1 * rng.standard_normal(n_hidden),
        "W2": rng.standard_normal((n_out, n_hidden)) / np.sqrt(n_hidden),
        "b2": 0.1 * rng.standard_normal(n_out),
    }


def forward_intermediates(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray],
                          eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Every intermediate of the forward pass, by name (see :data:`STEPS`).

    Parameters
    ----------
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)
        Class labels in ``0 .. C - 1``.
    params : dict
        ``W1`` (H, D), ``b1`` (H,), ``gamma``, ``beta`` (H,), ``W2`` (C, H), ``b2`` (C,).
    eps : float
        BatchNorm's epsilon.

    Returns
    -------
    dict
        ``hprebn`` (N, H), ``bnmeani`` (H,), ``bndiff``, ``bndiff2`` (N, H), ``bnvar``,
        ``bnvar_inv`` (H,), ``bnraw``, ``hpreact``, ``h`` (N, H), ``logits`` (N, C),
        ``logit_maxes`` (N, 1), ``norm_logits``, ``counts`` (N, C), ``counts_sum``,
        ``counts_sum_inv`` (N, 1), ``probs``, ``logprobs`` (N, C) and ``loss`` (a float).
    """
    out = _run(_env(X, y, params), _steps(eps), 0)
    return {name: float(out[name][0]) if name == "loss" else out[name][0] for name in STEPS}


def _env(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray]) -> dict:
    """The inputs as a stack of one network (a leading axis of size 1); ``y`` as it is."""
    env = {k: np.array(v, dtype=np.float64)[None] for k, v in params.items()}
    env["X"] = np.array(X, dtype=np.float64)[None]
    env["y"] = np.asarray(y)
    return env


def _run(env: dict, steps: list, start: int) -> dict:
    out = dict(env)
    for name, f in steps[start:]:
        out[name] = f(out)
    return out


_CHUNK = 1 << 22
"""Entries of the largest array one pass of :func:`reference_grads` may hold (32 MiB)."""


def reference_grads(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray],
                    eps: float = 1e-5, h: float = 1e-6) -> dict[str, np.ndarray]:
    """``d loss / d name`` for every name of :data:`ORDER`, by centered differences.

    Each entry of a node is moved by ``+-h`` and every step computed after it is run
    again (the steps before it, and the other inputs, stay as they were), so the
    difference quotient is the total derivative through every path to the loss. Its
    error, relative to the gradient's largest entry, measured 1e-10 to 8e-9 on eight
    seeds (4e-8 for ``bndiff2``), far below the tests' ``1e-5``; the gradient of
    ``logit_maxes`` is exactly zero (the softmax does not change when a row's logits
    move together), and what the differences give there is rounding noise of about
    ``1e-10``; so is the gradient of ``b1`` (BatchNorm subtracts the mean of every
    column, and ``b1`` with it). Both are returned as exact zeros.
    """
    steps = _steps(eps)
    base = _env(X, y, params)
    full = _run(base, steps, 0)
    first_use = {}
    for i, (name, _) in enumerate(steps):
        first_use[name] = i + 1  # a node is perturbed after the step that made it
    for name in PARAMS + ("X",):
        first_use[name] = 0
    widest = max(a.size for a in full.values())  # an upper bound on any one network's array
    per_pass = max(1, _CHUNK // widest)
    grads = {}
    for name in ORDER:
        start = first_use[name]
        value = full[name][0]
        n = value.size
        g = np.empty(n)
        for lo in range(0, n, per_pass):  # a stack of networks, one entry moved in each
            k = min(per_pass, n - lo)
            step = np.zeros((k, n))
            step[np.arange(k), np.arange(lo, lo + k)] = h
            step = step.reshape((k,) + value.shape)
            env = dict(full)
            env[name] = value + step  # value[i] + h at entry i, the rest exactly as it was
            plus = _run(env, steps, start)["loss"]
            env[name] = value - step
            minus = _run(env, steps, start)["loss"]
            g[lo:lo + k] = (plus - minus) / (2 * h)
        grads[name] = g.reshape(value.shape)
    grads["logit_maxes"] = np.zeros_like(full["logit_maxes"][0])
    grads["b1"] = np.zeros_like(full["b1"][0])
    return grads
