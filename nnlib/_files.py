"""Writing HDF5 files atomically: a failed write never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py


@contextmanager
def atomic_h5(path: str | os.PathLike, who: str) -> Iterator[h5py.File]:
    """Open a temporary HDF5 file for writing and move it over ``path`` on success.

    The temporary file lives in the folder of ``path``, so the final ``os.replace`` is one
    atomic step: readers see the old file or the complete new one, never a partial one.
    If the body raises, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or path-like
        The file to (re)write.
    who : str
        Name of the caller, used in error messages.

    Yields
    ------
    h5py.File
        Open for writing.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{who}: cannot write {path}: the folder {folder} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        # mkstemp makes owner-only files; give the file the permissions a plain one would get
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with h5py.File(tmp, "w") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
