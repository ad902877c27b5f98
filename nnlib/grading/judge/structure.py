"""Mistakes in random outputs (dropout, the initializers), read from their structure.

A dropout mask or a weight matrix cannot be replayed without assuming how the student
drew it, so these are judged by what any implementation's output shows: which entries
are kept and how much the kept ones are scaled, whether the mask is constant along an
axis, or a sample's standard deviation. Each threshold states the probability with which
a correct implementation would cross it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlib.grading.judge.calls import Call

__all__ = ["STRUCTURAL"]


def _first(result: Any) -> Any:
    return result[0] if isinstance(result, (tuple, list)) and len(result) == 2 else None


def _ratios(out: Any, x: Any) -> np.ndarray | None:
    """``out / x`` where ``x`` is not 0 (dropout's mask times its scale), or None."""
    if not isinstance(out, np.ndarray) or not isinstance(x, np.ndarray):
        return None
    if out.shape != x.shape or x.size < 64 or out.dtype.kind != "f":
        return None
    nz = x != 0
    if nz.sum() < 0.9 * x.size:
        return None
    r = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        r[nz] = out[nz].astype(np.float64) / x[nz].astype(np.float64)
    return r


def _kept_scale(r: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(which entries are kept, the one scale of the kept ones), if ``r`` is a mask."""
    valid = ~np.isnan(r)
    kept = valid & (np.abs(r) > 1e-6)
    if not np.all(np.abs(r[valid & ~kept]) <= 1e-6) or kept.sum() == 0:
        return None
    scale = float(np.median(r[kept]))
    if not np.allclose(r[kept], scale, rtol=1e-4):
        return None
    return kept, scale


def _binomial_close(k: int, n: int, q: float) -> bool:
    """Whether ``k`` kept of ``n`` is within 6 standard deviations of keeping ``q``.

    A correct mask falls outside with probability below 2e-9.
    """
    sd = np.sqrt(n * q * (1 - q))
    return abs(k - n * q) <= 6 * sd + 1


def _dropout_forward(call: Call) -> str:
    x, p = call.arg(0, "x"), call.arg(1, "p")
    training = call.arg(3, "training", True)
    result = _first(call.result)
    if training is not True or not isinstance(p, float) or not 0.05 <= p <= 0.95:
        return ""
    r = _ratios(result, x)
    if r is None:
        return ""
    ks = _kept_scale(r)
    if ks is None:
        return ""
    kept, scale = ks
    n, k = int((~np.isnan(r)).sum()), int(kept.sum())
    right_count, swapped_count = _binomial_close(k, n, 1 - p), _binomial_close(k, n, p)
    if abs(p - 0.5) > 0.15 and swapped_count and not right_count:
        return "dropout_keep_drop_confusion"
    if r.ndim >= 2 and min(r.shape[0], r.shape[-1]) >= 8 and right_count:
        flat = kept.reshape(kept.shape[0], -1)
        per_column = np.all(flat == flat[:1], axis=0).all()
        per_row = np.all(flat == flat[:, :1], axis=1).all()
        if per_column != per_row:  # a mask constant down every column, or along every row
            return "dropout_mask_per_column"
    if right_count and abs(scale - 1.0) < 1e-6:
        return "dropout_no_rescale"
    return ""


def _dropout_backward(call: Call) -> str:
    fwd = call.forward("dropout_forward")
    if fwd is None:
        return ""
    rf = _ratios(_first(fwd.result), fwd.arg(0, "x"))
    rb = _ratios(call.result, call.arg(0, "dout"))
    if rf is None or rb is None or rf.shape != rb.shape:
        return ""
    f, b = _kept_scale(rf), _kept_scale(rb)
    p = fwd.arg(1, "p")
    if (f is None or b is None or abs(f[1] - b[1]) > 1e-4 * abs(f[1])
            or not isinstance(p, float) or not 0.05 <= p <= 0.95):
        return ""
    same = ~np.isnan(rf) & ~np.isnan(rb)
    kf, kb = f[0] & same, b[0] & same
    if (kf != kb).sum() < 0.05 * same.sum():
        return ""
    # A backward that follows the cache it was given is right: the forward cached another
    # mask than it used (or the backward inverts it). Unclear without a mask to compare.
    masks = [a for a in _cache_arrays(call.arg(1, "cache")) if a.shape == rb.shape]
    if not masks or any(np.array_equal(a[same] != 0, kb[same]) for a in masks):
        return ""
    # A new draw keeps each entry with probability 1 - p, whether the forward kept it or not
    # (a complement of the forward's mask keeps none of the entries the forward kept).
    q = 1 - p
    if not (_binomial_close(int((kb & kf).sum()), int(kf.sum()), q)
            and _binomial_close(int((kb & ~kf).sum()), int((same & ~kf).sum()), q)):
        return ""
    return "dropout_backward_new_mask"


def _cache_arrays(value: Any) -> list[np.ndarray]:
    """The arrays in a cache: itself, or the items of a tuple, list or dict."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [v for v in value if isinstance(v, np.ndarray)] if isinstance(
        value, (tuple, list)) else []


def _init(function: str) -> Callable[[Call], str]:
    """The initializers: a sample's standard deviation names the wrong formula."""
    def diagnose_init(call: Call) -> str:
        fan_out, fan_in = call.arg(0, "fan_out"), call.arg(1, "fan_in")
        W = call.result
        if not isinstance(W, np.ndarray) or W.dtype.kind != "f" or W.size < 2000:
            return ""
        if W.shape != (fan_out, fan_in):  # the fans swapped, not the formula
            return ""
        std = float(np.std(W.astype(np.float64)))
        right = (np.sqrt(2 / (fan_in + fan_out)) if function == "xavier_init"
                 else np.sqrt(2 / fan_in))
        wrong = np.sqrt(1 / fan_in) if function == "xavier_init" else np.sqrt(2 / fan_out)
        # the sample std of n normal draws is within 6 / sqrt(2n) of the true one, relative,
        # except with probability below 2e-9
        margin = 6 / np.sqrt(2 * W.size)
        if abs(wrong / right - 1) < 4 * margin:
            return ""
        if abs(std / wrong - 1) <= margin and abs(std / right - 1) > margin:
            return "xavier_fan_in_only" if function == "xavier_init" else "he_fan_out"
        return ""
    return diagnose_init


STRUCTURAL: dict[str, Callable[[Call], str]] = {
    "dropout_forward": _dropout_forward,
    "dropout_backward": _dropout_backward,
    "xavier_init": _init("xavier_init"),
    "he_init": _init("he_init"),
}
"""Functions with random outputs: judged by the structure of what they return."""
