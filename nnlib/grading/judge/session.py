"""The worker of one submission as the tests use it: load a topic, call a function.

:class:`WorkerSession` keeps one worker alive across the tests of a submission
(:class:`~nnlib.grading.judge.process.WorkerProcess`), loads exercise files into it, sends
calls (:mod:`.remote` encodes the values, :mod:`.channel` carries the bytes) and turns the
replies into values or :class:`~nnlib.grading.judge.feedback.StudentError`. It enforces every
time limit from outside: each call, each test and the whole submission (the worker is
killed and a fresh one starts for the next call). A function that once ran out of time
fails its later calls at once, with the same message.

Only the judge composes what the student reads (:mod:`nnlib.grading.judge.feedback`), and nothing
the worker sends is trusted beyond being plain data of the expected form.
"""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.grading import clock
from nnlib.grading.impl import ImplementationError, forbidden_imports
from nnlib.grading.judge import feedback, sandbox
from nnlib.grading.judge.channel import Deadline
from nnlib.grading.judge.feedback import StudentError
from nnlib.grading.judge.process import WorkerProcess, WorkerStartError
from nnlib.grading.judge.remote import StaleHandle, Values
from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import Closed, Decoder, Encoder, ProtocolError

__all__ = ["WorkerSession", "current", "set_current", "MAX_OUTPUT"]

MAX_OUTPUT = 1_000_000
"""Bytes a test's calls may print before the test fails (debug prints fine, floods not)."""
MAX_FUNCTIONS = 2000
"""Most functions of one exercise file the judge keeps."""

_current: WorkerSession | None = None


def current() -> WorkerSession | None:
    """The worker session of this judge process, or None (in-process checks and plain pytest)."""
    return _current


def set_current(session: WorkerSession | None) -> None:
    """Make ``session`` the one the ``impl`` fixture uses."""
    global _current
    _current = session


class WorkerSession:
    """The worker of one submission, seen from the judge.

    Parameters
    ----------
    box : Sandbox
        How to start workers.
    dirs : dict
        The folders the grading process laid out for this submission before starting the
        judge (:func:`nnlib.grading.judge.sandbox.prepare`); ``dirs["submission"]`` holds the
        private copy. The judge never changes them.
    shown : dict
        ``{topic: path shown to the student}`` (relative to the submission).
    refused : dict
        ``{topic: message}`` for files that were not copied (symbolic links, ...).
    timeout : float
        Seconds per call and per test.
    budget : float
        Seconds for the whole submission, from now.
    total : float, optional
        The submission's whole limit, as the student is told it (default ``budget``).
    uid : int or None
        The worker's own unprivileged uid and gid (as root), chosen by the grading process.
    """

    def __init__(self, box: sandbox.Sandbox, dirs: dict[str, str], shown: dict[str, str],
                 refused: dict[str, str] | None = None, timeout: float = 10.0,
                 budget: float = 300.0, total: float | None = None,
                 uid: int | None = None) -> None:
        self.folder = Path(dirs["submission"])
        self.shown = dict(shown)
        self.refused = dict(refused or {})
        self.timeout = float(timeout)
        self.total = round(float(total if total is not None else budget))
        self.deadline = time.monotonic() + float(budget)
        self.test_deadline = float("inf")
        limits = dict(sandbox.LIMITS, CPU=clock.Limits.cpu(self.total))
        self.process = WorkerProcess(box, dirs, uid, limits)
        self.values = Values(lambda: self.process.gen)
        self.loaded: set[str] = set()
        self.functions: dict[str, dict[str, Any]] = {}
        self.load_errors: dict[str, str] = {}
        self.timed_out: dict[tuple[str, str], str] = {}
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
                out.append("no new processes and no sockets (seccomp filter)")
        elif box.kind == "jail":
            out += [f"chroot fallback without bubblewrap ({box.reason})",
                    "no network and no new processes (seccomp filter)",
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

    def shown_name(self, topic: str) -> str:
        """The path of ``topic``'s file as the student sees it."""
        return self.shown.get(topic, f"{topic}.py")

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

    # ---------------------------------------------------------- topics
    def functions_of(self, topic: str) -> dict[str, Any]:
        """The functions (and their parameters) of ``topic``'s file; loads it if needed."""
        self.ensure_loaded(topic)
        return self.functions[topic]

    def ensure_loaded(self, topic: str) -> None:
        """Load ``topic`` into the current worker (starting one if needed).

        Raises
        ------
        ImplementationError
            The file is missing, refused, imports nnlib, or fails to import.
        """
        if topic in self.load_errors:
            raise ImplementationError(self.load_errors[topic])
        if topic in self.refused:
            raise ImplementationError(self.refused[topic])
        shown = self.shown_name(topic)
        if topic not in self.functions:
            self._check_file(topic, shown)
        if topic in self.loaded and self.process.alive:
            return
        self._ensure_worker()
        deadline = self._deadline()
        start = time.monotonic()
        try:
            reply, _ = self._request(protocol.load_request(topic, shown), [], deadline)
        except Deadline:
            self._kill()
            if deadline >= self.deadline:
                raise ImplementationError(self._overall_message()) from None
            took = time.monotonic() - start
            self.load_errors[topic] = f"importing {shown} did not finish within {took:.0f} s"
            raise ImplementationError(self.load_errors[topic]) from None
        except (Closed, OSError):
            status = self._kill(grace=True)
            self.load_errors[topic] = f"importing {shown} crashed the worker process ({status})"
            raise ImplementationError(self.load_errors[topic]) from None
        except ProtocolError as e:
            self._kill()
            raise ImplementationError(f"importing {shown}: the worker's reply could not be "
                                      f"read ({e})") from None
        if "err" in reply:
            self.load_errors[topic] = self._load_error(shown, reply["err"])
            raise ImplementationError(self.load_errors[topic])
        ok = reply.get("ok")
        listing = ok.get("functions") if isinstance(ok, dict) else None
        if not isinstance(listing, dict):
            self._kill()
            raise ImplementationError(f"importing {shown}: bad reply from the worker")
        self.functions[topic] = {k: v for k, v in list(listing.items())[:MAX_FUNCTIONS]
                                 if isinstance(k, str) and k.isidentifier()}
        self.loaded.add(topic)

    def _check_file(self, topic: str, shown: str) -> None:
        """Refuse a missing file, or one that imports nnlib or the solutions."""
        path = self.folder / f"{topic}.py"
        if not path.is_file():
            self.load_errors[topic] = f"{shown} not found in the submission"
            raise ImplementationError(self.load_errors[topic])
        problems = forbidden_imports(path)
        if problems:
            self.load_errors[topic] = (
                f"{shown} {'; '.join(problems)}: exercises must be written with numpy "
                "only, without nnlib or the solutions, so this exercise earns no points")
            raise ImplementationError(self.load_errors[topic])

    def _load_error(self, shown: str, err: Any) -> str:
        err = err if isinstance(err, dict) else {}
        kind = _name(err.get("type"))
        text = protocol.short(feedback.scrub_paths(protocol.short(err.get("msg", ""), 4000)),
                              feedback.MAX_EXCEPTION_TEXT)
        where = self._where(err.get("where"))
        if kind == "SyntaxError":
            line = f" line {where[-1][1]}" if where else ""
            return f"{shown}{line}: SyntaxError: {text}"
        at = feedback.where_text(where, "<module>")
        return feedback.cut(f"importing {shown} raised {kind}: {text}{at}")

    def _where(self, where: Any) -> list[list[Any]]:
        out = []
        names = set(self.shown.values())
        if isinstance(where, list):
            for fr in where[-5:]:
                if (isinstance(fr, list) and len(fr) == 3 and fr[0] in names
                        and type(fr[1]) is int and isinstance(fr[2], str)):
                    out.append([fr[0], fr[1], fr[2] if fr[2].isidentifier() or fr[2] in (
                        "<module>", "<lambda>", "<listcomp>") else "?"])
        return out

    # ---------------------------------------------------------- calls
    def call(self, topic: str, fn: str, sig: inspect.Signature | None, args: tuple,
             kwargs: dict[str, Any]) -> Any:
        """Call ``fn`` of ``topic`` in the worker and return its value (see the module doc)."""
        key = (topic, fn)
        if key in self.timed_out:
            raise StudentError(fn, "timeout", self.timed_out[key])
        if time.monotonic() >= self.deadline:
            raise StudentError(fn, "deadline", self._overall_message())
        self.ensure_loaded(topic)
        enc = self.values.encoder(number=True)
        try:
            header = protocol.call_request(topic, fn, enc.encode(tuple(args)),
                                           enc.encode(dict(kwargs)))
        except StaleHandle:
            raise StudentError(fn, "crash", f"{fn} was given a value made before the worker "
                               "process was restarted (after a crash or timeout in this "
                               "test); it cannot be used any more") from None
        deadline = self._deadline()
        start = time.monotonic()
        try:
            reply, bufs = self._request(header, enc.buffers, deadline)
        except Deadline:
            self._kill()
            raise self._timeout(fn, key, deadline, time.monotonic() - start) from None
        except (Closed, OSError):
            status = self._kill(grace=True)
            raise StudentError(fn, "crash", f"{fn} crashed the worker process running it "
                               f"({status}; os._exit, a segfault or running out of "
                               "memory?)") from None
        except ProtocolError as e:
            self._kill()
            raise self._unreadable(fn, e) from None
        finally:
            self.values.callbacks.clear()
        names = list(sig.parameters) if sig is not None else None
        try:
            if "err" in reply:
                raise self._student_error(fn, reply["err"],
                                          feedback.named_arguments(names, args, kwargs))
            value = self._value(fn, reply, bufs, enc)
        except ProtocolError as e:
            self._kill()
            raise self._unreadable(fn, e) from None
        printed = self.process.channel.printed if self.process.channel is not None else 0
        if printed > MAX_OUTPUT:
            raise StudentError(fn, "output", f"{fn} printed {printed / 1e6:.1f} MB of "
                               f"output; remove the prints (limit {MAX_OUTPUT / 1e6:g} MB)")
        return value

    def _timeout(self, fn: str, key: tuple[str, str], deadline: float,
                 took: float) -> StudentError:
        if deadline >= self.deadline:
            return StudentError(fn, "deadline", self._overall_message())
        if took >= self.timeout / 2:  # one call took (most of) the test's time
            message = f"{fn} did not finish within {self.timeout:g} s (an endless loop?)"
            self.timed_out[key] = message
        else:
            message = (f"{fn}: the test did not finish within {self.timeout:g} s "
                       f"({fn} is too slow)")
        return StudentError(fn, "timeout", message)

    @staticmethod
    def _unreadable(fn: str, e: ProtocolError) -> StudentError:
        return StudentError(fn, "protocol", f"{fn}: the worker's reply could not be read "
                            f"({e}); the grader restarted it")

    def _student_error(self, fn: str, err: Any, named: dict[str, Any]) -> StudentError:
        """What the student reads for an exception in their function."""
        err = err if isinstance(err, dict) else {}
        kind = _name(err.get("type"))
        text = feedback.scrub_paths(protocol.short(err.get("msg", ""), 4000))
        if err.get("unsendable"):
            return StudentError(fn, "unsendable", feedback.cut(
                f"{fn} returned a value the grader cannot receive ({kind}: "
                f"{protocol.short(text, 200)})"))
        if kind == "WorkerError":
            return StudentError(fn, "protocol", feedback.cut(f"{fn} could not be called: "
                                                             f"{text}"))
        code = err.get("code") if isinstance(err.get("code"), str) else None
        message = feedback.exception_message(fn, kind, text, self._where(err.get("where")),
                                             named, code)
        return StudentError(fn, "exit" if kind == "SystemExit" else "exception", message, kind)

    def _value(self, fn: str, reply: dict[str, Any], bufs: list[bytearray],
               enc: Encoder) -> Any:
        """The value of a successful call, with its in-place changes applied to the arguments."""
        if "ok" not in reply:
            raise ProtocolError("reply without a value")
        dec = self.values.decoder(bufs, originals=enc.objects)
        mutations = reply.get("mut") or []
        rngs = reply.get("rng") or []
        if not isinstance(mutations, list) or not isinstance(rngs, list):
            raise ProtocolError("bad reply")
        _apply_changes(fn, mutations, enc, dec)
        _apply_generators(rngs, enc, dec)
        return dec.decode(reply["ok"])

    def global_state(self) -> tuple[Any, ...]:
        """A fingerprint of the worker's numpy global random state (starts a worker if needed)."""
        self._ensure_worker()
        deadline = self._deadline()
        try:
            reply, _ = self._request(protocol.state_request(), [], deadline)
            state = reply.get("ok")
            if not (isinstance(state, list) and len(state) == 5
                    and all(type(s) in (str, int, float) for s in state)):
                raise ProtocolError("bad random state")
        except (Deadline, Closed, OSError, ProtocolError):
            status = self._kill()
            raise StudentError("", "crash", f"the worker did not report its random state "
                               f"({status})") from None
        return (self.process.gen, *state)


# ------------------------------------------------------------------ helpers
def _name(v: Any) -> str:
    return v if isinstance(v, str) and v.isidentifier() and len(v) <= 60 else "Exception"


def _apply_changes(fn: str, mutations: list, enc: Encoder, dec: Decoder) -> None:
    """Apply what the worker reports its call changed in place to the arguments sent."""
    later = []
    for item in mutations:
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is int
                and item[0] in enc.objects and isinstance(item[1], dict)):
            raise ProtocolError("bad change report")
        target, node = enc.objects[item[0]], item[1]
        if isinstance(target, np.ndarray) and "$a" in node:
            new = dec.decode(node)
            if new.shape != target.shape or new.dtype != target.dtype:
                raise StudentError(fn, "exception", f"{fn} changed the shape or dtype of "
                                   f"an argument array in place ({target.shape} "
                                   f"{target.dtype} -> {new.shape} {new.dtype})")
            if not target.flags.writeable:
                raise StudentError(fn, "exception", f"{fn} modified a read-only "
                                   "argument array in place")
            np.copyto(target, new)
        else:
            later.append((target, node))
    for target, node in later:
        if isinstance(target, list) and "$l" in node:
            target[:] = dec.decode({"$t": node["$l"]})
        elif isinstance(target, dict) and "$d" in node:
            new = dec.decode(node)
            target.clear()
            target.update(new)
        else:
            raise ProtocolError("bad change report")


def _apply_generators(rngs: list, enc: Encoder, dec: Decoder) -> None:
    """Advance the tests' generators as the worker's copies advanced."""
    for item in rngs:
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is int
                and isinstance(enc.objects.get(item[0]), np.random.Generator)):
            raise ProtocolError("bad generator report")
        state = dec.decode(item[1])
        gen = enc.objects[item[0]]
        try:
            gen.bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ProtocolError(f"bad generator state ({type(e).__name__})") from None
