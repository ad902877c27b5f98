"""Weight initializers for a dense weight matrix of shape (out, in).

Each takes ``(fan_out, fan_in, rng, dtype)`` and returns a new array; all randomness
comes from the explicit ``rng``.

=========  ==========================================  ================================
name       distribution                                 suited to
=========  ==========================================  ================================
"small"    N(0, 0.01^2): the seed notebook's ``randn*0.01``  shallow nets; vanishes in deep ones
"xavier"   N(0, 2 / (fan_in + fan_out)) (Glorot)         sigmoid, tanh
"he"       N(0, 2 / fan_in) (He / Kaiming)               ReLU
=========  ==========================================  ================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["small_normal", "xavier_normal", "he_normal", "get_initializer", "INITIALIZERS"]


def _check_rng(rng: object, who: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{who}: pass an explicit random generator, e.g. rng=np.random.default_rng(0); "
            f"got {type(rng).__name__}. nnlib never uses numpy's global random state."
        )
    return rng


def small_normal(
    fan_out: int, fan_in: int, rng: np.random.Generator, dtype: object = np.float64,
    scale: float = 0.01,
) -> np.ndarray:
    """Gaussian weights times a small constant ``scale`` (default 0.01), shape (fan_out, fan_in)."""
    _check_rng(rng, "small_normal")
    return (rng.standard_normal((fan_out, fan_in)) * scale).astype(dtype, copy=False)


def xavier_normal(
    fan_out: int, fan_in: int, rng: np.random.Generator, dtype: object = np.float64
) -> np.ndarray:
    """Glorot & Bengio (2010): std ``sqrt(2 / (fan_in + fan_out))``, shape (fan_out, fan_in)."""
    _check_rng(rng, "xavier_normal")
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal((fan_out, fan_in)) * std).astype(dtype, copy=False)


def he_normal(
    fan_out: int, fan_in: int, rng: np.random.Generator, dtype: object = np.float64
) -> np.ndarray:
    """He et al. (2015): std ``sqrt(2 / fan_in)``, shape (fan_out, fan_in)."""
    _check_rng(rng, "he_normal")
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal((fan_out, fan_in)) * std).astype(dtype, copy=False)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "small": small_normal,
    "xavier": xavier_normal,
    "glorot": xavier_normal,
    "he": he_normal,
    "kaiming": he_normal,
}


def get_initializer(init: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Return the initializer called ``init`` (see the table above), or ``init`` if callable."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except KeyError:
        raise ValueError(
            f"unknown initializer {init!r}; choose one of {sorted(INITIALIZERS)} "
            "or pass a callable f(fan_out, fan_in, rng, dtype)."
        ) from None
