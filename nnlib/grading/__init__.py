"""Exercise checking and grading, cut along its trust boundary.

The folders say who runs what, with what trust:

- ``sandboxed/``: runs inside the sandbox as the untrusted worker (standard library and
  numpy only);
- ``judge/``: the judge, the trusted pytest process that gives the points (it never runs
  student code);
- ``grader/``: the grading process that starts judges, isolates workers and writes the
  results (no pytest, no student code), with ``python -m nnlib grade`` and the Gradescope
  autograder;
- ``selfcheck/``: ``check()``, the notebooks' in-process self-check.

``registry.py`` (every exercise function, once), ``clock.py`` (every time limit) and
``impl.py`` (where the course and the
exercise files are) are shared.
The public names are importable from here: ``check(topic, *functions)`` for check cells,
and ``student_layers()`` / ``student_function(topic, name)`` (defined with the course, in
:mod:`nnlib.course.student_layers`) to train networks with the student's own functions.
"""

from __future__ import annotations

from nnlib.grading.registry import NOTEBOOKS, TOPICS

__all__ = ["check", "CheckResult", "TOPICS", "NOTEBOOKS", "student_layers", "student_function",
           "StudentLayers", "ExerciseNotImplementedError"]

_STUDENT = ("student_layers", "student_function", "StudentLayers", "ExerciseNotImplementedError")
_CHECK = ("check", "CheckResult")


def __getattr__(name: str) -> object:
    """Import the self-check or the student's layers on first use of one of their names."""
    if name in _CHECK:
        from nnlib.grading import selfcheck

        return getattr(selfcheck, name)
    if name in _STUDENT:
        from nnlib.course import student_layers

        return getattr(student_layers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
