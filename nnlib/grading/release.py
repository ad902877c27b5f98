"""Exercise stubs from the solutions, and the student release of the course.

The reference solutions in ``solutions/`` are the single source of truth. Each function
body to be written by students sits between two marker lines::

    # BEGIN SOLUTION
    ...reference code...
    # END SOLUTION

:func:`make_stub` replaces such a region inside a function by ``raise
NotImplementedError(...)`` and drops a region at module level; the rest of the file
(docstrings, signatures) is kept verbatim. ``python -m nnlib release --stubs-only``
rewrites ``exercises/`` that way, and :func:`build_release` writes the whole student
release from an explicit allowlist.
"""

from __future__ import annotations

import re
from pathlib import Path

from nnlib.grading.impl import find_root
from nnlib.grading.topics import TOPICS

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
_DEF = re.compile(r"^(\s*)def\s+(\w+)\s*\(")


class ReleaseError(Exception):
    """The solutions or the release cannot be built as asked."""


def make_stub(source: str, filename: str = "<solution>") -> str:
    """Return ``source`` with every solution region replaced (see the module docstring)."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == END:
            raise ReleaseError(f"{filename}:{i + 1}: {END} without {BEGIN}")
        if line.strip() != BEGIN:
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        j = i + 1
        while j < len(lines) and lines[j].strip() != END:
            if lines[j].strip() == BEGIN:
                raise ReleaseError(f"{filename}:{j + 1}: nested {BEGIN}")
            j += 1
        if j == len(lines):
            raise ReleaseError(f"{filename}:{i + 1}: {BEGIN} without {END}")
        if indent:
            name = _enclosing_function(lines, i, len(indent))
            if name is None:
                raise ReleaseError(f"{filename}:{i + 1}: indented region outside a function")
            out.append(f'{indent}raise NotImplementedError("{name} is not implemented yet")\n')
        i = j + 1
    return "".join(out)


def _enclosing_function(lines: list[str], at: int, indent: int) -> str | None:
    for k in range(at - 1, -1, -1):
        m = _DEF.match(lines[k])
        if m and len(m.group(1)) < indent:
            return m.group(2)
    return None


def solution_files(root: Path | None = None) -> dict[str, Path]:
    """``{topic: solutions/<topic>.py}`` for every topic; raise if one is missing."""
    root = root or find_root()
    folder = root / "solutions"
    if not folder.is_dir():
        raise ReleaseError("no solutions/ folder here: stubs and releases are built from the "
                           "instructor repository")
    files = {t: folder / f"{t}.py" for t in TOPICS}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise ReleaseError(f"solutions/ lacks {', '.join(missing)}")
    return files


def stubs(root: Path | None = None) -> dict[str, str]:
    """``{file name: stub source}`` generated from the solutions."""
    return {p.name: make_stub(p.read_text(encoding="utf-8"), p.name)
            for p in solution_files(root).values()}


def write_stubs(folder: Path, root: Path | None = None) -> list[str]:
    """Write the stubs into ``folder``; return the names of the files that changed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in stubs(root).items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed
