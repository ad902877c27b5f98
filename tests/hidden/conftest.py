"""Hidden exercise tests (instructors only); implementation from ``NNLIB_IMPL``."""

from nnlib.grading.judge.testing import impl, pytest_configure  # noqa: F401
