"""The command line: help for every option, and a quiet end when the reader goes away."""

import argparse
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_has_help_text(name):
    sub = _subcommands()[name]
    missing = [a.dest for a in sub._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert not missing, f"nnlib {name}: options without help text: {missing}"


def test_a_closed_pipe_ends_quietly(tmp_path):
    # `python -m nnlib experiment ... | head -0`: the reader is gone before anything is printed
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnlib", "experiment", "lr", "--steps", "1", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()[-2000:]
    assert proc.returncode == 141


def test_the_experiment_setup_is_printed_as_a_table_not_a_dict():
    from nnlib.experiments.cli import format_setup

    text = format_setup({"experiment": "learning-rate robustness", "lrs": [0.03, 0.1, 1.0],
                         "batch_size": 60, "note": "word " * 40})
    lines = text.splitlines()
    assert lines[:4] == ["setup:", "  experiment  learning-rate robustness",
                         "  lrs         0.03, 0.1, 1", "  batch size  60"]
    assert all(len(line) <= 100 for line in lines) and lines[-1].startswith(" " * 14 + "word")
    assert "{" not in text and "'" not in text


# ------------------------------------------------------------------ nnlib grade
def _grade(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNLIB_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "nnlib", "grade", *map(str, args)], env=env,
                          cwd=cwd or ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def graded_stubs(stub_course):
    short = _grade("--impl", stub_course / "exercises", "--topics", "gradients")
    verbose = _grade("--impl", stub_course / "exercises", "--topics", "gradients", "--verbose")
    return short, verbose


def test_the_grade_table_names_the_protections_in_one_line(graded_stubs):
    short, verbose = graded_stubs
    assert short.returncode == 0, short.stderr
    lines = short.stdout.splitlines()
    about = [line for line in lines if "rotection" in line or line.startswith(" " * 10)]
    assert len(about) == 1 and about[0].startswith("Protections: your code ran "), lines
    assert about[0].endswith("(--verbose lists them).") and len(about[0]) <= 100
    assert "rlimits" not in short.stdout and "uid" not in short.stdout
    assert lines[-1] == "Score: 0 / 6.5"


def test_verbose_lists_every_protection_for_the_instructor(graded_stubs):
    _, verbose = graded_stubs
    assert verbose.returncode == 0, verbose.stderr
    text = verbose.stdout
    block = text[text.index("Protections: "):text.index("Score:")]
    assert "separate worker process" in block and "timeouts" in block and "--verbose" not in block
    assert len(block.splitlines()) > 1


def test_an_empty_submission_says_no_exercise_files_were_found(tmp_path):
    (tmp_path / "alice").mkdir()
    proc = _grade("--impl", tmp_path / "alice", "--topics", "gradients,dense")
    assert proc.returncode == 0, proc.stderr
    assert ("Problem: no exercise files found in the submission (expected gradients.py, "
            "dense.py at its top, or in exercises/ inside it)") in " ".join(
                line.strip() for line in proc.stdout.splitlines())
    assert proc.stdout.splitlines()[-1].startswith("Score: 0 / ")


def test_a_class_run_names_what_it_skips_and_writes_a_canvas_file(tmp_path):
    subs = tmp_path / "subs"
    for name in ("bob", ".git", ".alice"):
        (subs / name).mkdir(parents=True)
    (subs / "README.txt").write_text("instructions")
    canvas = tmp_path / "canvas.csv"
    proc = _grade("--submissions", subs, "--csv", tmp_path / "grades.csv", "--canvas", canvas)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "skipped .alice: a hidden folder (its name starts with '.'): not graded" in out
    assert "skipped .git:" in out and "skipped README.txt: a file, not a folder" in out
    assert "bob: 0 / " in out and "(no exercise files found" in out
    assert f"Canvas import file to {canvas}" in out
    rows = canvas.read_text().splitlines()
    assert rows[0].startswith("Student,ID,SIS User ID,SIS Login ID,Section,") and len(rows) == 2
    assert rows[1].startswith(",,,bob,,0")


def test_a_class_run_grades_folders_whose_names_are_not_utf8_or_hold_escapes(tmp_path):
    # A zip made on another system leaves names in another encoding (here Latin-1 bytes),
    # and a name may hold a terminal's escape sequence. Each is graded under its name with
    # \x escapes; the one whose escaped name is another folder's (a literal backslash name)
    # is not graded, and neither is that other one, saying why, so no row is ambiguous.
    subs = tmp_path / "subs"
    subs.mkdir()
    for raw in (b"d\xfcrer", b"caf\xe9", b"caf\\xe9", b"e\x1b[2Jve"):
        os.mkdir(os.fsencode(subs) + b"/" + raw)
    shutil.copy(ROOT / "solutions" / "dense.py", os.fsencode(subs) + b"/d\xfcrer/dense.py")
    grades, json_dir = tmp_path / "grades.csv", tmp_path / "json"
    proc = _grade("--submissions", subs, "--csv", grades, "--json-dir", json_dir)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "\x1b" not in out  # the escape character itself never reaches the terminal
    for key in ("caf\\xe9 (looks alike)", "caf\\xe9 (looks alike #2)"):
        assert f"skipped {key}: its name, as it is shown, looks the same as another" in out
    assert "d\\xfcrer: " in out and "e\\x1b[2Jve: 0 / " in out and "caf\\xe9: " not in out
    with open(grades, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows] == ["student", "d\\xfcrer", "e\\x1b[2Jve", "max_points"]
    dense = rows[0].index("dense")
    assert float(rows[2][-1]) == 0
    assert rows[1][dense] == rows[1][-1] == rows[3][dense] and float(rows[3][dense]) > 0
    assert sorted(p.name for p in json_dir.iterdir()) == ["d\\xfcrer.json", "e\\x1b[2Jve.json"]


def test_a_class_run_checks_the_results_file_names_before_grading(tmp_path):
    # 255 bytes is the longest name a folder may have; its results file would be longer
    subs, json_dir, grades = tmp_path / "subs", tmp_path / "json", tmp_path / "grades.csv"
    (subs / ("a" * 250)).mkdir(parents=True)
    (subs / ("b" * 255)).mkdir()
    proc = _grade("--submissions", subs, "--csv", grades, "--json-dir", json_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert (f"a results file would have a name longer than the 255 bytes the file system "
            f"allows: {'b' * 255}.json; shorten the folder's name") in proc.stderr
    assert not grades.exists() and proc.stdout == ""  # nothing graded
    (subs / ("b" * 255)).rmdir()
    proc = _grade("--submissions", subs, "--csv", grades, "--json-dir", json_dir)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in json_dir.iterdir()] == ["a" * 250 + ".json"]
    assert grades.read_text().splitlines()[1].startswith("a" * 250 + ",0,")


@pytest.mark.parametrize(("args", "words"), [
    (["--canvas", "x.csv"], "only work with --submissions"),
    (["--submissions", ".", "--csv", "g.csv", "--roster", "r.csv"], "--roster goes with --canvas"),
    (["--submissions", "."], "needs somewhere to write the grades"),
])
def test_canvas_options_need_a_class_run(args, words):
    proc = _grade(*args)
    assert proc.returncode == 2 and words in proc.stderr
