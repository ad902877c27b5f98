"""The pytest side of grading: run the exercise tests and collect one record per test.

:class:`Collector` is a pytest plugin object. For every test it records the topic, the
function it checks, its points and visibility, and, when it fails, a short curated
message (the assertion's message, or the exception and where it was raised in the
student's file), never a traceback of the test's source. :func:`pytest_args` builds
the command line used by both ``check()`` (in process) and the grader (in a subprocess):
a private ini file instead of the project's configuration, plain asserts, per-test
timeouts, and no third-party plugins besides pytest-timeout.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pytest

from nnlib.grading.impl import ImplementationError, display_path, impl_dir
from nnlib.grading.testing import Waiting

DEFAULT_TIMEOUT = 10.0
MAX_MESSAGE = 600
MAX_OUTPUT = 1_000_000
"""Characters a test may print before it fails (debugging prints are fine, floods are not)."""

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


def pytest_args(root: Path, paths: Iterable[Path], timeout: float = DEFAULT_TIMEOUT,
                capture: str = "sys") -> list[str]:
    """Command-line arguments for a grading run of the test files ``paths``.

    Use with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` in the environment.
    """
    args = [
        "-c", _ini(), "--rootdir", str(root), "--confcutdir", str(root / "tests"),
        "-p", "no:cacheprovider", "-p", "no:stepwise",
        "--assert=plain", f"--capture={capture}", "-q", "--no-header", "-rN",
    ]
    if importlib.util.find_spec("pytest_timeout") is not None:
        args += ["-p", "pytest_timeout", f"--timeout={timeout:g}"]
    return args + [str(p) for p in paths]


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def failure_message(excinfo: pytest.ExceptionInfo[BaseException], folder: Path,
                    timeout: float | None) -> tuple[str, str]:
    """Return ``(status, message)`` for a failed test.

    ``status`` is "not implemented" for a stub that raises NotImplementedError, "waiting"
    when a function the test needs first fails its own tests (:class:`Waiting`), "failed"
    otherwise. The message names the student's file and line for errors raised there;
    it never quotes the test's source.
    """
    e = excinfo.value
    where = ""
    function = ""
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path))
        if path.parent.resolve() == folder.resolve():
            function = entry.name
            where = f" (raised in {display_path(path)}, line {entry.lineno + 1}, in {function})"
            break
    if isinstance(e, NotImplementedError) and where:
        return "not implemented", f"{function} is not implemented yet"
    if isinstance(e, ImplementationError):
        return "failed", _short(str(e))
    if isinstance(e, Waiting):  # the function this test needs first fails its own tests
        return "waiting", _short(str(e))
    if isinstance(e, AssertionError):
        return "failed", _short(str(e) or "assertion failed")
    text = str(e)
    if type(e).__name__ == "Failed" and text.startswith("Timeout"):
        limit = f"{timeout:g} s" if timeout else "the time limit"
        return "failed", f"did not finish within {limit} (an endless loop?){where}"
    if isinstance(e, SystemExit):
        return "failed", f"called sys.exit({e.code!r}): exercise code must return, not exit{where}"
    if isinstance(e, Warning):
        return "failed", _short(f"{type(e).__name__} (warnings count as errors): {text}{where}")
    return "failed", _short(f"{type(e).__name__}: {text}{where}")


class Collector:
    """pytest plugin: one record per test, optionally streamed as JSON lines.

    Parameters
    ----------
    functions : iterable of str, optional
        Keep only the tests marked ``@pytest.mark.checks(<one of these>)``.
    stream : file, optional
        Receives a JSON line per event: ``{"collected": [...]}``, ``{"start": nodeid}``
        and ``{"record": {...}}``, flushed at once, so that a parent process knows how
        far a crashed run got.
    timeout : float, optional
        The per-test timeout, for messages.
    skip : iterable of str, optional
        Node ids not to run (already done by an earlier, crashed run).
    """

    def __init__(self, functions: Iterable[str] | None = None, stream: IO[str] | None = None,
                 timeout: float | None = None, skip: Iterable[str] = ()) -> None:
        self.functions = set(functions) if functions else None
        self.skip = set(skip)
        self.stream = stream
        self.timeout = timeout
        self.records: list[dict[str, Any]] = []
        self._info: dict[str, dict[str, Any]] = {}
        self._current: dict[str, dict[str, Any]] = {}
        self.collect_errors: list[str] = []
        try:
            self.folder = impl_dir()
        except ImplementationError:
            self.folder = Path(os.environ.get("NNLIB_IMPL", "exercises"))

    def _emit(self, event: dict[str, Any]) -> None:
        if self.stream is not None:
            self.stream.write(json.dumps(event) + "\n")
            self.stream.flush()

    # ---------------------------------------------------------------- collection
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
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
    def pytest_runtest_logstart(self, nodeid: str, location: tuple) -> None:
        """Open the record of a test."""
        self._emit({"start": nodeid})
        info = self._info.get(nodeid, {"nodeid": nodeid, "name": nodeid, "topic": "",
                                        "function": "", "points": 1.0,
                                        "visibility": "visible"})
        self._current[nodeid] = dict(info, status="passed", message="")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        """Turn the first failure of a test into a curated message."""
        report = yield
        record = self._current.get(item.nodeid)
        if record is not None and record["status"] == "passed" and call.excinfo is not None:
            if report.failed or call.excinfo.errisinstance((SystemExit,)):
                status, message = failure_message(call.excinfo, self.folder, self.timeout)
                record["status"], record["message"] = status, message
                if call.when == "teardown":
                    record["message"] = "(after the test) " + message
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Catch failures that carried no exception information, and output floods."""
        record = self._current.get(report.nodeid)
        if record is not None and report.when == "call":
            printed = len(report.capstdout) + len(report.capstderr)
            if printed > MAX_OUTPUT and record["status"] == "passed":
                record["status"] = "failed"
                record["message"] = (f"{record['function']} printed {printed / 1e6:.1f} MB of "
                                     f"output; remove the prints (limit {MAX_OUTPUT / 1e6:g} MB)")
        if record is not None and report.failed and record["status"] == "passed":
            record["status"], record["message"] = "failed", "failed"
        if record is not None and report.skipped and report.when == "setup":
            record["status"], record["message"] = "failed", "skipped"

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple) -> None:
        """Close the record of a test and stream it."""
        record = self._current.pop(nodeid, None)
        if record is not None:
            self.records.append(record)
            self._emit({"record": record})
