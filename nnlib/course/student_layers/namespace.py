"""The :class:`StudentLayers` namespace and the entry points of the notebooks.

:func:`student_layers` builds a :class:`StudentLayers` from an implementation's files;
:func:`student_function` gives one exercise function, read afresh at every call.
"""

from __future__ import annotations

import functools
import inspect
import os
import textwrap
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from nnlib import layers as _nn
from nnlib.course.student_layers.exercise_files import (
    LAYERS,
    LOSSES,
    REQUIRES,
    ExerciseNotImplementedError,
    raised_in,
    stubs_and_defined,
)
from nnlib.course.student_layers.layers import LAYER_CLASSES, needs, student_loss
from nnlib.grading.impl import ImplementationError, display_path, impl_dir, load_topic
from nnlib.grading.registry import TOPICS, topic_of
from nnlib.module import Layer

_WIDTH = 88
_PACKAGE = __name__.rpartition(".")[0]  # the generated classes' module, as before the split


def _shape_of(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"shape {tuple(shape)}"
    return type(value).__name__


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=indent,
                         subsequent_indent=indent + "  ", break_on_hyphens=False) or [indent]




class StudentLayers:
    """Layer classes and losses that run an implementation's exercise functions.

    Build it with :func:`student_layers`; its files were read when it was built.

    Attributes
    ----------
    source : pathlib.Path
        The implementation folder the functions come from.
    Dense, ReLU, Sigmoid, Tanh, BatchNorm, Dropout, LayerNorm : type
        Subclasses of nnlib's layers of the same name, with the same constructor
        arguments, whose ``forward`` / ``backward`` call the exercise functions (see
        :data:`REQUIRES`).
    softmax_cross_entropy, mse_loss, binary_cross_entropy_with_logits : callable
        ``loss(pred, y) -> (loss, dpred)``: the exercise losses, usable as
        ``nnlib.fit(..., loss=mine.softmax_cross_entropy)`` and in ``nnlib.evaluate``
        (which then report the accuracy as for nnlib's loss of the same kind).
    missing : list of str
        The exercise functions these layers and losses need that are not written yet,
        each as ``"dense_backward (exercises/dense.py)"``, in teaching order.
    problems : list of str
        Exercise files that cannot be used at all (missing, syntax error, forbidden
        import); their functions are listed in :attr:`missing` too.
    """

    def __init__(self, impl: str | os.PathLike[str] | None = None) -> None:
        self.source: Path = impl_dir(impl)
        if not self.source.is_dir():
            raise ImplementationError(f"implementation folder not found: {self.source}")
        self._functions: dict[str, Callable[..., Any]] = {}
        self._files: dict[str, str] = {}  # function -> file as shown to the student
        self._paths: dict[str, Path] = {}
        self._missing: set[str] = set()
        self.problems: list[str] = []
        topics = sorted({topic_of(f) for names in REQUIRES.values() for f in names},
                        key=list(TOPICS).index)
        for topic in topics:
            path = self.source / f"{topic}.py"
            shown = display_path(path)
            stubs, defined = stubs_and_defined(path)
            try:
                module = load_topic(topic, self.source)
            except ImplementationError as e:
                module = None
                self.problems.append(str(e))
            for name in TOPICS[topic]:
                self._files[name] = shown
                self._paths[name] = path
                fn = getattr(module, name, None) if module is not None else None
                if fn is None or not callable(fn) or name in stubs or name not in defined:
                    self._missing.add(name)
                else:
                    self._functions[name] = fn
        for cls in LAYER_CLASSES:
            generated = type(cls.__name__, (cls,), {"_impl": self, "__module__": _PACKAGE,
                                                    "__qualname__": cls.__name__,
                                                    "__doc__": cls.__doc__})
            setattr(self, cls.__name__, generated)
        for name in LOSSES:
            setattr(self, name, student_loss(self, name))

    # ------------------------------------------------------------------ what is missing
    @property
    def missing(self) -> list[str]:
        """Every function the layers and losses need that is not written yet."""
        return self.missing_for(*LAYERS, *LOSSES)

    def _needed(self, names: tuple[str, ...]) -> list[str]:
        order = [f for fs in TOPICS.values() for f in fs]
        needed: set[str] = set()
        for name in names:
            if name in REQUIRES:
                needed.update(REQUIRES[name])
            elif name in self._files:
                needed.add(name)
            elif name in order:  # an exercise whose file these layers never read
                raise ValueError(f"student_layers: {name} ({topic_of(name)}.py) is not used by "
                                 "the layers and losses, so they do not read it")
            else:
                raise ValueError(f"student_layers: unknown layer, loss or function {name!r}; "
                                 f"choose from {', '.join(LAYERS + LOSSES)}")
        return sorted(needed, key=order.index)

    def missing_for(self, *names: str) -> list[str]:
        """The missing functions that the given layers, losses or functions need.

        Parameters
        ----------
        *names : str
            Layer class names (``"Dense"``, ``"BatchNorm"``, ...), loss names
            (``"softmax_cross_entropy"``, ...) or the names of the exercise functions
            they call. None: all.

        Returns
        -------
        list of str
            Each as ``"dense_backward (exercises/dense.py)"``; empty when all are written.
        """
        if not names:
            return self.missing
        return [f"{f} ({self._files[f]})" for f in self._needed(names) if f in self._missing]

    def report(self, *names: str) -> str:
        """A short text saying which functions to write before these layers can train.

        Parameters
        ----------
        *names : str
            As for :meth:`missing_for`; none means every layer and loss.

        Returns
        -------
        str
            Lines of at most 90 characters, e.g.::

                To train with your own layers, write these functions first:
                  exercises/dense.py: dense_forward, dense_backward
                Then run this cell again.
        """
        needed = self._needed(names or (*LAYERS, *LOSSES))
        missing = [f for f in needed if f in self._missing]
        if not missing:
            where = display_path(self.source)
            return (f"Every function these layers need is written ({where}/): "
                    f"{', '.join(needed)}.")
        lines = ["To train with your own layers, write these functions first:"]
        by_file: dict[str, list[str]] = {}
        for f in missing:
            by_file.setdefault(self._files[f], []).append(f)
        for file, functions in by_file.items():
            lines += _wrap(f"{file}: {', '.join(functions)}")
        broken = [p for p in self.problems if any(p.startswith(file) for file in by_file)]
        if broken:
            lines.append("These files cannot be used yet:")
            for problem in broken:
                lines += _wrap(problem)
        lines.append("Then run this cell again.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        where = display_path(self.source) + "/"
        missing = self.missing
        if not missing:
            return f"StudentLayers({where}: every function written)"
        n = len(missing)
        return f"StudentLayers({where}: {n} function{'s' if n != 1 else ''} not written yet)"

    # ------------------------------------------------------------------ calling the student
    def _not_written(self, names: list[str], who: str | None = None) -> ExerciseNotImplementedError:
        if len(names) == 1:
            f = names[0]
            head = f"{who} needs {f}, which" if who else f
            text = f"{head} is not implemented yet: write it in {self._files[f]}"
        else:
            by_file: dict[str, list[str]] = {}
            for f in names:
                by_file.setdefault(self._files[f], []).append(f)
            where = "; ".join(f"{', '.join(fs)} in {file}" for file, fs in by_file.items())
            text = f"{who or 'this'} needs functions that are not implemented yet: write {where}"
        return ExerciseNotImplementedError(text, names)

    def _require(self, names: Iterable[str], who: str) -> None:
        """Raise :class:`ExerciseNotImplementedError` if any of ``names`` is missing."""
        order = [f for fs in TOPICS.values() for f in fs]
        missing = sorted({n for n in names if n in self._missing}, key=order.index)
        if missing:
            raise self._not_written(missing, who)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the exercise function ``name`` with clear errors.

        Raises
        ------
        ExerciseNotImplementedError
            The function is a stub, or raised NotImplementedError itself.
        ValueError
            The function raised a ValueError (typically a shape mismatch in a matrix
            product); the message adds the shapes of the arguments.
        """
        return self._call(name, args, kwargs)

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
              expected: str = "") -> Any:
        """:meth:`call`, with ``expected`` (e.g. "z of shape (60, 100)") for shape errors."""
        kwargs = kwargs or {}
        if name in self._missing:
            raise self._not_written([name]) from None
        fn = self._functions[name]
        try:
            return fn(*args, **kwargs)
        except ExerciseNotImplementedError:
            raise
        except NotImplementedError as e:
            if raised_in(e, self._paths[name]):
                raise self._not_written([name]) from None
            raise
        except ValueError as e:
            try:
                bound = inspect.signature(fn).bind(*args, **kwargs).arguments
            except (TypeError, ValueError):
                bound = {f"argument {i + 1}": a for i, a in enumerate(args)}
            shapes = ", ".join(f"{k} of {_shape_of(v)}" for k, v in bound.items()
                               if hasattr(v, "shape"))
            want = f"; it should return {expected}" if expected else ""
            raise ValueError(f"{name} ({self._files[name]}) raised ValueError: {e} "
                             f"(called with {shapes}{want})") from e

    def _result(self, name: str, value: Any, n: int) -> tuple[Any, ...]:
        """``value`` as a tuple of ``n`` items, or a TypeError naming ``name``."""
        if not isinstance(value, (tuple, list)) or len(value) != n:
            got = type(value).__name__
            if isinstance(value, (tuple, list)):
                got += f" of {len(value)} items"
            raise TypeError(f"{name} ({self._files[name]}) must return a tuple of {n} items, "
                            f"got {got}")
        return tuple(value)

    def _expect(self, name: str, what: str, value: Any, shape: tuple[int, ...],
                dtype: Any, hint: str = "") -> np.ndarray:
        """Check one returned array's shape and dtype; return it as an array."""
        if not isinstance(value, (np.ndarray, np.generic)):
            raise TypeError(f"{name} ({self._files[name]}) returned {what} of type "
                            f"{type(value).__name__}, expected an array of shape {shape}")
        if value.shape != tuple(shape):
            raise ValueError(f"{name} ({self._files[name]}) returned {what} of shape "
                             f"{value.shape}, expected {tuple(shape)}{hint}")
        if dtype is not None and value.dtype != np.dtype(dtype):
            raise TypeError(f"{name} ({self._files[name]}) returned {what} of dtype "
                            f"{value.dtype} for {np.dtype(dtype)} inputs: keep the dtype")
        return np.asarray(value)

    # ------------------------------------------------------------------ loading a model
    def load(self, path: str | os.PathLike[str], rng: np.random.Generator | None = None) -> Layer:
        """Load a model saved with :func:`nnlib.save`, rebuilt with these layer classes.

        ``nnlib.load`` on the same file gives nnlib's own layers (same class names, same
        parameters); this gives the student's, so the loaded model runs the exercise
        functions. Layers without a student version (``LeakyReLU``) stay nnlib's.
        """
        from nnlib.io import load

        model = load(path, rng=rng)
        self._adopt(model)
        return model

    def _adopt(self, layer: Layer) -> None:
        for child in getattr(layer, "layers", ()):
            self._adopt(child)
        name = type(layer).__name__
        if name in LAYERS and type(layer) is getattr(_nn, name):
            mine = getattr(self, name)
            self._require(needs(mine, layer), name)
            layer.__class__ = mine



def student_layers(impl: str | os.PathLike[str] | None = None) -> StudentLayers:
    """Layer classes and losses built from an implementation's exercise functions.

    Parameters
    ----------
    impl : str or path-like, optional
        ``"exercises"``, ``"solutions"`` or a folder holding the exercise files. The
        default is the folder :func:`nnlib.grading.check` tests: the environment variable
        ``NNLIB_IMPL``, else ``exercises/`` of the course folder the notebook runs in.

    Returns
    -------
    StudentLayers
        Read afresh from the files at every call: after editing a file, call
        ``student_layers()`` again (no kernel restart). Layers built from an earlier
        namespace keep the functions it read.

    Raises
    ------
    ImplementationError
        When the implementation folder does not exist. A file that is missing, does not
        compile or imports nnlib is listed in ``problems`` and ``missing`` instead.
    """
    return StudentLayers(impl)


def student_function(topic: str, name: str,
                     impl: str | os.PathLike[str] | None = None) -> Callable[..., Any]:
    """One exercise function, read afresh from its file at every call of this function.

    The supported replacement for ``from exercises.dense import dense_forward``, which
    needs ``sys.path`` edits and keeps the old code after the file is edited.

    Parameters
    ----------
    topic : str
        The exercise file, e.g. ``"dense"`` for ``exercises/dense.py``.
    name : str
        The function, e.g. ``"dense_forward"``.
    impl : str or path-like, optional
        As for :func:`student_layers`.

    Returns
    -------
    callable
        The function itself, wrapped so that calling a stub raises
        :class:`ExerciseNotImplementedError` naming the function and its file.

    Raises
    ------
    ValueError
        Unknown topic, or no function of that name in the file.
    ImplementationError
        The file is missing, does not compile, or imports nnlib.
    """
    if topic not in TOPICS:
        raise ValueError(f"student_function: unknown topic {topic!r}; the topics are: "
                         f"{', '.join(TOPICS)}")
    module = load_topic(topic, impl)
    path = Path(module.__file__ or "")
    shown = display_path(path)
    fn = getattr(module, name, None)
    if not isinstance(fn, types.FunctionType):
        raise ValueError(f"student_function: {shown} has no function {name!r}; "
                         f"its exercises are: {', '.join(TOPICS[topic])}")
    stubs, _ = stubs_and_defined(path)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        message = f"{name} is not implemented yet: write it in {shown}"
        if name in stubs:
            raise ExerciseNotImplementedError(message, [name])
        try:
            return fn(*args, **kwargs)
        except ExerciseNotImplementedError:
            raise
        except NotImplementedError as e:
            if raised_in(e, path):
                raise ExerciseNotImplementedError(message, [name]) from None
            raise

    return wrapper
