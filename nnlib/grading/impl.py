"""Locate the course root and load an exercise implementation by file path.

The implementation under test is chosen by the environment variable ``NNLIB_IMPL``:
``exercises`` (the default: the student's files), ``solutions`` (the reference, in the
instructor repository only) or the path of a folder holding the exercise files (one
student's submission). Each topic file is compiled from its source and executed afresh
on every load, so an edited file is always picked up, and nothing is cached on disk.
"""

from __future__ import annotations

import ast
import os
import sys
import types
from pathlib import Path

__all__ = [
    "ImplementationError",
    "course_root_of",
    "find_root",
    "impl_dir",
    "display_path",
    "forbidden_imports",
    "load_topic",
]

FORBIDDEN_MODULES = ("nnlib", "solutions")
"""Top-level modules an exercise file may not import: it must implement the math itself."""


class ImplementationError(Exception):
    """An exercise file cannot be used (missing, syntax error, forbidden import)."""


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
    raise ImplementationError(
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

    Returns an empty list for a clean file. A file that does not parse returns an empty
    list too: loading it reports the syntax error.
    """
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
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
