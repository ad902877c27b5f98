"""Normalization layers: ``BatchNorm`` and ``LayerNorm``.

``BatchNorm`` normalizes with the batch's statistics in training and with its running
statistics in inference; ``LayerNorm`` uses each row's own statistics in both modes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib._checks import (
    MIN_STATISTICS_BATCH,
    as_batch,
    check_shape,
    check_statistics_batch,
    float_dtype,
    match_dtype,
    norm_settings,
)
from nnlib.module import Layer


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
        num_features, eps = norm_settings(num_features, eps, "BatchNorm")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum}.")
        if backward_mode not in ("fast", "staged"):
            raise ValueError(f"BatchNorm: backward_mode must be 'fast' or 'staged', "
                             f"got {backward_mode!r}.")
        self.num_features = num_features
        self.momentum = float(momentum)
        self.eps = eps
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
        self.num_features, self.eps = norm_settings(num_features, eps, "LayerNorm")
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
