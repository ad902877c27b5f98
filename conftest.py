"""Repository-wide pytest setup.

``exercises/`` belongs to whoever works through the course in this clone, so nothing the
project checks depends on it:

- the exercise tests run against ``exercises/`` (or what ``NNLIB_IMPL`` names): that is
  ``pytest tests/public``, a student's command. README's ``pytest`` does not collect
  ``tests/public`` and ``tests/hidden`` (see ``testpaths`` in pyproject.toml); the grader's
  tests run every one of them against the reference solutions and the stubs instead.
- the project's own tests use ``stub_course``: a course folder whose ``exercises/`` is
  generated from ``solutions/`` afresh (:func:`nnlib.course.release.write_stub_course`).
- the notebooks' kernels (nbval) run in the student release, built fresh once per test
  process (:func:`nnlib.course.release.build_release`): its stubs, its tests and its copy
  of ``nnlib``, as ``scripts/run_notebooks.py`` runs them on fresh stubs. Their stored
  outputs are what a student sees before writing any exercise, and the one execution of
  each notebook shows both that the notebook holds its outputs and that it runs in the
  release (tests/grading/test_release_notebooks.py checks the rest of that claim).

The notebook kernels and grading subprocesses inherit the environment set here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("PYTHONHASHSEED", "0")
# One BLAS thread per process: the notebook kernels and grading subprocesses run side by
# side on small machines, where oversubscribed BLAS threads slow them down many times over.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent
_RELEASE: list[Path] = []


def notebook_env() -> dict[str, str]:
    """The environment of a notebook kernel: the student release, built fresh for this process.

    ``PYTHONPATH`` is the release's folder alone, so the kernel imports the release's own
    copy of ``nnlib`` (as a student's ``pip install -e .`` there would); ``NNLIB_ROOT`` and
    ``NNLIB_IMPL`` name the release and its stub ``exercises/``, because nbval starts the
    kernel in this repository's ``course/``.
    """
    from nnlib.course.release import build_release

    if not _RELEASE:
        tmp = Path(tempfile.mkdtemp(prefix="nnlib-notebook-release-"))
        atexit.register(shutil.rmtree, tmp, True)
        build_release(tmp / "course-release", root=ROOT)
        _RELEASE.append(tmp / "course-release")
    dest = _RELEASE[0]
    return {"NNLIB_ROOT": str(dest), "NNLIB_IMPL": str(dest / "exercises"),
            "PYTHONPATH": str(dest)}


LONGEST_FIRST = (
    "tests/grading/test_hostile.py",
    "course/12_batchnorm_experiments.ipynb",
    "tests/experiments/test_experiments.py",
    "tests/grading/test_grader.py",
    "course/06_optimizers.ipynb",
    "course/05_training.ipynb",
)
"""The test modules and notebooks that take longest, started first.

With ``--dist loadscope`` (and ``--no-loadscope-reorder``, see pyproject.toml) each module
or notebook runs whole on one xdist worker, in the order collected; a long one started
last would keep one worker busy while the other has nothing left to do."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the items of :data:`LONGEST_FIRST` first (a stable sort: each keeps its order)."""
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.partition("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """Start each notebook's kernel (nbval, in its first cell's setup) in a fresh release."""
    if type(item).__name__ != "IPyNbCell":
        yield
        return
    env = notebook_env()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def stub_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder as a student gets it, with tests/hidden added.

    Its exercises/ are the stubs generated from solutions/ now, never this clone's
    working exercises/.
    """
    from nnlib.course.release import write_stub_course

    return write_stub_course(tmp_path_factory.mktemp("stub-course") / "course", ROOT,
                             hidden=True)
