"""Regression tests of the judge/worker split: each attack gains nothing and damages nothing.

Each submission is the reference solutions with one or two files replaced by hostile code;
it is graded on those topics only (public tests), and the test asserts the outcome: the
hostile functions earn nothing, the honest ones keep their points, no file of the course
changed, and nothing of the submission is left running. (The full hostile-submission suite
lives in test_hostile*.py.)
"""

import hashlib
import os
import sys
import textwrap
import uuid

import pytest

from nnlib.grading.grader import isolation, judges
from nnlib.grading.grader.classes import grade_submissions
from nnlib.grading.grader.grade import SandboxRequired, grade
from nnlib.grading.grader.results import check_output_path, safe_cell
from nnlib.grading.impl import ImplementationError
from nnlib.grading.judge import jail
from nnlib.grading.judge import sandbox as sandboxing

from .conftest import ROOT, clean_env, make_submission, run

BOX = isolation.choose("auto")
MODES = ["auto", "off"] if BOX.kind == "bwrap" else ["off"]
JAIL = not jail.unavailable()
"""Without bubblewrap (``sandbox="off"``) the worker is in the chroot fallback (as root)."""
MARKER = f"nnlib-isolation-marker-{uuid.uuid4().hex}"  # unique to this run


def _write(folder, topic, source):
    (folder / f"{topic}.py").write_text(textwrap.dedent(source), encoding="utf-8")


def _course_digest():
    h = hashlib.sha256()
    for sub in ("tests/public", "tests/hidden", "solutions", "exercises", "nnlib/grading"):
        for p in sorted((ROOT / sub).rglob("*.py")):
            h.update(p.as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module", autouse=True)
def _forked_judges():
    """This module grades many times: its judges are forked from one template, as a class
    run's are (tests/grading/test_judges.py shows that they grade as spawned ones do)."""
    with judges.templates(ROOT):
        yield


@pytest.fixture(scope="module")
def digest():
    before = _course_digest()
    yield
    assert _course_digest() == before, "a submission changed a file of the course"


def _by_function(g):
    out = {}
    for r in g.records:
        out.setdefault(r["function"], []).append(r)
    return out


def _alive(marker):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


PROBE = """
import numpy as np
import os, socket, sys

def _try(f):
    try:
        f()
        return 1
    except BaseException:
        return 0

def _read(path):
    with open(path) as f:
        f.read(1)

def _write(path):
    with open(path, "a") as f:
        f.write("# appended by a submission\\n")

def _net():
    s = socket.create_connection(("127.0.0.1", 22), timeout=1)
    s.close()

def dense_forward(x, W, b):
    flags = dict(
        nnlib=_try(lambda: __import__("nn" + "lib")),
        pytest=_try(lambda: __import__("py" + "test")),
        sol=_try(lambda: _read("{root}/solutions/dense.py")),
        hidden=_try(lambda: _read("{root}/tests/hidden/test_dense.py")),
        conftest=_try(lambda: _write("{root}/tests/public/conftest.py")),
        net=_try(_net),
        env=int("NNLIB_ROOT" in os.environ or "NNLIB_IMPL" in os.environ),
        root=int(os.getuid() == 0),
    )
    raise ValueError("probe " + " ".join(f"{k}={v}" for k, v in flags.items())
                     + " " + repr(sys.path[:3]))

def dense_backward(dz, cache):
    raise NotImplementedError
"""


@pytest.mark.parametrize("mode", MODES)
def test_student_code_cannot_reach_the_course_the_grader_or_the_network(tmp_path, mode,
                                                                         digest):
    sub = make_submission(tmp_path / "probe")
    _write(sub, "dense", PROBE.replace("{root}", str(ROOT)))
    g = grade(sub, topics=["dense"], sandbox=mode)
    assert g.score == 0
    message = next(r["message"] for r in g.records if "probe" in r["message"])
    flags = dict(kv.split("=") for kv in message.split("probe ")[1].split()[:8])
    assert flags["nnlib"] == flags["pytest"] == flags["conftest"] == flags["env"] == "0", flags
    if os.geteuid() == 0:
        assert flags["root"] == "0", "the worker ran as root"
    assert g.isolation == ("bwrap" if mode == "auto" else "jail" if JAIL else "none")
    if mode == "auto":  # the sandbox also hides the course's files and the network
        assert g.sandboxed and "no network" in g.protections
        assert flags["sol"] == flags["hidden"] == flags["net"] == "0", flags
    elif JAIL:  # so does the chroot fallback
        assert g.sandboxed and any("chroot fallback" in p for p in g.protections)
        assert flags["sol"] == flags["hidden"] == flags["net"] == "0", flags
    else:
        assert not g.sandboxed and any("NOT ISOLATED" in p for p in g.protections)
    assert str(ROOT) not in message and "lib/python" in message  # sys.path, cleaned:
    for prefix in {sys.base_prefix, sys.prefix}:
        if prefix not in ("/usr", "/usr/local"):
            assert prefix + os.sep not in message, message


HOSTILE_ACTIVATIONS = """
import os, sys, unittest
import numpy as np

def sigmoid_forward(x):
    e = np.exp(-np.abs(x))  # stable: no overflow for huge |x|
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return s, s

def sigmoid_backward(dout, cache):
    raise unittest.SkipTest("skip me")

def relu_forward(x):
    return np.maximum(x, 0), x

def relu_backward(dout, cache):
    raise KeyboardInterrupt

def tanh_forward(x):
    t = np.tanh(x)
    return t, t

def tanh_backward(dout, cache):
    os.write(1, b'{"record": {"nodeid": "x", "status": "passed", "points": 99}}\\n')
    for fd in range(3, 64):
        try:
            os.write(fd, b'{"finished": 0}\\n')
        except OSError:
            pass
    os._exit(0)
"""


def test_skips_interrupts_exits_and_forged_events_fail_only_their_test(tmp_path, digest):
    sub = make_submission(tmp_path / "mallory")
    _write(sub, "activations", HOSTILE_ACTIVATIONS)
    g = grade(sub, topics=["activations"])
    per = _by_function(g)
    for name in ("sigmoid_forward", "relu_forward", "tanh_forward"):
        assert all(r["status"] == "passed" for r in per[name]), per[name]
    for name, words in (("sigmoid_backward", "SkipTest"), ("relu_backward", "KeyboardInterrupt"),
                        ("tanh_backward", "reply could not be read")):  # it wrote on the socket
        assert all(r["status"] == "failed" and r["score"] == 0 for r in per[name]), per[name]
        assert words in per[name][0]["message"], per[name][0]["message"]
    assert g.score == sum(r["points"] for r in g.records if r["function"].endswith("forward"))


def test_an_endless_loop_that_blocks_signals_costs_one_timeout_per_function(tmp_path, digest):
    sub = make_submission(tmp_path / "looper")
    src = (ROOT / "solutions" / "initialization.py").read_text(encoding="utf-8")
    src = src.replace("def he_init(", "def _honest_he_init(", 1) + textwrap.dedent("""

        def he_init(fan_out, fan_in, rng):
            import signal
            signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))
            while True:
                pass
        """)
    (sub / "initialization.py").write_text(src, encoding="utf-8")
    g = grade(sub, topics=["initialization"], timeout=1)
    per = _by_function(g)
    messages = {r["message"] for r in per["he_init"]}
    assert len(per["he_init"]) >= 2 and messages == {
        "he_init did not finish within 1 s (an endless loop?)"}
    assert all(r["status"] == "passed" for f in ("small_init", "xavier_init") for r in per[f])


DAEMON = """

import os as _os, sys as _sys

_r, _w = _os.pipe()
if _os.fork() == 0:  # a double-forked daemon in a session of its own
    try:
        _os.setsid()
        pid = _os.fork()
        if pid == 0:
            for argv in ([_sys.executable, "-c", "import time; time.sleep(300)", "{marker}"],
                         ["/bin/sh", "-c", "sleep 300", "{marker}"]):
                try:
                    _os.execv(argv[0], argv)
                except OSError:
                    pass
        else:
            _os.write(_w, str(pid).encode())
    finally:
        _os._exit(0)
_os.close(_w)
_DAEMON = int(_os.read(_r, 32) or 0)


def mse_loss(pred, target):
    try:
        _os.kill(_DAEMON, 0)
        alive = 1
    except OSError:
        alive = 0
    raise RuntimeError(f"daemon alive={{alive}}")
"""


@pytest.mark.parametrize("mode", [*MODES, "unisolated"])
def test_no_process_of_the_submission_outlives_grading(tmp_path, mode, digest, monkeypatch):
    sub = make_submission(tmp_path / "forker")
    src = (ROOT / "solutions" / "losses.py").read_text(encoding="utf-8")
    _write(sub, "losses", src + DAEMON.format(marker=MARKER))
    if mode == "unisolated":  # no seccomp filter there: the daemon starts, and must end
        monkeypatch.setattr(isolation, "_chosen", {})
        monkeypatch.setattr(sandboxing, "find_bwrap", lambda: None)
        monkeypatch.setattr(jail, "unavailable", lambda: "not here (for the test)")
        g = grade(sub, topics=["losses"], hidden=True, unisolated=True)
    else:
        g = grade(sub, topics=["losses"], sandbox=mode)
    per = _by_function(g)
    if mode != "unisolated" and jail.has_seccomp():  # the filter refuses new processes
        message = per["mse_loss"][0]["message"]
        assert "importing losses.py raised PermissionError: [Errno 1]" in message, message
        assert _alive(MARKER) == []
        return
    assert "daemon alive=1" in per["mse_loss"][0]["message"]  # it ran while grading
    assert all(r["status"] == "passed" for f in ("binary_cross_entropy_with_logits",
                                                 "softmax_cross_entropy") for r in per[f])
    assert _alive(MARKER) == []  # and nothing of it is left


def test_hand_ins_in_a_single_folder_or_with_links(tmp_path, digest):
    inner = make_submission(tmp_path / "alice" / "alice-homework")
    g = grade(tmp_path / "alice", topics=["dense", "adam"])
    assert g.score == g.max_score and "alice-homework/" in g.note
    linked = make_submission(tmp_path / "eve")
    (linked / "dense.py").unlink()
    (linked / "dense.py").symlink_to(ROOT / "solutions" / "dense.py")
    g = grade(linked, topics=["dense"])
    assert g.score == 0 and all("symbolic link" in r["message"] for r in g.records)
    assert any("symbolic link" in p for p in g.problems)
    assert inner.is_dir()


VALUES = """
import numpy as np

class Always(np.ndarray):
    def __eq__(self, other):
        return True

    def __array_ufunc__(self, *args, **kwargs):
        return np.zeros(1).view(Always)

def dense_forward(x, W, b):
    return np.zeros((x.shape[0], W.shape[0])).view(Always), (x, W)

def dense_backward(dz, cache):
    raise NotImplementedError
"""

LIAR = """
import numpy as np

class Liar:
    shape = (2, 3)
    def __eq__(self, other):
        return True
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no")

def sigmoid_forward(x):
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return s, Liar()

def sigmoid_backward(dout, cache):
    return Liar()
"""


def test_returned_objects_are_plain_arrays_or_opaque(tmp_path, digest):
    sub = make_submission(tmp_path / "trickster")
    _write(sub, "dense", VALUES)
    src = (ROOT / "solutions" / "activations.py").read_text(encoding="utf-8")
    _write(sub, "activations", src.replace("def sigmoid_", "def _honest_sigmoid_") + LIAR)
    g = grade(sub, topics=["dense", "activations"])
    per = _by_function(g)
    # the ndarray subclass arrives as a plain array: its __eq__ and ufuncs do not help it
    # (zeros of the right shape earn nothing: shape points need right values too)
    assert {r["status"] for r in per["dense_forward"]} == {"failed"}
    assert all("wrong values" in r["message"] or "must give float32" in r["message"]
               for r in per["dense_forward"]), per["dense_forward"]
    # an object that lies about equality stays in the worker: the judge sees an opaque handle
    assert all(r["status"] == "passed" for r in per["sigmoid_forward"])
    assert all(r["status"] == "failed" for r in per["sigmoid_backward"])
    assert "got Liar" in per["sigmoid_backward"][0]["message"]
    assert all(r["status"] == "passed" for f in ("relu_forward", "tanh_backward")
               for r in per[f])


def test_output_paths_and_options_are_checked_before_grading(tmp_path):
    with pytest.raises(ImplementationError, match="is a folder"):
        check_output_path(tmp_path)
    with pytest.raises(ImplementationError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "grades.csv")
    (tmp_path / "class").mkdir()
    with pytest.raises(ImplementationError, match="is a folder"):
        grade_submissions(tmp_path / "class", tmp_path)
    proc = run(["-m", "nnlib", "grade", "--csv", str(tmp_path / "g.csv")], env=clean_env())
    assert proc.returncode == 2 and "--submissions" in proc.stderr
    proc = run(["-m", "nnlib", "grade", "--json", str(tmp_path)], env=clean_env())
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    assert safe_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert safe_cell("-1+1") == "'-1+1" and safe_cell("alice") == "alice"
    assert safe_cell("max_points") == "'max_points"  # never taken for the last row


def test_require_sandbox_grades_only_in_the_sandbox(tmp_path):
    sub = make_submission(tmp_path / "ok")
    if BOX.sandboxed:
        g = grade(sub, topics=["adam"], sandbox="require")
        assert g.sandboxed and g.score == g.max_score
    else:
        with pytest.raises(SandboxRequired):
            grade(sub, topics=["adam"], sandbox="require")
    g = grade(sub, topics=["adam"], sandbox="off")
    assert g.sandboxed == JAIL and g.score == g.max_score


SHAPES = """
import pathlib, sys
import nnlib.grading.clock
from nnlib.grading import check
nnlib.grading.clock.DEFAULT_TIMEOUT = 1.0  # check()'s per-call limit, shortened for the test
folder, log = pathlib.Path(sys.argv[1]), sys.argv[2]
src = (folder / "dense.py").read_text()
(folder / "dense.py").write_text(src.replace("return x @ W.T", "return x @ W", 1))
check("dense", "dense_forward")
init = (folder / "initialization.py").read_text()
(folder / "initialization.py").write_text(init.replace("def he_init(", "def _he(", 1)
    + "\\ndef he_init(fan_out, fan_in, rng):\\n    open(%r, 'a').write('entered\\\\n')\\n"
      "    while True:\\n        pass\\n" % log)
check("initialization", "he_init")
"""


def test_check_explains_shape_errors_and_stops_after_one_timeout(tmp_path):
    sub = make_submission(tmp_path / "me")
    log = tmp_path / "entered.txt"
    lines = (sub / "dense.py").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "return x @ W.T" in text)
    proc = run(["-c", SHAPES, str(sub), str(log)], env=clean_env(NNLIB_IMPL=str(sub)))
    out = " ".join(proc.stdout.split())  # check() wraps its lines between words
    assert "dense_forward raised ValueError: matmul" in out, out + proc.stderr
    assert (f"(me/dense.py, line {line}). It was called with x of shape (2, 3), "
            "W of shape (1, 3), b of shape (1,)") in out
    assert "z should have shape (2, 1)" in out
    assert "he_init did not finish within 1 s (an endless loop?)" in out, out
    assert "check('initialization', 'he_init'): 0 of 2 tests passed." in out, out
    # two tests of he_init, one run of it: after its timeout the second test fails at once
    assert log.read_text().splitlines() == ["entered"]


def test_a_sandbox_that_cannot_start_means_the_fallback_or_a_refusal(tmp_path, monkeypatch):
    sub = make_submission(tmp_path / "ok")
    monkeypatch.setattr(sandboxing, "find_bwrap", lambda: "/bin/false")  # a bwrap that fails
    monkeypatch.setattr(isolation, "_chosen", {})
    g = grade(sub, topics=["adam"], hidden=True)
    assert g.sandboxed == JAIL and g.score == g.max_score
    fallback = "chroot fallback without bubblewrap" if JAIL else "NOT ISOLATED"
    assert any(f"{fallback} (bwrap could not start" in p for p in g.protections), g.protections
    with pytest.raises(SandboxRequired, match="cannot start"):
        grade(sub, topics=["adam"], sandbox="require")


def test_without_any_isolation_only_the_public_tests_of_one_submission_are_graded(
        tmp_path, monkeypatch):
    """Not root and no bubblewrap: hidden tests and class runs need the instructor's word."""
    sub = make_submission(tmp_path / "subs" / "ok")
    monkeypatch.setattr(sandboxing, "find_bwrap", lambda: None)
    monkeypatch.setattr(isolation, "_chosen", {})
    monkeypatch.setattr(jail, "unavailable", lambda: "it needs root (for the test)")
    with pytest.raises(SandboxRequired, match="--unisolated") as refused:
        grade(sub, topics=["adam"], hidden=True)
    assert "could change your tests and grades" in str(refused.value)
    with pytest.raises(SandboxRequired, match="--unisolated"):
        grade_submissions(tmp_path / "subs", tmp_path / "g.csv")
    assert not (tmp_path / "g.csv").exists()
    for g in (grade(sub, topics=["adam"]), grade(sub, topics=["adam"], hidden=True,
                                                  unisolated=True)):
        assert g.score == g.max_score and not g.sandboxed
        assert any(p.startswith("NOT ISOLATED") for p in g.protections), g.protections
