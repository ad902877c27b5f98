"""Repository-wide pytest setup.

In this repository the exercise tests and the notebooks' check cells run against the
reference ``solutions/`` (students, in their release, run them against ``exercises/``).
The notebook kernels that nbval starts inherit this environment variable.
"""

import os

os.environ.setdefault("NNLIB_IMPL", "solutions")
os.environ.setdefault("PYTHONHASHSEED", "0")
