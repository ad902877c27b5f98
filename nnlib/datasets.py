"""Data: the digits shipped with nnlib, synthetic problems, a seeded split, and HDF5 arrays.

Every generator takes an explicit ``rng``; nothing touches numpy's global random state.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnlib._checks import class_labels
from nnlib._files import atomic_h5

if TYPE_CHECKING:
    import h5py

__all__ = [
    "load_digits",
    "digits_course_split",
    "load_framework_reference",
    "make_regression",
    "make_moons",
    "make_spirals",
    "train_test_split",
    "one_hot",
    "save_h5",
    "load_h5",
]


def load_digits(scale: bool = True, dtype: object = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits: 1797 images, 10 classes, shipped inside nnlib.

    Parameters
    ----------
    scale : bool
        Divide the pixel values 0..16 by 16 so that they lie in [0, 1].
    dtype : float32 or float64

    Returns
    -------
    X : ndarray, shape (1797, 64)
        One flattened 8x8 image per row (``X[i].reshape(8, 8)`` to look at it).
    y : ndarray of int64, shape (1797,)
        The digit, 0 to 9.

    Notes
    -----
    Source: UCI "Optical Recognition of Handwritten Digits" (CC BY 4.0); the file is made
    by ``scripts/make_digits_h5.py``.
    """
    path = resources.files("nnlib") / "data" / "digits.h5"
    import h5py  # imported when a file is read: not with nnlib
    with resources.as_file(path) as p, h5py.File(p, "r") as f:
        images = f["images"][()]
        labels = f["labels"][()]
    X = images.astype(dtype)
    if scale:
        X /= 16.0
    return X, labels.astype(np.int64)


def digits_course_split(dtype: object = np.float64) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The course's one split of the digits: training, validation and test sets.

    Notebook 05 makes this split (and shows the code): a test fifth with
    ``train_test_split(X, y, 0.2, rng=np.random.default_rng(0))``, then a validation quarter
    of the rest with ``train_test_split(..., 0.25, rng=np.random.default_rng(1))``. Every
    later notebook that uses the digits and every experiment of ``nnlib.experiments`` uses
    the same split: the training set to train, the validation set for every choice and every
    comparison; the test set is used once, at the end of notebook 06.

    Parameters
    ----------
    dtype : float32 or float64

    Returns
    -------
    dict
        ``"train"``, ``"val"``, ``"test"``: each a pair ``(X, y)`` with X of shape (n, 64)
        and y of shape (n,); 1078, 360 and 359 images.
    """
    X, y = load_digits(dtype=dtype)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, 0.2, rng=np.random.default_rng(0))
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, 0.25,
                                                      rng=np.random.default_rng(1))
    return {"train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test)}


def load_framework_reference() -> dict[str, Any]:
    """Batch normalization as measured in PyTorch and TensorFlow/Keras, shipped inside nnlib.

    nnlib does not depend on either framework: ``scripts/make_framework_reference.py`` ran
    them once and stored inputs, outputs, gradients and running statistics, in float64, in
    ``nnlib/data/framework_reference.h5`` (the file's docstring lists every case).

    Returns
    -------
    dict
        ``{"attrs": {...}, "pytorch": {"attrs": {"version": ...}, "<case>": {...}},
        "tensorflow": {...}}``; each case maps array names (``x``, ``y``, ``dx``,
        ``running_var``, ...) to ndarrays, plus ``"attrs"``: that framework's own ``eps``,
        ``momentum`` and so on. The top-level attributes record when and with which
        versions the file was made.

    Examples
    --------
    >>> ref = load_framework_reference()
    >>> ref["pytorch"]["batchnorm_train"]["attrs"]["momentum"]
    0.1
    """
    def attrs(obj: h5py.HLObject) -> dict[str, Any]:
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in obj.attrs.items()}

    path = resources.files("nnlib") / "data" / "framework_reference.h5"
    import h5py  # imported when a file is read: not with nnlib
    with resources.as_file(path) as p, h5py.File(p, "r") as f:
        out: dict[str, Any] = {"attrs": attrs(f)}
        for framework, group in f.items():
            out[framework] = {"attrs": attrs(group)}
            for case, arrays in group.items():
                out[framework][case] = {k: v[()] for k, v in arrays.items()}
                out[framework][case]["attrs"] = attrs(arrays)
    return out


def _need_rng(rng: object, who: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: pass rng=np.random.default_rng(seed); got {type(rng).__name__}.")
    return rng


def make_regression(
    n: int = 200, rng: np.random.Generator | None = None, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D nonlinear regression problem: ``y = sin(2x) + 0.3 x + noise``.

    Returns
    -------
    X : ndarray, shape (n, 1), uniform on [-3, 3]
    y : ndarray, shape (n, 1)
    """
    rng = _need_rng(rng, "make_regression")
    X = rng.uniform(-3.0, 3.0, size=(n, 1))
    y = np.sin(2.0 * X) + 0.3 * X + noise * rng.standard_normal((n, 1))
    return X, y


def make_moons(
    n: int = 200, rng: np.random.Generator | None = None, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, the classic non-linearly separable 2-D problem.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int64, shape (n,), labels 0 and 1
    """
    rng = _need_rng(rng, "make_moons")
    n0 = n // 2
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n - n0)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.vstack([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n - n0, dtype=np.int64)])
    order = rng.permutation(n)
    return X[order], y[order]


def make_spirals(
    n: int = 300, classes: int = 3, rng: np.random.Generator | None = None, noise: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, in 2-D.

    Returns
    -------
    X : ndarray, shape (n, 2)
    y : ndarray of int64, shape (n,), labels 0 .. classes-1
    """
    rng = _need_rng(rng, "make_spirals")
    y = np.arange(n) % classes
    r = np.linspace(0.05, 1.0, n)[rng.permutation(n)]
    theta = 4.0 * r + y * (2.0 * np.pi / classes) + noise * rng.standard_normal(n)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    order = rng.permutation(n)
    return X[order], y[order].astype(np.int64)


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_size: float = 0.2, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the rows with ``rng`` and split them into a training and a test part.

    Parameters
    ----------
    X : ndarray, shape (N, ...)
    y : ndarray, shape (N, ...)
    test_size : float
        Fraction of the rows in the test part, in (0, 1).

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    rng = _need_rng(rng, "train_test_split")
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"train_test_split: X has {X.shape[0]} rows but y has {y.shape[0]}.")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"train_test_split: test_size must be in (0, 1), got {test_size}.")
    n_test = max(1, round(X.shape[0] * test_size))
    order = rng.permutation(X.shape[0])
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def one_hot(y: np.ndarray, classes: int, dtype: object = np.float64) -> np.ndarray:
    """Integer labels of shape (N,), each in [0, classes), as a (N, classes) one-hot matrix."""
    y = np.asarray(y)
    y = class_labels(y, y.shape[0] if y.ndim else 0, classes, "one_hot")
    out = np.zeros((y.shape[0], classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def save_h5(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save named arrays to an HDF5 file, atomically (a failed save keeps the old file).

    Examples
    --------
    >>> save_h5("my_data.h5", X=X, y=y)  # doctest: +SKIP
    """
    with atomic_h5(path, "save_h5") as f:
        for name, a in arrays.items():
            f.create_dataset(name, data=np.asarray(a))


def load_h5(path: str | os.PathLike, *names: str) -> dict[str, np.ndarray]:
    """Load arrays from an HDF5 file: all of them, or only ``names``.

    Returns
    -------
    dict
        ``{name: ndarray}``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not readable HDF5, or a requested name is absent; the message
        names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_h5: no such file: {path}")
    try:
        import h5py  # imported when a file is read: not with nnlib
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"load_h5: {path} is not a readable HDF5 file ({e}).") from e
    with f:
        wanted = names or tuple(k for k in f.keys() if isinstance(f[k], h5py.Dataset))
        missing = [n for n in wanted if n not in f]
        if missing:
            raise ValueError(f"load_h5: {path} has no array named {missing[0]!r}; "
                             f"it has {sorted(f.keys())}.")
        return {n: f[n][()] for n in wanted}
