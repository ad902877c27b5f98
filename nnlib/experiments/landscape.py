"""Santurkar et al. (2018): loss landscape and gradient predictiveness along the gradient.

At several points of training we stand at the current weights ``theta``, take the
mini-batch gradient ``g`` and look ahead along it: for a range of step sizes ``eta`` we
evaluate the loss ``L(theta - eta g)`` and the gradient there on the same batch. Their
spread over ``eta`` says how far a gradient step can be trusted:

* loss range: ``max_eta L - min_eta L`` ("loss landscape"),
* gradient predictiveness: ``||grad L(theta - eta g) - grad L(theta)||`` (smaller is better),
* effective beta-smoothness: ``max_eta ||grad L(theta - eta g) - g|| / ||eta g||``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib.experiments._common import (
    _dtype,
    batch_indices,
    describe,
    digits_split,
    frozen_buffers,
    gaussian_weights,
    make_mlp,
    register_result,
    single_threaded_blas,
    train_step,
)
from nnlib.module import Layer
from nnlib.optim import SGD

__all__ = ["LandscapeResult", "loss_landscape", "plot_loss_landscape"]

NETS = ("baseline", "batchnorm")


@register_result
@dataclass
class LandscapeResult:
    """What :func:`loss_landscape` measured.

    Attributes
    ----------
    steps : ndarray of int, shape (T,)
        Training steps at which the look-ahead was made.
    etas : ndarray, shape (E,)
        Step sizes along the negative gradient.
    loss : dict of str to ndarray (T, E)
        ``L(theta - eta g)`` on the current mini-batch.
    grad_change : dict of str to ndarray (T, E)
        ``||grad L(theta - eta g) - grad L(theta)||`` (all parameters, flattened).
    grad_norm : dict of str to ndarray (T,)
        ``||g||`` at ``theta``.
    train_loss : dict of str to ndarray (T,)
        ``L(theta)`` on the current mini-batch.
    setup : dict
    """

    steps: np.ndarray
    etas: np.ndarray
    loss: dict[str, np.ndarray]
    grad_change: dict[str, np.ndarray]
    grad_norm: dict[str, np.ndarray]
    train_loss: dict[str, np.ndarray]
    setup: dict[str, Any] = field(default_factory=dict)

    def loss_range(self) -> dict[str, np.ndarray]:
        """Max minus min over the step sizes of the loss, shape (T,) per network."""
        return {k: np.ptp(np.c_[self.train_loss[k], v], axis=1) for k, v in self.loss.items()}

    def beta_smoothness(self) -> dict[str, np.ndarray]:
        """``max_eta ||grad(theta - eta g) - g|| / (eta ||g||)``, shape (T,) per network."""
        return {k: np.max(v / (self.etas[None, :] * self.grad_norm[k][:, None]), axis=1)
                for k, v in self.grad_change.items()}

    def table(self) -> str:
        """Medians over the measurement points, per network."""
        lr = self.loss_range()
        beta = self.beta_smoothness()
        rows = [("median loss range", "{:.4f}", lr),
                ("median max gradient change", "{:.4f}",
                 {k: v.max(axis=1) for k, v in self.grad_change.items()}),
                ("median gradient norm", "{:.4f}", self.grad_norm),
                ("median effective beta-smoothness", "{:.3f}", beta)]
        w = max(len(r[0]) for r in rows)
        lines = [f"{'':<{w}}  {'baseline':>10}  {'batchnorm':>10}"]
        for name, fmt, d in rows:
            lines.append(f"{name:<{w}}  " + "  ".join(
                f"{fmt.format(float(np.median(d[k]))):>10}" for k in NETS))
        return "\n".join(lines)


def _loss_grad(model: Layer, params: list, X: np.ndarray,
               y: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and flattened gradient on a batch in training mode, running stats untouched."""
    with frozen_buffers(model), np.errstate(over="ignore", invalid="ignore"):
        loss, dlogits = F.softmax_cross_entropy(model.forward(X), y)
        model.backward(dlogits, input_grad=False)  # the parameter gradients; no dL/dX
    return loss, np.concatenate([p.grad.ravel() for p in params])


@single_threaded_blas
def loss_landscape(
    steps: int = 600,
    measure_every: int = 25,
    etas: tuple[float, ...] | None = None,
    batch_size: int = 60,
    seed: int = 0,
    *,
    lr: float = 0.1,
    init_scale: float = 0.3,
    hidden: tuple[int, ...] = (100, 100, 100),
    activation: str = "sigmoid",
    dtype: Any = np.float64,
) -> LandscapeResult:
    """Train both networks on the same batches and look ahead along the gradient now and then.

    Parameters
    ----------
    steps : int
        Training steps.
    measure_every : int
        Look ahead at steps 0, measure_every, 2 * measure_every, ... (before that step's
        update, on that step's mini-batch).
    etas : tuple of float, optional
        Step sizes; default ``lr * (0.25, 0.5, 1, 2, 4)``.
    batch_size, seed : int
    lr, init_scale : float
        Plain SGD learning rate and initial weight std (same weights for both networks).
    hidden : tuple of int
    activation : {"sigmoid", "tanh", "relu"}
    dtype : float64 or float32

    Returns
    -------
    LandscapeResult
    """
    dt = _dtype(dtype)
    etas_arr = (lr * np.array([0.25, 0.5, 1.0, 2.0, 4.0]) if etas is None
                else np.asarray(etas, dtype=float))
    _, init_rng, batch_rng = np.random.default_rng(seed).spawn(3)
    Xtr, _, ytr, _ = digits_split(dt)
    sizes = (Xtr.shape[1], *hidden, 10)
    weights = gaussian_weights(sizes, init_scale, init_rng, dt)
    models = {"baseline": make_mlp(weights, activation, None),
              "batchnorm": make_mlp(weights, activation, "batchnorm")}
    params = {k: m.parameters() for k, m in models.items()}
    optims = {k: SGD(params[k], lr=lr) for k in NETS}
    at = np.arange(0, steps, measure_every, dtype=np.int64)
    T, E = len(at), len(etas_arr)
    loss = {k: np.zeros((T, E)) for k in NETS}
    gchange = {k: np.zeros((T, E)) for k in NETS}
    gnorm = {k: np.zeros(T) for k in NETS}
    tloss = {k: np.zeros(T) for k in NETS}
    batches = batch_indices(len(Xtr), batch_size, batch_rng)
    j = 0
    for step in range(steps):
        idx = next(batches)
        xb, yb = Xtr[idx], ytr[idx]
        if j < T and step == at[j]:
            for k, m in models.items():
                ps = params[k]
                theta = [p.value.copy() for p in ps]
                L0, g = _loss_grad(m, ps, xb, yb)
                tloss[k][j], gnorm[k][j] = L0, np.linalg.norm(g)
                offsets = np.cumsum([0] + [p.value.size for p in ps])
                for e, eta in enumerate(etas_arr):
                    for p, th, a, b in zip(ps, theta, offsets[:-1], offsets[1:], strict=True):
                        p.value[...] = th - eta * g[a:b].reshape(th.shape)
                    L, ge = _loss_grad(m, ps, xb, yb)
                    loss[k][j, e] = L
                    gchange[k][j, e] = np.linalg.norm(ge - g)
                for p, th in zip(ps, theta, strict=True):
                    p.value[...] = th
            j += 1
        for k, m in models.items():
            train_step(m, optims[k], xb, yb)
    setup = {"experiment": "Santurkar et al. (2018) loss landscape / gradient predictiveness",
             "network": describe(sizes, activation, None),
             "bn": "BatchNorm before every hidden nonlinearity", "steps": int(steps),
             "measure_every": int(measure_every), "etas": etas_arr.tolist(), "lr": float(lr),
             "init_scale": float(init_scale), "batch_size": int(batch_size),
             "optimizer": "plain SGD", "seed": int(seed), "dtype": dt.name,
             "measured_on": "the current training mini-batch, BN in training mode "
                            "(batch statistics), running statistics untouched",
             "data": f"digits, {len(Xtr)} train examples"}
    return LandscapeResult(at, etas_arr, loss, gchange, gnorm, tloss, setup)


def plot_loss_landscape(result: LandscapeResult, figsize: tuple[float, float] = (10, 3.3)) -> Any:
    """Shaded ranges over the step sizes, against training step (like Santurkar et al. Fig. 4).

    Left: the loss along the gradient; middle: the gradient change; right: effective
    beta-smoothness.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    fig, axes = plt.subplots(1, 3, figsize=figsize, dpi=80)
    s = result.steps
    beta = result.beta_smoothness()
    for k, color, label in (("baseline", "0.3", "without BN"), ("batchnorm", "C3", "with BN")):
        full = np.c_[result.train_loss[k], result.loss[k]]
        axes[0].fill_between(s, full.min(axis=1), full.max(axis=1), color=color, alpha=0.4,
                             label=label)
        gc = result.grad_change[k]
        axes[1].fill_between(s, gc.min(axis=1), gc.max(axis=1), color=color, alpha=0.4,
                             label=label)
        axes[2].plot(s, beta[k], color=color, label=label)
    axes[0].set_title("loss landscape: L(θ - ηg)", fontsize=10)
    axes[0].set_ylabel("loss on the batch")
    axes[1].set_title("gradient predictiveness", fontsize=10)
    axes[1].set_ylabel("‖∇L(θ - ηg) - ∇L(θ)‖")
    axes[2].set_title("effective β-smoothness", fontsize=10)
    axes[2].set_yscale("log")
    # Labels at 1, 2 and 5 times the powers of ten only (every minor tick labelled collided).
    axes[2].yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes[2].yaxis.set_major_formatter(FormatStrFormatter("%g"))
    axes[2].yaxis.set_minor_formatter(NullFormatter())
    for ax in axes:
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
