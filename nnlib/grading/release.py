"""Exercise stubs from the solutions, and the student release of the course.

The reference solutions in ``solutions/`` are the single source of truth. Each function
body to be written by students sits between a line ``# BEGIN SOLUTION`` and a line
``# END SOLUTION`` (comment lines, indented like the code). :func:`make_stub` replaces
such a region inside a function by ``raise NotImplementedError(...)`` and drops a
region at module level; the rest of the file (docstrings, signatures) is kept
verbatim. ``python -m nnlib release --stubs-only`` rewrites ``exercises/`` that way,
and :func:`build_release` writes the whole student release from an explicit allowlist.
"""

from __future__ import annotations

import json
import re
import shutil
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


# --------------------------------------------------------------------------- the release
RELEASE_PYTEST = """\
[tool.pytest.ini_options]
testpaths = ["tests/public"]
addopts = ["-p", "no:cacheprovider"]
timeout = 60
filterwarnings = ["error"]
"""
"""The release's pytest settings: the public tests only, and no nbval (the notebooks'
stored outputs come from the reference solutions, so they cannot match the stubs)."""

RELEASE_GITIGNORE = """\
__pycache__/
*.py[cod]
.ipynb_checkpoints/
.venv/
*.egg-info/
results.json
"""

COURSE_ASSETS = (".png", ".jpg", ".jpeg", ".svg", ".gif")


def release_pyproject(text: str) -> str:
    """The repository's pyproject.toml for the release.

    Its pytest section runs the public tests without nbval. pytest and pytest-timeout are
    already runtime dependencies of nnlib (``check()`` and ``nnlib grade`` need them), so
    ``pip install -e .`` suffices to grade.
    """
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines)
                     if line.strip() == "[tool.pytest.ini_options]")
    except StopIteration:
        out = text.rstrip("\n") + "\n\n" + RELEASE_PYTEST
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")),
                   len(lines))
        rest = "".join(lines[end:])
        out = "".join(lines[:start]) + RELEASE_PYTEST + ("\n" + rest if rest else "")
    try:
        import tomllib
    except ImportError:  # Python 3.10: no validation
        return out
    tomllib.loads(out)  # must stay valid
    return out


def release_notebook(path: Path) -> str:
    """A course notebook for students: check cells without the solutions' results.

    The stored outputs come from running against the reference solutions; a check cell's
    "all tests passed" would tell a student something false about their own stubs, so
    those cells are released unexecuted. Every other output stays, for reading.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "code" and re.search(r"\bcheck\(", source):
            cell["outputs"] = []
            cell["execution_count"] = None
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def release_files(root: Path | None = None) -> dict[str, Path | str]:
    """The allowlist: ``{relative path in the release: source file or generated text}``."""
    root = root or find_root()
    files: dict[str, Path | str] = {}
    course = root / "course"
    for path in sorted(course.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or ".ipynb_checkpoints" in rel.parts:
            continue
        if path.suffix == ".ipynb" and path.parent == course:
            files[rel.as_posix()] = release_notebook(path)
        elif path.name == "nbval_sanitize.cfg" or path.suffix.lower() in COURSE_ASSETS:
            files[rel.as_posix()] = path
    for path in sorted((root / "nnlib").rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and (
                path.suffix == ".py" or (rel.parts[1] == "data" and path.suffix == ".h5")):
            files[rel.as_posix()] = path
    for name, text in stubs(root).items():
        files[f"exercises/{name}"] = text
    for path in sorted((root / "tests" / "public").glob("*.py")):
        files[path.relative_to(root).as_posix()] = path
    files["pyproject.toml"] = release_pyproject((root / "pyproject.toml").read_text("utf-8"))
    readme = root / "docs" / "student_README.md"
    if not readme.is_file():
        raise ReleaseError("docs/student_README.md is missing")
    files["README.md"] = readme
    files[".gitignore"] = RELEASE_GITIGNORE
    return files


def build_release(outdir: Path, force: bool = False, root: Path | None = None) -> list[str]:
    """Write the student release into ``outdir``; return the relative paths written.

    Refuses to write into a non-empty folder unless ``force`` (which replaces it), and
    never into the repository itself or a folder containing it.
    """
    root = (root or find_root()).resolve()
    outdir = Path(outdir).resolve()
    if outdir == root or outdir in root.parents:
        raise ReleaseError(f"refusing to write the release into {outdir}: it holds the "
                           "instructor repository")
    if outdir.exists() and any(outdir.iterdir()):
        if not force:
            raise ReleaseError(f"{outdir} exists and is not empty (use --force to replace it)")
        shutil.rmtree(outdir)
    files = release_files(root)
    for rel, src in files.items():
        dest = outdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, Path):
            shutil.copyfile(src, dest)
        else:
            dest.write_text(src, encoding="utf-8")
    leaks = [rel for rel in files if rel.endswith(".py") and any(
        line.strip() in (BEGIN, END)
        for line in (outdir / rel).read_text(encoding="utf-8").splitlines())]
    if leaks:
        raise ReleaseError(f"solution markers found in the release: {', '.join(leaks)}")
    return sorted(files)
