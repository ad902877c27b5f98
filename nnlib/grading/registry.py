"""The exercise registry: every graded function, once, with what the rest of nnlib needs.

Adding an exercise function means its solution (``solutions/<topic>.py``), its tests
(``tests/public`` and ``tests/hidden``) and one :class:`Exercise` entry here. Everything
else comes from this list or is checked against it:

- :data:`TOPICS`, :data:`NOTEBOOKS` and :func:`topic_of` (the grader, ``check()``, the
  release and the stubs);
- the shape an output should have, for the hints of shape errors
  (:data:`nnlib.grading.judge.feedback.EXPECTED_SHAPES`);
- which of the student's layer classes and losses call the function
  (:data:`nnlib.course.student_layers.REQUIRES`);
- the exercise table of ``docs/grading.md`` (``tests/grading/test_registry.py`` compares);
- the tests and the mutants (every test names a registered function; every mutant patches
  one).

A shape rule is declarative: ``("same", i, name)`` (the output ``name`` has the shape of
argument ``i``), ``("dense", "z")`` (``(x.shape[0], W.shape[0])``) or ``("fan", "W")``
(``(fan_out, fan_in)``, the first two arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Exercise", "EXERCISES", "TOPICS", "NOTEBOOKS", "topic_of", "exercise"]


@dataclass(frozen=True)
class Exercise:
    """One graded function of an exercise file.

    Attributes
    ----------
    function : str
        Its name, in ``exercises/<topic>.py``.
    topic : str
        The file (and check topic) that holds it.
    notebook : str
        The notebook that teaches it (stem of ``course/<notebook>.ipynb``).
    shape : tuple, optional
        How its main output's shape follows from its arguments (see the module docstring).
    used_by : tuple of str
        The classes and losses of ``student_layers()`` that call it.
    """

    function: str
    topic: str
    notebook: str
    shape: tuple = ()
    used_by: tuple[str, ...] = ()


_OUT = ("same", 0, "out")
_DX = ("same", 0, "dx")
_GRAD = ("same", 0, "the gradient")

EXERCISES: tuple[Exercise, ...] = (
    Exercise("numerical_gradient", "gradients", "01_chain_rule", ("same", 1, "grad")),
    Exercise("sigmoid_forward", "activations", "02_dense_forward", _OUT, ("Sigmoid",)),
    Exercise("sigmoid_backward", "activations", "02_dense_forward", _DX, ("Sigmoid",)),
    Exercise("relu_forward", "activations", "02_dense_forward", _OUT, ("ReLU",)),
    Exercise("relu_backward", "activations", "02_dense_forward", _DX, ("ReLU",)),
    Exercise("tanh_forward", "activations", "02_dense_forward", _OUT, ("Tanh",)),
    Exercise("tanh_backward", "activations", "02_dense_forward", _DX, ("Tanh",)),
    Exercise("dense_forward", "dense", "02_dense_forward", ("dense", "z"), ("Dense",)),
    Exercise("dense_backward", "dense", "04_network_backward", (), ("Dense",)),
    Exercise("small_init", "initialization", "05_training", ("fan", "W")),
    Exercise("xavier_init", "initialization", "05_training", ("fan", "W")),
    Exercise("he_init", "initialization", "05_training", ("fan", "W")),
    Exercise("mse_loss", "losses", "03_backpropagation", _GRAD, ("mse_loss",)),
    Exercise("binary_cross_entropy_with_logits", "losses", "03_backpropagation", _GRAD,
             ("binary_cross_entropy_with_logits",)),
    Exercise("softmax_cross_entropy", "losses", "03_backpropagation", _GRAD,
             ("softmax_cross_entropy",)),
    Exercise("network_forward", "network", "04_network_backward"),
    Exercise("network_backward", "network", "04_network_backward"),
    Exercise("sgd_step", "network", "05_training"),
    Exercise("batchnorm_forward", "batchnorm", "07_batchnorm_forward", _OUT,
             ("BatchNorm",)),
    Exercise("batchnorm_backward", "batchnorm", "07_batchnorm_forward"),
    Exercise("batchnorm_backward_fast", "batchnorm", "08_batchnorm_backward", (),
             ("BatchNorm",)),
    Exercise("batchnorm_inference", "batchnorm", "09_batchnorm_inference", _OUT,
             ("BatchNorm",)),
    Exercise("running_stats_update", "batchnorm", "09_batchnorm_inference", (),
             ("BatchNorm",)),
    Exercise("dropout_forward", "dropout", "10_dropout_layernorm", _OUT, ("Dropout",)),
    Exercise("dropout_backward", "dropout", "10_dropout_layernorm", _DX, ("Dropout",)),
    Exercise("layernorm_forward", "layernorm", "10_dropout_layernorm", _OUT,
             ("LayerNorm",)),
    Exercise("layernorm_backward", "layernorm", "10_dropout_layernorm", (),
             ("LayerNorm",)),
    Exercise("adam_update", "adam", "06_optimizers", ("same", 0, "w")),
)
"""Every graded function, in teaching order within its topic; topics in grading order."""


def _topics() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for e in EXERCISES:
        out.setdefault(e.topic, []).append(e.function)
    return {t: tuple(fs) for t, fs in out.items()}


TOPICS: dict[str, tuple[str, ...]] = _topics()
"""Topic (file ``exercises/<topic>.py``) -> the functions graded in it, in teaching order."""

NOTEBOOKS: dict[str, str] = {t: next(e.notebook for e in EXERCISES if e.topic == t)
                             for t in TOPICS}
"""Topic -> the notebook where its exercise is introduced (its first function's)."""

_BY_NAME = {e.function: e for e in EXERCISES}


def exercise(function: str) -> Exercise:
    """The registry entry of ``function``; raise KeyError if it is not an exercise."""
    return _BY_NAME[function]


def topic_of(function: str) -> str:
    """Return the topic whose file holds ``function``; raise KeyError if none does."""
    return _BY_NAME[function].topic
