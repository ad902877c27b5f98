"""Locate the course root and load an exercise implementation by file path.

The implementation under test is chosen by the environment variable ``NNLIB_IMPL``:
``exercises`` (the default: the student's files), ``solutions`` (the reference, in the
instructor repository only) or the path of a folder holding the exercise files (one
student's submission). Each topic file is compiled from its source and executed afresh
on every load, so an edited file is always picked up, and nothing is cached on disk.
"""

from __future__ import annotations

import ast
import inspect
import os
import signal
import sys
import threading
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "ImplementationError",
    "GradingSetupError",
    "course_root_of",
    "find_root",
    "impl_dir",
    "display_path",
    "forbidden_imports",
    "load_topic",
    "LocalImpl",
    "local_checks",
]

FORBIDDEN_MODULES = ("nnlib", "solutions")
"""Top-level modules an exercise file may not import: it must implement the math itself."""


class ImplementationError(Exception):
    """An exercise file cannot be used (missing, syntax error, forbidden import)."""


class GradingSetupError(ImplementationError):
    """Grading cannot run here, whatever the exercise files hold.

    An output that cannot be written, a required sandbox that cannot start, a missing
    course, submissions or tests folder. A subclass of :class:`ImplementationError` so
    that everything that catches that (``nnlib grade`` answers both with its usage exit
    status, 2) keeps working; catch this one to tell the two apart.
    """


def course_root_of(start: Path) -> Path | None:
    """The nearest folder holding ``tests/public`` at or above ``start``, or None."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "tests" / "public").is_dir():
            return folder
    return None


def find_root() -> Path:
    """Return the folder holding ``tests/public`` (the repository or the student release).

    The environment variable ``NNLIB_ROOT`` wins when set; otherwise the folder is searched
    from the current working directory upwards (a notebook kernel runs in ``course/``),
    then from the installed ``nnlib`` package upwards. The working directory comes first
    so that a second copy of the course checks its own files even when ``nnlib`` was
    installed from another copy.
    """
    if os.environ.get("NNLIB_ROOT"):
        return Path(os.environ["NNLIB_ROOT"]).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parents[2]):
        root = course_root_of(start)
        if root is not None:
            return root
    raise GradingSetupError(
        "cannot find the course folder (the one holding tests/public); run from inside it"
    )


def impl_dir(spec: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder of the implementation ``spec`` (default: env ``NNLIB_IMPL``)."""
    spec = os.fspath(spec) if spec is not None else os.environ.get("NNLIB_IMPL") or "exercises"
    if spec in ("exercises", "solutions"):
        return find_root() / spec
    return Path(spec).expanduser().resolve()


def display_path(path: Path) -> str:
    """``path`` relative to the course root when inside it, else ``<folder>/<file>``."""
    try:
        return path.resolve().relative_to(find_root()).as_posix()
    except (ValueError, ImplementationError):
        return f"{path.parent.name}/{path.name}"


def _module_names(node: ast.AST) -> list[tuple[str, int]]:
    """Modules imported by one AST node, with their line numbers."""
    found: list[tuple[str, int]] = []
    if isinstance(node, ast.Import):
        found += [(alias.name, node.lineno) for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        found.append((node.module, node.lineno))
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("__import__", "import_module") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, node.lineno))
    return found


def forbidden_imports(path: Path) -> list[str]:
    """Describe every import of ``nnlib`` or ``solutions`` in the file (static AST check).

    Returns an empty list for a clean file. The file is parsed from its bytes, so a coding
    cookie (``# -*- coding: latin-1 -*-``) is honoured exactly as when it is loaded. A file
    that does not parse returns an empty list too: loading it reports the syntax error.
    """
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return []
    problems = []
    for node in ast.walk(tree):
        for module, line in _module_names(node):
            if module.split(".")[0] in FORBIDDEN_MODULES:
                problems.append(f"line {line} imports {module}")
    return sorted(set(problems), key=lambda s: int(s.split()[1]))


def load_topic(topic: str, impl: str | os.PathLike[str] | None = None) -> types.ModuleType:
    """Load ``<impl folder>/<topic>.py`` as a fresh module and return it.

    Raises
    ------
    ImplementationError
        The file is missing, does not compile, or imports ``nnlib``/``solutions``.
    """
    folder = impl_dir(impl)
    path = folder / f"{topic}.py"
    shown = display_path(path)
    if not path.is_file():
        raise ImplementationError(f"{shown} not found (implementation folder: {folder.name}/)")
    problems = forbidden_imports(path)
    if problems:
        raise ImplementationError(
            f"{shown} {'; '.join(problems)}: exercises must be written with numpy only, "
            "without nnlib or the solutions, so this exercise earns no points"
        )
    source = path.read_text(encoding="utf-8")
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise ImplementationError(f"{shown} line {e.lineno}: SyntaxError: {e.msg}") from None
    name = f"nnlib_impl_{topic}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # for dataclasses and pickling; replaced on every load
    exec(code, module.__dict__)
    return module


# ------------------------------------------------------------------ in-process checks
_local: dict[str, Any] = {"active": False, "timeout": None}


class local_checks:  # noqa: N801 - used as a context manager, like a function
    """While active, the ``impl`` fixture wraps the module in a :class:`LocalImpl`.

    ``check()`` uses it: student exceptions become curated messages, and a call that runs
    longer than ``timeout`` seconds is stopped with SIGALRM (where there is one); the
    function's later calls then fail at once with the same message.
    """

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout

    def __enter__(self) -> local_checks:
        self._saved = dict(_local)
        _local.update(active=True, timeout=self.timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        _local.update(self._saved)


def local_impl(topic: str) -> Any:
    """The implementation of ``topic`` for an in-process test run (``check()`` or pytest)."""
    module = load_topic(topic)
    if not _local["active"]:
        return module
    return LocalImpl(module, topic, _local["timeout"])


class _Alarm(BaseException):
    """Raised by SIGALRM inside a student function that ran out of time."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Alarm


class LocalImpl:
    """A freshly loaded student module whose functions fail with curated messages."""

    def __init__(self, module: types.ModuleType, topic: str, timeout: float | None) -> None:
        self._module = module
        self._topic = topic
        self._timeout = timeout
        self._path = str(module.__file__)
        self._shown = display_path(Path(self._path))
        self._timed_out: dict[str, str] = {}
        self._wrapped: dict[str, LocalFunction] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            value = getattr(self._module, name)
        except AttributeError:
            raise AttributeError(f"{self._shown} has no function {name}") from None
        if not callable(value):
            return value
        if name not in self._wrapped:
            self._wrapped[name] = LocalFunction(self, name, value)
        return self._wrapped[name]


class LocalFunction:
    """One student function called in process, as :class:`LocalImpl` describes."""

    def __init__(self, owner: LocalImpl, name: str, fn: Callable[..., Any]) -> None:
        self._owner = owner
        self._fn = fn
        self.__name__ = self.__qualname__ = name
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from nnlib.grading.judge.feedback import (
            StudentError,
            exception_message,
            named_arguments,
        )

        owner, name = self._owner, self.__name__
        if name in owner._timed_out:
            raise StudentError(name, "timeout", owner._timed_out[name])
        timeout = owner._timeout
        use_alarm = bool(timeout) and hasattr(signal, "setitimer") and (
            threading.current_thread() is threading.main_thread())
        old = signal.signal(signal.SIGALRM, _on_alarm) if use_alarm else None
        try:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            return self._fn(*args, **kwargs)
        except _Alarm:
            message = f"{name} did not finish within {timeout:g} s (an endless loop?)"
            owner._timed_out[name] = message
            raise StudentError(name, "timeout", message) from None
        except (KeyboardInterrupt, StudentError):
            raise
        except BaseException as e:  # noqa: BLE001 - whatever the student's code raised
            where = [[owner._shown, fr.lineno or 0, fr.name]
                     for fr in traceback.extract_tb(e.__traceback__)
                     if fr.filename == owner._path]
            try:
                params = list(inspect.signature(self._fn).parameters)
            except (TypeError, ValueError):
                params = None
            text = e.msg if isinstance(e, SyntaxError) else str(e)
            code = repr(e.code) if isinstance(e, SystemExit) else None
            message = exception_message(name, type(e).__name__, text, where,
                                        named_arguments(params, args, kwargs), code)
            raise StudentError(name, "exit" if isinstance(e, SystemExit) else "exception",
                               message, type(e).__name__) from e
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
