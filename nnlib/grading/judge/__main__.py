"""The judge process: pytest with the tests, nnlib and the reference; no student code.

The grader (:mod:`nnlib.grading.grader.grade`) starts one judge per submission::

    python -m nnlib.grading.judge         # configuration as JSON on standard input

or, when it grades many, forks each from a template (:mod:`.template`), which has
imported the same modules once and calls :func:`judge` in every fresh child.

The judge starts the submission's worker (:mod:`.session`, sandboxed where possible),
collects the tests while it boots, runs every test with the ``impl`` fixture calling into
that worker, and streams one JSON line per event
(``collected``, ``start``, ``record``, ``protections``, ``finished``) to the file
descriptor it was given. The worker's output never reaches that descriptor, and the
judge sends ``finished`` only after every process of the worker has ended.

Configuration keys: ``root``, ``files`` (test files), ``timeout``, ``budget`` (seconds left
for the submission), ``total`` (its whole limit, for the worker's CPU limit and the
messages), ``skip`` (node ids already done), ``events_fd``, ``tmp`` (the grading process's
private folder), ``dirs`` (the submission's folders, laid out by the grading process:
:func:`nnlib.grading.judge.sandbox.prepare`), ``uid`` (the worker's, as root), ``shown`` and
``refused`` (per topic), ``sandbox``, ``collect_only``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    """Read the configuration from standard input and judge (never returns)."""
    judge(json.loads(sys.stdin.read()))


def judge(cfg: dict) -> None:
    """Run pytest as the judge with the configuration ``cfg``, report, and exit hard.

    Called by :func:`main`, and in a judge forked from a template
    (:mod:`nnlib.grading.judge.template`).
    """
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    for key in ("NNLIB_IMPL", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(key, None)
    events = os.fdopen(int(cfg["events_fd"]), "w", encoding="utf-8", buffering=1)

    def emit(event: dict) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()

    from nnlib.grading.judge import session as sessions
    from nnlib.grading.judge.plugin import Collector, pytest_args, remember_paths
    from nnlib.grading.judge.process import WorkerStartError, harden_judge
    from nnlib.grading.judge.sandbox import Sandbox

    harden_judge()
    root = Path(cfg["root"])
    import numpy

    from nnlib.grading.judge.sandbox import SANDBOX_DIR

    # paths of this machine (and of the sandbox) that no feedback may show
    remember_paths(root, cfg.get("tmp", ""), *(cfg.get("dirs") or {}).values(),
                   Path(__file__).resolve().parents[3],
                   sys.base_prefix, sys.prefix, sys.exec_prefix,
                   Path(numpy.__file__).resolve().parents[1], f"{SANDBOX_DIR}/submission",
                   f"{SANDBOX_DIR}/site", f"{SANDBOX_DIR}/bin", os.path.expanduser("~"))
    session = None
    if not cfg.get("collect_only"):
        box = Sandbox.from_json(cfg["sandbox"])
        session = sessions.WorkerSession(box, cfg["dirs"], cfg["shown"], cfg["refused"],
                                         timeout=cfg["timeout"], budget=cfg["budget"],
                                         total=cfg.get("total"), uid=cfg.get("uid"))
        sessions.set_current(session)
        try:
            session.prestart()
        except WorkerStartError:
            pass  # reported when a test needs the worker
    collector = Collector(stream=events, timeout=cfg["timeout"], skip=cfg.get("skip", ()),
                          on_start=session.begin_test if session else None,
                          on_finish=session.end_test if session else None)
    args = pytest_args(root, [Path(p) for p in cfg["files"]])
    if cfg.get("collect_only"):
        args.append("--collect-only")
    code = 3
    try:
        import pytest

        code = int(pytest.main(args, plugins=[collector]))
    finally:
        starts = 0
        if session is not None:
            session.close()
            starts = session.starts
            emit({"protections": session.protections(), "sandboxed": session.box.sandboxed,
                  "isolation": session.box.kind})
        emit({"finished": code, "worker_starts": starts,
              "collect_errors": collector.collect_errors[:3]})
    os._exit(0)


if __name__ == "__main__":
    main()
