"""Time what the notebooks promise: notebook 06's explorer and notebook 12's experiments.

Notebook 06: the explorer code is taken from the notebook itself (the code cells that
define ``train_moons`` and ``explore`` and build ``interactive_figure``, after its first
cell's imports), so this measures exactly what a student runs. Timed: one ``explore()``
call, building the widget (one draw), and one control change per step below (each
retrains the network and redraws). Notebook 12: every experiment at its defaults, its plot,
and the coupling widget's slider moves.

Printed per item: wall-clock seconds and CPU seconds of this process. The code is single
threaded (one BLAS thread, as in the notebooks' kernels), so on a busy machine the wall
time grows with the load while the CPU time stays near what a quiet machine takes.

Usage::

    python benchmarks/notebook_speed.py [--only 06|12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if "OMP_NUM_THREADS" not in os.environ:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def clock(f):
    """Run ``f()``; return (its result, wall seconds, CPU seconds)."""
    w, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w, time.process_time() - c


def line(what: str, wall: float, cpu: float) -> None:
    print(f"  {what:<44} wall {wall:6.2f} s   cpu {cpu:6.2f} s", flush=True)


def summary(what: str, walls: list[float], cpus: list[float]) -> None:
    print(f"  {what:<44} wall {min(walls):.2f}-{max(walls):.2f} s (median "
          f"{statistics.median(walls):.2f})   cpu {min(cpus):.2f}-{max(cpus):.2f} s (median "
          f"{statistics.median(cpus):.2f})", flush=True)


def notebook_06() -> None:
    nb = nbformat.read(ROOT / "course" / "06_optimizers.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    wanted = [code[0]] + [s for s in code if "def train_moons" in s or "def explore" in s]
    if len(wanted) != 3:
        raise SystemExit("notebook 06: did not find the cells defining train_moons and explore")
    env: dict = {}
    os.chdir(ROOT / "course")
    for src in wanted:
        exec(compile("\n".join(x for x in src.splitlines() if not x.startswith("%")),  # noqa: S102
                     "<notebook 06>", "exec"), env)
        plt.close("all")
    print("notebook 06, explorer")
    _, w, c = clock(lambda: env["explore"]())
    line("explore() (train 100 epochs + figure)", w, c)
    explorer = env["explorer"]
    controls = {w.description: w for w in explorer.children[0].children}
    steps = [("lr", 0.01), ("lr", 1.0), ("lr", 3.0), ("lr", 0.1), ("init", "small"),
             ("init", "he"), ("init", "xavier"), ("width", 64), ("width", 1), ("width", 16)]
    walls, cpus = [], []
    for name, value in steps:
        _, w, c = clock(lambda n=name, v=value: setattr(controls[n], "value", v))
        walls.append(w)
        cpus.append(c)
        line(f"control change {name}={value}", w, c)
    summary("control changes", walls, cpus)


def notebook_12() -> None:
    from nnlib import experiments as ex

    print("notebook 12, experiments at their defaults (run, then plot)")
    total_w = total_c = 0.0
    for name, run, plot in [("batchnorm_figure1", ex.batchnorm_figure1, ex.plot_figure1),
                            ("lr_robustness", ex.lr_robustness, ex.plot_lr_robustness),
                            ("init_scale_sweep", ex.init_scale_sweep, ex.plot_init_scale_sweep),
                            ("batch_size_effect", ex.batch_size_effect,
                             ex.plot_batch_size_effect),
                            ("loss_landscape", ex.loss_landscape, ex.plot_loss_landscape)]:
        result, w, c = clock(run)
        _, pw, pc = clock(lambda p=plot, r=result: p(r).savefig(os.devnull, format="png"))
        plt.close("all")
        line(f"{name}()", w, c)
        line(f"{name}: plot", pw, pc)
        total_w += w + pw
        total_c += c + pc
    line("all five, with plots", total_w, total_c)
    demo = ex.coupling_demo(np.random.default_rng(6), batch_size=6, features=4)
    widget, w, c = clock(lambda: ex.coupling_widget(demo))
    line("coupling_widget() (one draw)", w, c)
    slider = widget.children[0]
    walls, cpus = [], []
    for v in np.round(np.linspace(-1, 5, 13), 1):
        _, w, c = clock(lambda v=v: setattr(slider, "value", float(v)))
        walls.append(w)
        cpus.append(c)
    summary("coupling slider moves (13)", walls, cpus)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["06", "12"])
    args = parser.parse_args(argv)
    print(f"numpy {np.__version__}, matplotlib {matplotlib.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.only in (None, "06"):
        notebook_06()
    if args.only in (None, "12"):
        notebook_12()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
