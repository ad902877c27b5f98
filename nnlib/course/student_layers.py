"""Train networks built from the student's own exercise functions.

:func:`student_layers` reads the exercise files of an implementation (by default the
student's ``exercises/``, the folder :func:`nnlib.grading.check` tests) and returns a
:class:`StudentLayers` namespace whose layer classes call those functions::

    from nnlib.grading import student_layers
    mine = student_layers()
    needed = ("Dense", "ReLU", "softmax_cross_entropy")
    if mine.missing_for(*needed):
        print(mine.report(*needed))          # which functions to write, in which file
    else:
        rng = np.random.default_rng(0)
        model = nnlib.Sequential([mine.Dense(64, 100, rng=rng), mine.ReLU(),
                                  mine.Dense(100, 10, rng=rng)])
        nnlib.fit(model, X, y, optimizer=nnlib.SGD(model.parameters(), lr=0.1),
                  loss=mine.softmax_cross_entropy, epochs=10, rng=rng)

Each class subclasses nnlib's layer of the same name and replaces only the arithmetic of
``forward`` and ``backward``: parameters, gradients, buffers, ``train()`` / ``eval()``,
input checks, ``repr``, :func:`nnlib.save` and everything that takes an nnlib layer
(``Sequential``, the optimizers, ``fit``, ``evaluate``, ``gradcheck``) work unchanged.

A function that is still a stub raises :class:`ExerciseNotImplementedError`, naming the
function and its file, as soon as a layer that needs it is built, or when it is called.
:func:`student_function` gives a single function, also re-read from its file every time.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import textwrap
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from nnlib import functional as F
from nnlib import layers as _nn
from nnlib._checks import check_shape
from nnlib.grading.impl import ImplementationError, display_path, impl_dir, load_topic
from nnlib.grading.registry import EXERCISES, TOPICS, topic_of
from nnlib.module import Layer

__all__ = [
    "ExerciseNotImplementedError",
    "StudentLayers",
    "student_layers",
    "student_function",
    "REQUIRES",
]

REQUIRES: dict[str, tuple[str, ...]] = {
    user: tuple(e.function for e in EXERCISES if user in e.used_by)
    for user in dict.fromkeys(u for e in EXERCISES for u in e.used_by)}
"""What each layer class and loss of :class:`StudentLayers` calls, by exercise function.

``BatchNorm(backward_mode="staged")`` calls ``batchnorm_backward`` instead of
``batchnorm_backward_fast``.
"""

LAYERS = ("Dense", "ReLU", "Sigmoid", "Tanh", "BatchNorm", "Dropout", "LayerNorm")
LOSSES = ("softmax_cross_entropy", "mse_loss", "binary_cross_entropy_with_logits")
_LOSS_KIND = {"softmax_cross_entropy": "multiclass", "mse_loss": "regression",
              "binary_cross_entropy_with_logits": "binary"}
_WIDTH = 88


class ExerciseNotImplementedError(NotImplementedError):
    """An exercise function that is not written yet (still the stub) was needed.

    The message names the function and the file to write it in, e.g.
    ``dense_backward is not implemented yet: write it in exercises/dense.py``.

    Attributes
    ----------
    functions : list of str
        The functions that are missing (may be empty when the error was re-raised with
        only a message, as :class:`nnlib.Sequential` does to add the layer's index).
    """

    def __init__(self, message: str, functions: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.functions = list(functions)


# ---------------------------------------------------------------------------- stubs
def _is_stub(node: ast.FunctionDef) -> bool:
    """True when the body is (a docstring and) ``raise NotImplementedError[(...)]``."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _stubs_and_defined(path: Path) -> tuple[set[str], set[str]]:
    """``(stub functions, defined functions)`` of the module-level defs in ``path``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return set(), set()
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return {n.name for n in defs if _is_stub(n)}, {n.name for n in defs}


def _raised_in(exc: BaseException, path: Path) -> bool:
    """True when the innermost frame of ``exc``'s traceback runs code of file ``path``."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    try:
        return Path(last.tb_frame.f_code.co_filename).resolve() == path.resolve()
    except OSError:  # pragma: no cover - unresolvable path
        return False


def _shape_of(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"shape {tuple(shape)}"
    return type(value).__name__


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=indent,
                         subsequent_indent=indent + "  ", break_on_hyphens=False) or [indent]


# ---------------------------------------------------------------------------- namespace
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
            stubs, defined = _stubs_and_defined(path)
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
        for cls in _CLASSES:
            generated = type(cls.__name__, (cls,), {"_impl": self, "__module__": __name__,
                                                    "__qualname__": cls.__name__,
                                                    "__doc__": cls.__doc__})
            setattr(self, cls.__name__, generated)
        for name in LOSSES:
            setattr(self, name, self._loss(name))

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
            elif name in order:
                needed.add(name)
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
            (``"softmax_cross_entropy"``, ...) or exercise function names. None: all.

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
            if _raised_in(e, self._paths[name]):
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

    def _loss(self, name: str) -> Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]:
        impl = self

        def loss(pred: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
            value, dpred = impl._result(name, impl.call(name, pred, y), 2)
            pred = np.asarray(pred)
            dpred = impl._expect(name, "the gradient", dpred, pred.shape, pred.dtype)
            return float(value), dpred

        loss.__name__ = loss.__qualname__ = name
        loss.__doc__ = (f"The exercise function {name} of {self._files[name]}: "
                        "``(pred, y) -> (loss, dpred)``.")
        loss.loss_kind = _LOSS_KIND[name]  # type: ignore[attr-defined]
        return loss

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
            self._require(_needs(mine, layer), name)
            layer.__class__ = mine


def _needs(cls: type, layer: Layer) -> tuple[str, ...]:
    needs = REQUIRES[cls.__name__]
    if cls.__name__ == "BatchNorm" and getattr(layer, "backward_mode", "fast") == "staged":
        needs = tuple("batchnorm_backward" if n == "batchnorm_backward_fast" else n
                      for n in needs)
    return needs


# ---------------------------------------------------------------------------- layers
class _Mine:
    """Mixin of the student layers: the namespace they call into, checked at build time."""

    _impl: StudentLayers

    def _check_written(self) -> None:
        self._impl._require(_needs(type(self), self), type(self).__name__)  # type: ignore[arg-type]


class Dense(_Mine, _nn.Dense):
    """nnlib's Dense whose passes are the student's ``dense_forward`` / ``dense_backward``.

    Same arguments as :class:`nnlib.Dense`. Without a bias (``bias=False``) a zero bias
    is passed to ``dense_forward`` and ``db`` is ignored.
    """

    def __init__(self, in_features: int, out_features: int,
                 init: str | Callable[..., np.ndarray] = "xavier",
                 rng: np.random.Generator | None = None, dtype: Any = np.float64,
                 bias: bool = True) -> None:
        self._check_written()
        super().__init__(in_features, out_features, init=init, rng=rng, dtype=dtype, bias=bias)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``dense_forward(x, W, b)``; x of shape (N, in_features), returns (N, out_features)."""
        x = self.check_input(x)
        W = self.params["W"]
        b = self.params["b"] if self.bias else np.zeros(self.out_features, dtype=self.dtype)
        impl = self._impl
        z, cache = impl._result("dense_forward", impl._call(
            "dense_forward", (x, W, b), expected=f"z of shape {(x.shape[0], self.out_features)}"),
            2)
        z = impl._expect("dense_forward", "z", z, (x.shape[0], self.out_features), self.dtype,
                         " = (N, out): z = x @ W.T + b")
        self.save_for_backward((cache, x.shape[0]))
        return z

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """``dense_backward(dout, cache)``: stores dW and db, returns dx (N, in_features).

        ``dense_backward`` computes dx in any case; with ``input_grad=False`` it is checked
        and dropped (None is returned).
        """
        cache, n = self.saved_for_backward()
        check_shape(dout, (n, self.out_features), self.name, "dout")
        impl = self._impl
        want = (f"dx of shape {(n, self.in_features)}, dW of shape {self.params['W'].shape} "
                f"and db of shape {(self.out_features,)}")
        dx, dW, db = impl._result("dense_backward", impl._call("dense_backward", (dout, cache),
                                                               expected=want), 3)
        dx = impl._expect("dense_backward", "dx", dx, (n, self.in_features), self.dtype,
                          " (the shape of x)")
        dW = impl._expect("dense_backward", "dW", dW, self.params["W"].shape, self.dtype,
                          " (the shape of W, (out, in))")
        self.grads["W"][...] = dW
        if self.bias:
            db = impl._expect("dense_backward", "db", db, (self.out_features,), self.dtype,
                              " (the shape of b, (out,))")
            self.grads["b"][...] = db
        return dx if input_grad else None


class _Activation(_Mine):
    """Mixin of the student's activations: their passes call ``_fwd`` and ``_bwd``."""

    _fwd = ""
    _bwd = ""

    def __init__(self) -> None:
        self._check_written()
        super().__init__()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The student's ``*_forward`` elementwise; output has the shape and dtype of ``x``."""
        x = self.check_input(x)  # type: ignore[attr-defined]
        impl = self._impl
        out, cache = impl._result(self._fwd, impl.call(self._fwd, x), 2)
        out = impl._expect(self._fwd, "out", out, x.shape, x.dtype if
                           np.issubdtype(x.dtype, np.floating) else None)
        self.save_for_backward((cache, x.shape))  # type: ignore[attr-defined]
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """The student's ``*_backward(dout, cache)``; returns dL/dx (None without input_grad)."""
        cache, shape = self.saved_for_backward()  # type: ignore[attr-defined]
        if not input_grad:
            return None
        check_shape(dout, shape, self.name, "dout")  # type: ignore[attr-defined]
        impl = self._impl
        dx = impl.call(self._bwd, dout, cache)
        return impl._expect(self._bwd, "dx", dx, shape, np.asarray(dout).dtype)


class ReLU(_Activation, _nn.ReLU):
    """nnlib's ReLU running the student's ``relu_forward`` / ``relu_backward``."""

    _fwd, _bwd = "relu_forward", "relu_backward"


class Sigmoid(_Activation, _nn.Sigmoid):
    """nnlib's Sigmoid running the student's ``sigmoid_forward`` / ``sigmoid_backward``."""

    _fwd, _bwd = "sigmoid_forward", "sigmoid_backward"


class Tanh(_Activation, _nn.Tanh):
    """nnlib's Tanh running the student's ``tanh_forward`` / ``tanh_backward``."""

    _fwd, _bwd = "tanh_forward", "tanh_backward"


class BatchNorm(_Mine, _nn.BatchNorm):
    """nnlib's BatchNorm running the student's batch-normalization functions.

    Same arguments as :class:`nnlib.BatchNorm`. In training mode ``forward`` calls
    ``batchnorm_forward(x, gamma, beta, eps)`` and then
    ``running_stats_update(running_mean, running_var, mu, var, N, momentum)``, where the
    batch mean ``mu`` and biased variance ``var`` are computed by the layer (the student's
    cache has the student's own layout); ``backward`` calls ``batchnorm_backward_fast``
    (``batchnorm_backward`` with ``backward_mode="staged"``). In eval mode ``forward``
    calls ``batchnorm_inference``; the backward pass of that fixed affine map (not an
    exercise) is computed by the layer.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: Any = np.float64, backward_mode: str = "fast") -> None:
        super().__init__(num_features, momentum=momentum, eps=eps, dtype=dtype,
                         backward_mode=backward_mode)
        self._check_written()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize ``x`` of shape (N, num_features) with the student's functions."""
        x = self.check_input(x)  # refuses a training batch of one
        gamma, beta = self.params["gamma"], self.params["beta"]
        impl = self._impl
        shape = x.shape
        if not self.training:
            out = impl.call("batchnorm_inference", x, gamma, beta, self.running_mean,
                            self.running_var, self.eps)
            out = impl._expect("batchnorm_inference", "out", out, shape, self.dtype)
            self.save_for_backward(("eval", x, shape))
            return out
        out, cache = impl._result("batchnorm_forward",
                                  impl.call("batchnorm_forward", x, gamma, beta, self.eps), 2)
        out = impl._expect("batchnorm_forward", "out", out, shape, self.dtype)
        mu = x.mean(axis=0)
        var = np.mean((x - mu) ** 2, axis=0)
        new = impl._result("running_stats_update", impl.call(
            "running_stats_update", self.running_mean.copy(), self.running_var.copy(), mu, var,
            x.shape[0], self.momentum), 2)
        d = (self.num_features,)
        new_mean = impl._expect("running_stats_update", "new_mean", new[0], d, self.dtype)
        new_var = impl._expect("running_stats_update", "new_var", new[1], d, self.dtype)
        self.buffers["running_mean"][...] = new_mean  # in place: gradcheck restores these
        self.buffers["running_var"][...] = new_var
        self.save_for_backward(("train", cache, shape))
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dgamma and dbeta (num_features,), return dx (N, num_features).

        The student's backward computes dx in any case; with ``input_grad=False`` it is
        checked and dropped (None is returned).
        """
        mode, cache, shape = self.saved_for_backward()
        check_shape(dout, shape, self.name, "dout")
        impl = self._impl
        if mode == "eval":
            x = cache
            _, ref_cache = F.batchnorm_inference_forward(
                x, self.params["gamma"], self.params["beta"], self.running_mean,
                self.running_var, self.eps)
            dx, dgamma, dbeta = F.batchnorm_inference_backward(dout, ref_cache)
        else:
            name = "batchnorm_backward" if self.backward_mode == "staged" \
                else "batchnorm_backward_fast"
            dx, dgamma, dbeta = impl._result(name, impl.call(name, dout, cache), 3)
            d = (self.num_features,)
            dx = impl._expect(name, "dx", dx, shape, self.dtype, " (the shape of x)")
            dgamma = impl._expect(name, "dgamma", dgamma, d, self.dtype)
            dbeta = impl._expect(name, "dbeta", dbeta, d, self.dtype)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx if input_grad else None


class LayerNorm(_Mine, _nn.LayerNorm):
    """nnlib's LayerNorm running ``layernorm_forward`` / ``layernorm_backward``."""

    def __init__(self, num_features: int, eps: float = 1e-5, dtype: Any = np.float64) -> None:
        self._check_written()
        super().__init__(num_features, eps=eps, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize each row of ``x`` (N, num_features) with ``layernorm_forward``."""
        x = self.check_input(x)
        impl = self._impl
        out, cache = impl._result("layernorm_forward", impl.call(
            "layernorm_forward", x, self.params["gamma"], self.params["beta"], self.eps), 2)
        out = impl._expect("layernorm_forward", "out", out, x.shape, self.dtype)
        self.save_for_backward((cache, x.shape))
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Store dgamma and dbeta, return dx (N, num_features), or None without input_grad."""
        cache, shape = self.saved_for_backward()
        check_shape(dout, shape, self.name, "dout")
        impl = self._impl
        dx, dgamma, dbeta = impl._result("layernorm_backward",
                                         impl.call("layernorm_backward", dout, cache), 3)
        d = (self.num_features,)
        dx = impl._expect("layernorm_backward", "dx", dx, shape, self.dtype)
        self.grads["gamma"][...] = impl._expect("layernorm_backward", "dgamma", dgamma, d,
                                                self.dtype)
        self.grads["beta"][...] = impl._expect("layernorm_backward", "dbeta", dbeta, d,
                                               self.dtype)
        return dx if input_grad else None


class Dropout(_Mine, _nn.Dropout):
    """nnlib's Dropout running ``dropout_forward(x, p, rng, training)`` / ``dropout_backward``."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        self._check_written()
        super().__init__(p=p, rng=rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Drop and rescale in training; identity in inference. Same shape as ``x``."""
        x = self.check_input(x)
        impl = self._impl
        out, cache = impl._result("dropout_forward", impl.call(
            "dropout_forward", x, self.p, self.rng, self.training), 2)
        out = impl._expect("dropout_forward", "out", out, x.shape,
                           x.dtype if np.issubdtype(x.dtype, np.floating) else None)
        self.save_for_backward((cache, x.shape))
        return out

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """``dropout_backward(dout, cache)`` with the forward's cache (None without input_grad)."""
        cache, shape = self.saved_for_backward()
        if not input_grad:
            return None
        check_shape(dout, shape, self.name, "dout")
        impl = self._impl
        dx = impl.call("dropout_backward", dout, cache)
        return impl._expect("dropout_backward", "dx", dx, shape, np.asarray(dout).dtype)


_CLASSES = (Dense, ReLU, Sigmoid, Tanh, BatchNorm, Dropout, LayerNorm)


# ---------------------------------------------------------------------------- entry points
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
    stubs, _ = _stubs_and_defined(path)

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
            if _raised_in(e, path):
                raise ExerciseNotImplementedError(message, [name]) from None
            raise

    return wrapper
