"""Repository-wide pytest setup.

In this repository the exercise tests and the notebooks' check cells run against the
reference ``solutions/`` (students, in their release, run them against ``exercises/``).
The notebook kernels that nbval starts inherit this environment variable.
"""

import os

os.environ.setdefault("NNLIB_IMPL", "solutions")
os.environ.setdefault("PYTHONHASHSEED", "0")
# One BLAS thread per process: the notebook kernels and grading subprocesses run side by
# side on small machines, where oversubscribed BLAS threads slow them down many times over.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

