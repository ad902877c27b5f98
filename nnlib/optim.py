"""Optimizers: they read ``Parameter.grad`` and update ``Parameter.value`` in place.

Build one from ``model.parameters()``; call :meth:`step` after ``model.backward``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from nnlib.module import Layer, Parameter

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: holds the parameter handles and checks them.

    Parameters
    ----------
    params : iterable of Parameter, or a Layer / Sequential
    lr : float
        Learning rate, > 0.
    """

    def __init__(self, params: Iterable[Parameter] | Layer, lr: float) -> None:
        who = type(self).__name__
        if isinstance(params, Layer):
            params = params.parameters()
        elif callable(params):
            raise TypeError(f"{who}: got the method itself; call it: "
                            f"{who}(model.parameters(), ...).")
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
            raise TypeError(f"{who}: lr must be a number, got {lr!r}.")
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimize.")
        for p in self.params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{type(self).__name__}: expected model.parameters(), "
                                f"got an item of type {type(p).__name__}.")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}.")
        self.lr = float(lr)
        self._scratch: list[np.ndarray] = [np.empty_like(p.value) for p in self.params]

    def _buffer(self, i: int, w: np.ndarray) -> np.ndarray:
        """A preallocated work array shaped like parameter ``i`` (avoids a temporary per step)."""
        buf = self._scratch[i]
        if buf.shape != w.shape or buf.dtype != w.dtype:
            buf = self._scratch[i] = np.empty_like(w)
        return buf

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, {len(self.params)} parameters)"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (heavy-ball) momentum and weight decay.

    ``v = momentum * v + (grad + weight_decay * w)``; ``w -= lr * v``. With
    ``momentum=0`` and ``weight_decay=0`` this is the plain update ``w -= lr * grad``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    momentum : float
        In [0, 1).
    weight_decay : float
        L2 penalty coefficient.
    """

    def __init__(self, params: Iterable[Parameter] | Layer, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}.")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self._velocity = [np.zeros_like(p.value) for p in self.params] if momentum else None

    def step(self) -> None:
        """Apply one update to every parameter, in place."""
        lr, wd, velocity = self.lr, self.weight_decay, self._velocity
        for i, p in enumerate(self.params):
            w, g = p.value, p.grad
            buf = self._buffer(i, w)
            if wd:
                np.multiply(w, wd, out=buf)
                buf += g
                g = buf
            if velocity is not None:
                v = velocity[i]
                v *= self.momentum
                v += g
                g = v
            np.multiply(g, lr, out=buf)
            w -= buf


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias-corrected moment estimates.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        Default 1e-3.
    betas : (float, float)
        Decay rates of the first and second moment estimates.
    eps : float
        Added to the square root of the second moment.
    """

    def __init__(self, params: Iterable[Parameter] | Layer, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas}.")
        if not float(eps) > 0:
            raise ValueError(f"Adam: eps must be positive (it keeps the division by sqrt(v) "
                             f"finite), got {eps}.")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.t = 0
        self._m = [np.zeros_like(p.value) for p in self.params]
        self._v = [np.zeros_like(p.value) for p in self.params]

    def step(self) -> None:
        """Apply one Adam update to every parameter, in place."""
        self.t += 1
        b1, b2 = self.betas
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        step = self.lr * math.sqrt(c2) / c1
        eps = self.eps * math.sqrt(c2)
        for i, (p, m, v) in enumerate(zip(self.params, self._m, self._v, strict=True)):
            g, w = p.grad, p.value
            buf = self._buffer(i, w)
            m *= b1
            np.multiply(g, 1.0 - b1, out=buf)
            m += buf
            v *= b2
            np.multiply(g, g, out=buf)
            buf *= 1.0 - b2
            v += buf
            np.sqrt(v, out=buf)
            buf += eps
            np.divide(m, buf, out=buf)
            buf *= step
            w -= buf
