"""The base class every layer shares, and the handle optimizers use for a parameter.

A :class:`Layer` owns three dictionaries:

``params``
    Trainable arrays, e.g. ``{"W": ..., "b": ...}``. Optimizers update them in place.
``grads``
    The gradient of the loss with respect to each parameter, same keys and shapes,
    overwritten (not accumulated) by every ``backward``.
``buffers``
    Non-trainable state that is saved with the model, e.g. BatchNorm's running statistics.

and a ``training`` flag that :meth:`Layer.train` and :meth:`Layer.eval` switch.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from nnlib._checks import as_float


class Parameter:
    """A live handle on one trainable array of one layer.

    Parameters
    ----------
    layer : Layer
        The layer that owns the array.
    key : str
        Its key in ``layer.params`` and ``layer.grads``.
    name : str
        A readable name such as ``"0.W"`` (layer index, then key).

    Notes
    -----
    ``value`` and ``grad`` are looked up on every access, so the handle stays valid when
    a layer replaces its gradient arrays; optimizers must update ``value`` in place.
    """

    __slots__ = ("layer", "key", "name")

    def __init__(self, layer: Layer, key: str, name: str | None = None) -> None:
        self.layer = layer
        self.key = key
        self.name = name if name is not None else key

    @property
    def value(self) -> np.ndarray:
        """The parameter array itself (not a copy)."""
        return self.layer.params[self.key]

    @property
    def grad(self) -> np.ndarray:
        """The gradient from the last backward pass, same shape as :attr:`value`."""
        return self.layer.grads[self.key]

    def __repr__(self) -> str:
        v = self.value
        return f"Parameter({self.name!r}, shape={v.shape}, dtype={v.dtype})"


class Layer:
    """Base class of all layers: a forward map, its backward pass, parameters and a mode.

    Subclasses implement :meth:`forward` and :meth:`backward`, fill ``params``, ``grads``
    and ``buffers`` in their constructor, and store every constructor argument under its
    own name (``self.p = p``), which is what :meth:`config` and ``repr`` read.

    The hooks for subclasses (what nnlib's layers and the student's layers of
    :func:`nnlib.grading.student_layers` use; nothing else of a layer's internals is
    meant to be touched from outside):

    * :meth:`check_input` validates a batch (shape, dtype, and whatever the current mode
      needs) and returns it as an array;
    * :meth:`save_for_backward` / :meth:`saved_for_backward` keep what ``forward``
      computed for ``backward``;
    * :attr:`min_training_batch` tells :func:`nnlib.fit` the smallest batch the layer
      can train on;
    * :meth:`config` / :meth:`from_config` describe and rebuild a layer (used by
      :func:`nnlib.save` and :func:`nnlib.load`).
    """

    min_training_batch: int = 1
    """The smallest batch the layer can take in training mode (BatchNorm's is 2)."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training: bool = True
        self._cache: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        backward = cls.__dict__.get("backward")
        if backward is not None:
            params = inspect.signature(backward).parameters
            if "input_grad" not in params and not any(
                    p.kind is p.VAR_KEYWORD for p in params.values()):
                cls.backward = _accept_input_grad(backward)  # type: ignore[method-assign]

    # -- the two passes ------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return the output for a batch ``x`` of shape (N, D), caching what backward needs."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Given dL/dout, store dL/dparams in ``grads`` and return dL/dx.

        Parameters
        ----------
        dout : ndarray, the shape of the last output
            Gradient of the loss with respect to the output of the last :meth:`forward`.
        input_grad : bool, keyword only
            With ``False`` the layer computes only its parameter gradients and returns
            None: nothing needs dL/dx of a model's first layer (for a first Dense layer
            that saves a matrix product as large as its forward pass).

        Returns
        -------
        ndarray of the input's shape, or None when ``input_grad`` is False.
        """
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Same as :meth:`forward`."""
        return self.forward(x)

    # -- hooks for subclasses ----------------------------------------------------------
    def check_input(self, x: np.ndarray) -> np.ndarray:
        """Return ``x`` as an array after the checks this layer applies to every input.

        The base class converts to a floating array (integers and booleans to float64;
        complex and other values are refused); layers with a fixed number of features
        check the shape (N, features) and the dtype, and BatchNorm in training mode also
        refuses a batch smaller than :attr:`min_training_batch`. Subclasses that replace
        :meth:`forward` call it first, so every input rule lives in one place.
        """
        return as_float(x, self)

    def save_for_backward(self, cache: Any) -> None:
        """Keep ``cache`` (anything: an array, a tuple) for the next :meth:`backward`."""
        self._cache = cache

    def saved_for_backward(self) -> Any:
        """What the last :meth:`forward` saved, or a RuntimeError if there was no forward."""
        if self._cache is None:
            raise RuntimeError(f"{self}: backward() called before forward().")
        return self._cache

    # -- modes -----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Layer:
        """Switch to training mode (or to inference mode with ``mode=False``); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """Switch to inference mode; returns self."""
        return self.train(False)

    # -- parameters --------------------------------------------------------------------
    def parameters(self, prefix: str = "") -> list[Parameter]:
        """Handles on the trainable arrays, in a fixed order, for an optimizer."""
        return [Parameter(self, k, prefix + k) for k in self.params]

    def leaves(self) -> list[Layer]:
        """The layers that compute, in order: ``[self]``, or a container's layers, flattened."""
        return [self]

    def named_arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(key, array)`` for every parameter and buffer (what is saved to disk)."""
        yield from self.params.items()
        yield from self.buffers.items()

    # -- persistence and display ---------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (without its arrays).

        Derived from the constructor's signature, as scikit-learn's ``get_params``: every
        parameter except ``rng`` (random generators are never saved), read from the
        attribute of the same name. A dtype is given by its name (``"float64"``) and a
        numpy scalar as a Python number, so that the result is JSON.

        Raises
        ------
        TypeError
            When a constructor parameter is not stored as an attribute of its name (then
            store it, or override ``config``).
        """
        out: dict[str, Any] = {}
        for name, _ in _signature(type(self)):
            if not hasattr(self, name):
                raise TypeError(
                    f"{type(self).__name__}.config(): the constructor parameter {name!r} is "
                    f"not stored as self.{name}; store it under its own name or override "
                    "config().")
            out[name] = _plain(getattr(self, name))
        return out

    @classmethod
    def from_config(cls, config: dict[str, Any], *,
                    rng: np.random.Generator | None = None) -> Layer:
        """Build a layer from :meth:`config` (its arrays are filled in afterwards).

        Parameters
        ----------
        config : dict
            Constructor arguments, as :meth:`config` returns them.
        rng : numpy.random.Generator, optional
            Passed on as ``rng=`` when the constructor takes one (e.g. Dropout's masks).

        Raises
        ------
        TypeError
            When the constructor takes ``rng`` and none is given.
        """
        kwargs = dict(config)
        if "rng" in inspect.signature(cls).parameters:
            if rng is None:
                raise TypeError(
                    f"{cls.__name__} draws random numbers and its generator is not saved: pass "
                    "rng=np.random.default_rng(seed). nnlib never uses numpy's global "
                    "random state.")
            kwargs["rng"] = rng
        return cls(**kwargs)

    def __repr__(self) -> str:
        """``Name(required, ..., keyword=value, ...)`` from the constructor's arguments."""
        args = []
        for name, default in _signature(type(self)):
            value = getattr(self, name, _MISSING)
            if value is _MISSING:
                continue
            shown = value.name if isinstance(value, np.dtype) else repr(value)
            args.append(shown if default is inspect.Parameter.empty else f"{name}={shown}")
        return f"{type(self).__name__}({', '.join(args)})"


_MISSING = object()


def _signature(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(name, default)`` of the constructor parameters that :meth:`Layer.config` saves."""
    return tuple((p.name, p.default) for p in inspect.signature(cls).parameters.values()
                 if p.name not in _NOT_SAVED
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


_NOT_SAVED = frozenset({"rng"})
"""Constructor parameters that are not part of a config: generators have no saved state."""


def _plain(value: Any) -> Any:
    """``value`` with numpy dtypes and scalars replaced by JSON-friendly equivalents."""
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, np.generic):
        return value.item()
    return value


def _accept_input_grad(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a subclass's ``backward(self, dout)`` so that it also takes ``input_grad``.

    Layers written before ``input_grad`` existed keep working inside a Sequential: they
    compute dL/dx anyway, and the wrapper returns None for ``input_grad=False``.
    """

    @functools.wraps(backward)
    def wrapped(self: Layer, dout: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        dx = backward(self, dout)
        return dx if input_grad else None

    return wrapped
