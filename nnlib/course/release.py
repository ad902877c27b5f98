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
from nnlib.grading.registry import TOPICS

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


_STUB_RAISE = re.compile(r'^\s*raise NotImplementedError\("(\w+) is not implemented yet"\)$',
                         re.M)


def written_exercises(folder: Path, root: Path | None = None) -> dict[str, list[str]]:
    """``{file: [function, ...]}``: the exercise functions someone has written in ``folder``.

    A function counts as written when the file defines it but no longer holds its stub's
    ``raise NotImplementedError(...)`` line. A stub made from older solutions (other
    docstrings, or without an exercise added since) holds none.
    """
    out = {}
    for name, text in stubs(root).items():
        path = Path(folder) / name
        if not path.is_file():
            continue
        have = path.read_text(encoding="utf-8", errors="replace")
        defined = {m.group(2) for m in map(_DEF.match, have.splitlines()) if m}
        written = [f for f in _STUB_RAISE.findall(text)
                   if f in defined and f not in _STUB_RAISE.findall(have)]
        if written:
            out[name] = written
    return out


def write_stubs(folder: Path, root: Path | None = None, force: bool = False) -> list[str]:
    """Write the stubs into ``folder``; return the names of the files that changed.

    Raises :class:`ReleaseError`, writing nothing, when someone has written exercises there
    (:func:`written_exercises`) and ``force`` is false: their work would be lost.
    """
    written = {} if force else written_exercises(folder, root)
    if written:
        raise ReleaseError(
            "exercises/ holds written exercises ("
            + "; ".join(f"{n}: {', '.join(fs)}" for n, fs in written.items())
            + "); regenerating the stubs would overwrite them. Copy them elsewhere first, "
            "or pass --force to overwrite them.")
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in stubs(root).items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed


def stubs_status(folder: Path, root: Path | None = None) -> list[str]:
    """How ``folder`` differs from the stubs generated from the solutions (empty: it does not).

    Each entry names files: missing ones, extra ones, and ones whose text differs.
    """
    expected = stubs(root)
    actual = {p.name: p.read_text(encoding="utf-8") for p in Path(folder).glob("*.py")}
    problems = []
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differ = sorted(n for n in expected if n in actual and actual[n] != expected[n])
    for what, names in (("missing", missing), ("not generated from solutions/", extra),
                        ("different from the stub", differ)):
        if names:
            problems.append(f"{what}: {', '.join(names)}")
    return problems


def write_stub_course(dest: Path, root: Path | None = None, hidden: bool = False) -> Path:
    """Write a course folder as a student has it before writing anything; return ``dest``.

    ``dest/exercises`` holds the stubs generated from ``solutions/`` now, and
    ``dest/tests/public`` (with ``hidden``, ``dest/tests/hidden`` too) a copy of the tests;
    ``dest/course`` is an empty folder to run from, as a notebook kernel does. The project's
    own tests and the notebooks' stored outputs use such a folder instead of the
    repository's working ``exercises/``, which belongs to whoever works through the course
    in this clone. Point a process at it with ``NNLIB_ROOT=dest`` (or run it inside
    ``dest``).
    """
    root = root or find_root()
    dest = Path(dest)
    write_stubs(dest / "exercises", root)
    for kind in ("public", "hidden") if hidden else ("public",):
        folder = dest / "tests" / kind
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((root / "tests" / kind).glob("*.py")):
            shutil.copyfile(path, folder / path.name)
    (dest / "course").mkdir(exist_ok=True)
    return dest


# --------------------------------------------------------------------------- the release
RELEASE_PYTEST = """\
[tool.pytest.ini_options]
testpaths = ["tests/public"]
addopts = ["-p", "no:cacheprovider"]
timeout = 60
filterwarnings = ["error"]
"""
"""The release's pytest settings: the public tests only, and no nbval (a student's notebook
outputs differ from the stored ones as soon as an exercise is written)."""

RELEASE_EXTRAS = """\
[project.optional-dependencies]
# JupyterLab and its Python kernel, to work through the notebooks
dev = [
@@DEV@@]
"""
"""The release's extras: only what a student needs beyond ``pip install -e .``."""

STUDENT_DEV = ("jupyterlab", "ipykernel")
"""The repository's ``dev`` requirements a student needs (no linter, no nbval, no browser)."""

RELEASE_GITIGNORE = """\
__pycache__/
*.py[cod]
.ipynb_checkpoints/
.venv/
*.egg-info/
results.json
"""

COURSE_ASSETS = (".png", ".jpg", ".jpeg", ".svg", ".gif")


def _toml_blocks(text: str) -> list[tuple[str, list[str]]]:
    """``text`` cut before every table header: ``[(header name or "", lines)]``.

    Comment lines right above a header belong to that header's block (they describe it).
    """
    blocks: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines(keepends=True):
        m = re.match(r"^\[([^\]]+)\]\s*$", line)
        if m:
            name, previous = m.group(1).strip(), blocks[-1][1]
            k = len(previous)
            while k and previous[k - 1].lstrip().startswith("#"):
                k -= 1
            moved = previous[k:]
            del previous[k:]
            blocks.append((name, [*moved, line]))
        else:
            blocks[-1][1].append(line)
    return blocks


def release_pyproject(text: str) -> str:
    """The repository's pyproject.toml for the release.

    Its pytest section runs the public tests without nbval. pytest and pytest-timeout are
    already runtime dependencies of nnlib (``check()`` and ``nnlib grade`` need them), so
    ``pip install -e .`` suffices to grade; the ``dev`` extra adds only JupyterLab and its
    kernel (:data:`STUDENT_DEV`). The instructor's tool settings (ruff) and extras (the
    browser check) are left out, with the comments that describe them.
    """
    out: list[str] = []
    seen_pytest = False
    for name, lines in _toml_blocks(text):
        if name.startswith("tool.") and name != "tool.setuptools" and not name.startswith(
                ("tool.setuptools.", "tool.pytest")):
            continue
        if name == "tool.pytest.ini_options":
            lines, seen_pytest = [RELEASE_PYTEST], True
        elif name == "project.optional-dependencies":
            body = "".join(lines)
            dev = [req for req in re.findall(r'"([^"]+)"', body)
                   if re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0] in STUDENT_DEV]
            lines = [RELEASE_EXTRAS.replace("@@DEV@@", "".join(f'    "{d}",\n' for d in dev))]
        block = "".join(lines).rstrip("\n")
        if block:
            out.append(block + "\n")
    if not seen_pytest:
        out.append(RELEASE_PYTEST)
    result = "\n".join(out)
    try:
        import tomllib
    except ImportError:  # Python 3.10: no validation
        return result
    tomllib.loads(result)  # must stay valid
    return result


_PASSED = re.compile(r"\ball \d+ tests passed|(?<!of )\b1 test passed|\b[1-9]\d* of \d+ tests? "
                     r"passed")
_STUDENT_CODE = re.compile(r"\b(student_layers|student_function)\(")
_NOT_WRITTEN = ("not implemented", "write these functions first")


def _stored_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        text = out.get("text", out.get("data", {}).get("text/plain", ""))
        parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


def stored_claims(nb: dict) -> list[str]:
    """Code cells of notebook ``nb`` whose stored output claims a result of the student's.

    A check cell (one that calls ``check(``) may store only what a student sees before
    writing the exercise: no test passed. A cell that runs the student's functions
    (``student_layers(`` or ``student_function(``) may store only that they are not
    written yet, or nothing. ``scripts/run_notebooks.py`` executes the notebooks against
    stubs fresh from the solutions, which gives exactly that. Returns one description per
    offending cell (empty: none).
    """
    found = []
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    for i, cell in enumerate(code):
        source = "".join(cell.get("source", []))
        text = _stored_text(cell)
        if re.search(r"\bcheck\(", source) and _PASSED.search(text):
            found.append(f"code cell {i}: {_PASSED.search(text).group(0)}")
        elif _STUDENT_CODE.search(source) and text.strip() and not any(
                w in text for w in _NOT_WRITTEN):
            found.append(f"code cell {i}: runs the student's functions and shows their results")
    return found


def release_notebook(path: Path) -> str:
    """A course notebook for students, as committed (outputs included).

    The committed outputs were computed against the stubs (see :func:`stored_claims`), so
    they show a student what running a cell gives before the exercise is written; a
    notebook whose stored output claims a student's result is refused.
    """
    text = path.read_text(encoding="utf-8")
    claims = stored_claims(json.loads(text))
    if claims:
        raise ReleaseError(f"{path.name} stores results the student has not produced "
                           f"({'; '.join(claims)}): re-execute it with "
                           "`python scripts/run_notebooks.py`")
    return text


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
