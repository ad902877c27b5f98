"""The checking tools themselves: relative_error, numerical_gradient, gradcheck, compare."""

import numpy as np
import pytest

import nnlib
from nnlib.gradcheck import compare, format_error, gradcheck, numerical_gradient, relative_error


def test_relative_error():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(a, a * (1 + 1e-9)) == pytest.approx(0.5e-9, rel=1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.zeros(3), np.full(3, 1e-20)) < 1e-7  # the floor
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_known_functions(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert relative_error(g, 3 * x**2) < 1e-9
    np.testing.assert_array_equal(x, before)  # restored exactly
    dout = rng.standard_normal((3, 4))
    g = numerical_gradient(np.sin, x, dout)
    np.testing.assert_allclose(g, np.cos(x) * dout, rtol=1e-7, atol=1e-10)
    assert g.dtype == np.float64 and g.shape == x.shape


def test_centered_beats_one_sided_differences():
    x = np.array([1.0])
    h = 1e-4
    centered = numerical_gradient(lambda v: float(np.exp(v[0])), x, h=h)[0]
    one_sided = (np.exp(1.0 + h) - np.exp(1.0)) / h
    assert abs(centered - np.e) < 1e-3 * abs(one_sided - np.e)


def test_numerical_gradient_errors(rng):
    with pytest.raises(TypeError, match="floating numpy array"):
        numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(TypeError, match="floating numpy array"):
        numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(ValueError, match="pass dout"):
        numerical_gradient(lambda v: v * 2, rng.standard_normal(3))
    with pytest.raises(ValueError, match="C-contiguous"):
        numerical_gradient(np.sum, rng.standard_normal((3, 4)).T)


class BrokenBatchNorm(nnlib.BatchNorm):
    """A classic mistake: backpropagating as if mean and variance were constants."""

    def backward(self, dout):
        _, xhat, _, _, invstd, gamma, _ = self.saved_for_backward()
        self.grads["gamma"][...] = np.sum(dout * xhat, axis=0)
        self.grads["beta"][...] = dout.sum(axis=0)
        return dout * gamma * invstd


class BrokenDense(nnlib.Dense):
    """Forgets to transpose correctly: dW is off by a factor of 2."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] *= 2
        return dx


def test_gradcheck_passes_correct_layers_and_catches_broken_ones(rng):
    x = rng.standard_normal((6, 4))
    good = gradcheck(nnlib.BatchNorm(4), x, rng=rng)
    assert max(good.values()) < 1e-7
    bad = gradcheck(BrokenBatchNorm(4), x, rng=rng)
    assert bad["x"] > 1e-2 and bad["gamma"] < 1e-7 and bad["beta"] < 1e-7
    bad = gradcheck(BrokenDense(4, 3, rng=rng), x, rng=rng)
    assert bad["W"] > 0.1 and bad["x"] < 1e-7 and bad["b"] < 1e-7


class NoVariancePathBatchNorm(nnlib.BatchNorm):
    """Another mistake: forgets that the variance depends on x (drops the xhat term)."""

    def backward(self, dout):
        _, xhat, _, _, invstd, gamma, _ = self.saved_for_backward()
        self.grads["gamma"][...] = np.sum(dout * xhat, axis=0)
        self.grads["beta"][...] = dout.sum(axis=0)
        return gamma * invstd * (dout - dout.mean(axis=0))


def test_all_ones_dout_hides_a_broken_batchnorm_that_random_dout_catches(rng):
    x = rng.standard_normal((6, 4))
    ones = gradcheck(NoVariancePathBatchNorm(4), x, dout=np.ones((6, 4)))
    assert max(ones.values()) < 1e-7  # the broken layer "passes"
    random = gradcheck(NoVariancePathBatchNorm(4), x, rng=rng)
    assert random["x"] > 1e-2


def test_gradcheck_leaves_state_unchanged(rng):
    model = nnlib.Sequential([nnlib.Dense(3, 4, rng=rng), nnlib.BatchNorm(4),
                              nnlib.Dropout(0.5, rng=np.random.default_rng(3))])
    state = model[2].rng.bit_generator.state
    params = [p.value.copy() for p in model.parameters()]
    x = rng.standard_normal((5, 3))
    x_before = x.copy()
    gradcheck(model, x, rng=rng)
    np.testing.assert_array_equal(model[1].running_mean, 0)
    np.testing.assert_array_equal(model[1].running_var, 1)
    assert model[2].rng.bit_generator.state == state
    for p, v in zip(model.parameters(), params, strict=True):
        np.testing.assert_array_equal(p.value, v)
    np.testing.assert_array_equal(x, x_before)


def test_compare_prints_the_three_outcomes(capsys):
    a = np.array([1.0, 2.0, 3.0])
    assert compare("same", a, a.copy())
    assert compare("close", a, a + 1e-9)
    assert not compare("far", a, np.array([1.0, 2.5, 3.0]))
    assert not compare("shape", a, a[:2])
    assert compare("rounding", a, a * (1 + 1e-15))
    assert not compare("zero", np.array([0.0, 1.0]), np.array([-0.0, -1.0]))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "same: match (relative error < 1e-12)"
    assert lines[1] == "close: close (relative error < 1e-07)"
    assert lines[2] == "far: DIFFERENT (relative error 6.4e-02)"
    assert lines[3] == "    worst entry (1,): ours 2, reference 2.5, difference 5.0e-01"
    assert lines[4] == "shape: SHAPE MISMATCH, ours (3,) vs reference (2,)"
    # rounding differences print exactly what an exact match prints: nothing CPU-dependent
    assert lines[5] == "rounding: match (relative error < 1e-12)"
    assert lines[6] == "zero: DIFFERENT (relative error 1.0e+00)"
    assert lines[7] == "    worst entry (1,): ours 1, reference -1, difference 2.0e+00"


def test_compare_names_the_first_nan_or_infinity_and_compares_around_shared_ones(capsys):
    assert not compare("nan", [np.nan, 1.0], [1.0, 2.0])
    assert not compare("all nan", np.full(3, np.nan), np.ones(3))  # raised inside numpy
    assert not compare("inf", [1.0, np.inf], [1.0, 1.0])
    assert compare("shared", [np.nan, 1.0, np.inf], [np.nan, 1.0, np.inf])
    assert not compare("rest", [np.nan, 1.0], [np.nan, 2.0])
    lines = capsys.readouterr().out.splitlines()
    assert lines[:6] == ["nan: DIFFERENT (not finite)",
                         "    first at entry (0,): ours nan, reference 1",
                         "all nan: DIFFERENT (not finite)",
                         "    first at entry (0,): ours nan, reference 1",
                         "inf: DIFFERENT (not finite)",
                         "    first at entry (1,): ours inf, reference 1"]
    assert lines[6] == "shared: match (relative error < 1e-12)"
    assert lines[8] == "    worst entry (1,): ours 1, reference 2, difference 1.0e+00"


def test_compare_prints_negative_zero_as_zero_in_lines_that_fit_a_notebook(capsys):
    # A ReLU backward gives -0.0 where its mask is off (a negative dout times 0).
    ours = np.array([[0.5, -0.110034], [0.0, 1.0]])
    reference = np.array([[0.5, -0.0], [0.0, 1.0]])
    assert not compare("statistics over the rows (axis=1)", ours, reference)
    out = capsys.readouterr().out
    assert "reference 0," in out and "-0," not in out
    assert all(len(line) <= 90 for line in out.splitlines())


def test_format_error_hides_rounding_digits():
    assert format_error(3.2e-11) == "< 1e-07"
    assert format_error(2.3e-9) == format_error(8.1e-10)  # noise does not show
    assert format_error(0.65) == "6.5e-01"
    assert format_error(1e-3, below=1e-2) == "< 1e-02"


def test_gradcheck_refuses_float32_layers_and_inputs(rng):
    x = rng.standard_normal((6, 4))
    with pytest.raises(TypeError, match=r"float64.*x \(float32\).*x\.astype\(np\.float64\)"):
        gradcheck(nnlib.Tanh(), x.astype(np.float32))
    layer32 = nnlib.Sequential([nnlib.Dense(4, 3, rng=rng), nnlib.BatchNorm(3, dtype=np.float32)])
    with pytest.raises(TypeError, match=r"BatchNorm gamma \(float32\)"):
        gradcheck(layer32, x)
    # the float64 copy the message asks for passes, and integer inputs are converted
    assert max(gradcheck(nnlib.Tanh(), x).values()) < 1e-7
    assert max(gradcheck(nnlib.Dense(4, 3, rng=rng), np.arange(24).reshape(6, 4)).values()) < 1e-7
