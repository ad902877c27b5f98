"""Save a model to an HDF5 file and load it back: :func:`save` and :func:`load`.

File layout (format version 1), readable with any HDF5 tool::

    /                      attrs: nnlib_format="nnlib-model", format_version=1,
                                  nnlib_version
    /model                 attrs: class="Sequential", config="{}" (JSON), training=True
    /model/layers          attrs: count (number of layers)
    /model/layers/0        attrs: class="Dense", config='{"in_features": 64, ...}', training
    /model/layers/0/params/W, /params/b          datasets, in the layer's dtype
    /model/layers/1/buffers/running_mean, ...    BatchNorm's running statistics

Every layer is stored with its class name, the JSON of :meth:`nnlib.Layer.config` (the
constructor arguments), its mode, its parameters and its buffers, and rebuilt with
:meth:`nnlib.Layer.from_config`; a Sequential's layers are stored as its children. A single layer is
stored the same way as ``/model`` without ``layers``. Gradients, optimizer state and
Dropout's random generator are not stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnlib import layers as _layers
from nnlib._files import atomic_h5
from nnlib.module import Layer
from nnlib.sequential import Sequential

if TYPE_CHECKING:
    import h5py

__all__ = ["save", "load", "ModelFileError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "nnlib-model"
FORMAT_VERSION = 1

_BUILTIN: dict[str, type[Layer]] = {
    "Sequential": Sequential, **{name: getattr(_layers, name) for name in _layers.__all__}}


class ModelFileError(ValueError):
    """A file that exists but is not a readable nnlib model file (the message names it)."""


# --------------------------------------------------------------------------- save
def _write(group: h5py.Group, layer: Layer) -> None:
    group.attrs["class"] = type(layer).__name__
    group.attrs["config"] = json.dumps(layer.config(), sort_keys=True)
    group.attrs["training"] = bool(layer.training)
    for kind, arrays in (("params", layer.params), ("buffers", layer.buffers)):
        sub = group.create_group(kind)
        for key, value in arrays.items():
            sub.create_dataset(key, data=np.asarray(value))
    if isinstance(layer, Sequential):  # a container: its layers are saved as children
        inner = group.create_group("layers")
        inner.attrs["count"] = len(layer.layers)
        for i, child in enumerate(layer.layers):
            _write(inner.create_group(str(i)), child)


def save(model: Layer, path: str | os.PathLike) -> None:
    """Save a layer or a Sequential model (architecture, parameters, buffers, mode) to HDF5.

    The file is written to a temporary file in the same folder and then moved over
    ``path`` in one step, so a save that fails part way leaves an earlier file at
    ``path`` intact and no temporary file behind.

    Parameters
    ----------
    model : Layer or Sequential
        Any built-in nnlib layer, or a custom one whose ``config()`` returns its
        constructor arguments (the base class derives it from the constructor's
        signature; pass the class to :func:`load`).
    path : str or path-like
        Where to write, conventionally ending in ``.h5``.

    Raises
    ------
    TypeError
        When ``model`` is not an nnlib Layer, or a config is not JSON-serializable.
    FileNotFoundError
        When the folder of ``path`` does not exist.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"save: expected an nnlib Layer or Sequential, got {type(model).__name__}.")
    with atomic_h5(path, "save") as f:
        from nnlib import __version__

        f.attrs["nnlib_format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["nnlib_version"] = __version__
        _write(f.create_group("model"), model)


# --------------------------------------------------------------------------- load
def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _build(group: h5py.Group, path: Path, rng: np.random.Generator | None,
           classes: Mapping[str, type[Layer]], where: str) -> Layer:
    name = _str(group.attrs["class"])
    config = json.loads(_str(group.attrs["config"]))
    cls = classes.get(name)
    if cls is None:
        raise ModelFileError(
            f"load: {path} contains a layer of class {name!r} at {where}, which nnlib does not "
            f"know; pass it as load(path, custom_layers={{{name!r}: {name}}}).")
    if issubclass(cls, Sequential):
        inner = group["layers"]
        count = int(inner.attrs["count"])
        if sorted(inner.keys()) != sorted(str(i) for i in range(count)):
            raise ModelFileError(f"load: {path} is damaged: the Sequential at {where} should "
                                 f"hold {count} layers, found {sorted(inner.keys())}.")
        layer: Layer = cls([_build(inner[str(i)], path, rng, classes, f"{where}.{i}")
                            for i in range(count)])
    else:
        try:
            layer = cls.from_config(config, rng=rng)
        except TypeError as e:
            raise TypeError(f"load: {path}: cannot rebuild the {name} layer at {where}: "
                            f"{e}") from e
    for kind, arrays in (("params", layer.params), ("buffers", layer.buffers)):
        stored = group[kind]
        if set(stored.keys()) != set(arrays):
            raise ModelFileError(
                f"load: {path}: {name} at {where} has {kind} {sorted(stored.keys())}, "
                f"expected {sorted(arrays)}.")
        for key, target in arrays.items():
            value = stored[key][()]
            if value.shape != target.shape or value.dtype != target.dtype:
                raise ModelFileError(
                    f"load: {path}: {name} at {where}: {kind[:-1]} {key!r} has shape "
                    f"{value.shape} and dtype {value.dtype}, expected {target.shape} and "
                    f"{target.dtype}.")
            target[...] = value
    layer.training = bool(group.attrs["training"])
    return layer


def load(
    path: str | os.PathLike,
    rng: np.random.Generator | None = None,
    custom_layers: Mapping[str, type[Layer]] | None = None,
) -> Layer:
    """Load a model written by :func:`save`.

    The model comes back in the mode it was saved in (training or inference, per layer),
    with the same parameters, buffers and dtype, so it computes exactly the same outputs.

    Parameters
    ----------
    path : str or path-like
    rng : numpy.random.Generator, optional
        Required when the model contains Dropout layers (their generator is not saved):
        all of them draw their masks from this one generator.
    custom_layers : mapping of str to Layer subclass, optional
        Classes of custom layers by name; every layer is rebuilt with
        ``cls.from_config(config, rng=rng)``, which is ``cls(**config)`` unless the class
        overrides it.

    Returns
    -------
    Layer or Sequential

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ModelFileError
        (a ValueError) When the file is not HDF5, not an nnlib model file, of a newer
        format version, or damaged; the message names the file.
    TypeError
        When the model contains Dropout and ``rng`` is not given.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no such file: {path}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"load: rng must be a numpy.random.Generator, got {type(rng).__name__}.")
    classes = dict(_BUILTIN)
    classes.update(custom_layers or {})
    try:
        import h5py  # imported when a file is read: not with nnlib
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelFileError(f"load: {path} is not a readable HDF5 file ({e}).") from e
    with f:
        if _str(f.attrs.get("nnlib_format", "")) != FORMAT_NAME or "model" not in f:
            raise ModelFileError(
                f"load: {path} is an HDF5 file but not an nnlib model saved with nnlib.save "
                "(for plain arrays use nnlib.datasets.load_h5).")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise ModelFileError(
                f"load: {path} has model format version {version}; this nnlib reads version "
                f"{FORMAT_VERSION}.")
        try:
            return _build(f["model"], path, rng, classes, "model")
        except (KeyError, OSError, json.JSONDecodeError) as e:
            raise ModelFileError(f"load: {path} is damaged or incomplete ({e}).") from e
