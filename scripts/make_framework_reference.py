"""Measure batch normalization in PyTorch and TensorFlow/Keras, for comparison with nnlib.

Writes ``nnlib/data/framework_reference.h5``.

nnlib itself never imports either framework: this script runs once, in an environment that
has them (outside the repository, e.g. ``python3 -m venv ../fw-venv`` and
``../fw-venv/bin/pip install numpy h5py torch tensorflow-cpu``, with a CPU-only build of
torch: the default one brings gigabytes of GPU libraries), and its measurements are
shipped as data. ``tests/lib/test_framework_reference.py`` and notebooks 07 (TensorFlow's
``tf.nn.batch_normalization``) and 09 (the PyTorch and Keras layers) compare nnlib
with them::

    ../fw-venv/bin/python scripts/make_framework_reference.py

Layout (float64 throughout; every group's conventions are its framework's own)::

    /                           attrs: created (UTC), script, python, numpy, h5py, platform
    /pytorch                    attrs: version
    /pytorch/batchnorm_train    torch.nn.BatchNorm1d(3, eps=1e-5, momentum=0.1)
        x (8, 3), gamma (3,), beta (3,), dout (8, 3)          inputs; attrs eps, momentum
        y, dx, dgamma, dbeta                                   one training-mode step, with
                                                               loss = sum(y * dout)
        running_mean, running_var                              buffers after that step
        y_eval                                                 eval mode, the same x
    /pytorch/batchnorm_steps_batch8, .../batchnorm_steps_batch32
        xs (5, N, 3), gamma, beta                              five training steps
        running_mean (5, 3), running_var (5, 3)                buffers after each step
        x_eval (N, 3), y_eval (N, 3)                           eval mode after the 5 steps
    /tensorflow                 attrs: version, keras_version
    /tensorflow/batchnorm_train           keras.layers.BatchNormalization(momentum=0.9,
                                          epsilon=1e-5); the same fields, with
                                          running_mean / running_var = moving_mean /
                                          moving_variance; attrs eps, momentum (Keras's: 0.9)
    /tensorflow/batchnorm_keras_defaults  the same with Keras's defaults (0.99, 1e-3)
    /tensorflow/batchnorm_steps_batch8, .../batchnorm_steps_batch32   as for PyTorch
    /tensorflow/batch_normalization       tf.nn.batch_normalization itself:
        x (8, 3), mean, variance (from tf.nn.moments over axis 0), offset, scale,
        attr variance_epsilon; y
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

import h5py
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "nnlib" / "data" / "framework_reference.h5"
LOC = np.array([0.0, 2.0, -1.0])
SCALE = np.array([1.0, 3.0, 0.5])
GAMMA = np.array([1.0, 0.5, 2.0])
BETA = np.array([0.0, 1.0, -0.5])


def inputs(rng: np.random.Generator, n: int) -> np.ndarray:
    """A batch of shape (n, 3) whose features have different means and spreads."""
    return rng.normal(LOC, SCALE, size=(n, 3))


# ---------------------------------------------------------------- PyTorch
def torch_bn(eps: float, momentum: float) -> torch.nn.BatchNorm1d:
    bn = torch.nn.BatchNorm1d(3, eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(GAMMA))
        bn.bias.copy_(torch.from_numpy(BETA))
    return bn


def torch_train(x: np.ndarray, dout: np.ndarray) -> dict[str, np.ndarray]:
    bn = torch_bn(1e-5, 0.1)
    bn.train()
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y = bn(xt)
    (y * torch.from_numpy(dout)).sum().backward()
    out = {"y": y.detach().numpy(), "dx": xt.grad.numpy(), "dgamma": bn.weight.grad.numpy(),
           "dbeta": bn.bias.grad.numpy(), "running_mean": bn.running_mean.numpy().copy(),
           "running_var": bn.running_var.numpy().copy()}
    bn.eval()
    with torch.no_grad():
        out["y_eval"] = bn(torch.from_numpy(x.copy())).numpy()
    return out


def torch_steps(xs: np.ndarray, x_eval: np.ndarray) -> dict[str, np.ndarray]:
    bn = torch_bn(1e-5, 0.1)
    bn.train()
    means, variances = [], []
    with torch.no_grad():
        for x in xs:
            bn(torch.from_numpy(x.copy()))
            means.append(bn.running_mean.numpy().copy())
            variances.append(bn.running_var.numpy().copy())
        bn.eval()
        y_eval = bn(torch.from_numpy(x_eval.copy())).numpy()
    return {"running_mean": np.array(means), "running_var": np.array(variances),
            "y_eval": y_eval}


# ---------------------------------------------------------------- TensorFlow / Keras
def keras_bn(eps: float, momentum: float) -> keras.layers.BatchNormalization:
    bn = keras.layers.BatchNormalization(axis=-1, momentum=momentum, epsilon=eps,
                                         dtype="float64")
    bn.build((None, 3))
    bn.gamma.assign(GAMMA)
    bn.beta.assign(BETA)
    return bn


def keras_train(x: np.ndarray, dout: np.ndarray, eps: float, momentum: float
                ) -> dict[str, np.ndarray]:
    bn = keras_bn(eps, momentum)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = bn(xt, training=True)
        loss = tf.reduce_sum(y * tf.constant(dout))
    dx, dgamma, dbeta = tape.gradient(loss, [xt, bn.gamma, bn.beta])
    out = {"y": y.numpy(), "dx": dx.numpy(), "dgamma": dgamma.numpy(), "dbeta": dbeta.numpy(),
           "running_mean": bn.moving_mean.numpy().copy(),
           "running_var": bn.moving_variance.numpy().copy()}
    out["y_eval"] = bn(tf.constant(x), training=False).numpy()
    return out


def keras_steps(xs: np.ndarray, x_eval: np.ndarray) -> dict[str, np.ndarray]:
    bn = keras_bn(1e-5, 0.9)
    means, variances = [], []
    for x in xs:
        bn(tf.constant(x), training=True)
        means.append(bn.moving_mean.numpy().copy())
        variances.append(bn.moving_variance.numpy().copy())
    y_eval = bn(tf.constant(x_eval), training=False).numpy()
    return {"running_mean": np.array(means), "running_var": np.array(variances),
            "y_eval": y_eval}


def tf_batch_normalization(x: np.ndarray, eps: float) -> dict[str, np.ndarray]:
    xt = tf.constant(x)
    mean, variance = tf.nn.moments(xt, axes=[0])
    y = tf.nn.batch_normalization(xt, mean, variance, offset=tf.constant(BETA),
                                  scale=tf.constant(GAMMA), variance_epsilon=eps)
    return {"x": x, "mean": mean.numpy(), "variance": variance.numpy(), "offset": BETA,
            "scale": GAMMA, "y": y.numpy()}


# ---------------------------------------------------------------- the file
def put(group: h5py.Group, arrays: dict[str, np.ndarray], **attrs: object) -> None:
    for name, value in arrays.items():
        group.create_dataset(name, data=np.asarray(value, dtype=np.float64))
    for name, value in attrs.items():
        group.attrs[name] = value


def main() -> int:
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(2015)
    x = inputs(rng, 8)
    dout = rng.standard_normal((8, 3))
    steps = {n: (np.stack([inputs(rng, n) for _ in range(5)]), inputs(rng, n)) for n in (8, 32)}
    train_inputs = {"x": x, "gamma": GAMMA, "beta": BETA, "dout": dout}

    tmp = OUT.with_suffix(".h5.tmp")
    try:
        write(tmp, x, dout, steps, train_inputs)
        os.replace(tmp, OUT)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {OUT}: torch {torch.__version__}, tensorflow {tf.__version__}, "
          f"keras {keras.__version__}")
    return 0


def write(tmp: Path, x: np.ndarray, dout: np.ndarray,
          steps: dict[int, tuple[np.ndarray, np.ndarray]],
          train_inputs: dict[str, np.ndarray]) -> None:
    with h5py.File(tmp, "w") as f:
        f.attrs["description"] = (
            "Batch normalization measured in PyTorch and TensorFlow/Keras, float64, for "
            "comparison with nnlib. Each group states its inputs and its framework's own "
            "conventions (momentum, eps) as attributes.")
        f.attrs["created"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        f.attrs["script"] = "scripts/make_framework_reference.py"
        f.attrs["python"] = platform.python_version()
        f.attrs["numpy"] = str(np.__version__)
        f.attrs["h5py"] = str(h5py.__version__)
        f.attrs["platform"] = platform.platform()

        pt = f.create_group("pytorch")
        pt.attrs["version"] = str(torch.__version__)
        put(pt.create_group("batchnorm_train"), {**train_inputs, **torch_train(x, dout)},
            eps=1e-5, momentum=0.1, layer="torch.nn.BatchNorm1d(3, eps=1e-5, momentum=0.1)")
        for n, (xs, x_eval) in steps.items():
            put(pt.create_group(f"batchnorm_steps_batch{n}"),
                {"xs": xs, "gamma": GAMMA, "beta": BETA, "x_eval": x_eval,
                 **torch_steps(xs, x_eval)}, eps=1e-5, momentum=0.1, batch_size=n)

        tfg = f.create_group("tensorflow")
        tfg.attrs["version"] = str(tf.__version__)
        tfg.attrs["keras_version"] = str(keras.__version__)
        put(tfg.create_group("batchnorm_train"),
            {**train_inputs, **keras_train(x, dout, 1e-5, 0.9)}, eps=1e-5, momentum=0.9,
            layer="keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)")
        put(tfg.create_group("batchnorm_keras_defaults"),
            {**train_inputs, **keras_train(x, dout, 1e-3, 0.99)}, eps=1e-3, momentum=0.99,
            layer="keras.layers.BatchNormalization() (defaults: momentum=0.99, epsilon=1e-3)")
        for n, (xs, x_eval) in steps.items():
            put(tfg.create_group(f"batchnorm_steps_batch{n}"),
                {"xs": xs, "gamma": GAMMA, "beta": BETA, "x_eval": x_eval,
                 **keras_steps(xs, x_eval)}, eps=1e-5, momentum=0.9, batch_size=n)
        put(tfg.create_group("batch_normalization"), tf_batch_normalization(x, 1e-5),
            variance_epsilon=1e-5, function="tf.nn.batch_normalization with tf.nn.moments")


if __name__ == "__main__":
    sys.exit(main())
