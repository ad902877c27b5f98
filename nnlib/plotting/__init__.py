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
``explained_box``              a widget box whose stored form says what it is

They live in ``curves``, ``models``, ``images`` and ``widgets``; this package re-exports them.

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

from nnlib.plotting.curves import plot_curves, plot_history
from nnlib.plotting.images import plot_images
from nnlib.plotting.models import plot_activation_histograms, plot_decision_boundary
from nnlib.plotting.widgets import explained_box, interactive_figure

__all__ = [
    "plot_history",
    "plot_curves",
    "plot_decision_boundary",
    "plot_activation_histograms",
    "plot_images",
    "interactive_figure",
    "explained_box",
]

