"""The fallback isolation for root where bubblewrap cannot start (Gradescope's containers).

Gradescope runs the autograder as root in a Docker container whose default capabilities
and seccomp profile refuse the namespaces bubblewrap needs. Root there still has
``CAP_SYS_CHROOT``, ``CAP_SETUID`` and may load a seccomp filter, which is enough for this:

- **A root of its own.** :func:`build` lays out, once per grading process, a folder holding
  copies of only what the worker needs: the Python interpreter with its standard library
  (without ``site-packages``, tests and GUI modules), numpy, the shared libraries these
  load (found with ``ldd``), and the worker's four files. Everything in it belongs to root
  and is read-only for everyone else. The worker is ``chroot``-ed into it before it starts,
  so the course, the reference, the tests, the installed package's finder, ``/proc`` (other
  processes' command lines), ``/tmp``, ``/dev/shm`` and classmates' files do not exist for
  it. Each submission gets a private folder ``/box/<token>/submission`` inside the root,
  owned by root, readable by the worker's group only (:meth:`Jail.new_box`).
- **Nothing writable.** No folder in the root is writable by the worker, so there is
  nothing it could leave behind, nothing to fill, and nothing a later privileged
  operation could follow: the judge never prepares a folder the worker could have written.
- **Its own uid.** Each submission's worker runs as an unprivileged uid and gid of its
  own (it cannot signal the judge or other workers).
- **A seccomp filter** (:func:`seccomp_filter`, through the maintained ``pyseccomp``
  binding of libseccomp) refuses to create sockets of any family (the judge's channel is
  inherited, already connected), new processes (``fork``, ``vfork``, ``clone`` without
  ``CLONE_THREAD``; threads stay possible and share the one address space, so the
  address-space limit is the whole submission's memory budget), ``io_uring`` (which could
  open sockets past the filter), and ptrace, namespaces, keyrings, BPF and perf events.

:func:`enter` runs in the forked child, between ``fork`` and ``exec`` of the worker.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnlib.grading import sandboxed

__all__ = ["Jail", "JailUnavailable", "build", "enter", "seccomp_filter", "unavailable"]

SANDBOX_DIR = "/sbx"
"""Inside the root: ``bin`` (the worker's files) and ``site`` (numpy)."""
BOX_DIR = "/box"
"""Inside the root: one private folder per submission, ``<token>/submission``."""
_STDLIB_LEFT_OUT = {"site-packages", "dist-packages", "test", "idlelib", "tkinter",
                    "turtledemo", "ensurepip", "lib2to3", "distutils"}
_CLONE_THREAD = 0x00010000
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Linux)
_jail: Jail | None = None
_lock = threading.Lock()


class JailUnavailable(Exception):
    """The fallback isolation cannot be built or entered here (the message says why)."""


@dataclass
class Jail:
    """A built root for workers.

    ``root`` is its folder on the host; ``python`` the interpreter's path inside it (the
    same path as on the host).
    """

    root: Path
    python: str

    def new_box(self, gid: int) -> tuple[Path, str]:
        """A fresh private folder for one submission: ``(host path, path inside)``.

        The folder and its ``submission/`` belong to root with group ``gid``, mode 0750:
        only that group (the submission's worker) can read them, nobody but root writes.
        """
        token = secrets.token_hex(16)
        box = self.root / BOX_DIR.lstrip("/") / token
        box.mkdir(mode=0o700)
        sub = box / "submission"
        sub.mkdir(mode=0o700)
        for d in (box, sub):
            os.chown(d, 0, gid, follow_symlinks=False)
            os.chmod(d, 0o750, follow_symlinks=False)
        return sub, f"{BOX_DIR}/{token}/submission"

    def remove_box(self, folder: Path) -> None:
        """Remove a submission's folder (``new_box``'s host path), never following links."""
        box = Path(folder).parent
        if box.parent == self.root / BOX_DIR.lstrip("/"):
            shutil.rmtree(box, ignore_errors=True)


def unavailable() -> str:
    """Why the fallback isolation cannot be used here, or ``""`` when it can."""
    if not sys.platform.startswith("linux"):
        return "chroot and seccomp isolation is Linux-only"
    if os.geteuid() != 0:
        return "it needs root (to chroot and to switch to an unprivileged uid)"
    if not has_seccomp():
        return "no seccomp filter (pip install pyseccomp; libseccomp2 from the system)"
    if shutil.which("ldd") is None:
        return "ldd is not installed (it finds the libraries the worker needs)"
    try:
        with tempfile.NamedTemporaryFile() as f:
            os.chown(f.name, 1 << 30, 1 << 30)
    except OSError as e:
        return f"files cannot be given to an unprivileged uid here ({e.strerror})"
    return ""


def build() -> Jail:
    """The root of this process (built at the first call, removed when the process ends).

    Raises
    ------
    JailUnavailable
        Not root, no seccomp binding, or the copy failed.
    """
    with _lock:  # a class run's threads ask at the same time
        return _build()


def _build() -> Jail:
    global _jail
    if _jail is not None and _jail.root.is_dir():
        return _jail
    why = unavailable()
    if why:
        raise JailUnavailable(why)
    holder = Path(tempfile.mkdtemp(prefix="nnlib-jail-"))  # 0700: no way in but chroot
    atexit.register(shutil.rmtree, holder, True)
    root = holder / "root"
    try:
        _lay_out(root)
    except (OSError, subprocess.SubprocessError) as e:
        shutil.rmtree(holder, ignore_errors=True)
        raise JailUnavailable(f"could not lay out the worker's root ({e})") from None
    _jail = Jail(root=root, python=_base_python())
    return _jail


def _base_python() -> str:
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)


def _inside(root: Path, path: str | os.PathLike[str]) -> Path:
    return root / str(path).lstrip("/")


def _put(src: Path, dst: Path) -> None:
    """Put one file in the root: readable by everyone, executable if it was, not writable.

    A hard link where the file is on the same file system and already so (the worker is
    not its owner, so it cannot change it), else a copy owned by root. Either way its times
    are kept: a module's cached bytecode is valid only for its source's modification time,
    and the worker cannot write a new cache here.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    st = os.stat(src)
    wanted = stat.S_IROTH | (stat.S_IXOTH if st.st_mode & stat.S_IXUSR else 0)
    if st.st_mode & wanted == wanted and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        try:
            os.link(src, dst, follow_symlinks=True)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)
    os.chmod(dst, 0o755 if st.st_mode & stat.S_IXUSR else 0o644)


def _copy_tree(src: Path, dst: Path, leave_out: set[str], top_only: bool = True) -> None:
    for dirpath, dirs, files in os.walk(src):
        here = Path(dirpath)
        if not top_only or here == src:
            dirs[:] = [d for d in dirs if d not in leave_out and not d.startswith("config-")]
        rel = here.relative_to(src)
        for name in files:
            if name.endswith(".pyi"):
                continue
            _put(here / name, dst / rel / name)


def _libraries(files: list[Path], root: Path) -> set[str]:
    """The shared libraries (and the loader) that ``files`` load, as ``ldd`` resolves them."""
    found: set[str] = set()
    for start in range(0, len(files), 200):
        out = subprocess.run(["ldd", *map(str, files[start:start + 200])], capture_output=True,
                             text=True, timeout=120,
                             env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin")})
        for line in out.stdout.splitlines():
            m = re.search(r"(/\S+)\s+\(0x", line)
            if m and not m.group(1).startswith(str(root)):
                found.add(m.group(1))
    return found


def _lay_out(root: Path) -> None:
    import numpy

    root.mkdir(mode=0o755)
    exe = _base_python()
    _put(Path(exe), _inside(root, exe))
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix,
                                      "installed_base": sys.base_prefix})
    stdlib = Path(os.path.realpath(paths["stdlib"]))
    _copy_tree(stdlib, _inside(root, stdlib), _STDLIB_LEFT_OUT)
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlib = sysconfig.get_config_var("LDLIBRARY")
    if libdir and ldlib and sysconfig.get_config_var("Py_ENABLE_SHARED"):
        lib = Path(libdir) / ldlib
        if lib.exists():
            _put(lib.resolve(), _inside(root, lib))
    npdir = Path(numpy.__file__).resolve().parent
    site = _inside(root, f"{SANDBOX_DIR}/site")
    _copy_tree(npdir, site / "numpy", {"tests"}, top_only=False)
    if (npdir.parent / "numpy.libs").is_dir():
        _copy_tree(npdir.parent / "numpy.libs", site / "numpy.libs", set())
    for name in sandboxed.FILES:
        _put(sandboxed.HERE / name, _inside(root, f"{SANDBOX_DIR}/bin/{name}"))
    binaries = [Path(exe)] + [p for p in root.rglob("*.so*") if p.is_file()]
    for lib in _libraries(binaries, root):
        _put(Path(os.path.realpath(lib)), _inside(root, lib))
    box = _inside(root, BOX_DIR)
    box.mkdir()
    for dirpath, dirs, _ in os.walk(root):
        for d in dirs:
            os.chmod(Path(dirpath) / d, 0o755)
    os.chmod(box, 0o711)  # enter your own box by its name; list nothing


def has_seccomp() -> bool:
    """Whether the seccomp binding and libseccomp can be loaded here."""
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError, RuntimeError):
        return False
    return True


def bpf_fd(filt: Any) -> int:
    """A file descriptor, at offset 0, holding ``filt`` as BPF (for ``bwrap --seccomp``)."""
    fd = os.memfd_create("nnlib-seccomp", 0)
    with os.fdopen(os.dup(fd), "wb") as f:
        filt.export_bpf(f)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def seccomp_filter() -> Any:
    """The worker's seccomp filter (a ``pyseccomp.SyscallFilter``, loaded by :func:`enter`)."""
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    refused = {
        errno.EACCES: ("socket", "socketpair"),
        errno.EPERM: ("fork", "vfork", "io_uring_setup", "io_uring_enter", "io_uring_register",
                      "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns",
                      "bpf", "userfaultfd", "perf_event_open", "keyctl", "add_key",
                      "request_key", "inotify_init", "inotify_init1", "fanotify_init",
                      # memory outside the address-space limit: anonymous files and
                      # System V shared memory, queues and semaphores (which, where the
                      # worker has no IPC namespace of its own, outlive it)
                      "memfd_create", "memfd_secret", "shmget", "msgget", "semget",
                      "mq_open",
                      # kernel memory by the watch (the worker reads its socket blocking)
                      "epoll_create", "epoll_create1",
                      # the machine's whole quota of asynchronous I/O, held while it lives
                      "io_setup"),
    }
    for code, names in refused.items():
        for name in names:
            with contextlib.suppress(RuntimeError, OSError, ValueError):  # not on this arch
                f.add_rule(sc.ERRNO(code), name)
    # pipes keep their default 64 KiB buffer (enlarged, 128 of them would hold 128 MiB);
    # the kernel reads the command as 32 bits, so the rule must ignore the upper ones
    f.add_rule(sc.ERRNO(errno.EPERM), "fcntl",
               sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, _F_SETPIPE_SZ))
    # a new process, but not a new thread (glibc falls back from clone3 to clone)
    f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    with contextlib.suppress(RuntimeError, OSError, ValueError):
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    return f


def enter(root: str, cwd: str, uid: int, filt: Any) -> None:
    """In the worker's child process, before ``exec``: chroot, drop root, load the filter.

    Any failure ends the child with status 121 before the worker runs.
    """
    try:
        os.chroot(root)
        os.chdir(cwd)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid or os.geteuid() != uid:
            os._exit(121)
        filt.load()
    except BaseException:  # noqa: BLE001 - never exec a worker that is not confined
        os._exit(121)
