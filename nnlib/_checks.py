"""Input validation shared by the kernels and the layers.

Every check raises an error that names *who* complained (a layer such as
``Dense(64 -> 100)`` or a kernel such as ``dense_forward``), the shape it
expected and the shape it received, so that a learner never has to decode a
numpy broadcasting traceback.

*who* is a string, or an object with a ``name`` attribute (a layer passes itself), whose
name is then only computed when an error is raised: the checks run on every forward and
backward pass, and building a layer's name costs as much as a check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Who = Any
"""A name (str), or an object whose ``name`` attribute is the name."""


def _name(who: Who) -> str:
    return who if isinstance(who, str) else str(who.name)


def norm_settings(num_features: Any, eps: Any, who: str) -> tuple[int, float]:
    """A normalization layer's ``num_features`` (a positive integer) and ``eps`` (> 0)."""
    if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
            or num_features < 1:
        raise ValueError(f"{who}: num_features must be a positive integer, got "
                         f"{num_features!r}.")
    if not float(eps) > 0:
        raise ValueError(f"{who}: eps must be positive, got {eps}.")
    return int(num_features), float(eps)


def as_float(x: Any, who: Who) -> np.ndarray:
    """``x`` as a floating array: floats as they are, integers and booleans as float64.

    Complex numbers, strings and objects are refused (a TypeError naming ``who``): casting
    them would silently drop an imaginary part, or fail deep inside numpy.
    """
    x = np.asarray(x)
    kind = x.dtype.kind
    if kind == "f":
        return x
    if kind in "biu":
        return x.astype(np.float64)
    raise TypeError(f"{_name(who)}: expected real numbers, got an array of dtype {x.dtype}.")


def as_batch(x: np.ndarray, who: Who, features: int | None = None) -> np.ndarray:
    """Check that ``x`` is a 2-D batch of shape (N, features) and return it as an array.

    Parameters
    ----------
    x : array_like, shape (N, D)
        The batch, one example per row.
    who : str or object with a ``name``
        The layer or kernel, named in error messages.
    features : int, optional
        The expected number of columns D; not checked when None.

    Returns
    -------
    numpy.ndarray, shape (N, D)
        ``x`` itself when it already is an array (no copy is made).
    """
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[0] and (features is None or x.shape[1] == features):
        return x
    expected = f"(N, {features})" if features is not None else "(N, D)"
    if x.ndim != 2:
        hint = ""
        if x.ndim == 1:
            hint = " A single example must be a batch of one: use x.reshape(1, -1)."
        raise ValueError(
            f"{_name(who)}: expected a 2-D batch of shape {expected} (rows are examples), "
            f"got an array of shape {x.shape}.{hint}"
        )
    if features is not None and x.shape[1] != features:
        raise ValueError(
            f"{_name(who)}: expected input of shape {expected} with {features} features, "
            f"got shape {x.shape}."
        )
    raise ValueError(f"{_name(who)}: expected a batch of shape {expected} with N >= 1, "
                     f"got {x.shape}.")


def same_shape(a: np.ndarray, b: np.ndarray, who: Who, a_name: str, b_name: str) -> None:
    """Raise a ValueError unless ``a`` and ``b`` have the same shape."""
    if (a.shape if isinstance(a, np.ndarray) else np.shape(a)) != \
            (b.shape if isinstance(b, np.ndarray) else np.shape(b)):
        raise ValueError(
            f"{_name(who)}: {b_name} must have the shape of {a_name}, {np.shape(a)}, "
            f"got shape {np.shape(b)}."
        )


def check_shape(a: np.ndarray, shape: tuple[int, ...], who: Who, name: str) -> None:
    """Raise a ValueError unless ``a`` has exactly ``shape``."""
    if (a.shape if isinstance(a, np.ndarray) else np.shape(a)) != tuple(shape):
        raise ValueError(f"{_name(who)}: {name} must have shape {tuple(shape)}, "
                         f"got shape {np.shape(a)}.")


def float_dtype(dtype: object, who: str) -> np.dtype:
    """Return ``dtype`` as a numpy floating dtype, or raise a TypeError naming ``who``."""
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dt}.")
    return dt


def match_dtype(x: np.ndarray, dtype: np.dtype, who: Who) -> np.ndarray:
    """Return ``x`` in the layer's ``dtype`` without silently changing a float dtype.

    Integer and boolean inputs are converted to ``dtype``; a floating input of
    another precision is refused, because converting it would silently change the
    precision of everything downstream, and so is anything else (:func:`as_float`).
    """
    if x.dtype == dtype:
        return x
    if np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{_name(who)}: holds {dtype} parameters but received {x.dtype} input; convert "
            f"the input with x.astype(np.{dtype}) or build the layer with dtype=np.{x.dtype}."
        )
    return as_float(x, who).astype(dtype, copy=False)  # integers and booleans; else refused


def class_labels(y: np.ndarray, n: int, classes: int, who: str) -> np.ndarray:
    """Check integer class labels of shape (n,) with values in [0, classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"{who}: expected integer labels of shape ({n},), one per row of the batch, "
            f"got shape {y.shape}."
        )
    if y.dtype.kind not in "iu":  # np.issubdtype(y.dtype, np.integer), without its overhead
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.intp)
        else:
            raise TypeError(f"{who}: labels must be integers, got dtype {y.dtype}.")
    if n and (y.min() < 0 or y.max() >= classes):
        raise ValueError(
            f"{who}: labels must lie in [0, {classes - 1}] for {classes} classes, "
            f"got values from {y.min()} to {y.max()}."
        )
    return y


MIN_STATISTICS_BATCH = 2
"""The smallest batch whose statistics over the batch axis have a variance."""


def check_statistics_batch(x: np.ndarray, who: Who, hint: str) -> None:
    """Refuse a batch too small to normalize with its own statistics (batch norm training).

    Parameters
    ----------
    x : ndarray, shape (N, D)
    who : str or object with a ``name``
        The layer or kernel, named in the message.
    hint : str
        What to do instead, appended to the message (e.g. switch to the running statistics).
    """
    if x.shape[0] < MIN_STATISTICS_BATCH:
        raise ValueError(
            f"{_name(who)}: training mode needs more than one example per batch to compute a "
            f"variance, got shape {x.shape}. {hint}"
        )


def check_drop_probability(p: float, who: str) -> float:
    """Return the dropout probability ``p`` as a float, or raise a ValueError unless 0 <= p < 1."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{who}: the drop probability p must be in [0, 1), got {p}.")
    return float(p)
