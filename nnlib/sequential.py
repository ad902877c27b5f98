"""A network as a list of layers applied one after another."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from nnlib.module import Layer, Parameter


def _in_layer(e: Exception, i: int) -> Exception:
    """``e`` again, its message prefixed with the layer's index in the model.

    The same type where it can be rebuilt from a message; numpy's own error types (e.g. a
    ufunc with no loop for strings) cannot, so they become the built-in type they derive from.
    """
    message = f"Sequential layer {i}: {e}"
    try:
        return type(e)(message)
    except Exception:  # noqa: BLE001 - a type whose constructor wants more than a message
        base = next(t for t in type(e).__mro__ if t in (ValueError, TypeError, RuntimeError))
        return base(message)


class Sequential(Layer):
    """Layers chained so that each one's output is the next one's input.

    ``forward`` runs the layers in order; ``backward`` runs their backward passes in
    reverse order, which is backpropagation. The model starts in training mode.

    Parameters
    ----------
    layers : iterable of Layer

    Examples
    --------
    >>> import numpy as np, nnlib
    >>> rng = np.random.default_rng(0)
    >>> model = nnlib.Sequential([nnlib.Dense(4, 8, rng=rng), nnlib.ReLU(),
    ...                           nnlib.Dense(8, 3, rng=rng)])
    >>> model.forward(np.ones((5, 4))).shape
    (5, 3)
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        super().__init__()
        self.layers: list[Layer] = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: item {i} is {type(layer).__name__}, not an nnlib Layer.")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Run every layer in order on a batch of shape (N, D); returns the last output."""
        for i, layer in enumerate(self.layers):
            try:
                x = layer.forward(x)
            except (ValueError, TypeError) as e:
                raise _in_layer(e, i) from e
        return x

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate dL/d(output) through every layer in reverse; returns dL/dx.

        Parameters
        ----------
        dout : ndarray, shape (N, out_features)
            Gradient of the loss with respect to the model's output.
        input_grad : bool, keyword only
            Passed to the first layer: with ``False`` only the parameter gradients are
            computed (for a first Dense layer, dL/dx is a matrix product as large as its
            forward pass) and None is returned. A training step needs no dL/dx;
            :func:`nnlib.fit` uses this.

        Returns
        -------
        ndarray of shape (N, in_features), or None when ``input_grad`` is False.
        """
        layers = self.layers
        for i in range(len(layers) - 1, -1, -1):
            try:
                dout = layers[i].backward(dout, input_grad=input_grad or i > 0)
            except (ValueError, TypeError, RuntimeError) as e:
                raise _in_layer(e, i) from e
        return dout if input_grad else None

    def train(self, mode: bool = True) -> Sequential:
        """Put the model and every layer in training mode (``mode=False``: inference)."""
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def parameters(self, prefix: str = "") -> list[Parameter]:
        """Handles on every trainable array, named ``"<layer index>.<key>"``."""
        out: list[Parameter] = []
        for i, layer in enumerate(self.layers):
            out.extend(layer.parameters(prefix=f"{prefix}{i}."))
        return out

    def leaves(self) -> list[Layer]:
        """Every layer that computes, in order, nested Sequentials flattened."""
        return [leaf for layer in self.layers for leaf in layer.leaves()]

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def config(self) -> dict[str, Any]:
        """Empty: the layers are saved one by one, as the children of the model."""
        return {}

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}) " + repr(layer).replace("\n", "\n  ")
                        for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"
