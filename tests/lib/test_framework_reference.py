"""nnlib's batch normalization against PyTorch and TensorFlow/Keras, as measured in a file.

``scripts/make_framework_reference.py`` ran the frameworks once and stored what they
computed (``nnlib/data/framework_reference.h5``); these tests need neither framework.
Where the conventions agree, nnlib must agree to float64 rounding. Where they differ (Keras
stores the biased batch variance), the difference must be exactly the one the conventions
predict, and no other.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nnlib
from nnlib import functional as F

REF = nnlib.datasets.load_framework_reference()
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def run_training_step(case: dict, momentum: float, eps: float) -> dict[str, np.ndarray]:
    """One nnlib training step on the case's inputs, with loss sum(y * dout), then eval."""
    bn = nnlib.BatchNorm(case["x"].shape[1], momentum=momentum, eps=eps)
    bn.params["gamma"][...] = case["gamma"]
    bn.params["beta"][...] = case["beta"]
    y = bn.forward(case["x"])
    dx = bn.backward(case["dout"])
    out = {"y": y, "dx": dx, "dgamma": bn.grads["gamma"].copy(),
           "dbeta": bn.grads["beta"].copy(), "running_mean": bn.running_mean.copy(),
           "running_var": bn.running_var.copy()}
    bn.eval()
    out["y_eval"] = bn.forward(case["x"])
    return out


def run_steps(case: dict, momentum: float) -> tuple[np.ndarray, np.ndarray, nnlib.BatchNorm]:
    bn = nnlib.BatchNorm(3, momentum=momentum, eps=case["attrs"]["eps"])
    bn.params["gamma"][...] = case["gamma"]
    bn.params["beta"][...] = case["beta"]
    means, variances = [], []
    for x in case["xs"]:
        bn.forward(x)
        means.append(bn.running_mean.copy())
        variances.append(bn.running_var.copy())
    bn.eval()
    return np.array(means), np.array(variances), bn


def biased_recurrence(xs: np.ndarray, keras_momentum: float) -> np.ndarray:
    """Keras's documented update of the moving variance, with the biased batch variance."""
    moving, out = np.ones(xs.shape[2]), []
    for x in xs:
        moving = keras_momentum * moving + (1 - keras_momentum) * x.var(axis=0)
        out.append(moving.copy())
    return np.array(out)


def test_the_file_records_its_run():
    assert REF["attrs"]["created"]
    assert REF["attrs"]["script"].endswith("make_framework_reference.py")
    assert REF["pytorch"]["attrs"]["version"]
    assert REF["tensorflow"]["attrs"]["version"] and REF["tensorflow"]["attrs"]["keras_version"]
    case = REF["pytorch"]["batchnorm_train"]
    assert case["x"].shape == (8, 3) and case["x"].dtype == np.float64
    assert case["attrs"]["momentum"] == 0.1 and case["attrs"]["eps"] == 1e-5
    assert REF["tensorflow"]["batchnorm_train"]["attrs"]["momentum"] == 0.9


def test_pytorch_one_training_step_agrees_to_rounding():
    case = REF["pytorch"]["batchnorm_train"]
    ours = run_training_step(case, case["attrs"]["momentum"], case["attrs"]["eps"])
    for name, value in ours.items():
        np.testing.assert_allclose(value, case[name], **TIGHT, err_msg=name)


@pytest.mark.parametrize("n", [8, 32])
def test_pytorch_several_steps_agree_to_rounding(n):
    case = REF["pytorch"][f"batchnorm_steps_batch{n}"]
    means, variances, bn = run_steps(case, case["attrs"]["momentum"])
    np.testing.assert_allclose(means, case["running_mean"], **TIGHT)
    np.testing.assert_allclose(variances, case["running_var"], **TIGHT)
    np.testing.assert_allclose(bn.forward(case["x_eval"]), case["y_eval"], **TIGHT)


@pytest.mark.parametrize("name", ["batchnorm_train", "batchnorm_keras_defaults"])
def test_keras_training_step_agrees_except_the_stored_variance(name):
    case = REF["tensorflow"][name]
    keras_momentum, eps = case["attrs"]["momentum"], case["attrs"]["eps"]
    ours = run_training_step(case, 1 - keras_momentum, eps)   # Keras's momentum is 1 - ours
    for key in ("y", "dx", "dgamma", "dbeta", "running_mean"):
        np.testing.assert_allclose(ours[key], case[key], **TIGHT, err_msg=key)
    # Keras stores the biased batch variance, nnlib (like PyTorch) the unbiased one.
    n = case["x"].shape[0]
    biased = case["x"].var(axis=0)
    np.testing.assert_allclose(case["running_var"],
                               keras_momentum + (1 - keras_momentum) * biased, **TIGHT)
    np.testing.assert_allclose(ours["running_var"],
                               keras_momentum + (1 - keras_momentum) * biased * n / (n - 1),
                               **TIGHT)
    assert np.all(ours["running_var"] > case["running_var"])
    # And that is the whole difference: with Keras's variance, nnlib's eval output is Keras's.
    keras_eval = (case["gamma"] * (case["x"] - case["running_mean"])
                  / np.sqrt(case["running_var"] + eps) + case["beta"])
    np.testing.assert_allclose(keras_eval, case["y_eval"], **TIGHT)
    assert not np.allclose(ours["y_eval"], case["y_eval"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("n", [8, 32])
def test_keras_after_several_steps_the_variance_ratio_is_not_n_over_n_minus_1(n):
    case = REF["tensorflow"][f"batchnorm_steps_batch{n}"]
    keras_momentum = case["attrs"]["momentum"]
    means, variances, bn = run_steps(case, 1 - keras_momentum)
    np.testing.assert_allclose(means, case["running_mean"], **TIGHT)
    np.testing.assert_allclose(case["running_var"], biased_recurrence(case["xs"], keras_momentum),
                               **TIGHT)
    # The stored variances start at 1 in both, so their ratio after 5 steps lies strictly
    # between 1 and N / (N - 1): the factor holds for each batch, not for the stored values.
    ratio = variances[-1] / case["running_var"][-1]
    assert np.all(ratio > 1.0) and np.all(ratio < n / (n - 1))
    # The eval outputs then differ by the factor sqrt of that ratio on y - beta, and only so.
    y_eval = bn.forward(case["x_eval"])
    scale = np.sqrt((case["running_var"][-1] + 1e-5) / (variances[-1] + 1e-5))
    np.testing.assert_allclose(y_eval - case["beta"], (case["y_eval"] - case["beta"]) * scale,
                               **TIGHT)


def test_tf_nn_batch_normalization_is_nnlibs_forward():
    case = REF["tensorflow"]["batch_normalization"]
    out, cache = F.batchnorm_forward(case["x"], case["scale"], case["offset"],
                                     eps=case["attrs"]["variance_epsilon"])
    np.testing.assert_allclose(out, case["y"], **TIGHT)
    np.testing.assert_allclose(cache[2], case["mean"], **TIGHT)      # mu
    np.testing.assert_allclose(cache[3], case["variance"], **TIGHT)  # biased variance


def test_nnlib_imports_neither_framework():
    code = ("import sys, nnlib, nnlib.experiments, nnlib.grading; "
            "nnlib.datasets.load_framework_reference(); "
            "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
