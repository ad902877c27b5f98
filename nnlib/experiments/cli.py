"""``nnlib experiment NAME``: run one experiment at full length, save HDF5 and PNG.

    python -m nnlib experiment figure1 --steps 50000 --out results/
    python -m nnlib experiment lr --steps 3000 --out results/

writes ``results/<name>.h5`` (read it back with ``nnlib.experiments.load_results``) and
``results/<name>.png``, and prints the measured table.
"""

from __future__ import annotations

import argparse
import textwrap
import time
from pathlib import Path
from typing import Any

EXPERIMENTS = {
    "figure1": "Ioffe & Szegedy (2015) Figure 1 on digits (default 50000 steps)",
    "lr": "learning-rate robustness (default 2000 steps per run)",
    "init": "initial weight scale sweep, deep tanh network (default 2000 steps per run)",
    "batchsize": "batch-size effect (--steps is the number of epochs; default 20)",
    "landscape": "Santurkar et al. (2018) loss landscape (default 5000 steps)",
}
DEFAULT_STEPS = {"figure1": 50000, "lr": 2000, "init": 2000, "batchsize": 20, "landscape": 5000}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``experiment`` sub-command to the top-level parser."""
    p = sub.add_parser("experiment", help="run a batch-normalization experiment at full length",
                       description="Run one batch-normalization experiment at full length; "
                                   "save <out>/<name>.h5 and <out>/<name>.png.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="experiments:\n" + "\n".join(
                           f"  {k:<10} {v}" for k, v in EXPERIMENTS.items()))
    p.add_argument("name", choices=sorted(EXPERIMENTS), help="which experiment")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps (batchsize: epochs); default: see below")
    p.add_argument("--seed", type=int, default=0, help="seed of every random stream (0)")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="folder for <name>.h5 and <name>.png (results/)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="floating-point precision of data and weights (float64)")
    p.add_argument("--lr", type=float, default=None,
                   help="override the learning rate (not for 'lr', which sweeps it)")
    p.add_argument("--no-progress", action="store_true",
                   help="hide the progress bar (figure1; it is hidden anyway when stderr is "
                        "not a terminal)")
    p.set_defaults(func=run)


def _run_experiment(args: argparse.Namespace) -> tuple[Any, Any]:
    from nnlib import experiments as ex

    steps = DEFAULT_STEPS[args.name] if args.steps is None else args.steps
    if steps < 1:
        raise SystemExit(f"nnlib experiment: --steps must be positive, got {steps}.")
    kw: dict[str, Any] = {"seed": args.seed, "dtype": args.dtype}
    if args.lr is not None and args.name != "lr":
        kw["lr"] = args.lr
    if args.name == "figure1":
        r = ex.batchnorm_figure1(steps=steps, progress=not args.no_progress, **kw)
        return r, ex.plot_figure1(r)
    if args.name == "lr":
        r = ex.lr_robustness(steps=steps, **kw)
        return r, ex.plot_lr_robustness(r)
    if args.name == "init":
        r = ex.init_scale_sweep(steps=steps, **kw)
        return r, ex.plot_init_scale_sweep(r)
    if args.name == "batchsize":
        r = ex.batch_size_effect(epochs=steps, **kw)
        return r, ex.plot_batch_size_effect(r)
    r = ex.loss_landscape(steps=steps, measure_every=max(1, steps // 40), **kw)
    return r, ex.plot_loss_landscape(r)


def format_setup(setup: dict[str, Any], width: int = 100) -> str:
    """An experiment's setup, one ``name  value`` line per entry (lists comma-separated).

    Long values wrap under themselves, between words.
    """
    if not setup:
        return "setup: (none recorded)"
    keys = [str(k).replace("_", " ") for k in setup]
    pad = max(len(k) for k in keys) + 4
    lines = ["setup:"]
    for key, value in zip(keys, setup.values(), strict=True):
        if isinstance(value, (list, tuple)):
            value = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, float):
            value = f"{value:g}"
        lines += textwrap.wrap(str(value), width=max(width, pad + 20),
                               initial_indent=f"  {key:<{pad - 2}}",
                               subsequent_indent=" " * pad, break_long_words=False,
                               break_on_hyphens=False) or [f"  {key}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the experiment named in ``args``, save ``<out>/<name>.h5`` and ``.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnlib.experiments import save_results

    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result, fig = _run_experiment(args)
    seconds = time.perf_counter() - start
    h5 = save_results(result, args.out / f"{args.name}.h5")
    png = args.out / f"{args.name}.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    print(result.table())
    print(format_setup(result.setup))
    print(f"wrote {h5} and {png} ({seconds:.1f} s)")
    return 0
