"""Naming the mistake: the judge names a catalogued mistake only when the output is that
mistake's and not the right one, and never raises.

The end-to-end proof (every catalogue id is named from a mutant that makes the mistake,
and nothing else is named) grades the mutants once, in ``test_grader.py``; here are the
pieces: the reference behind the variants is right, ambiguity and garbage give no name,
results.json carries the id, and check() prints the diagnosis.
"""

import json
import re
import textwrap

import numpy as np
import pytest

from nnlib.grading.grader.results import Grade, gradescope_results
from nnlib.grading.judge import calls, diagnosis
from nnlib.grading.judge.calls import Raised
from nnlib.grading.judge.variants import VARIANTS, Spec
from nnlib.grading.registry import MISTAKES, exercise, mistake, mistakes_of

from .conftest import ROOT, clean_env, run
from .mutants import MUTANTS, write_submission

# Runs the public and hidden tests in process on the solutions and checks, after every
# test, that each recorded call's output is what the variants' reference computes.
RIGHT_VARIANTS = textwrap.dedent("""
    import sys
    import numpy as np
    import pytest
    from nnlib.grading.judge import calls
    from nnlib.grading.judge.diagnosis import distance
    from nnlib.grading.judge.variants import VARIANTS

    checked, wrong = {}, []

    class Check:
        def pytest_runtest_setup(self, item):
            calls.reset()  # each test's own calls, as the judge records them

        def pytest_runtest_teardown(self, item):
            for i, (name, args, kwargs, result) in enumerate(calls.recorded()):
                spec = VARIANTS.get(name)
                if spec is None or isinstance(result, calls.Raised):
                    continue
                call = calls.Call(args, kwargs, result, calls.recorded()[:i])
                with np.errstate(all="ignore"):
                    right = spec.right(call)
                    if right is None:
                        continue
                    d = distance(spec.pick(call), right)
                # float32 outputs are compared with float64 references
                if d > 1e-4:
                    wrong.append(f"{item.nodeid}: {name}: {d:.2e}")
                checked[name] = checked.get(name, 0) + 1

    # no plugins but pytest's own and pytest-timeout (PYTEST_DISABLE_PLUGIN_AUTOLOAD):
    # nbval alone costs seconds of imports
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "pytest_timeout", "--assert=plain",
                        "-o", "addopts=", "tests/public", "tests/hidden"], plugins=[Check()])
    print("CHECKED", sorted(checked))
    print("WRONG", wrong)
    sys.exit(0 if code == 0 else 3)
""")


def test_the_variants_reference_is_right_on_every_test_input():
    proc = run(["-c", RIGHT_VARIANTS], env=clean_env(NNLIB_IMPL=str(ROOT / "solutions"),
                                                     PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    checked = eval(re.search(r"CHECKED (\[.*\])", proc.stdout).group(1))
    wrong = eval(re.search(r"WRONG (\[.*\])", proc.stdout).group(1))
    assert wrong == []
    # every deterministic function's reference was compared with the solutions
    assert set(VARIANTS) <= set(checked), set(VARIANTS) - set(checked)


def test_every_catalogue_entry_is_recognised_somewhere_and_teaches_in_its_notebook():
    judged = set(VARIANTS) | set(diagnosis.STRUCTURAL)
    for m in MISTAKES:
        assert m.functions and all(f in judged for f in m.functions), m.id
        for f in m.functions:
            exercise(f)  # a registered function
            assert any(m.id in spec.variants for spec in [VARIANTS.get(f)] if spec) or (
                f in diagnosis.STRUCTURAL), (m.id, f)
    ids = [m.id for m in MISTAKES]
    assert len(ids) == len(set(ids))


def test_every_mistake_links_a_section_that_exists():
    for m in MISTAKES:
        nb = json.loads((ROOT / "course" / f"{m.notebook}.ipynb").read_text(encoding="utf-8"))
        headings = [line.replace("$\\epsilon$", "ε") for c in nb["cells"]
                    if c["cell_type"] == "markdown"
                    for line in "".join(c["source"]).splitlines() if line.startswith("#")]
        assert any(m.section in h for h in headings), (m.id, m.notebook, m.section)


def _record(name, args, result, kwargs=None):
    calls.record(name, args, kwargs or {}, result)


@pytest.fixture(autouse=True)
def _fresh_calls():
    calls.reset()
    yield
    calls.reset()


def test_a_matching_output_is_named_and_the_right_one_is_not():
    x = np.random.default_rng(0).standard_normal((5, 3))
    W = np.random.default_rng(1).standard_normal((4, 3))
    b = np.arange(4.0) + 1
    _record("dense_forward", (x, W, b), (x @ W.T, "cache"))
    assert diagnosis.diagnose("dense_forward") == "dense_forward_no_bias"
    calls.reset()
    _record("dense_forward", (x, W, b), (x @ W.T + b, "cache"))
    assert diagnosis.diagnose("dense_forward") == ""
    calls.reset()  # wrong in another way: no name
    _record("dense_forward", (x, W, b), (x @ W.T + 2 * b, "cache"))
    assert diagnosis.diagnose("dense_forward") == ""


def test_an_output_two_mistakes_share_gets_no_name(monkeypatch):
    spec = VARIANTS["dense_forward"]
    twin = dict(spec.variants, another_mistake=spec.variants["dense_forward_no_bias"])
    monkeypatch.setitem(VARIANTS, "dense_forward", Spec(spec.pick, spec.right, twin))
    x, W, b = np.ones((3, 2)), np.ones((2, 2)), np.ones(2)
    _record("dense_forward", (x, W, b), (x @ W.T, None))
    assert diagnosis.diagnose("dense_forward") == ""


@pytest.mark.parametrize("gap, named", [(0.019, False), (0.05, True)])
def test_a_mistake_the_inputs_cannot_tell_apart_is_not_named(monkeypatch, gap, named):
    # A variant whose output is within APART of the right one on these inputs (gap 1.9%:
    # a relative distance of about 0.94%) is never named, even for an output that matches
    # it within float32's tolerance while lying just over APART from the right one. The
    # same output pattern with a variant the inputs do tell apart (gap 5%) is named.
    x = np.linspace(1.0, 2.0, 8, dtype=np.float32)
    spec = Spec(lambda call: call.result, lambda call: 2 * call.args[0],
                {"fake_variant": (lambda call: 2 * call.args[0] * (1 + gap),)})
    monkeypatch.setitem(VARIANTS, "fake_function", spec)
    wrong = 2 * x * (1 + gap)
    actual = (wrong * 1.0015).astype(np.float32)
    assert diagnosis.distance(actual, wrong) <= diagnosis.MATCH[np.dtype(np.float32)]
    assert diagnosis.distance(actual, 2 * x) > diagnosis.APART
    assert (diagnosis.distance(wrong, 2 * x) <= diagnosis.APART) is not named
    found = diagnosis._diagnose_call("fake_function", calls.Call((x,), {}, actual, []))
    assert found == ("fake_variant" if named else "")


@pytest.mark.parametrize("result", [
    None, "text", (1, 2, 3), np.array(["a"]), np.full((2, 2), np.nan), object(),
    Raised("ValueError", "shapes do not align"), Raised("RuntimeWarning", ""),
    [np.ones(3)] * 40, {"a": 1}, np.ones((1000, 1000, 0)),
])
def test_garbage_never_raises_and_gets_no_name(result):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4))
    for function in VARIANTS | diagnosis.STRUCTURAL:
        calls.reset()
        _record("dropout_forward", (x, 0.25, np.random.default_rng(0)), (x, None))
        _record("batchnorm_forward", (x, np.ones(4), np.zeros(4)), (x, None))
        _record(function, (x, x, x, x, 2), result)
        assert diagnosis.diagnose(function) == "", function
    assert diagnosis.diagnose("not_a_function") == ""


def test_a_floating_point_warning_names_no_mistake():
    """No output, no name: an overflow in exp is what a softmax without the shift meets, but
    also one shifted by the row minimum, by one maximum for the whole batch, or by
    ``logits.max(axis=1)`` without keepdims on a square batch; a log of 0 in the binary
    cross-entropy is not only log(sigmoid(z)) either."""
    logits, y = np.array([[1000.0, 0.0, -1000.0], [-500.0, 800.0, 790.0], [1.0, 2.0, 3.0]]), \
        np.array([1, 0, 2])
    for text in ("overflow encountered in exp", "divide by zero encountered in log"):
        calls.reset()
        _record("softmax_cross_entropy", (logits, y), Raised("RuntimeWarning", text))
        assert diagnosis.diagnose("softmax_cross_entropy") == "", text
    calls.reset()
    _record("binary_cross_entropy_with_logits", (np.array([1000.0, 40.0]), np.array([0.0, 1.0])),
            Raised("RuntimeWarning", "divide by zero encountered in log"))
    assert diagnosis.diagnose("binary_cross_entropy_with_logits") == ""


def test_a_mask_shared_down_the_columns_is_named_and_an_independent_one_is_not():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 32)) + 3.0
    p = 0.25
    column = (rng.random(32) >= p) / (1 - p)
    _record("dropout_forward", (x, p, np.random.default_rng(5)), (x * column, column))
    assert diagnosis.diagnose("dropout_forward") == "dropout_mask_per_column"
    calls.reset()
    mask = (rng.random(x.shape) >= p) / (1 - p)
    _record("dropout_forward", (x, p, np.random.default_rng(5)), (x * mask, mask))
    assert diagnosis.diagnose("dropout_forward") == ""


def test_results_json_carries_the_mistake_id_and_only_a_catalogued_one():
    base = {"nodeid": "t", "name": "t", "topic": "dense", "function": "dense_backward",
            "points": 1.0, "score": 0.0, "visibility": "visible", "status": "failed",
            "message": "m", "missing": "", "waiting_for": ""}
    g = Grade(records=[dict(base, mistake="dense_db_mean"),
                       dict(base, nodeid="u", name="u", mistake="made_up_id"),
                       dict(base, nodeid="v", name="v", mistake="")])
    tests = gradescope_results(g)["tests"]
    assert tests[0]["extra_data"] == {"mistake": "dense_db_mean"}
    assert "extra_data" not in tests[1] and "extra_data" not in tests[2]


def test_check_prints_the_diagnosis(tmp_path):
    m = next(m for m in MUTANTS if m.name == "dense_db_mean")
    folder = write_submission(m, tmp_path / m.name)
    proc = run(["-c", "from nnlib.grading import check; check('dense', 'dense_backward')"],
               env=clean_env(NNLIB_IMPL=str(folder)))
    text = " ".join(proc.stdout.split())
    assert "(the known mistake 'dense_db_mean')" in text, proc.stdout
    assert mistake("dense_db_mean").fix in text
    assert mistakes_of("dense_backward")


def test_the_docs_list_the_catalogue():
    text = (ROOT / "docs" / "grading.md").read_text(encoding="utf-8")
    table = text[text.index("## Named mistakes"):]
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \| (.*?) \|$", table, flags=re.M)
    assert [r[0] for r in rows] == [m.id for m in MISTAKES]
    for (_, functions, shows), m in zip(rows, MISTAKES, strict=True):
        assert re.findall(r"`(\w+)`", functions) == list(m.functions), m.id
        assert shows == f"your {m.name}", m.id


def test_a_dropout_backward_is_named_for_a_new_mask_only_when_it_looks_like_a_new_draw():
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal((64, 32)) + 3.0, rng.standard_normal((64, 32)) + 3.0
    p = 0.25
    keep = rng.random(x.shape) >= p
    mask, other = keep / (1 - p), (rng.random(x.shape) >= p) / (1 - p)

    def named(cache, dx):
        calls.reset()
        _record("dropout_forward", (x, p, np.random.default_rng(5)), (x * mask, cache))
        _record("dropout_backward", (dout, cache), dx)
        return diagnosis.diagnose("dropout_backward")

    assert named(mask, dout * other) == "dropout_backward_new_mask"
    assert named(mask, dout * mask) == ""  # right
    assert named(mask, dout * ~keep / (1 - p)) == ""  # the complement: not a new draw
    assert named((other, p), dout * other) == ""  # it follows the mask the forward cached
    assert named("an object", dout * other) == ""  # no mask to compare with: unclear


def test_swapped_fans_are_a_shape_error_not_the_wrong_formula():
    rng = np.random.default_rng(8)
    fan_out, fan_in = 50, 400
    _record("he_init", (fan_out, fan_in, rng),
            rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / fan_out))
    assert diagnosis.diagnose("he_init") == "he_fan_out"
    calls.reset()  # sqrt(2 / fan_in) of its own first argument: the parameters swapped
    _record("he_init", (fan_out, fan_in, rng),
            rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_out))
    assert diagnosis.diagnose("he_init") == ""
