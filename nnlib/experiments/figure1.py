"""Figure 1 of Ioffe & Szegedy (2015), reproduced on the digits data set.

Two copies of the paper's network (three hidden layers of 100 sigmoid units, 10 softmax
outputs) start from the same weights and see the same mini-batches; one has BatchNorm
before every sigmoid. At regular steps we record the held-out accuracy of both and the
15th/50th/85th percentiles of the input to one fixed sigmoid of the last hidden layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib._runtime import progress_bar
from nnlib.experiments._common import (
    _dtype,
    batch_indices,
    describe,
    digits_split,
    evaluate_model,
    frozen_buffers,
    gaussian_weights,
    layers_of,
    make_mlp,
    register_result,
    single_threaded_blas,
    train_step,
)
from nnlib.layers import Dense, Sigmoid
from nnlib.module import Layer
from nnlib.optim import SGD

__all__ = ["Figure1Result", "batchnorm_figure1", "plot_figure1", "NETS"]

NETS = ("baseline", "batchnorm")
PERCENTILES = (15, 50, 85)


@register_result
@dataclass
class Figure1Result:
    """What :func:`batchnorm_figure1` measured.

    Attributes
    ----------
    steps : ndarray of int, shape (T,)
        Training steps at which everything below was measured; first 0, last the total.
    test_accuracy, test_loss : dict of str to ndarray, shape (T,)
        Keys ``"baseline"`` and ``"batchnorm"``; held-out data, inference mode.
    train_loss : dict of str to ndarray, shape (T,)
        Mean mini-batch loss over the steps since the previous measurement (NaN at step 0).
    sigmoid_input_percentiles : dict of str to ndarray, shape (T, 3)
        15th, 50th, 85th percentile over the held-out set of the input to sigmoid ``unit`` of
        the last hidden layer. The whole held-out set is passed as one batch in training mode,
        so BatchNorm uses its statistics (what the sigmoid sees in training), not the
        running averages (which start at 0 and 1 and would misrepresent step 0).
    last_hidden_medians : dict of str to ndarray, shape (T, H)
        The median over the held-out set of the input to every sigmoid of the last hidden layer.
    setup : dict
        Everything needed to rerun it and to print next to the result.
    """

    steps: np.ndarray
    test_accuracy: dict[str, np.ndarray]
    test_loss: dict[str, np.ndarray]
    train_loss: dict[str, np.ndarray]
    sigmoid_input_percentiles: dict[str, np.ndarray]
    last_hidden_medians: dict[str, np.ndarray]
    setup: dict[str, Any] = field(default_factory=dict)

    def accuracy_at(self, step: int) -> dict[str, float]:
        """Held-out accuracy of both networks at the first measured step >= ``step``."""
        i = int(np.searchsorted(self.steps, step))
        i = min(i, len(self.steps) - 1)
        return {k: float(v[i]) for k, v in self.test_accuracy.items()}

    def steps_to_accuracy(self, target: float) -> dict[str, int | None]:
        """First measured step at which each network reaches ``target`` held-out accuracy."""
        out: dict[str, int | None] = {}
        for k, v in self.test_accuracy.items():
            hit = np.flatnonzero(v >= target)
            out[k] = int(self.steps[hit[0]]) if hit.size else None
        return out

    def final_accuracy(self, last: int = 5) -> dict[str, float]:
        """Mean held-out accuracy over the last ``last`` measurements (less noisy than the last)."""
        return {k: float(np.mean(v[-last:])) for k, v in self.test_accuracy.items()}

    def median_drift(self) -> dict[str, float]:
        """Range (max - min) over training of the median input of the tracked sigmoid."""
        return {k: float(np.ptp(p[:, 1])) for k, p in self.sigmoid_input_percentiles.items()}

    def median_drift_all_units(self) -> dict[str, float]:
        """Range over training of the median sigmoid input, averaged over the last layer's units."""
        return {k: float(np.mean(np.ptp(m, axis=0))) for k, m in self.last_hidden_medians.items()}

    def spread(self) -> dict[str, tuple[float, float]]:
        """85th minus 15th percentile of the tracked sigmoid input at the first and last step."""
        return {k: (float(p[0, 2] - p[0, 0]), float(p[-1, 2] - p[-1, 0]))
                for k, p in self.sigmoid_input_percentiles.items()}

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        """The headline numbers, per network."""
        early = self.setup.get("early_step", min(int(self.steps[-1]) // 10, 300))
        acc_early = self.accuracy_at(early)
        final = self.final_accuracy()
        reach = self.steps_to_accuracy(0.9)
        drift = self.median_drift()
        drift_all = self.median_drift_all_units()
        spread = self.spread()
        return {k: {f"held-out accuracy at step {early}": acc_early[k],
                    "final held-out accuracy (mean of last 5)": final[k],
                    "steps to 90% held-out accuracy": reach[k],
                    "median drift, tracked unit": drift[k],
                    "median drift, mean over units": drift_all[k],
                    "15-85 spread at start": spread[k][0],
                    "15-85 spread at end": spread[k][1]}
                for k in self.test_accuracy}

    def table(self) -> str:
        """The summary as an aligned plain-text table (deterministic formatting)."""
        summ = self.summary()
        rows = list(next(iter(summ.values())))
        w = max(len(r) for r in rows)
        lines = [f"{'':<{w}}  {'baseline':>10}  {'batchnorm':>10}"]
        for r in rows:
            cells = []
            for k in NETS:
                v = summ[k][r]
                cells.append(f"{'never':>10}" if v is None else
                             f"{v:>10d}" if isinstance(v, int) else f"{v:>10.3f}")
            lines.append(f"{r:<{w}}  " + "  ".join(cells))
        return "\n".join(lines)


def _sigmoid_input(model: Layer, X: np.ndarray) -> np.ndarray:
    """Input to the last Sigmoid of ``model`` for the batch ``X``, shape (N, H).

    Computed in training mode, i.e. BatchNorm normalizes with the statistics of ``X``
    itself (the distribution the sigmoid sees while training); the running statistics
    are left untouched.
    """
    layers = layers_of(model)
    last = max(i for i, layer in enumerate(layers) if isinstance(layer, Sigmoid))
    with frozen_buffers(model):
        a = X
        for layer in layers[:last]:
            a = layer.forward(a)
    return a


def _held_out_measures(model: Layer, X: np.ndarray,
                       y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Loss and accuracy in inference mode, and the input to the last Sigmoid (training mode).

    A network of Dense and Sigmoid layers only computes the same in both modes, so one
    forward pass gives all three; a network with BatchNorm takes one pass in each mode.
    """
    layers = layers_of(model)
    if not all(isinstance(layer, (Dense, Sigmoid)) for layer in layers):
        loss, acc = evaluate_model(model, X, y)
        return loss, acc, _sigmoid_input(model, X)
    last = max(i for i, layer in enumerate(layers) if isinstance(layer, Sigmoid))
    was_training = model.training
    model.eval()
    try:
        a = X
        for i, layer in enumerate(layers):
            if i == last:
                z = a
            a = layer.forward(a)
    finally:
        model.train(was_training)
    loss, _ = F.softmax_cross_entropy(a, y)
    return loss, float(np.mean(a.argmax(axis=1) == y)), z


def figure1_setup(
    seed: int = 0,
    init_scale: float = 0.1,
    hidden: tuple[int, ...] = (100, 100, 100),
    dtype: Any = np.float64,
) -> tuple[tuple[np.ndarray, ...], dict[str, Layer], np.random.Generator]:
    """The data, the two untrained networks and the batch generator of Figure 1.

    Returns
    -------
    (X_train, X_held_out, y_train, y_held_out), {"baseline": model, "batchnorm": model}, batch_rng
        The data are notebook 05's training and validation sets (``digits_split``). Both
        models start from the same weight matrices (drawn once, copied into each).
    """
    _, init_rng, batch_rng = np.random.default_rng(seed).spawn(3)
    data = digits_split(dtype)
    sizes = (data[0].shape[1], *hidden, 10)
    weights = gaussian_weights(sizes, init_scale, init_rng, dtype)
    models = {"baseline": make_mlp(weights, "sigmoid", None),
              "batchnorm": make_mlp(weights, "sigmoid", "batchnorm")}
    return data, models, batch_rng


@single_threaded_blas
def batchnorm_figure1(
    steps: int = 3000,
    batch_size: int = 60,
    seed: int = 0,
    *,
    lr: float = 0.5,
    init_scale: float = 0.1,
    hidden: tuple[int, ...] = (100, 100, 100),
    eval_every: int | None = None,
    unit: int = 0,
    dtype: Any = np.float64,
    progress: bool = False,
) -> Figure1Result:
    """Train the paper's network with and without BatchNorm on the same batches; measure.

    Parameters
    ----------
    steps : int
        Number of SGD steps (the paper: 50,000 on MNIST).
    batch_size : int
        Examples per step (the paper: 60).
    seed : int
        Seeds the initial weights and the batch order (independent streams spawned from
        ``np.random.default_rng(seed)``). The data are always notebook 05's training set
        and, held out, its validation set.
    lr : float
        Plain SGD learning rate, the same for both networks (the paper does not give one).
    init_scale : float
        Standard deviation of the Gaussian initial weights (the paper: "small random
        Gaussian values"); biases start at 0.
    hidden : tuple of int
        Hidden layer widths (the paper: three of 100).
    eval_every : int, optional
        Measure every this many steps; default ``max(1, steps // 60)``. The first
        ``40 * min(eval_every, 50)`` steps are also measured every ``min(eval_every, 50)``
        steps, so that long runs resolve the early phase.
    unit : int
        Which sigmoid of the last hidden layer to track for the percentiles.
    dtype : float64 or float32
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Figure1Result
    """
    dt = _dtype(dtype)
    if steps < 1 or batch_size < 2:
        raise ValueError(f"batchnorm_figure1: need steps >= 1 and batch_size >= 2 "
                         f"(BatchNorm needs two examples), got {steps} and {batch_size}.")
    if not 0 <= unit < hidden[-1]:
        raise ValueError(f"batchnorm_figure1: unit must be in [0, {hidden[-1]}), got {unit}.")
    eval_every = max(1, steps // 60) if eval_every is None else int(eval_every)
    (Xtr, Xte, ytr, yte), models, batch_rng = figure1_setup(seed, init_scale, hidden, dt)
    sizes = (Xtr.shape[1], *hidden, 10)
    optims = {k: SGD(m.parameters(), lr=lr) for k, m in models.items()}
    # A regular grid, plus one at most 50 steps apart over the first 40 such intervals
    # (so that a long run still resolves the first few hundred steps, where BN differs most).
    fine = min(eval_every, 50)
    measure_at = np.unique(np.r_[np.arange(0, steps, eval_every),
                                 np.arange(0, min(steps, 40 * fine), fine), steps]).astype(np.int64)
    T = len(measure_at)
    acc = {k: np.zeros(T) for k in NETS}
    tloss = {k: np.zeros(T) for k in NETS}
    trloss = {k: np.full(T, np.nan) for k in NETS}
    pct = {k: np.zeros((T, len(PERCENTILES))) for k in NETS}
    medians = {k: np.zeros((T, hidden[-1])) for k in NETS}
    running = dict.fromkeys(NETS, 0.0)
    since = 0

    def measure(j: int) -> None:
        for k, m in models.items():
            tloss[k][j], acc[k][j], z = _held_out_measures(m, Xte, yte)
            pct[k][j] = np.percentile(z[:, unit], PERCENTILES)
            medians[k][j] = np.median(z, axis=0)
            if since:
                trloss[k][j] = running[k] / since

    batches = batch_indices(len(Xtr), batch_size, batch_rng)
    bar = None
    if progress:
        bar = progress_bar(total=steps, desc="figure1", unit="step")
    j = 0
    measure(j)
    j += 1
    for step in range(1, steps + 1):
        idx = next(batches)
        xb, yb = Xtr[idx], ytr[idx]
        for k, m in models.items():
            running[k] += train_step(m, optims[k], xb, yb)
        since += 1
        if step == measure_at[j]:
            measure(j)
            j += 1
            running = dict.fromkeys(NETS, 0.0)
            since = 0
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    setup = {
        "experiment": "Ioffe & Szegedy (2015) Figure 1 on digits",
        "data": (f"digits 8x8, notebook 05's split: {len(Xtr)} train / "
                 f"{len(Xte)} held out (its validation set)"),
        "network": describe(sizes, "sigmoid", None),
        "network_bn": describe(sizes, "sigmoid", "batchnorm"),
        "sizes": list(sizes), "steps": int(steps), "batch_size": int(batch_size),
        "lr": float(lr), "optimizer": "plain SGD (no momentum, no weight decay)",
        "init": f"W ~ N(0, {init_scale}^2), b = 0; same initial W for both nets",
        "init_scale": float(init_scale), "seed": int(seed), "dtype": dt.name,
        "eval_every": int(eval_every), "unit": int(unit), "percentiles": list(PERCENTILES),
        "early_step": int(measure_at[min(len(measure_at) - 1,
                                         int(np.searchsorted(measure_at, min(steps // 10, 300))))]),
        "measured_on": ("accuracy: whole held-out set, BN in inference mode (running statistics); "
                        "percentiles: whole held-out set as one batch, BN with that batch's "
                        "statistics (running statistics untouched)"),
        "bn": "momentum 0.1, eps 1e-5; hidden Dense layers without bias before BN",
    }
    return Figure1Result(measure_at, acc, tloss, trloss, pct, medians, setup)


def plot_figure1(result: Figure1Result, figsize: tuple[float, float] = (10.5, 3.2)) -> Any:
    """Draw the paper's three panels; returns the matplotlib Figure.

    (a) held-out accuracy against steps for both networks; (b) and (c) the 15th, 50th and
    85th percentiles of the tracked sigmoid input without and with BatchNorm.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=figsize, dpi=80)
    s = result.steps
    ax = axes[0]
    ax.plot(s, result.test_accuracy["baseline"], "--", color="k", label="Without BN")
    ax.plot(s, result.test_accuracy["batchnorm"], "-", color="C3", label="With BN")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out accuracy")
    ax.set_title("(a) held-out accuracy")
    ax.set_ylim(0, 1.02)
    lo = min(p.min() for p in result.sigmoid_input_percentiles.values())
    hi = max(p.max() for p in result.sigmoid_input_percentiles.values())
    pad = 0.05 * (hi - lo + 1e-12)
    for ax, key, title in ((axes[1], "baseline", "(b) without BN"),
                           (axes[2], "batchnorm", "(c) with BN")):
        p = result.sigmoid_input_percentiles[key]
        styles = (":", "-", "--")   # 15th, 50th, 85th: told apart without color
        for c, q in enumerate(result.setup.get("percentiles", PERCENTILES)):
            ax.plot(s, p[:, c], styles[c % 3], color="k" if c == 1 else "0.35",
                    lw=1.6 if c == 1 else 1.2, label=f"{q}th pct")
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("training step")
        ax.set_title(f"{title}: sigmoid input")
    axes[1].set_ylabel(f"input to sigmoid {result.setup.get('unit', 0)}\nof the last hidden layer")
    # One legend for all panels, below them, so that it covers no curve.
    handles, labels = axes[0].get_legend_handles_labels()
    more, more_labels = axes[1].get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="lower center", ncol=5, fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
