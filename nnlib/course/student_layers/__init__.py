"""Train networks built from the student's own exercise functions.

:func:`student_layers` reads the exercise files of an implementation (by default the
student's ``exercises/``, the folder :func:`nnlib.grading.check` tests) and returns a
:class:`StudentLayers` namespace whose layer classes call those functions::

    from nnlib.grading import student_layers
    mine = student_layers()
    needed = ("Dense", "ReLU", "softmax_cross_entropy")
    if mine.missing_for(*needed):
        print(mine.report(*needed))          # which functions to write, in which file
    else:
        rng = np.random.default_rng(0)
        model = nnlib.Sequential([mine.Dense(64, 100, rng=rng), mine.ReLU(),
                                  mine.Dense(100, 10, rng=rng)])
        nnlib.fit(model, X, y, optimizer=nnlib.SGD(model.parameters(), lr=0.1),
                  loss=mine.softmax_cross_entropy, epochs=10, rng=rng)

Each class subclasses nnlib's layer of the same name and replaces only the arithmetic of
``forward`` and ``backward``: parameters, gradients, buffers, ``train()`` / ``eval()``,
input checks, ``repr``, :func:`nnlib.save` and everything that takes an nnlib layer
(``Sequential``, the optimizers, ``fit``, ``evaluate``, ``gradcheck``) work unchanged.

A function that is still a stub raises :class:`ExerciseNotImplementedError`, naming the
function and its file, as soon as a layer that needs it is built, or when it is called.
:func:`student_function` gives a single function, also re-read from its file every time.

The package holds :mod:`.exercise_files` (stubs, and what each layer needs),
:mod:`.layers` (the layer classes and losses) and :mod:`.namespace` (:class:`StudentLayers`
and the two entry points); the names below are re-exported here.
"""

from __future__ import annotations

from nnlib.course.student_layers.exercise_files import (  # LAYERS, LOSSES: as before the split
    LAYERS,  # noqa: F401
    LOSSES,  # noqa: F401
    REQUIRES,
    ExerciseNotImplementedError,
)
from nnlib.course.student_layers.namespace import StudentLayers, student_function, student_layers

__all__ = [
    "ExerciseNotImplementedError",
    "StudentLayers",
    "student_layers",
    "student_function",
    "REQUIRES",
]

