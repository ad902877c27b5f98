"""Tests of nnlib.autograd: every operation against centered finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from nnlib import numerical_gradient, relative_error
from nnlib.autograd import Value, draw_graph

TOL = 1e-7


def grads_vs_numerical(
    fn: Callable[[Sequence[Value]], Value], x0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Backward-pass gradient of fn at x0 and its centered-difference estimate."""
    xs = [Value(float(v)) for v in x0]
    out = fn(xs)
    out.backward()
    analytic = np.array([v.grad for v in xs])

    def f(arr: np.ndarray) -> float:
        return fn([Value(float(v)) for v in arr]).data

    numeric = numerical_gradient(f, np.array(x0, dtype=np.float64), h=1e-6)
    return analytic, numeric


def assert_gradients_match(fn: Callable[[Sequence[Value]], Value], x0: np.ndarray) -> None:
    analytic, numeric = grads_vs_numerical(fn, x0)
    err = relative_error(analytic, numeric)
    assert err < TOL, f"relative error {err:.2e}: analytic {analytic}, numerical {numeric}"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


# ---------------------------------------------------------------- unary operations
UNARY: dict[str, tuple[Callable[[Value], Value], Callable[[np.random.Generator], float]]] = {
    "neg": (lambda x: -x, lambda r: r.normal()),
    "exp": (lambda x: x.exp(), lambda r: r.uniform(-3, 3)),
    "log": (lambda x: x.log(), lambda r: r.uniform(0.1, 5)),
    "tanh": (lambda x: x.tanh(), lambda r: r.uniform(-3, 3)),
    "sigmoid": (lambda x: x.sigmoid(), lambda r: r.uniform(-6, 6)),
    "relu": (lambda x: x.relu(), lambda r: r.choice([-1, 1]) * r.uniform(0.01, 3)),
    "pow2": (lambda x: x**2, lambda r: r.normal()),
    "pow3": (lambda x: x**3, lambda r: r.normal()),
    "pow-1": (lambda x: x**-1, lambda r: r.choice([-1, 1]) * r.uniform(0.3, 3)),
    "pow0.5": (lambda x: x**0.5, lambda r: r.uniform(0.2, 4)),
    "pow-1.5": (lambda x: x**-1.5, lambda r: r.uniform(0.2, 4)),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_matches_finite_differences(name: str, rng: np.random.Generator) -> None:
    op, sample = UNARY[name]
    for _ in range(5):
        x0 = np.array([sample(rng)])
        # Multiply by a random constant so that the upstream gradient is not 1.
        c = rng.normal()
        assert_gradients_match(lambda xs, op=op, c=c: op(xs[0]) * c, x0)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_forward_value(name: str) -> None:
    reference = {
        "neg": lambda v: -v, "exp": math.exp, "log": math.log, "tanh": math.tanh,
        "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "relu": lambda v: max(v, 0.0),
        "pow2": lambda v: v**2, "pow3": lambda v: v**3, "pow-1": lambda v: 1 / v,
        "pow0.5": math.sqrt, "pow-1.5": lambda v: v**-1.5,
    }[name]
    # negative inputs too, where the domain allows: relu's zero branch, odd powers, neg
    domain_positive = name in ("log", "pow0.5", "pow-1.5")
    for v in (0.3, 1.7, 2.5) + (() if domain_positive else (-0.3, -1.7, -2.5)):
        assert UNARY[name][0](Value(v)).data == pytest.approx(reference(v), rel=1e-14,
                                                              abs=1e-300)


def test_sigmoid_is_stable_for_large_arguments() -> None:
    assert Value(-800.0).sigmoid().data == 0.0
    assert Value(800.0).sigmoid().data == 1.0
    y = Value(-30.0).sigmoid()
    assert y.data == pytest.approx(math.exp(-30.0), rel=1e-12)


def test_relu_derivative_at_zero_is_zero() -> None:
    x = Value(0.0)
    y = x.relu()
    y.backward()
    assert (y.data, x.grad) == (0.0, 0.0)


# ---------------------------------------------------------------- binary operations
BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op_matches_finite_differences(name: str, rng: np.random.Generator) -> None:
    op = BINARY[name]
    for _ in range(5):
        x0 = rng.normal(size=2)
        x0[1] = np.sign(x0[1]) * (abs(x0[1]) + 0.5)  # keep the divisor away from 0
        c = rng.normal()
        assert_gradients_match(lambda xs, op=op, c=c: op(xs[0], xs[1]) * c, x0)


@pytest.mark.parametrize(
    "expr, dydx",
    [
        (lambda x: 3.0 + x, lambda v: 1.0),
        (lambda x: x + 3.0, lambda v: 1.0),
        (lambda x: 3.0 - x, lambda v: -1.0),
        (lambda x: x - 3.0, lambda v: 1.0),
        (lambda x: 3.0 * x, lambda v: 3.0),
        (lambda x: x * 3.0, lambda v: 3.0),
        (lambda x: 3.0 / x, lambda v: -3.0 / v**2),
        (lambda x: x / 3.0, lambda v: 1.0 / 3.0),
        (lambda x: np.float64(3.0) * x, lambda v: 3.0),
        (lambda x: sum([x, x, x]), lambda v: 3.0),
    ],
    ids=["radd", "add", "rsub", "sub", "rmul", "mul", "rdiv", "div", "np.float64", "sum"],
)
def test_operations_with_plain_numbers(expr, dydx) -> None:
    x = Value(1.7)
    y = expr(x)
    assert isinstance(y, Value)
    y.backward()
    assert x.grad == pytest.approx(dydx(1.7), rel=1e-14)


# ---------------------------------------------------------------- accumulation
def test_value_used_twice_accumulates_gradient() -> None:
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1 = 7
    y.backward()
    assert x.grad == pytest.approx(7.0, rel=1e-15)


def test_two_paths_merge() -> None:
    # u1 = x^2 and u2 = exp(x) both depend on x; y = u1 * u2, so dy/dx = 2x e^x + x^2 e^x
    x = Value(0.7)
    u1, u2 = x**2, x.exp()
    y = u1 * u2
    y.backward()
    expected = (2 * 0.7 + 0.7**2) * math.exp(0.7)
    assert x.grad == pytest.approx(expected, rel=1e-14)
    # The chain rule's sum, term by term: dy/du1 du1/dx + dy/du2 du2/dx.
    assert x.grad == pytest.approx(u1.grad * 2 * 0.7 + u2.grad * math.exp(0.7), rel=1e-14)


def test_shared_intermediate_node(rng: np.random.Generator) -> None:
    def fn(xs: Sequence[Value]) -> Value:
        a, b = xs
        c = a * b
        d = c.tanh() + c * c - c / (1.0 + b * b)
        return d * c

    assert_gradients_match(fn, rng.normal(size=2))


def test_backward_twice_gives_the_same_gradients() -> None:
    x, w = Value(0.5), Value(-1.5)
    y = (w * x).sigmoid() * x
    y.backward()
    first = (x.grad, w.grad)
    y.backward()
    assert (x.grad, w.grad) == first
    assert y.grad == 1.0


def test_backward_on_a_deep_chain_does_not_recurse() -> None:
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-10)


def test_topological_order_puts_parents_first(rng: np.random.Generator) -> None:
    xs = [Value(float(v)) for v in rng.normal(size=3)]
    y = (xs[0] * xs[1] + xs[2]).tanh() * xs[0]
    order = y.topological_order()
    index = {id(v): i for i, v in enumerate(order)}
    assert order[-1] is y
    assert len(index) == len(order)
    for v in order:
        for p in v.parents:
            assert index[id(p)] < index[id(v)]


# ---------------------------------------------------------------- neuron and MLP
def test_neuron_matches_finite_differences(rng: np.random.Generator) -> None:
    def neuron(ps: Sequence[Value]) -> Value:
        w, x, b = ps[:3], ps[3:6], ps[6]
        z = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)
        return z.tanh()

    assert_gradients_match(neuron, rng.normal(size=7))


def test_small_mlp_with_loss_matches_finite_differences(rng: np.random.Generator) -> None:
    # 3 inputs -> 4 hidden (relu, then sigmoid mix) -> 1 output, squared error, 2 examples.
    n_in, n_hidden = 3, 4
    n_w1 = n_hidden * n_in
    n_params = n_w1 + n_hidden + n_hidden + 1
    X = rng.normal(size=(2, n_in))
    targets = rng.normal(size=2)

    def loss(ps: Sequence[Value]) -> Value:
        W1 = [ps[i * n_in:(i + 1) * n_in] for i in range(n_hidden)]
        b1 = ps[n_w1:n_w1 + n_hidden]
        w2 = ps[n_w1 + n_hidden:n_w1 + 2 * n_hidden]
        b2 = ps[-1]
        total = Value(0.0)
        for x, t in zip(X, targets, strict=True):
            hidden = []
            for j in range(n_hidden):
                z = sum((w * float(xi) for w, xi in zip(W1[j], x, strict=True)), b1[j])
                hidden.append(z.relu() if j % 2 == 0 else z.sigmoid())
            out = sum((w * h for w, h in zip(w2, hidden, strict=True)), b2)
            total = total + (out - float(t)) ** 2
        return total / len(X)

    params = rng.normal(size=n_params)
    # relu kinks make finite differences meaningless within h of 0: check it is not the case.
    analytic, numeric = grads_vs_numerical(loss, params)
    assert relative_error(analytic, numeric) < TOL
    assert np.count_nonzero(analytic) > n_params // 2


def test_wrong_local_derivative_is_detected() -> None:
    # The checking procedure itself must be able to fail: a node whose stored local
    # derivative is off by 10% is caught.
    def fn(xs: Sequence[Value]) -> Value:
        x = xs[0]
        wrong = Value(x.data**2, (x,), (2.2 * x.data,), "**2")
        return wrong * 3.0

    analytic, numeric = grads_vs_numerical(fn, np.array([1.3]))
    assert relative_error(analytic, numeric) > 1e-2


# ---------------------------------------------------------------- drawing
def test_draw_graph_returns_a_figure_with_one_box_per_node() -> None:
    x, w, b = Value(2.0, label="x"), Value(-0.5, label="w"), Value(0.25, label="b")
    y = (w * x + b).tanh()
    y.label = "y"
    y.backward()
    fig = draw_graph(y)
    try:
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        # nodes x, w, b, w*x, +, tanh; edges w->*, x->*, *->+, b->+, +->tanh
        assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 6
        assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 5
    finally:
        plt.close(fig)


def test_draw_graph_node_text_and_layout() -> None:
    x = Value(3.0, label="x")
    y = x * x + x
    y.backward()
    fig = draw_graph(y)
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert len(texts) == 3
        assert any("x" in t and "grad 7" in t for t in texts)
        fig.canvas.draw()  # rendering must not warn either
    finally:
        plt.close(fig)


def test_draw_graph_into_given_axes_and_without_grads() -> None:
    fig, ax = plt.subplots()
    try:
        a = Value(1.0)
        out = draw_graph((a * 2.0).exp(), ax=ax, show_grad=False)
        assert out is fig
        assert all("grad" not in t.get_text() for t in ax.texts)
    finally:
        plt.close(fig)


def test_draw_graph_refuses_bad_input() -> None:
    with pytest.raises(TypeError, match="draw_graph: expected a Value, got float"):
        draw_graph(1.0)  # type: ignore[arg-type]
    y = Value(1.0)
    for _ in range(10):
        y = y + 1.0
    with pytest.raises(ValueError, match="21 nodes, more than max_nodes=5"):
        draw_graph(y, max_nodes=5)


# ---------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("bad", ["1.0", None, [1.0], True, 1j])
def test_value_refuses_non_real_data(bad: object) -> None:
    with pytest.raises(TypeError, match="Value: data must be a real number"):
        Value(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_refuses_non_finite_data(bad: float) -> None:
    with pytest.raises(ValueError, match="Value: data must be finite"):
        Value(bad)


def test_domain_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="Value.log: the argument must be positive, got -1"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="Value.log: the argument must be positive, got 0"):
        Value(0.0).log()
    with pytest.raises(ZeroDivisionError, match="Value.__truediv__: division by zero"):
        Value(1.0) / 0.0
    with pytest.raises(ZeroDivisionError, match="Value.__truediv__: division by zero"):
        2.0 / Value(0.0)
    with pytest.raises(ValueError, match="negative base with a non-integer exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="no finite derivative at 0"):
        Value(0.0) ** 0.5
    with pytest.raises(OverflowError, match=r"Value.exp: exp\(1000\) overflows float64"):
        Value(1000.0).exp()


def test_zero_base_with_exponent_0_or_at_least_1_has_its_derivative() -> None:
    # The docstring allows a zero base with the exponent 0 or any exponent from 1 up:
    # d(x**0)/dx = 0, d(x**1)/dx = 1, d(x**p)/dx = 0 at 0 for p > 1.
    for p, value, slope in [(0, 1.0, 0.0), (0.0, 1.0, 0.0), (1, 0.0, 1.0), (2, 0.0, 0.0),
                            (1.5, 0.0, 0.0)]:
        x = Value(0.0)
        y = x**p
        y.backward()
        assert (y.data, x.grad) == (value, slope), p


def test_variable_exponent_is_refused() -> None:
    with pytest.raises(TypeError, match="exponent must be a constant int or float, got a Value"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="exponent must be a constant"):
        2.0 ** Value(3.0)


def test_unsupported_operand_raises_type_error() -> None:
    with pytest.raises(TypeError):
        Value(1.0) + "a"  # type: ignore[operator]
    with pytest.raises(TypeError):
        Value(1.0) * [1.0]  # type: ignore[operator]


def test_parents_and_local_grads_must_match() -> None:
    x = Value(1.0)
    with pytest.raises(ValueError, match="got 1 parents but 2 local derivatives"):
        Value(1.0, (x,), (1.0, 2.0), "bad")
    with pytest.raises(TypeError, match="parents must be Values, got float"):
        Value(1.0, (1.0,), (1.0,), "bad")  # type: ignore[arg-type]


def test_repr_shows_label_data_grad_and_op() -> None:
    x = Value(2.0, label="x")
    y = x * 3.0
    y.backward()
    assert repr(x) == "Value('x', data=2, grad=3)"
    assert repr(y) == "Value(data=6, grad=1, op='*')"


def test_single_leaf_graph() -> None:
    v = Value(1.5, label="v")
    v.backward()
    assert v.grad == 1.0
    assert v.topological_order() == [v]
    fig = draw_graph(v)
    try:
        assert len(fig.axes[0].texts) == 1
        fig.canvas.draw()
    finally:
        plt.close(fig)
