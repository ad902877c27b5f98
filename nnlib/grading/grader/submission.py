"""A student's hand-in: find the exercise files, refuse what is not a plain file, copy them.

Students hand in folders as they make them: the exercise files themselves (``dense.py``,
...), or a folder holding ``exercises/``, or one single folder (``alice-hw/``) holding either.
:func:`inspect_handin` finds the files and says which layout it found; only regular
``<topic>.py`` files are taken. A symbolic link, a device, a folder in a file's place, or a
file over :data:`MAX_FILE` bytes is refused with a message that the student will read.
:func:`copy_handin` copies the accepted files into the judge's private folder, opening each
without following links, so that the worker sees nothing else.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nnlib.grading.registry import TOPICS

MAX_FILE = 1 << 20
"""Largest exercise file accepted (bytes)."""
_IGNORED_DIRS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints"}
_COPY_NAME = re.compile(r"(?P<base>[a-z]+)(?: *\(\d+\)|[ _-]+(?:copy|\d+))?\.py",
                        re.IGNORECASE | re.ASCII)
"""A name that a download, a re-upload or a file manager made of ``<topic>.py``:
``dense (1).py``, ``dense-2.py``, ``dense copy.py``, ``Dense.py``."""
_UNSHOWN = ("Cc", "Cf")
"""Unicode categories never echoed from a name: control characters (a terminal's escape
sequences) and format characters, which show nothing or change what is shown around them
(a zero-width space makes ``alice`` twice; the bidirectional overrides reorder)."""
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0"
                        "\U000e0100-\U000e01ef]")
"""Other characters that show nothing: the combining grapheme joiner, the Hangul fillers,
the variation selectors."""


def shown_name(name: str) -> str:
    r"""A file or folder name as text that is safe to print, write and show.

    Bytes that are not UTF-8 (a zip made on another system; Python keeps them as
    surrogates, which no file, terminal or CSV can take), the characters of the categories
    :data:`_UNSHOWN` and those of :data:`_INVISIBLE` are written as escapes: ``b"caf\xe9"``
    as ``caf\xe9``, an escape character as ``\x1b``. Any other name is returned unchanged.
    """
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if unicodedata.category(c) not in _UNSHOWN and not _INVISIBLE.match(c)
                   else f"\\x{ord(c):02x}" if ord(c) < 0x100
                   else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                   for c in text)


@dataclass
class Handin:
    """What :func:`inspect_handin` found in a submission folder."""

    given: Path
    folder: Path
    layout: str = "flat"
    """``"flat"``, ``"exercises"`` (``exercises/`` inside), ``"single"`` (one sub-folder)."""
    note: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    shown: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _entry(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _has_topics(folder: Path) -> bool:
    return any(_entry(folder / f"{t}.py") is not None for t in TOPICS)


def _plain_dir(path: Path) -> bool:
    st = _entry(path)
    return st is not None and stat.S_ISDIR(st.st_mode)


def inspect_handin(given: str | os.PathLike[str], topics: Iterable[str] | None = None,
                   prefix: str = "") -> Handin:
    """Find the exercise files of the submission folder ``given``.

    ``prefix`` is put before the paths shown to the student (``"exercises/"`` when grading
    the course's own ``exercises/`` folder).
    """
    given = Path(given)
    h = Handin(given=given, folder=given)
    inner = ""
    if not _has_topics(given):
        if _plain_dir(given / "exercises") and _has_topics(given / "exercises"):
            h.folder, h.layout, inner = given / "exercises", "exercises", "exercises/"
        elif (given / "exercises").is_symlink():
            h.problems.append("exercises/ is a symbolic link: hand in the folder itself")
        else:
            subs = [d for d in sorted(given.iterdir()) if d.name not in _IGNORED_DIRS
                    and not d.name.startswith(".") and _plain_dir(d)]
            files = [f for f in given.iterdir() if not f.name.startswith(".")
                     and not _plain_dir(f)]
            if len(subs) == 1 and not any(f.suffix == ".py" for f in files):
                sub = subs[0]
                if _has_topics(sub):
                    h.folder, h.layout, inner = sub, "single", f"{shown_name(sub.name)}/"
                elif _plain_dir(sub / "exercises") and _has_topics(sub / "exercises"):
                    h.folder, h.layout = sub / "exercises", "single"
                    inner = f"{shown_name(sub.name)}/exercises/"
    if h.layout != "flat":
        h.note = (f"the exercise files were found in {inner} inside the submission folder "
                  "and graded as if they were at its top")
    for topic in topics or TOPICS:
        name = f"{topic}.py"
        shown = f"{prefix}{inner}{name}"
        h.shown[topic] = shown
        st = _entry(h.folder / name)
        if st is None:
            continue
        if stat.S_ISLNK(st.st_mode):
            h.refused[topic] = (f"{shown} is a symbolic link: hand in the file itself "
                                "(links are not followed), so this exercise was not graded")
        elif not stat.S_ISREG(st.st_mode):
            h.refused[topic] = f"{shown} is not a regular file, so this exercise was not graded"
        elif st.st_size > MAX_FILE:
            h.refused[topic] = (f"{shown} is larger than {MAX_FILE >> 20} MiB, so this "
                                "exercise was not graded")
        else:
            h.files[topic] = h.folder / name
    h.problems += list(h.refused.values())
    missing = [t for t in (topics or TOPICS) if t not in h.files and t not in h.refused]
    for name, topic in _renamed_copies(h.folder, missing):
        h.problems.append(f"{prefix}{inner}{name} is not graded, only {h.shown[topic]} is: "
                          f"rename it to {topic}.py to grade that exercise")
    if not h.files and not h.refused:
        names = [f"{t}.py" for t in (topics or TOPICS)]
        example = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        h.problems.insert(0, f"no exercise files found in the submission (expected {example} "
                             "at its top, or in exercises/ inside it)")
    return h


def _renamed_copies(folder: Path, missing: list[str]) -> list[tuple[str, str]]:
    """``(file name, topic)``: the regular files named like a copy of a missing ``<topic>.py``.

    See :data:`_COPY_NAME`.
    """
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return []
    found = []
    for name in names:
        m = _COPY_NAME.fullmatch(name)
        st = _entry(folder / name)
        if (m and m["base"].lower() in missing and st is not None
                and stat.S_ISREG(st.st_mode)):
            found.append((name, m["base"].lower()))
    return found


def copy_handin(h: Handin, dest: Path) -> None:
    """Copy the accepted files of ``h`` into ``dest`` (created), never following links.

    A file that changed into something else since :func:`inspect_handin` is refused.
    """
    dest.mkdir(mode=0o700, exist_ok=True)  # laid out by sandbox.prepare, or made here
    for topic, path in list(h.files.items()):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            h.refused[topic] = f"{h.shown[topic]} could not be read ({e.strerror})"
            del h.files[topic]
            continue
        try:
            st = os.fstat(fd)
            data = b""
            if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_FILE:
                with os.fdopen(fd, "rb", closefd=False) as f:
                    data = f.read(MAX_FILE + 1)
            if not stat.S_ISREG(st.st_mode) or len(data) > MAX_FILE:
                h.refused[topic] = f"{h.shown[topic]} is not a regular file of at most 1 MiB"
                del h.files[topic]
                continue
        finally:
            os.close(fd)
        (dest / f"{topic}.py").write_bytes(data)
