"""Hostile submissions: what a determined student would try, graded as a class would be.

Every attack is a submission folder, built from the stubs, the solutions or a "fake"
(stubs plus dense and losses files that return zeros of the right shapes: the baseline of
the monkeypatching attacks), with one file (or the folder itself) replaced by the attack.
The attacks live in ``tests/grading/hostile/*.py.txt``; each is appended, after a toolbox
(``_prelude.py.txt``), to a copy of the base's exercise file. The toolbox knows the
instructor's layout (the strongest attacker) and confines every write and every signal to
this test run, so that an attack that works damages nothing beyond it.

All attackers are graded in a few class runs (``grade_submissions(..., jobs=2)`` in a
subprocess each, started together), beside correct and stub classmates graded before
(``00_*``) and after (``zz_*``) them. Each test then asserts, for its own submission:

(a) the student gains nothing: no topic scores more than the same submission without
    the attack (stubs: 0; fake: what the fake earns; solutions with one function
    replaced: that function's tests 0, every other test passed, so the attack cost only
    the tests it happened in);
(b) no classmate loses anything: correct classmates get full marks, stubs 0;
(c) nothing of the instructor's changes: the files under tests/, solutions/, nnlib/ and
    exercises/ (and no new file in site-packages, no poisoned bytecode), the grades table
    and json folder are exactly what the judge returned and stay so a few seconds after
    the grader returned, no submission folder changed, no process of the run is alive,
    no stray file is left, and a later student is graded as before.

Every class run is graded in two modes (:data:`MODES`): as this machine allows (bubblewrap)
and as Gradescope's containers do (the chroot fallback). An attack whose outcome can depend
on the isolation (what the worker can see and write, the processes and signals it can reach,
its resources, the network, the way its process ends) is graded in both; an attack on the
judge's own logic (what it does with replies, exceptions, returned values, records and
feedback, inside one worker process that is the same code in both modes) is graded in the
first mode only. :data:`JUDGE_LOGIC` lists those, with the reasoning;
:data:`ISOLATION_DEPENDENT` the others, and a test fails if an attack is in neither.

Set ``NNLIB_HOSTILE_ISOLATE=1`` to grade each attack in a class run of its own (slow;
used to show which attacks succeed against a grader, without one attack masking
another), and ``NNLIB_HOSTILE_ONLY=name,name`` to run some attacks only.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import marshal
import os
import pty
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.util import MAGIC_NUMBER
from pathlib import Path

import pytest

from nnlib.course.release import stubs

from .conftest import ROOT, clean_env

HERE = Path(__file__).resolve().parent / "hostile"
TOPICS = ("gradients", "dense", "losses")
"""Topics graded: gradients first (import-time attacks there run before dense's tests)."""
TIMEOUT = 2.0
WAIT_AFTER = 3.0
"""Seconds the outputs must stay unchanged after the grader returned (detached children)."""
RUN_LIMIT = 300.0
"""Seconds a class run may take before the test gives up on it (and kills it)."""
PARALLEL_RUNS = 2 if os.environ.get("NNLIB_HOSTILE_ISOLATE") else 3
"""Class runs graded at the same time (each with jobs=2)."""
SITE = sysconfig.get_paths()["purelib"]
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
DOCKER_CAPS = ("-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,"
               "+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap")
"""Docker's default capability set: Gradescope's containers, where bubblewrap cannot start."""
MODES = ("sandbox", "gradescope")
"""How the class runs are graded: as this machine allows (bubblewrap where it can start),
and as in Gradescope's containers: root with Docker's capabilities, bubblewrap refused."""


def gradescope_prefix() -> list[str]:
    """The command prefix that runs a grader as Gradescope's containers do."""
    return ["setpriv", f"--bounding-set={DOCKER_CAPS}", "--inh-caps=-all"]


def can_imitate_gradescope() -> str:
    """Why the Gradescope-like mode cannot run here, or ``""``."""
    if os.geteuid() != 0:
        return "needs root (Gradescope runs the autograder as root)"
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux)"
    return ""
WATCHED = ("tests", "solutions", "nnlib", "exercises")


@dataclass(frozen=True)
class Attack:
    """One hostile submission.

    ``template``: the attack in hostile/<template>.py.txt (default: the name), appended to
    ``file`` of the base. ``base``: "stubs", "solutions" or "fake". ``lose``: with the
    solutions, the functions whose tests the attack may cost (every other test must
    pass). ``layout``: how the folder is built, when it is not "append" ("every": appended
    to every exercise file). ``group``: the class run ("public", "hidden" and "hidden-..."
    with the hidden tests, "disruptive" for the attacks on the grader itself). ``topics``:
    topics graded besides :data:`TOPICS` (for the whole class run). ``sandbox_only``: a
    guarantee that only the real sandox gives; skipped when the grader reports that it
    could not start one. ``xfail``: see below.
    """

    name: str
    category: str
    file: str = "dense.py"
    base: str = "stubs"
    lose: tuple[str, ...] = ()
    layout: str = "append"
    group: str = "public"
    template: str = ""
    folder: str = ""
    topics: tuple[str, ...] = ()
    sandbox_only: bool = False
    max_seconds: float = 0.0
    """When set: grading this submission must take at most this long (its own limits hold
    whatever it sends the judge)."""
    xfail: str = ""
    """A known weakness of the grader, reported to the lead: the test is a strict xfail
    (it fails the suite the day the weakness is fixed, so that the mark goes)."""
    proof: str = ""
    """What the attack's own feedback holds only when it succeeded at something that cannot
    be seen from outside once grading is over (memory held beyond its budget, a line of its
    feedback that looks like the judge's)."""

    @property
    def source(self) -> str:
        return self.template or self.name

    @property
    def dirname(self) -> str:
        return self.folder or self.name


BOTH = ("dense_forward", "dense_backward")
LOSSES = ("mse_loss", "binary_cross_entropy_with_logits")
ALL_TOPICS = ("engine", "activations", "initialization", "network", "batchnorm",
              "intermediates", "dropout", "layernorm", "adam", "assembly")
"""The topics that :data:`TOPICS` leaves out."""
BACKWARD = ("dense_backward",)
ESCAPE = dict(category="escape", base="solutions", lose=BACKWARD)

ATTACKS = [
    # --- forged results
    Attack("forge_events", "forgery", "gradients.py"),
    Attack("forge_points", "forgery", "gradients.py", folder="000_forge_points"),
    Attack("forge_output", "forgery", "gradients.py"),
    Attack("fd_spray", "forgery"),
    Attack("exit_import", "forgery", "gradients.py"),
    Attack("patch_json", "forgery"),
    Attack("forge_feedback_lines", "forgery", base="solutions", lose=BACKWARD,
           proof="\nScore: 210 / 210"),
    # --- skip, xfail, exit, crash inside a function: fails that function's tests only
    Attack("escape_pytest_skip", **ESCAPE),
    Attack("escape_pytest_xfail", **ESCAPE),
    Attack("escape_skiptest", **ESCAPE),
    Attack("escape_fake_outcomes", **dict(ESCAPE, lose=BOTH)),
    Attack("escape_pytest_exit", **ESCAPE),
    Attack("escape_keyboard_interrupt", **ESCAPE),
    Attack("escape_system_exit", **ESCAPE),
    Attack("escape_os_exit", **ESCAPE),
    Attack("escape_segfault", **ESCAPE),
    Attack("escape_stack_overflow", **ESCAPE),
    Attack("escape_sigstop", **ESCAPE),
    Attack("escape_base_exception", **ESCAPE),
    Attack("escape_exit_repr", **ESCAPE),
    # --- time
    Attack("time_sleep", "time", base="solutions", lose=BACKWARD),
    Attack("time_block_signals", "time", base="solutions", lose=BOTH),
    Attack("time_import_hang", "time", base="solutions", lose=BOTH),
    Attack("time_lingering_thread", "time", base="solutions"),
    # --- the environment
    Attack("env_impl_solutions", "environment", "gradients.py"),
    Attack("env_impl_path", "environment", "gradients.py"),
    Attack("env_site_persistence", "environment", "gradients.py"),
    # --- the reference, by every way round an import check
    Attack("ref_import_module", "reference"),
    Attack("ref_sys_modules", "reference"),
    Attack("ref_resolve_name", "reference"),
    Attack("ref_exec_solutions", "reference"),
    Attack("ref_exec_library", "reference"),
    Attack("ref_meta_path", "reference"),
    Attack("ref_classmates", "reference"),
    Attack("ref_frame_walk", "reference", group="hidden"),
    Attack("ref_patch_oracle", "reference", base="fake", group="hidden"),
    Attack("symlink_file", "reference", layout="symlink_file"),
    Attack("symlink_relative", "reference", "losses.py", layout="symlink_relative"),
    Attack("symlink_folder", "reference", layout="symlink_folder"),
    Attack("symlink_exercises", "reference", layout="symlink_exercises"),
    Attack("extra_conftest", "reference", "conftest.py", layout="extra"),
    Attack("extra_sitecustomize", "reference", "sitecustomize.py", layout="extra"),
    Attack("extra_numpy", "reference", "numpy.py", layout="extra"),
    # --- monkeypatching at import time
    Attack("patch_norm", "monkeypatch", base="fake"),
    Attack("patch_builtin_max", "monkeypatch", base="fake"),
    Attack("patch_builtin_abs", "monkeypatch", "losses.py", base="fake"),
    Attack("patch_isinstance", "monkeypatch", "gradients.py"),
    Attack("patch_numpy_comparisons", "monkeypatch", base="fake"),
    Attack("patch_helpers", "monkeypatch", base="fake"),
    Attack("patch_tolerance_ctypes", "monkeypatch", base="fake"),
    Attack("patch_test_functions", "monkeypatch", "gradients.py"),
    Attack("patch_pytest_runtest", "monkeypatch", "gradients.py"),
    Attack("patch_collector", "monkeypatch", "gradients.py"),
    Attack("patch_register_plugin", "monkeypatch", "gradients.py"),
    Attack("patch_test_globals", "monkeypatch", base="fake"),
    # --- the instructor's files
    Attack("files_public_conftest", "instructor files", "gradients.py"),
    Attack("files_hidden_conftest", "instructor files", "gradients.py", group="hidden"),
    Attack("files_instructor", "instructor files", "gradients.py"),
    Attack("files_pyc_poison", "instructor files", "gradients.py"),
    Attack("files_output_symlinks", "instructor files", "gradients.py"),
    # --- classmates and the grader
    Attack("class_rewrite_classmates", "class", "gradients.py"),
    Attack("class_detached_csv", "class", "gradients.py"),
    Attack("class_detached_exec", "class", "gradients.py"),
    Attack("class_formula_name", "class", layout="plain", folder="=2+5*HYPERLINK(1)"),
    Attack("class_max_points_name", "class", layout="plain", folder="max_points"),
    Attack("class_kill_classmates", "class", "gradients.py", group="disruptive"),
    Attack("class_kill_grader", "class", "gradients.py", group="disruptive"),
    Attack("class_killpg", "class", "gradients.py", group="disruptive"),
    Attack("class_pkill", "class", "gradients.py", group="disruptive"),
    Attack("class_kill_everything", "class", "gradients.py", group="disruptive"),
    # --- resources
    Attack("class_fork_bomb", "resources"),
    Attack("class_memory_hog", "resources"),
    Attack("class_huge_files", "resources"),
    Attack("class_output_flood", "resources"),
    Attack("class_shared_memory", "resources", proof="HELD OUTSIDE THE BUDGET"),
    # --- what a function returns
    Attack("return_ndarray_subclass", "returns", base="fake"),
    Attack("return_magic_object", "returns", base="fake"),
    Attack("return_float_subclass", "returns", "losses.py", base="fake"),
    Attack("return_huge", "returns", base="fake"),
    Attack("return_object_array", "returns", base="fake"),
    Attack("return_reduce", "returns", base="fake"),
    Attack("callback_abuse", "returns", "gradients.py"),
    Attack("callback_huge_arrays", "returns", "assembly.py", group="hidden-more",
           topics=("assembly",), max_seconds=30.0),
    # --- what the tests compute: gradient checks, expected values, trivial functions
    Attack("grad_cached_forward", "tests", base="solutions", lose=BACKWARD, group="hidden"),
    Attack("grad_cached_loss", "tests", "losses.py", base="solutions", lose=LOSSES,
           group="hidden"),
    Attack("mutate_star_args", "tests", base="solutions", lose=BOTH, group="hidden"),
    Attack("mutate_batch_stats", "tests", "batchnorm.py", base="solutions",
           lose=("running_stats_update",), group="hidden-more", topics=("batchnorm",)),
    Attack("mutate_write_back", "tests", "batchnorm.py", base="solutions",
           lose=("running_stats_update",), group="hidden-more", topics=("batchnorm",)),
    Attack("trivial_identity", "tests", layout="every", group="hidden-more", topics=ALL_TOPICS),
    Attack("trivial_zeros", "tests", layout="every", group="hidden-more", topics=ALL_TOPICS),
    Attack("trivial_cache", "tests", "layernorm.py", base="solutions",
           lose=("layernorm_backward",), group="hidden-more", topics=("layernorm",)),
    # --- feedback
    Attack("leak_hidden_source", "feedback"),
    Attack("leak_paths", "feedback"),
    # --- the machine
    Attack("net_localhost", "machine", "gradients.py", sandbox_only=True),
    Attack("read_system_files", "machine", sandbox_only=True),
    Attack("tty_tiocsti", "machine", "gradients.py"),
    # --- files that are not regular Python files
    Attack("file_fifo", "file types", base="solutions", lose=BOTH, layout="fifo"),
    Attack("file_dev_zero", "file types", base="solutions", lose=BOTH, layout="dev_zero"),
    Attack("file_nul_bytes", "file types", base="solutions", lose=BOTH, layout="nul_bytes"),
    # --- the fallback without bubblewrap, and the judge/worker protocol (issue 19)
    Attack("fallback_plant_links", "instructor files", "gradients.py"),
    Attack("ref_site_finder", "reference"),
    Attack("class_proc_cmdline", "class"),
    Attack("class_leftover_files", "resources", "gradients.py"),
    Attack("protocol_flood", "time", "gradients.py", max_seconds=120.0),
    Attack("return_many_types", "returns", base="fake"),
]
BY_NAME = {a.name: a for a in ATTACKS}

JUDGE_LOGIC = frozenset({
    # Forged replies from inside the worker's own process (its json module): what the
    # judge accepts as a reply is protocol logic, the same in every mode.
    "patch_json", "protocol_flood", "forge_feedback_lines",
    # Exceptions raised inside a call (skip, xfail, exit, KeyboardInterrupt, SystemExit,
    # GeneratorExit, home-made BaseExceptions): the worker catches them and the judge
    # scores the call; no process ends. (In the chroot pytest is not importable at all, so
    # the skip and xfail attacks are strongest in the first mode, where they run.)
    "escape_pytest_skip", "escape_pytest_xfail", "escape_skiptest", "escape_fake_outcomes",
    "escape_pytest_exit", "escape_keyboard_interrupt", "escape_system_exit",
    "escape_base_exception", "escape_exit_repr",
    # The reference from inside the worker's process (its modules, the caller's frames):
    # what the worker process holds does not depend on what it can see outside.
    "ref_sys_modules", "ref_frame_walk", "ref_patch_oracle",
    # Monkeypatching the worker's own modules, builtins and memory: the judge computes in
    # its own process.
    "patch_norm", "patch_builtin_max", "patch_builtin_abs", "patch_isinstance",
    "patch_numpy_comparisons", "patch_helpers", "patch_tolerance_ctypes",
    "patch_test_functions", "patch_pytest_runtest", "patch_collector",
    "patch_register_plugin", "patch_test_globals",
    # What a function returns, and the callbacks it is handed: the protocol's decoding.
    "return_ndarray_subclass", "return_magic_object", "return_float_subclass", "return_huge",
    "return_object_array", "return_reduce", "return_many_types", "callback_abuse",
    "callback_huge_arrays",
    # What the tests compute: gradient checks, in-place writes, trivial functions.
    "grad_cached_forward", "grad_cached_loss", "mutate_star_args", "mutate_batch_stats",
    "mutate_write_back", "trivial_identity", "trivial_zeros", "trivial_cache",
    # Folder names and file types: the grader reads and copies the hand-in before any
    # sandbox exists, and writes the grades table itself.
    "class_formula_name", "class_max_points_name", "file_fifo", "file_dev_zero",
    "file_nul_bytes",
})
"""Attacks on the judge's and the grader's own logic: graded in the first mode only."""

ISOLATION_DEPENDENT = frozenset({
    # Files and processes found through /proc, the temporary folders and the outputs.
    "forge_events", "forge_points", "forge_output", "fd_spray",
    # The worker's process ends or is stopped: how its death is seen and its
    # descendants are ended differs between bubblewrap and the chroot.
    "exit_import", "escape_os_exit", "escape_segfault", "escape_stack_overflow",
    "escape_sigstop",
    # Deadlines: the judge kills what does not answer, by the sandbox's own means.
    "time_sleep", "time_block_signals", "time_import_hang", "time_lingering_thread",
    # Environment, paths and site-packages: what the worker can see and write.
    "env_impl_solutions", "env_impl_path", "env_site_persistence",
    # The reference through the file system and the import system.
    "ref_import_module", "ref_resolve_name", "ref_exec_solutions", "ref_exec_library",
    "ref_meta_path", "ref_classmates", "ref_site_finder", "symlink_file",
    "symlink_relative", "symlink_folder", "symlink_exercises", "extra_conftest",
    "extra_sitecustomize", "extra_numpy",
    # The instructor's files.
    "files_public_conftest", "files_hidden_conftest", "files_instructor", "files_pyc_poison",
    "files_output_symlinks", "fallback_plant_links",
    # Classmates, the grader's processes, signals.
    "class_rewrite_classmates", "class_detached_csv", "class_detached_exec",
    "class_kill_classmates", "class_kill_grader", "class_killpg", "class_pkill",
    "class_kill_everything", "class_proc_cmdline",
    # Resources: processes, memory, disk, output, leftovers.
    "class_fork_bomb", "class_memory_hog", "class_huge_files", "class_output_flood",
    "class_leftover_files", "class_shared_memory",
    # Feedback that shows what the worker can read (hidden tests, paths, environment).
    "leak_hidden_source", "leak_paths",
    # The machine: network, system files, the terminal.
    "net_localhost", "read_system_files", "tty_tiocsti",
})
"""Attacks whose outcome can depend on the isolation: graded in every mode."""


def _modes_of(attack: Attack) -> tuple[str, ...]:
    return MODES if attack.name in ISOLATION_DEPENDENT else MODES[:1]
CLASSMATES = {"00_correct": "solutions", "00_fake": "fake", "zz_correct": "solutions",
              "zz_stub": "stubs"}
"""Graded in every class run, before (00_) and after (zz_) the attackers. 00_fake is the
baseline of the attacks built on the fake; the stubs' baseline is 0 and the solutions'
full marks, whatever any classmate got."""


def _selected(mode: str | None = None) -> list[Attack]:
    """The attacks to grade (in ``mode``, when given)."""
    only = os.environ.get("NNLIB_HOSTILE_ONLY", "")
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ValueError(f"NNLIB_HOSTILE_ONLY: unknown attacks {unknown}")
    attacks = [BY_NAME[n] for n in names] if names else ATTACKS
    return [a for a in attacks if mode is None or mode in _modes_of(a)]


def _group_of(attack: Attack) -> str:
    if os.environ.get("NNLIB_HOSTILE_ISOLATE"):
        return attack.name
    return attack.group


# ------------------------------------------------------------------ building the class
def _base_files(base: str) -> dict[str, bytes]:
    if base == "solutions":
        files = {f.name: f.read_bytes() for f in sorted((ROOT / "solutions").glob("*.py"))}
    else:  # the stubs as generated from solutions/ now, never the working exercises/
        files = {name: text.encode() for name, text in sorted(stubs(ROOT).items())}
    if base == "fake":
        for topic in ("dense", "losses"):
            files[f"{topic}.py"] = (HERE / f"fake_{topic}.py.txt").read_bytes()
    return files


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    left = re.findall(r"@@[A-Z]+@@", text)
    assert not left, f"unfilled placeholders {left}"
    return text


def _build(attack: Attack, subs: Path, values: dict[str, str]) -> None:
    dest = subs / attack.dirname
    values = dict(values, ME=attack.dirname)
    if attack.layout == "symlink_folder":
        dest.symlink_to(ROOT / "solutions", target_is_directory=True)
        return
    dest.mkdir()
    if attack.layout == "symlink_exercises":
        (dest / "exercises").symlink_to(ROOT / "solutions", target_is_directory=True)
        return
    files = _base_files(attack.base)
    for name, data in files.items():
        (dest / name).write_bytes(data)
    target = dest / attack.file
    if attack.layout in ("append", "every"):
        prelude = _fill((HERE / "_prelude.py.txt").read_text(), values)
        body = _fill((HERE / f"{attack.source}.py.txt").read_text(), values)
        for name in files if attack.layout == "every" else [attack.file]:
            (dest / name).write_text(files[name].decode() + "\n\n" + prelude + "\n\n" + body)
    elif attack.layout == "extra":
        target.write_text(_fill((HERE / f"{attack.source}.py.txt").read_text(), values))
    elif attack.layout == "symlink_file":
        target.unlink()
        target.symlink_to(ROOT / "solutions" / attack.file)
    elif attack.layout == "symlink_relative":
        target.unlink()
        target.symlink_to(os.path.relpath(ROOT / "solutions" / attack.file, dest))
    elif attack.layout == "fifo":
        target.unlink()
        os.mkfifo(target)
    elif attack.layout == "dev_zero":
        target.unlink()
        target.symlink_to("/dev/zero")
    elif attack.layout == "nul_bytes":
        target.write_bytes(files[attack.file] + b"\n# \x00\xff\xfe not UTF-8\n")
    else:
        assert attack.layout == "plain", attack.layout


# ------------------------------------------------------------------ what must not change
def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(top: Path) -> dict[str, str]:
    """Relative path -> sha256 (or "link:" target, "fifo") of everything under ``top``."""
    out = {}
    if top.is_symlink():
        return {".": "link:" + os.readlink(top)}
    for dirpath, dirs, files in os.walk(top):
        for name in sorted(files + [d for d in dirs if (Path(dirpath) / d).is_symlink()]):
            p = Path(dirpath) / name
            rel = p.relative_to(top).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_fifo():
                out[rel] = "fifo"
            elif p.is_file():
                out[rel] = _hash(p)
    return out


def _instructor_files() -> dict[str, bytes]:
    """Every file under the watched folders (bytecode caches apart), with its bytes."""
    out = {}
    for folder in WATCHED:
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                out[p.relative_to(ROOT).as_posix()] = p.read_bytes()
    return out


def _bytecode() -> dict[str, bytes]:
    return {p.relative_to(ROOT).as_posix(): p.read_bytes()
            for folder in WATCHED for p in (ROOT / folder).rglob("__pycache__/*.pyc")}


def _honest_bytecode(rel: str, data: bytes) -> bool:
    """Is this cached bytecode what Python itself would compile from its source?"""
    p = ROOT / rel
    if "-pytest-" in p.name:  # pytest's assertion rewriting: not reproducible here
        return True
    source = p.parent.parent / (p.name.split(".")[0] + ".py")
    try:
        text = source.read_bytes()
        st = source.stat()
        flags = int.from_bytes(data[4:8], "little")
        if data[:4] != MAGIC_NUMBER or flags != 0:
            return False
        if int.from_bytes(data[8:12], "little") != (int(st.st_mtime) & 0xFFFFFFFF) or \
                int.from_bytes(data[12:16], "little") != (st.st_size & 0xFFFFFFFF):
            return False
        return marshal.loads(data[16:]) == compile(text, str(source), "exec",
                                                    dont_inherit=True)
    except Exception:
        return False


def _site_entries() -> set[str]:
    try:
        return set(os.listdir(SITE))
    except OSError:
        return set()


# ------------------------------------------------------------------ the machine around
class Listener:
    """A TCP and UDP server on 127.0.0.1 recording whatever reaches it."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.udp.bind(("127.0.0.1", self.port))
        except OSError:
            pass
        self.udp.settimeout(0.2)
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
                conn.settimeout(1)
                with conn:
                    self.received.append(b"tcp:" + conn.recv(65536))
            except OSError:
                pass
            try:
                data, _ = self.udp.recvfrom(65536)
                self.received.append(b"udp:" + data)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.tcp.close()
        self.udp.close()


def mark_of(token: str, name: str) -> str:
    """The process name an attack gives what it starts (15 characters, as Linux keeps)."""
    return "hx" + hashlib.sha256(f"{token}/{name}".encode()).hexdigest()[:12]


def _processes(token: str, marks: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Live processes of this run, as (attack or "", description): the token in their
    command line, environment or working folder, or an attack's mark as a thread name."""
    marks = marks or {}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        base = Path("/proc") / entry
        try:
            state = (base / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                continue
            texts = [(base / "cmdline").read_bytes(), (base / "environ").read_bytes()]
            try:
                texts.append(os.readlink(base / "cwd").encode())
            except OSError:
                pass
            comms = [(task / "comm").read_text().strip() for task in (base / "task").iterdir()]
        except (OSError, IndexError):
            continue
        owner = next((name for name, mark in marks.items() if mark in comms), None)
        if owner is not None or any(token.encode() in t for t in texts):
            found.append((owner or "", f"{entry}: {texts[0][:100]!r} {comms[:3]}"))
    return found


def _kill_processes(token: str, marks: dict[str, str] | None = None) -> None:
    """SIGKILL the processes this run started and left behind (by pid, marked by token)."""
    for _ in range(5):
        left = _processes(token, marks)
        if not left:
            return
        for _, line in left:
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.2)


# ------------------------------------------------------------------ one class run
@dataclass
class ClassRun:
    name: str
    token: str
    top: Path
    hidden: bool
    attacks: list[Attack]
    topics: tuple[str, ...] = TOPICS
    mode: str = "sandbox"
    returncode: int | None = None
    stderr: str = ""
    output: dict | None = None
    finished: float = 0.0
    csv_at_return: str | None = None
    json_at_return: dict[str, str] | None = None
    csv_later: str | None = None
    json_later: dict[str, str] | None = None
    leftover_processes: list[tuple[str, str]] | None = None
    typed: bytes = b""
    folders_before: dict[str, dict[str, str]] | None = None
    folders_after: dict[str, dict[str, str]] | None = None
    stray_files: list[str] | None = None
    changed_files: list[str] | None = None
    poisoned_bytecode: list[str] | None = None
    new_site_entries: list[str] | None = None
    received: list[bytes] | None = None

    @property
    def subs(self) -> Path:
        return self.top / "subs"

    @property
    def csv(self) -> Path:
        return self.top / "out" / "grades.csv"

    @property
    def json_dir(self) -> Path:
        return self.top / "out" / "json"

    @property
    def canary(self) -> Path:
        return self.top / "canary.txt"

    @property
    def marks(self) -> dict[str, str]:
        return {a.dirname: mark_of(self.token, a.dirname) for a in self.attacks}

    @property
    def results(self) -> dict:
        return (self.output or {}).get("results", {})


def _read_outputs(run: ClassRun) -> tuple[str | None, dict[str, str]]:
    text = run.csv.read_text(encoding="utf-8", errors="replace") if run.csv.is_file() else None
    docs = {}
    if run.json_dir.is_dir():
        for p in sorted(run.json_dir.iterdir()):
            docs[p.name] = ("link:" + os.readlink(p) if p.is_symlink()
                            else p.read_text(encoding="utf-8", errors="replace"))
    return text, docs


def _prepare(run: ClassRun, values: dict[str, str]) -> None:
    run.subs.mkdir(parents=True)
    (run.top / "out").mkdir()
    (run.top / "tmp").mkdir()
    run.canary.write_text("canary: the grader must never write this file\n")
    values = dict(values, TOKEN=run.token, TMP=str(run.top), SUBS=str(run.subs),
                  CSV=str(run.csv), JSONDIR=str(run.json_dir), CANARY=str(run.canary))
    for name, base in CLASSMATES.items():
        if base == "fake" and not any(a.base == "fake" for a in run.attacks):
            continue
        folder = run.subs / name
        folder.mkdir()
        for fname, data in _base_files(base).items():
            (folder / fname).write_bytes(data)
    for attack in run.attacks:
        _build(attack, run.subs, dict(values, MARK=mark_of(run.token, attack.dirname)))
    run.folders_before = {p.name: _tree(p) for p in run.subs.iterdir()}


def _start(run: ClassRun) -> tuple[subprocess.Popen, int, int, int]:
    spec = {"submissions": str(run.subs), "csv": str(run.csv), "json_dir": str(run.json_dir),
            "hidden": run.hidden, "timeout": TIMEOUT, "jobs": 2, "sandbox": "auto",
            "topics": list(run.topics)}
    read_fd, write_fd = os.pipe()
    master, slave = pty.openpty()
    tty.setraw(slave)
    env = clean_env(TMPDIR=str(run.top / "tmp"), OPENBLAS_NUM_THREADS="1",
                    OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    prefix = gradescope_prefix() if run.mode == "gradescope" else []
    proc = subprocess.Popen(
        [*prefix, sys.executable, str(HERE / "class_run.py"), json.dumps(spec), str(write_fd)],
        cwd=run.top, env=env, stdin=slave, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True)
    os.close(write_fd)
    return proc, read_fd, master, slave


def _collect(run: ClassRun, proc: subprocess.Popen, read_fd: int) -> None:
    """Wait for the class run (at most RUN_LIMIT seconds) and read what it reported."""
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(
        lambda: os.read(read_fd, 1 << 20), b"")), daemon=True)
    reader.start()
    try:
        _, err = proc.communicate(timeout=RUN_LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        err = (err or b"") + f"\n[killed after {RUN_LIMIT:g} s]".encode()
    run.finished = time.monotonic()
    run.returncode = proc.returncode
    run.stderr = (err or b"").decode(errors="replace")[-3000:]
    reader.join(10)
    os.close(read_fd)
    try:
        run.output = json.loads(b"".join(chunks).decode())
    except ValueError:
        run.output = None
    run.csv_at_return, run.json_at_return = _read_outputs(run)


def _after(run: ClassRun, slave: int) -> None:
    run.csv_later, run.json_later = _read_outputs(run)
    run.leftover_processes = _processes(run.token, run.marks)
    os.set_blocking(slave, False)
    try:
        run.typed = os.read(slave, 4096)
    except OSError:
        run.typed = b""
    run.folders_after = {p.name: _tree(p) for p in run.subs.iterdir()}
    expected = {"canary.txt"} | {f"out/{p.name}" for p in (run.top / "out").iterdir()}
    stray = []
    for dirpath, dirs, files in os.walk(run.top):
        here = Path(dirpath).relative_to(run.top).as_posix()
        if here in ("subs", "out/json"):
            dirs[:] = []
            continue
        for name in dirs + files:
            rel = f"{name}" if here == "." else f"{here}/{name}"
            if rel not in expected and rel not in ("subs", "tmp", "out", "out/json"):
                stray.append(rel)
    for shared in SHARED_TMP:  # what a worker may have left in the machine's own folders
        try:
            stray += [f"{shared}/{n}" for n in os.listdir(shared) if run.token in n]
        except OSError:
            pass
    run.stray_files = sorted(stray)


def _hidden_lines() -> set[str]:
    """Lines of the hidden tests' source that the public tests do not share."""
    public = {line.strip() for f in (ROOT / "tests" / "public").glob("*.py")
              for line in f.read_text().splitlines()}
    lines = set()
    for f in (ROOT / "tests" / "hidden").glob("test_*.py"):
        for line in f.read_text().splitlines():
            s = line.strip()
            if len(s) >= 30 and s not in public and not s.startswith(("'", '"', "f'", 'f"',
                                                                       "#")):
                lines.add(s)
    return lines


class Guard:
    """What must not change on the instructor's side: snapshot, compare, put back.

    Only what an attack of this run wrote is put back (every attack writes its run's
    token), so that an edit made meanwhile by a person is reported but never undone.
    """

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = [t.encode() for t in tokens]
        self.files = _instructor_files()
        self.bytecode = _bytecode()
        self.site = _site_entries()

    def changes(self, run: ClassRun) -> None:
        """Record on ``run`` what changed since the snapshot."""
        after = _instructor_files()
        run.changed_files = sorted(k for k in set(self.files) | set(after)
                                   if self.files.get(k) != after.get(k))
        run.poisoned_bytecode = sorted(
            k for k, v in _bytecode().items()
            if (k in self.bytecode and self.bytecode[k] != v)
            or (k not in self.bytecode and not _honest_bytecode(k, v)))
        run.new_site_entries = sorted(_site_entries() - self.site)

    def _ours(self, path: Path) -> bool:
        try:
            data = path.read_bytes()
        except OSError:
            return False
        return any(t in data for t in self.tokens)

    def restore(self, run: ClassRun) -> None:
        """Put back whatever an attack of this run changed, so that a failure damages nothing."""
        for rel in run.changed_files or []:
            p = ROOT / rel
            if p.is_file() and self._ours(p):
                if rel in self.files:
                    p.write_bytes(self.files[rel])
                else:
                    p.unlink()
        for rel in run.poisoned_bytecode or []:
            p = ROOT / rel
            if self._ours(p):
                if rel in self.bytecode:
                    p.write_bytes(self.bytecode[rel])
                else:
                    p.unlink(missing_ok=True)
        for entry in run.new_site_entries or []:
            p = Path(SITE, entry)
            if p.is_file() and self._ours(p):
                p.unlink()


@dataclass
class Session:
    runs: dict[str, ClassRun]
    later: ClassRun | None
    hidden_lines: set[str]
    tmp_root: Path
    ipc_left: list[tuple[str, str, str]] = field(default_factory=list)
    """System V shared memory, queues and semaphores that appeared while the class runs were
    graded and are still there: (kind, id, owner's uid); removed on leaving."""


IPC_KINDS = {"shm": "-m", "msg": "-q", "sem": "-s"}
"""/proc/sysvipc's tables, and ipcrm's option for each."""


def _ipc_objects() -> set[tuple[str, str, str]]:
    """The machine's System V IPC objects (kind, id, owner's uid) of other users than this
    one (the worker's uid is never the grader's)."""
    out = set()
    for kind in IPC_KINDS:
        try:
            header, *rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        names = header.split()
        for row in rows:
            cells = dict(zip(names, row.split(), strict=False))
            if cells.get("uid") not in (None, str(os.getuid())):
                out.add((kind, row.split()[1], cells["uid"]))
    return out


def _grade_runs(runs: list[ClassRun], parallel: int,
                meanwhile: Callable[[], None] | None = None) -> None:
    """Grade the class runs, ``parallel`` at a time; run ``meanwhile`` (if any) once they
    are done; wait until WAIT_AFTER seconds after the last one returned; look around."""
    started: dict[str, tuple] = {}
    slots = threading.Semaphore(parallel)

    def one(run: ClassRun) -> None:
        with slots:
            started[run.name] = _start(run)
            _collect(run, started[run.name][0], started[run.name][1])

    threads = [threading.Thread(target=one, args=(run,), daemon=True) for run in runs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if meanwhile is not None:
            meanwhile()
        time.sleep(max(0.0, max(r.finished for r in runs) + WAIT_AFTER - time.monotonic()))
        for run in runs:
            _after(run, started[run.name][3])
    finally:
        for run in runs:
            if run.name in started:
                proc, _, master, slave = started[run.name]
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                for fd in (master, slave):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            _kill_processes(run.token, run.marks)


def _later_student(tmp_root: Path, run_token: str, mode: str) -> ClassRun:
    """A class of a correct and a stub student, graded with the hidden tests."""
    later = ClassRun("later", f"{secrets.token_hex(5)}{run_token}later", tmp_root / "later",
                     True, [], mode=mode)
    later.subs.mkdir(parents=True)
    (later.top / "out").mkdir()
    (later.top / "tmp").mkdir()
    for name in ("00_correct", "zz_stub"):
        (later.subs / name).mkdir()
        for fname, data in _base_files(CLASSMATES[name]).items():
            (later.subs / name / fname).write_bytes(data)
    _grade_runs([later], 1)
    return later


@contextlib.contextmanager
def _graded(mode: str) -> Iterator[Session]:
    """Grade the class runs of ``mode``; on leaving, clean up after them."""
    attacks = _selected(mode)
    isolate = bool(os.environ.get("NNLIB_HOSTILE_ISOLATE"))
    run_token = secrets.token_hex(4)
    tmp_root = Path(tempfile.mkdtemp(prefix=f"nnlib-hostile-{run_token}-"))
    listener = Listener()
    values = {"ROOT": str(ROOT), "UID": str(os.getuid()), "PORT": str(listener.port),
              "SITE": SITE}
    groups: dict[str, list[Attack]] = {}
    for attack in attacks:
        groups.setdefault(_group_of(attack), []).append(attack)
    runs = {}
    for i, (name, members) in enumerate(groups.items()):
        token = f"{secrets.token_hex(5)}{run_token}{i:03d}"  # 10 first characters unique
        hidden = any(a.group.startswith("hidden") for a in members)
        topics = TOPICS + tuple(t for t in ALL_TOPICS if any(t in a.topics for a in members))
        runs[name] = ClassRun(name, token, tmp_root / f"{i:03d}-{token}", hidden, members,
                              topics, mode)
    session = Session(runs, None, _hidden_lines(), tmp_root)
    guards: list[tuple[Guard, list[ClassRun]]] = []
    ipc_before = _ipc_objects()
    try:
        for run in runs.values():
            _prepare(run, values)
        if isolate:  # one attack at a time, the instructor's files put back after each
            for run in runs.values():
                guard = Guard([r.token for r in runs.values()])
                guards.append((guard, [run]))
                seen = len(listener.received)
                _grade_runs([run], 1)
                run.received = listener.received[seen:]
                guard.changes(run)
                guard.restore(run)
        else:
            guard = Guard([r.token for r in runs.values()])
            guards.append((guard, list(runs.values())))

            def later() -> None:  # graded while the outputs are watched a while longer
                session.later = _later_student(tmp_root, run_token, mode)

            _grade_runs(list(runs.values()), PARALLEL_RUNS, later)
            for run in runs.values():
                guard.changes(run)
                guard.restore(run)  # now: the next mode's snapshot must not see it
                run.received = list(listener.received)
        session.ipc_left = sorted(_ipc_objects() - ipc_before)
        yield session
    finally:
        listener.close()
        for kind, ident, _ in _ipc_objects() - ipc_before:
            subprocess.run(["ipcrm", IPC_KINDS[kind], ident], capture_output=True, check=False)
        for guard, members in guards:
            for run in members:
                if run.changed_files is None:
                    guard.changes(run)
                guard.restore(run)
        for folder in (tempfile.gettempdir(), *SHARED_TMP):
            for p in Path(folder).glob("hostile-*"):
                if any(r.token in p.name for r in runs.values()):
                    p.unlink(missing_ok=True)
        shutil.rmtree(tmp_root, ignore_errors=True)


@pytest.fixture(scope="module")
def _hostile_sessions() -> Iterator[tuple[dict[str, Session | BaseException],
                                          contextlib.ExitStack]]:
    """Each mode's graded class runs, made once (on first use) and cleaned up at the end."""
    with contextlib.ExitStack() as stack:
        yield {}, stack


@pytest.fixture(params=MODES)
def hostile(request: pytest.FixtureRequest, _hostile_sessions) -> Session:
    """The class runs of one mode, graded once for every test that asks for that mode.

    Function-scoped over a module-wide cache, so that the attacks of each mode can be
    parametrized with their mode (:func:`_params`) and each mode is still graded once.
    """
    mode = request.param
    if mode == "gradescope" and can_imitate_gradescope():
        pytest.skip(f"the Gradescope-like mode {can_imitate_gradescope()}")
    if not _selected(mode):
        pytest.skip(f"NNLIB_HOSTILE_ONLY selects no attack graded in the {mode} mode")
    sessions, stack = _hostile_sessions
    if mode not in sessions:
        try:
            sessions[mode] = stack.enter_context(_graded(mode))
        except Exception as e:
            sessions[mode] = e
            raise
    session = sessions[mode]
    if isinstance(session, BaseException):
        pytest.fail(f"grading the {mode} class runs failed: {session!r}")
    return session


# ------------------------------------------------------------------ the checks
def _topic_scores(result: dict) -> dict[str, float]:
    return {t: v["score"] for t, v in result["by_topic"].items()}


def _messages(result: dict) -> list[str]:
    """What the student sees: the records' messages and the results.json document."""
    texts = [r.get("message", "") for r in result["records"]]
    doc = result.get("gradescope") or {}
    texts.append(str(doc.get("output", "")))
    texts += [str(t.get("output", "")) + " " + str(t.get("name", ""))
              for t in doc.get("tests", [])]
    return texts


def _csv_name(cell: str, folder: str) -> bool:
    """Is ``cell`` the grades-table name of ``folder``?

    A name that a spreadsheet would read as a formula, or that is the name of the maximum
    row, must be written some other way that still holds the name.
    """
    if not folder.startswith(("=", "+", "-", "@")) and folder != "max_points":
        return cell == folder
    return (folder in cell and cell != "max_points"
            and not cell.startswith(("=", "+", "-", "@", "\t", "\r")))


def _output_problems(run: ClassRun, me: str) -> list[str]:
    """Do grades.csv and the json folder hold exactly what the judge returned?

    Checked for the classmates and for the submission ``me``; the rows of the other
    attackers are their own tests' business.
    """
    out = []
    watched = set(CLASSMATES) | {me}
    if run.csv_at_return != run.csv_later:
        out.append("grades.csv changed after the grader returned")
    if run.json_at_return != run.json_later:
        changed = sorted(k for k in set(run.json_at_return or {}) | set(run.json_later or {})
                         if (run.json_at_return or {}).get(k) != (run.json_later or {}).get(k))
        out.append(f"json files changed after the grader returned: {changed}")
    if run.csv_at_return is None:
        return out + ["grades.csv was not written"]
    rows = list(csv.reader(run.csv_at_return.splitlines()))
    header, body = rows[0], rows[1:]
    if not body or body[-1][0] != "max_points":
        return out + ["grades.csv does not end with the max_points row"]
    if sum(r[0] == "max_points" for r in body) != 1 and (
            me == "max_points" or "max_points" not in run.results):
        out.append("grades.csv has more than one row named max_points")
    reference = run.results.get("00_correct")
    if reference is not None:
        per = {t: v["max_score"] for t, v in reference["by_topic"].items()}
        expected_max = [per.get(t) for t in header[1:-1]]
        got = [float(x) for x in body[-1][1:-1]]
        if got != expected_max or float(body[-1][-1]) != reference["max_score"]:
            out.append(f"max_points row {body[-1]} is not the points of the tests {per}")
    students = body[:-1]
    for folder, result in run.results.items():
        if folder not in watched:
            continue
        mine = [r for r in students if _csv_name(r[0], folder)]
        if len(mine) != 1:
            out.append(f"{folder!r}: {len(mine)} rows in grades.csv")
            continue
        row = dict(zip(header, mine[0], strict=False))
        scores = _topic_scores(result)
        for topic in header[1:-1]:
            if float(row[topic]) != scores.get(topic, 0.0):
                out.append(f"{folder!r}: grades.csv says {topic} {row[topic]}, the judge "
                           f"{scores.get(topic, 0.0)}")
        if float(row[header[-1]]) != result["score"]:
            out.append(f"{folder!r}: grades.csv total {row[header[-1]]}, judge {result['score']}")
    if len(students) != len(run.results):
        out.append(f"grades.csv has {len(students)} student rows for {len(run.results)} "
                   "graded submissions")
    for folder, result in run.results.items():
        if folder not in watched:
            continue
        doc = (run.json_at_return or {}).get(f"{folder}.json")
        if doc is None or doc.startswith("link:"):
            out.append(f"{folder}.json missing or a symlink")
            continue
        try:
            if json.loads(doc) != json.loads(json.dumps(result["gradescope"])):
                out.append(f"{folder}.json is not the judge's results document")
        except ValueError:
            out.append(f"{folder}.json is not JSON")
    return out


def _classmate_problems(run: ClassRun) -> list[str]:
    out = []
    for name, base in CLASSMATES.items():
        r = run.results.get(name)
        if base == "fake":
            continue
        if r is None:
            out.append(f"classmate {name} has no grade")
        elif base == "solutions" and (r["score"] != r["max_score"] or not r["records"]):
            lost = [(x["name"], x["message"][:80]) for x in r["records"]
                    if x["status"] != "passed"][:3]
            out.append(f"classmate {name} lost points: {r['score']:g} / {r['max_score']:g} "
                       f"{lost}")
        elif base == "stubs" and r["score"] != 0:
            out.append(f"classmate {name} (stubs) got {r['score']:g} points")
    ref = run.results.get("00_correct")
    for name in ("zz_correct", "zz_stub", "00_fake"):
        r = run.results.get(name)
        if ref and r and r["max_score"] != ref["max_score"]:
            out.append(f"classmate {name}: points possible {r['max_score']:g}, "
                       f"not {ref['max_score']:g}")
    return out


def _gain_problems(attack: Attack, run: ClassRun) -> list[str]:
    me = run.results.get(attack.dirname)
    if me is None:
        return []  # not graded at all (a refused folder): nothing gained
    reference = run.results.get("00_correct")
    if reference is None:
        return ["the correct classmate 00_correct has no grade"]
    out = []
    if me["records"]:
        mine = sorted((r["nodeid"], r["points"]) for r in me["records"])
        theirs = sorted((r["nodeid"], r["points"]) for r in reference["records"])
        if mine != theirs:
            out.append("its tests or their points differ from its classmates' "
                       f"({len(mine)} vs {len(theirs)} tests, {me['max_score']:g} vs "
                       f"{reference['max_score']:g} points)")
    if attack.base == "fake":
        base = run.results.get("00_fake")
        if base is None:
            return out + ["the baseline 00_fake has no grade"]
        base_scores = _topic_scores(base)
    elif attack.base == "stubs":
        base_scores = {t: 0.0 for t in _topic_scores(reference)}
    else:
        base_scores = {t: v["max_score"] for t, v in reference["by_topic"].items()}
    for topic, score in _topic_scores(me).items():
        if score > base_scores.get(topic, 0.0):
            out.append(f"gained: {topic} {score:g} > {base_scores.get(topic, 0.0):g} without "
                       "the attack")
    if attack.max_seconds and me.get("seconds", 0.0) > attack.max_seconds:
        out.append(f"its grading took {me['seconds']:.0f} s, more than its limits allow "
                   f"({attack.max_seconds:g} s)")
    if attack.base == "solutions":
        for r in me["records"]:
            if r["function"] in attack.lose and r["score"] > 0:
                out.append(f"gained: {r['name']} scored {r['score']:g}")
            elif r["function"] not in attack.lose and r["status"] != "passed":
                out.append(f"cost more than its own tests: {r['name']} {r['status']}: "
                           f"{r['message'][:100]}")
    return out


def _leak_problems(attack: Attack, run: ClassRun, session: Session) -> list[str]:
    me = run.results.get(attack.dirname)
    if me is None:
        return []
    out = []
    forbidden = {str(ROOT): "the instructor's repository path",
                 str(session.tmp_root): "the path of the submissions on the grader's machine",
                 "root:x:0:0:": "the machine's /etc/passwd",
                 f"{Path.home()}: ": "the home directory's listing"}
    for prefix in {sys.base_prefix, sys.prefix}:
        if prefix not in ("/usr", "/usr/local"):  # a private installation's path says who
            forbidden[prefix + os.sep] = "the path of the grader's Python installation"
    for text in _messages(me):
        odd = sorted({c for c in text if not (c.isprintable() or c in "\n\t")})
        if odd:  # escape sequences reach a terminal; a lone surrogate cannot be printed
            out.append(f"feedback holds control characters {odd[:5]}: {text[:120]!r}")
        if attack.proof and attack.proof in text:
            out.append(f"the attack succeeded: {text[:160]!r}")
        for needle, what in forbidden.items():
            if needle in text:
                out.append(f"feedback shows {what}: {text[:160]!r}")
        for line in session.hidden_lines:
            if line in text:
                out.append(f"feedback shows hidden-test source: {line!r}")
                break
    return sorted(set(out))


def _file_problems(attack: Attack, run: ClassRun, session: Session) -> list[str]:
    out = []
    if run.changed_files:
        out.append(f"instructor files changed: {run.changed_files}")
    if run.poisoned_bytecode:
        out.append(f"bytecode caches rewritten: {run.poisoned_bytecode}")
    if run.new_site_entries:
        out.append(f"new files in site-packages: {run.new_site_entries}")
    changed = sorted(k for k in run.folders_before or {}
                     if (run.folders_before or {}).get(k) != (run.folders_after or {}).get(k))
    if changed:
        out.append(f"submission folders changed during grading: {changed}")
    others = [a.dirname for a in run.attacks if a is not attack]
    mine = [f for f in run.stray_files or [] if attack.dirname in f
            or not (f.startswith("tmp/") or any(o in f for o in others))]
    if mine:
        out.append(f"files left behind: {mine[:8]}")
    alive = [d for owner, d in run.leftover_processes or [] if owner in ("", attack.dirname)]
    if alive:
        out.append(f"processes of the submissions still alive: {alive[:5]}")
    later = session.later
    if later is not None and not later.results:
        out.append(f"a later student could not be graded: {later.stderr[-500:]}")
    elif later is not None:
        stub, good = later.results["zz_stub"], later.results["00_correct"]
        if stub["score"] != 0 or good["score"] != good["max_score"]:
            out.append(f"a later student is graded differently: stubs {stub['score']:g}, "
                       f"solutions {good['score']:g} / {good['max_score']:g}")
    me = run.results.get(attack.dirname) or {}
    uids = {p.split()[-1] for p in me.get("protections") or []
            if p.startswith("unprivileged uid")}
    kept = [f"{kind} {ident}" for kind, ident, uid in session.ipc_left if uid in uids]
    if kept:
        out.append(f"System V IPC objects left on the machine: {kept[:5]}")
    if run.received:
        out.append(f"a server on 127.0.0.1 received {run.received[0][:80]!r}")
    if run.typed:
        out.append(f"typed into the grader's terminal: {run.typed[:80]!r}")
    return out


def _params() -> list:
    """(mode, attack) pairs, grouped by mode: each mode's class runs are graded once."""
    return [pytest.param(mode, a.name, id=f"{mode}-{a.name}",
                         marks=[pytest.mark.xfail(strict=True, reason=a.xfail)] if a.xfail
                         else []) for mode in MODES for a in _selected(mode)]


@pytest.mark.parametrize(("hostile", "name"), _params(), indirect=["hostile"])
def test_hostile_submission(hostile: Session, name: str) -> None:
    attack = BY_NAME[name]
    run = hostile.runs[_group_of(attack)]
    if run.output is None:
        pytest.fail(f"class run {run.name!r} died (exit code {run.returncode}): "
                    f"{run.stderr[-1500:]}")
    me = run.results.get(attack.dirname)
    if attack.sandbox_only and me is not None and me.get("sandboxed") is False:
        pytest.skip(f"no sandbox on this machine (protections: {me.get('protections')})")
    problems = (_gain_problems(attack, run) + _classmate_problems(run)
                + _output_problems(run, attack.dirname) + _file_problems(attack, run, hostile)
                + _leak_problems(attack, run, hostile))
    assert not problems, f"{attack.name} ({attack.category}):\n  " + "\n  ".join(problems)


def test_the_suite_has_forty_distinct_attacks_in_every_category() -> None:
    assert len(ATTACKS) >= 40 and len(BY_NAME) == len(ATTACKS)
    assert len({a.dirname for a in ATTACKS}) == len(ATTACKS)
    for a in ATTACKS:
        if a.layout in ("append", "every", "extra"):
            assert (HERE / f"{a.source}.py.txt").is_file(), a.name
    used = {a.source for a in ATTACKS if a.layout in ("append", "every", "extra")}
    unused = {p.name.removesuffix(".py.txt") for p in HERE.glob("*.py.txt")} - used - {
        "_prelude", "fake_dense", "fake_losses", "autograder_results"}
    assert not unused, f"attack files no test uses: {sorted(unused)}"
    assert {a.category for a in ATTACKS} >= {
        "forgery", "escape", "time", "environment", "reference", "monkeypatch",
        "instructor files", "class", "resources", "returns", "feedback", "machine", "tests"}


def test_every_attack_says_whether_its_outcome_can_depend_on_the_isolation() -> None:
    """Each attack is either graded in every mode or, as an attack on the judge's own logic,
    in the first mode only; a new attack must be put in one of the two sets."""
    names = set(BY_NAME)
    assert not JUDGE_LOGIC & ISOLATION_DEPENDENT, sorted(JUDGE_LOGIC & ISOLATION_DEPENDENT)
    unknown = (JUDGE_LOGIC | ISOLATION_DEPENDENT) - names
    assert not unknown, f"no such attacks: {sorted(unknown)}"
    missing = names - JUDGE_LOGIC - ISOLATION_DEPENDENT
    assert not missing, (f"attacks in neither JUDGE_LOGIC nor ISOLATION_DEPENDENT: "
                         f"{sorted(missing)}")
    assert {m for a in ATTACKS for m in _modes_of(a)} == set(MODES)
    assert sum(len(_modes_of(a)) for a in ATTACKS) == len(ATTACKS) + len(ISOLATION_DEPENDENT)
    assert all(_modes_of(a)[0] == MODES[0] for a in ATTACKS)
    for a in ATTACKS:  # the sandbox-only guarantees and the fallback's attack: both modes
        if a.sandbox_only or a.name.startswith("fallback_"):
            assert a.name in ISOLATION_DEPENDENT, a.name


def test_each_mode_grades_with_the_isolation_it_names(hostile: Session) -> None:
    """The Gradescope-like runs really grade in the chroot fallback (not in bubblewrap)."""
    for run in hostile.runs.values():
        for name, result in run.results.items():
            text = " ".join(result.get("protections") or [])
            if not text:  # not graded at all (a refused folder): no student code ran
                continue
            if run.mode == "gradescope":
                assert "chroot fallback" in text and result["sandboxed"], (name, text)
            else:
                assert result["sandboxed"] or "NOT ISOLATED" in text, (name, text)


def test_grading_leaves_no_files_behind(hostile: Session) -> None:
    left = {name: run.stray_files for name, run in hostile.runs.items() if run.stray_files}
    if hostile.later is not None and hostile.later.stray_files:
        left["later"] = hostile.later.stray_files
    assert not left, f"files left in the grading folders: {left}"


def test_the_harness_sees_the_processes_an_attack_leaves_behind() -> None:
    """The leftover-process check can fail: a marked process and one holding the token."""
    token = secrets.token_hex(8)
    marks = {"someone": mark_of(token, "someone")}
    named = (f"import ctypes, time; ctypes.CDLL(None).prctl(15, {marks['someone']!r}.encode(),"
             " 0, 0, 0); time.sleep(30)")
    procs = [subprocess.Popen([sys.executable, "-c", named], start_new_session=True),
             subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", token],
                              start_new_session=True)]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(_processes(token, marks)) < 2:
            time.sleep(0.05)
        assert sorted(owner for owner, _ in _processes(token, marks)) == ["", "someone"]
    finally:
        _kill_processes(token, marks)
        for p in procs:
            p.wait(10)
    assert not _processes(token, marks)
