"""Layers built from exercise functions: ``nnlib.grading.student_layers`` and
``student_function``. The solutions must train like nnlib's own layers, a planted mistake
must show in a gradient check, and the stubs must say what is missing, by name and file."""

import numpy as np
import pytest

import nnlib
from nnlib.course.student_layers import LAYERS, LOSSES, REQUIRES
from nnlib.grading import (
    ExerciseNotImplementedError,
    StudentLayers,
    student_function,
    student_layers,
)
from nnlib.grading.registry import topic_of

from .conftest import ROOT, make_submission


def _patched(tmp_path, topic, old, new, name="me"):
    """The solutions in ``tmp_path/name`` with one exact snippet of ``topic``.py replaced."""
    folder = make_submission(tmp_path / name)
    path = folder / f"{topic}.py"
    source = path.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"{old!r} must occur once in solutions/{topic}.py"
    path.write_text(source.replace(old, new), encoding="utf-8")
    return folder


@pytest.fixture
def in_stub_course(monkeypatch, stub_course):
    """Run as inside a student's course folder whose exercises/ are the fresh stubs."""
    monkeypatch.setenv("NNLIB_ROOT", str(stub_course))
    return stub_course


@pytest.fixture(scope="module")
def solutions():
    return student_layers("solutions")


@pytest.fixture(scope="module")
def digits():
    X, y = nnlib.datasets.load_digits()
    return nnlib.datasets.train_test_split(X, y, test_size=0.25, rng=np.random.default_rng(0))


def _train(ns, loss, digits, seed, epochs=15):
    Xtr, Xte, ytr, yte = digits
    rng = np.random.default_rng(seed)
    model = nnlib.Sequential([ns.Dense(64, 100, rng=rng), ns.ReLU(), ns.Dense(100, 10, rng=rng)])
    history = nnlib.fit(model, Xtr, ytr, loss=loss, epochs=epochs, batch_size=32, rng=rng,
                        optimizer=nnlib.SGD(model.parameters(), lr=0.1, momentum=0.9),
                        verbose=0)
    return model, history, nnlib.evaluate(model, Xte, yte)[1]


# ------------------------------------------------------------------ training with the solutions
def test_solutions_train_the_digits_network_like_nnlib(solutions, digits):
    for seed in (1, 2):
        model, mine, acc = _train(solutions, solutions.softmax_cross_entropy, digits, seed)
        assert all(type(layer).__module__ == "nnlib.course.student_layers" for layer in model)
        _, ref, ref_acc = _train(nnlib, "softmax_cross_entropy", digits, seed)
        assert acc >= 0.95, f"seed {seed}: test accuracy {acc:.3f}"
        assert abs(acc - ref_acc) <= 0.02, (acc, ref_acc)
        # the same arithmetic: the first steps agree to rounding (later steps may drift
        # apart by rounding amplified over hundreds of steps, so they are not compared)
        np.testing.assert_allclose(mine.step_loss[:5], ref.step_loss[:5], rtol=1e-9)
        # the student's loss is a classification loss for fit: accuracy is tracked
        assert len(mine.accuracy) == 15 and mine.accuracy[-1] > 0.9


def test_evaluate_reports_accuracy_with_the_students_loss(solutions, digits):
    model, _, acc = _train(solutions, solutions.softmax_cross_entropy, digits, 3, epochs=2)
    _, Xte, _, yte = digits
    loss, acc_mine = nnlib.evaluate(model, Xte, yte, loss=solutions.softmax_cross_entropy)
    ref_loss, ref_acc = nnlib.evaluate(model, Xte, yte)
    assert acc_mine == ref_acc == acc
    assert loss == pytest.approx(ref_loss, rel=1e-9)


@pytest.mark.parametrize("build", [
    lambda ns, rng: ns.Dense(5, 4, rng=rng),
    lambda ns, rng: ns.Dense(5, 4, rng=rng, bias=False),
    lambda ns, rng: ns.ReLU(),
    lambda ns, rng: ns.Sigmoid(),
    lambda ns, rng: ns.Tanh(),
    lambda ns, rng: ns.BatchNorm(5),
    lambda ns, rng: ns.BatchNorm(5, backward_mode="staged"),
    lambda ns, rng: ns.BatchNorm(5).eval(),
    lambda ns, rng: ns.LayerNorm(5),
    lambda ns, rng: ns.Dropout(0.3, rng=rng),
    lambda ns, rng: nnlib.Sequential([ns.Dense(5, 6, rng=rng), ns.BatchNorm(6), ns.Tanh(),
                                      ns.Dense(6, 3, rng=rng)]),
], ids=["dense", "dense-no-bias", "relu", "sigmoid", "tanh", "batchnorm", "batchnorm-staged",
        "batchnorm-eval", "layernorm", "dropout", "network"])
def test_every_solution_layer_passes_gradcheck_and_matches_nnlib(solutions, build):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 5)) * 2 + 0.5  # no entry at ReLU's kink
    layer = build(solutions, np.random.default_rng(5))
    errors = nnlib.gradcheck(layer, x, rng=np.random.default_rng(6))
    assert max(errors.values()) < 1e-7, errors
    reference = build(nnlib, np.random.default_rng(5))
    assert repr(layer) == repr(reference)
    x.flat[::9] = 0.0
    np.testing.assert_allclose(layer.forward(x), reference.forward(x), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(layer.forward(x).shape)
    np.testing.assert_allclose(layer.backward(dout), (reference.forward(x),
                                                      reference.backward(dout))[1],
                               rtol=1e-12, atol=1e-12)


def test_float32_stays_float32(solutions):
    rng = np.random.default_rng(7)
    model = nnlib.Sequential([solutions.Dense(4, 6, rng=rng, dtype=np.float32),
                              solutions.BatchNorm(6, dtype=np.float32), solutions.Sigmoid(),
                              solutions.LayerNorm(6, dtype=np.float32),
                              solutions.Dropout(0.2, rng=rng),
                              solutions.Dense(6, 2, rng=rng, dtype=np.float32)])
    x = rng.standard_normal((8, 4)).astype(np.float32)
    out = model.forward(x)
    _, dout = solutions.mse_loss(out, np.zeros_like(out))
    dx = model.backward(dout)
    assert out.dtype == dout.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    # targets come as they are, e.g. float64 regression targets: the gradient keeps the
    # predictions' dtype, as the docstring promises
    assert solutions.mse_loss(out, np.zeros(out.shape))[1].dtype == np.float32


# ------------------------------------------------------------------ batch norm modes
def test_batchnorm_uses_running_stats_update_and_batchnorm_inference(tmp_path, solutions):
    rng = np.random.default_rng(8)
    mine, ref = solutions.BatchNorm(3, momentum=0.2), nnlib.BatchNorm(3, momentum=0.2)
    for _ in range(4):
        x = rng.standard_normal((6, 3)) * 3 + 1
        np.testing.assert_allclose(mine.forward(x), ref.forward(x), rtol=1e-12)
    np.testing.assert_allclose(mine.running_mean, ref.running_mean, rtol=1e-12)
    np.testing.assert_allclose(mine.running_var, ref.running_var, rtol=1e-12)
    # a planted inference function shows that eval mode calls it, and training does not
    folder = _patched(tmp_path, "batchnorm",
                      "return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
                      "return np.full_like(x, 7.0)")
    planted = student_layers(folder).BatchNorm(3)
    x = rng.standard_normal((5, 3))
    assert not np.allclose(planted.forward(x), 7.0)
    assert np.array_equal(planted.eval().forward(x), np.full_like(x, 7.0))
    assert np.array_equal(planted.forward(x[:1]), np.full((1, 3), 7.0))  # any batch size


def test_a_planted_running_stats_mistake_shows_in_the_running_statistics(tmp_path):
    folder = _patched(tmp_path, "batchnorm", "momentum * batch_var * (n / (n - 1))",
                      "momentum * batch_var")
    mine, ref = student_layers(folder).BatchNorm(2), nnlib.BatchNorm(2)
    x = np.random.default_rng(9).standard_normal((4, 2))
    mine.forward(x), ref.forward(x)
    np.testing.assert_allclose(mine.running_mean, ref.running_mean, rtol=1e-12)
    assert not np.allclose(mine.running_var, ref.running_var)


# ------------------------------------------------------------------ a planted mistake
def test_gradcheck_of_dense_fails_with_db_zero_where_nnlibs_passes(tmp_path):
    folder = _patched(tmp_path, "dense", "return dz @ W, dz.T @ x, dz.sum(axis=0)",
                      "return dz @ W, dz.T @ x, np.zeros(W.shape[0], dtype=dz.dtype)")
    mine = student_layers(folder)
    assert mine.missing == []
    x = np.random.default_rng(10).standard_normal((6, 4))
    theirs = nnlib.gradcheck(mine.Dense(4, 3, rng=np.random.default_rng(11)), x)
    ours = nnlib.gradcheck(nnlib.Dense(4, 3, rng=np.random.default_rng(11)), x)
    assert max(ours.values()) < 1e-7, ours
    assert theirs["b"] > 0.5, theirs  # the planted mistake
    assert theirs["x"] < 1e-7 and theirs["W"] < 1e-7, theirs  # and nothing else


def test_w_instead_of_w_transposed_names_the_function_and_the_shapes(tmp_path):
    folder = _patched(tmp_path, "dense", "return x @ W.T + b, (x, W)", "return x @ W + b, (x, W)")
    layer = student_layers(folder).Dense(4, 3, rng=np.random.default_rng(12))
    model = nnlib.Sequential([layer])
    with pytest.raises(ValueError) as info:
        model.forward(np.ones((2, 4)))
    message = str(info.value)
    assert message.startswith("Sequential layer 0: dense_forward (me/dense.py) raised ValueError")
    assert message.endswith("(called with x of shape (2, 4), W of shape (3, 4), b of shape "
                            "(3,); it should return z of shape (2, 3))")


def test_a_wrong_returned_shape_names_the_function(tmp_path):
    folder = _patched(tmp_path, "dense", "return dz @ W, dz.T @ x, dz.sum(axis=0)",
                      "return dz @ W, dz.T @ x, dz.sum()")
    layer = student_layers(folder).Dense(4, 3, rng=np.random.default_rng(13))
    layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"dense_backward \(me/dense.py\) returned db of shape "
                                         r"\(\), expected \(3,\)"):
        layer.backward(np.ones((2, 3)))


# ------------------------------------------------------------------ the stubs
def _every_needed():
    order = [f for layer in (*LAYERS, *LOSSES) for f in REQUIRES[layer]]
    return list(dict.fromkeys(order))


def test_the_stubs_miss_every_function_and_say_where(in_stub_course):
    stubs = student_layers("exercises")
    assert isinstance(stubs, StudentLayers) and stubs.source == in_stub_course / "exercises"
    expected = {f"{f} (exercises/{topic_of(f)}.py)" for f in _every_needed()}
    assert set(stubs.missing) == expected and len(stubs.missing) == len(expected) == 19
    assert stubs.problems == []
    assert repr(stubs) == "StudentLayers(exercises/: 19 functions not written yet)"
    report = stubs.report()
    assert report.startswith("To train with your own layers, write these functions first:")
    assert all(len(line) < 90 for line in report.splitlines()), report
    for f in _every_needed():
        assert f in report and f"exercises/{topic_of(f)}.py" in report
    assert stubs.missing_for("Dense", "ReLU") == [
        "relu_forward (exercises/activations.py)", "relu_backward (exercises/activations.py)",
        "dense_forward (exercises/dense.py)", "dense_backward (exercises/dense.py)"]
    assert "batchnorm" not in stubs.report("Dense", "ReLU", "softmax_cross_entropy")
    with pytest.raises(ValueError, match="unknown layer, loss or function 'Conv2d'"):
        stubs.missing_for("Conv2d")
    assert stubs.missing_for("dense_backward") == ["dense_backward (exercises/dense.py)"]
    # an exercise the layers never call is not reported as written: its file is not read
    with pytest.raises(ValueError, match=r"adam_update \(adam.py\) is not used by the layers"):
        stubs.missing_for("adam_update")


@pytest.mark.parametrize(("build", "words"), [
    (lambda ns: ns.Dense(3, 2, rng=np.random.default_rng(0)),
     "Dense needs functions that are not implemented yet: write dense_forward, "
     "dense_backward in exercises/dense.py"),
    (lambda ns: ns.ReLU(), "write relu_forward, relu_backward in exercises/activations.py"),
    (lambda ns: ns.BatchNorm(3), "batchnorm_forward, batchnorm_backward_fast, "
     "batchnorm_inference, running_stats_update in exercises/batchnorm.py"),
    (lambda ns: ns.Dropout(0.5, rng=np.random.default_rng(0)), "exercises/dropout.py"),
    (lambda ns: ns.LayerNorm(3), "exercises/layernorm.py"),
    (lambda ns: ns.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1])),
     "softmax_cross_entropy is not implemented yet: write it in exercises/losses.py"),
    (lambda ns: ns.mse_loss(np.zeros(2), np.zeros(2)),
     "mse_loss is not implemented yet: write it in exercises/losses.py"),
])
def test_using_a_stub_raises_an_error_that_names_it(build, words, in_stub_course):
    stubs = student_layers("exercises")
    with pytest.raises(ExerciseNotImplementedError) as info:
        build(stubs)
    assert words in str(info.value)
    assert isinstance(info.value, NotImplementedError)
    assert info.value.__cause__ is None  # no chained traceback from inside the layer
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_a_stub_found_only_when_called_is_named_at_the_call_site(tmp_path):
    # not the plain stub (a line before the raise), so only calling it can tell
    folder = _patched(tmp_path, "dense", "    x, W = cache\n    return dz @ W, dz.T @ x, "
                      "dz.sum(axis=0)\n", "    x, W = cache\n    raise NotImplementedError("
                      "\"dense_backward is not implemented yet\")\n")
    mine = student_layers(folder)
    assert mine.missing == []
    rng = np.random.default_rng(14)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    model = nnlib.Sequential([mine.Dense(3, 4, rng=rng), mine.ReLU(), mine.Dense(4, 2, rng=rng)])
    with pytest.raises(ExerciseNotImplementedError) as info:
        nnlib.fit(model, X, y, optimizer=nnlib.SGD(model.parameters(), lr=0.1),
                  loss=mine.softmax_cross_entropy, epochs=1, rng=rng, verbose=0)
    assert str(info.value) == ("Sequential layer 2: dense_backward is not implemented yet: "
                               "write it in me/dense.py")
    inner = info.value.__cause__  # Sequential names the layer and chains the original
    assert isinstance(inner, ExerciseNotImplementedError) and inner.__suppress_context__
    assert inner.functions == ["dense_backward"]


def test_a_file_that_cannot_be_used_is_reported(tmp_path):
    folder = make_submission(tmp_path / "me")
    (folder / "dense.py").write_text("import nnlib\n\ndef dense_forward(x, W, b):\n"
                                     "    return nnlib.functional.dense_forward(x, W, b)\n")
    mine = student_layers(folder)
    assert mine.missing == ["dense_forward (me/dense.py)", "dense_backward (me/dense.py)"]
    assert len(mine.problems) == 1 and "imports nnlib" in mine.problems[0]
    report = mine.report("Dense")
    assert "These files cannot be used yet:" in report and "imports nnlib" in report
    assert all(len(line) < 90 for line in report.splitlines()), report
    with pytest.raises(ExerciseNotImplementedError, match="dense_forward, dense_backward"):
        mine.Dense(2, 2, rng=np.random.default_rng(0))


# ------------------------------------------------------------------ fresh reads
def test_student_function_and_student_layers_reread_the_file(tmp_path):
    folder = make_submission(tmp_path / "me")
    x, W, b = np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)
    before = student_function("dense", "dense_forward", impl=folder)
    layers_before = student_layers(folder)
    assert before.__name__ == "dense_forward" and "x @ W.T + b" in before.__doc__
    np.testing.assert_array_equal(before(x, W, b)[0], np.full((2, 4), 3.0))
    path = folder / "dense.py"
    path.write_text(path.read_text().replace("return x @ W.T + b, (x, W)",
                                             "return 2 * (x @ W.T + b), (x, W)"))
    after = student_function("dense", "dense_forward", impl=folder)
    np.testing.assert_array_equal(after(x, W, b)[0], np.full((2, 4), 6.0))
    np.testing.assert_array_equal(before(x, W, b)[0], np.full((2, 4), 3.0))  # kept its code
    layer = student_layers(folder).Dense.from_arrays(W, b)
    np.testing.assert_array_equal(layer.forward(x), np.full((2, 4), 6.0))
    old = layers_before.Dense.from_arrays(W, b)
    np.testing.assert_array_equal(old.forward(x), np.full((2, 4), 3.0))


def test_student_function_of_a_stub_and_bad_names(in_stub_course):
    stub = student_function("dense", "dense_forward", impl="exercises")
    with pytest.raises(ExerciseNotImplementedError, match=r"^dense_forward is not implemented "
                                                          r"yet: write it in exercises/dense.py$"):
        stub(np.ones((1, 1)), np.ones((1, 1)), np.ones(1))
    with pytest.raises(ValueError, match="unknown topic 'dens'"):
        student_function("dens", "dense_forward")
    with pytest.raises(ValueError, match="has no function 'dense_fwd'"):
        student_function("dense", "dense_fwd", impl=ROOT / "solutions")


def test_the_default_implementation_follows_nnlib_impl(monkeypatch, tmp_path):
    monkeypatch.setenv("NNLIB_IMPL", "solutions")
    assert student_layers().source == ROOT / "solutions" and not student_layers().missing
    monkeypatch.setenv("NNLIB_IMPL", "exercises")
    assert student_layers().source == ROOT / "exercises"
    monkeypatch.delenv("NNLIB_IMPL")
    assert student_layers().source == ROOT / "exercises"
    folder = make_submission(tmp_path / "alice")
    monkeypatch.setenv("NNLIB_IMPL", str(folder))
    assert student_layers().source == folder.resolve()


# ------------------------------------------------------------------ save and load
def test_save_and_load_round_trip(tmp_path, solutions, digits, monkeypatch, stub_course):
    rng = np.random.default_rng(15)
    model = nnlib.Sequential([solutions.Dense(64, 16, rng=rng), solutions.BatchNorm(16),
                              solutions.Tanh(), solutions.Dropout(0.1, rng=rng),
                              solutions.LayerNorm(16), solutions.Dense(16, 10, rng=rng)])
    Xtr, Xte, ytr, _ = digits
    nnlib.fit(model, Xtr[:200], ytr[:200], optimizer=nnlib.Adam(model.parameters(), lr=0.01),
              loss=solutions.softmax_cross_entropy, epochs=2, rng=rng, verbose=0)
    model.eval()
    path = tmp_path / "mine.h5"
    nnlib.save(model, path)
    expected = model.forward(Xte)
    theirs = nnlib.load(path, rng=np.random.default_rng(0))  # nnlib's own classes
    assert [type(layer) for layer in theirs] == [getattr(nnlib, type(layer).__name__)
                                                 for layer in model]
    # the same parameters and statistics; nnlib's arithmetic may round differently
    np.testing.assert_allclose(theirs.forward(Xte), expected, rtol=1e-10, atol=1e-12)
    again = solutions.load(path, rng=np.random.default_rng(0))  # the student's classes
    assert [type(layer) for layer in again] == [type(layer) for layer in model]
    assert not again.training and repr(again) == repr(model)
    np.testing.assert_array_equal(again.forward(Xte), expected)
    monkeypatch.setenv("NNLIB_ROOT", str(stub_course))
    with pytest.raises(ExerciseNotImplementedError, match="exercises/dense.py"):
        student_layers("exercises").load(path, rng=np.random.default_rng(0))


def test_student_layers_use_no_private_part_of_nnlibs_layers():
    """student.py subclasses nnlib's layers through their public hooks only
    (check_input, save_for_backward, saved_for_backward, min_training_batch, ...), so
    that a refactoring of nnlib/layers.py or nnlib/module.py cannot silently break the
    notebooks that train with the student's layers."""
    import ast
    from pathlib import Path

    import nnlib.course.student_layers as student

    lib = Path(nnlib.__file__).parent
    private = set()
    for path in [lib / "module.py", lib / "sequential.py", *sorted((lib / "layers").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                private.add(node.attr)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_") \
                    and not node.name.startswith("__"):
                private.add(node.name)
    assert {"_cache", "_saved_training"} <= private  # the scan sees nnlib's internals
    used = {node.attr for path in Path(student.__file__).parent.glob("*.py")
            for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}
    assert not used & private, sorted(used & private)

