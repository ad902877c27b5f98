"""The class report: one self-contained HTML page on a graded class, with PNG figures.

``nnlib grade --submissions DIR --csv FILE --report OUTDIR`` writes ``OUTDIR/index.html``
and the figures it shows, next to it (:data:`FIGURES`), referenced by relative names, so
that the page opens from ``file://`` with no server and no JavaScript. It shows

- the class's scores: summary numbers and a histogram (``scores.png``);
- every named mistake (:data:`nnlib.grading.registry.MISTAKES`) that someone made: how
  many students and which, per function (a table and ``mistakes.png``);
- the pass rate of every test, public and hidden, grouped by topic and function (a table
  and, per function, ``functions.png``);
- per student: the score, the points per exercise, the named mistakes, any problem.

The report reads only the records the judge produced (:class:`Grade`): ``status`` and
``mistake`` fields, never the messages' wording. Every string that a student controls (a
student is a folder name; a problem or a message may quote their code) is HTML-escaped, and
the page's Content-Security-Policy allows no script at all. The report is deterministic: the
same grades give the same bytes (no time stamp, students sorted by name, figures drawn
by matplotlib's Agg canvas without pyplot and without the ``Software`` PNG tag). Every
file is written atomically (:mod:`nnlib._files`).
"""

from __future__ import annotations

import html
import io
import os
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlib._files import atomic_path, write_text
from nnlib.grading.grader.results import Grade, check_output_path
from nnlib.grading.impl import GradingSetupError
from nnlib.grading.judge.records import Status
from nnlib.grading.registry import EXERCISES, MISTAKES, TOPICS

__all__ = ["write_report", "check_report_dir", "FIGURES", "INDEX"]

INDEX = "index.html"
"""The page's file name inside the report folder."""
FIGURES = ("scores.png", "functions.png", "mistakes.png")
"""The figures' file names; ``mistakes.png`` only when someone made a named mistake."""

_DPI = 100
_FUNCTION_ORDER = {e.function: i for i, e in enumerate(EXERCISES)}
_TOPIC_ORDER = {t: i for i, t in enumerate(TOPICS)}
_MISTAKE_ORDER = {m.id: i for i, m in enumerate(MISTAKES)}
_MISTAKE = {m.id: m for m in MISTAKES}


def _esc(text: object) -> str:
    """``text`` safe inside HTML text and quoted attributes (a hostile name included).

    Lone surrogates (a folder name that is not UTF-8) become backslash escapes instead of failing
    to encode.
    """
    s = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(s, quote=True)


def _pts(x: float) -> str:
    return f"{x:g}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


@dataclass
class _Test:
    nodeid: str
    name: str
    topic: str
    function: str
    points: float
    hidden: bool
    status: Counter = field(default_factory=Counter)
    mistakes: Counter = field(default_factory=Counter)


@dataclass
class _MistakeRow:
    id: str
    function: str
    students: list[str]


@dataclass
class _Class:
    """What the page shows, computed once from the grades."""

    names: list[str]
    grades: dict[str, Grade]
    max_score: float
    tests: list[_Test]
    mistake_rows: list[_MistakeRow]
    student_mistakes: dict[str, list[tuple[str, str]]]
    topics: list[str]


def _summarize(results: Mapping[str, Grade]) -> _Class:
    names = sorted(results)
    tests: dict[str, _Test] = {}
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    per_student: dict[str, set[tuple[str, str]]] = {n: set() for n in names}
    for name in names:
        for r in results[name].records:
            t = tests.get(r["nodeid"])
            if t is None:
                t = tests[r["nodeid"]] = _Test(
                    r["nodeid"], str(r.get("name", r["nodeid"])), r["topic"], r["function"],
                    float(r["points"]), r.get("visibility") == "hidden")
            t.status[str(r["status"])] += 1
            mistake = r.get("mistake") or ""
            if mistake:
                t.mistakes[mistake] += 1
                seen[(mistake, r["function"])].add(name)
                per_student[name].add((mistake, r["function"]))
    ordered = sorted(tests.values(), key=lambda t: (
        _TOPIC_ORDER.get(t.topic, len(TOPICS)), t.topic,
        _FUNCTION_ORDER.get(t.function, len(EXERCISES)), t.function, t.hidden))
    rows = [_MistakeRow(m, f, sorted(who)) for (m, f), who in seen.items()]
    rows.sort(key=lambda row: (-len(row.students), _MISTAKE_ORDER.get(row.id, len(MISTAKES)),
                               row.id, _FUNCTION_ORDER.get(row.function, 0), row.function))

    def catalogue_order(pair: tuple[str, str]) -> tuple:
        return (_FUNCTION_ORDER.get(pair[1], len(EXERCISES)), pair[1],
                _MISTAKE_ORDER.get(pair[0], len(MISTAKES)), pair[0])

    topics = [t for t in TOPICS if any(x.topic == t for x in ordered)]
    topics += sorted({x.topic for x in ordered} - set(topics))
    return _Class(names=names, grades=dict(results),
                  max_score=max(g.max_score for g in results.values()), tests=ordered,
                  mistake_rows=rows,
                  student_mistakes={n: sorted(per_student[n], key=catalogue_order)
                                    for n in names},
                  topics=topics)


# ---------------------------------------------------------------------------- figures


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _size(fig) -> tuple[int, int]:
    w, h = fig.get_size_inches()
    return round(w * _DPI), round(h * _DPI)


def _scores_figure(c: _Class):
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
    ax.set_xlabel(f"points (out of {_pts(c.max_score)})")
    ax.set_ylabel("students")
    ax.set_title(f"Scores of the class ({len(scores)} students)")
    ax.legend(loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _function_rates(c: _Class) -> list[tuple[str, str, float]]:
    """``(topic, function, share of its test results passed)``, in registry order."""
    out: dict[tuple[str, str], list[int]] = {}
    for t in c.tests:
        acc = out.setdefault((t.topic, t.function), [0, 0])
        acc[0] += t.status["passed"]
        acc[1] += sum(t.status.values())
    return [(topic, f, p / n if n else 0.0) for (topic, f), (p, n) in out.items()]


def _functions_figure(c: _Class):
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


def _mistake_label(c: _Class, row: _MistakeRow) -> str:
    several = sum(r.id == row.id for r in c.mistake_rows) > 1
    return f"{row.id} ({row.function})" if several else row.id


def _mistakes_figure(c: _Class):
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


# ---------------------------------------------------------------------------- the page

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 90em; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.rate { white-space: nowrap; }
tr.group th { background: #e8eef7; font-weight: 600; }
code { font-size: 0.95em; }
.bar { display: inline-block; width: 8em; height: 0.8em; background: #eee;
       vertical-align: middle; margin-right: 0.4em; }
.bar span { display: block; height: 100%; background: #55a868; }
.muted { color: #666; }
img { max-width: 100%; height: auto; }
nav a { margin-right: 1em; }
.who { max-width: 40em; }
.wide { overflow-x: auto; }
"""

# No script of any kind, images only from the report folder, styles only inline.
_CSP = ("default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'")


def _bar(share: float) -> str:
    return f'<span class="bar"><span style="width:{100 * share:.1f}%"></span></span>'


def _img(src: str, size: tuple[int, int], alt: str) -> str:
    return (f'<p><img src="{src}" width="{size[0]}" height="{size[1]}" '
            f'alt="{_esc(alt)}"></p>')


def _cell_color(share: float) -> str:
    if share >= 1.0:
        return "#dff0d8"
    if share >= 0.5:
        return "#fcf3d9"
    return "#f8dedd"


def _render_html(c: _Class, sizes: Mapping[str, tuple[int, int]]) -> str:
    """The page for the class summary ``c``; ``sizes`` gives each figure's pixel size."""
    n = len(c.names)
    scores = np.array([c.grades[s].score for s in c.names], dtype=np.float64)
    hidden = any(t.hidden for t in c.tests)
    n_hidden = sum(t.hidden for t in c.tests)
    full = int(np.sum(scores >= c.max_score)) if c.max_score > 0 else n
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>nnlib: class report</title>', f'<style>{_CSS}</style>', '</head>', '<body>',
           '<h1>Class report</h1>',
           f'<p>{n} submission{"s" if n != 1 else ""} graded with {len(c.tests)} tests'
           + (f' ({n_hidden} of them hidden)' if hidden else ' (public tests only)')
           + f', {_pts(c.max_score)} points in all. Mean {np.mean(scores):.1f}, median '
           f'{np.median(scores):g}, lowest {_pts(scores.min())}, highest '
           f'{_pts(scores.max())}; full marks: {full} of {n}.</p>',
           '<nav><a href="#scores">Scores</a><a href="#mistakes">Named mistakes</a>'
           '<a href="#tests">Pass rate per test</a><a href="#students">Students</a></nav>']

    out += ['<h2 id="scores">Scores</h2>',
            _img("scores.png", sizes["scores.png"],
                 f"Histogram of the {n} students' scores, out of {_pts(c.max_score)} points")]

    out.append('<h2 id="mistakes">Named mistakes</h2>')
    if not c.mistake_rows:
        out.append("<p>Nobody made a named mistake: no failing output matched a catalogued "
                   "mistake (see docs/grading.md for the catalogue).</p>")
    else:
        out += ['<p>A test names a mistake when the student\'s output is exactly what that '
                'mistake gives on the test\'s inputs, and not the right answer. One row per '
                'mistake and function; the count is the number of students.</p>',
                _img("mistakes.png", sizes["mistakes.png"],
                     "Bar chart: how many students made each named mistake"),
                '<div class="wide"><table>', '<tr><th>mistake</th><th>what the output shows</th>'
                '<th>function</th><th class="num">students</th><th>who</th>'
                '<th>fix (where it is taught)</th></tr>']
        for k, row in enumerate(c.mistake_rows):
            m = _MISTAKE.get(row.id)
            what = f"your {m.name}" if m else "(not in this catalogue)"
            section = m.section.replace("\\epsilon", "\u03b5").replace("$", "") if m else ""
            fix = f"{m.fix} ({m.notebook}, section \u201c{section}\u201d)" if m else ""
            out.append(
                f'<tr id="m{k}"><td><code>{_esc(row.id)}</code></td><td>{_esc(what)}</td>'
                f'<td><code>{_esc(row.function)}</code></td>'
                f'<td class="num">{len(row.students)} of {n}</td>'
                f'<td class="who">{_esc(", ".join(row.students))}</td>'
                f'<td>{_esc(fix)}</td></tr>')
        out.append('</table></div>')

    out += ['<h2 id="tests">Pass rate per test</h2>',
            _img("functions.png", sizes["functions.png"],
                 "Bar chart: the share of each function's test results that passed"),
            '<p>Every test, grouped by exercise and function'
            + (', hidden tests included' if hidden else '')
            + '. <em>Waiting</em>: the function it needs first fails its own tests; '
            '<em>not implemented</em>: still the stub.</p>',
            '<div class="wide"><table>', '<tr><th>test</th><th>kind</th><th class="num">points</th>'
            '<th>passed</th><th class="num">failed</th><th class="num">waiting</th>'
            '<th class="num">not implemented</th><th>named mistakes</th></tr>']
    group = None
    for t in c.tests:
        if (t.topic, t.function) != group:
            group = (t.topic, t.function)
            mine = [x for x in c.tests if (x.topic, x.function) == group]
            results = sum(sum(x.status.values()) for x in mine)
            passed_here = sum(x.status["passed"] for x in mine)
            all_passed = sum(
                all(r["status"] == "passed" for r in c.grades[s].records
                    if (r["topic"], r["function"]) == group) for s in c.names)
            out.append(
                f'<tr class="group"><th colspan="8">{_esc(t.topic)}: '
                f'<code>{_esc(t.function)}</code> \u2014 {len(mine)} '
                f'test{"s" if len(mine) != 1 else ""}; {passed_here} of {results} results '
                f'passed ({_pct(passed_here / results if results else 0.0)}); all its tests '
                f'passed: {all_passed} of {n} students</th></tr>')
        total = sum(t.status.values())
        passed = t.status["passed"]
        share = passed / total if total else 0.0
        named = ", ".join(f"{_esc(m)} \u00d7{k}" for m, k in sorted(
            t.mistakes.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(
            f'<tr><td><code>{_esc(t.name)}</code></td>'
            f'<td>{"hidden" if t.hidden else "public"}</td>'
            f'<td class="num">{_pts(t.points)}</td>'
            f'<td class="rate">{_bar(share)}{passed} of {total} ({_pct(share)})</td>'
            f'<td class="num">{t.status[Status.FAILED.value] or ""}</td>'
            f'<td class="num">{t.status[Status.WAITING.value] or ""}</td>'
            f'<td class="num">{t.status[Status.NOT_IMPLEMENTED.value] or ""}</td>'
            f'<td>{named}</td></tr>')
    out.append('</table></div>')

    problems = any(c.grades[s].problems or c.grades[s].note for s in c.names)
    out += ['<h2 id="students">Students</h2>',
            '<p>Points per exercise (green: full marks; yellow: at least half; red: less) '
            'and the named mistakes found'
            + (', and any problem with the hand-in or note on how it was read' if problems
               else '') + '.</p>',
            '<div class="wide"><table>', '<tr><th>student</th><th class="num">score</th>'
            + "".join(f'<th class="num">{_esc(topic)}</th>' for topic in c.topics)
            + '<th>named mistakes</th>' + ('<th>problems</th>' if problems else '') + '</tr>']
    for s in c.names:
        g = c.grades[s]
        per = g.by_topic()
        cells = []
        for topic in c.topics:
            if topic in per and per[topic]["max_score"]:
                share = per[topic]["score"] / per[topic]["max_score"]
                cells.append(f'<td class="num" style="background:{_cell_color(share)}">'
                             f'{_pts(per[topic]["score"])} / '
                             f'{_pts(per[topic]["max_score"])}</td>')
            else:
                cells.append('<td class="num muted">\u2013</td>')
        mistakes = "<br>".join(
            f'<code>{_esc(m)}</code> <span class="muted">({_esc(f)})</span>'
            for m, f in c.student_mistakes[s]) or '<span class="muted">none</span>'
        said = "<br>".join(_esc(p) for p in [*g.problems, *([g.note] if g.note else [])])
        out.append(f'<tr><td>{_esc(s)}</td>'
                   f'<td class="num">{_pts(g.score)} / {_pts(g.max_score)}</td>'
                   + "".join(cells) + f'<td>{mistakes}</td>'
                   + (f'<td>{said}</td>' if problems else '') + '</tr>')
    out += ['</table></div>',
            '<p class="muted">Written by <code>python -m nnlib grade --report</code>; the '
            'figures are the PNG files next to this page.</p>',
            '</body>', '</html>', '']
    return "\n".join(out)


# ---------------------------------------------------------------------------- files


def check_report_dir(outdir: str | os.PathLike[str]) -> Path:
    """Create the report folder ``outdir`` if needed; fail clearly unless it can be written.

    Called before a class is graded, so that a bad path costs nothing. Raises
    :class:`GradingSetupError`.
    """
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise GradingSetupError(f"the report folder {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GradingSetupError(f"cannot create the report folder {out}: {e.strerror}") \
            from None
    check_output_path(out / INDEX, "class report")
    return out


def write_report(results: Mapping[str, Grade], outdir: str | os.PathLike[str]) -> Path:
    """Write the class report for ``results`` (``{student: Grade}``) into ``outdir``.

    Writes the figures first, then ``index.html`` (each atomically), and removes a stale
    ``mistakes.png`` of an earlier report when nobody made a named mistake this time.
    Returns the path of ``index.html``.

    Raises
    ------
    GradingSetupError
        When ``results`` is empty (there is no class to report on) or ``outdir`` cannot
        be written.
    """
    if not results:
        raise GradingSetupError("the class report needs at least one graded submission; "
                                "there are none")
    out = check_report_dir(outdir)
    c = _summarize(results)
    figures = {"scores.png": _scores_figure(c), "functions.png": _functions_figure(c)}
    if c.mistake_rows:
        figures["mistakes.png"] = _mistakes_figure(c)
    sizes = {}
    for name, fig in figures.items():
        sizes[name] = _size(fig)
        data = _png(fig)
        with atomic_path(out / name, "nnlib grade --report") as tmp:
            tmp.write_bytes(data)
    if not c.mistake_rows:
        (out / "mistakes.png").unlink(missing_ok=True)
    write_text(out / INDEX, _render_html(c, sizes), "nnlib grade --report")
    return out / INDEX

