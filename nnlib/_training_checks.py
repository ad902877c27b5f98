"""The checks and helpers behind :mod:`nnlib.training`.

What ``fit``, ``evaluate`` and ``predict`` check before they run (the loss, the model, the
optimizer and the data), the named losses, the accuracy of a batch, and the context
manager that sets a model's mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib.module import Layer

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]

#: The named losses and the kind of task each one implies.
LOSSES: dict[str, tuple[LossFn, str]] = {
    "softmax_cross_entropy": (F.softmax_cross_entropy, "multiclass"),
    "binary_cross_entropy": (F.binary_cross_entropy_with_logits, "binary"),
    "mse": (F.mse_loss, "regression"),
}


def resolve_loss(loss: str | LossFn, who: str) -> tuple[LossFn, str]:
    """The loss function and its kind ("multiclass", "binary", "regression" or "custom")."""
    if callable(loss):
        kind = getattr(loss, "loss_kind", "custom")
        if kind not in ("multiclass", "binary", "regression"):
            kind = "custom"
        return loss, kind
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(
            f"{who}: unknown loss {loss!r}; use one of {sorted(LOSSES)} or a callable "
            "loss(pred, y) -> (loss, dpred)."
        ) from None


def check_model(model: object, who: str) -> Layer:
    """Return ``model`` if it is an nnlib Layer, else raise TypeError."""
    if not isinstance(model, Layer):
        raise TypeError(f"{who}: model must be an nnlib Layer or Sequential, "
                        f"got {type(model).__name__}.")
    return model


def check_optimizer_owns(model: Layer, optimizer: Any, who: str) -> None:
    """Refuse an optimizer holding a parameter that is not one of ``model``'s.

    Such an optimizer (e.g. built on another model's ``parameters()``) would train nothing
    and silently change the other model's weights. An optimizer over a subset of the
    model's parameters (fine-tuning some layers) is fine.
    """
    if isinstance(optimizer, type) or not callable(getattr(optimizer, "step", None)):
        what = optimizer.__name__ if isinstance(optimizer, type) else type(optimizer).__name__
        raise TypeError(f"{who}: optimizer must be an optimizer object with a step() method, "
                        f"e.g. nnlib.SGD(model.parameters(), lr=0.1), got {what}.")
    params = getattr(optimizer, "params", None)
    if params is None:
        return
    owned = {(id(p.layer), p.key) for p in model.parameters()}
    foreign = [p for p in params
               if hasattr(p, "layer") and (id(p.layer), getattr(p, "key", None)) not in owned]
    if foreign:
        p = foreign[0]
        raise ValueError(
            f"{who}: the optimizer updates {len(foreign)} of its {len(params)} parameters that "
            f"are not the model's (the first: {p.key!r} of {p.layer!r}), so training would "
            f"change another model and leave this one as it is; build the optimizer from this "
            f"model, e.g. optimizer=nnlib.{type(optimizer).__name__}(model.parameters(), ...).")


def check_X(X: Any, who: str, name: str = "X") -> np.ndarray:
    """``X`` as a non-empty (N, D) array, or a ValueError that says what is wrong."""
    X = np.asarray(X)
    if X.ndim != 2:
        hint = " (a single example must be X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(f"{who}: {name} must be a 2-D array of shape (N, D), one example per "
                         f"row, got shape {X.shape}{hint}.")
    if X.shape[0] == 0:
        raise ValueError(f"{who}: {name} has no rows, shape {X.shape}.")
    _check_finite(X, who, name)
    return X


def _check_finite(a: np.ndarray, who: str, name: str) -> None:
    """A ValueError naming the first NaN or infinite entry of ``a`` (a float array), if any."""
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{who}: {name} contains {a[first]} at index {first}; the data must "
                         "be finite (remove or fill those entries first).")


def check_targets(y: Any, n: int, kind: str, out_shape: tuple[int, ...], who: str,
                   name: str = "y") -> np.ndarray:
    """Check ``y`` against ``n`` rows and the model's output shape ``out_shape`` = (N, C)."""
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{who}: {name} must have one entry per row of X ({n} rows), "
                         f"got shape {y.shape}.")
    c = out_shape[1] if len(out_shape) == 2 else 1
    if kind == "multiclass":
        if y.ndim != 1:
            hint = " (for one-hot rows use y.argmax(axis=1))" if y.ndim == 2 else ""
            raise ValueError(f"{who}: softmax_cross_entropy needs integer labels of shape ({n},), "
                             f"got shape {y.shape}{hint}.")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{who}: softmax_cross_entropy needs integer labels, "
                            f"got dtype {y.dtype} (convert with y.astype(np.int64)).")
        if y.min() < 0 or y.max() >= c:
            raise ValueError(f"{who}: labels must lie in [0, {c - 1}] because the model has {c} "
                             f"outputs, got values from {y.min()} to {y.max()}.")
        return y
    if kind in ("binary", "regression") and y.ndim == 1 and len(out_shape) == 2 \
            and out_shape[1] == 1:
        y = y.reshape(-1, 1)
    if kind in ("binary", "regression") and y.shape[1:] != tuple(out_shape[1:]):
        raise ValueError(f"{who}: {name} must have the shape of the model's output, "
                         f"(N,) + {tuple(out_shape[1:])}, got shape {y.shape}.")
    _check_finite(y, who, name)
    if kind == "binary" and (np.any(y < 0) or np.any(y > 1)):
        raise ValueError(f"{who}: binary_cross_entropy needs targets in [0, 1], "
                         f"got values from {y.min()} to {y.max()}.")
    return y


def batch_accuracy(pred: np.ndarray, y: np.ndarray, kind: str) -> float | None:
    """Fraction of correct predictions for the two cross-entropies; None for other losses."""
    if kind == "multiclass":
        return float(np.mean(pred.argmax(axis=1) == y))
    if kind == "binary":
        return float(np.mean((pred > 0) == (y > 0.5)))
    return None


class ModelMode:
    """Context manager: put every layer in ``training`` mode, then restore each one's mode."""

    def __init__(self, model: Layer, training: bool) -> None:
        self.layers = [model, *model.leaves()]
        self.training = training
        self.saved: list[bool] = []

    def __enter__(self) -> None:
        self.saved = [layer.training for layer in self.layers]
        for layer in self.layers:
            layer.training = self.training

    def __exit__(self, *exc: object) -> None:
        for layer, mode in zip(self.layers, self.saved, strict=True):
            layer.training = mode
