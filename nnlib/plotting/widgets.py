"""ipywidgets controls that redraw a figure, and boxes that say what they are when stored.

See :mod:`nnlib.plotting` ("Widgets and stored notebooks") for what a stored notebook shows.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

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
