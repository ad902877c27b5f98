"""What a test did with the student's functions: the calls it made, and what came back.

:func:`nnlib.grading.judge.testing.call` records each call (the test's own arguments as
they were before it, and the result, or :class:`Raised`); :mod:`.diagnosis` reads them when
the test fails. The record is per test: the plugin calls :func:`reset` as each one starts.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Call", "Raised", "record", "reset", "snapshot", "recorded"]

_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]] = []
_MAX_CALLS = 10_000



def reset() -> None:
    """Forget the calls of the previous test."""
    _CALLS.clear()


def _snapshot(value: Any) -> Any:
    if isinstance(value, np.random.Generator):
        return copy.deepcopy(value)  # the state before the call: the student may advance it
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (tuple, list):
        return type(value)(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def snapshot(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple, dict]:
    """The arguments as they are before a call (generators copied with their state)."""
    return _snapshot(args), _snapshot(kwargs)


class Raised(NamedTuple):
    """A recorded call that raised instead of returning (warnings count as errors)."""

    type_name: str
    text: str


def record(function: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
    """Remember one call of the student's ``function`` made by the running test.

    ``result`` is a :class:`Raised` when the call raised.
    """
    if len(_CALLS) < _MAX_CALLS:
        _CALLS.append((function, args, kwargs, result))


class Call(NamedTuple):
    """One recorded call, with the calls made before it in the same test."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    result: Any
    before: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]]

    def arg(self, i: int, name: str, default: Any = None) -> Any:
        """Argument ``i`` (positional) or ``name`` (keyword), else ``default``."""
        if i < len(self.args):
            return self.args[i]
        return self.kwargs.get(name, default)

    def forward(self, function: str) -> Call | None:
        """The last call of ``function`` before this one (a backward's forward)."""
        for i in range(len(self.before) - 1, -1, -1):
            name, args, kwargs, result = self.before[i]
            if name == function:
                return Call(args, kwargs, result, self.before[:i])
        return None


def recorded() -> list[tuple[str, tuple[Any, ...], dict[str, Any], Any]]:
    """The calls of the running test, oldest first."""
    return _CALLS
