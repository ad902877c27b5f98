"""nnlib.save / nnlib.load: round trips, modes, dtypes, atomicity, errors."""

import os

import h5py
import numpy as np
import pytest

import nnlib
import nnlib.functional as F
import nnlib.io


def test_brief_snippet_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    X, y = nnlib.datasets.load_digits()
    model = nnlib.Sequential([nnlib.Dense(64, 100, rng=rng), nnlib.BatchNorm(100), nnlib.Sigmoid(), nnlib.Dense(100, 10, rng=rng)])  # noqa: E501
    opt = nnlib.SGD(model.parameters(), lr=0.1)
    logits = model.forward(X[:60]); loss, dlogits = F.softmax_cross_entropy(logits, y[:60])  # noqa: E702
    model.backward(dlogits); opt.step()  # noqa: E702
    model.eval(); model.forward(X[:1])  # noqa: E702
    nnlib.save(model, "model.h5"); again = nnlib.load("model.h5")  # noqa: E702
    # what the snippet implies: the same model, still in eval mode
    assert (tmp_path / "model.h5").is_file()
    assert not again.training and not again[1].training
    np.testing.assert_array_equal(again.forward(X[:10]), model.forward(X[:10]))
    assert [f.name for f in tmp_path.iterdir()] == ["model.h5"]


def trained_model(rng, dtype, dropout=False):
    layers = [nnlib.Dense(8, 16, rng=rng, dtype=dtype), nnlib.BatchNorm(16, dtype=dtype,
                                                                       momentum=0.3),
              nnlib.Tanh(), nnlib.Dense(16, 16, init="he", rng=rng, dtype=dtype, bias=False),
              nnlib.LayerNorm(16, dtype=dtype), nnlib.LeakyReLU(0.2)]
    if dropout:
        layers.append(nnlib.Dropout(0.3, rng=np.random.default_rng(5)))
    layers += [nnlib.ReLU(), nnlib.Sigmoid(), nnlib.Dense(16, 3, rng=rng, dtype=dtype)]
    model = nnlib.Sequential(layers)
    X = rng.standard_normal((40, 8)).astype(dtype)
    y = rng.integers(0, 3, 40)
    nnlib.fit(model, X, y, optimizer=nnlib.Adam(model, lr=0.01), epochs=3, batch_size=10,
              rng=rng, verbose=0)
    return model, X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_round_trip_reproduces_everything(tmp_path, dtype, mode):
    rng = np.random.default_rng(3)
    model, X = trained_model(rng, dtype)
    model.train(mode == "train")
    path = tmp_path / "m.h5"
    nnlib.save(model, path)
    again = nnlib.load(path)
    assert repr(again) == repr(model)
    assert [layer.training for layer in again] == [layer.training for layer in model]
    assert again.training == model.training == (mode == "train")
    for a, b in zip(model, again, strict=True):
        assert type(a) is type(b) and a.config() == b.config()
        for (ka, va), (kb, vb) in zip(a.named_arrays(), b.named_arrays(), strict=True):
            assert ka == kb and vb.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(va, vb)
    bn = again[1]
    assert not np.array_equal(bn.running_mean, 0) and not np.array_equal(bn.running_var, 1)
    # identical outputs; in training mode twice in a row (running statistics change)
    for _ in range(2):
        out_a, out_b = model.forward(X), again.forward(X)
        assert out_b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(model[1].running_var, again[1].running_var)
    # and the loaded model keeps training exactly like the original
    dout = rng.standard_normal(out_a.shape).astype(dtype)
    np.testing.assert_array_equal(model.backward(dout), again.backward(dout))


def test_dropout_needs_an_rng_on_load(tmp_path):
    rng = np.random.default_rng(0)
    model, X = trained_model(rng, np.float64, dropout=True)
    nnlib.save(model, tmp_path / "d.h5")
    with pytest.raises(TypeError, match=r"Dropout.*rng=np.random.default_rng"):
        nnlib.load(tmp_path / "d.h5")
    again = nnlib.load(tmp_path / "d.h5", rng=np.random.default_rng(9))
    model[6].rng = np.random.default_rng(9)
    np.testing.assert_array_equal(model.forward(X), again.forward(X))  # same masks
    model.eval()
    again.eval()
    np.testing.assert_array_equal(model.forward(X), again.forward(X))


def test_single_layer_round_trip(tmp_path):
    layer = nnlib.BatchNorm(5, momentum=0.2, eps=1e-3, dtype=np.float32, backward_mode="staged")
    layer.forward(np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32))
    nnlib.save(layer, tmp_path / "bn.h5")
    again = nnlib.load(str(tmp_path / "bn.h5"))
    assert isinstance(again, nnlib.BatchNorm) and again.config() == layer.config()
    np.testing.assert_array_equal(again.running_mean, layer.running_mean)
    np.testing.assert_array_equal(again.running_var, layer.running_var)


def test_nested_sequential_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    inner = nnlib.Sequential([nnlib.Dense(3, 3, rng=rng), nnlib.ReLU()])
    model = nnlib.Sequential([inner, nnlib.Dense(3, 2, rng=rng)])
    nnlib.save(model, tmp_path / "n.h5")
    again = nnlib.load(tmp_path / "n.h5")
    x = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(again.forward(x), model.forward(x))


def test_file_layout_is_self_describing(tmp_path):
    rng = np.random.default_rng(0)
    model = nnlib.Sequential([nnlib.Dense(4, 2, rng=rng), nnlib.BatchNorm(2)])
    nnlib.save(model, tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert f.attrs["nnlib_format"] == "nnlib-model"
        assert f.attrs["format_version"] == nnlib.io.FORMAT_VERSION
        assert f["model"].attrs["class"] == "Sequential"
        assert f["model/layers/0"].attrs["class"] == "Dense"
        assert '"in_features": 4' in f["model/layers/0"].attrs["config"]
        assert f["model/layers/0/params/W"].shape == (2, 4)
        assert f["model/layers/1/buffers/running_var"].dtype == np.float64


def test_custom_layer_needs_its_class(tmp_path):
    class Scale(nnlib.Layer):
        def __init__(self, k=2.0):
            super().__init__()
            self.k = k

        def forward(self, x):
            return self.k * x

        def config(self):
            return {"k": self.k}

    nnlib.save(nnlib.Sequential([Scale(3.0)]), tmp_path / "c.h5")
    with pytest.raises(ValueError, match=r"c\.h5.*'Scale'.*custom_layers"):
        nnlib.load(tmp_path / "c.h5")
    again = nnlib.load(tmp_path / "c.h5", custom_layers={"Scale": Scale})
    assert again[0].k == 3.0


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    old = nnlib.Sequential([nnlib.Dense(4, 2, rng=rng)])
    path = tmp_path / "m.h5"
    nnlib.save(old, path)
    before = path.read_bytes()

    new = nnlib.Sequential([nnlib.Dense(4, 3, rng=rng), nnlib.ReLU(), nnlib.Dense(3, 2, rng=rng)])
    written = []
    real_write = nnlib.io._write

    def failing_write(group, layer):
        if isinstance(layer, nnlib.ReLU):  # the first Dense is already in the file by now
            written.append(list(os.listdir(tmp_path)))
            raise OSError("disk full (simulated)")
        real_write(group, layer)

    monkeypatch.setattr(nnlib.io, "_write", failing_write)
    with pytest.raises(OSError, match="simulated"):
        nnlib.save(new, path)
    assert len(written[0]) == 2  # the temporary file really existed during the save
    assert os.listdir(tmp_path) == ["m.h5"]
    assert path.read_bytes() == before
    np.testing.assert_array_equal(nnlib.load(path)[0].params["W"], old[0].params["W"])


def test_interrupted_save_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)

    def boom(group, layer):
        raise KeyboardInterrupt

    monkeypatch.setattr(nnlib.io, "_write", boom)
    with pytest.raises(KeyboardInterrupt):
        nnlib.save(nnlib.Dense(2, 2, rng=rng), tmp_path / "new.h5")
    assert os.listdir(tmp_path) == []


def test_saved_file_has_ordinary_permissions(tmp_path):
    nnlib.save(nnlib.ReLU(), tmp_path / "r.h5")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "r.h5").stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        nnlib.save(nnlib.ReLU(), tmp_path / "nope" / "m.h5")


def test_save_rejects_non_layers(tmp_path):
    with pytest.raises(TypeError, match="nnlib Layer"):
        nnlib.save({"W": np.zeros(2)}, tmp_path / "m.h5")


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        nnlib.load(tmp_path / "missing.h5")


def test_load_corrupt_file(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"this is not HDF5 at all" * 10)
    with pytest.raises(nnlib.ModelFileError, match="garbage.h5.*not a readable HDF5"):
        nnlib.load(path)


def test_load_truncated_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "cut.h5"
    nnlib.save(nnlib.Sequential([nnlib.Dense(50, 50, rng=rng)]), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.h5"):
        nnlib.load(path)


def test_load_plain_hdf5_file(tmp_path):
    path = tmp_path / "arrays.h5"
    nnlib.datasets.save_h5(path, X=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"arrays\.h5.*not an nnlib model.*load_h5"):
        nnlib.load(path)


def test_load_newer_format_version(tmp_path):
    path = tmp_path / "v.h5"
    nnlib.save(nnlib.ReLU(), path)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(ValueError, match=r"v\.h5.*version 99"):
        nnlib.load(path)


def test_load_damaged_arrays(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.h5"
    nnlib.save(nnlib.Sequential([nnlib.Dense(3, 2, rng=rng)]), path)
    with h5py.File(path, "a") as f:
        del f["model/layers/0/params/W"]
        f["model/layers/0/params/W"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"d\.h5.*'W' has shape \(3, 3\).*expected \(2, 3\)"):
        nnlib.load(path)
    with h5py.File(path, "a") as f:
        del f["model/layers/0/params/W"]
    with pytest.raises(ValueError, match=r"d\.h5"):
        nnlib.load(path)
    with h5py.File(path, "a") as f:
        del f["model/layers/0"]
    with pytest.raises(ValueError, match=r"d\.h5 is damaged"):
        nnlib.load(path)


DATA = os.path.join(os.path.dirname(__file__), "data")


def test_files_written_before_configs_were_derived_still_load():
    """model_v1.h5 and batchnorm_v1.h5 were saved by nnlib before config() was derived
    from the constructor (hand-written configs; Dense's init recorded as 'he', as a
    custom initializer's name and as 'from_arrays'): they load, compute what they
    computed, and give the same configs."""
    with h5py.File(os.path.join(DATA, "model_v1_expected.h5"), "r") as f:
        X, expected = f["X"][()], f["eval_out"][()]
        configs = f.attrs["configs"]
        bn32_config = f.attrs["bn32_config"]
    model = nnlib.load(os.path.join(DATA, "model_v1.h5"), rng=np.random.default_rng(0))
    assert not model.training
    # to rounding: the file was written on another machine, whose BLAS may round otherwise
    np.testing.assert_allclose(model.forward(X), expected, rtol=1e-10, atol=1e-12)
    assert repr([layer.config() for layer in model.leaves()]) == configs
    assert [type(layer).__name__ for layer in model.leaves()] == [
        "Dense", "BatchNorm", "Tanh", "Dense", "LayerNorm", "LeakyReLU", "Dropout", "ReLU",
        "Sigmoid", "Dense"]
    bn = nnlib.load(os.path.join(DATA, "batchnorm_v1.h5"))
    assert repr(bn.config()) == bn32_config and bn.running_var.dtype == np.float32
    # and they train on: the first Dense has no bias, the staged BatchNorm backward runs
    model.train()
    dout = np.random.default_rng(1).standard_normal(expected.shape)
    model.forward(X)
    assert model.backward(dout).shape == X.shape


def test_a_custom_layer_round_trips_with_the_derived_config(tmp_path):
    class Shift(nnlib.Layer):
        def __init__(self, features, by=1.0, dtype=np.float64):
            super().__init__()
            self.features, self.by, self.dtype = features, by, np.dtype(dtype)

        def forward(self, x):
            return x + self.by

    layer = Shift(3, by=np.float32(2.5), dtype=np.float32)
    assert layer.config() == {"features": 3, "by": 2.5, "dtype": "float32"}
    assert repr(layer) == "Shift(3, by=np.float32(2.5), dtype=float32)"
    nnlib.save(nnlib.Sequential([layer]), tmp_path / "s.h5")
    again = nnlib.load(tmp_path / "s.h5", custom_layers={"Shift": Shift})
    assert again[0].config() == layer.config()


def test_a_constructor_argument_that_is_not_stored_is_named():
    class Forgetful(nnlib.Layer):
        def __init__(self, width):
            super().__init__()

    with pytest.raises(TypeError, match=r"Forgetful.*'width'.*self\.width"):
        Forgetful(3).config()
    assert repr(Forgetful(3)) == "Forgetful()"  # repr never fails


@pytest.mark.parametrize("layer", [
    nnlib.Dense(3, 4, init="he", rng=np.random.default_rng(0), dtype=np.float32, bias=False),
    nnlib.BatchNorm(4, momentum=0.2, eps=1e-3, backward_mode="staged"),
    nnlib.LayerNorm(5, eps=1e-4, dtype=np.float32), nnlib.LeakyReLU(0.3), nnlib.ReLU(),
    nnlib.Sigmoid(), nnlib.Tanh(), nnlib.Dropout(0.4, rng=np.random.default_rng(0)),
], ids=lambda layer: type(layer).__name__)
def test_config_is_the_constructor_arguments_and_rebuilds_the_layer(layer):
    import inspect

    config = layer.config()
    names = [n for n in inspect.signature(type(layer)).parameters if n != "rng"]
    assert list(config) == names
    for name, value in config.items():
        stored = getattr(layer, name)
        assert value == (stored.name if isinstance(stored, np.dtype) else stored)
    again = type(layer).from_config(config, rng=np.random.default_rng(1))
    assert type(again) is type(layer) and again.config() == config
    assert repr(again) == repr(layer)
    assert all(a.shape == b.shape and a.dtype == b.dtype for (_, a), (_, b)
               in zip(layer.named_arrays(), again.named_arrays(), strict=True))


def test_repr_shows_every_constructor_argument_but_the_generator():
    rng = np.random.default_rng(0)
    assert repr(nnlib.Dense(64, 10, rng=rng)) == \
        "Dense(64, 10, init='xavier', dtype=float64, bias=True)"
    assert repr(nnlib.Dense.from_arrays(np.ones((2, 3), np.float32))) == \
        "Dense(3, 2, init='from_arrays', dtype=float32, bias=False)"
    assert repr(nnlib.BatchNorm(100)) == \
        "BatchNorm(100, momentum=0.1, eps=1e-05, dtype=float64, backward_mode='fast')"
    assert repr(nnlib.Dropout(0.5, rng=rng)) == "Dropout(p=0.5)"
    assert repr(nnlib.Sequential([nnlib.Sequential([nnlib.ReLU()]), nnlib.Tanh()])) == \
        "Sequential(\n  (0) Sequential(\n    (0) ReLU()\n  )\n  (1) Tanh()\n)"
