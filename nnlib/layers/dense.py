"""The fully connected layer ``Dense``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib._checks import as_batch, check_shape, float_dtype, match_dtype
from nnlib.init import get_initializer
from nnlib.module import Layer


class Dense(Layer):
    """Fully connected layer ``z = x @ W.T + b``.

    Parameters
    ----------
    in_features, out_features : int
    init : str or callable
        ``"xavier"`` (default), ``"he"``, ``"small"`` (the seed notebook's 0.01 Gaussian),
        or ``f(fan_out, fan_in, rng, dtype)``. The bias starts at zero.
    rng : numpy.random.Generator
        Required: the only source of randomness for the initial weights.
    dtype : float32 or float64
        Precision of the parameters; inputs must match it.
    bias : bool
        Without a bias, ``b`` is absent from ``params`` (useful right before BatchNorm,
        whose ``beta`` makes a bias redundant).

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (out_features, in_features) and ``"b"`` of shape (out_features,).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str | Callable[..., np.ndarray] = "xavier",
        rng: np.random.Generator | None = None,
        dtype: Any = np.float64,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(
                f"Dense: in_features and out_features must be positive, "
                f"got {in_features} and {out_features}."
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.dtype = float_dtype(dtype, "Dense")
        self.init = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.bias = bool(bias)
        if rng is None:
            raise TypeError(
                f"{self}: pass rng=np.random.default_rng(seed) so that the initial weights "
                "are reproducible; nnlib never uses numpy's global random state."
            )
        W = get_initializer(init)(self.out_features, self.in_features, rng, self.dtype)
        self.params["W"] = np.ascontiguousarray(W, dtype=self.dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        if self.bias:
            self.params["b"] = np.zeros(self.out_features, dtype=self.dtype)
            self.grads["b"] = np.zeros_like(self.params["b"])

    @classmethod
    def from_arrays(cls, W: np.ndarray, b: np.ndarray | None = None) -> Dense:
        """Build a layer around given weights ``W`` (out, in) and bias ``b`` (out,).

        The dtype is taken from ``W``; ``b=None`` gives a layer without bias.
        """
        W = np.array(W, copy=True)
        if W.ndim != 2:
            raise ValueError(f"Dense.from_arrays: W must have shape (out, in), got {W.shape}.")
        if not np.issubdtype(W.dtype, np.floating):
            W = W.astype(np.float64)
        layer = cls(W.shape[1], W.shape[0], init=lambda o, i, rng, dt: W,
                    rng=np.random.default_rng(0), dtype=W.dtype, bias=b is not None)
        layer.init = "from_arrays"
        if b is not None:
            check_shape(b, (W.shape[0],), f"{layer}", "b")
            layer.params["b"][...] = b
        return layer

    @classmethod
    def from_config(cls, config: dict[str, Any], *,
                    rng: np.random.Generator | None = None) -> Dense:
        """Build a layer of zeros from :meth:`config`, to be filled with saved weights.

        No random numbers are drawn (``rng`` is ignored), and ``init`` keeps the recorded
        name, which may be ``"from_arrays"`` or the name of a custom initializer.
        """
        config = dict(config)
        init = config.pop("init", "xavier")
        layer = cls(init=_zeros, rng=np.random.default_rng(0), **config)
        layer.init = init
        return layer

    @property
    def name(self) -> str:
        """Short name used in error messages, e.g. ``Dense(64 -> 100)``."""
        return f"Dense({self.in_features} -> {self.out_features})"

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` as an array of shape (N, in_features) in the layer's dtype (integers converted)."""
        return match_dtype(as_batch(x, self, self.in_features), self.dtype, self)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return ``x @ W.T + b`` for ``x`` of shape (N, in_features); shape (N, out_features)."""
        z, cache = F.dense_forward(self.check_input(x), self.params["W"], self.params.get("b"))
        self.save_for_backward(cache)
        return z

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dW (out, in) and db (out,), return dx of shape (N, in_features).

        With ``input_grad=False`` dx (``dout @ W``, as costly as the forward pass) is not
        computed and None is returned.
        """
        x, W = self.saved_for_backward()
        check_shape(dout, (x.shape[0], self.out_features), self, "dout")
        np.matmul(dout.T, x, out=self.grads["W"])
        if self.bias:
            np.sum(dout, axis=0, out=self.grads["b"])
        return dout @ W if input_grad else None



def _zeros(fan_out: int, fan_in: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """An initializer that draws nothing: weights that are about to be overwritten."""
    return np.zeros((fan_out, fan_in), dtype=dtype)
