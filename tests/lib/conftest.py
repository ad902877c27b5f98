"""Shared fixtures for the library tests."""

import numpy as np
import pytest

import nnlib


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits():
    return nnlib.datasets.load_digits()


@pytest.fixture(scope="session")
def digits_split(digits):
    X, y = digits
    return nnlib.datasets.train_test_split(X, y, test_size=0.25, rng=np.random.default_rng(0))


def bn_mlp(rng, dtype=np.float64, sizes=(64, 32, 10), dropout=None):
    """Dense -> BatchNorm -> Sigmoid blocks, then a Dense output layer."""
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nnlib.Dense(a, b, rng=rng, dtype=dtype), nnlib.BatchNorm(b, dtype=dtype),
                   nnlib.Sigmoid()]
        if dropout is not None:
            layers.append(nnlib.Dropout(dropout, rng=rng))
    layers.append(nnlib.Dense(sizes[-2], sizes[-1], rng=rng, dtype=dtype))
    return nnlib.Sequential(layers)


@pytest.fixture
def make_bn_mlp():
    return bn_mlp
