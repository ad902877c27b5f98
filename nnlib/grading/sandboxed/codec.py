"""Values as JSON nodes plus array buffers: :class:`Encoder` and :class:`Decoder`.

The standard library and numpy only; runs in the sandbox too (see :mod:`.protocol`, which
says what *plain data* is and which tagged forms the two sides agree on). Arrays are rebuilt
with :func:`numpy.frombuffer` from a dtype that must be a plain number or bool type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

try:  # as nnlib.grading.sandboxed.codec, in the judge
    from .wire import ProtocolError
except ImportError:  # as a top-level module beside worker.py, in the sandbox
    from wire import ProtocolError  # type: ignore[no-redef]

__all__ = [
    "LAYOUTS",
    "MAX_DEPTH",
    "MAX_DIMS",
    "MAX_NODES",
    "Decoder",
    "Encoder",
    "array_dtype",
    "layout_of",
    "native",
    "with_layout",
]

MAX_DEPTH = 64
"""Deepest nesting of containers accepted."""
MAX_NODES = 1_000_000
"""Most values (containers, numbers, arrays, ...) in one message."""
MAX_DIMS = 32
_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))$")
LAYOUTS = ("C", "F", "S")
"""How an array argument is laid out: C order, Fortran order, or strided (a view with gaps)."""


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

