"""The in-process self-check that notebooks' check cells call: ``check(topic, *functions)``.

It runs the public tests of one exercise topic in the notebook's own process, against the
implementation chosen by ``NNLIB_IMPL`` (``exercises`` by default), and prints a short
summary. It is a self-check, not the grader: a student can only fool themselves with it.
The grader (:mod:`nnlib.grading.grader`) never imports this package.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import textwrap
from pathlib import Path

from nnlib.grading.registry import TOPICS

__all__ = ["check", "CheckResult"]


class CheckResult:
    """What :func:`check` returns: true when every selected test passed.

    In a notebook it displays nothing (the summary is already printed), so a check cell
    shows the summary and no stray ``True`` / ``False`` below it.
    """

    __slots__ = ("passed",)

    def __init__(self, passed: bool) -> None:
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bool, CheckResult)):
            return self.passed == bool(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Show nothing in IPython: the summary was printed by :func:`check`."""


WIDTH = 88
"""Lines of check()'s summary are wrapped at this width, between words: JupyterLab breaks
a longer output line anywhere, even inside a number ("got 0.39" then "3548")."""


def _tests(n: int) -> str:
    return f"{n} test" if n == 1 else f"{n} tests"


def _wrapped(text: str, indent: str, first: str | None = None) -> list[str]:
    """``text`` in lines of at most :data:`WIDTH` characters, broken only between words.

    ``first`` replaces ``indent`` on the first line. A single word longer than the line
    (a long path) stays whole rather than being cut.
    """
    first = indent if first is None else first
    return textwrap.wrap(" ".join(text.split()), width=max(WIDTH, len(first) + 20),
                         initial_indent=first, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def _head(topic: str, functions: tuple[str, ...] = ()) -> str:
    """``check('dense', 'dense_forward')``: the call as it was written."""
    return f"check({', '.join(repr(a) for a in (topic, *functions))})"


def _summarize(topic: str, records: list[dict], shown_file: str,
               functions: tuple[str, ...] = ()) -> tuple[bool, list[str]]:
    lines = []
    head = _head(topic, functions)
    passed = sum(r["status"] == "passed" for r in records)
    ok = bool(records) and passed == len(records)
    if ok:
        done = "1 test passed" if len(records) == 1 else f"all {len(records)} tests passed"
        lines.append(f"{head}: {done}.")
        return True, lines
    lines.append(f"{head}: {passed} of {_tests(len(records))} passed.")
    messages = {r["message"] for r in records}
    if passed == 0 and len(messages) == 1 and records[0]["status"] not in ("not implemented",
                                                                          "waiting"):
        lines += _wrapped(messages.pop(), "    ", "  ")  # one problem with the whole file
        return False, lines
    order = {f: i for i, f in enumerate(TOPICS[topic])}
    functions = sorted({r["function"] for r in records}, key=lambda f: order.get(f, 99))
    width = max(len(f) for f in functions)
    pad = " " * (width + 6)  # continuation lines start under the text of the first
    for function in functions:
        mine = [r for r in records if r["function"] == function]
        failed = [r for r in mine if r["status"] != "passed"]
        if not failed:
            lines.append(f"  {function:<{width}}  ok ({_tests(len(mine))})")
        elif all(r["status"] == "not implemented" for r in failed) and len(failed) == len(mine):
            missing = sorted({r.get("missing") or function for r in failed} - {function})
            if missing:
                lines += _wrapped(f"waiting for {', '.join(missing)} (not implemented yet)",
                                  pad, f"  {function:<{width}}  ")
            else:
                lines += _wrapped(f"not implemented yet: write its body in {shown_file}",
                                  pad, f"  {function:<{width}}  ")
        elif all(r["status"] in ("waiting", "not implemented") for r in failed):
            # judged on the cache of a forward that fails its own tests
            needs = sorted({r.get("waiting_for") or function for r in failed
                            if r["status"] == "waiting"} - {function})
            part = "" if len(failed) == len(mine) else f" ({len(failed)} of {_tests(len(mine))})"
            lines += _wrapped(f"waiting for {', '.join(needs)}, which fails its tests: fix it "
                              f"first{part}", pad, f"  {function:<{width}}  ")
        else:
            first = min(failed, key=lambda r: r["status"] == "waiting")
            lines += _wrapped(f"FAILED {len(failed)} of {_tests(len(mine))}; first: "
                              f"{first['name']}", pad, f"  {function:<{width}}  ")
            lines += _wrapped(first["message"], pad + "  ", pad)
    return False, lines


def _checked_note(path: Path, here: Path | None) -> str:
    """Which file was checked, when it is not the obvious one, else "".

    The obvious file is ``exercises/<topic>.py`` (or ``solutions/<topic>.py``, the
    instructors' copy) of the course folder that the notebook runs in, ``here``, or a
    file of the folder named explicitly by ``NNLIB_IMPL``. Anything else (no course
    folder around the notebook, or ``NNLIB_ROOT`` naming another copy) is printed.
    """
    path = path.resolve()
    if here is not None and path.parent in (here / "exercises", here / "solutions"):
        return ""
    if os.environ.get("NNLIB_IMPL", "exercises") not in ("", "exercises", "solutions"):
        return ""
    try:
        shown = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        shown = str(path)
    return f"checking {shown}"


def _run_check(topic: str, functions: tuple[str, ...]) -> bool:
    try:
        import pytest
    except ImportError:
        print(f"{_head(topic, functions)} needs pytest: run `pip install pytest pytest-timeout` "
              "(or `pip install -e \".[dev]\"` in the course folder) and restart the kernel.")
        return False

    from nnlib.grading import clock
    from nnlib.grading.impl import course_root_of, display_path, find_root, impl_dir, local_checks
    from nnlib.grading.judge.plugin import Collector, pytest_args

    if topic not in TOPICS:
        print(f"check: unknown topic {topic!r}; the topics are: {', '.join(TOPICS)}")
        return False
    unknown = [f for f in functions if f not in TOPICS[topic]]
    if unknown:
        print(f"{_head(topic, functions)}: unknown function(s) {', '.join(map(repr, unknown))}; "
              f"{topic} has: {', '.join(TOPICS[topic])}")
        return False
    root = find_root()
    test_file = root / "tests" / "public" / f"test_{topic}.py"
    checked = impl_dir() / f"{topic}.py"
    shown_file = display_path(checked)
    # an endless loop is stopped by SIGALRM, once per function; without SIGALRM (Windows)
    # the kernel's interrupt button it is
    timeout = clock.DEFAULT_TIMEOUT if hasattr(signal, "SIGALRM") else 0.0
    collector = Collector(functions=functions or None, timeout=timeout)
    args = pytest_args(root, [test_file])
    sink = io.StringIO()
    # a private configuration: no third-party plugins, no options from the environment
    overrides = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": None,
                 "PYTEST_PLUGINS": None}
    saved_env = {k: os.environ.get(k) for k in overrides}
    saved_path = list(sys.path)
    for key, value in overrides.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                local_checks(timeout or None):
            code = pytest.main(args, plugins=[collector])
    finally:
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if code == pytest.ExitCode.INTERRUPTED:
        print(f"{_head(topic, functions)}: interrupted.")
        return False
    if collector.collect_errors or (not collector.records and code not in (0, 1)):
        print(f"{_head(topic, functions)}: the tests could not run (pytest exit code {int(code)}).")
        for err in collector.collect_errors[:1]:
            print(err)
        return False
    ok, lines = _summarize(topic, collector.records, shown_file, functions)
    note = _checked_note(checked, course_root_of(Path.cwd()))
    if note:
        lines.insert(0, f"{_head(topic, functions)}: {note}")
    sys.stdout.write("\n".join(lines) + "\n")  # one write: one stored output in a notebook
    sys.stdout.flush()
    return ok


def check(topic: str, *functions: str) -> CheckResult:
    """Run the public tests of one exercise topic and print a short summary.

    Parameters
    ----------
    topic : str
        One of :data:`TOPICS`, e.g. ``"dense"`` for ``exercises/dense.py``.
    *functions : str
        Restrict to the tests of these functions, e.g. ``check("dense", "dense_forward")``.

    Returns
    -------
    CheckResult
        Truthy when every selected test passed. Never raises: problems are printed.

    Notes
    -----
    The implementation tested is chosen by the environment variable ``NNLIB_IMPL``:
    ``exercises`` (default), ``solutions`` or a folder path. The file is re-read on every
    call, so edit it and simply run the check cell again.
    """
    try:
        return CheckResult(_run_check(topic, functions))
    except (Exception, SystemExit) as e:  # never raise into a notebook
        print(f"{_head(topic, functions)} could not run: {type(e).__name__}: {e}")
        return CheckResult(False)
