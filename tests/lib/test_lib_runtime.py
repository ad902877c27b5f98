"""The BLAS thread limit and the progress bars (nnlib._runtime)."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import nnlib
from nnlib._runtime import progress_bar

PROBE = r"""
import json, numpy as np, nnlib
from nnlib._runtime import blas_threads
seen = []
def loss(pred, y):
    seen.append(blas_threads())
    return nnlib.functional.softmax_cross_entropy(pred, y)
rng = np.random.default_rng(0)
X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
model = nnlib.Sequential([nnlib.Dense(5, 8, rng=rng), nnlib.ReLU(), nnlib.Dense(8, 3, rng=rng)])
before = blas_threads()
nnlib.fit(model, X, y, optimizer=nnlib.SGD(model.parameters(), lr=0.1), loss=loss, epochs=2,
          batch_size=10, rng=rng, verbose=0)
after = blas_threads()
nnlib.limit_blas_threads()
print(json.dumps({"before": before, "during": sorted(set(seen)), "after": after,
                  "limited": blas_threads()}))
"""


PROBE_OTHERS = r"""
import json, numpy as np, nnlib
from nnlib import experiments as ex
from nnlib._runtime import blas_threads
from nnlib.experiments.sweeps import _shared as sweeps  # where the sweeps look train_step up
rng = np.random.default_rng(1)
model = nnlib.Sequential([nnlib.Dense(4, 3, rng=rng)])
seen = {"predict": [], "evaluate": [], "experiment": []}
forward, step, now = model.forward, sweeps.train_step, ["predict"]
def spy(x):
    seen[now[0]].append(blas_threads())
    return forward(x)
def spy_step(*args):
    seen["experiment"].append(blas_threads())
    return step(*args)
model.forward = spy
before = blas_threads()
nnlib.predict(model, np.ones((5, 4)))
now[0] = "evaluate"
nnlib.evaluate(model, np.ones((5, 4)), np.zeros(5, dtype=int))
sweeps.train_step = spy_step
ex.lr_robustness(lrs=(0.1,), steps=2, hidden=(8,))
print(json.dumps({"before": before, "after": blas_threads(),
                  "during": {k: sorted(set(v)) for k, v in seen.items()}}))
"""


def _probe(code: str) -> dict:
    """Run ``code`` in a fresh interpreter as a student's laptop has it: no thread variables
    set (this suite sets them to 1 before numpy loads, so the limit cannot be seen here).
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    r = json.loads(out)
    if r["before"] == 1:
        pytest.skip("BLAS starts with one thread on this machine: a limit to one cannot show")
    return r


def test_fit_uses_one_blas_thread_without_any_environment_setting():
    r = _probe(PROBE)
    assert r["during"] == [1]
    assert r["after"] == r["before"], "fit must give the threads back when it returns"
    assert r["limited"] == 1


def test_evaluate_predict_and_experiments_use_one_blas_thread():
    r = _probe(PROBE_OTHERS)
    assert r["during"] == {"predict": [1], "evaluate": [1], "experiment": [1]}
    assert r["after"] == r["before"], "the threads are given back when each returns"


def test_progress_bar_is_silent_in_a_pipe_and_shown_on_a_terminal():
    pipe = io.StringIO()
    bar = progress_bar(total=3, desc="x", file=pipe)
    for _ in range(3):
        bar.update(1)
    bar.close()
    assert pipe.getvalue() == ""  # no endless line of carriage returns in a CI log

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    bar = progress_bar(total=3, desc="x", file=tty)
    bar.update(3)
    bar.close()
    assert "3/3" in tty.getvalue()


def test_fit_writes_no_carriage_returns_to_a_captured_stderr(capfd):
    rng = np.random.default_rng(2)
    model = nnlib.Sequential([nnlib.Dense(4, 3, rng=rng)])
    nnlib.fit(model, np.ones((6, 4)), np.zeros(6, dtype=int), epochs=3, batch_size=3, rng=rng,
              optimizer=nnlib.SGD(model.parameters(), lr=0.1), verbose=1)
    assert "\r" not in capfd.readouterr().err


def test_a_bar_given_a_stream_writes_text_even_where_a_kernel_shell_exists():
    # tqdm.auto picks the notebook widget once an IPython kernel shell exists in the process
    # (another test in the same xdist worker may have made one); a stream given with file=
    # still gets text
    code = (
        "import io\n"
        "from ipykernel.zmqshell import ZMQInteractiveShell\n"
        "ZMQInteractiveShell.instance()\n"
        "from nnlib._runtime import progress_bar\n"
        "class Terminal(io.StringIO):\n"
        "    def isatty(self):\n"
        "        return True\n"
        "tty = Terminal()\n"
        "bar = progress_bar(total=3, desc='x', file=tty)\n"
        "bar.update(3)\n"
        "bar.close()\n"
        "print('3/3' in tty.getvalue())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.strip() == "True", proc.stdout + proc.stderr
