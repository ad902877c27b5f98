"""Process-level settings shared by nnlib: the BLAS thread limit and progress bars.

**BLAS threads.** nnlib multiplies small matrices (batches of tens of rows by a few hundred
units), step after step. Extra OpenBLAS threads gain nothing at these sizes, and when
another process competes for the cores (a browser, a notebook kernel next door, a
parallel test run) their spin-waiting makes every product many times slower: the Figure 1
experiment took 81 s instead of 6 s that way. So ``fit``, ``evaluate``, ``predict`` and
every experiment run with one BLAS thread (:func:`one_blas_thread`), and a notebook can
limit its whole kernel with :func:`limit_blas_threads`. The limit is set with
threadpoolctl, so it works whatever the environment variables say, and it is lifted
again when the call returns.

**Progress bars.** :func:`progress_bar` is tqdm's automatic bar (a widget in Jupyter),
switched off when its output is not a terminal, so that a CI log or a pipe does not
receive one endless line of carriage returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "blas_threads", "limit_blas_threads", "one_blas_thread", "progress_bar", "single_threaded_blas",
]

F = TypeVar("F", bound=Callable[..., Any])

_controller: Any = None


def _blas() -> Any:
    """Threadpoolctl's controller of the BLAS libraries loaded in this process (cached)."""
    global _controller
    if _controller is None:
        import numpy  # noqa: F401  (load numpy's BLAS before looking for it)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the ``with`` block with the BLAS limited to one thread, then restore it."""
    with _blas().limit(limits=1, user_api="blas"):
        yield


def single_threaded_blas(func: F) -> F:
    """Decorator: run ``func`` inside :func:`one_blas_thread`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def limit_blas_threads(threads: int = 1) -> None:
    """Limit the BLAS of this whole process (e.g. a notebook kernel) to ``threads`` threads.

    The course's notebooks call it in their first cell: every cell then runs at the speed
    of a quiet machine even while a browser or another kernel keeps the cores busy.

    Parameters
    ----------
    threads : int
        Threads the BLAS may use from now on, at least 1.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"limit_blas_threads: threads must be a positive integer, "
                         f"got {threads!r}.")
    _blas().limit(limits=threads, user_api="blas")


def blas_threads() -> int:
    """The number of threads the BLAS would use now (the largest, if several are loaded)."""
    info = _blas().select(user_api="blas").info()
    return max((int(lib["num_threads"]) for lib in info), default=1)


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm progress bar: a widget in Jupyter, text on a terminal, nothing in a pipe or log.

    Keyword arguments go to tqdm (``total``, ``desc``, ``unit``, ...). With ``file=``, the
    bar is text written to that stream (a TTY) or nothing (not a TTY), never a widget, even
    where an IPython shell exists in the process.
    """
    if "file" in kwargs:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm

    in_notebook = tqdm.__module__.startswith("tqdm.notebook")
    # tqdm's own option: disable=None switches the bar off when the output is not a TTY
    kwargs.setdefault("disable", False if in_notebook else None)
    return tqdm(**kwargs)
