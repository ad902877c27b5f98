"""nnlib: dense networks, backpropagation and batch normalization in plain numpy.

Layout
------
``nnlib.functional``  stateless forward/backward kernels (``(out, cache)`` / ``(dout, cache)``)
``nnlib.layers``      layers built on the kernels (Dense, BatchNorm, activations, Dropout)
``nnlib.sequential``  the Sequential container
``nnlib.optim``       SGD and Adam
``nnlib.init``        weight initializers
``nnlib.gradcheck``   finite-difference gradient checking and ``compare``
``nnlib.training``    the ``fit`` loop
``nnlib.io``          ``save`` / ``load`` models to HDF5
``nnlib.datasets``    digits, synthetic data, splits, HDF5 arrays
``limit_blas_threads`` one BLAS thread for a whole notebook kernel (``fit`` and the
                      experiments already use one)
"""

from nnlib import datasets, functional, init
from nnlib._runtime import limit_blas_threads
from nnlib.gradcheck import (
    compare,
    format_error,
    gradcheck,
    numerical_gradient,
    relative_error,
)
from nnlib.io import ModelFileError, load, save
from nnlib.layers import BatchNorm, Dense, Dropout, LayerNorm, LeakyReLU, ReLU, Sigmoid, Tanh
from nnlib.module import Layer, Parameter
from nnlib.optim import SGD, Adam, Optimizer
from nnlib.sequential import Sequential
from nnlib.training import History, evaluate, fit, predict

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "BatchNorm",
    "Dense",
    "Dropout",
    "History",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "ModelFileError",
    "Optimizer",
    "Parameter",
    "ReLU",
    "SGD",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "compare",
    "datasets",
    "evaluate",
    "fit",
    "format_error",
    "functional",
    "gradcheck",
    "init",
    "limit_blas_threads",
    "load",
    "numerical_gradient",
    "predict",
    "relative_error",
    "save",
]
