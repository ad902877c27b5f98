"""Open every course notebook in JupyterLab in headless Chromium, as a student would.

    python scripts/browser_check.py                        # every notebook in course/
    python scripts/browser_check.py course/04_*.ipynb      # some of them
    python scripts/browser_check.py --out /tmp/shots       # screenshots elsewhere

Needs the ``browser`` extra (``pip install -e ".[dev,browser]"``: python playwright) and a
Chromium executable (Debian: ``apt-get install chromium``, at ``/usr/bin/chromium``;
``--chromium PATH`` or ``$CHROMIUM`` for another). Playwright's own browser download is
never used. ``.ci/run`` runs this after the test suite; the README's ``pytest`` does not.

From a COPY of the repository in a temporary folder (nothing in the repository changes),
it starts JupyterLab at the copy's root on 127.0.0.1 with a random token and fresh
settings, and opens each notebook in its own workspace, in a 1300 x 900 window with the
file browser open. Then, per notebook:

1. On open, nothing run yet, the notebook untrusted (a fresh clone): FAIL if it is marked
   modified, or if an output shows a raw widget repr (``VBox(children=...``).
2. Run All, once, in the fresh kernel: FAIL on an error output or any output on stderr, a
   raw widget repr, a disconnected widget (red icon), a rendered markdown cell with a
   horizontal scrollbar or content wider than the cell (clipped), or a link that does not
   look like one (the colour of the text around it and no underline).
3. Move every control of every widget once (a slider one step with the arrow key, a
   drop-down to another option): FAIL if its figure is not redrawn within 30 s, or on a
   new error, stderr output or disconnected widget. Each redraw's delay is printed.
4. Screenshots into ``--out`` (default ``browser-check/``, git-ignored; emptied first):
   ``NN_name.open.png`` (the window on open), ``NN_name.open.cellK.png`` (each stored widget
   output on open: its view, repr or sentence), ``NN_name-01.png``, ... (the whole
   notebook after Run All, top to bottom), ``NN_name.cellK.png`` (each markdown cell that
   failed).

Then the class report (:func:`check_class_report`; ``--skip-report`` leaves it out): a small
class (the solutions and two mutant submissions of ``tests/grading/mutants.py``, one of them
under a hostile folder name) graded with the public tests by ``python -m nnlib grade
--submissions ... --report``, the report written to ``class-report/`` in ``--out``, opened
from ``file://``: FAIL if grading fails, if an image does not load, if the hostile name is
not shown as text, or on a console error; ``class-report.png`` is the whole page.

Also FAIL on any JavaScript error in the page (uncaught or logged to the console). The
kernels run with one BLAS thread, as in CI, and without NNLIB_IMPL, so exercise check
cells run against the stubs in ``exercises/`` (what a student sees). ``--trusted`` signs
the copies first (as after a student saved them). Exit status 0 when every notebook
passes, 1 otherwise; the last line reads ``browser-check: N passed, M failed``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1300, 900
SHOT_HEIGHT = 1800  # screenshots of the whole notebook, in pieces this tall
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.egg-info",
                                     ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache",
                                     "browser-check", "results", "release", "build", "dist")
# Lab settings for the check: every cell stays in the DOM (so that all of them can be
# inspected and photographed), nothing is saved behind the check's back, no news fetched.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "scrollPastEnd": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                      "checkForUpdates": False},
}
READY_TIMEOUT = 90.0
RUN_ALL_TIMEOUT = 300.0
REDRAW_TIMEOUT = 30.0

# Run in the page. ``window.jupyterapp`` exists because JupyterLab is started with
# expose_app_in_browser; ``panel(path)`` is the notebook's panel.
JS_HELPERS = r"""
window.nnlibCheck = {
  WIDGET_VIEW: 'application/vnd.jupyter.widget-view+json',
  REPR: /\b\w+\((children|value|options|description|outputs|layout)=/,
  panel(path) {
    for (const w of window.jupyterapp.shell.widgets('main')) {
      if (w.context && w.context.path === path && w.content && w.content.widgets) return w;
    }
    return null;
  },
  async ready(path) {
    const p = this.panel(path);
    if (!p) return false;
    await p.context.ready;
    await p.sessionContext.ready;
    const k = p.sessionContext.session && p.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
  },
  dirty(path) { return this.panel(path).context.model.dirty; },
  metadata(path) {
    const m = this.panel(path).context.model;
    return {kernelspec: m.getMetadata('kernelspec'),
            language_info: m.getMetadata('language_info')};
  },
  status(path) {
    const k = this.panel(path).sessionContext.session.kernel;
    return k ? k.status : 'none';
  },
  // Non-empty code cells: index, execution count, outputs (from the model).
  cells(path) {
    const out = [];
    this.panel(path).content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'code' || !cell.model.sharedModel.getSource().trim()) return;
      out.push({index: i, count: cell.model.executionCount,
                outputs: cell.model.outputs.toJSON()});
    });
    return out;
  },
  runAllDone(path) {
    const c = this.cells(path);
    const failed = c.some(x => x.outputs.some(o => o.output_type === 'error'));
    return (failed || c.every(x => x.count !== null)) && this.status(path) === 'idle';
  },
  widgetOutputCells(path) {
    const found = [];
    this.panel(path).content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'code') return;
      const outs = cell.model.outputs.toJSON();
      const text = o => [].concat(o.data['text/plain'] || []).join('');
      if (outs.some(o => o.data && (o.data[this.WIDGET_VIEW] || this.REPR.test(text(o)) ||
                                    text(o).includes('run this cell')))) found.push(i);
    });
    return found;
  },
  // Rendered output text that looks like an ipywidgets repr, e.g. "VBox(children=(".
  rawWidgetReprs(path) {
    const found = [];
    this.panel(path).node.querySelectorAll('.jp-OutputArea-output').forEach(el => {
      const t = el.innerText || '';
      if (this.REPR.test(t)) found.push(t.slice(0, 100));
    });
    return found;
  },
  disconnected(path) {
    return this.panel(path).node.querySelectorAll('.jupyter-widgets-disconnected').length;
  },
  // Rendered markdown cells with a horizontal scrollbar, clipped content, or content
  // that sticks out to the right of the cell.
  markdownOverflow(path) {
    const bad = [];
    this.panel(path).content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'markdown') return;
      const root = cell.node.querySelector('.jp-RenderedMarkdown');
      if (!root) return;
      const limit = root.getBoundingClientRect().right + 1;
      for (const el of [...root.querySelectorAll('*'), root]) {
        // Inside a formula only the formula as a whole counts (MathJax clips its stretchy
        // delimiters and its hidden screen-reader copy on purpose).
        if (el.tagName.startsWith('MJX-') && el.tagName !== 'MJX-CONTAINER') continue;
        if (el.closest('mjx-assistive-mml')) continue;
        const style = getComputedStyle(el);
        const wide = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
        const scrolls = wide && ['auto', 'scroll'].includes(style.overflowX);
        const clipped = wide && ['hidden', 'clip'].includes(style.overflowX);
        const out = el.getBoundingClientRect().right > limit;
        const formula = wide && el.tagName === 'MJX-CONTAINER';
        if (!(scrolls || clipped || out || formula)) continue;
        const what = formula ? 'formula wider than the cell'
          : scrolls ? 'content wider than the cell (horizontal scrollbar)'
          : clipped ? 'content cut off' : 'content wider than the cell';
        const text = (el.innerText || el.textContent || '').replace(/\s+/g, ' ').slice(0, 60);
        const tag = el.tagName.toLowerCase();
        bad.push({index: i, text: `markdown cell ${i}: ${what}: <${tag}> "${text}"`});
        break;
      }
    });
    return bad;
  },
  // Links in rendered markdown that do not look like links: their text has the colour of
  // the text around them and no underline (e.g. a code span as the link text, which
  // JupyterLab shows as plain black code).
  plainLinks(path) {
    const bad = [];
    this.panel(path).content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'markdown') return;
      const root = cell.node.querySelector('.jp-RenderedMarkdown');
      if (!root) return;
      root.querySelectorAll('a[href]').forEach(a => {
        if (a.classList.contains('jp-InternalAnchorLink')) return;  // heading anchors
        const around = getComputedStyle(a.parentElement).color;
        const parts = [a, ...a.querySelectorAll('*')].filter(el =>
          [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()));
        const plain = parts.some(el => {
          const s = getComputedStyle(el);
          const line = s.textDecorationLine + ' ' + getComputedStyle(a).textDecorationLine;
          return s.color === around && !line.includes('underline');
        });
        if (plain) bad.push({index: i, text: `markdown cell ${i}: a link that does not ` +
                             `look like one (colour of the text, no underline): ` +
                             `"${(a.innerText || '').slice(0, 60)}"`});
      });
    });
    return bad;
  },
  // Live widgets after Run All: per cell, how many sliders and drop-downs.
  widgets(path) {
    const res = [];
    this.panel(path).content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'code' || !cell.node.querySelector('.jupyter-widgets')) return;
      res.push({index: i,
                sliders: cell.node.querySelectorAll('.jupyter-widgets .noUi-handle').length,
                selects: cell.node.querySelectorAll('.jupyter-widgets select').length});
    });
    return res;
  },
  imageSrc(path, index) {
    const cell = this.panel(path).content.widgets[index];
    const img = cell.node.querySelector('.jupyter-widgets img');
    return img ? img.src.slice(-300) : null;
  },
  outer(path) {
    const p = this.panel(path);
    return p.content.node.querySelector('.jp-WindowedPanel-outer') || p.content.node;
  },
  scrollMax(path) { const o = this.outer(path); return o.scrollHeight - o.clientHeight; },
  scrollTo(path, y) { this.outer(path).scrollTop = y; },
};
"""


@dataclass
class Report:
    """What the check found in one notebook."""

    name: str
    failures: list[str] = field(default_factory=list)
    run_all: float = float("nan")
    redraws: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_env(tmp: Path) -> dict[str, str]:
    """This environment, with Jupyter's config, data and runtime folders fresh under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NNLIB_"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_PLATFORM_DIRS="1",
               PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return env


def start_lab(repo: Path, tmp: Path, port: int, token: str) -> subprocess.Popen:
    """JupyterLab on 127.0.0.1:port serving ``repo``, with settings and state under ``tmp``."""
    settings = tmp / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        pkg, name = plugin.rsplit("/", 1)
        target = settings / pkg / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={repo}",
           "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True",
           f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.news_url=",
           "--LabApp.extension_manager=readonly",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log_path = tmp / "jupyterlab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=repo, env=lab_env(tmp), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {proc.returncode}:\n"
                               + log_path.read_text()[-3000:])
        try:
            url = f"http://127.0.0.1:{port}/api/status?token={token}"
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback)
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError("JupyterLab did not answer within 90 s:\n" + log_path.read_text()[-3000:])


def stop(proc: subprocess.Popen) -> None:
    """End the JupyterLab server this script started (and wait for it)."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def output_problems(cells: list[dict], when: str) -> list[str]:
    """Error outputs and stderr output in the notebook model's code cells."""
    bad = []
    for c in cells:
        for o in c["outputs"]:
            if o.get("output_type") == "error":
                bad.append(f"{when}: cell {c['index']} raised {o.get('ename')}: "
                           f"{str(o.get('evalue'))[:200]}")
            elif o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = "".join(o.get("text", ""))
                bad.append(f"{when}: cell {c['index']} wrote to stderr: {text.strip()[:200]!r}")
    return bad


def wait_until(page, expression: str, arg, timeout: float, poll: float = 0.2):
    """Evaluate ``expression(arg)`` until it is truthy; return it, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value or time.monotonic() > deadline:
            return value or None
        time.sleep(poll)


def check_notebook(context, base: str, token: str, rel: str, out: Path) -> Report:
    """Steps 1-4 of the module docstring for the notebook at ``rel`` (relative to the root)."""
    name = Path(rel).stem
    rep = Report(name)
    page = context.new_page()
    page.set_default_timeout(60_000)
    js_errors: list[str] = []
    page.on("pageerror", lambda e: js_errors.append(f"uncaught: {e}"))
    page.on("console", lambda m: m.type == "error" and js_errors.append(f"console: {m.text}"))
    cell = lambda i: page.locator(".jp-Notebook .jp-Cell").nth(i)  # noqa: E731
    js = lambda fn, *args: page.evaluate(  # noqa: E731
        f"([p, ...a]) => window.nnlibCheck.{fn}(p, ...a)", [rel, *args])
    try:
        page.goto(f"{base}/lab/workspaces/check-{name}/tree/{rel}?token={token}",
                  wait_until="domcontentloaded")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
        page.evaluate(JS_HELPERS)
        if not wait_until(page, "p => window.nnlibCheck.ready(p)", rel, READY_TIMEOUT):
            rep.failures.append(f"the notebook and its kernel were not ready within "
                                f"{READY_TIMEOUT:.0f} s")
            return rep
        time.sleep(2.0)  # JupyterLab updates the metadata from the kernel's info
        page.screenshot(path=str(out / f"{name}.open.png"))

        # 1. On open.
        if js("dirty"):
            rep.failures.append("marked modified on open; JupyterLab's metadata: "
                                + json.dumps(js("metadata"), sort_keys=True))
        for text in js("rawWidgetReprs"):
            rep.failures.append(f"on open: an output shows a raw widget repr: {text!r}")
        for i in js("widgetOutputCells"):
            cell(i).scroll_into_view_if_needed()
            cell(i).screenshot(path=str(out / f"{name}.open.cell{i}.png"))

        # 2. Run All, once. Outputs are cleared first, so that "every code cell has an
        # execution count again" means "done".
        page.evaluate("() => window.jupyterapp.commands.execute("
                      "'notebook:clear-all-cell-outputs')")
        start = time.monotonic()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        done = wait_until(page, "p => window.nnlibCheck.runAllDone(p)", rel, RUN_ALL_TIMEOUT)
        rep.run_all = time.monotonic() - start
        cells = js("cells")
        if not done:
            rep.failures.append(f"Run All did not finish within {RUN_ALL_TIMEOUT:.0f} s")
        elif missing := [c["index"] for c in cells if c["count"] is None]:
            rep.failures.append(f"Run All stopped before code cells {missing}")
        time.sleep(1.0)  # widget views render asynchronously
        rep.failures += output_problems(cells, "Run All")
        for text in js("rawWidgetReprs"):
            rep.failures.append(f"after Run All: an output shows a raw widget repr: {text!r}")
        if n := js("disconnected"):
            rep.failures.append(f"after Run All: {n} widget view(s) show as disconnected")
        for bad in js("markdownOverflow"):
            rep.failures.append(bad["text"])
            cell(bad["index"]).screenshot(path=str(out / f"{name}.cell{bad['index']}.png"))
        for bad in js("plainLinks"):
            rep.failures.append(bad["text"])
            cell(bad["index"]).screenshot(path=str(out / f"{name}.cell{bad['index']}.png"))

        # 3. Move every control once.
        for w in js("widgets"):
            rep.failures += move_controls(page, js, rel, cell(w["index"]), w, rep)
        for problem in output_problems(js("cells"), "after moving the widgets"):
            if problem.split(": ", 1)[1] not in " ".join(rep.failures):
                rep.failures.append(problem)
        if n := js("disconnected"):
            rep.failures.append(f"after moving the widgets: {n} widget view(s) disconnected")

        # 4. The whole notebook, from the top, in pieces.
        page.set_viewport_size({"width": WIDTH, "height": SHOT_HEIGHT})
        time.sleep(0.5)
        bottom = max(0, int(js("scrollMax")))
        tops = list(range(0, bottom, SHOT_HEIGHT - 200)) + [bottom]
        for k, y in enumerate(tops):
            js("scrollTo", y)
            time.sleep(0.2)
            page.screenshot(path=str(out / f"{name}-{k + 1:02d}.png"))
        rep.failures += [f"JavaScript error in the page: {e[:300]}" for e in js_errors]
    finally:
        try:
            page.evaluate("p => { const x = window.nnlibCheck && window.nnlibCheck.panel(p);"
                          " return x && x.sessionContext.shutdown(); }", rel)
        except Exception:  # noqa: BLE001 (best effort: the server is stopped at the end)
            pass
        page.close()
    return rep


def move_controls(page, js, rel: str, cell, w: dict, rep: Report) -> list[str]:
    """Move each slider and drop-down of the widget in ``cell`` once; time each redraw."""
    failures = []
    moves = [("select", k) for k in range(w["selects"])] + \
            [("slider", k) for k in range(w["sliders"])]
    for kind, k in moves:
        before = js("imageSrc", w["index"])
        if kind == "select":
            select = cell.locator(".jupyter-widgets select").nth(k)
            current = select.input_value()
            options = select.locator("option").all_inner_texts()
            other = next((o for o in options if o != current), None)
            what = f"cell {w['index']} drop-down {k + 1}: {current} -> {other}"
            if other is None:
                continue
            start = time.monotonic()
            select.select_option(label=other)
        else:
            handle = cell.locator(".jupyter-widgets .noUi-handle").nth(k)
            what = f"cell {w['index']} slider {k + 1}: one step right"
            handle.focus()
            start = time.monotonic()
            handle.press("ArrowRight")
        changed = wait_until(page, "([p, i, b]) => window.nnlibCheck.imageSrc(p, i) !== b",
                             [rel, w["index"], before], REDRAW_TIMEOUT, poll=0.05)
        if not changed:
            failures.append(f"{what}: the figure was not redrawn within {REDRAW_TIMEOUT:.0f} s")
        else:
            rep.redraws.append((what, time.monotonic() - start))
        page.wait_for_function("p => window.nnlibCheck.status(p) === 'idle'",
                               arg=rel, timeout=REDRAW_TIMEOUT * 1000)
    return failures


REPORT_CLASS = {"alice": None, "bob": "dense_db_mean",
                "<img src=x onerror=alert(1)>": "adam_no_bias_correction"}
"""The class of the report check: folder name -> mutant of tests/grading/mutants.py (None:
the solutions). The third name is hostile: the page must show it as text."""


def check_class_report(context, out: Path, tmp: Path) -> Report:
    """Grade :data:`REPORT_CLASS` with ``--report``, then open the report in Chromium."""
    rep = Report("class report")
    sys.path.insert(0, str(ROOT))
    from tests.grading.mutants import MUTANTS, write_submission

    mutants = {m.name: m for m in MUTANTS}
    subs = tmp / "class"
    for name, mutant in REPORT_CLASS.items():
        if mutant is None:
            (subs / name).mkdir(parents=True)
            for f in (ROOT / "solutions").glob("*.py"):
                shutil.copyfile(f, subs / name / f.name)
        else:
            write_submission(mutants[mutant], subs / name)
    folder = out / "class-report"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNLIB_", "PYTEST_"))}
    proc = subprocess.run([sys.executable, "-m", "nnlib", "grade", "--submissions", str(subs),
                           "--csv", str(tmp / "class-grades.csv"), "--report", str(folder)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        rep.failures.append(f"nnlib grade --report exited with {proc.returncode}: "
                            f"{(proc.stderr or proc.stdout).strip()[-1000:]}")
        return rep
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("requestfailed", lambda r: errors.append(f"could not load {r.url}"))
    try:
        page.goto((folder / "index.html").as_uri(), wait_until="load")
        images = page.evaluate("() => Array.from(document.images, i => "
                               "({src: i.getAttribute('src'), ok: i.complete && "
                               "i.naturalWidth > 0}))")
        if len(images) < 2:
            rep.failures.append(f"the report shows {len(images)} image(s); expected the "
                                "score histogram and the pass rates at least")
        rep.failures += [f"broken image in the report: {i['src']}" for i in images
                         if not i["ok"]]
        if page.locator("script").count():
            rep.failures.append("the report holds a <script> element")
        hostile = next(n for n in REPORT_CLASS if "<" in n)
        if not page.get_by_text(hostile, exact=True).count():
            rep.failures.append(f"the student {hostile!r} is not shown as text")
        page.screenshot(path=str(out / "class-report.png"), full_page=True)
        rep.failures += [f"error in the report page: {e[:300]}" for e in errors]
    finally:
        page.close()
    return rep


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks under course/ (default: all of them)")
    parser.add_argument("--out", type=Path, default=ROOT / "browser-check",
                        help="folder for the screenshots (default: browser-check/)")
    parser.add_argument("--trusted", action="store_true",
                        help="mark the notebooks trusted first (as after a student saved them)")
    parser.add_argument("--skip-report", action="store_true",
                        help="leave out the class report's check (grading a small class)")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                        help="the Chromium executable (default: $CHROMIUM or /usr/bin/chromium)")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()  # a relative --out has no file:// URI
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print('browser_check: install the browser extra: pip install -e ".[browser]"')
        return 2
    if not Path(args.chromium).exists():
        print(f"browser_check: no Chromium at {args.chromium} (apt-get install chromium, "
              "or pass --chromium PATH)")
        return 2

    notebooks = args.notebooks or sorted((ROOT / "course").glob("*.ipynb"))
    rels = [p.resolve().relative_to(ROOT).as_posix() for p in notebooks]
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    t0 = time.monotonic()
    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="nnlib-browser-check-") as tmpdir:
        tmp = Path(tmpdir)
        repo = tmp / "repo"
        shutil.copytree(ROOT, repo, ignore=COPY_IGNORE)
        if args.trusted:
            subprocess.run([sys.executable, "-m", "jupyter", "trust",
                            *[str(repo / r) for r in rels]], env=lab_env(tmp), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port, token = free_port(), os.urandom(16).hex()
        lab = start_lab(repo, tmp, port, token)
        try:
            with sync_playwright() as p:
                context = p.chromium.launch_persistent_context(
                    str(tmp / "chromium-profile"), executable_path=args.chromium,
                    headless=True, args=CHROMIUM_FLAGS,
                    viewport={"width": WIDTH, "height": HEIGHT})
                try:
                    for rel in rels:
                        t = time.monotonic()
                        rep = check_notebook(context, f"http://127.0.0.1:{port}", token, rel,
                                             args.out)
                        rep.seconds = time.monotonic() - t
                        reports.append(rep)
                        print_report(rel, rep)
                    if not args.skip_report:
                        t = time.monotonic()
                        rep = check_class_report(context, args.out, tmp)
                        rep.seconds = time.monotonic() - t
                        reports.append(rep)
                        print(f"class report: {'ok' if not rep.failures else 'FAILED'} "
                              f"({rep.seconds:.1f} s)", flush=True)
                        for f in rep.failures:
                            print(f"    FAIL {f}")
                finally:
                    context.close()
        finally:
            stop(lab)
    failed = sum(1 for r in reports if r.failures)
    print(f"browser check took {time.monotonic() - t0:.0f} s; screenshots in {args.out}")
    print(f"browser-check: {len(reports) - failed} passed, {failed} failed")
    return 1 if failed else 0


def print_report(rel: str, rep: Report) -> None:
    status = "ok" if not rep.failures else f"{len(rep.failures)} FAILED"
    print(f"{rel}: {status} (Run All {rep.run_all:.1f} s, {rep.seconds:.1f} s in all)",
          flush=True)
    for what, seconds in rep.redraws:
        print(f"    redraw, {what}: {seconds:.2f} s")
    for f in rep.failures:
        print(f"    FAIL {f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
