"""A network as a list of layers applied one after another."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from nnlib.module import Layer, Parameter


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
                raise type(e)(f"Sequential layer {i}: {e}") from e
        return x

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate dL/d(output) through every layer in reverse; returns dL/dx.

        Parameters
        ----------
        dout : ndarray, shape (N, out_features)
            Gradient of the loss with respect to the model's output.
        input_grad : bool
            With ``False``, only the parameter gradients are computed: the first layer
            skips dL/dx (for a first Dense layer, a matrix product as large as its forward
            pass), and None is returned. A training step needs no dL/dx; :func:`nnlib.fit`
            uses this.

        Returns
        -------
        ndarray of shape (N, in_features), or None when ``input_grad`` is False.
        """
        layers = self.layers
        stop = 0 if input_grad else 1
        for i in range(len(layers) - 1, stop - 1, -1):
            try:
                dout = layers[i].backward(dout)
            except (ValueError, TypeError, RuntimeError) as e:
                raise type(e)(f"Sequential layer {i}: {e}") from e
        if input_grad or not layers:
            return dout
        first = layers[0]
        try:
            params_only = getattr(first, "_backward_params", None)
            if params_only is not None:
                params_only(dout)
            else:
                first.backward(dout)
        except (ValueError, TypeError, RuntimeError) as e:
            raise type(e)(f"Sequential layer 0: {e}") from e
        return None

    def _backward_params(self, dout: np.ndarray) -> None:
        """Parameter gradients only (used when this model is the first layer of another)."""
        self.backward(dout, input_grad=False)

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

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.value.size for p in self.parameters())

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"
