"""The student's exercise files, read without running them, and what each layer needs.

Which functions of a file are still stubs, which are defined, whether an error was raised
by the student's file, and :data:`REQUIRES`: the exercise functions each layer class and
loss of :class:`~nnlib.course.student_layers.StudentLayers` calls.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from nnlib.grading.registry import EXERCISES

REQUIRES: dict[str, tuple[str, ...]] = {
    user: tuple(e.function for e in EXERCISES if user in e.used_by)
    for user in dict.fromkeys(u for e in EXERCISES for u in e.used_by)}
"""What each layer class and loss of :class:`StudentLayers` calls, by exercise function.

``BatchNorm(backward_mode="staged")`` calls ``batchnorm_backward`` instead of
``batchnorm_backward_fast``.
"""

LAYERS = ("Dense", "ReLU", "Sigmoid", "Tanh", "BatchNorm", "Dropout", "LayerNorm")
LOSSES = ("softmax_cross_entropy", "mse_loss", "binary_cross_entropy_with_logits")
LOSS_KIND = {"softmax_cross_entropy": "multiclass", "mse_loss": "regression",
              "binary_cross_entropy_with_logits": "binary"}


class ExerciseNotImplementedError(NotImplementedError):
    """An exercise function that is not written yet (still the stub) was needed.

    The message names the function and the file to write it in, e.g.
    ``dense_backward is not implemented yet: write it in exercises/dense.py``.

    Attributes
    ----------
    functions : list of str
        The functions that are missing (may be empty when the error was re-raised with
        only a message, as :class:`nnlib.Sequential` does to add the layer's index).
    """

    def __init__(self, message: str, functions: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.functions = list(functions)


def is_stub(node: ast.FunctionDef) -> bool:
    """True when the body is (a docstring and) ``raise NotImplementedError[(...)]``."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def stubs_and_defined(path: Path) -> tuple[set[str], set[str]]:
    """``(stub functions, defined functions)`` of the module-level defs in ``path``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return set(), set()
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return {n.name for n in defs if is_stub(n)}, {n.name for n in defs}


def raised_in(exc: BaseException, path: Path) -> bool:
    """True when the innermost frame of ``exc``'s traceback runs code of file ``path``."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    try:
        return Path(last.tb_frame.f_code.co_filename).resolve() == path.resolve()
    except OSError:  # pragma: no cover - unresolvable path
        return False

