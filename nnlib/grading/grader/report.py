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
file is written atomically (:mod:`nnlib._files`). What the page shows is computed in
:mod:`.report_summary`, and the figures are drawn in :mod:`.report_figures`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nnlib._files import atomic_path, write_text
from nnlib.grading.grader.report_figures import (
    functions_figure,
    mistakes_figure,
    pixel_size,
    png_bytes,
    scores_figure,
)
from nnlib.grading.grader.report_summary import (
    MISTAKE,
    ClassSummary,
    fmt_points,
    fmt_share,
    summarize,
)
from nnlib.grading.grader.results import Grade, check_output_path
from nnlib.grading.impl import GradingSetupError
from nnlib.grading.judge.records import Status

__all__ = ["write_report", "check_report_dir", "FIGURES", "INDEX"]

INDEX = "index.html"
"""The page's file name inside the report folder."""
FIGURES = ("scores.png", "functions.png", "mistakes.png")
"""The figures' file names; ``mistakes.png`` only when someone made a named mistake."""




def _esc(text: object) -> str:
    """``text`` safe inside HTML text and quoted attributes (a hostile name included).

    Lone surrogates (a folder name that is not UTF-8) become backslash escapes instead of failing
    to encode.
    """
    s = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(s, quote=True)



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


def _render_html(c: ClassSummary, sizes: Mapping[str, tuple[int, int]]) -> str:
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
           + f', {fmt_points(c.max_score)} points in all. Mean {np.mean(scores):.1f}, median '
           f'{np.median(scores):g}, lowest {fmt_points(scores.min())}, highest '
           f'{fmt_points(scores.max())}; full marks: {full} of {n}.</p>',
           '<nav><a href="#scores">Scores</a><a href="#mistakes">Named mistakes</a>'
           '<a href="#tests">Pass rate per test</a><a href="#students">Students</a></nav>']

    out += ['<h2 id="scores">Scores</h2>',
            _img("scores.png", sizes["scores.png"],
                 f"Histogram of the {n} students' scores, out of {fmt_points(c.max_score)} points")]

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
            m = MISTAKE.get(row.id)
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
                f'passed ({fmt_share(passed_here / results if results else 0.0)}); all its tests '
                f'passed: {all_passed} of {n} students</th></tr>')
        total = sum(t.status.values())
        passed = t.status["passed"]
        share = passed / total if total else 0.0
        named = ", ".join(f"{_esc(m)} \u00d7{k}" for m, k in sorted(
            t.mistakes.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(
            f'<tr><td><code>{_esc(t.name)}</code></td>'
            f'<td>{"hidden" if t.hidden else "public"}</td>'
            f'<td class="num">{fmt_points(t.points)}</td>'
            f'<td class="rate">{_bar(share)}{passed} of {total} ({fmt_share(share)})</td>'
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
                             f'{fmt_points(per[topic]["score"])} / '
                             f'{fmt_points(per[topic]["max_score"])}</td>')
            else:
                cells.append('<td class="num muted">\u2013</td>')
        mistakes = "<br>".join(
            f'<code>{_esc(m)}</code> <span class="muted">({_esc(f)})</span>'
            for m, f in c.student_mistakes[s]) or '<span class="muted">none</span>'
        said = "<br>".join(_esc(p) for p in [*g.problems, *([g.note] if g.note else [])])
        out.append(f'<tr><td>{_esc(s)}</td>'
                   f'<td class="num">{fmt_points(g.score)} / {fmt_points(g.max_score)}</td>'
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
    c = summarize(results)
    figures = {"scores.png": scores_figure(c), "functions.png": functions_figure(c)}
    if c.mistake_rows:
        figures["mistakes.png"] = mistakes_figure(c)
    sizes = {}
    for name, fig in figures.items():
        sizes[name] = pixel_size(fig)
        data = png_bytes(fig)
        with atomic_path(out / name, "nnlib grade --report") as tmp:
            tmp.write_bytes(data)
    if not c.mistake_rows:
        (out / "mistakes.png").unlink(missing_ok=True)
    write_text(out / INDEX, _render_html(c, sizes), "nnlib grade --report")
    return out / INDEX

