"""One worker at a time for a submission: starting, restarting, deadlines and requests.

:class:`WorkerLink` keeps one worker alive across the tests of a submission
(:class:`~nnlib.grading.judge.process.WorkerProcess`), starts a fresh one after a crash or
a timeout, and sends requests with the deadline that applies: each call, each test and the
whole submission, whichever ends first. While a call runs it serves the worker's callbacks
(:mod:`.remote`). It also says which protections are in force.
:class:`~nnlib.grading.judge.session.WorkerSession` builds on it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from nnlib.grading import clock
from nnlib.grading.impl import ImplementationError
from nnlib.grading.judge import sandbox
from nnlib.grading.judge.process import WorkerProcess, WorkerStartError
from nnlib.grading.judge.remote import Values
from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import Closed, ProtocolError


class WorkerLink:
    """The worker of one submission, its deadlines and its requests.

    Parameters
    ----------
    box : Sandbox
        How to start workers.
    dirs : dict
        The folders the grading process laid out for this submission
        (:func:`nnlib.grading.judge.sandbox.prepare`).
    timeout : float
        Seconds per call and per test.
    budget : float
        Seconds for the whole submission, from now.
    total : float, optional
        The submission's whole limit, as the student is told it (default ``budget``).
    uid : int or None
        The worker's own unprivileged uid and gid (as root), chosen by the grading process.
    """

    def __init__(self, box: sandbox.Sandbox, dirs: dict[str, str], timeout: float = 10.0,
                 budget: float = 300.0, total: float | None = None,
                 uid: int | None = None) -> None:
        self.timeout = float(timeout)
        self.total = round(float(total if total is not None else budget))
        self.deadline = time.monotonic() + float(budget)
        self.test_deadline = float("inf")
        limits = dict(sandbox.LIMITS, CPU=clock.Limits.cpu(self.total))
        self.process = WorkerProcess(box, dirs, uid, limits)
        self.values = Values(lambda: self.process.gen)
        self.loaded: set[str] = set()
        self._gen = 0
        self._next_id = 1

    @property
    def box(self) -> sandbox.Sandbox:
        """How workers are started."""
        return self.process.box

    @property
    def starts(self) -> int:
        """Workers started so far."""
        return self.process.starts

    # ---------------------------------------------------------- what the grader reports
    def protections(self) -> list[str]:
        """Human-readable list of the protections in force."""
        box, uid = self.process.box, self.process.uid
        out = ["separate worker process (student code never runs in the judge)"]
        if box.kind == "bwrap":
            version = f" {box.version}" if box.version else ""
            out += [f"bubblewrap sandbox (bwrap{version})", "no network",
                    "own pid namespace and private /tmp",
                    "only Python, numpy and the submission visible, read-only"]
            if self.process.seccomp is not None:
                out.append("no new processes, no sockets and no shared memory (seccomp filter)")
        elif box.kind == "jail":
            out += [f"chroot fallback without bubblewrap ({box.reason})",
                    "no network, no new processes and no shared memory (seccomp filter)",
                    "only Python, numpy and the submission visible, read-only; "
                    "nothing writable"]
        else:
            out.append(f"NOT ISOLATED ({box.reason}): the worker runs as the grader's "
                       "user and can read and change what that user can, and use the network")
        out.append(f"unprivileged uid {uid}" if uid is not None
                   else f"runs as the grader's user (uid {os.geteuid()})")
        out.append(self._limits_text())
        out.append("clean environment, python -I -S")
        out.append(f"timeouts {self.timeout:g} s per test, {self.total:g} s per submission "
                   "(the worker is killed)")
        return out

    def _limits_text(self) -> str:
        lim: dict[str, Any] = dict(self.process.limits)
        seen = (self.process.hello or {}).get("limits")
        if isinstance(seen, dict):  # what the worker reported in force
            lim = {k: seen.get(k) if type(seen.get(k)) is int else None for k in lim}
        parts = []
        for key, unit, shift in (("AS", "GiB", 30), ("CPU", "s", 0), ("NPROC", "", 0),
                                 ("FSIZE", "MiB", 20)):
            value = lim.get(key)
            parts.append(f"{key} {value >> shift} {unit}".rstrip() if value is not None
                         else f"{key} unlimited")
        return "rlimits: " + ", ".join(parts)

    # ---------------------------------------------------------- tests and the worker
    def begin_test(self) -> None:
        """A test starts: its time budget and its output count start now."""
        self.test_deadline = time.monotonic() + self.timeout
        if self.process.channel is not None:
            self.process.channel.printed = 0

    def end_test(self) -> None:
        """A test ended."""
        self.test_deadline = float("inf")
        self.values.callbacks.clear()

    def prestart(self) -> None:
        """Start a worker now without waiting for it (it boots while pytest collects)."""
        self.process.prestart()

    def start(self) -> None:
        """Start a worker (unless one is booting) and wait for its hello."""
        now = time.monotonic()
        self.process.start(min(now + clock.START, max(self.deadline, now + 1)))
        self._sync()

    def close(self) -> None:
        """Stop the worker for good (at the end of grading)."""
        self.process.close()

    def _kill(self, grace: bool = False) -> str:
        status = self.process.kill(grace)
        self._sync()
        return status

    def _sync(self) -> None:
        """Forget what the worker of an earlier generation held."""
        if self._gen != self.process.gen:
            self._gen = self.process.gen
            self.loaded.clear()
            self.values.forget()

    def _ensure_worker(self) -> None:
        if self.process.alive:
            return
        if time.monotonic() >= self.deadline:
            raise ImplementationError(self._overall_message())
        try:
            self.start()
        except WorkerStartError as e:
            raise ImplementationError(f"the worker process could not start: {e}") from None

    def _deadline(self) -> float:
        return min(time.monotonic() + self.timeout, self.test_deadline, self.deadline)

    def _overall_message(self) -> str:
        return (f"grading stopped: the submission used up its overall time limit of "
                f"{self.total:g} s")

    def _request(self, header: dict[str, Any], buffers: list[Any], deadline: float
                 ) -> tuple[dict[str, Any], list[bytearray]]:
        """Send a request; serve the callbacks of a call; return the reply."""
        channel = self.process.channel
        if channel is None:
            raise Closed("no worker")
        rid = self._next_id
        self._next_id += 1
        header["id"] = rid
        releases = self.values.take_releases()
        if releases:
            header["rel"] = releases
        channel.send(header, buffers, deadline)
        while True:  # the clock is checked on every message, however fast they come
            reply, bufs = channel.read(deadline)
            if protocol.reply_to(reply) == rid:
                channel.drain()
                return reply, bufs
            if (protocol.kind(reply) == protocol.CALLBACK
                    and protocol.kind(header) == protocol.CALL):
                answer, answer_bufs = self.values.answer_callback(reply, bufs)
                channel.send(answer, answer_bufs, deadline)
                continue
            raise ProtocolError("unexpected message")
