"""What the tests hold of the student's code: remote modules, functions and handles.

While grading, the ``impl`` fixture returns a :class:`RemoteImpl`: its attributes are
:class:`RemoteFunction` objects whose calls run in the worker, so the tests read exactly
as they do in process::

    z, cache = impl.dense_forward(X, W, B)        # z: ndarray; cache: plain data or a handle
    dx, dW, db = call(impl.dense_backward, dz, cache)

:class:`Values` is how the judge's side encodes and decodes what is not plain data: a
value the worker keeps comes back as a :class:`Handle` (usable only in a later call to the
same worker), an ``np.random.Generator`` travels as its state, and a function the test
passes (the ``f`` of ``numerical_gradient``) stays here as a *callback* that the worker
may call only while the call that received it runs.
"""

from __future__ import annotations

import inspect
import math
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import Decoder, Encoder, ProtocolError

if TYPE_CHECKING:
    from nnlib.grading.judge.session import WorkerSession

__all__ = ["Handle", "RemoteFunction", "RemoteImpl", "StaleHandle", "Values",
           "MAX_HANDLES", "MAX_HANDLE_TYPES"]

MAX_HANDLES = 10_000
"""Most opaque values (handles) the judge accepts in one reply."""
MAX_HANDLE_TYPES = 64
"""Distinct handle class names the judge makes; later names all share the class ``object``
(the judge's memory stays bounded whatever names the worker reports)."""
MAX_RELEASES = 100_000
"""Handles dropped by the tests, remembered until the next request tells the worker."""
CALLBACK_FLOOR = (2, 16)
"""The sizes a callback always accepts, whatever its call received: arrays of two
dimensions of 16, and lists, tuples and dicts of 16 items (a cache of a few arrays)."""
CALLBACK_NUMBERS = 16
"""A callback's argument may hold this many times the numbers of its call's largest
argument (a cache holds a few arrays of the layer's sizes)."""


def extent(value: Any) -> tuple[int, int, float]:
    """Most dimensions of an array in ``value``, largest dimension or length, and numbers.

    ``value`` is plain data: arrays, and lists, tuples and dicts of them. A container's
    number of items counts as a length. Each object is looked at once, but its numbers
    count every time it is referred to: the worker can send one list that holds another
    sixteen times, and so on, in a few bytes, which numpy would make an array of any size.
    A container that holds itself holds infinitely many.
    """
    most = [0, 0]
    memo: dict[int, float] = {}

    def numbers(v: Any, open_: set[int]) -> float:
        key = id(v)
        if key in memo:
            return memo[key]
        if isinstance(v, np.ndarray):
            most[:] = max(most[0], v.ndim), max([most[1], *v.shape])
            n = float(v.size)
        elif isinstance(v, (list, tuple, dict)):
            if key in open_:
                return math.inf
            open_.add(key)
            most[1] = max(most[1], len(v))
            n = sum(numbers(x, open_) for x in (v.values() if isinstance(v, dict) else v))
            open_.discard(key)
        else:
            n = 1.0
        memo[key] = n
        return n

    n = numbers(value, set())
    return most[0], most[1], n


def _largest(args: tuple, kwargs: dict[str, Any]) -> tuple[int, int, float]:
    """The :func:`extent` of a call's arguments: the largest of each, over the arguments."""
    found = [extent(a) for a in (*args, *kwargs.values())] or [(0, 0, 0.0)]
    return tuple(max(e[i] for e in found) for i in range(3))  # type: ignore[return-value]


class StaleHandle(Exception):
    """A handle of an earlier worker (before a restart) was passed to a call."""


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


def _handle_class(name: Any) -> type:
    name = name if isinstance(name, str) and name.isidentifier() and len(name) <= 60 else "object"
    if name not in _handle_types and len(_handle_types) >= MAX_HANDLE_TYPES - 1:
        name = "object"
    if name not in _handle_types:
        _handle_types[name] = type(name, (Handle,), {"__slots__": ()})
    return _handle_types[name]


class Values:
    """The judge's hooks for the values of one worker session (see the module docstring).

    ``generation`` returns the current worker's generation: handles of another generation
    are stale.
    """

    def __init__(self, generation: Any) -> None:
        self.generation = generation
        self.callbacks: dict[int, Any] = {}
        self._next_callback = 1
        self.releases: list[int] = []
        self.callback_limits = (*CALLBACK_FLOOR, CALLBACK_NUMBERS * CALLBACK_FLOOR[1] ** 2)

    def limit_callbacks(self, args: tuple, kwargs: dict[str, Any]) -> None:
        """Let the callbacks of this call compute only on arrays as large as it received.

        No more dimensions, none longer, and no more than :data:`CALLBACK_NUMBERS` times the
        numbers of its largest argument (or :data:`CALLBACK_FLOOR`): the worker cannot make
        the judge compute on arrays of its own choosing, or of any size.
        """
        ndim, dim, most = _largest(args, kwargs)
        self.callback_limits = (max(ndim, CALLBACK_FLOOR[0]), max(dim, CALLBACK_FLOOR[1]),
                                CALLBACK_NUMBERS * max(most, CALLBACK_FLOOR[1] ** 2))

    def _too_large(self, name: str, args: tuple, kwargs: dict[str, Any]) -> str:
        """Why a callback's arguments are refused, or "" when they are not."""
        ndim, dim, numbers = _largest(args, kwargs)
        most_ndim, most_dim, most_numbers = self.callback_limits
        if ndim <= most_ndim and dim <= most_dim and numbers <= most_numbers:
            return ""
        return (f"{name}: the grader's functions accept arrays of at most {most_ndim} "
                f"dimensions of at most {most_dim} each, and at most {most_numbers:.0f} "
                f"numbers in one argument (as large as the arguments of the call that "
                f"received them); got {ndim} dimensions, a length of {dim}, or "
                f"{numbers:.0f} numbers")

    def encoder(self, number: bool = False) -> Encoder:
        """An encoder for a request (``number``: report in-place changes)."""
        return Encoder(other=self._encode_other, number=number)

    def decoder(self, buffers: list[bytearray], originals: dict[int, Any] | None = None
                ) -> Decoder:
        """A decoder for a reply."""
        return Decoder(buffers, special=self._special, originals=originals)

    def _encode_other(self, v: Any, enc: Encoder) -> dict[str, Any]:
        if isinstance(v, Handle):
            if v._gen != self.generation():
                raise StaleHandle
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
            gen = self.generation()
            handle = _handle_class(node.get("ty"))(node["$h"], gen)
            weakref.finalize(handle, self._release, gen, node["$h"])
            return handle
        raise ProtocolError("unexpected value from the worker")

    def _release(self, gen: int, hid: int) -> None:
        if gen == self.generation() and len(self.releases) < MAX_RELEASES:
            self.releases.append(hid)

    def take_releases(self) -> list[int]:
        """The handles to tell the worker about with the next request (then forgotten)."""
        out, self.releases = self.releases, []
        return out

    def forget(self) -> None:
        """A new worker: nothing of the old one is held any more."""
        self.releases.clear()
        self.callbacks.clear()

    def answer_callback(self, header: dict[str, Any], buffers: list[bytearray]
                        ) -> tuple[dict[str, Any], list[Any]]:
        """The reply to the worker's callback ``header``.

        Raises :class:`ProtocolError` for a callback the running call was not given.
        """
        from nnlib.grading.judge.feedback import StudentError

        dec = self.decoder(buffers)
        args, kwargs = dec.decode(header.get("args")), dec.decode(header.get("kw"))
        if type(args) is not tuple or type(kwargs) is not dict or not all(
                isinstance(k, str) for k in kwargs):
            raise ProtocolError("bad callback arguments")
        cid = header.get("cb")
        fn = self.callbacks.get(cid) if type(cid) is int else None
        if fn is None:  # only the callbacks of the running call are answered
            raise ProtocolError("a function was called back that the running call was not "
                                "given (functions a call receives work only during that call)")
        refused = self._too_large(str(getattr(fn, "__name__", "f"))[:60], args, kwargs)
        if refused:
            return protocol.error(header.get("id"), {"type": "ValueError", "msg": refused}), []
        enc = Encoder(other=self._encode_other)
        try:
            reply = protocol.ok(header.get("id"), enc.encode(fn(*args, **kwargs)))
        except StudentError:
            raise
        except Exception as e:  # noqa: BLE001 - the test's function failed on the student's input
            reply = protocol.error(header.get("id"), {"type": type(e).__name__,
                                                      "msg": protocol.short(str(e))})
            enc = Encoder()
        return reply, enc.buffers


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
