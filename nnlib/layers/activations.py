"""Elementwise activation layers without parameters: ReLU, Sigmoid, Tanh and LeakyReLU."""

from __future__ import annotations

import numpy as np

from nnlib import functional as F
from nnlib.module import Layer


class _Activation(Layer):
    """An elementwise nonlinearity without parameters; keeps the input's dtype."""

    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)

    @property
    def name(self) -> str:
        """Short name used in error messages, e.g. ``ReLU()``."""
        return f"{type(self).__name__}()"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply the nonlinearity elementwise; output has the shape of ``x``."""
        out, cache = self._forward(self.check_input(x))
        self.save_for_backward(cache)
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Return dL/dx, same shape as ``dout`` (None with ``input_grad=False``)."""
        cache = self.saved_for_backward()
        return self._backward(dout, cache) if input_grad else None


class ReLU(_Activation):
    """``max(0, x)`` elementwise."""

    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))`` elementwise, stable for any finite input."""

    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class Tanh(_Activation):
    """``tanh(x)`` elementwise."""

    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class LeakyReLU(_Activation):
    """``x`` for positive inputs, ``alpha * x`` otherwise.

    Parameters
    ----------
    alpha : float
        Slope for negative inputs.
    """

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        return F.leaky_relu_forward(x, self.alpha)

    _backward = staticmethod(F.leaky_relu_backward)
