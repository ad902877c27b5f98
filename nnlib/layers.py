"""Layers: the kernels of :mod:`nnlib.functional` with their parameters and mode attached.

Every layer follows the same contract (see :class:`nnlib.module.Layer`): ``forward(x)``
saves what ``backward(dout, *, input_grad=True)`` needs; ``backward`` writes ``grads`` and
returns dL/dx (None with ``input_grad=False``). Every constructor argument is stored under
its own name, so ``config()`` and ``repr`` come from the base class.
Shapes: a batch is (N, D) with one example per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib._checks import (
    MIN_STATISTICS_BATCH,
    as_batch,
    check_drop_probability,
    check_shape,
    check_statistics_batch,
    float_dtype,
    match_dtype,
)
from nnlib.init import get_initializer
from nnlib.module import Layer

__all__ = ["Dense", "BatchNorm", "LayerNorm", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout"]


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


class BatchNorm(Layer):
    """Batch normalization over the batch axis of (N, num_features) inputs.

    Training mode normalizes with the batch mean and the *biased* batch variance, then
    updates the running statistics with ``momentum`` as the weight of the new batch and
    the *unbiased* variance (PyTorch's convention; the paper's Algorithm 2). Inference
    mode (after :meth:`eval`) uses the running statistics and accepts any batch size.

    Parameters
    ----------
    num_features : int
    momentum : float
        Weight of the new batch in the running averages (Keras's ``momentum`` is 1 minus this).
    eps : float
        Added to the variance (Keras's default is 1e-3, PyTorch's and ours 1e-5).
    dtype : float32 or float64
    backward_mode : {"fast", "staged"}
        Which backward kernel to use; both give the same gradients.

    Attributes
    ----------
    params : dict
        ``"gamma"`` (starts at 1) and ``"beta"`` (starts at 0), shape (num_features,).
    running_mean, running_var : ndarray, shape (num_features,)
        Start at 0 and 1; kept in ``buffers`` and saved with the model.
    """

    min_training_batch = MIN_STATISTICS_BATCH

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        dtype: Any = np.float64,
        backward_mode: str = "fast",
    ) -> None:
        super().__init__()
        if int(num_features) < 1:
            raise ValueError(f"BatchNorm: num_features must be positive, got {num_features}.")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum}.")
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be positive, got {eps}.")
        if backward_mode not in ("fast", "staged"):
            raise ValueError(f"BatchNorm: backward_mode must be 'fast' or 'staged', "
                             f"got {backward_mode!r}.")
        self.num_features = int(num_features)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.dtype = float_dtype(dtype, "BatchNorm")
        self.backward_mode = backward_mode
        d = self.num_features
        self.params["gamma"] = np.ones(d, dtype=self.dtype)
        self.params["beta"] = np.zeros(d, dtype=self.dtype)
        self.grads["gamma"] = np.zeros(d, dtype=self.dtype)
        self.grads["beta"] = np.zeros(d, dtype=self.dtype)
        self.buffers["running_mean"] = np.zeros(d, dtype=self.dtype)
        self.buffers["running_var"] = np.ones(d, dtype=self.dtype)
        self._saved_training = True  # the mode of the forward pass whose cache is saved

    @property
    def running_mean(self) -> np.ndarray:
        """Running average of the batch means, shape (num_features,)."""
        return self.buffers["running_mean"]

    @property
    def running_var(self) -> np.ndarray:
        """Running average of the unbiased batch variances, shape (num_features,)."""
        return self.buffers["running_var"]

    @property
    def name(self) -> str:
        """Short name used in error messages, e.g. ``BatchNorm(100)``."""
        return f"BatchNorm({self.num_features})"

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` as an array of shape (N, num_features) in the layer's dtype.

        In training mode a batch of one example is refused: it has no variance to
        normalize with.
        """
        x = match_dtype(as_batch(x, self, self.num_features), self.dtype, self)
        if self.training:
            check_statistics_batch(x, self, "Call model.eval() to use the running "
                                   "statistics for single examples.")
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize ``x`` of shape (N, num_features); shape (N, num_features)."""
        x = self.check_input(x)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if self.training:
            out, cache = F.batchnorm_forward(x, gamma, beta, self.eps)
            F.batchnorm_running_update(self.running_mean, self.running_var, cache[2], cache[3],
                                       x.shape[0], self.momentum)
        else:
            out, cache = F.batchnorm_inference_forward(
                x, gamma, beta, self.running_mean, self.running_var, self.eps)
        self.save_for_backward(cache)
        self._saved_training = self.training
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dgamma and dbeta (num_features,), return dx (N, num_features).

        With ``input_grad=False`` only dgamma and dbeta are computed and None is returned.
        """
        cache = self.saved_for_backward()
        if not input_grad:
            xhat = cache[1] if self._saved_training else cache[0]
            check_shape(dout, xhat.shape, self, "dout")
            np.sum(dout, axis=0, out=self.grads["beta"])
            np.sum(dout * xhat, axis=0, out=self.grads["gamma"])
            return None
        if not self._saved_training:
            dx, dgamma, dbeta = F.batchnorm_inference_backward(dout, cache)
        elif self.backward_mode == "fast":
            dx, dgamma, dbeta = F.batchnorm_backward_fast(dout, cache)
        else:
            dx, dgamma, dbeta = F.batchnorm_backward(dout, cache)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx


class LayerNorm(Layer):
    """Layer normalization: each row normalized over its features; same in train and eval.

    Parameters
    ----------
    num_features : int
    eps : float
    dtype : float32 or float64
    """

    def __init__(self, num_features: int, eps: float = 1e-5, dtype: Any = np.float64) -> None:
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.dtype = float_dtype(dtype, "LayerNorm")
        d = self.num_features
        self.params["gamma"] = np.ones(d, dtype=self.dtype)
        self.params["beta"] = np.zeros(d, dtype=self.dtype)
        self.grads["gamma"] = np.zeros(d, dtype=self.dtype)
        self.grads["beta"] = np.zeros(d, dtype=self.dtype)

    @property
    def name(self) -> str:
        """Short name used in error messages."""
        return f"LayerNorm({self.num_features})"

    def check_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` as an array of shape (N, num_features) in the layer's dtype."""
        return match_dtype(as_batch(x, self, self.num_features), self.dtype, self)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize each row of ``x`` (N, num_features)."""
        out, cache = F.layernorm_forward(self.check_input(x), self.params["gamma"],
                                         self.params["beta"], self.eps)
        self.save_for_backward(cache)
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dgamma and dbeta, return dx (N, num_features), or None without input_grad."""
        dx, dgamma, dbeta = F.layernorm_backward(dout, self.saved_for_backward())
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx if input_grad else None


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


class Dropout(Layer):
    """Inverted dropout: in training, zero each activation with probability ``p``.

    Parameters
    ----------
    p : float
        Drop probability in [0, 1).
    rng : numpy.random.Generator
        Required; draws the masks.

    Notes
    -----
    In inference mode (after :meth:`eval`) the layer is the identity.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check_drop_probability(p, "Dropout")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("Dropout: pass rng=np.random.default_rng(seed); nnlib never uses "
                            "numpy's global random state.")
        self.rng = rng

    @property
    def name(self) -> str:
        """Short name used in error messages."""
        return f"Dropout(p={self.p})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Drop and rescale in training; identity in inference. Same shape as ``x``."""
        out, mask = F.dropout_forward(self.check_input(x), self.p, self.rng, self.training)
        self.save_for_backward(("mask", mask))  # the mask is None in inference mode
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Return dL/dx = dout * mask / (1 - p) (None with ``input_grad=False``)."""
        mask = self.saved_for_backward()[1]
        return F.dropout_backward(dout, mask) if input_grad else None


def _zeros(fan_out: int, fan_in: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
    """An initializer that draws nothing: weights that are about to be overwritten."""
    return np.zeros((fan_out, fan_in), dtype=dtype)
