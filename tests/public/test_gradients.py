"""Public tests of exercises/gradients.py: numerical_gradient."""

import numpy as np
import pytest

from nnlib.grading.judge.testing import assert_close, call

pytestmark = pytest.mark.checks("numerical_gradient")


@pytest.mark.points(1)
def test_numerical_gradient_shape_and_dtype(impl):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(v)), x)
    assert isinstance(grad, np.ndarray), (
        f"numerical_gradient must return a numpy array, got {type(grad).__name__}")
    assert grad.shape == x.shape, (
        f"numerical_gradient: the gradient must have the shape of x, {x.shape}, got {grad.shape}")
    assert grad.dtype == np.float64, f"numerical_gradient: expected float64, got {grad.dtype}"
    assert_close(grad, np.ones_like(x), "numerical_gradient of sum(x) (should be all ones)",
                 rtol=1e-8)


@pytest.mark.points(2)
def test_numerical_gradient_of_a_quadratic(impl):
    # f(x) = sum(x**2) has gradient 2x
    x = np.array([1.0, -2.0, 0.5])
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(v**2)), x)
    assert_close(grad, 2 * x, "numerical_gradient of sum(x**2) (should be 2x: the centered "
                 "difference (f(x+h) - f(x-h)) / (2h) is exact for it up to rounding, a "
                 "one-sided one is off by h)", rtol=1e-8)


@pytest.mark.points(2)
def test_numerical_gradient_is_centered(impl):
    # f(x) = sum(x**3): the one-sided difference is off by about 3*x*h, the centered one by h**2
    x = np.array([[1.0, 2.0], [-1.5, 3.0]])
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(v**3)), x)
    assert_close(grad, 3 * x**2, "numerical_gradient of sum(x**3) (should be 3x**2; use the "
                 "centered difference (f(x+h) - f(x-h)) / (2h))", rtol=1e-8)


@pytest.mark.points(0.5)
def test_numerical_gradient_non_contiguous_input(impl):
    # f(x) = sum(x**2) on a view with gaps (every other column): x.reshape(-1) is a copy
    big = np.arange(1.0, 13.0).reshape(3, 4) / 4
    x = big[:, ::2]
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(v**2)), x)
    assert_close(grad, 2 * x, "numerical_gradient with a non-contiguous x (perturb x[i] "
                 "itself, e.g. looping with np.ndindex(*x.shape))", rtol=1e-8)


@pytest.mark.points(1)
def test_numerical_gradient_any_shape_and_given_h(impl):
    # f(x) = sum(x**3) on a 3-D x with h = 1e-2: the centered difference of x**3 is exactly
    # 3x**2 + h**2, so the result shows which h was used (and that every entry was perturbed)
    x = np.array([[[1.0, -2.0], [0.5, 3.0]], [[-1.5, 2.5], [0.25, -0.75]]])
    grad = call(impl.numerical_gradient, lambda v: float(np.sum(v**3)), x, h=1e-2)
    assert_close(grad, 3 * x**2 + 1e-4, "numerical_gradient of sum(x**3) on a 3-D x with "
                 "h=1e-2 (should be 3x**2 + h**2: perturb each entry by the h you are given)",
                 rtol=1e-8)
