"""One submission's worker process, seen from the judge: start it, hear its hello, end it.

:class:`WorkerProcess` starts the worker as :func:`nnlib.grading.judge.sandbox.worker_command`
says (in bubblewrap, in the chroot fallback, or as a plain process), with the seccomp filter
where one is loaded, and kills it with everything it started: its process group, its pid
namespace, or every process of its uid (as root). Each start gets a new generation number,
so that values from an earlier worker are recognised as stale.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import time
from typing import Any

from nnlib.grading.judge import jail, sandbox
from nnlib.grading.judge.channel import Channel, Deadline
from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import ProtocolError

__all__ = ["WorkerProcess", "WorkerStartError", "die_with_parent", "exit_text", "harden_judge",
           "reap"]

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36


class WorkerStartError(Exception):
    """A worker did not start (or did not say hello in time)."""


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def harden_judge() -> None:
    """Keep processes of the same user away from this one (no ptrace, no /proc/PID/fd)."""
    _prctl(PR_SET_DUMPABLE, 0)


def die_with_parent() -> None:
    """Be killed when the thread that started this process ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _enter_jail(root: str, cwd: str, uid: int, seccomp: Any) -> None:
    """Between fork and exec: confine the worker (see :func:`jail.enter`), then die with us.

    The parent-death signal is set after the switch of user, which would clear it.
    """
    jail.enter(root, cwd, uid, seccomp)
    die_with_parent()


class WorkerProcess:
    """How one submission's workers are started and ended.

    Parameters
    ----------
    box : Sandbox
        How to start workers.
    dirs : dict
        The folders the grading process laid out (:func:`sandbox.prepare`).
    uid : int or None
        The worker's own uid and gid (as root).
    limits : dict
        The resource limits the worker sets on itself.
    """

    def __init__(self, box: sandbox.Sandbox, dirs: dict[str, str], uid: int | None,
                 limits: dict[str, int]) -> None:
        self.box = box
        self.dirs = dict(dirs)
        self.uid = uid
        self.limits = dict(limits)
        # bubblewrap and the chroot fallback load the same filter (where libseccomp is)
        self.seccomp = (jail.seccomp_filter() if box.kind == "jail"
                        or (box.kind == "bwrap" and jail.has_seccomp()) else None)
        self.proc: subprocess.Popen | None = None
        self.channel: Channel | None = None
        self.gen = 0
        """Generation: one more at every kill."""
        self.starts = 0
        self.hello: dict[str, Any] | None = None
        self.booting = False
        if uid is None and box.kind == "none":
            # orphans of the worker become our children, so that we can end them
            _prctl(PR_SET_CHILD_SUBREAPER, 1)

    @property
    def alive(self) -> bool:
        """A worker has said hello and is connected."""
        return self.proc is not None and self.channel is not None and not self.booting

    def spawn(self) -> None:
        """Start a worker process (without waiting for it)."""
        self.kill()
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
            preexec = die_with_parent
        try:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=wfd, stderr=wfd, pass_fds=fds,
                                         start_new_session=True, preexec_fn=preexec)
        except OSError as e:
            parent.close()
            os.close(rfd)
            raise WorkerStartError(f"cannot run {argv[0]}: {e}") from None
        finally:
            child.close()
            os.close(wfd)
            for fd in fds[1:]:
                os.close(fd)
        parent.setblocking(False)
        os.set_blocking(rfd, False)
        self.channel = Channel(parent, rfd)
        self.starts += 1

    def prestart(self) -> None:
        """Start a worker now without waiting for it (it boots while pytest collects)."""
        if self.proc is None:
            self.spawn()
            self.booting = True

    def start(self, deadline: float) -> None:
        """Start a worker (unless one is booting) and wait for its hello until ``deadline``."""
        if not self.booting:
            self.spawn()
        self.booting = False
        assert self.channel is not None
        try:
            header, _ = self.channel.read(deadline)
            hello = header.get("hello")
            if not isinstance(hello, dict):
                raise ProtocolError("no hello")
        except (Deadline, ProtocolError, OSError) as e:
            said = bytes(self.channel.startup_output[-600:]).decode("utf-8", "replace").strip()
            self.kill()
            why = "no answer in time" if isinstance(e, Deadline) else str(e) or type(e).__name__
            raise WorkerStartError(why + (f": {said}" if said else "")) from None
        self.hello = hello
        self.channel.startup_output.clear()

    def kill(self, grace: bool = False) -> str:
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
            status = exit_text(code)
            self._sweep(proc.pid)
            self.gen += 1
        if self.channel is not None:
            self.channel.close()
        self.channel = None
        self.booting = False
        return status

    def _sweep(self, pid: int) -> None:
        """End every process the worker may have left: by uid as root, else by session."""
        if self.uid is not None:
            sandbox.kill_uid(self.uid)
            return
        for _ in range(5):
            found = False
            for other, sid, ppid in _processes():
                if other != os.getpid() and (sid == pid or ppid == os.getpid()):
                    found = True
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(other, signal.SIGKILL)
            reap()
            if not found:
                return
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the worker for good (at the end of grading)."""
        if self.alive and self.channel is not None:
            with contextlib.suppress(OSError, ProtocolError, Deadline):
                self.channel.send(protocol.bye(), [], time.monotonic() + 0.2)
        self.kill()
        if self.uid is not None:
            sandbox.kill_uid(self.uid)


def exit_text(code: int | None) -> str:
    """How a process ended, from its exit status, for a message."""
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


def reap() -> None:
    """Collect this process's children that have ended, without waiting for the others."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
