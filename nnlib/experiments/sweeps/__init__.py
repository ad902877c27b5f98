"""Sweeps with and without BatchNorm: learning rate, initial weight scale, batch size.

One module per sweep (``learning_rate``, ``init_scale``, ``batch_size``), each with its
result dataclass, the function that runs it and the one that plots it; what they share is
in ``_shared``. This package re-exports the public names.
"""

from __future__ import annotations

from nnlib.experiments.sweeps.batch_size import (
    BatchSizeResult,
    batch_size_effect,
    plot_batch_size_effect,
)
from nnlib.experiments.sweeps.init_scale import (
    InitSweepResult,
    init_scale_sweep,
    plot_init_scale_sweep,
)
from nnlib.experiments.sweeps.learning_rate import LRSweepResult, lr_robustness, plot_lr_robustness

__all__ = [
    "LRSweepResult", "lr_robustness", "plot_lr_robustness",
    "InitSweepResult", "init_scale_sweep", "plot_init_scale_sweep",
    "BatchSizeResult", "batch_size_effect", "plot_batch_size_effect",
]
