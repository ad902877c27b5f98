"""The judge: the trusted pytest process that grades one submission. It never runs student code.

``python -m nnlib.grading.judge`` (:mod:`.__main__`) runs the tests with the reference and
gives every point; the student's functions run in a separate worker
(:mod:`nnlib.grading.sandboxed.worker`), reached through these modules:

- :mod:`.session`: the worker as the tests use it (load a topic, call a function, time limits);
- :mod:`.remote`: remote modules, functions and handles, and the values that are not plain data;
- :mod:`.process`: starting the worker in its sandbox and ending it with all it started;
- :mod:`.channel`: the bytes, each read and write under a deadline.
"""
