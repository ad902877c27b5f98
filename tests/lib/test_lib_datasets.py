"""nnlib.datasets: the shipped digits, seeded generators, the split, HDF5 arrays."""

import numpy as np
import pytest

import nnlib
from nnlib import datasets


def test_digits_shape_dtype_range_and_classes(digits):
    X, y = digits
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y),
                                  [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    raw, _ = datasets.load_digits(scale=False)
    assert raw.max() == 16 and np.array_equal(raw, np.round(raw))
    np.testing.assert_array_equal(raw / 16, X)
    X32, _ = datasets.load_digits(dtype=np.float32)
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, X, rtol=1e-7)


def test_digits_loads_fresh_arrays(digits):
    X1, _ = datasets.load_digits()
    X1[:] = -1
    X2, _ = datasets.load_digits()
    assert X2.min() == 0.0


@pytest.mark.parametrize("make", [
    lambda rng: datasets.make_regression(50, rng=rng),
    lambda rng: datasets.make_moons(50, rng=rng),
    lambda rng: datasets.make_spirals(60, classes=3, rng=rng),
], ids=["regression", "moons", "spirals"])
def test_generators_are_seeded_and_deterministic(make):
    a = make(np.random.default_rng(1))
    b = make(np.random.default_rng(1))
    c = make(np.random.default_rng(2))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_generator_shapes_and_labels(rng):
    X, y = datasets.make_regression(40, rng=rng)
    assert X.shape == (40, 1) and y.shape == (40, 1)
    assert X.min() >= -3 and X.max() <= 3
    X, y = datasets.make_moons(41, rng=rng)
    assert X.shape == (41, 2) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [20, 21])
    X, y = datasets.make_spirals(90, classes=3, rng=rng)
    assert X.shape == (90, 2)
    np.testing.assert_array_equal(np.bincount(y), [30, 30, 30])
    X, y = datasets.make_regression(200, rng=rng, noise=0.0)
    np.testing.assert_allclose(y, np.sin(2 * X) + 0.3 * X, rtol=1e-15)


def test_generators_require_an_rng():
    for make in (datasets.make_regression, datasets.make_moons, datasets.make_spirals):
        with pytest.raises(TypeError, match="default_rng"):
            make(10)
        with pytest.raises(TypeError, match="default_rng"):
            make(10, rng=0)


def test_split_sizes_disjoint_and_complete(rng):
    X = np.arange(100, dtype=float).reshape(50, 2)
    y = np.arange(50)
    Xtr, Xte, ytr, yte = datasets.train_test_split(X, y, test_size=0.2, rng=rng)
    assert Xtr.shape == (40, 2) and Xte.shape == (10, 2) and len(ytr) == 40 and len(yte) == 10
    assert set(ytr).isdisjoint(yte) and sorted([*ytr, *yte]) == list(range(50))
    np.testing.assert_array_equal(Xtr[:, 0], 2 * ytr)  # rows stay paired with their labels
    np.testing.assert_array_equal(Xte[:, 0], 2 * yte)
    again = datasets.train_test_split(X, y, test_size=0.2, rng=np.random.default_rng(1234))
    np.testing.assert_array_equal(again[3], yte)  # the fixture rng is seeded with 1234


def test_split_errors(rng):
    with pytest.raises(ValueError, match="10 rows but y has 9"):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(9), rng=rng)
    with pytest.raises(ValueError, match="test_size"):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(10), test_size=1.0, rng=rng)
    with pytest.raises(TypeError, match="default_rng"):
        datasets.train_test_split(np.zeros((10, 2)), np.zeros(10))


def test_one_hot():
    out = datasets.one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert out.dtype == np.float64
    assert datasets.one_hot(np.array([1]), 2, dtype=np.float32).dtype == np.float32


def test_save_h5_load_h5_round_trip(tmp_path, rng):
    X = rng.standard_normal((5, 3)).astype(np.float32)
    y = np.arange(5)
    path = tmp_path / "data.h5"
    datasets.save_h5(path, X=X, y=y)
    out = datasets.load_h5(path)
    assert set(out) == {"X", "y"}
    np.testing.assert_array_equal(out["X"], X)
    assert out["X"].dtype == np.float32 and out["y"].dtype == y.dtype
    assert set(datasets.load_h5(str(path), "y")) == {"y"}
    datasets.save_h5(path, X=X[:2])  # overwrites atomically
    assert set(datasets.load_h5(path)) == {"X"}
    assert [p.name for p in tmp_path.iterdir()] == ["data.h5"]


def test_save_h5_failure_keeps_old_file(tmp_path):
    path = tmp_path / "data.h5"
    datasets.save_h5(path, a=np.arange(3))
    with pytest.raises(TypeError):
        datasets.save_h5(path, a=np.arange(3), b=np.array([object()]))
    np.testing.assert_array_equal(datasets.load_h5(path)["a"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["data.h5"]


def test_load_h5_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        datasets.load_h5(tmp_path / "nothing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="bad.h5.*not a readable HDF5"):
        datasets.load_h5(bad)
    good = tmp_path / "good.h5"
    datasets.save_h5(good, X=np.zeros(2))
    with pytest.raises(ValueError, match=r"good.h5 has no array named 'Y'.*\['X'\]"):
        datasets.load_h5(good, "Y")


def test_datasets_are_exported():
    assert nnlib.datasets is datasets


def test_course_split_is_notebook_05s_and_a_partition():
    # The split notebook 05 makes by hand, and every later notebook on the digits
    # and every experiment reuses.
    X, y = datasets.load_digits()
    X_rest, X_test, y_rest, y_test = datasets.train_test_split(X, y, 0.2,
                                                               rng=np.random.default_rng(0))
    X_train, X_val, y_train, y_val = datasets.train_test_split(X_rest, y_rest, 0.25,
                                                               rng=np.random.default_rng(1))
    split = datasets.digits_course_split()
    for part, (Xp, yp) in {"train": (X_train, y_train), "val": (X_val, y_val),
                           "test": (X_test, y_test)}.items():
        np.testing.assert_array_equal(split[part][0], Xp, err_msg=part)
        np.testing.assert_array_equal(split[part][1], yp, err_msg=part)
    assert [len(split[p][1]) for p in ("train", "val", "test")] == [1078, 360, 359]
    # every image lands in exactly one part: the rows of the three parts are X's rows
    rows = np.vstack([split[p][0] for p in ("train", "val", "test")])
    assert sorted(map(bytes, rows)) == sorted(map(bytes, X))
    assert datasets.digits_course_split(dtype=np.float32)["val"][0].dtype == np.float32
