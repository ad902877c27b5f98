"""The student's layer classes and losses: nnlib's layers with the student's arithmetic.

Each class subclasses nnlib's layer of the same name and replaces only the arithmetic of
``forward`` and ``backward`` with calls into a :class:`StudentLayers` namespace (``_impl``,
set on the subclass the namespace generates), which checks what the functions return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from nnlib import functional as F
from nnlib import layers as _nn
from nnlib._checks import check_shape
from nnlib.course.student_layers.exercise_files import LOSS_KIND, REQUIRES
from nnlib.module import Layer

if TYPE_CHECKING:  # pragma: no cover
    from nnlib.course.student_layers.namespace import StudentLayers


def needs(cls: type, layer: Layer) -> tuple[str, ...]:
    """The exercise functions a layer of class ``cls`` calls (``BatchNorm`` by its mode)."""
    needs = REQUIRES[cls.__name__]
    if cls.__name__ == "BatchNorm" and getattr(layer, "backward_mode", "fast") == "staged":
        needs = tuple("batchnorm_backward" if n == "batchnorm_backward_fast" else n
                      for n in needs)
    return needs



class _Mine:
    """Mixin of the student layers: the namespace they call into, checked at build time."""

    _impl: StudentLayers

    def _check_written(self) -> None:
        self._impl._require(needs(type(self), self), type(self).__name__)  # type: ignore[arg-type]


class Dense(_Mine, _nn.Dense):
    """nnlib's Dense whose passes are the student's ``dense_forward`` / ``dense_backward``.

    Same arguments as :class:`nnlib.Dense`. Without a bias (``bias=False``) a zero bias
    is passed to ``dense_forward`` and ``db`` is ignored.
    """

    def __init__(self, in_features: int, out_features: int,
                 init: str | Callable[..., np.ndarray] = "xavier",
                 rng: np.random.Generator | None = None, dtype: Any = np.float64,
                 bias: bool = True) -> None:
        self._check_written()
        super().__init__(in_features, out_features, init=init, rng=rng, dtype=dtype, bias=bias)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``dense_forward(x, W, b)``; x of shape (N, in_features), returns (N, out_features)."""
        x = self.check_input(x)
        W = self.params["W"]
        b = self.params["b"] if self.bias else np.zeros(self.out_features, dtype=self.dtype)
        impl = self._impl
        z, cache = impl._result("dense_forward", impl._call(
            "dense_forward", (x, W, b), expected=f"z of shape {(x.shape[0], self.out_features)}"),
            2)
        z = impl._expect("dense_forward", "z", z, (x.shape[0], self.out_features), self.dtype,
                         " = (N, out): z = x @ W.T + b")
        self.save_for_backward((cache, x.shape[0]))
        return z

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """``dense_backward(dout, cache)``: stores dW and db, returns dx (N, in_features).

        ``dense_backward`` computes dx in any case; with ``input_grad=False`` it is checked
        and dropped (None is returned).
        """
        cache, n = self.saved_for_backward()
        check_shape(dout, (n, self.out_features), self.name, "dout")
        impl = self._impl
        want = (f"dx of shape {(n, self.in_features)}, dW of shape {self.params['W'].shape} "
                f"and db of shape {(self.out_features,)}")
        dx, dW, db = impl._result("dense_backward", impl._call("dense_backward", (dout, cache),
                                                               expected=want), 3)
        dx = impl._expect("dense_backward", "dx", dx, (n, self.in_features), self.dtype,
                          " (the shape of x)")
        dW = impl._expect("dense_backward", "dW", dW, self.params["W"].shape, self.dtype,
                          " (the shape of W, (out, in))")
        self.grads["W"][...] = dW
        if self.bias:
            db = impl._expect("dense_backward", "db", db, (self.out_features,), self.dtype,
                              " (the shape of b, (out,))")
            self.grads["b"][...] = db
        return dx if input_grad else None


class _Activation(_Mine):
    """Mixin of the student's activations: their passes call ``_fwd`` and ``_bwd``."""

    _fwd = ""
    _bwd = ""

    def __init__(self) -> None:
        self._check_written()
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The student's ``*_forward`` elementwise; output has the shape and dtype of ``x``."""
        x = self.check_input(x)  # type: ignore[attr-defined]
        impl = self._impl
        out, cache = impl._result(self._fwd, impl.call(self._fwd, x), 2)
        out = impl._expect(self._fwd, "out", out, x.shape, x.dtype if
                           np.issubdtype(x.dtype, np.floating) else None)
        self.save_for_backward((cache, x.shape))  # type: ignore[attr-defined]
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """The student's ``*_backward(dout, cache)``; returns dL/dx (None without input_grad)."""
        cache, shape = self.saved_for_backward()  # type: ignore[attr-defined]
        if not input_grad:
            return None
        check_shape(dout, shape, self.name, "dout")  # type: ignore[attr-defined]
        impl = self._impl
        dx = impl.call(self._bwd, dout, cache)
        return impl._expect(self._bwd, "dx", dx, shape, np.asarray(dout).dtype)


class ReLU(_Activation, _nn.ReLU):
    """nnlib's ReLU running the student's ``relu_forward`` / ``relu_backward``."""

    _fwd, _bwd = "relu_forward", "relu_backward"


class Sigmoid(_Activation, _nn.Sigmoid):
    """nnlib's Sigmoid running the student's ``sigmoid_forward`` / ``sigmoid_backward``."""

    _fwd, _bwd = "sigmoid_forward", "sigmoid_backward"


class Tanh(_Activation, _nn.Tanh):
    """nnlib's Tanh running the student's ``tanh_forward`` / ``tanh_backward``."""

    _fwd, _bwd = "tanh_forward", "tanh_backward"


class BatchNorm(_Mine, _nn.BatchNorm):
    """nnlib's BatchNorm running the student's batch-normalization functions.

    Same arguments as :class:`nnlib.BatchNorm`. In training mode ``forward`` calls
    ``batchnorm_forward(x, gamma, beta, eps)`` and then
    ``running_stats_update(running_mean, running_var, mu, var, N, momentum)``, where the
    batch mean ``mu`` and biased variance ``var`` are computed by the layer (the student's
    cache has the student's own layout); ``backward`` calls ``batchnorm_backward_fast``
    (``batchnorm_backward`` with ``backward_mode="staged"``). In eval mode ``forward``
    calls ``batchnorm_inference``; the backward pass of that fixed affine map (not an
    exercise) is computed by the layer.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: Any = np.float64, backward_mode: str = "fast") -> None:
        super().__init__(num_features, momentum=momentum, eps=eps, dtype=dtype,
                         backward_mode=backward_mode)
        self._check_written()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize ``x`` of shape (N, num_features) with the student's functions."""
        x = self.check_input(x)  # refuses a training batch of one
        gamma, beta = self.params["gamma"], self.params["beta"]
        impl = self._impl
        shape = x.shape
        if not self.training:
            out = impl.call("batchnorm_inference", x, gamma, beta, self.running_mean,
                            self.running_var, self.eps)
            out = impl._expect("batchnorm_inference", "out", out, shape, self.dtype)
            self.save_for_backward(("eval", x, shape))
            return out
        out, cache = impl._result("batchnorm_forward",
                                  impl.call("batchnorm_forward", x, gamma, beta, self.eps), 2)
        out = impl._expect("batchnorm_forward", "out", out, shape, self.dtype)
        mu = x.mean(axis=0)
        var = np.mean((x - mu) ** 2, axis=0)
        new = impl._result("running_stats_update", impl.call(
            "running_stats_update", self.running_mean.copy(), self.running_var.copy(), mu, var,
            x.shape[0], self.momentum), 2)
        d = (self.num_features,)
        new_mean = impl._expect("running_stats_update", "new_mean", new[0], d, self.dtype)
        new_var = impl._expect("running_stats_update", "new_var", new[1], d, self.dtype)
        self.buffers["running_mean"][...] = new_mean  # in place: gradcheck restores these
        self.buffers["running_var"][...] = new_var
        self.save_for_backward(("train", cache, shape))
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dgamma and dbeta (num_features,), return dx (N, num_features).

        The student's backward computes dx in any case; with ``input_grad=False`` it is
        checked and dropped (None is returned).
        """
        mode, cache, shape = self.saved_for_backward()
        check_shape(dout, shape, self.name, "dout")
        impl = self._impl
        if mode == "eval":
            x = cache
            _, ref_cache = F.batchnorm_inference_forward(
                x, self.params["gamma"], self.params["beta"], self.running_mean,
                self.running_var, self.eps)
            dx, dgamma, dbeta = F.batchnorm_inference_backward(dout, ref_cache)
        else:
            name = "batchnorm_backward" if self.backward_mode == "staged" \
                else "batchnorm_backward_fast"
            dx, dgamma, dbeta = impl._result(name, impl.call(name, dout, cache), 3)
            d = (self.num_features,)
            dx = impl._expect(name, "dx", dx, shape, self.dtype, " (the shape of x)")
            dgamma = impl._expect(name, "dgamma", dgamma, d, self.dtype)
            dbeta = impl._expect(name, "dbeta", dbeta, d, self.dtype)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx if input_grad else None


class LayerNorm(_Mine, _nn.LayerNorm):
    """nnlib's LayerNorm running ``layernorm_forward`` / ``layernorm_backward``."""

    def __init__(self, num_features: int, eps: float = 1e-5, dtype: Any = np.float64) -> None:
        self._check_written()
        super().__init__(num_features, eps=eps, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize each row of ``x`` (N, num_features) with ``layernorm_forward``."""
        x = self.check_input(x)
        impl = self._impl
        out, cache = impl._result("layernorm_forward", impl.call(
            "layernorm_forward", x, self.params["gamma"], self.params["beta"], self.eps), 2)
        out = impl._expect("layernorm_forward", "out", out, x.shape, self.dtype)
        self.save_for_backward((cache, x.shape))
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dgamma and dbeta, return dx (N, num_features), or None without input_grad."""
        cache, shape = self.saved_for_backward()
        check_shape(dout, shape, self.name, "dout")
        impl = self._impl
        dx, dgamma, dbeta = impl._result("layernorm_backward",
                                         impl.call("layernorm_backward", dout, cache), 3)
        d = (self.num_features,)
        dx = impl._expect("layernorm_backward", "dx", dx, shape, self.dtype)
        self.grads["gamma"][...] = impl._expect("layernorm_backward", "dgamma", dgamma, d,
                                                self.dtype)
        self.grads["beta"][...] = impl._expect("layernorm_backward", "dbeta", dbeta, d,
                                               self.dtype)
        return dx if input_grad else None


class Dropout(_Mine, _nn.Dropout):
    """nnlib's Dropout running ``dropout_forward(x, p, rng, training)`` / ``dropout_backward``."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        self._check_written()
        super().__init__(p=p, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Drop and rescale in training; identity in inference. Same shape as ``x``."""
        x = self.check_input(x)
        impl = self._impl
        out, cache = impl._result("dropout_forward", impl.call(
            "dropout_forward", x, self.p, self.rng, self.training), 2)
        out = impl._expect("dropout_forward", "out", out, x.shape,
                           x.dtype if np.issubdtype(x.dtype, np.floating) else None)
        self.save_for_backward((cache, x.shape))
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """``dropout_backward(dout, cache)`` with the forward's cache (None without input_grad)."""
        cache, shape = self.saved_for_backward()
        if not input_grad:
            return None
        check_shape(dout, shape, self.name, "dout")
        impl = self._impl
        dx = impl.call("dropout_backward", dout, cache)
        return impl._expect("dropout_backward", "dx", dx, shape, np.asarray(dout).dtype)


LAYER_CLASSES = (Dense, ReLU, Sigmoid, Tanh, BatchNorm, Dropout, LayerNorm)


def student_loss(impl: StudentLayers,
                 name: str) -> Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]:
    """The exercise loss ``name`` of ``impl`` as ``loss(pred, y) -> (loss, dpred)``.

    The gradient is checked (shape and dtype of ``pred``), and the function carries
    ``loss_kind``, so ``nnlib.fit`` and ``nnlib.evaluate`` treat it like nnlib's loss of
    the same kind.
    """

    def loss(pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        value, dpred = impl._result(name, impl.call(name, pred, y), 2)
        pred = np.asarray(pred)
        dpred = impl._expect(name, "the gradient", dpred, pred.shape, pred.dtype)
        return float(value), dpred

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = (f"The exercise function {name} of {impl._files[name]}: "
                    "``(pred, y) -> (loss, dpred)``.")
    loss.loss_kind = LOSS_KIND[name]  # type: ignore[attr-defined]
    return loss
