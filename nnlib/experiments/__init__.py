"""Batch-normalization experiments: the paper's Figure 1 on digits, and more.

Every experiment is a function with small, seeded defaults (seconds on a laptop) that
returns a dataclass holding the measurements and the setup; a ``plot_*`` function draws
it and ``save_results`` / ``load_results`` store it in HDF5. Long runs:
``python -m nnlib experiment figure1 --steps 50000 --out results/``.

=========================  ==========================================================
function                   what it shows
=========================  ==========================================================
``batchnorm_figure1``      Ioffe & Szegedy (2015) Fig. 1: accuracy and sigmoid inputs
``lr_robustness``          BN keeps training at learning rates where plain SGD stalls
``init_scale_sweep``       BN makes a deep net insensitive to the initial weight scale
``batch_size_effect``      tiny batches: noisy statistics, train/eval mismatch
``loss_landscape``         Santurkar et al. (2018): loss and gradient along the gradient
``coupling_demo``          how BN couples the examples of a batch (ipywidgets)
=========================  ==========================================================
"""

from nnlib.experiments._common import load_results, save_results
from nnlib.experiments.coupling import CouplingDemo, coupling_demo, coupling_widget, plot_coupling
from nnlib.experiments.figure1 import Figure1Result, batchnorm_figure1, plot_figure1
from nnlib.experiments.landscape import LandscapeResult, loss_landscape, plot_loss_landscape
from nnlib.experiments.sweeps import (
    BatchSizeResult,
    InitSweepResult,
    LRSweepResult,
    batch_size_effect,
    init_scale_sweep,
    lr_robustness,
    plot_batch_size_effect,
    plot_init_scale_sweep,
    plot_lr_robustness,
)

__all__ = [
    "BatchSizeResult", "CouplingDemo", "Figure1Result", "InitSweepResult", "LRSweepResult",
    "LandscapeResult", "batch_size_effect", "batchnorm_figure1", "coupling_demo",
    "coupling_widget", "init_scale_sweep", "load_results", "loss_landscape", "lr_robustness",
    "plot_batch_size_effect", "plot_coupling", "plot_figure1", "plot_init_scale_sweep",
    "plot_loss_landscape", "plot_lr_robustness", "save_results",
]
