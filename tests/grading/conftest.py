"""Fixtures for the grader's own tests."""

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def clean_env(**extra):
    """The environment for a grading subprocess, without this session's NNLIB_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNLIB_", "PYTEST_"))}
    env.update(extra)
    return env


def run(args, cwd=ROOT, env=None, timeout=600):
    """Run ``python args...``; return the completed process (text output)."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def make_submission(dest: Path, overlay: Path | None = None, suffix: str = ".py") -> Path:
    """A submission folder: the reference solutions with the files of ``overlay`` on top."""
    dest.mkdir(parents=True)
    for f in (ROOT / "solutions").glob("*.py"):
        shutil.copyfile(f, dest / f.name)
    if overlay is not None:
        for f in overlay.glob(f"*{suffix}"):
            name = f.name.removesuffix(suffix).removesuffix(".py") + ".py"
            shutil.copyfile(f, dest / name)
    return dest


@pytest.fixture(scope="session")
def solutions_grade():
    from nnlib.grading.grader.grade import grade

    return grade("solutions", hidden=True)


@contextlib.contextmanager
def course_root(folder: Path):
    """Let ``find_root()`` in this process return ``folder`` for a while."""
    saved = os.environ.get("NNLIB_ROOT")
    os.environ["NNLIB_ROOT"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("NNLIB_ROOT", None)
        else:
            os.environ["NNLIB_ROOT"] = saved


@pytest.fixture(scope="session")
def stubs_grade(stub_course):
    """The stubs generated from solutions/ graded as `python -m nnlib grade --hidden` would
    grade exercises/ before a student writes anything."""
    from nnlib.grading.grader.grade import grade

    with course_root(stub_course):
        return grade("exercises", hidden=True)


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """The student release, built once per test process: ``(folder, files)``."""
    from nnlib.course.release import build_release

    out = tmp_path_factory.mktemp("release") / "course-release"
    files = build_release(out)
    return out, files
