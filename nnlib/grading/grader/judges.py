"""Starting judges: one fresh process per submission, spawned or forked from a template.

:func:`start` starts one judge (:mod:`nnlib.grading.judge`) and returns a handle to wait
for it or kill it. A spawned judge imports pytest, numpy and nnlib itself, which is about
half of its time. Inside :func:`templates` (a class run enters it), judges are forked
instead from a template judge (:mod:`nnlib.grading.judge.template`) that made those imports
once: each is still a new process that no other submission's judge has touched. When the
template cannot start or stops answering, judges are spawned as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from nnlib.grading.clock import TEMPLATE

__all__ = ["Judge", "judge_env", "start", "templates"]


class Judge(Protocol):
    """A running judge."""

    pid: int

    def kill(self) -> None:
        """Kill the judge (not what it started: the grading process ends those)."""

    def wait(self) -> None:
        """Wait until the judge has ended."""


def judge_env(root: Path) -> dict[str, str]:
    """The environment of every judge grading with the course folder ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NNLIB_"))}
    env.update(NNLIB_ROOT=str(root), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # the judge must import this very nnlib, never anything from the submission
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[3])]
                                        + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


class _Spawned:
    """A judge started as ``python -m nnlib.grading.judge`` (configuration on its stdin)."""

    def __init__(self, cfg: dict[str, Any], cwd: Path, env: dict[str, str], events_fd: int,
                 err_fd: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "nnlib.grading.judge"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=err_fd, pass_fds=[events_fd], env=env, cwd=cwd,
                                     start_new_session=True)
        self.pid = self.proc.pid
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(dict(cfg, events_fd=events_fd)).encode("utf-8"))
            self.proc.stdin.close()
        except OSError:
            pass

    def kill(self) -> None:
        self.proc.kill()

    def wait(self) -> None:
        self.proc.wait()


class _Forked:
    """A judge forked by a template, known by a pidfd (its pid may be reused once reaped)."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.pidfd = pidfd

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def wait(self) -> None:
        try:
            select.select([self.pidfd], [], [])  # readable once the judge has exited
        finally:
            os.close(self.pidfd)


class Template:
    """A template judge for the environment ``env``; see :mod:`nnlib.grading.judge.template`.

    Start it from a thread that outlives its use: it dies with that thread.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.lock = threading.Lock()
        # the bytecode of the tests, compiled by the first judge that imports them and read
        # by the others: a folder of this process's own, which no worker can see
        self.pycache = tempfile.TemporaryDirectory(prefix="nnlib-judge-bytecode-")
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-m", "nnlib.grading.judge.template", str(theirs.fileno()),
                 self.pycache.name],
                pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            self.proc = None
        finally:
            theirs.close()
        self.sock.settimeout(TEMPLATE)

    def fork(self, cfg: dict[str, Any], cwd: Path, events_fd: int,
             err_fd: int) -> _Forked | None:
        """A judge forked with ``cfg`` in ``cwd``, or None if the template cannot fork one."""
        with self.lock:
            if self.proc is None:
                return None
            fds: list[int] = []
            try:
                request = json.dumps(dict(cfg, cwd=str(cwd))).encode("utf-8")
                socket.send_fds(self.sock, [request], [events_fd, err_fd])
                msg, fds, _, _ = socket.recv_fds(self.sock, 4096, 1)
                pid = json.loads(msg)["pid"] if msg else None
            except (OSError, ValueError, KeyError, TypeError):
                pid = None
            if isinstance(pid, int) and len(fds) == 1:
                return _Forked(pid, fds[0])
            for fd in fds:
                os.close(fd)
            self._stop(at_once=True)  # it failed once: never wait on it again
            return None

    def _stop(self, at_once: bool = False) -> None:
        """End the template (it exits when its socket closes).

        It is killed if it lingers ``TEMPLATE`` seconds, or at once with ``at_once``.
        """
        self.sock.close()
        if self.proc is not None:
            if at_once:
                self.proc.kill()
            try:
                self.proc.wait(TEMPLATE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def close(self) -> None:
        """End the template, once every judge forked from it has ended."""
        with self.lock:
            self._stop()
            self.pycache.cleanup()


_templates: dict[tuple[tuple[str, str], ...], Template] = {}
_templates_lock = threading.Lock()


def _key(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(env.items()))


@contextlib.contextmanager
def templates(root: Path) -> Iterator[None]:
    """Fork the judges that grade with ``root`` from one template while in this block.

    Any thread may start judges in the block; the template is started by the thread that
    enters it and ended when that thread leaves (the judges it forked run on). Nested blocks
    share the outermost block's template.
    """
    key = _key(judge_env(root))
    with _templates_lock:
        mine = key not in _templates
        if mine:
            _templates[key] = Template(dict(key))
    try:
        yield
    finally:
        if mine:
            with _templates_lock:
                template = _templates.pop(key)
            template.close()


def start(cfg: dict[str, Any], cwd: Path, events_fd: int, err_fd: int) -> Judge:
    """Start a judge with the configuration ``cfg`` in the folder ``cwd``.

    ``cfg["root"]`` is the course folder. The judge writes its events to ``events_fd`` and
    its errors to ``err_fd``; both stay open here, for the caller to close.
    """
    env = judge_env(Path(cfg["root"]))
    with _templates_lock:
        template = _templates.get(_key(env))
    if template is not None:
        judge = template.fork(cfg, cwd, events_fd, err_fd)
        if judge is not None:
            return judge
    return _Spawned(cfg, cwd, env, events_fd, err_fd)
