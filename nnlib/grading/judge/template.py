"""A template judge: imports what every judge needs once, then forks a fresh judge per request.

A judge spends about half of its time importing pytest, numpy, nnlib and its own modules.
When the grading process grades many submissions (a class), it starts one template
(:mod:`nnlib.grading.grader.judges`) and asks it for each judge::

    python -m nnlib.grading.judge.template FD [PYCACHE]   # FD: a SOCK_SEQPACKET socket

The template never runs a test and never talks with a worker, so every judge forked from
it starts in the state a freshly started judge would reach after its imports: nothing of
one submission can reach another's judge through it. It is as hardened as a judge
(:func:`~nnlib.grading.judge.process.harden_judge`) and dies with the grading process.

Each request is one message: the judge's configuration as JSON (with ``cwd``, the folder
the judge runs in) and two file descriptors, the events pipe and the file for the judge's
standard error. The reply is ``{"pid": PID}`` with a pidfd of the new judge, through which
the grading process waits for it and can kill it (a pid alone could be reused once the
template reaps the judge). The template exits when the grading process closes its end.
"""

from __future__ import annotations

import gc
import json
import os
import select
import socket
import sys
import traceback

MAX_REQUEST = 1 << 20
"""Bytes a request may have (a configuration is a few kilobytes)."""


def preload() -> None:
    """Import what :func:`nnlib.grading.judge.__main__.judge` and pytest's own plugins import."""
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    from _pytest.config import default_plugins

    import nnlib.grading.judge.__main__  # noqa: F401
    import nnlib.grading.judge.plugin  # noqa: F401
    import nnlib.grading.judge.session  # noqa: F401

    # pytest's plugins, and what each judge would otherwise import after the fork: pytest's
    # debugging plugin (pdb, readline), numpy.random (the tests' generators), and the
    # seccomp binding, whose library lookup runs ``ldconfig -p`` in a subprocess
    for name in (*(f"_pytest.{name}" for name in default_plugins), "pdb", "readline",
                 "faulthandler", "_pytest._argcomplete", "numpy.random", "ctypes.util",
                 "sysconfig"):
        try:
            __import__(name)
        except ImportError:
            pass
    from nnlib.grading.judge.jail import has_seccomp

    has_seccomp()


def _become_judge(sock: socket.socket, cfg: dict, events_fd: int, err_fd: int,
                  pycache: str | None) -> None:
    """In the forked child: become a judge as ``python -m nnlib.grading.judge`` would start.

    With ``pycache``, the modules it imports from now on (the tests) are compiled once per
    class run: read from that folder, or written there by the first judge to import them.
    """
    try:
        sock.close()
        if pycache:
            sys.pycache_prefix = pycache
            sys.dont_write_bytecode = False
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(err_fd, 2)
        for fd in (null, err_fd):
            if fd > 2:
                os.close(fd)
        os.chdir(cfg.pop("cwd"))
        cfg["events_fd"] = events_fd
        from nnlib.grading.judge.__main__ import judge

        judge(cfg)  # exits hard
    except BaseException:  # noqa: BLE001 - reported on the judge's standard error
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(1)


def serve(fd: int, pycache: str | None = None) -> None:
    """Answer requests on the socket ``fd`` until the grading process closes it.

    ``pycache``: a folder of the grading process for the bytecode of what judges import.
    """
    from nnlib.grading.judge.process import die_with_parent, harden_judge, reap

    harden_judge()
    die_with_parent()
    preload()
    gc.freeze()  # what every judge shares is never scanned again (pytest collects at its end)
    sock = socket.socket(fileno=fd)
    while True:
        ready, _, _ = select.select([sock], [], [], 0.5)
        reap()
        if not ready:
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 2)
        except OSError:
            break
        if not msg:
            for f in fds:
                os.close(f)
            break
        try:
            cfg = json.loads(msg)
        except ValueError:
            cfg = None
        if len(fds) != 2 or not isinstance(cfg, dict) or not isinstance(cfg.get("cwd"), str):
            for f in fds:
                os.close(f)
            sock.send(json.dumps({"error": "bad request"}).encode())
            continue
        events_fd, err_fd = fds
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            _become_judge(sock, cfg, events_fd, err_fd, pycache)
        os.close(events_fd)
        os.close(err_fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)
    reap()
    os._exit(0)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
