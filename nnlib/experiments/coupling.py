"""How batch normalization couples the examples of a batch (an interactive demonstration).

In training mode BatchNorm normalizes each feature with the mean and variance of the
batch, so every example's output depends on every other example in the batch. Change
one example and the others move. In inference mode (running statistics) and with
LayerNorm (statistics of each example's own features) they do not.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlib import functional as F

__all__ = ["CouplingDemo", "coupling_demo", "plot_coupling", "coupling_widget"]

MODES = ("batchnorm_train", "batchnorm_eval", "layernorm")
MODE_LABELS = {"batchnorm_train": "BatchNorm, training mode (batch statistics)",
               "batchnorm_eval": "BatchNorm, eval mode (running statistics)",
               "layernorm": "LayerNorm (per-example statistics)"}


@dataclass
class CouplingDemo:
    """A small batch and the fixed statistics it is compared against.

    Attributes
    ----------
    x : ndarray, shape (m, D)
        The batch; example ``index`` is the one the user moves.
    index, feature : int
        Which example, and which of its features, the slider changes.
    running_mean, running_var : ndarray, shape (D,)
        Fixed statistics for eval mode (here: those of the unchanged batch's population).
    """

    x: np.ndarray
    index: int
    feature: int
    running_mean: np.ndarray
    running_var: np.ndarray

    def batch_with(self, value: float) -> np.ndarray:
        """A copy of the batch with ``x[index, feature] = value``, shape (m, D)."""
        x = self.x.copy()
        x[self.index, self.feature] = value
        return x

    def outputs(self, value: float) -> dict[str, np.ndarray]:
        """Normalized batch (gamma=1, beta=0) for each mode, each of shape (m, D)."""
        x = self.batch_with(value)
        d = x.shape[1]
        one, zero = np.ones(d), np.zeros(d)
        return {"batchnorm_train": F.batchnorm_forward(x, one, zero)[0],
                "batchnorm_eval": F.batchnorm_inference_forward(
                    x, one, zero, self.running_mean, self.running_var, 1e-5)[0],
                "layernorm": F.layernorm_forward(x, one, zero)[0]}

    def sweep(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs of feature ``feature`` of every example as the value moves.

        Returns
        -------
        dict of str to ndarray, shape (len(values), m)
        """
        out = {k: np.zeros((len(values), self.x.shape[0])) for k in MODES}
        for i, v in enumerate(values):
            for k, y in self.outputs(float(v)).items():
                out[k][i] = y[:, self.feature]
        return out


def coupling_demo(rng: np.random.Generator, batch_size: int = 6, features: int = 4,
                  index: int = 0, feature: int = 0) -> CouplingDemo:
    """A random batch of ``batch_size`` examples with ``features`` features.

    Feature values are N(2, 1) (not centred, as pre-activations usually are not); the
    eval-mode statistics are the true population mean 2 and variance 1.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("coupling_demo: pass rng=np.random.default_rng(seed).")
    if batch_size < 2:
        raise ValueError(f"coupling_demo: batch_size must be >= 2, got {batch_size}.")
    x = 2.0 + rng.standard_normal((batch_size, features))
    return CouplingDemo(x, index, feature, np.full(features, 2.0), np.ones(features))


def _draw_bars(axes: Any, demo: CouplingDemo, value: float) -> None:
    outs = demo.outputs(value)
    base = demo.outputs(float(demo.x[demo.index, demo.feature]))
    m = demo.x.shape[0]
    for ax, k in zip(axes, MODES, strict=True):
        ax.clear()
        colors = ["C1" if i == demo.index else "C0" for i in range(m)]
        ax.bar(np.arange(m), outs[k][:, demo.feature], color=colors)
        ax.plot(np.arange(m), base[k][:, demo.feature], "k_", ms=14, mew=2)
        ax.set_ylim(-3.5, 3.5)
        ax.set_xticks(np.arange(m))
        ax.set_xlabel("example in the batch")
        ax.set_title(MODE_LABELS[k].replace(" (", "\n("), fontsize=9)
        ax.axhline(0, color="0.6", lw=0.8)
    axes[0].set_ylabel(f"output, feature {demo.feature}")


def plot_coupling(demo: CouplingDemo, values: np.ndarray | None = None,
                  figsize: tuple[float, float] = (10, 3.3)) -> Any:
    """Static figure: every example's output as example ``index`` moves, one panel per mode.

    The moved example is drawn in orange; flat blue lines mean no coupling.
    """
    import matplotlib.pyplot as plt

    values = np.linspace(-1, 5, 61) if values is None else np.asarray(values, dtype=float)
    sw = demo.sweep(values)
    fig, axes = plt.subplots(1, 3, figsize=figsize, dpi=80, sharey=True)
    for ax, k in zip(axes, MODES, strict=True):
        for i in range(demo.x.shape[0]):
            moved = i == demo.index
            ax.plot(values, sw[k][:, i], color="C1" if moved else "C0", lw=2 if moved else 1,
                    label="moved example" if moved else ("other examples" if i == 1 else None))
        ax.axvline(demo.x[demo.index, demo.feature], color="0.6", ls=":", lw=1)
        ax.set_title(MODE_LABELS[k].replace(" (", "\n("), fontsize=9)
        ax.set_xlabel(f"input value of example {demo.index}")
    axes[0].set_ylabel(f"normalized output, feature {demo.feature}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


_WIDGETS_MADE = 0


def coupling_widget(demo: CouplingDemo) -> Any:
    """An ipywidgets slider for the moved example's value, redrawing bars for the three modes.

    Black ticks mark the outputs before the change. Returns the widget (display it); its
    plain-text form, shown where the live widget cannot be (an untrusted notebook, a viewer
    without JavaScript), says what it is and to run the cell
    (:func:`nnlib.plotting.explained_box`).

    Notes
    -----
    The widget models get ids numbered per kernel session (``nnlib-coupling-<n>-<part>``)
    instead of random ones, so that a notebook executed in a fresh kernel stores the
    same widget state every time (the course commits executed notebooks byte for byte).
    """
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    from nnlib.plotting import explained_box

    global _WIDGETS_MADE
    n = _WIDGETS_MADE
    _WIDGETS_MADE += 1

    def mid(part: str) -> str:
        return f"nnlib-coupling-{n}-{part}"

    start = float(demo.x[demo.index, demo.feature])
    slider = widgets.FloatSlider(value=start, min=-1.0, max=5.0, step=0.1,
                                 description=f"example {demo.index}", continuous_update=True,
                                 layout=widgets.Layout(model_id=mid("slider-layout")),
                                 style=widgets.SliderStyle(model_id=mid("slider-style")),
                                 model_id=mid("slider"))
    out = widgets.Output(layout=widgets.Layout(model_id=mid("output-layout")),
                         model_id=mid("output"))

    # One figure, laid out once; a slider move only changes the bar heights and re-renders
    # (measured: 0.09 s of CPU per move instead of 0.22 s when the figure was rebuilt).
    fig = Figure(figsize=(10, 3.0), dpi=80)
    axes = fig.subplots(1, 3, sharey=True)
    _draw_bars(axes, demo, start)
    fig.tight_layout()
    bars = [ax.containers[0] for ax in axes]

    def redraw(change: Any = None) -> None:
        # Render off-screen and put the PNG into the Output widget's state directly: this
        # works the same in a live notebook, in nbclient and under nbval (no output capture).
        outs = demo.outputs(float(slider.value))
        for container, k in zip(bars, MODES, strict=True):
            for rect, h in zip(container, outs[k][:, demo.feature], strict=True):
                rect.set_height(h)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": png, "text/plain": "<coupling figure>"}},)

    slider.observe(redraw, names="value")
    redraw()
    text = (f"Interactive BatchNorm coupling demo (a slider for example {demo.index}): "
            "run this cell to use it.")
    return explained_box([slider, out], text, layout=widgets.Layout(model_id=mid("box-layout")),
                         model_id=mid("box"))
