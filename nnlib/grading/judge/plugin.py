"""The pytest side of grading: run the exercise tests and collect one record per test.

:class:`Collector` is a pytest plugin object. For every test it records the topic, the
function it checks, its points and visibility and, when it fails, a short curated message
(the assertion's message, or the failure of the student's code as the judge composed it:
:mod:`nnlib.grading.judge.feedback`), never a traceback or the test's source. A test counts as
passed only when pytest reports its call phase passed and nothing else about it failed;
anything else (a skip, an xfail, an error in setup or teardown) fails it.

:func:`pytest_args` builds the command line used by both ``check()`` (in process) and the
judge (:mod:`nnlib.grading.judge`): no configuration file (``-c /dev/null``; a private ini
file where there is no ``/dev/null``) instead of the project's, plain asserts, warnings as
errors, and no third-party plugins.
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import pytest

from nnlib.grading.impl import ImplementationError
from nnlib.grading.judge import calls
from nnlib.grading.judge.diagnosis import diagnose
from nnlib.grading.judge.feedback import (  # noqa: F401 - remember_paths: used by the judge
    MAX_MESSAGE,
    StudentError,
    cut,
    remember_paths,
    scrub_paths,
)
from nnlib.grading.judge.records import Failure, Status
from nnlib.grading.judge.testing import Waiting
from nnlib.grading.registry import mistake

_INI = """\
[pytest]
filterwarnings = error
"""
_ini_path: str | None = None


def _ini() -> str:
    """Path of the private pytest ini file (written once per process)."""
    global _ini_path
    if _ini_path is None or not os.path.exists(_ini_path):
        fd, name = tempfile.mkstemp(prefix="nnlib-grading-", suffix=".ini")
        with os.fdopen(fd, "w") as f:
            f.write(_INI)
        atexit.register(lambda: os.path.exists(name) and os.remove(name))
        _ini_path = name
    return _ini_path


_UNUSED_PLUGINS = ("doctest", "junitxml", "pastebin", "legacypath", "setuponly", "setupplan",
                   "logging", "tmpdir", "monkeypatch", "subtests")
"""pytest's own plugins that no grading run needs (no fixture, option or report of theirs)."""


def pytest_args(root: Path, paths: Iterable[Path], capture: str = "sys") -> list[str]:
    """Command-line arguments for a grading run of the test files ``paths``.

    Use with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` in the environment.
    """
    # no configuration file: the settings come on the command line (nothing left on disk)
    config = ["-c", os.devnull, "-o", "filterwarnings=error"] if os.name == "posix" else [
        "-c", _ini()]
    args = [
        *config, "--rootdir", str(root), "--confcutdir", str(root / "tests"),
        "-p", "no:cacheprovider", "-p", "no:stepwise",
        # built-in plugins that a grading run never uses: each costs time in every judge
        *(arg for name in _UNUSED_PLUGINS for arg in ("-p", f"no:{name}")),
        "--assert=plain", f"--capture={capture}", "-q", "--no-header", "-rN",
        "--tb=no",  # records carry curated messages; tracebacks would only cost time
    ]
    return args + [str(p) for p in paths]


def _no_traceback(excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None) -> str:
    """A failed test's report text (the record holds the curated message).

    Formatting pytest's traceback, which ``--tb=no`` never shows, took a tenth (profiled) to
    a fifth (CPU time, A/B) of a judge's time on a submission that fails most tests.
    """
    return "failed (see the record's message)"


def _short(text: str) -> str:
    return cut(scrub_paths(text), MAX_MESSAGE)


def failure_message(excinfo: pytest.ExceptionInfo[BaseException],
                    timeout: float | None = None) -> Failure:
    """How a test failed: its status, the message, and which function it waits for.

    The status is "not implemented" for a stub that raises NotImplementedError (``missing``
    names the stub), "waiting" when a function the test needs first fails its own tests
    (:class:`Waiting`; ``waiting_for`` names it), "failed" otherwise. Failures of the
    student's code arrive as :class:`StudentError` with the judge's message; assertion
    messages are the tests' curated texts. Never a traceback.
    """
    e = excinfo.value
    if isinstance(e, StudentError):
        if e.not_implemented:
            return Failure(Status.NOT_IMPLEMENTED, _short(e.message), missing=e.function)
        return Failure(Status.FAILED, _short(e.message))
    if isinstance(e, ImplementationError):
        return Failure(Status.FAILED, _short(str(e)))
    if isinstance(e, Waiting):  # the function this test needs first fails its own tests
        return Failure(Status.WAITING, _short(str(e)), waiting_for=e.function)
    if isinstance(e, AssertionError):
        return Failure(Status.FAILED, _short(str(e) or "assertion failed"))
    text = str(e)
    if type(e).__name__ == "Failed" and text.startswith("Timeout"):
        limit = f"{timeout:g} s" if timeout else "the time limit"
        return Failure(Status.FAILED, f"did not finish within {limit} (an endless loop?)")
    if isinstance(e, Warning):
        return Failure(Status.FAILED,
                       _short(f"{type(e).__name__} (warnings count as errors): {text}"))
    if isinstance(e, (pytest.skip.Exception, pytest.xfail.Exception)):
        return Failure(Status.FAILED, "the test was skipped (a skipped test earns no points)")
    return Failure(Status.FAILED, _short(f"{type(e).__name__}: {text}"))


class Collector:
    """pytest plugin: one record per test, optionally streamed as JSON lines.

    Parameters
    ----------
    functions : iterable of str, optional
        Keep only the tests marked ``@pytest.mark.checks(<one of these>)``.
    stream : file, optional
        Receives a JSON line per event: ``{"collected": [...]}``, ``{"start": nodeid}``
        and ``{"record": {...}}``, flushed at once, so that the grader knows how far a run
        got.
    timeout : float, optional
        The per-test timeout, for messages.
    skip : iterable of str, optional
        Node ids not to run (already done by an earlier, interrupted run).
    on_start, on_finish : callable, optional
        Called with no argument when a test starts and ends (the judge's time budgets).
    """

    def __init__(self, functions: Iterable[str] | None = None, stream: IO[str] | None = None,
                 timeout: float | None = None, skip: Iterable[str] = (),
                 on_start: Callable[[], None] | None = None,
                 on_finish: Callable[[], None] | None = None) -> None:
        self.functions = set(functions) if functions else None
        self.skip = set(skip)
        self.stream = stream
        self.timeout = timeout
        self.on_start = on_start
        self.on_finish = on_finish
        self.records: list[dict[str, Any]] = []
        self._info: dict[str, dict[str, Any]] = {}
        self._current: dict[str, dict[str, Any]] = {}
        self._failed: set[str] = set()
        self.collect_errors: list[str] = []

    def _emit(self, event: dict[str, Any]) -> None:
        if self.stream is not None:
            self.stream.write(json.dumps(event) + "\n")
            self.stream.flush()

    # ---------------------------------------------------------------- collection
    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        """Keep the selected tests and note each one's topic, function and points."""
        keep, drop = [], []
        for item in items:
            checks = item.get_closest_marker("checks")
            points = item.get_closest_marker("points")
            function = checks.args[0] if checks else ""
            if item.nodeid in self.skip or (self.functions is not None
                                            and function not in self.functions):
                drop.append(item)
                continue
            keep.append(item)
            item.repr_failure = _no_traceback  # type: ignore[method-assign]
            path = Path(str(item.path))
            self._info[item.nodeid] = {
                "nodeid": item.nodeid,
                "name": item.name,
                "topic": path.stem.removeprefix("test_"),
                "function": function,
                "points": float(points.args[0]) if points else 1.0,
                "declared": bool(points and checks),
                "visibility": "hidden" if path.parent.name == "hidden" else "visible",
            }
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self._emit({"collected": [self._info[item.nodeid] for item in keep]})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Remember collection errors (a test file that does not import)."""
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {report.longreprtext[-400:]}")

    # ---------------------------------------------------------------- running
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        """Open the record of a test: failed until its call phase passes."""
        self._emit({"start": nodeid})
        calls.reset()
        info = self._info.get(nodeid, {"nodeid": nodeid, "name": nodeid, "topic": "",
                                        "function": "", "points": 1.0, "declared": False,
                                        "visibility": "visible"})
        self._current[nodeid] = dict(info, status=Status.FAILED.value,
                                     message="the test did not run", missing="",
                                     waiting_for="", mistake="")
        if self.on_start is not None:
            self.on_start()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        """Turn the first failure of a test into a curated message."""
        report = yield
        record = self._current.get(item.nodeid)
        if record is None:
            return report
        if call.excinfo is not None and item.nodeid not in self._failed:
            self._failed.add(item.nodeid)
            failure = failure_message(call.excinfo, self.timeout)
            record.update(status=failure.status.value, message=failure.message,
                          missing=failure.missing, waiting_for=failure.waiting_for)
            if failure.status is Status.FAILED and call.when == "call":
                found = diagnose(record["function"])
                if found:  # the output is a catalogued mistake's, and not the right one
                    record["mistake"] = found
                    record["message"] = _short(f"{mistake(found).text()} "
                                               f"The test says: {failure.message}")
            if call.when == "teardown":
                record["message"] = "(after the test) " + failure.message
        elif call.when == "call" and report.passed and item.nodeid not in self._failed:
            record["status"], record["message"] = Status.PASSED.value, ""
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A failure or skip in any phase fails the test, whatever came before."""
        record = self._current.get(report.nodeid)
        if record is None:
            return
        if (report.failed or report.skipped) and report.nodeid not in self._failed:
            self._failed.add(report.nodeid)
            record["status"] = Status.FAILED.value
            record["message"] = ("the test was skipped (a skipped test earns no points)"
                                 if report.skipped else "failed")
        elif (report.failed or report.skipped) and record["status"] == Status.PASSED:
            record["status"] = Status.FAILED.value

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """Close the record of a test and stream it."""
        if self.on_finish is not None:
            self.on_finish()
        record = self._current.pop(nodeid, None)
        self._failed.discard(nodeid)
        if record is not None:
            self.records.append(record)
            self._emit({"record": record})
