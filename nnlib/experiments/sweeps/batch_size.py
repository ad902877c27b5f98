"""Batch-size sweep: tiny batches give noisy statistics and a train/eval mismatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlib.experiments._common import (
    Claims,
    _dtype,
    describe,
    digits_split,
    frozen_buffers,
    gaussian_weights,
    make_mlp,
    register_result,
    single_threaded_blas,
)
from nnlib.experiments.sweeps._shared import (
    add_claim,
    format_table,
    in_range,
    on_grid,
    safe_eval,
    train_sgd,
)
from nnlib.module import Layer


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
        return format_table(["batch", "acc base", "acc BN eval", "acc BN train-mode",
                       "train - eval"], rows)

    def claims(self) -> Claims:
        """What the sweep shows, each with a margin that rounding differences cannot cross."""
        c = Claims("batch-size sweep")
        b, t = self.batch_sizes.astype(float), self.test_accuracy
        two_bn = on_grid(b, t["batchnorm_eval"], (2,))
        two_base = on_grid(b, t["baseline"], (2,))
        if two_bn.size:
            c.add("batches of 2: BN in eval mode below 60%, the plain network above 85%",
                  bool(two_bn[0] < 0.6 and two_base[0] > 0.85))
        add_claim(c, "with batches of 4 to 16, BN in eval mode is above 90%",
             in_range(b, t["batchnorm_eval"], 4, 16), lambda v: v > 0.9)
        add_claim(c, "with batches of 4, evaluating with batch statistics loses more than 0.05",
             on_grid(b, -self.mismatch(), (4,)), lambda v: v > 0.05)
        add_claim(c, "with batches of 60, batch and running statistics differ by under 0.03",
             on_grid(b, np.abs(self.mismatch()), (60,)), lambda v: v < 0.03)
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
            train_sgd(model, lr, Xtr, ytr, steps, bs, np.random.default_rng(batch_seed))
            if norm is None:
                test["baseline"][i] = safe_eval(model, Xte, yte)[1]
                train["baseline"][i] = safe_eval(model, Xtr, ytr)[1]
                continue
            test["batchnorm_eval"][i] = safe_eval(model, Xte, yte)[1]
            train["batchnorm_eval"][i] = safe_eval(model, Xtr, ytr)[1]
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
