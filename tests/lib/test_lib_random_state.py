"""nnlib never touches numpy's global random state: all randomness flows through an rng."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nnlib

SOURCE = Path(nnlib.__file__).resolve().parent
# Constructors of explicit generators, and get_state, which only reads the global state
# (the grader uses it to check that student code leaves it alone).
ALLOWED = (r"default_rng|Generator|SeedSequence|BitGenerator|PCG64|PCG64DXSM|Philox|SFC64|"
           r"MT19937|get_state")
GLOBAL_NUMPY = re.compile(rf"\b(?:np|numpy)\.random\.(?!(?:{ALLOWED})\b)(\w+)")
FROM_IMPORT = re.compile(r"from\s+numpy\.random\s+import\s+([\w ,()]+)")
STDLIB_RANDOM = re.compile(r"^\s*(?:import random\b|from random import)", re.MULTILINE)


def offending_lines(text):
    bad = [m.group(0) for m in GLOBAL_NUMPY.finditer(text)]
    for m in FROM_IMPORT.finditer(text):
        names = {n.strip(" ()") for n in m.group(1).split(",")} - {""}
        bad += [f"from numpy.random import {n}" for n in names
                if not re.fullmatch(ALLOWED, n.split(" as ")[0].strip())]
    bad += [m.group(0).strip() for m in STDLIB_RANDOM.finditer(text)]
    return bad


def test_the_scanner_finds_global_state_uses():
    code = textwrap.dedent("""
        np.random.seed(0); x = numpy.random.randn(3); np.random.shuffle(x)
        from numpy.random import rand, default_rng
        import random
        rng = np.random.default_rng(0); g: np.random.Generator; s = np.random.get_state()
        np.random.set_state(s)
    """)
    assert offending_lines(code) == ["np.random.seed", "numpy.random.randn",
                                     "np.random.shuffle", "np.random.set_state",
                                     "from numpy.random import rand", "import random"]


def test_no_nnlib_source_uses_global_random_state():
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 10
    problems = {str(f.relative_to(SOURCE)): offending_lines(f.read_text()) for f in files}
    assert {k: v for k, v in problems.items() if v} == {}


def test_import_and_training_leave_the_global_state_alone(tmp_path):
    script = textwrap.dedent("""
        import importlib, pkgutil
        import numpy as np
        before = np.random.get_state()
        import nnlib
        for info in pkgutil.walk_packages(nnlib.__path__, "nnlib."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
        rng = np.random.default_rng(0)
        X, y = nnlib.datasets.load_digits()
        X, _, y, _ = nnlib.datasets.train_test_split(X, y, 0.5, rng=rng)
        nnlib.datasets.make_moons(10, rng=rng)
        model = nnlib.Sequential([nnlib.Dense(64, 16, rng=rng), nnlib.BatchNorm(16),
                                  nnlib.ReLU(), nnlib.Dropout(0.2, rng=rng),
                                  nnlib.Dense(16, 10, rng=rng)])
        nnlib.fit(model, X[:200], y[:200], optimizer=nnlib.Adam(model), epochs=1, rng=rng,
                  verbose=0)
        nnlib.gradcheck(nnlib.Dense(3, 2, rng=rng), np.ones((2, 3)))
        nnlib.save(model, "m.h5")
        nnlib.load("m.h5", rng=rng)
        after = np.random.get_state()
        same = np.array_equal(before[1], after[1]) and before[2:] == after[2:]
        assert same, "global random state changed"
        print("unchanged")
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "unchanged"
