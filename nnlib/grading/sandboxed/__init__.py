"""Code that runs inside the sandbox, as the untrusted worker: the standard library and numpy only.

``worker.py`` and the protocol (``protocol.py``, with its framing ``wire.py`` and its value
codec ``codec.py``) are copied, side by side, into the worker's read-only view
(bubblewrap's root or the chroot fallback's) and run there as top-level modules, where
``nnlib`` does not exist. Nothing here may import ``nnlib``
(``tests/grading/test_layout.py`` checks it). The judge imports :mod:`.protocol` too: it is
the one vocabulary both sides speak.
"""

from pathlib import Path

FILES = ("worker.py", "protocol.py", "wire.py", "codec.py")
"""The files copied into the sandbox."""
HERE = Path(__file__).resolve().parent
