"""Grade one class of submissions for tests/grading/test_hostile.py (the trusted side).

Run as ``python class_run.py SPEC_JSON FD``: grades the folder ``spec["submissions"]``
with :func:`nnlib.grading.grader.classes.grade_submissions` and writes, as one JSON document on
the file descriptor ``FD`` (a pipe that no grading subprocess inherits), what the grader
returned: for each submission its records, scores, problems, protections and the
Gradescope document the judge computes from them. The test compares the files the
grader wrote with this.

Started in a session of its own whose controlling terminal is a pseudo-terminal held by
the test, so that a submission typing into the terminal (TIOCSTI) can be seen.
"""

from __future__ import annotations

import fcntl
import inspect
import json
import os
import sys
import termios


def main() -> int:
    spec = json.loads(sys.argv[1])
    fd = int(sys.argv[2])
    try:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin, the test's pty, becomes our terminal
    except OSError:
        pass
    from nnlib.grading.grader import classes as grader
    from nnlib.grading.grader.results import gradescope_results
    wanted = {"hidden": spec["hidden"], "timeout": spec["timeout"], "jobs": spec["jobs"],
              "json_dir": spec["json_dir"], "progress": False, "sandbox": spec["sandbox"],
              "topics": spec["topics"]}
    params = inspect.signature(grader.grade_submissions).parameters
    kwargs = {k: v for k, v in wanted.items() if k in params}
    narrowed = False
    if "topics" not in params and spec["topics"] and hasattr(grader, "collect"):
        # grade_submissions has no topics= (yet): narrow the test files it runs, for speed
        topics = list(spec["topics"])
        test_files, collect = grader.test_files, grader.collect
        grader.test_files = lambda root, hidden, t=None: test_files(root, hidden, t or topics)
        grader.collect = lambda hidden=False, t=None: collect(hidden, t or topics)
        narrowed = True
    results = grader.grade_submissions(spec["submissions"], spec["csv"], **kwargs)
    out = {"unsupported": sorted(set(wanted) - set(kwargs) - ({"topics"} if narrowed else set())),
           "results": {}}
    for name, g in results.items():
        out["results"][name] = {
            "records": [dict(r) for r in g.records],
            "score": g.score,
            "max_score": g.max_score,
            "seconds": g.seconds,
            "by_topic": g.by_topic(),
            "problems": list(getattr(g, "problems", [])),
            "protections": getattr(g, "protections", None),
            "sandboxed": getattr(g, "sandboxed", None),
            "gradescope": gradescope_results(g),
        }
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
