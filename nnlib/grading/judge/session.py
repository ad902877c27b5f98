"""The worker of one submission as the tests use it: load a topic, call a function.

:class:`WorkerSession` keeps one worker alive across the tests of a submission
(:class:`~nnlib.grading.judge.link.WorkerLink`: starting, restarting, deadlines, requests),
loads exercise files into it, sends calls (:mod:`.remote` encodes the values, :mod:`.channel`
carries the bytes) and turns the replies into values or
:class:`~nnlib.grading.judge.feedback.StudentError` (:mod:`.replies`). It enforces every
time limit from outside: each call, each test and the whole submission (the worker is
killed and a fresh one starts for the next call). A function that once ran out of time
fails its later calls at once, with the same message.

Only the judge composes what the student reads (:mod:`nnlib.grading.judge.feedback`), and nothing
the worker sends is trusted beyond being plain data of the expected form.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

from nnlib.grading.impl import ImplementationError, forbidden_imports
from nnlib.grading.judge import feedback, replies, sandbox
from nnlib.grading.judge.channel import Deadline
from nnlib.grading.judge.feedback import StudentError
from nnlib.grading.judge.link import WorkerLink
from nnlib.grading.judge.remote import StaleHandle
from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import Closed, Encoder, ProtocolError

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


class WorkerSession(WorkerLink):
    """The worker of one submission, seen from the judge.

    Starting, restarting and deadlines are :class:`~nnlib.grading.judge.link.WorkerLink`'s;
    this class loads the exercise files and calls their functions.

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
    timeout, budget, total, uid
        The time limits and the worker's uid, as for
        :class:`~nnlib.grading.judge.link.WorkerLink`.
    """

    def __init__(self, box: sandbox.Sandbox, dirs: dict[str, str], shown: dict[str, str],
                 refused: dict[str, str] | None = None, timeout: float = 10.0,
                 budget: float = 300.0, total: float | None = None,
                 uid: int | None = None) -> None:
        super().__init__(box, dirs, timeout=timeout, budget=budget, total=total, uid=uid)
        self.folder = Path(dirs["submission"])
        self.shown = dict(shown)
        self.refused = dict(refused or {})
        self.functions: dict[str, dict[str, Any]] = {}
        self.load_errors: dict[str, str] = {}
        self.timed_out: dict[tuple[str, str], str] = {}

    def shown_name(self, topic: str) -> str:
        """The path of ``topic``'s file as the student sees it."""
        return self.shown.get(topic, f"{topic}.py")

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
            self.load_errors[topic] = replies.load_error(shown, reply["err"], self.shown.values())
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
        self.values.limit_callbacks(args, kwargs)
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
            raise replies.unreadable(fn, e) from None
        finally:
            self.values.callbacks.clear()
        names = list(sig.parameters) if sig is not None else None
        try:
            if "err" in reply:
                raise replies.student_error(fn, reply["err"],
                                            feedback.named_arguments(names, args, kwargs),
                                            self.shown.values())
            value = self._value(fn, reply, bufs, enc)
        except ProtocolError as e:
            self._kill()
            raise replies.unreadable(fn, e) from None
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
        replies.apply_changes(fn, mutations, enc, dec)
        replies.apply_generators(rngs, enc, dec)
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
