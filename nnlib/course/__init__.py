"""The course side of nnlib's code: training with the student's own layers, and the release.

- :mod:`.student_layers`: layer classes and losses built from the student's exercise
  functions (``nnlib.grading.student_layers()``), for the notebooks' payoff cells;
- :mod:`.release`: the student release and the stubs generated from ``solutions/``.
"""
