"""What the worker's replies mean: the student's errors, and the changes a call made.

Pure functions over the plain data a reply holds; nothing the worker sends is trusted
beyond being plain data of the expected form. Only the judge composes what the student
reads (:mod:`nnlib.grading.judge.feedback`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nnlib.grading.judge import feedback
from nnlib.grading.judge.feedback import StudentError
from nnlib.grading.sandboxed import protocol
from nnlib.grading.sandboxed.protocol import Decoder, Encoder, ProtocolError


def error_name(v: Any) -> str:
    """The exception type the worker names, if it is a plain identifier, else "Exception"."""
    return v if isinstance(v, str) and v.isidentifier() and len(v) <= 60 else "Exception"


def frames(where: Any, names: Iterable[str]) -> list[list[Any]]:
    """The last traceback frames ``[file, line, function]`` that lie in the student's files.

    ``names`` are the files as the student sees them; any other frame is left out.
    """
    out = []
    names = set(names)
    if isinstance(where, list):
        for fr in where[-5:]:
            if (isinstance(fr, list) and len(fr) == 3 and fr[0] in names
                    and type(fr[1]) is int and isinstance(fr[2], str)):
                out.append([fr[0], fr[1], fr[2] if fr[2].isidentifier() or fr[2] in (
                    "<module>", "<lambda>", "<listcomp>") else "?"])
    return out


def load_error(shown: str, err: Any, names: Iterable[str]) -> str:
    """What the student reads when importing ``shown`` raised (``err``: the worker's report)."""
    err = err if isinstance(err, dict) else {}
    kind = error_name(err.get("type"))
    text = feedback.one_line(protocol.short(err.get("msg", ""), 4000))
    where = frames(err.get("where"), names)
    if kind == "SyntaxError":
        line = f" line {where[-1][1]}" if where else ""
        return f"{shown}{line}: SyntaxError: {text}"
    at = feedback.where_text(where, "<module>")
    return feedback.cut(f"importing {shown} raised {kind}: {text}{at}")


def student_error(fn: str, err: Any, named: dict[str, Any], names: Iterable[str]) -> StudentError:
    """What the student reads for an exception in their function ``fn``."""
    err = err if isinstance(err, dict) else {}
    kind = error_name(err.get("type"))
    text = feedback.scrub_paths(protocol.short(err.get("msg", ""), 4000))
    if err.get("unsendable"):
        return StudentError(fn, "unsendable", feedback.cut(
            f"{fn} returned a value the grader cannot receive ({kind}: "
            f"{feedback.one_line(text, 200)})"))
    if kind == "WorkerError":  # the worker's own words, but said in the student's process
        return StudentError(fn, "protocol", feedback.cut(f"{fn} could not be called: "
                                                         f"{feedback.one_line(text, 4000)}"))
    code = err.get("code")  # the repr of the exit code: the student's text
    code = feedback.one_line(code, 100) if isinstance(code, str) else None
    message = feedback.exception_message(fn, kind, text, frames(err.get("where"), names),
                                         named, code)
    return StudentError(fn, "exit" if kind == "SystemExit" else "exception", message, kind)


def unreadable(fn: str, e: ProtocolError) -> StudentError:
    """The error for a reply to a call of ``fn`` that could not be read."""
    return StudentError(fn, "protocol", f"{fn}: the worker's reply could not be read "
                        f"({e}); the grader restarted it")


def apply_changes(fn: str, mutations: list, enc: Encoder, dec: Decoder) -> None:
    """Apply what the worker reports its call changed in place to the arguments sent."""
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


def apply_generators(rngs: list, enc: Encoder, dec: Decoder) -> None:
    """Advance the tests' generators as the worker's copies advanced."""
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
