"""Sweeps with and without BatchNorm: learning rate, initial weight scale, batch size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlib.experiments._common import (
    Claims,
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
    value_at,
)
from nnlib.module import Layer
from nnlib.optim import SGD

__all__ = [
    "LRSweepResult", "lr_robustness", "plot_lr_robustness",
    "InitSweepResult", "init_scale_sweep", "plot_init_scale_sweep",
    "BatchSizeResult", "batch_size_effect", "plot_batch_size_effect",
]

NETS = ("baseline", "batchnorm")


def _on_grid(grid: np.ndarray, values: np.ndarray, points: tuple[float, ...]) -> np.ndarray:
    """``values`` at those of ``points`` that are on ``grid`` (NaN, a divergence, counts as 0)."""
    found = [value_at(grid, values, x) for x in points]
    return np.nan_to_num(np.array([v for v in found if v is not None], dtype=float), nan=0.0)


def _in_range(grid: np.ndarray, values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``values`` at the grid points in [lo, hi] (NaN, a divergence, counts as 0)."""
    keep = (grid >= lo * (1 - 1e-9)) & (grid <= hi * (1 + 1e-9))
    return np.nan_to_num(np.asarray(values, dtype=float)[keep], nan=0.0)


def _add(claims: Claims, text: str, values: np.ndarray, test: Any) -> None:
    """Add the claim ``text`` when the sweep measured any of the values it is about."""
    if values.size:
        claims.add(text, bool(np.all(test(values))))


def _train(model: Layer, lr: float, X: np.ndarray, y: np.ndarray, steps: int, batch_size: int,
           rng: np.random.Generator) -> np.ndarray:
    """Plain SGD for ``steps`` steps; per-step losses (NaN after a divergence, which stops it)."""
    opt = SGD(model.parameters(), lr=lr)
    losses = np.full(steps, np.nan)
    batches = batch_indices(len(X), batch_size, rng)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for s in range(steps):
            idx = next(batches)
            loss = train_step(model, opt, X[idx], y[idx])
            if not np.isfinite(loss) or not all(np.all(np.isfinite(p.value))
                                                for p in model.parameters()):
                break
            losses[s] = loss
    return losses


def _safe_eval(model: Layer, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss, acc = evaluate_model(model, X, y)
    return (loss, acc) if np.isfinite(loss) else (np.inf, acc)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if not np.isfinite(v):
            return "diverged" if v > 0 or np.isnan(v) else "-inf"
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"
    cells = [header] + [[fmt(v) for v in r] for r in rows]
    w = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(c[i].rjust(w[i]) for i in range(len(header))) for c in cells)


# ---------------------------------------------------------------------------------------------
# Learning rate
# ---------------------------------------------------------------------------------------------

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
        return _table(["lr", "acc base", "acc BN", "loss base", "loss BN"], rows)

    def claims(self) -> Claims:
        """What the sweep shows, each with a margin that rounding differences cannot cross.

        Only claims about learning rates the sweep measured are listed.
        """
        c = Claims("learning-rate sweep")
        base, bn, lrs = self.test_accuracy["baseline"], self.test_accuracy["batchnorm"], self.lrs
        _add(c, "without BN, held-out accuracy above 90% at lr 1 and 3",
             _on_grid(lrs, base, (1.0, 3.0)), lambda v: v > 0.9)
        _add(c, "without BN, at chance (below 20%) at every lr from 10 up",
             _in_range(lrs, base, 10.0, np.inf), lambda v: v < 0.2)
        _add(c, "with BN, above 90% at every lr from 0.1 to 10",
             _in_range(lrs, bn, 0.1, 10.0), lambda v: v > 0.9)
        _add(c, "with BN, still above 50% at lr 30", _on_grid(lrs, bn, (30.0,)),
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
            c = _train(model, lr, Xtr, ytr, steps, batch_size, np.random.default_rng(batch_seed))
            curves[k][i] = c
            div[k][i] = bool(np.isnan(c).any())
            loss[k][i], _ = _safe_eval(model, Xtr, ytr)
            _, acc[k][i] = _safe_eval(model, Xte, yte)
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


# ---------------------------------------------------------------------------------------------
# Initial weight scale
# ---------------------------------------------------------------------------------------------

@register_result
@dataclass
class InitSweepResult:
    """What :func:`init_scale_sweep` measured; arrays are indexed like ``scales``.

    Attributes
    ----------
    scales : ndarray, shape (S,)
        Standard deviations of the Gaussian initial weights.
    test_accuracy : dict of str to ndarray (S,)
        Held-out accuracy after training (NaN when diverged).
    train_loss : dict of str to ndarray (S,)
        Loss on the whole training set after training (inf when diverged).
    activation_std : dict of str to ndarray (S, depth)
        Standard deviation of every hidden layer's output at initialization (training
        set, training mode): the CS231n picture of vanishing or saturating activations.
    setup : dict
    """

    scales: np.ndarray
    test_accuracy: dict[str, np.ndarray]
    train_loss: dict[str, np.ndarray]
    activation_std: dict[str, np.ndarray]
    setup: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        """One row per scale: accuracy and training loss of both networks."""
        rows = [[f"{s:g}", self.test_accuracy["baseline"][i], self.test_accuracy["batchnorm"][i],
                 self.train_loss["baseline"][i], self.train_loss["batchnorm"][i]]
                for i, s in enumerate(self.scales)]
        return _table(["init std", "acc base", "acc BN", "loss base", "loss BN"], rows)

    def activation_table(self) -> str:
        """One row per scale: std of the first, middle and last hidden layer at init.

        Measured before any training step, so these numbers do not depend on how a CPU
        rounds (unlike the trained accuracies of :meth:`table`).
        """
        std = self.activation_std
        depth = std["baseline"].shape[1]
        picks = sorted({0, depth // 2, depth - 1})
        rows = [[f"{s:g}", *(std["baseline"][i, j] for j in picks), std["batchnorm"][i, -1]]
                for i, s in enumerate(self.scales)]
        return _table(["init std", *(f"layer {j + 1} (base)" for j in picks),
                       f"layer {depth} (BN)"], rows)

    def claims(self) -> Claims:
        """What the sweep shows, each with a margin that rounding differences cannot cross."""
        c = Claims("initial-scale sweep")
        base, bn, sc = self.test_accuracy["baseline"], self.test_accuracy["batchnorm"], self.scales
        good = (0.1, 0.3)
        others = tuple(float(s) for s in sc if not any(np.isclose(s, g) for g in good))
        _add(c, "without BN, std 0.1 and 0.3 reach 80% held-out accuracy",
             _on_grid(sc, base, good), lambda v: v > 0.8)
        _add(c, "without BN, every other std stays at chance (below 20%)",
             _on_grid(sc, base, others), lambda v: v < 0.2)
        # measured on seeds 0-4 (notebook 05's split): without BN 0.886-0.956 at std 0.1 and
        # 0.3; with BN 0.875-0.986 from 0.03 to 1, 0.569-0.883 at 0.01 and 3
        _add(c, "with BN, every std from 0.03 to 1 reaches 80%",
             _in_range(sc, bn, 0.03, 1.0), lambda v: v > 0.8)
        # std 0.001 is left out: with BN it ends anywhere from 27% to 72% (seeds, CPUs)
        _add(c, "with BN, std 0.01 and 3 still reach 50%", _on_grid(sc, bn, (0.01, 3.0)),
             lambda v: v > 0.5)
        return c


def _hidden_output_std(model: Layer, X: np.ndarray) -> np.ndarray:
    """Std of the output of every hidden nonlinearity for the batch ``X`` (running stats kept)."""
    from nnlib.experiments._common import ACTIVATIONS

    acts = tuple(ACTIVATIONS.values())
    out = []
    with frozen_buffers(model), np.errstate(over="ignore", invalid="ignore"):
        a = X
        for layer in layers_of(model):
            a = layer.forward(a)
            if isinstance(layer, acts):
                out.append(float(np.std(a)))
    return np.asarray(out)


@single_threaded_blas
def init_scale_sweep(
    scales: tuple[float, ...] = (0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    depth: int = 8,
    width: int = 64,
    steps: int = 300,
    batch_size: int = 60,
    seed: int = 0,
    *,
    lr: float = 0.1,
    activation: str = "tanh",
    dtype: Any = np.float64,
) -> InitSweepResult:
    """Train a deep network from Gaussian weights of each scale, with and without BatchNorm.

    Parameters
    ----------
    scales : tuple of float
        Standard deviations of the initial weights (all layers).
    depth, width : int
        Number and width of the hidden layers.
    steps, batch_size : int
    seed : int
        Seeds the weight draws (one standard-normal draw, rescaled for each scale, so only
        the scale differs) and the batch order (the same for every run). The data are
        notebook 05's training and validation sets (``digits_split``).
    lr : float
        Plain SGD learning rate for every run.
    activation : {"tanh", "sigmoid", "relu"}
    dtype : float64 or float32

    Returns
    -------
    InitSweepResult
    """
    dt = _dtype(dtype)
    _, init_rng, batch_rng = np.random.default_rng(seed).spawn(3)
    Xtr, Xte, ytr, yte = digits_split(dt)
    sizes = (Xtr.shape[1], *([width] * depth), 10)
    unit_weights = gaussian_weights(sizes, 1.0, init_rng, dt)
    batch_seed = batch_rng.integers(2**63)
    S = len(scales)
    acc = {k: np.zeros(S) for k in NETS}
    loss = {k: np.zeros(S) for k in NETS}
    stds = {k: np.zeros((S, depth)) for k in NETS}
    for i, scale in enumerate(scales):
        weights = [(W * scale).astype(dt) for W in unit_weights]
        for k, norm in zip(NETS, (None, "batchnorm"), strict=True):
            model = make_mlp(weights, activation, norm)
            stds[k][i] = _hidden_output_std(model, Xtr)
            c = _train(model, lr, Xtr, ytr, steps, batch_size, np.random.default_rng(batch_seed))
            if np.isnan(c).any():
                loss[k][i], acc[k][i] = np.inf, np.nan
            else:
                loss[k][i], _ = _safe_eval(model, Xtr, ytr)
                _, acc[k][i] = _safe_eval(model, Xte, yte)
    setup = {"experiment": "initial weight scale sweep (deep network)",
             "network": describe(sizes, activation, None),
             "bn": "BatchNorm before every hidden nonlinearity", "scales": list(map(float, scales)),
             "depth": int(depth), "width": int(width), "steps": int(steps),
             "batch_size": int(batch_size), "lr": float(lr), "optimizer": "plain SGD",
             "seed": int(seed), "dtype": dt.name,
             "data": f"digits, notebook 05's split: {len(Xtr)} train / {len(Xte)} held out"}
    return InitSweepResult(np.asarray(scales, dtype=float), acc, loss, stds, setup)


def plot_init_scale_sweep(result: InitSweepResult, figsize: tuple[float, float] = (12, 3.3)) -> Any:
    """Left: final held-out accuracy against the init scale; then activation std per layer.

    The middle and right panels show the std of every hidden layer's activations at
    initialization, one line per scale, without and with BN, on the same vertical axis.
    The stds are drawn as measured, however small (only an exact 0 is left out of the log
    axis), and the legend sits outside the panels, so that no curve is hidden.
    """
    import matplotlib.pyplot as plt

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=figsize, dpi=80)
    for k, style, label in (("baseline", "k--o", "without BN"), ("batchnorm", "C3-o", "with BN")):
        a1.semilogx(result.scales, np.nan_to_num(result.test_accuracy[k], nan=0.0), style,
                    label=label)
    a1.axhline(0.1, color="0.7", lw=0.8)
    a1.set_xlabel("initial weight std")
    a1.set_ylabel("final held-out accuracy")
    a1.set_ylim(0, 1.02)
    a1.legend()
    layers = np.arange(1, result.activation_std["baseline"].shape[1] + 1)
    cmap = plt.get_cmap("viridis")
    S = len(result.scales)
    for ax, key, title in ((a2, "baseline", "without BN"), (a3, "batchnorm", "with BN")):
        for i, s in enumerate(result.scales):
            std = result.activation_std[key][i]   # unclipped: the table shows the same values
            ax.semilogy(layers, np.where(std > 0, std, np.nan), "-o", ms=3,
                        color=cmap(i / max(S - 1, 1)), label=f"std {s:g}")
        ax.set_xlabel("hidden layer")
        ax.set_title(f"{title}: std of activations at init", fontsize=9)
    lo = min(np.nanmin(np.where(a > 0, a, np.nan)) for a in result.activation_std.values())
    hi = max(np.nanmax(a) for a in result.activation_std.values())
    for ax in (a2, a3):
        ax.set_ylim(lo / 3, hi * 3)
    a2.set_ylabel("std of activations at init")
    a3.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Batch size
# ---------------------------------------------------------------------------------------------

@register_result
@dataclass
class BatchSizeResult:
    """What :func:`batch_size_effect` measured; arrays are indexed like ``batch_sizes``.

    Attributes
    ----------
    batch_sizes : ndarray of int, shape (B,)
    test_accuracy : dict of str to ndarray (B,)
        ``"baseline"``; ``"batchnorm_eval"`` (BN with its running statistics, how it is
        deployed); ``"batchnorm_train"`` (BN normalizing each held-out mini-batch of the same
        size by its own statistics, what the network saw in training).
    train_accuracy : dict of str to ndarray (B,)
        The same three on the training set.
    setup : dict
    """

    batch_sizes: np.ndarray
    test_accuracy: dict[str, np.ndarray]
    train_accuracy: dict[str, np.ndarray]
    setup: dict[str, Any] = field(default_factory=dict)

    def mismatch(self) -> np.ndarray:
        """Train-mode minus eval-mode held-out accuracy of the BN network, shape (B,)."""
        return self.test_accuracy["batchnorm_train"] - self.test_accuracy["batchnorm_eval"]

    def table(self) -> str:
        """One row per batch size."""
        t = self.test_accuracy
        rows = [[int(b), t["baseline"][i], t["batchnorm_eval"][i], t["batchnorm_train"][i],
                 self.mismatch()[i]] for i, b in enumerate(self.batch_sizes)]
        return _table(["batch", "acc base", "acc BN eval", "acc BN train-mode",
                       "train - eval"], rows)

    def claims(self) -> Claims:
        """What the sweep shows, each with a margin that rounding differences cannot cross."""
        c = Claims("batch-size sweep")
        b, t = self.batch_sizes.astype(float), self.test_accuracy
        two_bn = _on_grid(b, t["batchnorm_eval"], (2,))
        two_base = _on_grid(b, t["baseline"], (2,))
        if two_bn.size:
            c.add("batches of 2: BN in eval mode below 60%, the plain network above 85%",
                  bool(two_bn[0] < 0.6 and two_base[0] > 0.85))
        _add(c, "with batches of 4 to 16, BN in eval mode is above 90%",
             _in_range(b, t["batchnorm_eval"], 4, 16), lambda v: v > 0.9)
        _add(c, "with batches of 4, evaluating with batch statistics loses more than 0.05",
             _on_grid(b, -self.mismatch(), (4,)), lambda v: v > 0.05)
        _add(c, "with batches of 60, batch and running statistics differ by under 0.03",
             _on_grid(b, np.abs(self.mismatch()), (60,)), lambda v: v < 0.03)
        return c


def _train_mode_accuracy(model: Layer, X: np.ndarray, y: np.ndarray, batch_size: int,
                         rng: np.random.Generator) -> float:
    """Accuracy when BN normalizes random batches of ``batch_size`` by their own statistics."""
    order = rng.permutation(len(X))
    n = (len(X) // batch_size) * batch_size
    correct = 0
    with frozen_buffers(model):
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            correct += int(np.sum(model.forward(X[idx]).argmax(axis=1) == y[idx]))
    return correct / n


@single_threaded_blas
def batch_size_effect(
    batch_sizes: tuple[int, ...] = (2, 4, 8, 16, 60),
    epochs: int = 3,
    seed: int = 0,
    *,
    lr: float = 0.1,
    init_scale: float = 0.3,
    hidden: tuple[int, ...] = (100, 100, 100),
    activation: str = "sigmoid",
    dtype: Any = np.float64,
) -> BatchSizeResult:
    """Train with each batch size for the same number of epochs, with and without BatchNorm.

    Every run sees the same number of examples (``epochs`` passes over the training set),
    so smaller batches take more, noisier steps; the learning rate is the same for all.

    Parameters
    ----------
    batch_sizes : tuple of int
        Each at least 2 (BatchNorm needs two examples to compute a variance).
    epochs : int
    seed : int
    lr, init_scale : float
    hidden : tuple of int
    activation : {"sigmoid", "tanh", "relu"}
    dtype : float64 or float32

    Returns
    -------
    BatchSizeResult
    """
    if min(batch_sizes) < 2:
        raise ValueError(f"batch_size_effect: every batch size must be >= 2, got {batch_sizes}.")
    dt = _dtype(dtype)
    _, init_rng, batch_rng, eval_rng = np.random.default_rng(seed).spawn(4)
    Xtr, Xte, ytr, yte = digits_split(dt)
    sizes = (Xtr.shape[1], *hidden, 10)
    weights = gaussian_weights(sizes, init_scale, init_rng, dt)
    batch_seed = batch_rng.integers(2**63)
    eval_seed = eval_rng.integers(2**63)
    keys = ("baseline", "batchnorm_eval", "batchnorm_train")
    B = len(batch_sizes)
    test = {k: np.zeros(B) for k in keys}
    train = {k: np.zeros(B) for k in keys}
    for i, bs in enumerate(batch_sizes):
        steps = epochs * (len(Xtr) // bs)
        for norm in (None, "batchnorm"):
            model = make_mlp(weights, activation, norm)
            _train(model, lr, Xtr, ytr, steps, bs, np.random.default_rng(batch_seed))
            if norm is None:
                test["baseline"][i] = _safe_eval(model, Xte, yte)[1]
                train["baseline"][i] = _safe_eval(model, Xtr, ytr)[1]
                continue
            test["batchnorm_eval"][i] = _safe_eval(model, Xte, yte)[1]
            train["batchnorm_eval"][i] = _safe_eval(model, Xtr, ytr)[1]
            test["batchnorm_train"][i] = _train_mode_accuracy(
                model, Xte, yte, bs, np.random.default_rng(eval_seed))
            train["batchnorm_train"][i] = _train_mode_accuracy(
                model, Xtr, ytr, bs, np.random.default_rng(eval_seed))
    setup = {"experiment": "batch-size effect", "network": describe(sizes, activation, None),
             "bn": "BatchNorm before every hidden nonlinearity (momentum 0.1, eps 1e-5)",
             "batch_sizes": [int(b) for b in batch_sizes], "epochs": int(epochs), "lr": float(lr),
             "init_scale": float(init_scale), "optimizer": "plain SGD", "seed": int(seed),
             "dtype": dt.name,
             "data": f"digits, notebook 05's split: {len(Xtr)} train / {len(Xte)} held out",
             "train-mode accuracy": "held-out set in random batches of the training batch size, "
                                    "each normalized by its own statistics"}
    return BatchSizeResult(np.asarray(batch_sizes, dtype=np.int64), test, train, setup)


def plot_batch_size_effect(result: BatchSizeResult,
                           figsize: tuple[float, float] = (7.5, 3.3)) -> Any:
    """Held-out accuracy against batch size: baseline, BN eval mode, BN train mode.

    The x axis is logarithmic with one labelled tick per batch size (no minor ticks); the
    legend sits to the right of the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(figsize=figsize, dpi=80)
    b = result.batch_sizes
    t = result.test_accuracy
    ax.semilogx(b, t["baseline"], "k--o", label="without BN")
    ax.semilogx(b, t["batchnorm_eval"], "C3-o", label="BN, eval mode (running stats)")
    ax.semilogx(b, t["batchnorm_train"], "C0-s", label="BN, train mode (batch stats)")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(b)
    ax.set_xticklabels([str(int(x)) for x in b])
    ax.set_xlabel("batch size")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"{result.setup['epochs']} epochs each, lr {result.setup['lr']:g}", fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig
