"""Every time limit of checking and grading, in one place, and how each follows from another.

One number is chosen by the user: the per-test limit (``--timeout``, default
:data:`DEFAULT_TIMEOUT`), which is also the limit of one call of a student function. The
others follow from it (:class:`Limits`):

| limit | value | enforced by |
|---|---|---|
| one call, one test | ``per_test`` | the judge (kills the worker) |
| one submission | ``30 x per_test``, at least 60 s | the judge, then the grading process |
| the worker's CPU time | the submission's limit + 10 s | the kernel (``RLIMIT_CPU``) |
| a worker's start (hello) | 30 s, within the submission's limit | the judge |
| a judge that stops reporting | ``3 x per_test + 60`` s without an event | the grading process |
| a judge past the submission's limit | the limit + 30 s | the grading process |
| judges per submission | 20 at most | the grading process |
| collecting the tests (no student code) | 300 s | the grading process |
| the probe of bubblewrap | 30 s | the grading process |
| a template judge's answer (a fork) | 30 s | the grading process |

All deadlines are ``time.monotonic()`` values (:func:`deadline`, :func:`left`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["DEFAULT_TIMEOUT", "Limits", "deadline", "left", "START", "PROBE", "COLLECT",
           "JUDGES", "TEMPLATE"]

DEFAULT_TIMEOUT = 10.0
"""Seconds per test and per call of a student function, unless asked otherwise."""
START = 30.0
"""Seconds a worker may take to start and say hello."""
PROBE = 30.0
"""Seconds the probe's worker may take to say hello (bubblewrap's test run)."""
COLLECT = 300.0
"""Seconds the judge may take to collect the tests (no student code runs then)."""
JUDGES = 20
"""Judges one submission may use: each one that stops costs the test it was running."""
TEMPLATE = 30.0
"""Seconds a template judge may take to fork a judge (it is then spawned instead), or to
end once its grading process no longer needs it."""


@dataclass(frozen=True)
class Limits:
    """The limits that follow from one per-test limit (see the module docstring)."""

    per_test: float = DEFAULT_TIMEOUT

    @property
    def submission(self) -> float:
        """Seconds for one whole submission."""
        return max(60.0, 30 * self.per_test)

    @property
    def stall(self) -> float:
        """Seconds a judge may go without reporting anything before it is killed."""
        return 3 * self.per_test + 60

    @staticmethod
    def judge_grace() -> float:
        """Seconds a judge may run past the submission's limit (to report and end)."""
        return 30.0

    @staticmethod
    def cpu(total: float) -> int:
        """The worker's CPU-time limit (``RLIMIT_CPU``) for a submission limit ``total``."""
        return int(total) + 10


def deadline(seconds: float) -> float:
    """The monotonic time ``seconds`` from now."""
    return time.monotonic() + seconds


def left(until: float) -> float:
    """Seconds left until the monotonic time ``until`` (negative once it passed)."""
    return until - time.monotonic()
