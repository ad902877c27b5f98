"""Layers: the kernels of :mod:`nnlib.functional` with their parameters and mode attached.

Every layer follows the same contract (see :class:`nnlib.module.Layer`): ``forward(x)``
saves what ``backward(dout, *, input_grad=True)`` needs; ``backward`` writes ``grads`` and
returns dL/dx (None with ``input_grad=False``). Every constructor argument is stored under
its own name, so ``config()`` and ``repr`` come from the base class.
Shapes: a batch is (N, D) with one example per row.

The layers live in one module per family (``dense``, ``normalization``, ``activations``,
``dropout``); this package re-exports them all.
"""

from __future__ import annotations

from nnlib.layers.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from nnlib.layers.dense import Dense
from nnlib.layers.dropout import Dropout
from nnlib.layers.normalization import BatchNorm, LayerNorm

__all__ = ["Dense", "BatchNorm", "LayerNorm", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout"]
