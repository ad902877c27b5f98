"""Stateless kernels: forwards return ``(out, cache)``, backwards take ``(dout, cache)``.

Conventions
-----------
* Rows are examples: a batch ``x`` has shape (N, D).
* A dense layer's weight ``W`` has shape (out, in) as in ``z = W a + b``; batched, this
  is ``Z = X @ W.T + b`` with ``b`` of shape (out,).
* Kernels never change the floating dtype: float32 in gives float32 out, gradients
  included.
* The cache is documented in each forward's docstring; treat it as opaque outside the
  matching backward.
* Losses return ``(loss, dlogits)`` directly: the gradient of the scalar loss with respect
  to its first argument, already divided by the number of terms in the mean (the batch size
  N for ``softmax_cross_entropy``, the array's size for ``mse_loss`` and
  ``binary_cross_entropy_with_logits``).

Every kernel is written to be numerically stable: no overflow warnings, no ``log(0)``.

The kernels live in one module per family (``dense``, ``activations``, ``losses``,
``normalization``, ``dropout``); this package re-exports all of them, so
``import nnlib.functional as F; F.dense_forward`` is the way to reach them.
"""

from __future__ import annotations

from nnlib.functional.activations import (
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from nnlib.functional.dense import dense_backward, dense_forward
from nnlib.functional.dropout import dropout_backward, dropout_forward
from nnlib.functional.losses import (
    binary_cross_entropy_with_logits,
    log_softmax,
    mse_loss,
    softmax,
    softmax_cross_entropy,
)
from nnlib.functional.normalization import (
    batchnorm_backward,
    batchnorm_backward_fast,
    batchnorm_forward,
    batchnorm_inference_backward,
    batchnorm_inference_forward,
    batchnorm_running_update,
    layernorm_backward,
    layernorm_forward,
)

__all__ = [
    "dense_forward",
    "dense_backward",
    "relu_forward",
    "relu_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "sigmoid",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_fast",
    "batchnorm_inference_forward",
    "batchnorm_inference_backward",
    "batchnorm_running_update",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
]

