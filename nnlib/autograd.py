"""A scalar reverse-mode automatic differentiation engine, small enough to read in one sitting.

Every arithmetic step on a :class:`Value` creates a new ``Value`` that remembers three
things: the numbers it was computed from (its *parents*), the partial derivative of its
own data with respect to each parent's data (its *local derivatives*, evaluated right
away, during the forward computation), and a short label for the operation. Together
these records form the *computational graph* of the expression, a directed acyclic graph
whose leaves are the inputs and whose last node is the result.

:meth:`Value.backward` then applies the chain rule to that graph. For a result ``y`` and
any node ``v`` in its graph, the multivariate chain rule says

    dy/dv = sum over the children c of v of  dy/dc * dc/dv,

a sum over every place where ``v`` was used. ``dc/dv`` is a local derivative stored in
``c``; ``dy/dc`` is known once every node that uses ``c`` has been processed. Visiting the
nodes in reverse topological order (the result first, each node only after all of its
consumers) therefore finishes each ``dy/dv`` before it is needed, and one sweep over the
graph delivers the derivative of ``y`` with respect to *every* node at once.

Why reverse mode is cheap
-------------------------
The sweep touches every edge of the graph exactly once, one multiply-add per edge, so its
cost is a small constant times the cost of evaluating ``y`` itself, *whatever the number
of inputs*. Finite differences or forward-mode differentiation instead need one extra
evaluation per input: n + 1 (one-sided) or 2n (centered) evaluations for n inputs. A
network with a million weights and one scalar loss is the extreme case, which is why
training uses reverse mode, better known there as backpropagation.

This module is for teaching and checking small derivations, not for speed: each scalar
operation is a Python object. ``nnlib.functional`` does the same computations on whole
arrays.

Examples
--------
>>> from nnlib.autograd import Value
>>> x, w, b = Value(2.0, label="x"), Value(-0.5, label="w"), Value(0.25, label="b")
>>> y = (w * x + b).tanh()
>>> y.backward()
>>> round(w.grad, 6), round(x.grad, 6), round(b.grad, 6)
(1.193172, -0.298293, 0.596586)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Union

from nnlib.autograd_drawing import draw_graph

__all__ = ["Value", "draw_graph"]

Operand = Union["Value", int, float]

# exp(x) overflows float64 above this value.
_EXP_LIMIT = math.log(1.7976931348623157e308)


def _as_float(data: object, who: str) -> float:
    """Return ``data`` as a finite Python float, or raise an error naming ``who``."""
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(
            f"{who}: data must be a real number (int or float), got {type(data).__name__} "
            f"{data!r}."
        )
    value = float(data)
    if not math.isfinite(value):
        raise ValueError(f"{who}: data must be finite, got {value}.")
    return value


class _NumberOperands:
    """Plain numbers on either side of an operator: ``2 * x``, ``1 - x``, ``3 / x``.

    The number is lifted to a constant leaf :class:`Value` and the operator of the Value
    on its left does the rest; anything else gets ``NotImplemented``. Exponents must stay
    plain numbers, so ``number ** Value`` is refused.
    """

    __slots__ = ()

    @staticmethod
    def _lift(other: object, who: str) -> Value:
        """Return ``other`` as a Value (a number becomes a constant leaf)."""
        if isinstance(other, Value):
            return other
        return Value(_as_float(other, who))

    @staticmethod
    def _is_operand(other: object) -> bool:
        return isinstance(other, Value) or (
            isinstance(other, numbers.Real) and not isinstance(other, bool)
        )

    def __radd__(self, other: Operand) -> Value:
        """``other + self`` for a plain number ``other``."""
        if not self._is_operand(other):
            return NotImplemented
        return self._lift(other, "Value.__radd__") + self

    def __rmul__(self, other: Operand) -> Value:
        """``other * self`` for a plain number ``other``."""
        if not self._is_operand(other):
            return NotImplemented
        return self._lift(other, "Value.__rmul__") * self

    def __rsub__(self, other: Operand) -> Value:
        """``other - self`` for a plain number ``other``."""
        if not self._is_operand(other):
            return NotImplemented
        return self._lift(other, "Value.__rsub__") - self

    def __rtruediv__(self, other: Operand) -> Value:
        """``other / self`` for a plain number ``other``."""
        if not self._is_operand(other):
            return NotImplemented
        return self._lift(other, "Value.__rtruediv__") / self

    def __rpow__(self, base: object) -> Value:
        """Refuse ``number ** Value``: only constant exponents are supported."""
        raise TypeError(
            "Value.__pow__: the exponent must be a constant int or float, got a Value; "
            "for c ** x with c > 0 write (x * math.log(c)).exp()."
        )


class Value(_NumberOperands):
    """One scalar in a computational graph: its value, its gradient and how it was made.

    Parameters
    ----------
    data : int or float
        The number. Stored as a finite Python float.
    parents : sequence of Value, optional
        The Values this one was computed from (empty for an input or a constant).
    local_grads : sequence of float, optional
        ``d(self.data) / d(parent.data)`` for each parent, in the same order.
    op : str, optional
        The operation that produced this Value (``"+"``, ``"*"``, ``"tanh"``, ...), empty for
        a leaf.
    label : str, optional
        A name shown by ``repr`` and :func:`draw_graph`.

    Attributes
    ----------
    data : float
        The value computed in the forward direction.
    grad : float
        After ``y.backward()``: the derivative dy/d(this value). 0.0 before.

    Notes
    -----
    Operations accept plain numbers on either side (``2 * x``, ``1 - x``, ``x / 3``); the
    number becomes a constant leaf of the graph. Exponents of ``**`` must be plain numbers.
    Values compare and hash by identity, so they can be used as dictionary keys.
    """

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label")
    # Make numpy scalars defer to Value's reflected operators (np.float64(2) * x -> Value).
    __array_ufunc__ = None

    def __init__(
        self,
        data: float,
        parents: Sequence[Value] = (),
        local_grads: Sequence[float] = (),
        op: str = "",
        label: str = "",
    ) -> None:
        self.data: float = _as_float(data, "Value")
        self.grad: float = 0.0
        parents = tuple(parents)
        local_grads = tuple(float(g) for g in local_grads)
        if len(parents) != len(local_grads):
            raise ValueError(
                f"Value: got {len(parents)} parents but {len(local_grads)} local derivatives; "
                "there must be one local derivative per parent."
            )
        for p in parents:
            if not isinstance(p, Value):
                raise TypeError(f"Value: parents must be Values, got {type(p).__name__}.")
        self.parents: tuple[Value, ...] = parents
        self.local_grads: tuple[float, ...] = local_grads
        self.op: str = str(op)
        self.label: str = str(label)

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g}{op})"

    # ------------------------------------------------------------------ binary operations
    def __add__(self, other: Operand) -> Value:
        """``self + other``; both local derivatives are 1."""
        if not self._is_operand(other):
            return NotImplemented
        o = self._lift(other, "Value.__add__")
        return Value(self.data + o.data, (self, o), (1.0, 1.0), "+")

    def __mul__(self, other: Operand) -> Value:
        """``self * other``; d/dself = other, d/dother = self."""
        if not self._is_operand(other):
            return NotImplemented
        o = self._lift(other, "Value.__mul__")
        return Value(self.data * o.data, (self, o), (o.data, self.data), "*")

    def __sub__(self, other: Operand) -> Value:
        """``self - other``; local derivatives 1 and -1."""
        if not self._is_operand(other):
            return NotImplemented
        o = self._lift(other, "Value.__sub__")
        return Value(self.data - o.data, (self, o), (1.0, -1.0), "-")

    def __truediv__(self, other: Operand) -> Value:
        """``self / other``; d/dself = 1/other, d/dother = -self/other**2."""
        if not self._is_operand(other):
            return NotImplemented
        o = self._lift(other, "Value.__truediv__")
        if o.data == 0.0:
            raise ZeroDivisionError(
                f"Value.__truediv__: division by zero ({self.data:.6g} / 0).")
        return Value(self.data / o.data, (self, o),
                     (1.0 / o.data, -self.data / (o.data * o.data)), "/")

    def __pow__(self, exponent: int | float) -> Value:
        """``self ** p`` for a constant real ``p``; local derivative ``p * self**(p - 1)``.

        Raises
        ------
        TypeError
            If ``p`` is a Value (write ``(p * x.log()).exp()`` for a variable exponent).
        ValueError
            If the power or its derivative is not a real number: a negative base with a
            non-integer exponent, or a zero base with an exponent below 1 (other than 0).
        """
        if isinstance(exponent, Value):
            raise TypeError(
                "Value.__pow__: the exponent must be a constant int or float, got a Value; "
                "for a variable exponent write (p * x.log()).exp() with x > 0."
            )
        p = _as_float(exponent, "Value.__pow__ (exponent)")
        x = self.data
        if x < 0 and not p.is_integer():
            raise ValueError(
                f"Value.__pow__: ({x:.6g}) ** {p:.6g} is not a real number "
                "(negative base with a non-integer exponent).")
        if x == 0 and p < 1 and p != 0:
            raise ValueError(
                f"Value.__pow__: 0 ** {p:.6g} has no finite derivative at 0 "
                "(the exponent must be 0 or at least 1 when the base is 0).")
        slope = 0.0 if p == 0 else p * x ** (p - 1.0)  # x ** 0 is constant (0 ** -1 fails)
        return Value(x**p, (self,), (slope,), f"**{p:g}")

    # ------------------------------------------------------------------ unary operations
    def __neg__(self) -> Value:
        """``-self``; local derivative -1."""
        return Value(-self.data, (self,), (-1.0,), "neg")

    def __pos__(self) -> Value:
        """``+self`` is ``self``."""
        return self

    def exp(self) -> Value:
        """``e ** self``; its derivative is itself.

        Raises
        ------
        OverflowError
            If the result exceeds the largest float64 (``self.data`` above about 709.78).
        """
        if self.data > _EXP_LIMIT:
            raise OverflowError(
                f"Value.exp: exp({self.data:.6g}) overflows float64 "
                f"(the argument must be at most {_EXP_LIMIT:.2f}).")
        e = math.exp(self.data)
        return Value(e, (self,), (e,), "exp")

    def log(self) -> Value:
        """Natural logarithm; local derivative ``1 / self``.

        Raises
        ------
        ValueError
            If ``self.data <= 0``.
        """
        if self.data <= 0:
            raise ValueError(f"Value.log: the argument must be positive, got {self.data:.6g}.")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self) -> Value:
        """Hyperbolic tangent; local derivative ``1 - tanh(self)**2``."""
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        """Logistic function ``1 / (1 + exp(-self))``; local derivative ``s * (1 - s)``.

        Evaluated without overflow for any finite argument.
        """
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        """``max(0, self)``; local derivative 1 where ``self > 0`` and 0 elsewhere (0 at 0)."""
        x = self.data
        return Value(x if x > 0 else 0.0, (self,), (1.0 if x > 0 else 0.0,), "relu")

    # ------------------------------------------------------------------ the backward pass
    def topological_order(self) -> list[Value]:
        """Every node of this Value's graph, each one listed after all of its parents.

        The last entry is ``self``. Computed with an explicit stack, so graphs deeper than
        Python's recursion limit work too.

        Returns
        -------
        list of Value
        """
        order: list[Value] = []
        done: set[int] = set()
        on_stack: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                on_stack.discard(id(node))
                done.add(id(node))
                order.append(node)
                continue
            if id(node) in done or id(node) in on_stack:
                continue
            on_stack.add(id(node))
            stack.append((node, True))
            for p in reversed(node.parents):
                if id(p) not in done:
                    stack.append((p, False))
        return order

    def backward(self) -> None:
        """Fill ``v.grad = d(self)/d(v)`` for every node ``v`` of this Value's graph.

        The gradients of the whole graph are first reset to zero, then ``self.grad`` is set
        to 1 and the nodes are visited in reverse topological order. Each node passes its
        gradient to its parents, multiplied by the local derivatives, and the parents *add*
        up what they receive: a Value used in several places collects one term per use,
        which is exactly the sum in the multivariate chain rule. When a node is visited, all
        of its consumers have already been visited, so its gradient is complete.

        The cost is one multiply-add per edge of the graph, for the derivatives with respect
        to all inputs together; computing them one input at a time (finite differences,
        forward mode) would repeat the work once per input.

        Calling ``backward`` twice gives the same gradients (they are not accumulated across
        calls). Leaves shared with another graph have their gradients reset as well.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            g = node.grad
            if g == 0.0:
                continue
            for parent, local in zip(node.parents, node.local_grads, strict=True):
                parent.grad += local * g
