"""Public tests of exercises/engine.py: local derivatives and the backward pass of a graph."""

import math

import numpy as np
import pytest

from nnlib.autograd import Value
from nnlib.grading.judge.testing import Waiting, call, expect_tuple


def _number(v, what):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                            np.floating)):
        raise AssertionError(f"{what} must be a float, got {type(v).__name__}")
    return float(v)


def _close(got, expected, what, rtol=1e-9):
    got = _number(got, what)
    if not math.isfinite(got) or abs(got - expected) > rtol * max(abs(expected), 1.0):
        raise AssertionError(f"{what}: got {got:.10g}, expected {expected:.10g}")


# y = (a * b + a) * tanh(c) + a * a, numbered out of topological order; node 8 (b * c) is
# not used by y; y is node 0.
#   0: y = 5 + 6     1: a     2: b     3: c     4: a * b     5: (4 + 1) * 7
#   6: a * a         7: tanh(c)        8: b * c (unused)     9: 4 + 1
A, B, C = 1.5, -2.0, 0.7
PARENTS = [[5, 6], [], [], [], [1, 2], [9, 7], [1, 1], [3], [2, 3], [4, 1]]


def _reference(parents, local_grads, root, creation):
    """``d root / d node`` for every node, from nnlib's engine (``creation``: a topological
    order of every node, in which the graph is rebuilt)."""
    values = {}
    for i in creation:
        values[i] = Value(1.0, [values[p] for p in parents[i]], local_grads[i])
    values[root].backward()
    reachable = {id(v) for v in values[root].topological_order()}
    return [values[i].grad if id(values[i]) in reachable else 0.0 for i in range(len(parents))]


def _local_grads():
    t = math.tanh(C)
    return [[1.0, 1.0], [], [], [], [B, A], [t, A * B + A], [A, A], [1.0 - t * t], [C, B],
            [1.0, 1.0]]


CREATION = [1, 2, 3, 4, 9, 7, 5, 6, 0, 8]


def check_order(order, parents, root, who="topological_order"):
    """Fail unless ``order`` lists every node ``root`` depends on once, parents first."""
    if not isinstance(order, (list, tuple)):
        raise AssertionError(f"{who} must return a list of node numbers, got "
                             f"{type(order).__name__}")
    reach, stack = set(), [root]
    while stack:
        n = stack.pop()
        if n not in reach:
            reach.add(n)
            stack.extend(parents[n])
    bad = [o for o in order if isinstance(o, bool) or not isinstance(o, (int, np.integer))]
    if bad:
        raise AssertionError(f"{who} must return node numbers (ints), got {bad[0]!r}")
    order = [int(o) for o in order]
    if len(set(order)) != len(order):
        dup = next(o for o in order if order.count(o) > 1)
        raise AssertionError(f"{who}: node {dup} is listed {order.count(dup)} times; list "
                             "each node once (remember the nodes already visited)")
    if set(order) != reach:
        extra, missing = sorted(set(order) - reach), sorted(reach - set(order))
        if missing:
            raise AssertionError(f"{who}: nodes {missing} are missing; list every node the "
                                 "root depends on")
        raise AssertionError(f"{who}: nodes {extra} are listed but the root does not depend "
                             "on them; list only the nodes reachable from the root through "
                             "parents")
    if order[-1] != root:
        raise AssertionError(f"{who}: the root ({root}) must come last, got {order[-1]}")
    seen = set()
    for n in order:
        late = [p for p in parents[n] if p not in seen]
        if late:
            raise AssertionError(f"{who}: node {n} comes before its parent {late[0]}; each "
                                 "node must come after all of its parents")
        seen.add(n)


@pytest.mark.points(1)
@pytest.mark.checks("add_local")
def test_add_local(impl):
    for a, b in ((2.0, -3.0), (0.0, 5.5)):
        da, db = expect_tuple(call(impl.add_local, a, b), 2, "add_local")
        _close(da, 1.0, f"add_local({a}, {b}): d(a + b)/da")
        _close(db, 1.0, f"add_local({a}, {b}): d(a + b)/db")


@pytest.mark.points(1)
@pytest.mark.checks("mul_local")
def test_mul_local(impl):
    for a, b in ((2.0, -3.0), (0.5, 4.0)):
        da, db = expect_tuple(call(impl.mul_local, a, b), 2, "mul_local")
        _close(da, b, f"mul_local({a}, {b}): d(a * b)/da (the other factor)")
        _close(db, a, f"mul_local({a}, {b}): d(a * b)/db (the other factor)")


@pytest.mark.points(1)
@pytest.mark.checks("tanh_local")
def test_tanh_local(impl):
    for x in (0.0, 0.8, -1.7):
        t = math.tanh(x)
        _close(call(impl.tanh_local, x, t), 1.0 - t * t, f"tanh_local({x}, tanh({x}))")


@pytest.mark.points(1)
@pytest.mark.checks("exp_local")
def test_exp_local(impl):
    for x in (0.0, 1.3, -2.0):
        _close(call(impl.exp_local, x, math.exp(x)), math.exp(x), f"exp_local({x}, exp({x}))")


@pytest.mark.points(1)
@pytest.mark.checks("pow_local")
def test_pow_local(impl):
    for x, p in ((3.0, 2), (1.5, 3.0), (2.0, -1.0), (4.0, 0.5)):
        _close(call(impl.pow_local, x, p), p * x ** (p - 1), f"pow_local({x}, {p}): "
               f"d(x**p)/dx")


@pytest.mark.points(2)
@pytest.mark.checks("topological_order")
def test_topological_order(impl):
    order = call(impl.topological_order, PARENTS, 0)
    check_order(order, PARENTS, 0)
    # a chain numbered backwards: 0 <- 1 <- 2 <- 3 (node 3 is computed from 2, ...)
    chain = [[], [0], [1], [2]]
    check_order(call(impl.topological_order, chain, 3), chain, 3)
    # a chain of 3000 operations, deeper than Python's recursion limit (about 1000 calls):
    # walk it with a list as a stack, not with a function that calls itself
    deep = [[i + 1] for i in range(2999)] + [[]]
    try:
        order = call(impl.topological_order, deep, 0)
    except Exception as e:
        if "Recursion" in f"{type(e).__name__} {e}":
            raise AssertionError("topological_order on a chain of 3000 nodes exceeded Python's "
                                 "recursion limit: keep your own stack (a list) instead of "
                                 "recursing") from None
        raise
    check_order(order, deep, 0, "topological_order on a chain of 3000 nodes")


@pytest.mark.points(2)
@pytest.mark.checks("backward")
def test_backward(impl):
    local = _local_grads()
    expected = _reference(PARENTS, local, 0, CREATION)
    try:
        grads = call(impl.backward, PARENTS, local, 0)
        if not isinstance(grads, (list, tuple, np.ndarray)) or len(grads) != len(PARENTS):
            raise AssertionError(f"backward must return a list of {len(PARENTS)} gradients, "
                                 f"one per node, got {type(grads).__name__}")
        names = {0: "y", 1: "a", 2: "b", 3: "c", 6: "a * a", 8: "b * c (unused by y)"}
        uses = [sum(p.count(i) for p in PARENTS) for i in range(len(PARENTS))]
        for i, e in enumerate(expected):
            _close(grads[i], e, f"backward: the gradient of node {i}"
                   + (f" ({names[i]})" if i in names else "")
                   + (f"; it is used {uses[i]} times, and its gradient is the sum of the "
                      f"{uses[i]} shares (+=, not =)" if uses[i] > 1 else ""))
    except Exception:
        wait_for_order(impl, PARENTS, 0)
        raise
    # y = u + u * u with u = tanh(c): u is used twice, by y and by u * u, and is not a leaf
    # 0: y   1: u   2: u * u   3: c
    u = math.tanh(0.4)
    parents, local = [[1, 2], [3], [1, 1], []], [[1.0, 1.0], [1.0 - u * u], [u, u], []]
    expected = _reference(parents, local, 0, [3, 1, 2, 0])
    try:
        grads = call(impl.backward, parents, local, 0)
        if not isinstance(grads, (list, tuple, np.ndarray)) or len(grads) != 4:
            raise AssertionError("backward must return a list of 4 gradients, one per node, "
                                 f"got {type(grads).__name__}")
        _close(grads[3], expected[3], "backward on y = u + u * u, u = tanh(c): dy/dc (u "
               "must have received both of its shares before it passes its gradient on: "
               "visit the nodes in reverse topological order)")
    except Exception:
        wait_for_order(impl, parents, 0)
        raise
    # a chain of 3000 operations, deeper than Python's recursion limit
    n = 3000
    parents = [[i + 1] for i in range(n - 1)] + [[]]
    local = [[1.0 + 0.001 * (i % 7)] for i in range(n - 1)] + [[]]
    expected = _reference(parents, local, 0, list(range(n - 1, -1, -1)))
    try:
        try:
            grads = call(impl.backward, parents, local, 0)
        except Exception as e:
            if "Recursion" in f"{type(e).__name__} {e}":
                raise AssertionError("backward on a chain of 3000 nodes exceeded Python's "
                                     "recursion limit: keep your own stack (a list) instead "
                                     "of recursing") from None
            raise
        if not isinstance(grads, (list, tuple, np.ndarray)) or len(grads) != n:
            raise AssertionError(f"backward on a chain of {n} nodes must return {n} "
                                 f"gradients, got {type(grads).__name__}")
        for i in (1, n // 2, n - 1):
            _close(grads[i], expected[i], f"backward on a chain of {n} nodes: the gradient "
                   f"of node {i}", rtol=1e-8)
    except Exception:
        wait_for_order(impl, parents, 0)
        raise


def wait_for_order(impl, parents, root):
    """Raise :class:`Waiting` if the student's topological_order fails on this graph
    (backward uses it); return if it is right or not written yet."""
    try:
        check_order(call(impl.topological_order, parents, root), parents, root)
    except Exception as e:
        if isinstance(e, NotImplementedError) or getattr(e, "not_implemented", False):
            return
        raise Waiting(f"waiting for topological_order, which fails its tests "
                      f"({str(e).split('; ')[0]}): backward is judged once it passes",
                      "topological_order") from None
