"""Learning-rate sweep: BN keeps training at learning rates where plain SGD stalls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlib.experiments._common import (
    Claims,
    _dtype,
    describe,
    digits_split,
    gaussian_weights,
    make_mlp,
    register_result,
    single_threaded_blas,
)
from nnlib.experiments.sweeps._shared import (
    NETS,
    add_claim,
    format_table,
    in_range,
    on_grid,
    safe_eval,
    train_sgd,
)


@register_result
@dataclass
class LRSweepResult:
    """What :func:`lr_robustness` measured; arrays are indexed like ``lrs``.

    Attributes
    ----------
    lrs : ndarray, shape (L,)
    test_accuracy : dict of str to ndarray (L,)
        Final held-out accuracy, inference mode.
    train_loss : dict of str to ndarray (L,)
        Final loss on the whole training set, inference mode (inf when diverged).
    diverged : dict of str to ndarray of bool (L,)
        The loss or a weight became non-finite during training.
    loss_curves : dict of str to ndarray (L, steps)
        Mini-batch loss at every step (NaN after a divergence).
    setup : dict
    """

    lrs: np.ndarray
    test_accuracy: dict[str, np.ndarray]
    train_loss: dict[str, np.ndarray]
    diverged: dict[str, np.ndarray]
    loss_curves: dict[str, np.ndarray]
    setup: dict[str, Any] = field(default_factory=dict)

    def trains(self, threshold: float = 0.5) -> dict[str, np.ndarray]:
        """Boolean (L,) per network: final held-out accuracy above ``threshold``."""
        return {k: (v > threshold) & ~self.diverged[k] for k, v in self.test_accuracy.items()}

    def table(self) -> str:
        """One row per learning rate: accuracy and training loss of both networks."""
        rows = [[f"{lr:g}", self.test_accuracy["baseline"][i], self.test_accuracy["batchnorm"][i],
                 self.train_loss["baseline"][i], self.train_loss["batchnorm"][i]]
                for i, lr in enumerate(self.lrs)]
        return format_table(["lr", "acc base", "acc BN", "loss base", "loss BN"], rows)

    def claims(self) -> Claims:
        """What the sweep shows, each with a margin that rounding differences cannot cross.

        Only claims about learning rates the sweep measured are listed.
        """
        c = Claims("learning-rate sweep")
        base, bn, lrs = self.test_accuracy["baseline"], self.test_accuracy["batchnorm"], self.lrs
        add_claim(c, "without BN, held-out accuracy above 90% at lr 1 and 3",
             on_grid(lrs, base, (1.0, 3.0)), lambda v: v > 0.9)
        add_claim(c, "without BN, at chance (below 20%) at every lr from 10 up",
             in_range(lrs, base, 10.0, np.inf), lambda v: v < 0.2)
        add_claim(c, "with BN, above 90% at every lr from 0.1 to 10",
             in_range(lrs, bn, 0.1, 10.0), lambda v: v > 0.9)
        add_claim(c, "with BN, still above 50% at lr 30", on_grid(lrs, bn, (30.0,)),
             lambda v: v > 0.5)
        return c


@single_threaded_blas
def lr_robustness(
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0),
    steps: int = 400,
    batch_size: int = 60,
    seed: int = 0,
    *,
    init_scale: float = 0.3,
    hidden: tuple[int, ...] = (100, 100, 100),
    activation: str = "sigmoid",
    dtype: Any = np.float64,
) -> LRSweepResult:
    """Train both networks at every learning rate, from the same weights on the same batches.

    Parameters
    ----------
    lrs : tuple of float
        Plain SGD learning rates.
    steps, batch_size : int
    seed : int
        Seeds the initial weights (shared by all runs) and the batch order (restarted
        identically for every run). The data are notebook 05's training set and, held
        out, its validation set (``digits_split``).
    init_scale : float
        Std of the Gaussian initial weights.
    hidden : tuple of int
    activation : {"sigmoid", "tanh", "relu"}
    dtype : float64 or float32

    Returns
    -------
    LRSweepResult
    """
    dt = _dtype(dtype)
    _, init_rng, batch_rng = np.random.default_rng(seed).spawn(3)
    Xtr, Xte, ytr, yte = digits_split(dt)
    sizes = (Xtr.shape[1], *hidden, 10)
    weights = gaussian_weights(sizes, init_scale, init_rng, dt)
    batch_seed = batch_rng.integers(2**63)
    L = len(lrs)
    acc = {k: np.zeros(L) for k in NETS}
    loss = {k: np.zeros(L) for k in NETS}
    div = {k: np.zeros(L, dtype=bool) for k in NETS}
    curves = {k: np.zeros((L, steps)) for k in NETS}
    for i, lr in enumerate(lrs):
        for k, norm in zip(NETS, (None, "batchnorm"), strict=True):
            model = make_mlp(weights, activation, norm)
            c = train_sgd(model, lr, Xtr, ytr, steps, batch_size, np.random.default_rng(batch_seed))
            curves[k][i] = c
            div[k][i] = bool(np.isnan(c).any())
            loss[k][i], _ = safe_eval(model, Xtr, ytr)
            _, acc[k][i] = safe_eval(model, Xte, yte)
            if div[k][i]:
                loss[k][i], acc[k][i] = np.inf, np.nan
    setup = {"experiment": "learning-rate robustness", "network": describe(sizes, activation, None),
             "bn": "BatchNorm before every hidden nonlinearity", "lrs": list(map(float, lrs)),
             "steps": int(steps), "batch_size": int(batch_size), "init_scale": float(init_scale),
             "optimizer": "plain SGD", "seed": int(seed), "dtype": dt.name,
             "data": f"digits, notebook 05's split: {len(Xtr)} train / {len(Xte)} held out"}
    return LRSweepResult(np.asarray(lrs, dtype=float), acc, loss, div, curves, setup)


def plot_lr_robustness(result: LRSweepResult, figsize: tuple[float, float] = (9, 3.3)) -> Any:
    """Final held-out accuracy and training loss against the learning rate, both networks."""
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=figsize, dpi=80)
    for k, style, label in (("baseline", "k--o", "without BN"), ("batchnorm", "C3-o", "with BN")):
        a1.semilogx(result.lrs, np.nan_to_num(result.test_accuracy[k], nan=0.0), style,
                    label=label)
        loss = result.train_loss[k].copy()
        a2.loglog(result.lrs[np.isfinite(loss)], loss[np.isfinite(loss)], style, label=label)
        for lr in result.lrs[~np.isfinite(loss)]:
            a2.axvline(lr, color="k" if k == "baseline" else "C3", ls=":", lw=1)
    a1.set_xlabel("learning rate")
    a1.set_ylabel("final held-out accuracy")
    a1.set_ylim(0, 1.02)
    a1.axhline(0.1, color="0.7", lw=0.8)
    a1.legend()
    a2.set_xlabel("learning rate")
    a2.set_ylabel("final training loss")
    diverged = sum(int(np.sum(~np.isfinite(result.train_loss[k]))) for k in result.train_loss)
    a2.set_title("dotted: a run whose loss diverged" if diverged else
                 "every run's loss stayed finite", fontsize=9)
    a2.legend()
    fig.suptitle(f"{result.setup['steps']} SGD steps per run", fontsize=10)
    fig.tight_layout()
    return fig
