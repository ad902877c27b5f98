"""nnlib.plotting: every helper draws tiny inputs without warnings and returns its figure/axes.

pytest runs with filterwarnings=error, so any matplotlib or numpy warning fails a test.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nnlib  # noqa: E402
from nnlib.plotting import (  # noqa: E402
    plot_activation_histograms,
    plot_curves,
    plot_decision_boundary,
    plot_history,
    plot_images,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class _History:
    def __init__(self, loss, accuracy=(), val_loss=(), val_accuracy=()):
        self.loss = list(loss)
        self.accuracy = list(accuracy)
        self.val_loss = list(val_loss)
        self.val_accuracy = list(val_accuracy)


def _lines(ax):
    return [(line.get_label(), list(line.get_ydata())) for line in ax.get_lines()]


def test_plot_history_classification_has_loss_and_accuracy_panels():
    h = _History([1.0, 0.5, 0.25], [0.3, 0.6, 0.9], [1.1, 0.7, 0.4], [0.2, 0.5, 0.8])
    fig = plot_history(h, title="run")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert _lines(loss_ax) == [("training", [1.0, 0.5, 0.25]), ("validation", [1.1, 0.7, 0.4])]
    assert _lines(acc_ax) == [("training", [0.3, 0.6, 0.9]), ("validation", [0.2, 0.5, 0.8])]
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 2, 3]


def test_plot_history_regression_has_only_a_loss_panel():
    fig = plot_history({"loss": [2.0, 1.0], "val_loss": [], "accuracy": []})
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    assert _lines(fig.axes[0]) == [("training", [2.0, 1.0])]


def test_plot_history_without_loss_is_an_error():
    with pytest.raises(ValueError, match="plot_history"):
        plot_history(_History([]))


def test_plot_curves_draws_one_line_per_label_on_given_axes():
    fig, ax = plt.subplots()
    out = plot_curves({"sgd": [3.0, 2.0, 1.0], "adam": [3.0, 1.0, 0.1]}, ax=ax, logy=True,
                      start=0)
    assert out is ax
    assert [line.get_label() for line in ax.get_lines()] == ["sgd", "adam"]
    assert list(ax.get_lines()[1].get_xdata()) == [0, 1, 2]
    assert ax.get_yscale() == "log"
    assert isinstance(plot_curves({"a": [1.0, 2.0]}), Axes)


def test_plot_curves_log_axis_labels_are_plain_numbers():
    # mathtext labels (10^k) took a third of an interactive redraw; plain ones read as well
    for values in (np.geomspace(2.3, 1e-5, 50), np.geomspace(0.7, 0.04, 50)):
        ax = plot_curves({"loss": values}, logy=True)
        ax.figure.canvas.draw()
        labels = [t.get_text() for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)]
        shown = [t for t in labels if t]
        assert len(shown) >= 3 and not [t for t in shown if "$" in t], labels
        assert all(float(t) > 0 for t in shown)
    plt.close("all")


def test_plot_curves_rejects_empty_and_2d():
    with pytest.raises(ValueError, match="plot_curves"):
        plot_curves({})
    with pytest.raises(ValueError, match="shape"):
        plot_curves({"a": np.zeros((2, 2))})


def _bn_model(rng, out=2):
    return nnlib.Sequential([nnlib.Dense(2, 4, rng=rng), nnlib.BatchNorm(4), nnlib.ReLU(),
                             nnlib.Dense(4, out, rng=rng)])


@pytest.mark.parametrize("out", [1, 2, 3])
@pytest.mark.parametrize("start_training", [True, False])
def test_decision_boundary_restores_mode_and_leaves_running_stats(out, start_training):
    rng = np.random.default_rng(0)
    model = _bn_model(rng, out)
    X = rng.standard_normal((10, 2))
    y = np.arange(10) % max(out, 2)
    model.forward(X)  # move the running statistics away from 0 / 1
    model.train(start_training)
    bn = model.layers[1]
    before = (bn.running_mean.copy(), bn.running_var.copy())
    ax = plot_decision_boundary(model, X, y, resolution=12)
    assert isinstance(ax, Axes)
    assert model.training is start_training
    assert all(layer.training is start_training for layer in model.layers)
    np.testing.assert_array_equal(bn.running_mean, before[0])
    np.testing.assert_array_equal(bn.running_var, before[1])


def test_decision_boundary_restores_mixed_layer_modes_and_uses_eval_mode():
    rng = np.random.default_rng(1)
    model = _bn_model(rng)
    model.layers[1].eval()  # mixed modes: only the BatchNorm layer in inference
    seen = []
    original = model.layers[1].forward

    def spy(x):
        seen.append(model.layers[1].training)
        return original(x)

    model.layers[1].forward = spy
    X = rng.standard_normal((6, 2))
    fig, ax = plt.subplots()
    assert plot_decision_boundary(model, X, np.array([0, 1, 0, 1, 0, 1]), ax=ax,
                                  resolution=5) is ax
    assert seen == [False]
    assert [layer.training for layer in model.layers] == [True, False, True, True]


def test_decision_boundary_restores_mode_when_the_model_fails():
    rng = np.random.default_rng(2)
    model = nnlib.Sequential([nnlib.Dense(3, 2, rng=rng)])  # wrong input width
    with pytest.raises(ValueError, match=r"Dense\(3 -> 2\): expected input of shape \(N, 3\)"):
        plot_decision_boundary(model, np.zeros((4, 2)), np.zeros(4, dtype=np.int64))
    # X itself is checked before the model runs
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_decision_boundary(model, np.zeros((4, 3)), np.zeros(4, dtype=np.int64))
    model2 = _bn_model(rng)
    with pytest.raises(ValueError, match="y must have shape"):
        plot_decision_boundary(model2, np.zeros((4, 2)), np.zeros(3, dtype=np.int64))
    assert model.training and all(layer.training for layer in model.layers)


def test_activation_histograms_mapping_sequence_and_constant_layer():
    rng = np.random.default_rng(3)
    acts = {"h1": rng.standard_normal((5, 4)), "h2": np.zeros((5, 4))}
    fig = plot_activation_histograms(acts, title="init", value_range=None)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("h1")
    fig2 = plot_activation_histograms([rng.random(10)] * 3, value_range=(0.0, 1.0), bins=5)
    assert [ax.get_title().split("\n")[0] for ax in fig2.axes] == ["layer 1", "layer 2",
                                                                    "layer 3"]
    with pytest.raises(ValueError, match="plot_activation_histograms"):
        plot_activation_histograms({})


def test_plot_images_flat_and_square_with_titles():
    rng = np.random.default_rng(4)
    fig = plot_images(rng.random((3, 64)), titles=["a", "b", "c"], ncols=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # 2 x 2 grid, the last panel left empty
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert fig.axes[0].get_images()[0].get_array().shape == (8, 8)
    assert isinstance(plot_images(rng.random((2, 3, 5))), Figure)
    with pytest.raises(ValueError, match="square"):
        plot_images(rng.random((2, 10)))
    with pytest.raises(ValueError, match="titles"):
        plot_images(rng.random((2, 64)), titles=["only one"])


def test_helpers_never_show(monkeypatch):
    def fail():
        raise AssertionError("a plotting helper called plt.show()")

    monkeypatch.setattr(plt, "show", fail)
    rng = np.random.default_rng(5)
    plot_history(_History([1.0]))
    plot_curves({"a": [1.0]})
    plot_decision_boundary(_bn_model(rng), rng.standard_normal((4, 2)), np.array([0, 1, 0, 1]),
                           resolution=4)
    plot_activation_histograms([np.ones(3)])
    plot_images(np.ones((1, 4)))


# --------------------------------------------------------------------------- interactive_figure
def _draw_factory(calls):
    from matplotlib.figure import Figure as MplFigure

    def draw(lr=0.1, init="xavier", width=4):
        calls.append((lr, init, width))
        fig = MplFigure(figsize=(2, 1.5), dpi=40)
        ax = fig.subplots()
        ax.plot([0, 1], [0, lr * width])
        ax.set_title(init)
        return fig

    return draw


def test_interactive_figure_builds_controls_and_draws_the_defaults():
    import ipywidgets as widgets

    from nnlib.plotting import interactive_figure

    calls = []
    box = interactive_figure(_draw_factory(calls), name="t", lr=[0.01, 0.1, 1.0],
                             init=["small", "xavier"], width=(1, 8))
    assert isinstance(box, widgets.VBox)
    controls, out = box.children
    lr, init, width = controls.children
    assert isinstance(lr, widgets.SelectionSlider) and lr.value == 0.1
    assert isinstance(init, widgets.Dropdown) and init.value == "xavier"
    assert isinstance(width, widgets.IntSlider) and (width.min, width.max, width.value) == (1, 8, 4)
    assert calls == [(0.1, "xavier", 4)]  # drawn once, with draw's defaults
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"]
    first_png = out.outputs[0]["data"]["image/png"]

    width.value = 8  # a change redraws with the new value
    assert calls[-1] == (0.1, "xavier", 8)
    assert out.outputs[0]["data"]["image/png"] != first_png


def test_widgets_display_a_sentence_as_plain_text_not_their_repr():
    """What JupyterLab shows for an untrusted notebook, and viewers without JavaScript."""
    import ipywidgets as widgets
    from IPython.core.formatters import DisplayFormatter

    from nnlib.plotting import explained_box, interactive_figure

    box = interactive_figure(_draw_factory([]), name="training-explorer", lr=[0.01, 0.1],
                             init=["small", "xavier"], width=(1, 8))
    data, _ = DisplayFormatter().format(box)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert data["text/plain"] == ("Interactive training explorer: controls for lr, init and "
                                  "width redraw a figure; run this cell to use it.")
    assert "children=" in repr(box)  # the repr itself stays ipywidgets' (for debugging)

    custom = interactive_figure(_draw_factory([]), name="t", text="Explorer: run the cell.",
                                lr=[0.1, 1.0])
    assert DisplayFormatter().format(custom)[0]["text/plain"] == "Explorer: run the cell."

    plain = explained_box([widgets.IntSlider()], "A slider: run this cell to use it.")
    assert isinstance(plain, widgets.VBox)
    assert DisplayFormatter().format(plain)[0]["text/plain"] == "A slider: run this cell to use it."
    with pytest.raises(ValueError, match="non-empty"):
        explained_box([], " ")


def test_interactive_figure_ids_are_deterministic_and_unique():
    import re

    from nnlib.plotting import interactive_figure

    def ids(widget):
        found = [widget.model_id, widget.layout.model_id]
        style = getattr(widget, "style", None)
        if style is not None:
            found.append(style.model_id)
        for child in getattr(widget, "children", ()):
            found.extend(ids(child))
        return found

    a = ids(interactive_figure(_draw_factory([]), name="idtest", lr=[0.1, 1.0]))
    b = ids(interactive_figure(_draw_factory([]), name="idtest", lr=[0.1, 1.0]))
    assert all(re.fullmatch(r"nnlib-idtest-\d+-[\w-]+", i) for i in a + b), a
    assert len(set(a)) == len(a)  # every model has its own id
    assert not set(a) & set(b)  # a second widget does not reuse the first one's ids
    assert [i.split("-", 3)[3] for i in a] == [i.split("-", 3)[3] for i in b]


def test_interactive_figure_rejects_bad_specs_and_bad_draw():
    from nnlib.plotting import interactive_figure

    with pytest.raises(ValueError, match="width"):
        interactive_figure(_draw_factory([]), width=(1.5, 3.0))
    with pytest.raises(ValueError, match="not one of the options"):
        interactive_figure(_draw_factory([]), lr=[0.5, 2.0])
    with pytest.raises(ValueError, match="non-empty"):
        interactive_figure(_draw_factory([]), init=[])
    with pytest.raises(TypeError, match="Figure"):
        interactive_figure(lambda lr=0.1: None, lr=[0.1])
