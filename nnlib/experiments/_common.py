"""Shared pieces of the experiments: data split, networks, batches, evaluation, result files."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nnlib import datasets
from nnlib import functional as F
from nnlib._files import atomic_h5
from nnlib._runtime import single_threaded_blas  # noqa: F401  (re-exported)
from nnlib.layers import BatchNorm, Dense, LayerNorm, ReLU, Sigmoid, Tanh
from nnlib.module import Layer
from nnlib.sequential import Sequential

ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}

__all__ = [
    "digits_split", "gaussian_weights", "make_mlp", "batch_indices", "train_step",
    "evaluate_model", "frozen_buffers", "save_results", "load_results",
]


class Claims:
    """The claims an experiment supports, each checked with a margin: ``text -> bool``.

    Trained networks at an edge of stability (large learning rates, batches of two, tiny
    initial weights) amplify last-bit rounding differences, so their exact accuracies
    differ from one CPU to another. What does not differ is the claim they support when
    it is stated with a margin, and that is what a notebook compares exactly. Printing a
    ``Claims`` gives one line per claim ending in ``True`` or ``False``.
    """

    def __init__(self, experiment: str) -> None:
        self.experiment = experiment
        self.items: list[tuple[str, bool]] = []

    def add(self, text: str, holds: Any) -> None:
        """Record one claim and whether it holds."""
        self.items.append((text, bool(holds)))

    def __bool__(self) -> bool:
        return bool(self.items) and all(ok for _, ok in self.items)

    def failed(self) -> list[str]:
        """The texts of the claims that do not hold."""
        return [text for text, ok in self.items if not ok]

    def __str__(self) -> str:
        lines = [f"claims of the {self.experiment}, checked with a margin:"]
        lines += [f"  {text}: {ok}" for text, ok in self.items]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Claims({self.experiment!r}, {len(self.items)} claims, all hold: {bool(self)})"


def value_at(grid: Sequence[float] | np.ndarray, values: np.ndarray, x: float) -> float | None:
    """``values`` at the grid point equal to ``x`` (None when ``x`` is not on the grid)."""
    hits = np.flatnonzero(np.isclose(np.asarray(grid, dtype=float), x))
    return float(values[hits[0]]) if hits.size else None


def _dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"experiments: dtype must be float32 or float64, got {dt}.")
    return dt


def digits_split(dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's split of the digits: notebook 05's training and validation sets.

    The experiments train on notebook 05's training images and measure on its validation
    images ("held out"); notebook 05's test images are never used here
    (``nnlib.datasets.digits_course_split``).

    Returns
    -------
    X_train (1078, 64), X_held_out (360, 64), y_train (1078,), y_held_out (360,)
    """
    split = datasets.digits_course_split(dtype=_dtype(dtype))
    (X_train, y_train), (X_val, y_val) = split["train"], split["val"]
    return X_train, X_val, y_train, y_val


def gaussian_weights(
    sizes: Sequence[int], scale: float, rng: np.random.Generator, dtype: Any = np.float64
) -> list[np.ndarray]:
    """One weight matrix W (out, in) per consecutive pair of ``sizes``, entries N(0, scale^2)."""
    return [(rng.standard_normal((o, i)) * scale).astype(_dtype(dtype))
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)]


def make_mlp(
    weights: Sequence[np.ndarray],
    activation: str = "sigmoid",
    norm: str | None = None,
) -> Sequential:
    """A fully connected network around given initial weights.

    Parameters
    ----------
    weights : list of ndarray
        ``W`` of shape (out, in) for every layer; they are copied. Biases start at zero.
    activation : {"sigmoid", "tanh", "relu"}
        Nonlinearity of the hidden layers; the last layer is linear (logits).
    norm : {None, "batchnorm", "layernorm"}
        Normalization inserted between each hidden Dense and its nonlinearity (the paper's
        placement). The Dense before it then has no bias (``beta`` takes its role).

    Returns
    -------
    Sequential
        Dense [-> norm] -> activation, repeated, then a final Dense.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"make_mlp: activation must be one of {sorted(ACTIVATIONS)}, "
                         f"got {activation!r}.")
    if norm not in (None, "batchnorm", "layernorm"):
        raise ValueError(f"make_mlp: norm must be None, 'batchnorm' or 'layernorm', got {norm!r}.")
    layers: list[Layer] = []
    for k, W in enumerate(weights):
        last = k == len(weights) - 1
        out = W.shape[0]
        bias = np.zeros(out, dtype=W.dtype) if (last or norm is None) else None
        layers.append(Dense.from_arrays(W, bias))
        if last:
            break
        if norm == "batchnorm":
            layers.append(BatchNorm(out, dtype=W.dtype))
        elif norm == "layernorm":
            layers.append(LayerNorm(out, dtype=W.dtype))
        layers.append(ACTIVATIONS[activation]())
    return Sequential(layers)


def describe(sizes: Sequence[int], activation: str, norm: str | None) -> str:
    """A one-line description such as ``64-100-100-100-10, Dense -> BatchNorm -> sigmoid``."""
    inner = " -> ".join(["Dense"] + ([{"batchnorm": "BatchNorm", "layernorm": "LayerNorm"}[norm]]
                                     if norm else []) + [activation])
    return f"{'-'.join(str(s) for s in sizes)}; hidden: {inner}; output: Dense -> softmax"


def batch_indices(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless mini-batches of row indices: a new shuffle of ``range(n)`` every epoch.

    The incomplete tail of an epoch is dropped, so every batch has ``batch_size`` rows.
    """
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_indices: batch_size must be in [1, {n}], got {batch_size}.")
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start:start + batch_size]


def train_step(model: Layer, optimizer: Any, X: np.ndarray, y: np.ndarray) -> float:
    """One SGD step on the batch ``(X, y)`` with softmax cross-entropy; returns the loss.

    The backward pass stops at the parameter gradients (``input_grad=False``): a step needs
    no dL/dX, and for the first Dense layer that product costs as much as its forward pass.
    """
    logits = model.forward(X)
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    model.backward(dlogits, input_grad=False)
    optimizer.step()
    return loss


def evaluate_model(model: Layer, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy on ``(X, y)`` in inference mode; the model's mode is restored."""
    was_training = model.training
    model.eval()
    try:
        logits = model.forward(X)
    finally:
        model.train(was_training)
    loss, _ = F.softmax_cross_entropy(logits, y)
    return loss, float(np.mean(logits.argmax(axis=1) == y))


def layers_of(model: Layer) -> list[Layer]:
    """The layers of a Sequential (or the layer itself)."""
    return list(model.layers) if isinstance(model, Sequential) else [model]


@contextmanager
def frozen_buffers(model: Layer) -> Iterator[None]:
    """Run a block that may call ``forward`` in training mode without changing running stats."""
    saved = [(layer, {k: v.copy() for k, v in layer.buffers.items()}) for layer in layers_of(model)]
    try:
        yield
    finally:
        for layer, bufs in saved:
            for k, v in bufs.items():
                layer.buffers[k][...] = v


# ---------------------------------------------------------------------------------------------
# Result files (HDF5)
# ---------------------------------------------------------------------------------------------

_RESULT_TYPES: dict[str, type] = {}


def register_result(cls: type) -> type:
    """Class decorator: make a result dataclass known to :func:`load_results`."""
    _RESULT_TYPES[cls.__name__] = cls
    return cls


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def save_results(result: Any, path: str | Path) -> Path:
    """Save an experiment result (one of the dataclasses of :mod:`nnlib.experiments`) to HDF5.

    Arrays become datasets, dictionaries of arrays become groups, everything else (the
    setup, scalars) is stored as JSON in attributes. Returns the path written.
    """
    if not dataclasses.is_dataclass(result) or type(result).__name__ not in _RESULT_TYPES:
        raise TypeError("save_results: expected an experiment result, "
                        f"got {type(result).__name__}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_h5(path, "save_results") as f:
        f.attrs["kind"] = type(result).__name__
        for field in dataclasses.fields(result):
            v = getattr(result, field.name)
            if isinstance(v, np.ndarray):
                f.create_dataset(field.name, data=v)
            elif isinstance(v, dict) and v and all(isinstance(x, np.ndarray) for x in v.values()):
                g = f.create_group(field.name)
                g.attrs["order"] = json.dumps(list(v))
                for k, x in v.items():
                    g.create_dataset(k, data=x)
            else:
                f.attrs[field.name] = json.dumps(_jsonable(v))
    return path


def load_results(path: str | Path) -> Any:
    """Read back a result written by :func:`save_results` (or by ``nnlib experiment``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_results: no such file: {path}")
    import h5py  # imported when a file is read: not with nnlib
    with h5py.File(path, "r") as f:
        kind = f.attrs.get("kind")
        if kind not in _RESULT_TYPES:
            raise ValueError(f"load_results: {path} holds no experiment result (kind={kind!r}).")
        cls = _RESULT_TYPES[kind]
        kwargs: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = field.name
            if name in f and isinstance(f[name], h5py.Dataset):
                kwargs[name] = f[name][()]
            elif name in f:
                g = f[name]
                kwargs[name] = {k: g[k][()] for k in json.loads(g.attrs["order"])}
            elif name in f.attrs:
                kwargs[name] = json.loads(f.attrs[name])
    return cls(**kwargs)
