"""The messages a student reads when one of their functions fails, composed by the judge.

A message holds the test's curated text or, for a failure inside the student's code, the
exception's type, its message (truncated) and the line of the student's file that raised
it, as a path relative to the submission (``dense.py, line 12``). It never holds test
source, a traceback, or a path of the grading machine. For numpy shape errors it adds the
shapes of the arguments and, where the grader knows it, the shape the output should have.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnlib.grading.registry import EXERCISES
from nnlib.grading.sandboxed.protocol import short

MAX_MESSAGE = 600
"""Characters of a failure message kept (the rest is cut with ``...``)."""
MAX_EXCEPTION_TEXT = 300
"""Characters of a student exception's own message kept."""

_SHAPE_WORDS = re.compile(
    r"could not be broadcast|broadcast input array|mismatch in its core dimension|"
    r"shapes? .* not aligned|cannot reshape|dimension mismatch|input operand|"
    r"must have the same shape|input array dimensions|inconsistent shapes|size \d+ is different"
    r"|matmul|incompatible|got \d+ dimensions?|array is \d-dimensional|axis \d+ is out of bounds",
    re.IGNORECASE)


_PATHS: list[str] = []


def remember_paths(*paths: str | os.PathLike[str]) -> None:
    """Paths of the grading machine that :func:`scrub_paths` removes from messages."""
    for p in paths:
        s = str(p)
        for v in {s, os.path.realpath(s)} if s else ():
            if v not in _PATHS and v != os.sep:
                _PATHS.append(v)
    _PATHS.sort(key=len, reverse=True)


def scrub_paths(text: str) -> str:
    """``text`` without the remembered paths (the course, the Python installation, ...)."""
    for p in _PATHS:
        text = text.replace(p + os.sep, "").replace(p, "")
    return re.sub(r"/tmp/nnlib-[\w.-]+/", "", text)


class StudentError(Exception):
    """An exercise function failed in the student's code; ``message`` is for the student.

    Attributes
    ----------
    function : str
        The exercise function the test called.
    kind : str
        ``"exception"``, ``"exit"``, ``"timeout"``, ``"crash"``, ``"protocol"``,
        ``"output"``, ``"deadline"`` or ``"unsendable"``.
    type_name : str
        For ``"exception"``: the exception's class name (``"NotImplementedError"``, ...).
    message : str
        The composed, curated message.
    """

    def __init__(self, function: str, kind: str, message: str, type_name: str = "") -> None:
        super().__init__(message)
        self.function = function
        self.kind = kind
        self.type_name = type_name
        self.message = message

    @property
    def not_implemented(self) -> bool:
        """True when the function raised NotImplementedError (a stub)."""
        return self.kind == "exception" and self.type_name == "NotImplementedError"


def where_text(where: Sequence[Sequence[Any]], function: str) -> str:
    """`` (dense.py, line 12)`` for the innermost frame of the student's file, or ``""``."""
    if not where:
        return ""
    file, line, name = where[-1]
    inside = f", in {name}" if name not in (function, "<module>") else ""
    return f" ({file}, line {line}{inside})"


def describe_value(v: Any) -> str:
    """A short description of an argument for a shape message: ``shape (2, 3)``, ``float``."""
    if isinstance(v, np.ndarray):
        return f"shape {tuple(v.shape)}"
    if isinstance(v, (list, tuple)):
        return f"a {type(v).__name__} of {len(v)}"
    return type(v).__name__


def _shape(v: Any) -> tuple[int, ...] | None:
    return tuple(v.shape) if isinstance(v, np.ndarray) else None


# function -> (its arguments in parameter order -> (output name, expected shape) or None)
Rule = Callable[[list[Any]], "tuple[str, tuple[int, ...]] | None"]
EXPECTED_SHAPES: dict[str, Rule] = {}


def _arg(values: list[Any], i: int) -> Any:
    return values[i] if i < len(values) else None


def _same_as(i: int, out: str) -> Rule:
    def rule(values: list[Any]) -> tuple[str, tuple[int, ...]] | None:
        s = _shape(_arg(values, i))
        return (out, s) if s is not None else None
    return rule


def _dense(values: list[Any]) -> tuple[str, tuple[int, ...]] | None:
    x, w = _shape(_arg(values, 0)), _shape(_arg(values, 1))
    if x is not None and w is not None and len(x) == 2 and len(w) == 2:
        return "z", (x[0], w[0])
    return None


def _fan(values: list[Any]) -> tuple[str, tuple[int, ...]] | None:
    fo, fi = _arg(values, 0), _arg(values, 1)
    if type(fo) is int and type(fi) is int:
        return "W", (fo, fi)
    return None


def _rule(spec: tuple) -> Rule | None:
    """The rule of a registry shape spec (see :mod:`nnlib.grading.registry`)."""
    if not spec:
        return None
    kind = spec[0]
    if kind == "same":
        return _same_as(spec[1], spec[2])
    if kind == "dense":
        return _dense
    if kind == "fan":
        return _fan
    raise ValueError(f"unknown shape rule {spec!r}")


EXPECTED_SHAPES.update({e.function: rule for e in EXERCISES
                        if (rule := _rule(e.shape)) is not None})


def is_shape_error(type_name: str, text: str) -> bool:
    """True for numpy's errors about shapes, broadcasting, matmul and reshape."""
    return (type_name in ("ValueError", "IndexError", "AxisError")
            and bool(_SHAPE_WORDS.search(text)))


def shape_hint(function: str, named: dict[str, Any]) -> str:
    """`` It was called with x of shape (2, 3), W of shape (2, 3); z should have ...``."""
    parts = [f"{name} of {describe_value(v)}" for name, v in named.items()
             if isinstance(v, np.ndarray)]
    if not parts:
        return ""
    text = f" It was called with {', '.join(parts)}"
    rule = EXPECTED_SHAPES.get(function)
    expected = rule(list(named.values())) if rule else None
    if expected is not None:
        text += f"; {expected[0]} should have shape {expected[1]}"
    return text + "."


def exception_message(function: str, type_name: str, text: str,
                      where: Sequence[Sequence[Any]], named: dict[str, Any] | None = None,
                      code: str | None = None) -> str:
    """The message for an exception raised by the student's ``function``."""
    at = where_text(where, function)
    text = one_line(text)
    if type_name == "NotImplementedError":
        return f"{function} is not implemented yet"
    if type_name == "SystemExit":
        return (f"{function} called sys.exit({code or text}): exercise code must return, "
                f"not exit{at}")
    if type_name.endswith("Warning"):
        return cut(f"{function}: {type_name} (warnings count as errors): {text}{at}")
    message = f"{function} raised {type_name}: {text}{at}"
    if named is not None and is_shape_error(type_name, text):
        hint = shape_hint(function, named)
        if hint:
            message += "." + hint
    return cut(message)


def one_line(text: str, limit: int = MAX_EXCEPTION_TEXT) -> str:
    """The student's ``text`` (an exception's message) as one printable line.

    Its line breaks would otherwise start lines of the feedback that look like the judge's
    (a test "passed", a fake total); paths are scrubbed, and it is cut to ``limit``.
    """
    return short(" ".join(scrub_paths(text).split()), limit)


def cut(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` stripped, at most ``limit`` characters."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def named_arguments(params: Sequence[str] | None, args: Sequence[Any],
                    kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map positional arguments to parameter names (``#1``, ``#2`` when unknown)."""
    named: dict[str, Any] = {}
    for i, v in enumerate(args):
        name = params[i] if params is not None and i < len(params) else f"#{i + 1}"
        named[name] = v
    named.update(kwargs)
    return named
