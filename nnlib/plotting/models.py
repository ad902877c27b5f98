"""What a model does: its decision regions on 2-D inputs and its activations per layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from nnlib.module import Layer


def _layers(model: Layer) -> list[Layer]:
    """The model and every layer nested in it (through ``.layers``)."""
    found = [model]
    for sub in getattr(model, "layers", None) or []:
        found.extend(_layers(sub))
    return found


def plot_decision_boundary(model: Layer, X: np.ndarray, y: np.ndarray, ax: Axes | None = None,
                           resolution: int = 100, margin: float = 0.5) -> Axes:
    """Color the plane by the class a model predicts, and scatter the data on top.

    The model is evaluated in inference mode (``model.eval()``) on a grid covering the
    data; afterwards the mode of the model and of every one of its layers is restored,
    so the call has no side effect on training (BatchNorm running statistics included).

    Parameters
    ----------
    model : Layer or Sequential
        Maps (N, 2) inputs to logits: (N, C) with C >= 2 (predicted class = argmax), or
        (N,) / (N, 1) for a binary classifier (predicted class = logit > 0).
    X : ndarray, shape (N, 2)
    y : ndarray of int, shape (N,)
        Class labels, used for the colors of the points.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new (4.5, 4) figure by default.
    resolution : int
        Grid points per axis.
    margin : float
        Added around the data's bounding box.

    Returns
    -------
    matplotlib.axes.Axes
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (N, 2), got {X.shape}.")
    if y.shape != (X.shape[0],):
        raise ValueError(f"plot_decision_boundary: y must have shape ({X.shape[0]},), "
                         f"got {y.shape}.")
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])

    layers = _layers(model)
    modes = [layer.training for layer in layers]
    try:
        model.eval()
        dtype = getattr(getattr(model, "layers", [model])[0], "dtype", X.dtype)
        logits = np.asarray(model.forward(grid.astype(dtype, copy=False)))
    finally:
        for layer, mode in zip(layers, modes, strict=True):
            layer.training = mode

    if logits.ndim == 1 or logits.shape[1] == 1:
        pred = (logits.reshape(-1) > 0).astype(np.int64)
    else:
        pred = logits.argmax(axis=1)
    n_classes = int(max(pred.max(), y.max())) + 1

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.0))
    cmap = plt.get_cmap("tab10")
    colors = [cmap(k % 10) for k in range(n_classes)]
    ax.contourf(gx, gy, pred.reshape(gx.shape), levels=np.arange(n_classes + 1) - 0.5,
                cmap=ListedColormap(colors), alpha=0.25)
    ax.scatter(X[:, 0], X[:, 1], c=[colors[k] for k in y], s=12, edgecolors="k",
               linewidths=0.3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_activation_histograms(
    activations_by_layer: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    bins: int = 40,
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
    xlabel: str = "value",
    panel_size: tuple[float, float] = (2.0, 2.2),
) -> Figure:
    """One histogram per layer, side by side, titled with the mean and standard deviation.

    Use it on activations (to see saturation or collapse) or on gradients (to see them
    vanish layer after layer).

    Parameters
    ----------
    activations_by_layer : mapping of str to ndarray, or sequence of ndarray
        Layer name -> values of any shape (flattened); a sequence is named "layer 1", ...
    bins : int
    value_range : (float, float), optional
        Common histogram range for all panels; by default each panel uses its own.
    title : str, optional
        Figure title.
    xlabel : str
        One label under the row of panels.
    panel_size : (float, float)
        Width and height of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        With one axis per layer.
    """
    if isinstance(activations_by_layer, Mapping):
        items = list(activations_by_layer.items())
    else:
        items = [(f"layer {i + 1}", a) for i, a in enumerate(activations_by_layer)]
    if not items:
        raise ValueError("plot_activation_histograms: got no layers to draw.")
    n = len(items)
    fig, axes = plt.subplots(1, n, figsize=(panel_size[0] * n, panel_size[1]), squeeze=False,
                             sharey=False)
    for ax, (name, values) in zip(axes[0], items, strict=True):
        v = np.asarray(values, dtype=np.float64).ravel()
        lo_hi = value_range
        if lo_hi is None and v.size and v.min() == v.max():
            lo_hi = (v.min() - 0.5, v.max() + 0.5)  # a constant layer still gets a bar
        ax.hist(v, bins=bins, range=lo_hi, color="tab:blue", alpha=0.8)
        ax.set_title(f"{name}\nmean {v.mean():.2g}\nstd {v.std():.2g}", fontsize=8)
        ax.locator_params(axis="x", nbins=4)
        ax.tick_params(labelsize=7)
        ax.xaxis.get_offset_text().set_fontsize(7)
        ax.set_yticks([])
    fig.supxlabel(xlabel, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
