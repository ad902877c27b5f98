"""Exercise: your own scalar autograd engine, micrograd style (notebook ``01_chain_rule``).

A computational graph of scalars: every node was computed from its *parents* by one
operation, and stores the *local derivatives* ``d(node) / d(parent)``, one per parent.
The backward pass visits the nodes from the output back to the inputs and sends each
node's gradient to its parents, multiplied by the local derivatives; a parent *adds up*
what it receives (the sum of the multivariate chain rule).

You write two kinds of functions:

- the local derivatives of five operations (``+``, ``*``, ``tanh``, ``exp``, ``**p``), on
  plain floats;
- the graph algorithms, on a graph given as plain lists: node ``i`` was computed from the
  nodes ``parents[i]`` (a list of node numbers, empty for an input), with the local
  derivatives ``local_grads[i]`` (one float per parent, in the same order)::

      # y = (a * b) + a, numbered a=0, b=1, a*b=2, y=3
      parents     = [[], [], [0, 1], [2, 0]]
      local_grads = [[], [], [b, a], [1.0, 1.0]]

The class :class:`Value` at the end of this file is a small engine built on your
functions: its operations call your local derivatives, and ``backward()`` calls your
:func:`backward` on its graph. The notebook draws its graphs.

Rules: Python floats and lists (numpy is allowed but not needed); never modify the lists
you are given; graphs may be deeper than Python's recursion limit (about 1000 nested
calls), so walk them with a loop and a list used as a stack, not with recursion.
"""

from __future__ import annotations

import math


def add_local(a: float, b: float) -> tuple[float, float]:
    """Local derivatives of ``out = a + b``: ``(d out / d a, d out / d b)``.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    a, b : float
        The two inputs.

    Returns
    -------
    da, db : float
        The derivative of ``a + b`` with respect to each input.
    """
    raise NotImplementedError("add_local is not implemented yet")


def mul_local(a: float, b: float) -> tuple[float, float]:
    """Local derivatives of ``out = a * b``: ``(d out / d a, d out / d b)``.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    a, b : float
        The two inputs.

    Returns
    -------
    da, db : float
        The derivative of ``a * b`` with respect to ``a``, then to ``b``.
    """
    raise NotImplementedError("mul_local is not implemented yet")


def tanh_local(x: float, out: float) -> float:
    """Local derivative of ``out = tanh(x)``: ``d out / d x``.

    The forward pass already computed ``out = tanh(x)``: the derivative can be written
    with ``out`` alone.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    x : float
        The input.
    out : float
        ``tanh(x)``.

    Returns
    -------
    dx : float
    """
    raise NotImplementedError("tanh_local is not implemented yet")


def exp_local(x: float, out: float) -> float:
    """Local derivative of ``out = exp(x)``: ``d out / d x``.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    x : float
        The input.
    out : float
        ``exp(x)``, already computed by the forward pass.

    Returns
    -------
    dx : float
    """
    raise NotImplementedError("exp_local is not implemented yet")


def pow_local(x: float, p: float) -> float:
    """Local derivative of ``out = x ** p`` for a constant exponent ``p``: ``d out / d x``.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    x : float
        The base (the variable).
    p : float
        The exponent, a constant (int or float). ``x ** p`` and its derivative are real
        numbers for the ``x`` and ``p`` you are given.

    Returns
    -------
    dx : float
    """
    raise NotImplementedError("pow_local is not implemented yet")


def topological_order(parents: list[list[int]], root: int) -> list[int]:
    """The nodes that ``root`` depends on, each listed after all of its parents.

    Only the nodes that ``root`` is computed from (directly or through other nodes) are
    listed, ``root`` included and last, each exactly once. A node may appear several
    times in ``parents[i]`` (``x * x``) and may be used by several nodes (``x`` in
    ``x * y + x``). When several orders are valid, any of them is accepted.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    parents : list of list of int
        ``parents[i]``: the nodes node ``i`` was computed from (empty for an input).
        Nodes are numbered ``0 .. len(parents) - 1``, in no particular order.
    root : int
        The output node.

    Returns
    -------
    order : list of int
        Every node ``root`` depends on, each after all of its parents; ``order[-1]`` is
        ``root``.

    Notes
    -----
    Depth-first: a node is appended once all of its parents have been appended. The
    graph may be deeper than Python's recursion limit; keep your own stack of
    ``(node, parents_done)`` pairs instead of calling yourself.
    """
    raise NotImplementedError("topological_order is not implemented yet")


def backward(parents: list[list[int]], local_grads: list[list[float]], root: int) -> list[float]:
    """The gradient ``d root / d node`` of every node: the backward pass.

    Set the root's gradient to 1, then visit the nodes in *reverse* topological order
    (use your :func:`topological_order`): each node sends ``local * its gradient`` to
    each of its parents, and the parents *add up* what they receive. When a node is
    visited, every node computed from it has already sent its share, so its gradient is
    complete.

    Taught in notebook ``01_chain_rule``, just before the heading "Exercise: your own
    engine".

    Parameters
    ----------
    parents : list of list of int
        As for :func:`topological_order`.
    local_grads : list of list of float
        ``local_grads[i][k]``: the derivative of node ``i`` with respect to its parent
        ``parents[i][k]``.
    root : int
        The output node.

    Returns
    -------
    grads : list of float, length ``len(parents)``
        ``grads[i] = d root / d node i``; ``grads[root] == 1.0``, and 0.0 for the nodes
        that ``root`` does not depend on.

    Notes
    -----
    A parent listed twice (``x * x``) receives two shares: add them both.
    """
    raise NotImplementedError("backward is not implemented yet")


class Value:
    """A scalar of *your* engine: its operations call the functions above.

    Given code (nothing to write here). ``Value(2.0, label="x")`` makes an input;
    ``+``, ``-``, ``*``, ``/`` (with Values or plain numbers), ``** p`` (constant ``p``),
    ``.tanh()`` and ``.exp()`` make new nodes, each storing its parents and the local
    derivatives that your ``*_local`` functions return. ``y.backward()`` fills ``v.grad``
    for every node ``v`` of ``y``'s graph, with your :func:`backward`.

    Attributes
    ----------
    data : float
    grad : float
        After ``y.backward()``: ``d y / d (this value)``; 0.0 before.
    parents : tuple of Value
    local_grads : tuple of float
    op, label : str
    """

    def __init__(self, data: float, parents: tuple = (), local_grads: tuple = (),
                 op: str = "", label: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.local_grads = tuple(float(g) for g in local_grads)
        self.op = op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other: Value | float) -> Value:
        return other if isinstance(other, Value) else Value(other)

    def __add__(self, other: Value | float) -> Value:
        o = self._lift(other)
        return Value(self.data + o.data, (self, o), add_local(self.data, o.data), "+")

    def __mul__(self, other: Value | float) -> Value:
        o = self._lift(other)
        return Value(self.data * o.data, (self, o), mul_local(self.data, o.data), "*")

    def __pow__(self, p: float) -> Value:
        out = self.data ** p
        return Value(out, (self,), (pow_local(self.data, p),), f"**{p:g}")

    def tanh(self) -> Value:
        """``tanh(self)``, with your :func:`tanh_local`."""
        out = math.tanh(self.data)
        return Value(out, (self,), (tanh_local(self.data, out),), "tanh")

    def exp(self) -> Value:
        """``exp(self)``, with your :func:`exp_local`."""
        out = math.exp(self.data)
        return Value(out, (self,), (exp_local(self.data, out),), "exp")

    def __radd__(self, other: float) -> Value:
        return self._lift(other) + self

    def __rmul__(self, other: float) -> Value:
        return self._lift(other) * self

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-self._lift(other))

    def __rsub__(self, other: float) -> Value:
        return self._lift(other) + (-self)

    def __truediv__(self, other: Value | float) -> Value:
        return self * self._lift(other) ** -1.0

    def __rtruediv__(self, other: float) -> Value:
        return self._lift(other) * self ** -1.0

    def _graph(self) -> tuple[list[Value], list[list[int]], list[list[float]]]:
        """The nodes of this Value's graph, numbered breadth-first from this Value (0)."""
        nodes, number = [self], {id(self): 0}
        for node in nodes:  # grows while it is walked: breadth-first
            for p in node.parents:
                if id(p) not in number:
                    number[id(p)] = len(nodes)
                    nodes.append(p)
        parents = [[number[id(p)] for p in v.parents] for v in nodes]
        return nodes, parents, [list(v.local_grads) for v in nodes]

    def topological_order(self) -> list[Value]:
        """Every node of this Value's graph, each after its parents (your function)."""
        nodes, parents, _ = self._graph()
        return [nodes[i] for i in topological_order(parents, 0)]

    def backward(self) -> None:
        """Fill ``v.grad = d self / d v`` for every node ``v`` of the graph (your function)."""
        nodes, parents, local_grads = self._graph()
        for node, g in zip(nodes, backward(parents, local_grads, 0), strict=True):
            node.grad = float(g)
