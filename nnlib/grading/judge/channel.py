"""The judge's end of one worker's connection: bytes in and out, each under a deadline.

:class:`Channel` reads and writes :mod:`~nnlib.grading.sandboxed.protocol` messages on the
socket, and drains the worker's output pipe (counted, its start kept for error messages)
whenever it waits. Every read and every write checks the clock first, so a worker that
sends without pause cannot keep the judge past a deadline.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from typing import Any

from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import Closed

__all__ = ["Channel", "Deadline", "DRAIN_CHUNKS"]

DRAIN_CHUNKS = 16
"""MiB of the worker's output read at most per wait (a flood cannot hold the judge there)."""


class Deadline(Exception):
    """The deadline of a read or write passed."""


class Channel:
    """The socket ``sock`` to a worker and the read end ``out`` of its output pipe."""

    def __init__(self, sock: socket.socket, out: int) -> None:
        self.sock: socket.socket | None = sock
        self.out: int | None = out
        self.printed = 0
        """Bytes the worker printed since :meth:`reset_printed`."""
        self.startup_output = bytearray()
        """The first 4 KiB it printed (shown when it fails to start)."""
        self._deadline = float("inf")
        self._reader = protocol.Reader(self._recv)

    def close(self) -> None:
        """Close both ends (idempotent)."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        if self.out is not None:
            with contextlib.suppress(OSError):
                os.close(self.out)
        self.sock, self.out = None, None

    # ---------------------------------------------------------- output
    def drain(self) -> None:
        """Read what the worker printed, without waiting."""
        for _ in range(DRAIN_CHUNKS):
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
            raise Deadline
        rlist: list[Any] = [self.out] if self.out is not None else []
        wlist: list[Any] = []
        if write:
            wlist.append(self.sock)
        else:
            rlist.append(self.sock)
        r, _, _ = select.select(rlist, wlist, [], min(remaining, 1.0))
        if self.out is not None and self.out in r:
            self.drain()

    # ---------------------------------------------------------- messages
    def read(self, deadline: float) -> tuple[dict[str, Any], list[bytearray]]:
        """The next message, by ``deadline`` (raises :class:`Deadline`)."""
        if time.monotonic() >= deadline:
            raise Deadline
        self._deadline = deadline
        return protocol.read_message(self._reader.read_exact)

    def _recv(self, view: memoryview) -> int:
        """One receive for :class:`protocol.Reader`: waits, draining output, until data."""
        while True:
            if self.sock is None:
                raise Closed("no worker")
            if time.monotonic() >= self._deadline:  # even when data keeps coming
                raise Deadline
            try:
                return self.sock.recv_into(view, min(len(view), 1 << 22))
            except BlockingIOError:
                self._wait(self._deadline)
            except ConnectionError:
                return 0

    def send(self, header: dict[str, Any], buffers: list[Any], deadline: float) -> None:
        """Send one message by ``deadline`` (raises :class:`Deadline`, :class:`Closed`)."""
        for chunk in protocol.frame(header, buffers):
            sent = 0
            while sent < chunk.nbytes:
                if self.sock is None:
                    raise Closed("no worker")
                if time.monotonic() >= deadline:
                    raise Deadline
                try:
                    sent += self.sock.send(chunk[sent:])
                except BlockingIOError:
                    self._wait(deadline, write=True)
                except (BrokenPipeError, ConnectionError):
                    raise Closed("the worker closed the connection") from None
