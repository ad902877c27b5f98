"""Helpers shared by the exercise tests (``tests/public`` and ``tests/hidden``).

The test folders' ``conftest.py`` re-export :func:`impl` and :func:`pytest_configure`;
the tests call their function through :func:`call`, which gives it private copies of the
arguments and fails the test with a clear message when the function modifies one of them
in place, and compare with
:func:`assert_close`, whose messages say which output is wrong and where. A backward test
gets its cache through :func:`forward_for_backward`, which marks the test as waiting
(:class:`Waiting`) instead of blaming the backward when the student's forward is wrong.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnlib.grading.impl import local_impl
from nnlib.grading.judge import calls
from nnlib.grading.sandboxed.protocol import layout_of, with_layout


def pytest_configure(config: pytest.Config) -> None:
    """Register the grading markers."""
    config.addinivalue_line("markers", "points(n): points this test is worth when graded")
    config.addinivalue_line("markers", "checks(function): the exercise function this test checks")


@pytest.fixture(scope="module")
def impl(request: pytest.FixtureRequest) -> Any:
    """The implementation of this test file's topic (``test_<topic>.py``).

    While grading, a proxy whose functions run in the sandboxed worker
    (:class:`nnlib.grading.judge.remote.RemoteImpl`); in ``check()`` and plain pytest runs, the
    module loaded afresh in this process.
    """
    from nnlib.grading.judge import session as judge

    topic = Path(str(request.path)).stem.removeprefix("test_")
    session = judge.current()
    if session is not None:
        session.ensure_loaded(topic)
        from nnlib.grading.judge.remote import RemoteImpl

        return RemoteImpl(session, topic)
    return local_impl(topic)


def _private(value: Any) -> Any:
    """A copy of ``value`` for the student's function.

    Arrays are copied (same layout, same read-only flag), tuples, lists and dicts rebuilt
    around copies; anything else (numbers, generators, callables, handles, cache objects)
    is passed as it is.
    """
    if isinstance(value, np.ndarray):
        a = np.asarray(value)  # a subclass arrives as a plain array
        copy = with_layout(np.array(a, order="C", copy=True), layout_of(a))
        if not a.flags.writeable:
            copy.flags.writeable = False
        return copy
    if type(value) in (tuple, list):
        return type(value)(_private(v) for v in value)
    if type(value) is dict:
        return {k: _private(v) for k, v in value.items()}
    return value


def _changed(before: Any, after: Any) -> bool:
    """Whether ``after`` (a :func:`_private` copy after the call) differs from ``before``."""
    if isinstance(before, np.ndarray):
        return not (isinstance(after, np.ndarray) and before.shape == after.shape
                    and before.dtype == after.dtype
                    and np.array_equal(before, after, equal_nan=True))
    if type(before) in (tuple, list):
        return (type(after) is not type(before) or len(before) != len(after)
                or any(_changed(b, a) for b, a in zip(before, after, strict=True)))
    if type(before) is dict:
        return (type(after) is not dict or set(before) != set(after)
                or any(_changed(before[k], after[k]) for k in before))
    return False


def _argument_names(fn: Callable[..., Any], n: int, keywords: Any) -> list[str]:
    """Names of the ``n`` positional and the keyword arguments, for messages only."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [params[i].name if i < len(params) and params[i].kind in positional
             else f"#{i + 1}" for i in range(n)]
    return names + [str(k) for k in keywords]


def call(fn: Callable[..., Any], *args: Any, mutable: tuple[int | str, ...] = (),
         **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` on private copies; fail if it modified any of them.

    The function never sees the test's own arrays: every array argument (also inside
    tuples, lists and dicts) is copied first, with its layout, so an expected value the
    test computes from its arrays, before or after the call, cannot be changed by the
    student. After the call every copy, positional or keyword, whatever the function's
    signature, is compared with the test's array.

    ``mutable`` lists the arguments that the function is meant to update in place, by
    their position in this call (0 for the first positional argument) or by the keyword
    this call passes them with: these are passed as they are, unchecked (``sgd_step``
    updates ``params``, ``mutable=(0,)``). The function's own parameter names play no
    part (they serve the messages only), so a student cannot rename a parameter into
    ``mutable``.
    """
    passed_args = [a if i in mutable else _private(a) for i, a in enumerate(args)]
    passed_kwargs = {k: v if k in mutable else _private(v) for k, v in kwargs.items()}
    name = str(getattr(fn, "__name__", ""))
    before = calls.snapshot(args, kwargs)  # for naming a mistake if the test fails
    try:
        result = fn(*passed_args, **passed_kwargs)
    except Exception as e:
        type_name = getattr(e, "type_name", "") or type(e).__name__
        calls.record(name, *before, calls.Raised(type_name, str(e)))
        raise
    calls.record(name, *before, result)
    names = _argument_names(fn, len(args), kwargs)
    pairs = list(zip(args, passed_args, strict=True)) + [(v, passed_kwargs[k])
                                                         for k, v in kwargs.items()]
    keys: list[int | str] = [*range(len(args)), *kwargs]
    for key, name, (mine, theirs) in zip(keys, names, pairs, strict=True):
        if key not in mutable and _changed(mine, theirs):
            raise AssertionError(
                f"{fn.__name__} modified its argument {name} in place; leave the inputs "
                "unchanged and compute new arrays (x = x - m, not x -= m; and dx = dout "
                "is the same array, not a copy: dx = dout.copy(), or dout * mask)"
            )
    return result


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / max(||a|| + ||b||, 1e-300)`` in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _fmt(v: Any) -> str:
    return np.array2string(np.asarray(v), precision=5, suppress_small=True, threshold=20)


def assert_close(actual: Any, expected: Any, what: str, rtol: float = 1e-7,
                 dtype: Any = None) -> None:
    """Fail unless ``actual`` has the shape (and dtype) of ``expected`` and close values.

    Values are compared by the relative error :func:`rel_error`; the message shows the
    first entry that differs.
    """
    if not isinstance(actual, (np.ndarray, np.generic, float, int)):
        raise AssertionError(f"{what}: expected an array, got {type(actual).__name__}"
                             + _NO_RETURN * (actual is None))
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: wrong shape {actual.shape}, expected {expected.shape}")
    if dtype is not None and actual.dtype != np.dtype(dtype):
        raise AssertionError(f"{what}: wrong dtype {actual.dtype}, expected {np.dtype(dtype)}")
    if not np.all(np.isfinite(actual)):
        raise AssertionError(f"{what}: contains nan or inf: {_fmt(actual)}")
    err = rel_error(actual, expected)
    if err > rtol:
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        i = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        at = f" at index {tuple(int(k) for k in i)}" if diff.ndim else ""
        got, want = float(actual[i]), float(expected[i])
        # as many digits as it takes to see the difference ("got -4, expected -4" hides it)
        digits = next((d for d in range(6, 17) if f"{got:.{d}g}" != f"{want:.{d}g}"), 17)
        raise AssertionError(
            f"{what}: wrong values (relative error {err:.1e}); largest difference{at}: "
            f"got {got:.{digits}g}, expected {want:.{digits}g} "
            f"(a difference of {abs(got - want):.1e})"
        )


def numeric_grad(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                 h: float = 1e-6) -> np.ndarray:
    """Centered differences of ``sum(f(x) * dout)`` with respect to ``x`` (float64).

    ``f`` must be trusted: the reference (``nnlib.functional``), never the student's
    function. A student's forward pass could return its previous result for inputs that
    moved by less than ``h`` and so make every difference zero; the student's backward
    pass is judged against the reference's differences, on the cache of the student's
    own forward pass (:func:`forward_for_backward`).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + h
        plus = float(np.sum(np.asarray(f(x.copy()), dtype=np.float64) * dout))
        x[i] = old - h
        minus = float(np.sum(np.asarray(f(x.copy()), dtype=np.float64) * dout))
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def global_random_state() -> tuple[Any, ...]:
    """A fingerprint of numpy's legacy global generator; it changes whenever it is used.

    While grading it covers the worker's generator too (where the student's code runs).
    """
    from nnlib.grading.judge import session as judge

    name, key, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    here = (name, key.tobytes(), int(pos), int(has_gauss), float(cached))
    session = judge.current()
    return (here, session.global_state() if session is not None else None)


def expect_tuple(result: Any, n: int, what: str) -> tuple[Any, ...]:
    """Fail unless ``result`` is a tuple (or list) of ``n`` items; return it as a tuple."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = f"a {type(result).__name__}"
        if isinstance(result, (tuple, list)):
            got += f" of {len(result)} items"
        raise AssertionError(f"{what} must return a tuple of {n} items, got {got}"
                             + _NO_RETURN * (result is None))
    return tuple(result)


_NO_RETURN = " (a function without a `return` gives None)"


class Waiting(AssertionError):
    """A test cannot judge its function yet: a function it depends on fails.

    Raised by :func:`forward_for_backward`. The grader records the test with the status
    ``"waiting"`` (no points), ``waiting_for`` set to ``function`` and this message, so
    that a correct backward pass is never blamed for a wrong forward pass.
    """

    def __init__(self, message: str, function: str = "") -> None:
        super().__init__(message)
        self.function = function


def forward_for_backward(impl: Any, forward: str, *args: Any, expected: Any, judged: str,
                         rtol: float = 1e-6, **kwargs: Any) -> Any:
    """Run the student's ``forward`` to get a cache for judging ``judged`` (its backward).

    The cache is the student's own format, so a backward pass can only be judged on the
    cache of the student's forward, and only if that forward is right: otherwise a correct
    backward would fail for the forward's mistake.

    Parameters
    ----------
    impl : module or proxy
        The implementation; only ``getattr(impl, forward)(*args, **kwargs)`` is used.
    forward : str
        The forward function, e.g. ``"batchnorm_forward"``.
    *args, **kwargs
        Its arguments.
    expected : ndarray or callable
        The correct output for these arguments, or a function ``check(out)`` that raises
        AssertionError when ``out`` is wrong (for random outputs such as dropout's).
    judged : str
        The function the calling test judges, for the message.
    rtol : float
        Tolerance of the comparison with ``expected``.

    Returns
    -------
    The forward's return value (normally ``(out, cache)``).

    Raises
    ------
    NotImplementedError
        Propagated from the forward: the test is "not implemented", waiting for it.
    Waiting
        The forward raises, modifies its inputs, returns no ``(out, cache)`` pair, or
        returns a wrong ``out``.
    """

    def wait(why: str) -> Waiting:
        why = why.split("; ")[0]  # the first clause says what is wrong; details are elsewhere
        return Waiting(f"waiting for {forward}, which fails its tests ({why}): {judged} is "
                       f"judged on the cache of {forward} once {forward} passes", forward)

    from nnlib.grading.judge.feedback import StudentError

    try:
        result = call(getattr(impl, forward), *args, **kwargs)
    except NotImplementedError:
        raise
    except StudentError as e:  # graded or checked: the judge's message for the student
        if e.not_implemented:
            raise
        raise wait(e.message.replace(f"{forward} raised ", "it raises ", 1)) from None
    except AssertionError as e:  # modified an input in place
        raise wait(str(e)) from None
    except Exception as e:
        raise wait(f"it raises {type(e).__name__}: {str(e)[:200]}") from None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise wait("it must return a tuple (out, cache)") from None
    try:
        if callable(expected):
            expected(result[0])
        else:
            assert_close(result[0], expected, "out", rtol=rtol)
    except AssertionError as e:
        raise wait(str(e)) from None
    return result
