"""Writing files atomically: a failed write never leaves a half-written file behind.

Every file nnlib writes goes through :func:`atomic_path`: models and datasets
(:func:`atomic_h5`), experiment results, the grader's tables and ``results.json``
(:func:`write_text`), and the Gradescope autograder zip.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import h5py


def temp_file(path: str | os.PathLike[str]) -> Path:
    """Create an empty temporary file beside ``path`` (``.NAME.XXXXXXXX.tmp``) and return it.

    Only the first 40 characters of the name go into the temporary one, so that a name
    near the file system's limit (255 bytes) still gets a temporary file.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


@contextmanager
def atomic_path(path: str | os.PathLike[str], who: str, mode: int | None = None
                ) -> Iterator[Path]:
    """Yield a temporary file next to ``path`` to write; move it over ``path`` on success.

    The temporary file lives in the folder of ``path``, so the final ``os.replace`` is one
    atomic step: readers see the old file or the complete new one, never a partial one.
    If the body raises, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or path-like
        The file to (re)write.
    who : str
        Name of the caller, used in error messages.
    mode : int, optional
        Permission bits of the result; by default those a plain new file gets
        (``0o666`` without the umask), not the owner-only bits of a temporary file.

    Yields
    ------
    pathlib.Path
        The temporary file (empty, already created): write it, by name.

    Raises
    ------
    FileNotFoundError
        When the folder of ``path`` does not exist.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{who}: cannot write {path}: the folder {folder} does not exist.")
    tmp = temp_file(path)
    try:
        yield tmp
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str, who: str,
               mode: int | None = None) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; see :func:`atomic_path`."""
    with atomic_path(path, who, mode) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)


@contextmanager
def atomic_h5(path: str | os.PathLike[str], who: str) -> Iterator[h5py.File]:
    """Open a temporary HDF5 file for writing and move it over ``path`` on success.

    Parameters
    ----------
    path : str or path-like
        The file to (re)write.
    who : str
        Name of the caller, used in error messages.

    Yields
    ------
    h5py.File
        Open for writing; see :func:`atomic_path` for what happens on success and failure.
    """
    import h5py

    with atomic_path(path, who) as tmp, h5py.File(tmp, "w") as f:
        yield f
