"""The judge's side of remote calls: the tests call student functions in a separate worker.

While grading, the ``impl`` fixture returns a :class:`RemoteImpl`: its attributes are
:class:`RemoteFunction` objects that send the call to the worker (:mod:`.worker`) and
return the worker's answer as plain data (:mod:`.protocol`), so the tests read exactly as
they do in process::

    z, cache = impl.dense_forward(X, W, B)        # z: ndarray; cache: plain data or a handle
    dx, dW, db = call(impl.dense_backward, dz, cache)

:class:`WorkerSession` owns the worker of one submission: it starts it (in the sandbox),
keeps it alive across tests, and kills it (its whole process group, namespace or uid) after
a timeout, a crash or a reply it cannot read, starting a fresh one for the next call. It
enforces every time limit from outside: each call, each test and the whole submission. A
function that once ran out of time fails its later calls at once, with the same message.

Only the judge composes what the student reads (:mod:`.feedback`), and nothing the worker
sends is trusted beyond being plain data of the expected form.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import inspect
import os
import select
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from nnlib.grading import feedback, jail, protocol, sandbox
from nnlib.grading.feedback import StudentError
from nnlib.grading.impl import ImplementationError, forbidden_imports
from nnlib.grading.protocol import Closed, Decoder, Encoder, ProtocolError

__all__ = ["WorkerSession", "RemoteImpl", "RemoteFunction", "Handle", "current",
           "set_current", "WorkerStartError"]

MAX_OUTPUT = 1_000_000
"""Bytes a test's calls may print before the test fails (debug prints fine, floods not)."""
MAX_HANDLES = 10_000
"""Most opaque values (handles) the judge accepts in one reply."""
START_TIMEOUT = 30.0
"""Seconds a worker may take to start and say hello."""

_current: WorkerSession | None = None


def current() -> WorkerSession | None:
    """The worker session of this judge process, or None (in-process checks and plain pytest)."""
    return _current


def set_current(session: WorkerSession | None) -> None:
    """Make ``session`` the one the ``impl`` fixture uses."""
    global _current
    _current = session


class WorkerStartError(Exception):
    """A worker did not start (or did not say hello in time)."""


class _Deadline(Exception):
    pass


class _StaleHandle(Exception):
    pass


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36


def harden_judge() -> None:
    """Keep processes of the same user away from this one (no ptrace, no /proc/PID/fd)."""
    _prctl(PR_SET_DUMPABLE, 0)


# ------------------------------------------------------------------ handles
class Handle:
    """A value the worker keeps (not plain data, e.g. a cache object); opaque to the judge.

    Its class is named after the worker's type (a ``Cache`` handle is ``type(h).__name__ ==
    "Cache"``), so that messages read as they would in process. It can be passed back to a
    later call of the same worker, nothing else.
    """

    __slots__ = ("_hid", "_gen", "__weakref__")

    def __init__(self, hid: int, gen: int) -> None:
        self._hid = hid
        self._gen = gen

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object kept by the worker>"


_handle_types: dict[str, type] = {}
MAX_HANDLE_TYPES = 64
"""Distinct handle class names the judge makes; later names all share the class ``object``
(the judge's memory stays bounded whatever names the worker reports)."""


def _handle_class(name: Any) -> type:
    name = name if isinstance(name, str) and name.isidentifier() and len(name) <= 60 else "object"
    if name not in _handle_types and len(_handle_types) >= MAX_HANDLE_TYPES - 1:
        name = "object"
    if name not in _handle_types:
        _handle_types[name] = type(name, (Handle,), {"__slots__": ()})
    return _handle_types[name]


class _Default:
    """A parameter default as the worker printed it (for signatures)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _signature(params: Any) -> inspect.Signature | None:
    if not isinstance(params, list):
        return None
    try:
        out = []
        for p in params:
            name, kind, default = p
            if not (isinstance(name, str) and name.isidentifier() and type(kind) is int):
                return None
            d = inspect.Parameter.empty if default is None else _Default(str(default)[:100])
            out.append(inspect.Parameter(name, inspect._ParameterKind(kind), default=d))
        return inspect.Signature(out)
    except (ValueError, TypeError):
        return None


class RemoteFunction:
    """A student function that runs in the worker; call it like the function itself."""

    def __init__(self, session: WorkerSession, topic: str, name: str, params: Any) -> None:
        self._session = session
        self._topic = topic
        self.__name__ = self.__qualname__ = name
        self._sig = _signature(params)

    @property
    def __signature__(self) -> inspect.Signature:
        """The parameters the worker reported (ValueError when it reported none)."""
        if self._sig is None:
            raise ValueError(f"no signature for {self.__name__}")
        return self._sig

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function in the worker; see :meth:`WorkerSession.call`."""
        return self._session.call(self._topic, self.__name__, self._sig, args, kwargs)

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"


class RemoteImpl:
    """The student's module for one topic; attributes are :class:`RemoteFunction` objects."""

    def __init__(self, session: WorkerSession, topic: str) -> None:
        self._session = session
        self._topic = topic
        self._functions: dict[str, RemoteFunction] = {}

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._functions:
            listing = self._session.functions_of(self._topic)
            if name not in listing:
                raise AttributeError(
                    f"{self._session.shown_name(self._topic)} has no function {name}")
            self._functions[name] = RemoteFunction(self._session, self._topic, name,
                                                   listing[name])
        return self._functions[name]

    def __repr__(self) -> str:
        return f"<student module {self._session.shown_name(self._topic)} (remote)>"


# ------------------------------------------------------------------ the session
class WorkerSession:
    """The worker of one submission, seen from the judge.

    Parameters
    ----------
    box : Sandbox
        How to start workers.
    dirs : dict
        The folders the grading process laid out for this submission before starting the
        judge (:func:`nnlib.grading.sandbox.prepare`); ``dirs["submission"]`` holds the
        private copy. The judge never changes them.
    shown : dict
        ``{topic: path shown to the student}`` (relative to the submission).
    refused : dict
        ``{topic: message}`` for files that were not copied (symbolic links, ...).
    timeout : float
        Seconds per call and per test.
    budget : float
        Seconds for the whole submission, from now.
    uid : int or None
        The worker's own unprivileged uid and gid (as root), chosen by the grading process.
    """

    def __init__(self, box: sandbox.Sandbox, dirs: dict[str, str], shown: dict[str, str],
                 refused: dict[str, str] | None = None, timeout: float = 10.0,
                 budget: float = 300.0, total: float | None = None,
                 uid: int | None = None) -> None:
        self.box = box
        self.dirs = dict(dirs)
        self.folder = Path(self.dirs["submission"])
        self.shown = dict(shown)
        self.refused = dict(refused or {})
        self.timeout = float(timeout)
        self.budget = float(budget)
        self.total = round(float(total if total is not None else budget))
        self.deadline = time.monotonic() + self.budget
        self.uid = uid
        self.limits = dict(sandbox.LIMITS, CPU=int(self.total) + 10)
        # bubblewrap and the chroot fallback load the same filter (where libseccomp is)
        self.seccomp = (jail.seccomp_filter() if box.kind == "jail"
                        or (box.kind == "bwrap" and jail.has_seccomp()) else None)
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.out: int | None = None
        self.gen = 0
        self.starts = 0
        self.hello: dict[str, Any] | None = None
        self.loaded: set[str] = set()
        self.functions: dict[str, dict[str, Any]] = {}
        self.load_errors: dict[str, str] = {}
        self.timed_out: dict[tuple[str, str], str] = {}
        self.callbacks: dict[int, Any] = {}
        self._next_callback = 1
        self.releases: list[int] = []
        self.test_deadline = float("inf")
        self.printed = 0
        self.startup_output = bytearray()
        self._next_id = 1
        self._booting = False
        self._reader: protocol.Reader | None = None
        self._read_deadline = float("inf")
        if self.uid is None and box.kind == "none":
            # orphans of the worker become our children, so that we can end them
            _prctl(PR_SET_CHILD_SUBREAPER, 1)

    # ---------------------------------------------------------- what the grader reports
    def protections(self) -> list[str]:
        """Human-readable list of the protections in force."""
        out = ["separate worker process (student code never runs in the judge)"]
        if self.box.kind == "bwrap":
            version = f" {self.box.version}" if self.box.version else ""
            out += [f"bubblewrap sandbox (bwrap{version})", "no network",
                    "own pid namespace and private /tmp",
                    "only Python, numpy and the submission visible, read-only"]
            if self.seccomp is not None:
                out.append("no new processes and no sockets (seccomp filter)")
        elif self.box.kind == "jail":
            out += [f"chroot fallback without bubblewrap ({self.box.reason})",
                    "no network and no new processes (seccomp filter)",
                    "only Python, numpy and the submission visible, read-only; "
                    "nothing writable"]
        else:
            out.append(f"NOT ISOLATED ({self.box.reason}): the worker runs as the grader's "
                       "user and can read and change what that user can, and use the network")
        if self.uid is not None:
            out.append(f"unprivileged uid {self.uid}")
        else:
            out.append(f"runs as the grader's user (uid {os.geteuid()})")
        out.append(self._limits_text())
        out.append("clean environment, python -I -S")
        out.append(f"timeouts {self.timeout:g} s per test, {self.total:g} s per submission "
                   "(the worker is killed)")
        return out

    def _limits_text(self) -> str:
        lim = dict(self.limits)
        seen = (self.hello or {}).get("limits")
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

    # ---------------------------------------------------------- tests
    def begin_test(self) -> None:
        """A test starts: its time budget and its output count start now."""
        self.test_deadline = time.monotonic() + self.timeout
        self.printed = 0

    def end_test(self) -> None:
        """A test ended."""
        self.test_deadline = float("inf")
        self.callbacks.clear()

    # ---------------------------------------------------------- process
    def _spawn(self) -> None:
        parent, child = socket.socketpair()
        rfd, wfd = os.pipe()
        argv, env, cwd = sandbox.worker_command(self.box, self.dirs, child.fileno(), self.uid,
                                                self.limits)
        fds = [child.fileno()]
        if self.box.kind == "jail":
            preexec = functools.partial(_enter_jail, self.dirs["jail"], self.dirs["inside"],
                                        self.uid, self.seccomp)
        elif self.box.kind == "bwrap":
            preexec = None
            if self.seccomp is not None:  # bwrap loads the same filter before the worker
                fds.append(jail.bpf_fd(self.seccomp))
                argv[1:1] = ["--seccomp", str(fds[-1])]
        else:
            preexec = _die_with_parent
        try:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=wfd, stderr=wfd, pass_fds=fds,
                                         start_new_session=True, preexec_fn=preexec)
        except OSError as e:
            parent.close()
            raise WorkerStartError(f"cannot run {argv[0]}: {e}") from None
        finally:
            child.close()
            os.close(wfd)
            for fd in fds[1:]:
                os.close(fd)
        parent.setblocking(False)
        os.set_blocking(rfd, False)
        self.sock, self.out = parent, rfd
        self._reader = protocol.Reader(self._recv)

    def prestart(self) -> None:
        """Start a worker now without waiting for it (it boots while pytest collects)."""
        if self.proc is None:
            self._kill()
            self.startup_output.clear()
            self._spawn()
            self.starts += 1
            self._booting = True

    def start(self) -> None:
        """Start a worker (unless one is booting) and wait for its hello."""
        if not self._booting:
            self._kill()
            self.startup_output.clear()
            self._spawn()
            self.starts += 1
        self._booting = False
        deadline = min(time.monotonic() + START_TIMEOUT, max(self.deadline, time.monotonic() + 1))
        try:
            header, _ = protocol.read_message(lambda n: self._read_exact(n, deadline))
            hello = header.get("hello")
            if not isinstance(hello, dict):
                raise ProtocolError("no hello")
        except (_Deadline, ProtocolError, OSError) as e:
            said = bytes(self.startup_output[-600:]).decode("utf-8", "replace").strip()
            self._kill()
            why = "no answer in time" if isinstance(e, _Deadline) else str(e) or type(e).__name__
            raise WorkerStartError(why + (f": {said}" if said else "")) from None
        self.hello = hello
        self.startup_output.clear()

    def _alive(self) -> bool:
        return self.proc is not None and self.sock is not None and not self._booting

    def _kill(self, grace: bool = False) -> str:
        """Kill the worker and everything it started; return how it ended.

        With ``grace``, a worker whose connection closed gets a moment to exit by itself.
        """
        status = "it had already ended"
        proc, self.proc = self.proc, None
        if proc is not None:
            try:  # a worker that is ending by itself (os._exit) gets a moment to say how
                code = proc.wait(timeout=0.2) if grace else proc.poll()
            except subprocess.TimeoutExpired:
                code = None
            if code is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            status = _exit_text(code)
            self._sweep(proc.pid)
        for closer in (self.sock.close if self.sock else None,
                       (lambda: os.close(self.out)) if self.out is not None else None):
            if closer is not None:
                with contextlib.suppress(OSError):
                    closer()
        self.sock, self.out = None, None
        self._reader = None
        self._booting = False
        if proc is not None:
            self.gen += 1
            self.loaded.clear()
            self.releases.clear()
        return status

    def _sweep(self, pid: int) -> None:
        """End every process the worker may have left: by uid as root, else by session."""
        if self.uid is not None:
            _kill_uid(self.uid)
            return
        for _ in range(5):
            found = False
            for other, sid, ppid in _processes():
                if other != os.getpid() and (sid == pid or ppid == os.getpid()):
                    found = True
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(other, signal.SIGKILL)
            _reap()
            if not found:
                return
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the worker for good (at the end of grading)."""
        if self._alive():
            with contextlib.suppress(OSError, ProtocolError, _Deadline):
                self._send({"op": "bye"}, [], time.monotonic() + 0.2)
        self._kill()
        if self.uid is not None:
            _kill_uid(self.uid)

    # ---------------------------------------------------------- bytes
    def _drain(self) -> None:
        for _ in range(16):  # at most 16 MiB at a time: a flood cannot hold the judge here
            if self.out is None:
                return
            try:
                data = os.read(self.out, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    os.close(self.out)
                self.out = None
                return
            self.printed += len(data)
            if len(self.startup_output) < 4096:
                self.startup_output += data[:4096]

    def _wait(self, deadline: float, write: bool = False) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline
        rlist = [self.out] if self.out is not None else []
        wlist = []
        if write:
            wlist.append(self.sock)
        else:
            rlist.append(self.sock)
        r, w, _ = select.select(rlist, wlist, [], min(remaining, 1.0))
        if self.out is not None and self.out in r:
            self._drain()

    def _read_exact(self, n: int, deadline: float) -> bytearray:
        self._read_deadline = deadline
        if self._reader is None:
            raise Closed("no worker")
        return self._reader.read_exact(n)

    def _recv(self, view: memoryview) -> int:
        """One receive for :class:`protocol.Reader`.

        Waits, draining the worker's output, until there is data or the deadline passes.
        """
        while True:
            if self.sock is None:
                raise Closed("no worker")
            if time.monotonic() >= self._read_deadline:  # even when data keeps coming
                raise _Deadline
            try:
                return self.sock.recv_into(view, min(len(view), 1 << 22))
            except BlockingIOError:
                self._wait(self._read_deadline)
            except ConnectionError:
                return 0

    def _send(self, header: dict[str, Any], buffers: list[Any], deadline: float) -> None:
        for chunk in protocol.frame(header, buffers):
            sent = 0
            while sent < chunk.nbytes:
                if self.sock is None:
                    raise Closed("no worker")
                if time.monotonic() >= deadline:
                    raise _Deadline
                try:
                    sent += self.sock.send(chunk[sent:])
                except BlockingIOError:
                    self._wait(deadline, write=True)
                except (BrokenPipeError, ConnectionError):
                    raise Closed("the worker closed the connection") from None

    def _request(self, header: dict[str, Any], buffers: list[Any], deadline: float
                 ) -> tuple[dict[str, Any], list[bytearray]]:
        rid = self._next_id
        self._next_id += 1
        header["id"] = rid
        if self.releases:
            header["rel"], self.releases = self.releases, []
        self._send(header, buffers, deadline)
        while True:  # the clock is checked on every message, however fast they come
            if time.monotonic() >= deadline:
                raise _Deadline
            reply, bufs = protocol.read_message(lambda n: self._read_exact(n, deadline))
            if reply.get("re") == rid:
                self._drain()
                return reply, bufs
            if reply.get("op") == "cb" and header.get("op") == "call":
                self._serve_callback(reply, bufs, deadline)
                continue
            raise ProtocolError("unexpected message")

    # ---------------------------------------------------------- values
    def _encode_other(self, v: Any, enc: Encoder) -> dict[str, Any]:
        if isinstance(v, Handle):
            if v._gen != self.gen:
                raise _StaleHandle
            return {"$h": v._hid}
        if isinstance(v, np.random.Generator):
            node = enc._tag({"$rng": None}, v)
            node["$rng"] = enc.encode(v.bit_generator.state, 1)
            return node
        if callable(v):
            cid = self._next_callback  # never reused: an old callback cannot call a new one
            self._next_callback += 1
            self.callbacks[cid] = v
            return {"$cb": cid, "name": str(getattr(v, "__name__", "f"))[:60]}
        raise TypeError(f"the grader cannot send a {type(v).__name__} to the worker")

    def _special(self, node: dict[str, Any], dec: Decoder) -> Any:
        if "$h" in node and type(node["$h"]) is int:
            dec.handles = getattr(dec, "handles", 0) + 1
            if dec.handles > MAX_HANDLES:
                raise ProtocolError(f"more than {MAX_HANDLES} opaque values in one reply")
            handle = _handle_class(node.get("ty"))(node["$h"], self.gen)
            weakref.finalize(handle, self._release, self.gen, node["$h"])
            return handle
        raise ProtocolError("unexpected value from the worker")

    def _release(self, gen: int, hid: int) -> None:
        if gen == self.gen and len(self.releases) < 100_000:
            self.releases.append(hid)

    def _serve_callback(self, header: dict[str, Any], buffers: list[bytearray],
                        deadline: float) -> None:
        dec = Decoder(buffers, special=self._special)
        args, kwargs = dec.decode(header.get("args")), dec.decode(header.get("kw"))
        if type(args) is not tuple or type(kwargs) is not dict or not all(
                isinstance(k, str) for k in kwargs):
            raise ProtocolError("bad callback arguments")
        cid = header.get("cb")
        fn = self.callbacks.get(cid) if type(cid) is int else None
        if fn is None:  # only the callbacks of the running call are answered
            raise ProtocolError("a function was called back that the running call was not "
                                "given (functions a call receives work only during that call)")
        reply: dict[str, Any] = {"re": header.get("id")}
        enc = Encoder(other=self._encode_other)
        try:
            reply["ok"] = enc.encode(fn(*args, **kwargs))
        except StudentError:
            raise
        except Exception as e:  # noqa: BLE001 - the test's function failed on the student's input
            reply = {"re": header.get("id"),
                     "err": {"type": type(e).__name__, "msg": protocol.short(str(e))}}
            enc = Encoder()
        self._send(reply, enc.buffers, deadline)

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
        path = self.folder / f"{topic}.py"
        if topic not in self.functions:
            if not path.is_file():
                self.load_errors[topic] = f"{shown} not found in the submission"
                raise ImplementationError(self.load_errors[topic])
            problems = forbidden_imports(path)
            if problems:
                self.load_errors[topic] = (
                    f"{shown} {'; '.join(problems)}: exercises must be written with numpy "
                    "only, without nnlib or the solutions, so this exercise earns no points")
                raise ImplementationError(self.load_errors[topic])
        if topic in self.loaded and self._alive():
            return
        self._ensure_worker(topic)
        deadline = self._deadline()
        start = time.monotonic()
        try:
            reply, _ = self._request({"op": "load", "topic": topic, "shown": shown}, [],
                                     deadline)
        except _Deadline:
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
        listing = reply.get("ok", {}).get("functions") if isinstance(reply.get("ok"), dict) \
            else None
        if not isinstance(listing, dict):
            self._kill()
            raise ImplementationError(f"importing {shown}: bad reply from the worker")
        self.functions[topic] = {k: v for k, v in list(listing.items())[:2000]
                                 if isinstance(k, str) and k.isidentifier()}
        self.loaded.add(topic)

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

    def _ensure_worker(self, topic: str = "") -> None:
        if self._alive():
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
        enc = Encoder(other=self._encode_other, number=True)
        try:
            header = {"op": "call", "topic": topic, "fn": fn, "args": enc.encode(tuple(args)),
                      "kw": enc.encode(dict(kwargs))}
        except _StaleHandle:
            raise StudentError(fn, "crash", f"{fn} was given a value made before the worker "
                               "process was restarted (after a crash or timeout in this "
                               "test); it cannot be used any more") from None
        deadline = self._deadline()
        start = time.monotonic()
        try:
            reply, bufs = self._request(header, enc.buffers, deadline)
        except _Deadline:
            self._kill()
            took = time.monotonic() - start
            if deadline >= self.deadline:
                raise StudentError(fn, "deadline", self._overall_message()) from None
            if took >= self.timeout / 2:  # one call took (most of) the test's time
                message = f"{fn} did not finish within {self.timeout:g} s (an endless loop?)"
                self.timed_out[key] = message
            else:
                message = (f"{fn}: the test did not finish within {self.timeout:g} s "
                           f"({fn} is too slow)")
            raise StudentError(fn, "timeout", message) from None
        except (Closed, OSError):
            status = self._kill(grace=True)
            raise StudentError(fn, "crash", f"{fn} crashed the worker process running it "
                               f"({status}; os._exit, a segfault or running out of "
                               "memory?)") from None
        except ProtocolError as e:
            self._kill()
            raise StudentError(fn, "protocol", f"{fn}: the worker's reply could not be read "
                               f"({e}); the grader restarted it") from None
        finally:
            self.callbacks.clear()
        names = list(sig.parameters) if sig is not None else None
        try:
            value = self._result(fn, reply, bufs, enc, feedback.named_arguments(names, args,
                                                                                 kwargs))
        except ProtocolError as e:
            self._kill()
            raise StudentError(fn, "protocol", f"{fn}: the worker's reply could not be read "
                               f"({e}); the grader restarted it") from None
        if self.printed > MAX_OUTPUT:
            raise StudentError(fn, "output", f"{fn} printed {self.printed / 1e6:.1f} MB of "
                               f"output; remove the prints (limit {MAX_OUTPUT / 1e6:g} MB)")
        return value

    def _result(self, fn: str, reply: dict[str, Any], bufs: list[bytearray], enc: Encoder,
                named: dict[str, Any]) -> Any:
        if "err" in reply:
            err = reply["err"] if isinstance(reply["err"], dict) else {}
            kind = _name(err.get("type"))
            text = feedback.scrub_paths(protocol.short(err.get("msg", ""), 4000))
            if err.get("unsendable"):
                raise StudentError(fn, "unsendable", feedback.cut(
                    f"{fn} returned a value the grader cannot receive ({kind}: "
                    f"{protocol.short(text, 200)})"))
            if kind == "WorkerError":
                raise StudentError(fn, "protocol", feedback.cut(f"{fn} could not be called: "
                                                                f"{text}"))
            code = err.get("code") if isinstance(err.get("code"), str) else None
            message = feedback.exception_message(fn, kind, text, self._where(err.get("where")),
                                                 named, code)
            raise StudentError(fn, "exit" if kind == "SystemExit" else "exception", message,
                               kind)
        if "ok" not in reply:
            raise ProtocolError("reply without a value")
        dec = Decoder(bufs, special=self._special, originals=enc.objects)
        mutations = reply.get("mut") or []
        rngs = reply.get("rng") or []
        if not isinstance(mutations, list) or not isinstance(rngs, list):
            raise ProtocolError("bad reply")
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
        return dec.decode(reply["ok"])

    def global_state(self) -> tuple[Any, ...]:
        """A fingerprint of the worker's numpy global random state (starts a worker if needed)."""
        self._ensure_worker()
        deadline = self._deadline()
        try:
            reply, _ = self._request({"op": "grs"}, [], deadline)
            state = reply.get("ok")
            if not (isinstance(state, list) and len(state) == 5
                    and all(type(s) in (str, int, float) for s in state)):
                raise ProtocolError("bad random state")
        except (_Deadline, Closed, OSError, ProtocolError):
            status = self._kill()
            raise StudentError("", "crash", f"the worker did not report its random state "
                               f"({status})") from None
        return (self.gen, *state)


# ------------------------------------------------------------------ helpers
def _name(v: Any) -> str:
    return v if isinstance(v, str) and v.isidentifier() and len(v) <= 60 else "Exception"


def _exit_text(code: int | None) -> str:
    if code is None:
        return "it did not end"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if code > 128 and code - 128 < 65:
        try:
            return f"killed by {signal.Signals(code - 128).name}"
        except ValueError:
            pass
    return f"exit code {code}"


def _die_with_parent() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _enter_jail(root: str, cwd: str, uid: int, seccomp: Any) -> None:
    """Between fork and exec: confine the worker (see :func:`jail.enter`), then die with us.

    The parent-death signal is set after the switch of user, which would clear it.
    """
    jail.enter(root, cwd, uid, seccomp)
    _die_with_parent()


def _processes() -> list[tuple[int, int, int]]:
    """``(pid, session id, parent pid)`` of every process we can see."""
    out = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 3:
            out.append((int(entry), int(fields[3]), int(fields[1])))
    return out


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (we are root): a child switches to it and kills all.

    ``kill(-1, SIGKILL)`` as that uid reaches exactly the processes of that uid. Call it
    from a single-threaded process only (the judge; the grader runs :func:`kill_uid_later`).
    """
    for _ in range(10):
        if not sandbox.uid_in_use(uid):
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        time.sleep(0.01)


def kill_uid_from_threads(uid: int, env: dict[str, str] | None = None) -> None:
    """:func:`_kill_uid` for a process with threads: done by a fresh helper process."""
    if not sandbox.uid_in_use(uid):
        return
    import sys

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([sys.executable, "-m", "nnlib.grading.judge", "--kill-uid", str(uid)],
                       env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)


def start_probe(box: sandbox.Sandbox, tmp: Path) -> None:
    """Start one worker with ``box`` for an empty submission, wait for its hello, end it.

    ``tmp`` is an empty private folder. Raises :class:`WorkerStartError` when it does not
    start.
    """
    uid = sandbox.new_uid()
    dirs = sandbox.prepare(box, tmp, uid)
    session = WorkerSession(box, dirs, {}, timeout=10.0, budget=60.0, uid=uid)
    try:
        session.start()
        if session.hello and session.hello.get("pytest"):
            raise WorkerStartError("pytest is importable inside the sandbox")
    finally:
        session.close()


if __name__ == "__main__":  # python -m nnlib.grading.judge --kill-uid UID (root only)
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--kill-uid" and os.geteuid() == 0:
        _kill_uid(int(sys.argv[2]))
