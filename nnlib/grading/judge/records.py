"""What one test's record says, typed: its status, and which function it waits for.

A record is plain data (it travels as JSON from the judge to the grading process):
``nodeid``, ``name``, ``topic``, ``function``, ``points``, ``visibility``, ``status`` (a
:class:`Status` value), ``message`` (for the student), ``missing`` (the function that is
still a stub, or ``""``), ``waiting_for`` (the function this test needs first, which
fails its own tests, or ``""``) and ``mistake`` (the id of the catalogued mistake that the
student's output shows, :data:`nnlib.grading.registry.MISTAKES`, or ``""``). Readers use
these fields, never the message's wording.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

__all__ = ["Status", "Failure", "STATUS_ORDER"]


class Status(str, Enum):
    """A test's outcome; the value is what records and results carry."""

    PASSED = "passed"
    FAILED = "failed"
    WAITING = "waiting"
    """A function the test needs first fails its own tests: no points, no blame."""
    NOT_IMPLEMENTED = "not implemented"
    """The function (or one the test needs first) is still the stub."""

    def __str__(self) -> str:
        return self.value


STATUS_ORDER = tuple(s.value for s in Status)
"""Every status, in the order a summary lists them."""


class Failure(NamedTuple):
    """How a test failed: what its record gets."""

    status: Status
    message: str
    missing: str = ""
    waiting_for: str = ""
    mistake: str = ""
