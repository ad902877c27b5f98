"""The wire format between the judge (trusted) and the worker (untrusted student code).

This module imports only the standard library and numpy: the worker runs a copy of it in
its sandbox, where ``nnlib`` does not exist.

A message is a small JSON header followed by raw array buffers::

    b"NNW1" | header length (uint32) | buffer count (uint32) | header JSON
           | buffer lengths (uint64 each) | buffers

Loading a message never runs code: JSON is parsed by :mod:`json`, and arrays are rebuilt
with :func:`numpy.frombuffer` from a dtype that must be a plain number or bool type. There is
no pickle anywhere. Values are *plain data*:

- ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``;
- numpy arrays and scalars of bool, integer, float or complex dtype (an ndarray subclass
  travels as a plain array);
- tuples, lists and dicts (keys: plain hashable values) of these.

Everything else has a tagged form that the two sides agree on and that :class:`Encoder` /
:class:`Decoder` delegate to hooks: the worker keeps other objects and sends an opaque
*handle* (``{"$h": id}``); the judge sends ``np.random.Generator`` arguments as their bit
generator's state (``{"$rng": state}``) and its own functions as *callbacks*
(``{"$cb": id}``) that the worker calls back.

Arrays, lists and dicts in a request are numbered (``"#"``) so that the worker can report
what a call changed in place and the judge can apply the same change to its own objects.
"""

from __future__ import annotations

import json
import re
import socket
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

MAGIC = b"NNW1"
_HEAD = struct.Struct("<4sII")
MAX_HEADER = 8 << 20
"""Largest JSON header accepted (bytes); arrays travel outside it, in buffers."""
MAX_PAYLOAD = 256 << 20
"""Largest total of array buffers in one message (bytes)."""
MAX_BUFFERS = 1 << 20
MAX_DEPTH = 64
"""Deepest nesting of containers accepted."""
MAX_NODES = 1_000_000
"""Most values (containers, numbers, arrays, ...) in one message."""
MAX_DIMS = 32
_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))$")
LAYOUTS = ("C", "F", "S")
"""How an array argument is laid out: C order, Fortran order, or strided (a view with gaps)."""


class ProtocolError(Exception):
    """A message that is malformed, too large, or not what was expected."""


class Closed(ProtocolError):
    """The other side closed the connection (it exited or crashed)."""


# ------------------------------------------------------------------ framing
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


# ------------------------------------------------------------------ values
def array_dtype(text: Any) -> np.dtype:
    """The dtype named by ``text`` if it is a plain bool/int/float/complex type, else raise.

    The byte order is kept as sent: :func:`native` converts the values afterwards, so a
    big-endian array arrives with its values, not with its bytes relabelled.
    """
    if not isinstance(text, str) or not _DTYPE.match(text):
        raise ProtocolError(f"dtype not allowed: {str(text)[:40]!r}")
    dt = np.dtype(text)
    if dt.kind not in "biufc" or dt.fields is not None or dt.subdtype is not None:
        raise ProtocolError(f"dtype not allowed: {text!r}")
    return dt


def native(a: np.ndarray) -> np.ndarray:
    """``a`` with its values in the machine's byte order (a converted copy if it is not)."""
    return a.astype(a.dtype.newbyteorder("=")) if not a.dtype.isnative else a


def layout_of(a: np.ndarray) -> str:
    """``"C"``, ``"F"`` or ``"S"`` (strided) for an array, as :data:`LAYOUTS` describes."""
    if a.flags.c_contiguous:
        return "C"
    if a.flags.f_contiguous:
        return "F"
    return "S"


def with_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """Return ``a`` (C-contiguous) re-laid out as ``layout``: a copy for ``F``, a view for ``S``."""
    if layout == "F" and a.ndim > 1:
        return np.asfortranarray(a)
    if layout == "S" and a.size > 1:
        # a view with gaps, as a slice of a larger array is: reshape(-1) of it is a copy
        if a.ndim == 1:
            view = np.empty(2 * a.shape[0], dtype=a.dtype)[::2]
        else:
            view = np.empty(a.shape[:-1] + (a.shape[-1] + 1,), dtype=a.dtype)[..., :-1]
        view[...] = a
        return view
    return a


# ------------------------------------------------------------------ the messages
# Every message is a dict header (plus buffers). These builders are the only places that
# write the keys, and :func:`kind` / :func:`reply_to` the only places that read the kind.
#
# | message   | from -> to      | keys                                                   |
# |-----------|-----------------|--------------------------------------------------------|
# | hello     | worker -> judge | hello: {pid, uid, gid, limits, numpy, pytest}           |
# | load      | judge -> worker | op, id, topic, shown (the path the student sees), rel   |
# | call      | judge -> worker | op, id, topic, fn, args, kw (encoded values), rel       |
# | grs       | judge -> worker | op, id (numpy's global random state), rel               |
# | bye       | judge -> worker | op                                                     |
# | callback  | worker -> judge | op "cb", id, cb (the callback's number), args, kw       |
# | ok reply  | either          | re (the id answered), ok (encoded value); a call's     |
# |           |                 | reply also: mut (in-place changes), rng (generators)   |
# | err reply | either          | re, err: {type, msg, where, code?, unsendable?}         |
#
# ``rel`` lists the handles the judge no longer holds (the worker drops them).
LOAD, CALL, GLOBAL_STATE, BYE, CALLBACK = "load", "call", "grs", "bye", "cb"
REQUESTS = (LOAD, CALL, GLOBAL_STATE, BYE)


def hello(info: dict[str, Any]) -> dict[str, Any]:
    """The worker's first message."""
    return {"hello": info}


def load_request(topic: str, shown: str) -> dict[str, Any]:
    """Ask the worker to load ``<topic>.py`` (shown to the student as ``shown``)."""
    return {"op": LOAD, "topic": topic, "shown": shown}


def call_request(topic: str, fn: str, args: Any, kw: Any) -> dict[str, Any]:
    """Ask the worker to call ``fn`` of ``topic`` with encoded ``args`` and ``kw``."""
    return {"op": CALL, "topic": topic, "fn": fn, "args": args, "kw": kw}


def state_request() -> dict[str, Any]:
    """Ask the worker for a fingerprint of numpy's global random state."""
    return {"op": GLOBAL_STATE}


def bye() -> dict[str, Any]:
    """Tell the worker to end."""
    return {"op": BYE}


def callback(rid: int, cid: int, args: Any, kw: Any) -> dict[str, Any]:
    """The worker calls back the judge's function number ``cid``."""
    return {"op": CALLBACK, "id": rid, "cb": cid, "args": args, "kw": kw}


def ok(rid: Any, value: Any, mutations: list | None = None,
       rngs: list | None = None) -> dict[str, Any]:
    """A reply to request ``rid`` with an encoded value (and a call's changes)."""
    out = {"re": rid, "ok": value}
    if mutations is not None:
        out.update(mut=mutations, rng=rngs or [])
    return out


def error(rid: Any, info: dict[str, Any]) -> dict[str, Any]:
    """A reply to request ``rid`` saying it failed (``info``: type, msg, where, ...)."""
    return {"re": rid, "err": info}


def kind(header: dict[str, Any]) -> str | None:
    """The request or callback kind of a message (None for replies and hellos)."""
    op = header.get("op")
    return op if op in REQUESTS or op == CALLBACK else None


def reply_to(header: dict[str, Any]) -> Any:
    """The id a reply answers (None for anything else)."""
    return header.get("re")


def _is_plain_key(k: Any) -> bool:
    return k is None or type(k) in (bool, int, float, str)


class Encoder:
    """Turn a value into JSON-able nodes plus a list of buffers.

    Parameters
    ----------
    other : callable, optional
        Called with any value that is not plain data; returns its tagged node (a dict with a
        ``$``-key) or raises :class:`TypeError`.
    number : bool
        Number arrays, lists, dicts and ``$rng`` nodes with ``"#"`` and remember them in
        :attr:`objects` (for requests whose in-place changes must come back).
    originals : dict, optional
        ``{id(obj): (k, obj)}``: these objects are sent as ``{"$o": k}``, a reference to the
        other side's own object number ``k`` (used to report in-place changes of lists).
    """

    def __init__(self, other: Callable[[Any, Encoder], dict[str, Any]] | None = None,
                 number: bool = False, originals: dict[int, tuple[int, Any]] | None = None
                 ) -> None:
        self.other = other
        self.number = number
        self.originals = originals or {}
        self.buffers: list[Any] = []
        self.objects: dict[int, Any] = {}
        self._memo: dict[int, int] = {}
        self._keep: list[Any] = []  # keep memoized objects alive while their ids are in use
        self._count = 0

    def _tag(self, node: dict[str, Any], obj: Any) -> dict[str, Any]:
        if self.number:
            k = len(self.objects)
            self.objects[k] = obj
            node["#"] = k
        return node

    def array(self, a: np.ndarray, scalar: bool = False) -> dict[str, Any]:
        """The node of an array (or, with ``scalar``, a numpy scalar) of a plain dtype."""
        a = np.asarray(a)
        if type(a) is not np.ndarray:
            a = a.view(np.ndarray)
        data = np.ascontiguousarray(a)
        self.buffers.append(data.reshape(-1).view(np.uint8))
        if scalar:
            return {"$n": len(self.buffers) - 1, "dt": data.dtype.str}
        node = {"$a": len(self.buffers) - 1, "dt": data.dtype.str, "sh": list(a.shape)}
        lay = layout_of(a)
        if lay != "C":
            node["lay"] = lay
        if not a.flags.writeable:
            node["ro"] = 1
        return node

    def encode(self, v: Any, depth: int = 0) -> Any:
        """The node of ``v`` (see the module docstring)."""
        self._count += 1
        if depth > MAX_DEPTH:
            raise TypeError("nested too deeply")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        orig = self.originals.get(id(v))
        if orig is not None and orig[1] is v:
            return {"$o": orig[0]}
        if t is int:
            return v
        if t is float:
            return v
        if t is complex:
            return {"$c": [v.real, v.imag]}
        if isinstance(v, np.ndarray) and v.dtype.kind in "biufc" and v.dtype.fields is None \
                and v.ndim <= MAX_DIMS:
            key = id(v)
            if key in self._memo:
                return {"$r": self._memo[key]}
            node = self._tag(self.array(v), v)
            if self.number:
                self._memo[key] = node["#"]
                self._keep.append(v)
            return node
        if isinstance(v, np.generic) and v.dtype.kind in "biufc" and v.dtype.fields is None:
            return self.array(np.asarray(v), scalar=True)
        if t is tuple:
            return {"$t": [self.encode(x, depth + 1) for x in v]}
        if t is list:
            key = id(v)
            if self.number and key in self._memo:
                return {"$r": self._memo[key]}
            node = self._tag({"$l": None}, v)
            if self.number:
                self._memo[key] = node["#"]
                self._keep.append(v)
            node["$l"] = [self.encode(x, depth + 1) for x in v]
            return node
        if t is dict and all(_is_plain_key(k) for k in v):
            key = id(v)
            if self.number and key in self._memo:
                return {"$r": self._memo[key]}
            node = self._tag({"$d": None}, v)
            if self.number:
                self._memo[key] = node["#"]
                self._keep.append(v)
            node["$d"] = [[k, self.encode(x, depth + 1)] for k, x in v.items()]
            return node
        if self.other is None:
            raise TypeError(f"cannot send a {t.__name__}")
        return self.other(v, self)


class Decoder:
    """Rebuild values from nodes and buffers; only plain data comes out of it.

    Parameters
    ----------
    buffers : list of bytearray
        The message's buffers.
    special : callable, optional
        Called for a tagged node that is not plain data (``$h``, ``$cb``, ``$rng``, ...);
        returns the value or raises :class:`ProtocolError`.
    layouts : bool
        Re-create the layout (``"lay"``) and read-only flag (``"ro"``) of arrays (the worker
        does, so that student code sees non-contiguous inputs as the tests made them).
    originals : dict, optional
        ``{"$o": k}`` nodes resolve to ``originals[k]`` (the judge's own objects).
    """

    def __init__(self, buffers: list[bytearray],
                 special: Callable[[dict[str, Any], Decoder], Any] | None = None,
                 layouts: bool = False, originals: dict[int, Any] | None = None) -> None:
        self.buffers = buffers
        self.special = special
        self.layouts = layouts
        self.originals = originals
        self.objects: dict[int, Any] = {}
        self.used: set[int] = set()
        self._count = 0

    def _buffer(self, index: Any) -> bytearray:
        if type(index) is not int or not 0 <= index < len(self.buffers) or index in self.used:
            raise ProtocolError("bad buffer reference")
        self.used.add(index)
        return self.buffers[index]

    def _array(self, node: dict[str, Any]) -> np.ndarray:
        dt = array_dtype(node.get("dt"))
        shape = node.get("sh")
        if (not isinstance(shape, list) or len(shape) > MAX_DIMS
                or not all(type(s) is int and 0 <= s < 1 << 40 for s in shape)):
            raise ProtocolError("bad array shape")
        buf = self._buffer(node["$a"])
        n = 1
        for s in shape:
            n *= s
        if n * dt.itemsize != len(buf):
            raise ProtocolError("array size does not match its shape")
        a = native(np.frombuffer(buf, dtype=dt).reshape(shape))
        if self.layouts:
            lay = node.get("lay", "C")
            if lay not in LAYOUTS:
                raise ProtocolError("bad array layout")
            a = with_layout(a, lay)
            if node.get("ro"):
                a.flags.writeable = False
        return a

    def _number(self, node: dict[str, Any], value: Any) -> Any:
        k = node.get("#")
        if k is not None:
            if type(k) is not int or k in self.objects:
                raise ProtocolError("bad object number")
            self.objects[k] = value
        return value

    def decode(self, node: Any, depth: int = 0) -> Any:
        """The value of ``node``."""
        self._count += 1
        if depth > MAX_DEPTH or self._count > MAX_NODES:
            raise ProtocolError("value nested too deeply or too large")
        t = type(node)
        if node is None or t in (bool, int, float, str):
            return node
        if t is list:
            raise ProtocolError("bare list node")
        if t is not dict:
            raise ProtocolError("bad node")
        if "$a" in node:
            return self._number(node, self._array(node))
        if "$n" in node:
            dt = array_dtype(node.get("dt"))
            buf = self._buffer(node["$n"])
            if len(buf) != dt.itemsize:
                raise ProtocolError("bad scalar")
            return native(np.frombuffer(buf, dtype=dt))[0]
        if "$t" in node:
            items = node["$t"]
            if type(items) is not list:
                raise ProtocolError("bad tuple")
            return tuple(self.decode(x, depth + 1) for x in items)
        if "$l" in node:
            items = node["$l"]
            if type(items) is not list:
                raise ProtocolError("bad list")
            out: list[Any] = self._number(node, [])
            out.extend(self.decode(x, depth + 1) for x in items)
            return out
        if "$d" in node:
            pairs = node["$d"]
            if type(pairs) is not list:
                raise ProtocolError("bad dict")
            d: dict[Any, Any] = self._number(node, {})
            for pair in pairs:
                if type(pair) is not list or len(pair) != 2 or not _is_plain_key(pair[0]):
                    raise ProtocolError("bad dict item")
                d[pair[0]] = self.decode(pair[1], depth + 1)
            return d
        if "$c" in node:
            parts = node["$c"]
            if (type(parts) is not list or len(parts) != 2
                    or not all(type(p) in (int, float) for p in parts)):
                raise ProtocolError("bad complex")
            return complex(parts[0], parts[1])
        if "$r" in node:
            k = node["$r"]
            if type(k) is not int or k not in self.objects:
                raise ProtocolError("bad reference")
            return self.objects[k]
        if "$o" in node and self.originals is not None:
            k = node["$o"]
            if type(k) is not int or k not in self.originals:
                raise ProtocolError("bad reference to an argument")
            return self.originals[k]
        if self.special is None:
            raise ProtocolError("unexpected value")
        return self.special(node, self)


def short(text: Any, limit: int = 300) -> str:
    """``str(text)`` without control characters, cut to ``limit`` characters."""
    s = text if isinstance(text, str) else str(text)
    s = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in s[: limit + 1])
    return s if len(s) <= limit else s[: limit - 3] + "..."
