"""Learning curves: ``plot_history`` (one training run) and ``plot_curves`` (several named runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter


def _series(history: Any, key: str) -> list[float]:
    """Return ``history.key`` or ``history[key]`` as a list of floats (empty if absent)."""
    if isinstance(history, Mapping):
        values = history.get(key, [])
    else:
        values = getattr(history, key, [])
    return [float(v) for v in (values if values is not None else [])]


def plot_history(history: Any, title: str | None = None,
                 figsize: tuple[float, float] = (8.0, 3.2)) -> Figure:
    """Plot the per-epoch loss (and accuracy, when recorded) of a training run.

    Parameters
    ----------
    history : History or mapping
        Anything with list attributes (or keys) ``loss``, ``accuracy``, ``val_loss`` and
        ``val_accuracy``, one entry per epoch, such as the value returned by
        :func:`nnlib.fit`. Empty or missing lists are skipped; the accuracy panel is drawn
        only when ``accuracy`` or ``val_accuracy`` is non-empty (not for regression).
    title : str, optional
        Figure title.
    figsize : (float, float)

    Returns
    -------
    matplotlib.figure.Figure
        With one axis (loss) or two (loss, accuracy).

    Raises
    ------
    ValueError
        If ``history`` holds no loss values at all.
    """
    curves = {k: _series(history, k) for k in ("loss", "val_loss", "accuracy", "val_accuracy")}
    if not curves["loss"] and not curves["val_loss"]:
        raise ValueError("plot_history: the history holds no 'loss' or 'val_loss' values.")
    with_acc = bool(curves["accuracy"] or curves["val_accuracy"])
    fig, axes = plt.subplots(1, 2 if with_acc else 1, figsize=figsize, squeeze=False)
    panels = [("loss", axes[0, 0])] + ([("accuracy", axes[0, 1])] if with_acc else [])
    for metric, ax in panels:
        for prefix, label, style in (("", "training", "-"), ("val_", "validation", "--")):
            values = curves[prefix + metric]
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, style, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


class _PlainLogFormatter(LogFormatter):
    """Log-axis tick labels as plain numbers ("0.04", "1e-05"), labelling the same ticks."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def plot_curves(curves: Mapping[str, Sequence[float]], ax: Axes | None = None,
                xlabel: str = "epoch", ylabel: str = "loss", logy: bool = False,
                title: str | None = None, start: int = 1) -> Axes:
    """Draw several named curves on one axis, e.g. one loss curve per optimizer.

    Parameters
    ----------
    curves : mapping of str to sequence of float
        Label -> values; value ``i`` is drawn at x = ``start + i``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new (6, 3.5) figure by default.
    xlabel, ylabel : str
    logy : bool
        Logarithmic y axis (for losses that fall by orders of magnitude).
    title : str, optional
    start : int
        x value of the first point (1 for epochs, 0 for steps).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not curves:
        raise ValueError("plot_curves: got no curves to draw.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.5))
    for label, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"plot_curves: curve {label!r} must be 1-D, got shape {values.shape}.")
        ax.plot(np.arange(start, start + values.size), values, label=label)
    if logy:
        ax.set_yscale("log")
        # Plain-text tick labels ("0.1", "0.04"): the default 10^k labels go through
        # mathtext, whose parsing took a third of an interactive redraw.
        ax.yaxis.set_major_formatter(_PlainLogFormatter())
        ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
