"""Matplotlib helpers shared by the course notebooks.

Every function draws into a new figure (or into the ``ax`` it is given) and returns the
:class:`~matplotlib.figure.Figure` or :class:`~matplotlib.axes.Axes` it drew on. None of
them calls ``plt.show()``: the caller decides when a figure is displayed, saved or closed.

Functions
---------
``plot_history``               loss and accuracy per epoch, training and validation
``plot_curves``                several named curves on one axis (optimizers, BN vs no BN)
``plot_decision_boundary``     class regions of a model on 2-D inputs, with the data on top
``plot_activation_histograms`` one histogram per layer of activations (or gradients)
``plot_images``                a grid of small grayscale images, e.g. 8x8 digits
``interactive_figure``         ipywidgets controls that redraw a figure (deterministic widget ids)

Widgets and stored notebooks
----------------------------
A widget's display holds two representations: the live view, which needs a running
kernel, and a ``text/plain`` fallback, which is what JupyterLab shows for an untrusted
notebook (a fresh clone), and what a viewer without JavaScript shows. ipywidgets' fallback
is the widget's repr (``VBox(children=(HBox(...``); the widgets made here say instead what
they are and that the cell must be run (:func:`explained_box`).

The course stores neither the live view nor the widget state in committed notebooks
(``scripts/run_notebooks.py`` drops both), only that sentence. Measured in JupyterLab 4.6
with ipywidgets 8.1: stored state is not used at all while a notebook is untrusted; once
trusted, it draws the controls with red "disconnected" icons, and moving them does nothing
until the cell is run again. A stored view without the state shows "Error displaying
widget: model not found". Neither helps a reader, so each widget in the course is followed
by a static figure of its default setting.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from nnlib.module import Layer

__all__ = [
    "plot_history",
    "plot_curves",
    "plot_decision_boundary",
    "plot_activation_histograms",
    "plot_images",
    "interactive_figure",
    "explained_box",
]


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


def plot_images(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 8,
                shape: tuple[int, int] | None = None,
                panel_size: float = 1.1) -> Figure:
    """Show a grid of small grayscale images (dark strokes on white).

    Parameters
    ----------
    images : ndarray, shape (K, H, W) or (K, H*W)
        Flat rows are reshaped to ``shape`` (default: square, e.g. 64 -> 8x8).
    titles : sequence of str, optional
        One short title per image.
    ncols : int
        Images per row.
    shape : (int, int), optional
        Image shape for flat rows.
    panel_size : float
        Inches per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        if shape is None:
            side = int(round(np.sqrt(images.shape[1])))
            if side * side != images.shape[1]:
                raise ValueError(f"plot_images: cannot make square images of {images.shape[1]} "
                                 "pixels; pass shape=(H, W).")
            shape = (side, side)
        images = images.reshape(images.shape[0], *shape)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError("plot_images: images must have shape (K, H, W) or (K, H*W) with K > 0, "
                         f"got {images.shape}.")
    if titles is not None and len(titles) != images.shape[0]:
        raise ValueError(f"plot_images: got {len(titles)} titles for {images.shape[0]} images.")
    k = images.shape[0]
    ncols = max(1, min(ncols, k))
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows * 1.15),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < k:
            ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


_WIDGET_COUNTER = itertools.count()


@functools.cache
def _explained_vbox_class() -> type:
    import ipywidgets as widgets

    class ExplainedBox(widgets.VBox):
        """A VBox whose plain-text form is a sentence instead of ipywidgets' repr."""

        def __init__(self, *args: Any, text: str, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.plain_text = text

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
            data = super()._repr_mimebundle_(**kwargs)
            if data is not None:
                data["text/plain"] = self.plain_text
            return data

    return ExplainedBox


def explained_box(children: Sequence[Any], text: str, **kwargs: Any) -> Any:
    """An ``ipywidgets.VBox`` of ``children`` whose ``text/plain`` form is ``text``.

    Jupyter shows ``text/plain`` wherever the live widget cannot be drawn: an untrusted
    notebook (a fresh clone opened in JupyterLab), a notebook viewer without JavaScript, a
    terminal. ipywidgets puts the widget's repr there (``VBox(children=(...``); ``text``
    should say instead what the widget is and that running the cell brings it to life.

    Parameters
    ----------
    children : sequence of ipywidgets.Widget
    text : str
        One short sentence, e.g. ``"Interactive explorer: run this cell to use it."``.
    **kwargs
        Passed to ``ipywidgets.VBox`` (``layout``, ``model_id``, ...).

    Returns
    -------
    ipywidgets.VBox
        Displays as the live widget plus ``text`` as its plain-text form;
        ``box.plain_text`` holds ``text``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("explained_box: text must be a non-empty sentence.")
    return _explained_vbox_class()(list(children), text=text, **kwargs)


def _and(words: Sequence[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _figure_png(fig: Figure) -> str:
    """The figure as a base64-encoded PNG (what Jupyter stores for an image output)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def interactive_figure(draw: Callable[..., Figure], name: str = "figure", *,
                       text: str | None = None,
                       **controls: Sequence[Any] | tuple[int, int] | tuple[int, int, int]) -> Any:
    """Controls (sliders, drop-downs) above a figure that is redrawn when a control changes.

    A small, notebook-friendly relative of ``ipywidgets.interact``: ``draw(**values)`` must
    return a :class:`matplotlib.figure.Figure` built *without* pyplot (``Figure(...)``), so
    that nothing is displayed twice; its PNG is placed in an ``Output`` widget directly.
    Every widget model gets a deterministic id, ``nnlib-<name>-<n>-<part>`` with ``n``
    counting the widgets made in this Python session, so a notebook executed in a fresh
    kernel stores the same widget state every time.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control; returns a Figure.
    name : str
        Used in the widget ids, and (hyphens as spaces) in the plain-text form.
    text : str, optional
        The plain-text form (see :func:`explained_box`); by default "Interactive <name>:
        controls for <controls> redraw a figure; run this cell to use it."
    **controls
        ``keyword=spec`` where spec is a list of strings (a drop-down), a list of numbers
        (a slider over exactly these values) or a tuple ``(min, max)`` / ``(min, max, step)``
        of integers (an integer slider). The first option, or ``min``, is the initial value
        unless the list's or tuple's value is overridden by ``draw``'s default for that
        keyword.

    Returns
    -------
    ipywidgets.VBox
        The controls and the figure; display it (make it a cell's last expression). Its
        plain-text form is ``text``, not a repr.

    Raises
    ------
    ValueError
        For an empty or unsupported control specification.
    """
    import inspect

    import ipywidgets as widgets
    from ipywidgets.widgets.widget_description import DescriptionStyle

    n = next(_WIDGET_COUNTER)

    def mid(part: str) -> str:
        return f"nnlib-{name}-{n}-{part}"

    defaults = {k: p.default for k, p in inspect.signature(draw).parameters.items()
                if p.default is not inspect.Parameter.empty}
    made: dict[str, Any] = {}
    for key, spec in controls.items():
        ids = {"model_id": mid(f"{key}"), "layout": widgets.Layout(model_id=mid(f"{key}-layout"))}
        if isinstance(spec, tuple) and len(spec) in (2, 3) and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in spec):
            lo, hi = int(spec[0]), int(spec[1])
            step = int(spec[2]) if len(spec) == 3 else 1
            value = int(defaults.get(key, lo))
            made[key] = widgets.IntSlider(value=value, min=lo, max=hi, step=step,
                                          description=key, continuous_update=False,
                                          style=widgets.SliderStyle(model_id=mid(f"{key}-style")),
                                          **ids)
        elif isinstance(spec, (list, tuple)) and len(spec) > 0:
            options = list(spec)
            value = defaults.get(key, options[0])
            if value not in options:
                raise ValueError(f"interactive_figure: the default {key}={value!r} of draw is "
                                 f"not one of the options {options}.")
            if all(isinstance(o, str) for o in options):
                made[key] = widgets.Dropdown(
                    options=options, value=value, description=key,
                    style=DescriptionStyle(model_id=mid(f"{key}-style")), **ids)
            else:
                made[key] = widgets.SelectionSlider(
                    options=options, value=value, description=key, continuous_update=False,
                    style=widgets.SliderStyle(model_id=mid(f"{key}-style")), **ids)
        else:
            raise ValueError(f"interactive_figure: control {key!r} must be a non-empty list of "
                             f"options or a (min, max[, step]) tuple of ints, got {spec!r}.")
    out = widgets.Output(layout=widgets.Layout(model_id=mid("output-layout")),
                         model_id=mid("output"))

    def redraw(change: Any = None) -> None:
        fig = draw(**{k: w.value for k, w in made.items()})
        if not isinstance(fig, Figure):
            raise TypeError(f"interactive_figure: draw must return a matplotlib Figure, "
                            f"got {type(fig).__name__}.")
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": _figure_png(fig),
                                 "text/plain": f"<{name} figure>"}},)

    for w in made.values():
        w.observe(redraw, names="value")
    redraw()
    box_controls = widgets.HBox(list(made.values()),
                                layout=widgets.Layout(model_id=mid("controls-layout"),
                                                      flex_flow="row wrap"),
                                model_id=mid("controls"))
    if text is None:
        what = f"controls for {_and(list(made))} redraw a figure; " if made else ""
        text = f"Interactive {name.replace('-', ' ')}: {what}run this cell to use it."
    return explained_box([box_controls, out], text,
                         layout=widgets.Layout(model_id=mid("box-layout")), model_id=mid("box"))
