"""What the three sweeps share.

Plain-SGD training that stops at a divergence, a guarded evaluation, the text tables and
the claims checked on a grid of settings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlib.experiments._common import Claims, batch_indices, evaluate_model, train_step, value_at
from nnlib.module import Layer
from nnlib.optim import SGD

NETS = ("baseline", "batchnorm")


def on_grid(grid: np.ndarray, values: np.ndarray, points: tuple[float, ...]) -> np.ndarray:
    """``values`` at those of ``points`` that are on ``grid`` (NaN, a divergence, counts as 0)."""
    found = [value_at(grid, values, x) for x in points]
    return np.nan_to_num(np.array([v for v in found if v is not None], dtype=float), nan=0.0)


def in_range(grid: np.ndarray, values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``values`` at the grid points in [lo, hi] (NaN, a divergence, counts as 0)."""
    keep = (grid >= lo * (1 - 1e-9)) & (grid <= hi * (1 + 1e-9))
    return np.nan_to_num(np.asarray(values, dtype=float)[keep], nan=0.0)


def add_claim(claims: Claims, text: str, values: np.ndarray, test: Any) -> None:
    """Add the claim ``text`` when the sweep measured any of the values it is about."""
    if values.size:
        claims.add(text, bool(np.all(test(values))))


def all_finite(arrays: list[np.ndarray]) -> bool:
    """True when every entry of every array is finite.

    A NaN or an infinity anywhere makes an array's sum NaN or infinite, so a finite sum
    settles it with one reduction; only a non-finite sum (which finite entries reach when
    they overflow) is checked entry by entry.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for a in arrays:
            if not math.isfinite(np.add.reduce(a, axis=None)) and not np.isfinite(a).all():
                return False
    return True


def train_sgd(model: Layer, lr: float, X: np.ndarray, y: np.ndarray, steps: int, batch_size: int,
           rng: np.random.Generator) -> np.ndarray:
    """Plain SGD for ``steps`` steps; per-step losses (NaN after a divergence, which stops it)."""
    opt = SGD(model.parameters(), lr=lr)
    losses = np.full(steps, np.nan)
    batches = batch_indices(len(X), batch_size, rng)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for s in range(steps):
            idx = next(batches)
            loss = train_step(model, opt, X[idx], y[idx])
            if not math.isfinite(loss) or not all_finite([p.value for p in opt.params]):
                break
            losses[s] = loss
    return losses


def safe_eval(model: Layer, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``(X, y)``; a loss that is not finite becomes inf."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss, acc = evaluate_model(model, X, y)
    return (loss, acc) if np.isfinite(loss) else (np.inf, acc)


def format_table(header: list[str], rows: list[list[Any]]) -> str:
    """Right-aligned text table; non-finite values read "diverged", booleans yes/no."""
    def fmt(v: Any) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if not np.isfinite(v):
            return "diverged" if v > 0 or np.isnan(v) else "-inf"
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.1e}"
    cells = [header] + [[fmt(v) for v in r] for r in rows]
    w = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(c[i].rjust(w[i]) for i in range(len(header))) for c in cells)
