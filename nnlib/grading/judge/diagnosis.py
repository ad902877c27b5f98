"""Naming the mistake: which catalogued wrong variant a failing output is.

While a test runs, :func:`nnlib.grading.judge.testing.call` records every call it makes of
the student's functions: the test's own arguments (as they were before the call) and what
came back (:func:`nnlib.grading.judge.calls.record`). When the test fails, :func:`diagnose`
looks at the last call of the judged function, computes from the reference, on those same
arguments, the output of each catalogued mistake of that function
(:data:`nnlib.grading.registry.MISTAKES`), and names a mistake only when

- the right output and the mistake's output are far apart (the inputs tell them apart),
- the student's output is close to the mistake's and far from the right one, and
- no other catalogued mistake of the function matches as well (one candidate, or none).

A wrong name is worse than none, so anything unclear (no recorded call, an output of the
wrong type, two candidates) gives no name, and so does a call that raised: a warning such as
"overflow encountered in exp" is met by more mistakes than one (no shift by the row
maximum, a shift by the minimum or by one maximum for the whole batch, a shift without
``keepdims`` on a square batch), and the test's own message says what to do. The
student's code is never run here: the variants are numpy, on the test's arguments; the
test's own callbacks (the ``f`` of ``numerical_gradient``) are trusted code. Nothing here
raises: a diagnosis that fails is no diagnosis.

Random outputs (dropout, the initializers) are judged by their structure, not replayed:
which entries are kept and by how much they are scaled, or the sample's standard
deviation, with margins stated where they are used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlib.grading.judge.calls import Call, Raised, recorded
from nnlib.grading.judge.structure import STRUCTURAL
from nnlib.grading.judge.variants import VARIANTS
from nnlib.grading.registry import mistakes_of

__all__ = ["diagnose", "distance", "close", "MATCH", "APART"]

MATCH = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}
"""Largest relative error at which a student's output counts as the same as a variant's."""
APART = 1e-2
"""Smallest relative error between the right output and a variant's for the variant to be
named at all (and between the student's output and the right one)."""

def _arrays(value: Any) -> list[np.ndarray] | None:
    """The numbers of an output, as a flat list of float arrays; None if not numbers."""
    if isinstance(value, (tuple, list)):
        out: list[np.ndarray] = []
        for v in value:
            part = _arrays(v)
            if part is None:
                return None
            out += part
        return out
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        a = np.asarray(value)
        if a.dtype.kind not in "fiu":
            return None
        return [a]
    return None


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def distance(actual: Any, expected: Any) -> float:
    """How far two outputs are: the largest relative error of their parts.

    ``inf`` when their structure, shapes or non-finite entries differ.
    """
    xs, ys = _arrays(actual), _arrays(expected)
    if xs is None or ys is None or len(xs) != len(ys):
        return np.inf
    worst = 0.0
    for x, y in zip(xs, ys, strict=True):
        if x.shape != y.shape:
            return np.inf
        xf, yf = np.isfinite(x), np.isfinite(y)
        if (not np.array_equal(xf, yf) or not np.array_equal(np.isnan(x), np.isnan(y))
                or not np.array_equal(np.where(xf, 0, x), np.where(yf, 0, y),
                                      equal_nan=True)):
            return np.inf
        worst = max(worst, _rel(np.where(xf, x, 0), np.where(yf, y, 0)))
    return worst


def close(actual: Any, expected: Any, rtol: float) -> bool:
    """Whether ``actual`` is ``expected`` up to ``rtol`` (same non-finite entries)."""
    return distance(actual, expected) <= rtol


def _tolerance(value: Any) -> float:
    parts = _arrays(value) or []
    return max((MATCH.get(p.dtype, 1e-3) for p in parts), default=1e-6)


def _diagnose_call(function: str, call: Call) -> str:
    if function in STRUCTURAL:
        return STRUCTURAL[function](call)
    spec = VARIANTS.get(function)
    if spec is None:
        return ""
    if isinstance(call.result, Raised):  # no output to compare: a floating-point warning
        return ""  # (an overflow in exp, a log of 0) comes from more mistakes than one
    with np.errstate(all="ignore"):
        actual = spec.pick(call)
        right = spec.right(call)
        if actual is None or right is None:
            return ""
        tol = _tolerance(actual)
        if distance(actual, right) <= APART:
            return ""
        found = set()
        for id, forms in spec.variants.items():
            for form in forms:
                wrong = form(call)
                if wrong is None or distance(wrong, right) <= APART:
                    continue
                if distance(actual, wrong) <= tol:
                    found.add(id)
    return found.pop() if len(found) == 1 else ""


def diagnose(function: str) -> str:
    """The id of the catalogued mistake that the running test's failing output shows.

    Looks at the last recorded call of ``function`` (the test's judged function); returns
    ``""`` when none is recognised, or when anything about it is unclear. Never raises.
    """
    if not function or not mistakes_of(function):
        return ""
    calls = recorded()
    try:
        for i in range(len(calls) - 1, -1, -1):
            name, args, kwargs, result = calls[i]
            if name == function:
                with np.errstate(all="ignore"):
                    return _diagnose_call(function, Call(args, kwargs, result, calls[:i]))
    except Exception:  # a diagnosis that cannot be made is no diagnosis
        return ""
    return ""
