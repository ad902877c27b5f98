"""The wire format between the judge (trusted) and the worker (untrusted student code).

This module imports only the standard library and numpy: the worker runs a copy of it in
its sandbox, where ``nnlib`` does not exist.

A message is a small JSON header followed by raw array buffers (:mod:`.wire` frames it);
its values are encoded and decoded by :mod:`.codec`; this module declares the messages and
re-exports both, so ``protocol`` is the one name either side imports. Loading a message
never runs code, and there is no pickle anywhere. Values are *plain data*:

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

The three files are copied side by side into the sandbox (``FILES`` in
:mod:`nnlib.grading.sandboxed`) and imported there as top-level modules, so each imports its
siblings relatively in the judge and by their plain names in the sandbox.
"""

from __future__ import annotations

from typing import Any

try:  # as nnlib.grading.sandboxed.protocol, in the judge
    from . import codec, wire
    from .codec import *  # noqa: F403 (Encoder, Decoder, the array helpers, their limits)
    from .wire import *  # noqa: F403 (framing, its limits, ProtocolError, Closed)
except ImportError:  # as a top-level module beside worker.py, in the sandbox
    import codec  # type: ignore[no-redef]
    import wire  # type: ignore[no-redef]
    from codec import *  # type: ignore[no-redef]  # noqa: F403
    from wire import *  # type: ignore[no-redef]  # noqa: F403

__all__ = [
    *wire.__all__,
    *codec.__all__,
    "LOAD",
    "CALL",
    "GLOBAL_STATE",
    "BYE",
    "CALLBACK",
    "REQUESTS",
    "hello",
    "load_request",
    "call_request",
    "state_request",
    "bye",
    "callback",
    "ok",
    "error",
    "kind",
    "reply_to",
    "short",
]

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



def short(text: Any, limit: int = 300) -> str:
    """``str(text)`` without control characters, cut to ``limit`` characters."""
    s = text if isinstance(text, str) else str(text)
    s = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in s[: limit + 1])
    return s if len(s) <= limit else s[: limit - 3] + "..."
