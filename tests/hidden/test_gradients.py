"""Hidden tests of exercises/gradients.py."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call

pytestmark = pytest.mark.checks("numerical_gradient")


def _f(c):
    return lambda v: float(np.sum(np.sin(v) * c))


@pytest.mark.points(2)
def test_hidden_numerical_gradient_matches_analytic(impl):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3))
    c = rng.standard_normal((4, 3))
    grad = call(impl.numerical_gradient, _f(c), x)
    assert_close(grad, np.cos(x) * c, "numerical_gradient of sum(sin(x) * c)", rtol=1e-8,
                 dtype=np.float64)


@pytest.mark.points(0.5)
def test_hidden_numerical_gradient_non_contiguous_input(impl):
    rng = np.random.default_rng(12)
    big = rng.standard_normal((3, 8))
    x = big[:, 1:5]  # a view with gaps: x.reshape(-1) would be a copy
    c = rng.standard_normal(x.shape)
    grad = call(impl.numerical_gradient, _f(c), x)
    assert_close(grad, np.cos(x) * c, "numerical_gradient with a non-contiguous x "
                 "(perturb x[i] itself, e.g. with np.ndindex or np.nditer)", rtol=1e-8)


@pytest.mark.points(1)
def test_hidden_numerical_gradient_three_dimensions(impl):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 2))
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(v**2) + v[1, 2, 0] ** 3), x)
    expected = 2 * x
    expected[1, 2, 0] += 3 * x[1, 2, 0] ** 2
    assert_close(grad, expected, "numerical_gradient of a 3-D input", rtol=1e-8)


@pytest.mark.points(1)
def test_hidden_numerical_gradient_respects_h(impl):
    # f is linear, so any h gives the exact slope; a step of 1e-3 must be used as given
    seen = []

    def f(v):
        seen.append(float(v[0]))
        return float(3.0 * v[0])

    x = np.array([2.0])
    grad = call(impl.numerical_gradient, f, x, h=1e-3)
    assert_close(grad, np.array([3.0]), "numerical_gradient of 3x", rtol=1e-8)
    steps = sorted({round(abs(s - 2.0), 9) for s in seen} - {0.0})
    assert steps == [1e-3], f"numerical_gradient(f, x, h=1e-3) must evaluate f at x +- h, " \
        f"evaluated it at offsets {steps}"


@pytest.mark.points(1)
def test_hidden_numerical_gradient_is_centered(impl):
    # f = sum(c * v**3): the centered difference is c (3x**2 + h**2), a one-sided one
    # c (3x**2 + 3xh + h**2); with h = 0.1 the two differ by about 10%, far above rounding
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 2))
    c = rng.standard_normal((3, 2))
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(c * v**3)), x, h=0.1)
    assert_close(grad, c * (3 * x**2 + 0.01), "numerical_gradient(f, x, h=0.1) of "
                 "sum(c * x**3) must be the centered difference (f(x + h) - f(x - h)) / 2h",
                 rtol=1e-6)
