"""fit / evaluate / predict: convergence, determinism, modes, output, errors."""

import numpy as np
import pytest

import nnlib


def small_net(rng, dtype=np.float64, bn=False):
    layers = [nnlib.Dense(64, 64, init="he", rng=rng, dtype=dtype)]
    if bn:
        layers.append(nnlib.BatchNorm(64, dtype=dtype))
    layers += [nnlib.ReLU(), nnlib.Dense(64, 10, rng=rng, dtype=dtype)]
    return nnlib.Sequential(layers)


def test_fit_reaches_95_percent_on_digits(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    rng = np.random.default_rng(0)
    model = small_net(rng)
    opt = nnlib.SGD(model.parameters(), lr=0.1, momentum=0.9)
    hist = nnlib.fit(model, Xtr, ytr, optimizer=opt, epochs=15, batch_size=32, rng=rng,
                     verbose=0)
    loss, acc = nnlib.evaluate(model, Xte, yte)
    assert acc >= 0.95
    assert hist.loss[-1] < hist.loss[0]
    assert hist.epochs == 15 and len(hist.loss) == len(hist.accuracy) == 15
    assert hist.steps == 15 * int(np.ceil(len(Xtr) / 32)) == len(hist.step_loss)
    assert hist.val_loss == [] and hist.val_accuracy == []


def test_fit_with_batchnorm_and_adam_learns(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    rng = np.random.default_rng(1)
    model = small_net(rng, bn=True)
    hist = nnlib.fit(model, Xtr, ytr, optimizer=nnlib.Adam(model.parameters(), lr=3e-3),
                     epochs=8, rng=rng, validation_data=(Xte, yte), verbose=0)
    assert hist.val_accuracy[-1] >= 0.95
    assert len(hist.val_loss) == len(hist.val_accuracy) == 8
    # the validation entries are exactly what evaluate reports after training
    assert (hist.val_loss[-1], hist.val_accuracy[-1]) == nnlib.evaluate(model, Xte, yte)


def run_history(seed, digits_split):
    Xtr, _, ytr, _ = digits_split
    rng = np.random.default_rng(seed)
    model = small_net(rng, bn=True)
    hist = nnlib.fit(model, Xtr[:300], ytr[:300], optimizer=nnlib.SGD(model, lr=0.05),
                     epochs=3, batch_size=16, rng=rng, verbose=0)
    return hist, model


def test_fit_is_deterministic(digits_split):
    h1, m1 = run_history(7, digits_split)
    h2, m2 = run_history(7, digits_split)
    h3, _ = run_history(8, digits_split)
    assert h1 == h2
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)
    assert h1.loss != h3.loss


def test_verbose_0_prints_nothing_and_verbose_2_prints_lines(digits_split, capsys):
    Xtr, _, ytr, _ = digits_split
    rng = np.random.default_rng(0)
    model = small_net(rng)
    nnlib.fit(model, Xtr[:100], ytr[:100], optimizer=nnlib.SGD(model, lr=0.1), epochs=2,
              rng=rng, verbose=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    nnlib.fit(model, Xtr[:100], ytr[:100], optimizer=nnlib.SGD(model, lr=0.1), epochs=2,
              rng=rng, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2: loss ")


def test_verbose_1_shows_a_progress_bar_on_a_terminal(digits_split, monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    Xtr, _, ytr, _ = digits_split
    rng = np.random.default_rng(0)
    model = small_net(rng)
    nnlib.fit(model, Xtr[:100], ytr[:100], optimizer=nnlib.SGD(model, lr=0.1), epochs=2,
              rng=rng)
    assert "2/2" in err.getvalue() and "loss" in err.getvalue()


def test_divergence_raises_naming_epoch_and_step(rng):
    X, y = nnlib.datasets.make_regression(64, rng=rng)
    model = nnlib.Sequential([nnlib.Dense(1, 16, rng=rng), nnlib.Tanh(),
                              nnlib.Dense(16, 1, rng=rng)])
    with pytest.raises(FloatingPointError) as info:
        nnlib.fit(model, X, y, loss="mse", optimizer=nnlib.SGD(model, lr=1e4), epochs=50,
                  batch_size=16, rng=rng, verbose=0)
    msg = str(info.value)
    assert "epoch" in msg and "step" in msg and "smaller learning rate" in msg
    assert "lr=10000" in msg


def test_mse_history_has_no_accuracy_and_learns(rng):
    X, y = nnlib.datasets.make_regression(200, rng=rng)
    model = nnlib.Sequential([nnlib.Dense(1, 32, rng=rng), nnlib.Tanh(),
                              nnlib.Dense(32, 1, rng=rng)])
    hist = nnlib.fit(model, X, y.ravel(), loss="mse", optimizer=nnlib.Adam(model, lr=0.01),
                     epochs=40, rng=rng, validation_data=(X, y), verbose=0)
    assert hist.accuracy == [] and hist.val_accuracy == []
    assert len(hist.val_loss) == 40
    assert hist.loss[-1] < 0.25 * hist.loss[0]
    loss, acc = nnlib.evaluate(model, X, y, loss="mse")
    assert acc is None and loss == pytest.approx(hist.val_loss[-1])


def test_binary_cross_entropy_on_moons(rng):
    X, y = nnlib.datasets.make_moons(300, rng=rng, noise=0.1)
    model = nnlib.Sequential([nnlib.Dense(2, 16, init="he", rng=rng), nnlib.ReLU(),
                              nnlib.Dense(16, 1, rng=rng)])
    hist = nnlib.fit(model, X, y, loss="binary_cross_entropy",
                     optimizer=nnlib.Adam(model, lr=0.02), epochs=60, rng=rng, verbose=0)
    assert hist.accuracy[-1] > 0.95
    _, acc = nnlib.evaluate(model, X, y, loss="binary_cross_entropy")
    assert acc > 0.95


def test_callable_loss_is_used(rng):
    X, y = nnlib.datasets.make_regression(50, rng=rng)
    calls = []

    def loss(pred, target):
        calls.append(pred.shape)
        return nnlib.functional.mse_loss(pred, target)

    model = nnlib.Sequential([nnlib.Dense(1, 4, rng=rng), nnlib.Tanh(), nnlib.Dense(4, 1, rng=rng)])
    hist = nnlib.fit(model, X, y, loss=loss, optimizer=nnlib.SGD(model, lr=0.01), epochs=2,
                     batch_size=20, rng=rng, verbose=0)
    assert calls == [(20, 1), (20, 1), (10, 1)] * 2
    assert hist.accuracy == [] and len(hist.loss) == 2


def test_callable_loss_with_a_kind_reports_accuracy(rng, digits_split):
    Xtr, Xte, ytr, yte = digits_split

    def loss(pred, target):
        return nnlib.functional.softmax_cross_entropy(pred, target)

    loss.loss_kind = "multiclass"
    model = nnlib.Sequential([nnlib.Dense(64, 10, rng=rng)])
    hist = nnlib.fit(model, Xtr, ytr, loss=loss, optimizer=nnlib.SGD(model, lr=0.5), epochs=2,
                     rng=rng, verbose=0, validation_data=(Xte, yte))
    assert len(hist.accuracy) == len(hist.val_accuracy) == 2
    assert nnlib.evaluate(model, Xte, yte, loss=loss) == nnlib.evaluate(model, Xte, yte)
    with pytest.raises(TypeError, match="needs integer labels"):  # the targets are checked
        nnlib.fit(model, Xtr, ytr.astype(float), loss=loss, optimizer=nnlib.SGD(model, lr=0.1),
                  epochs=1, rng=rng, verbose=0)
    loss.loss_kind = "something else"  # not a kind: an ordinary callable
    hist = nnlib.fit(model, Xtr, ytr, loss=loss, optimizer=nnlib.SGD(model, lr=0.1), epochs=1,
                     rng=rng, verbose=0)
    assert hist.accuracy == []


def test_batches_are_a_permutation_without_replacement(rng):
    seen = []

    class Spy(nnlib.Layer):
        def forward(self, x):
            if self.training:
                seen.append(x[:, 0].copy())
            return x

        def backward(self, dout):
            return dout

    X = np.arange(10, dtype=np.float64).reshape(10, 1)
    model = nnlib.Sequential([Spy(), nnlib.Dense(1, 1, rng=rng)])
    nnlib.fit(model, X, X, loss="mse", optimizer=nnlib.SGD(model, lr=1e-3), epochs=2,
              batch_size=4, rng=rng, verbose=0)
    assert [len(b) for b in seen] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(seen[:3]), np.concatenate(seen[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)  # reshuffled each epoch


def test_final_batch_of_one_is_dropped_only_with_batchnorm(rng):
    X = rng.standard_normal((9, 3))
    y = rng.integers(0, 2, 9)
    bn = nnlib.Sequential([nnlib.Dense(3, 4, rng=rng), nnlib.BatchNorm(4),
                           nnlib.Dense(4, 2, rng=rng)])
    hist = nnlib.fit(bn, X, y, optimizer=nnlib.SGD(bn, lr=0.1), epochs=1, batch_size=4,
                     rng=rng, verbose=0)
    assert hist.steps == 2
    plain = nnlib.Sequential([nnlib.Dense(3, 2, rng=rng)])
    hist = nnlib.fit(plain, X, y, optimizer=nnlib.SGD(plain, lr=0.1), epochs=1, batch_size=4,
                     rng=rng, verbose=0)
    assert hist.steps == 3


def test_fit_restores_mode_and_evaluate_uses_eval_mode(rng, digits_split):
    Xtr, Xte, ytr, yte = digits_split
    model = small_net(rng, bn=True)
    model.eval()
    nnlib.fit(model, Xtr[:64], ytr[:64], optimizer=nnlib.SGD(model, lr=0.1), epochs=1,
              rng=rng, verbose=0)
    assert not model.training and not any(layer.training for layer in model)
    model.train()
    bn = model[1]
    before = bn.running_mean.copy()
    loss, acc = nnlib.evaluate(model, Xte[:1], yte[:1])  # a batch of one works in eval mode
    assert model.training and all(layer.training for layer in model)
    np.testing.assert_array_equal(bn.running_mean, before)
    out = nnlib.predict(model, Xte[:5])
    model.eval()
    np.testing.assert_array_equal(out, model.forward(Xte[:5]))
    assert 0.0 <= acc <= 1.0 and loss > 0


def test_predict_in_batches_matches_full(rng, digits_split):
    _, Xte, _, _ = digits_split
    model = small_net(rng, bn=True)
    np.testing.assert_allclose(nnlib.predict(model, Xte, batch_size=7), nnlib.predict(model, Xte),
                               rtol=1e-12, atol=1e-12)


def test_fit_keeps_float32(digits_split):
    Xtr, _, ytr, _ = digits_split
    rng = np.random.default_rng(0)
    model = small_net(rng, dtype=np.float32, bn=True)
    opt = nnlib.Adam(model, lr=1e-3)
    nnlib.fit(model, Xtr[:128].astype(np.float32), ytr[:128], optimizer=opt, epochs=2, rng=rng,
              verbose=0)
    for p in model.parameters():
        assert p.value.dtype == np.float32 and p.grad.dtype == np.float32
    for layer in model:
        for buf in layer.buffers.values():
            assert buf.dtype == np.float32
    assert nnlib.predict(model, Xtr[:3].astype(np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="float64"):
        nnlib.fit(model, Xtr[:32], ytr[:32], optimizer=opt, epochs=1, rng=rng, verbose=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"X": np.zeros(64)}, ValueError, r"2-D array of shape \(N, D\).*\(64,\)"),
        ({"X": np.zeros((5, 63))}, ValueError, r"\(5, 63\).*Dense\(64 -> 64\) expects \(N, 64\)"),
        ({"y": np.zeros(4, dtype=int)}, ValueError, r"one entry per row of X \(5 rows\)"),
        ({"y": np.array([0, 1, 2, 3, 10])}, ValueError, r"\[0, 9\].*10 outputs.*0 to 10"),
        ({"y": np.array([0, 1, 2, 3, -1])}, ValueError, r"\[0, 9\]"),
        ({"y": np.zeros(5)}, TypeError, r"integer labels.*astype\(np.int64\)"),
        ({"y": np.eye(10)[:5]}, ValueError, r"\(5,\).*\(5, 10\).*argmax"),
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"rng": None}, TypeError, "default_rng"),
        ({"rng": 0}, TypeError, "default_rng"),
        ({"optimizer": 0.1}, TypeError, "optimizer"),
        ({"validation_data": np.zeros((3, 64))}, TypeError, "validation_data"),
        ({"validation_data": (np.zeros((3, 64)), np.zeros(2, dtype=int))}, ValueError,
         r"y_val.*3 rows"),
    ],
)
def test_fit_rejects_bad_input(kwargs, error, match):
    rng = np.random.default_rng(0)
    model = small_net(rng)
    args = {"X": np.zeros((5, 64)), "y": np.arange(5), "optimizer": nnlib.SGD(model, lr=0.1),
            "rng": rng, "verbose": 0}
    args.update(kwargs)
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(error, match=match):
        nnlib.fit(model, X, y, **args)


def test_fit_rejects_non_layer(rng):
    model = small_net(rng)
    with pytest.raises(TypeError, match="nnlib Layer"):
        nnlib.fit([model], np.zeros((2, 64)), np.zeros(2, dtype=int), optimizer=nnlib.SGD(model,
                  lr=0.1), rng=rng)


def test_binary_targets_must_be_in_unit_interval(rng):
    model = nnlib.Sequential([nnlib.Dense(2, 1, rng=rng)])
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]"):
        nnlib.fit(model, np.zeros((4, 2)), np.array([0, 1, 2, 1]), loss="binary_cross_entropy",
                  optimizer=nnlib.SGD(model, lr=0.1), rng=rng, verbose=0)


def test_evaluate_and_predict_reject_bad_input(rng):
    model = small_net(rng)
    with pytest.raises(ValueError, match="reshape"):
        nnlib.predict(model, np.zeros(64))
    with pytest.raises(ValueError, match="one entry per row"):
        nnlib.evaluate(model, np.zeros((3, 64)), np.zeros(2, dtype=int))
    with pytest.raises(TypeError, match="nnlib Layer"):
        nnlib.predict("model", np.zeros((3, 64)))


def test_fit_a_single_layer(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    rng = np.random.default_rng(0)
    model = nnlib.Dense(64, 10, rng=rng)  # softmax regression
    hist = nnlib.fit(model, Xtr, ytr, optimizer=nnlib.SGD(model, lr=0.5), epochs=10, rng=rng,
                     validation_data=(Xte, yte), verbose=0)
    assert hist.val_accuracy[-1] > 0.9


@pytest.mark.parametrize("make_opt", [lambda p: nnlib.SGD(p, lr=0.1, momentum=0.9),
                                      lambda p: nnlib.Adam(p, lr=0.01)], ids=["SGD", "Adam"])
def test_fit_refuses_an_optimizer_of_another_model(rng, make_opt):
    model, other = small_net(rng), small_net(rng)
    X, y = rng.random((8, 64)), rng.integers(0, 10, 8)
    snapshot = [p.value.copy() for m in (model, other) for p in m.parameters()]
    with pytest.raises(ValueError, match=r"not the model's.*model\.parameters\(\)"):
        nnlib.fit(model, X, y, optimizer=make_opt(other.parameters()), epochs=1, rng=rng,
                  verbose=0)
    # refused before any step: neither model changed
    after = [p.value for m in (model, other) for p in m.parameters()]
    assert all(np.array_equal(a, b) for a, b in zip(snapshot, after, strict=True))
    # a mix (one foreign parameter among the model's own) is refused too
    mixed = make_opt(model.parameters() + other.parameters()[:1])
    with pytest.raises(ValueError, match="1 of its 5 parameters"):
        nnlib.fit(model, X, y, optimizer=mixed, epochs=1, rng=rng, verbose=0)


def test_fit_accepts_an_optimizer_over_part_of_the_model(rng):
    model = small_net(rng)
    first = model.layers[0]
    W0, W_last = first.params["W"].copy(), model.layers[-1].params["W"].copy()
    X, y = rng.random((8, 64)), rng.integers(0, 10, 8)
    nnlib.fit(model, X, y, optimizer=nnlib.SGD(model.layers[-1].parameters(), lr=0.1), epochs=1,
              rng=rng, verbose=0)
    assert np.array_equal(first.params["W"], W0)  # frozen
    assert not np.array_equal(model.layers[-1].params["W"], W_last)  # trained


def test_fit_drops_a_final_batch_smaller_than_any_layers_min_training_batch(rng):
    class NeedsThree(nnlib.Layer):
        min_training_batch = 3

        def forward(self, x):
            if self.training:
                assert x.shape[0] >= 3
            return x

        def backward(self, dout, *, input_grad=True):
            return dout if input_grad else None

    X = rng.standard_normal((10, 3))
    y = rng.integers(0, 2, 10)
    model = nnlib.Sequential([nnlib.Sequential([NeedsThree()]), nnlib.Dense(3, 2, rng=rng)])
    hist = nnlib.fit(model, X, y, optimizer=nnlib.SGD(model, lr=0.1), epochs=1, batch_size=4,
                     rng=rng, verbose=0)
    assert hist.steps == 2  # 4 + 4, the last 2 sit out
    assert nnlib.BatchNorm.min_training_batch == 2 and nnlib.Dense.min_training_batch == 1
