"""Gradient checking: compare backpropagation with centered finite differences.

The centered difference ``(f(x + h) - f(x - h)) / (2h)`` has error O(h^2), against O(h)
for the one-sided form, so in float64 with h near 1e-6 an exact backward pass agrees to
a relative error around 1e-9 or better, and a wrong one is off by far more than 1e-7.

Always check with a *random* upstream gradient: with ``dout`` all ones, the input
gradient of batch normalization (and its ``dgamma``) is identically zero, and a broken
implementation passes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnlib.module import Layer

__all__ = ["relative_error", "format_error", "numerical_gradient", "gradcheck", "compare"]

ROUNDING = 1e-12
"""Relative errors below this are float64 rounding between two exact formulas."""


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-12) -> float:
    """Norm-wise relative error ``||a - b|| / max(||a|| + ||b||, floor)``.

    Parameters
    ----------
    a, b : array_like, same shape
    floor : float
        Keeps the ratio finite when both arrays are (nearly) zero.

    Returns
    -------
    float
        0 for identical arrays; about 1e-16 for float64 rounding differences; up to 1
        for unrelated arrays.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} and {b.shape}.")
    den = max(float(np.linalg.norm(a) + np.linalg.norm(b)), float(floor))
    return float(np.linalg.norm(a - b)) / den


def format_error(err: float, below: float = 1e-7) -> str:
    """A relative error as text that does not depend on how the CPU rounds.

    Below ``below`` the digits of a relative error are rounding noise (finite differences
    in float64 leave about 1e-10, two exact formulas about 1e-16), and they change from
    one CPU to another. So they are not printed: only that the error is below the bound.

    Parameters
    ----------
    err : float
        A relative error, e.g. from :func:`relative_error` or :func:`gradcheck`.
    below : float
        The bound under which the digits are not shown (default 1e-7, the usual pass
        mark of a float64 gradient check).

    Returns
    -------
    str
        ``"< 1e-07"`` for a small error, else the error with two significant digits,
        e.g. ``"6.5e-01"``.

    Examples
    --------
    >>> format_error(3.2e-11), format_error(0.65)
    ('< 1e-07', '6.5e-01')
    """
    err = float(err)
    return f"< {below:.0e}" if err < below else f"{err:.1e}"


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray | float],
    x: np.ndarray,
    dout: np.ndarray | None = None,
    h: float = 1e-6,
) -> np.ndarray:
    """Centered-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    Parameters
    ----------
    f : callable
        Maps an array shaped like ``x`` to a scalar or to an array shaped like ``dout``.
        It is called with ``x`` itself, perturbed in place one entry at a time.
    x : ndarray, any shape, float64
        Restored exactly before returning.
    dout : ndarray, optional
        The upstream gradient dL/df; required when ``f`` returns an array.
    h : float
        Step size.

    Returns
    -------
    ndarray, same shape as ``x``
        ``(L(x + h e_i) - L(x - h e_i)) / (2h)`` for every entry i.

    Notes
    -----
    The exercise of notebook 01, ``numerical_gradient(f, x, h)``, handles a scalar ``f``
    only, so its third argument is the step size; here the third is ``dout``. Pass the
    step by name (``h=...``) to avoid the mix-up.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numerical_gradient: x must be a floating numpy array (float64 "
                        f"for meaningful results), got {type(x).__name__}.")

    def scalar(v: np.ndarray | float) -> float:
        if dout is None:
            if np.ndim(v) != 0:
                raise ValueError("numerical_gradient: f returned an array of shape "
                                 f"{np.shape(v)}; pass dout to reduce it to a scalar.")
            return float(v)
        return float(np.sum(np.asarray(v, dtype=np.float64) * dout))

    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1) if x.flags.c_contiguous else None
    if flat is None:
        raise ValueError("numerical_gradient: x must be C-contiguous so that it can be perturbed "
                         "in place; pass np.ascontiguousarray(x).")
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = scalar(f(x))
        flat[i] = old - h
        minus = scalar(f(x))
        flat[i] = old
        gflat[i] = (plus - minus) / (2.0 * h)
    return grad.astype(x.dtype, copy=False)


def gradcheck(
    module: Layer,
    x: np.ndarray,
    rng: np.random.Generator | None = None,
    h: float = 1e-6,
    dout: np.ndarray | None = None,
) -> dict[str, float]:
    """Relative error between ``module.backward`` and finite differences, per array.

    The loss is ``sum(module.forward(x) * dout)`` with a random ``dout`` (standard normal,
    drawn from ``rng``). BatchNorm running statistics and Dropout generators are restored
    before every forward, so the check neither changes the module nor sees different
    dropout masks.

    Parameters
    ----------
    module : Layer or Sequential
        Checked in its current mode; its parameters must be float64.
    x : ndarray, shape (N, D), float64 (integers are converted)
    rng : numpy.random.Generator, optional
        Draws ``dout``; defaults to ``np.random.default_rng(0)``.
    h : float
        Finite-difference step.
    dout : ndarray, optional
        Use this upstream gradient instead of a random one.

    Returns
    -------
    dict
        ``{"x": err, "<name>": err, ...}`` with one relative error per input and parameter
        (names as in ``module.parameters()``). Below 1e-7 means the backward pass is right.
        Errors are relative to ``max(||analytic|| + ||numerical||, floor)``, where ``floor`` is
        1e7 times the rounding noise of the finite differences.

    Raises
    ------
    TypeError
        When ``x`` or a parameter or buffer of ``module`` is float32 (or any float other
        than float64). In float32 the finite differences are dominated by rounding: a
        correct backward pass shows errors far above 1e-7, so such a check would be
        meaningless. Check a float64 copy of the layer instead (same constructor with
        ``dtype=np.float64``, ``x.astype(np.float64)``); float32 itself is tested by
        comparing with that float64 copy.
    """
    x = np.asarray(x)
    layers = module.leaves()
    low = [(f"x ({x.dtype})", x.dtype)] if x.dtype.kind == "f" else []
    low += [(f"{type(layer).__name__} {key} ({a.dtype})", a.dtype)
            for layer in layers for key, a in layer.named_arrays()]
    low = [what for what, dtype in low if dtype != np.float64]
    if low:
        raise TypeError(
            f"gradcheck: needs float64, got {', '.join(low)}. In lower precision the finite "
            "differences are dominated by rounding and the errors mean nothing; check a "
            "float64 copy (build the layer with dtype=np.float64 and pass "
            "x.astype(np.float64)).")
    x = np.array(x, dtype=np.float64, copy=True)
    saved_buffers = [{k: v.copy() for k, v in layer.buffers.items()} for layer in layers]
    saved_rngs = [(layer.rng, layer.rng.bit_generator.state) for layer in layers
                  if isinstance(getattr(layer, "rng", None), np.random.Generator)]

    def restore() -> None:
        for layer, buf in zip(layers, saved_buffers, strict=True):
            for k, v in buf.items():
                layer.buffers[k][...] = v
        for r, state in saved_rngs:
            r.bit_generator.state = state

    def run(inp: np.ndarray) -> np.ndarray:
        restore()
        return module.forward(inp)

    out = run(x)
    if dout is None:
        rng = rng if rng is not None else np.random.default_rng(0)
        dout = rng.standard_normal(out.shape)
    dx = module.backward(dout.astype(out.dtype, copy=False))
    analytic = {"x": dx.copy()}
    params = module.parameters()
    for p in params:
        analytic[p.name] = p.grad.copy()

    # The finite differences carry rounding noise of about eps * S / h per entry, with
    # S = sum |out * dout|. Measuring errors against at least 1e7 times that noise keeps a
    # correct backward pass below 1e-7 even where the true gradient is (nearly) zero, as for
    # a dense bias right before BatchNorm.
    noise = np.finfo(np.float64).eps * float(np.sum(np.abs(out * dout))) / h

    def error(name: str, num: np.ndarray) -> float:
        return relative_error(analytic[name], num, floor=1e7 * noise * np.sqrt(num.size))

    errors = {"x": error("x", numerical_gradient(run, x, dout, h))}
    for p in params:
        errors[p.name] = error(p.name, numerical_gradient(lambda _v: run(x), p.value, dout, h))
    restore()
    return errors


def _num(v: float) -> str:
    """``v`` with six significant digits; a negative zero prints as 0."""
    return f"{v + 0.0:.6g}"


def compare(name: str, ours: np.ndarray, reference: np.ndarray, rtol: float = 1e-7) -> bool:
    """Print whether ``ours`` matches ``reference``, is close to it, or differs.

    Use it on every intermediate of a derivation (mu, var, xhat, ...) to find the first
    one that goes wrong. What it prints does not depend on how the CPU rounds: "match"
    means equal up to float64 rounding (relative error below 1e-12, which covers two
    formulas computing the same thing in a different order), "close" means within
    ``rtol``, and only a real difference is printed with its digits, on two lines: the
    relative error, then the worst entry (index, both values, their difference).

    Parameters
    ----------
    name : str
        What is compared, printed first.
    ours, reference : array_like
    rtol : float
        Largest :func:`relative_error` still called close.

    Returns
    -------
    bool
        True when they match or are close.
    """
    a, b = np.asarray(ours), np.asarray(reference)
    if a.shape != b.shape:
        print(f"{name}: SHAPE MISMATCH, ours {a.shape} vs reference {b.shape}")
        return False
    with np.errstate(invalid="ignore"):
        odd = ~np.isfinite(a) | ~np.isfinite(b)
        if odd.any() and not np.array_equal(a[odd], b[odd], equal_nan=True):
            # a NaN or an infinity where the other has something else: the first one
            first = tuple(int(i) for i in np.argwhere(odd & ((a != b) & ~(
                np.isnan(a) & np.isnan(b))))[0])
            print(f"{name}: DIFFERENT (not finite)\n"
                  f"    first at entry {first}: ours {_num(a[first])}, "
                  f"reference {_num(b[first])}")
            return False
        if odd.any():  # the same NaNs and infinities in both: compare the rest
            a, b = np.where(odd, 0, a), np.where(odd, 0, b)
    err = 0.0 if np.array_equal(a, b) else relative_error(a, b)
    if err <= min(ROUNDING, rtol):
        print(f"{name}: match (relative error < {ROUNDING:.0e})")
        return True
    if err <= rtol:
        print(f"{name}: close (relative error < {rtol:.0e})")
        return True
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    worst = np.unravel_index(int(np.nanargmax(diff)) if diff.size else 0, diff.shape)
    # Two short lines rather than one that wraps in a notebook.
    print(f"{name}: DIFFERENT (relative error {err:.1e})\n"
          f"    worst entry {tuple(map(int, worst))}: ours {_num(a[worst])}, "
          f"reference {_num(b[worst])}, difference {diff.max():.1e}")
    return False
