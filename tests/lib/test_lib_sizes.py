"""No module of ``nnlib`` grows past about 400 lines, and no class past about 250.

A file or class that long is doing several jobs; split it along its seams (a package
that re-exports its parts keeps every import path working). The limits below leave a
little room over the targets, so that a small fix does not force a split.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nnlib

MAX_FILE_LINES = 420
MAX_CLASS_LINES = 260
NNLIB = Path(nnlib.__file__).resolve().parent


def oversized(root: Path) -> list[str]:
    """Every ``.py`` file under ``root`` longer than MAX_FILE_LINES, and every class (its
    ``class`` line to its last line) longer than MAX_CLASS_LINES, one line each."""
    out = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root).as_posix()
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES:
            out.append(f"{name}: {lines} lines (at most {MAX_FILE_LINES})")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    out.append(f"{name}: class {node.name} has {size} lines "
                               f"(at most {MAX_CLASS_LINES})")
    return out


def test_no_file_or_class_of_nnlib_is_too_long():
    assert len(list(NNLIB.rglob("*.py"))) > 50  # the scan sees the whole package
    found = oversized(NNLIB)
    assert not found, "split these along their seams:\n" + "\n".join(found)


def test_the_size_check_can_fail(tmp_path):
    """A file one line over the limit and a class one line over it are both reported;
    a file and a class exactly at their limits are not."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * (MAX_FILE_LINES + 1))
    (tmp_path / "pkg" / "edge.py").write_text("x = 1\n" * MAX_FILE_LINES)
    body = "    x = 1\n"
    (tmp_path / "big.py").write_text("class Big:\n" + body * MAX_CLASS_LINES)
    (tmp_path / "fits.py").write_text("class Fits:\n" + body * (MAX_CLASS_LINES - 1))
    found = oversized(tmp_path)
    assert found == [
        f"big.py: class Big has {MAX_CLASS_LINES + 1} lines (at most {MAX_CLASS_LINES})",
        f"pkg/long.py: {MAX_FILE_LINES + 1} lines (at most {MAX_FILE_LINES})",
    ]
