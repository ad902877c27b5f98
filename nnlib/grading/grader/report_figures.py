"""The class report's figures: scores, pass rate per function, named mistakes (PNG).

Drawn by matplotlib's Agg canvas without pyplot and without the ``Software`` PNG tag, so
the same grades give the same bytes.
"""

from __future__ import annotations

import io

import numpy as np

from nnlib.grading.grader.report_summary import ClassSummary, MistakeRow, fmt_points

_DPI = 100


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes, the same for the same figure (no ``Software`` tag)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def pixel_size(fig) -> tuple[int, int]:
    """The figure's (width, height) in pixels, for the page's ``img`` tags."""
    w, h = fig.get_size_inches()
    return round(w * _DPI), round(h * _DPI)


def scores_figure(c: ClassSummary):
    """Histogram of the class's scores (``scores.png``)."""
    scores = np.array([c.grades[n].score for n in c.names], dtype=np.float64)
    top = c.max_score if c.max_score > 0 else 1.0
    bins = int(top) if top <= 30 and float(top).is_integer() else 20
    edges = np.linspace(0.0, top, bins + 1)
    counts, _ = np.histogram(np.clip(scores, 0.0, top), bins=edges)
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#4c72b0",
           edgecolor="white")
    for x, w, k in zip(edges[:-1], np.diff(edges), counts, strict=True):
        if k:
            ax.annotate(str(k), (x + w / 2, k), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    ax.axvline(float(np.mean(scores)), color="#c44e52", lw=1.5,
               label=f"mean {np.mean(scores):.1f}")
    ax.axvline(float(np.median(scores)), color="#55a868", lw=1.5, ls="--",
               label=f"median {np.median(scores):g}")
    ax.set_xlim(0, top)
    ax.set_ylim(0, max(1, counts.max()) * 1.18)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"points (out of {fmt_points(c.max_score)})")
    ax.set_ylabel("students")
    ax.set_title(f"Scores of the class ({len(scores)} students)")
    ax.legend(loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _function_rates(c: ClassSummary) -> list[tuple[str, str, float]]:
    """``(topic, function, share of its test results passed)``, in registry order."""
    out: dict[tuple[str, str], list[int]] = {}
    for t in c.tests:
        acc = out.setdefault((t.topic, t.function), [0, 0])
        acc[0] += t.status["passed"]
        acc[1] += sum(t.status.values())
    return [(topic, f, p / n if n else 0.0) for (topic, f), (p, n) in out.items()]


def functions_figure(c: ClassSummary):
    """Pass rate of each function's tests, grouped by topic (``functions.png``)."""
    rates = _function_rates(c)
    fig = _figure(7.5, 0.8 + 0.24 * len(rates))
    ax = fig.add_subplot()
    y = np.arange(len(rates))
    values = np.array([r[2] for r in rates]) * 100
    colors = ["#55a868" if v >= 90 else "#dd8452" if v >= 50 else "#c44e52" for v in values]
    ax.barh(y, values, color=colors)
    for yi, v in zip(y, values, strict=True):
        ax.annotate(f"{v:.0f}%", (v, yi), va="center", fontsize=8, xytext=(3, 0),
                    textcoords="offset points")
    ax.set_yticks(y, [f"{topic}: {f}" for topic, f, _ in rates], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("share of the function's test results that passed (%)")
    ax.set_title("Pass rate per function (public and hidden tests)"
                 if any(t.hidden for t in c.tests) else "Pass rate per function")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _mistake_label(c: ClassSummary, row: MistakeRow) -> str:
    several = sum(r.id == row.id for r in c.mistake_rows) > 1
    return f"{row.id} ({row.function})" if several else row.id


def mistakes_figure(c: ClassSummary):
    """How many students made each named mistake (``mistakes.png``)."""
    rows = c.mistake_rows
    fig = _figure(7.5, 0.9 + 0.28 * len(rows))
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    counts = np.array([len(r.students) for r in rows])
    ax.barh(y, counts, color="#8172b3")
    for yi, k in zip(y, counts, strict=True):
        ax.annotate(str(k), (k, yi), va="center", fontsize=8, xytext=(3, 0),
                    textcoords="offset points")
    ax.set_yticks(y, [_mistake_label(c, r) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, len(c.names) * 1.1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"students (out of {len(c.names)})")
    ax.set_title("Named mistakes: how many students made each")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


