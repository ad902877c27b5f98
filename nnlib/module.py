"""The base class every layer shares, and the handle optimizers use for a parameter.

A :class:`Layer` owns three dictionaries:

``params``
    Trainable arrays, e.g. ``{"W": ..., "b": ...}``. Optimizers update them in place.
``grads``
    The gradient of the loss with respect to each parameter, same keys and shapes,
    overwritten (not accumulated) by every ``backward``.
``buffers``
    Non-trainable state that is saved with the model, e.g. BatchNorm's running statistics.

and a ``training`` flag that :meth:`Layer.train` and :meth:`Layer.eval` switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class Parameter:
    """A live handle on one trainable array of one layer.

    Parameters
    ----------
    layer : Layer
        The layer that owns the array.
    key : str
        Its key in ``layer.params`` and ``layer.grads``.
    name : str
        A readable name such as ``"0.W"`` (layer index, then key).

    Notes
    -----
    ``value`` and ``grad`` are looked up on every access, so the handle stays valid when
    a layer replaces its gradient arrays; optimizers must update ``value`` in place.
    """

    __slots__ = ("layer", "key", "name")

    def __init__(self, layer: Layer, key: str, name: str | None = None) -> None:
        self.layer = layer
        self.key = key
        self.name = name if name is not None else key

    @property
    def value(self) -> np.ndarray:
        """The parameter array itself (not a copy)."""
        return self.layer.params[self.key]

    @property
    def grad(self) -> np.ndarray:
        """The gradient from the last backward pass, same shape as :attr:`value`."""
        return self.layer.grads[self.key]

    def __repr__(self) -> str:
        v = self.value
        return f"Parameter({self.name!r}, shape={v.shape}, dtype={v.dtype})"


class Layer:
    """Base class of all layers: a forward map, its backward pass, parameters and a mode.

    Subclasses implement :meth:`forward` and :meth:`backward` and fill ``params``,
    ``grads`` and ``buffers`` in their constructor.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training: bool = True
        self._cache: Any = None

    # -- the two passes ------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return the output for a batch ``x`` of shape (N, D), caching what backward needs."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Given dL/dout, store dL/dparams in ``grads`` and return dL/dx."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Same as :meth:`forward`."""
        return self.forward(x)

    def _take_cache(self) -> Any:
        """Return the cache of the last forward, or explain that there is none."""
        if self._cache is None:
            raise RuntimeError(f"{self}: backward() called before forward().")
        return self._cache

    # -- modes -----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Layer:
        """Switch to training mode (or to inference mode with ``mode=False``); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """Switch to inference mode; returns self."""
        return self.train(False)

    # -- parameters --------------------------------------------------------------------
    def parameters(self, prefix: str = "") -> list[Parameter]:
        """Handles on the trainable arrays, in a fixed order, for an optimizer."""
        return [Parameter(self, k, prefix + k) for k in self.params]

    def named_arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(key, array)`` for every parameter and buffer (what is saved to disk)."""
        yield from self.params.items()
        yield from self.buffers.items()

    # -- persistence and display ---------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (without its arrays)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
