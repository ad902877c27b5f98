"""Framing: how one message travels as bytes between the judge and the worker.

Standard library only; runs in the sandbox too (see :mod:`.protocol`). A message is a small
JSON header followed by raw array buffers::

    b"NNW1" | header length (uint32) | buffer count (uint32) | header JSON
           | buffer lengths (uint64 each) | buffers

Reading a message parses JSON with :mod:`json` and nothing else: it never runs code.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAGIC",
    "MAX_BUFFERS",
    "MAX_HEADER",
    "MAX_PAYLOAD",
    "SMALL",
    "Closed",
    "ProtocolError",
    "Reader",
    "blocking_reader",
    "frame",
    "read_message",
    "send_message",
]

MAGIC = b"NNW1"
_HEAD = struct.Struct("<4sII")
MAX_HEADER = 8 << 20
"""Largest JSON header accepted (bytes); arrays travel outside it, in buffers."""
MAX_PAYLOAD = 256 << 20
"""Largest total of array buffers in one message (bytes)."""
MAX_BUFFERS = 1 << 20


class ProtocolError(Exception):
    """A message that is malformed, too large, or not what was expected."""


class Closed(ProtocolError):
    """The other side closed the connection (it exited or crashed)."""



SMALL = 1 << 20
"""Messages up to this size are sent as one chunk (one system call, one wake-up)."""


def frame(header: dict[str, Any], buffers: list[Any]) -> list[memoryview]:
    """The byte chunks of one message: ``header`` (JSON-able) and the raw ``buffers``."""
    data = json.dumps(header, separators=(",", ":"), allow_nan=True).encode("utf-8")
    views = [memoryview(b).cast("B") if not isinstance(b, bytes) else memoryview(b)
             for b in buffers]
    sizes = struct.pack(f"<{len(views)}Q", *(v.nbytes for v in views))
    head = _HEAD.pack(MAGIC, len(data), len(views)) + data + sizes
    if len(head) + sum(v.nbytes for v in views) <= SMALL:
        return [memoryview(b"".join([head, *views]))]
    return [memoryview(head), *(v for v in views if v.nbytes)]


def send_message(sock: socket.socket, header: dict[str, Any], buffers: list[Any]) -> None:
    """Send one message on a blocking socket (see :func:`frame`)."""
    for chunk in frame(header, buffers):
        sock.sendall(chunk)


class Reader:
    """Buffered exact reads from a socket: few system calls for many small reads.

    ``recv`` is called with a writable buffer and returns the number of bytes received
    (0 at the end of the stream); it may block or wait for a deadline.
    """

    def __init__(self, recv: Callable[[memoryview], int]) -> None:
        self.recv = recv
        self.buf = bytearray()
        self.pos = 0

    def read_exact(self, n: int) -> bytearray:
        """Exactly ``n`` bytes; raises :class:`Closed` when the stream ends first."""
        have = len(self.buf) - self.pos
        if have >= n:
            out = self.buf[self.pos:self.pos + n]
            self.pos += n
            return out
        out = bytearray(n)
        view = memoryview(out)
        view[:have] = self.buf[self.pos:]
        self.buf, self.pos = bytearray(), 0
        got = have
        while got < n:
            if n - got >= 1 << 16:  # large: straight into the result
                k = self.recv(view[got:])
                if k == 0:
                    raise Closed("connection closed")
                got += k
                continue
            chunk = bytearray(1 << 16)
            k = self.recv(memoryview(chunk))
            if k == 0:
                raise Closed("connection closed")
            take = min(k, n - got)
            view[got:got + take] = chunk[:take]
            got += take
            if k > take:
                self.buf, self.pos = chunk[take:k], 0
        return out


def read_message(read_exact: Callable[[int], bytearray]) -> tuple[dict[str, Any], list[bytearray]]:
    """Read one message with ``read_exact(n)`` (returns exactly ``n`` bytes or raises).

    Raises :class:`ProtocolError` for anything malformed; never runs code from the data.
    """
    magic, n_header, n_buffers = _HEAD.unpack(bytes(read_exact(_HEAD.size)))
    if magic != MAGIC:
        raise ProtocolError("bad message start")
    if n_header > MAX_HEADER or n_buffers > MAX_BUFFERS:
        raise ProtocolError(f"message too large ({n_header} header bytes, {n_buffers} buffers)")
    raw = read_exact(n_header)
    sizes = struct.unpack(f"<{n_buffers}Q", bytes(read_exact(8 * n_buffers)))
    if sum(sizes) > MAX_PAYLOAD:
        raise ProtocolError(f"message too large ({sum(sizes)} bytes of arrays)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"unreadable message header ({type(e).__name__})") from None
    if not isinstance(header, dict):
        raise ProtocolError("message header is not an object")
    buffers = [read_exact(n) if n else bytearray() for n in sizes]
    return header, buffers


def blocking_reader(sock: socket.socket) -> Callable[[int], bytearray]:
    """``read_exact`` for a blocking socket (buffered)."""
    return Reader(sock.recv_into).read_exact
