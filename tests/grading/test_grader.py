"""The grader: full marks for the solutions, nothing for the stubs, points off every
deliberate mistake (and only off its own exercise), and robustness against submissions
that raise, hang, exit, flood the output, mutate inputs or call the reference."""

import ast
import csv
import dataclasses
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from nnlib.grading.grader import judges
from nnlib.grading.grader.classes import (
    canvas_rows,
    grade_submissions,
    list_submissions,
    read_roster,
)
from nnlib.grading.grader.grade import grade
from nnlib.grading.grader.results import Grade, format_table, gradescope_results, safe_cell
from nnlib.grading.grader.submission import inspect_handin, shown_name
from nnlib.grading.impl import GradingSetupError
from nnlib.grading.registry import MISTAKES, TOPICS, mistake

from .conftest import HERE, ROOT, clean_env, make_submission, run
from .mutants import MUTANTS, Mutant, MutantError, solution_region, write_submission


def test_mutants_are_named_once_and_patch_a_function_of_their_topic():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)) == 54
    for m in MUTANTS:
        assert m.function in TOPICS.get(m.topic, ()), f"{m.name}: {m.topic}.{m.function}"
        assert m.mistake and "\n" not in m.mistake, m.name


def test_every_catalogued_mistake_has_a_mutant_that_makes_it():
    ids = {m.id for m in MISTAKES}
    made = {m.catalogue for m in MUTANTS if m.catalogue}
    assert made <= ids, f"mutants name mistakes outside the catalogue: {made - ids}"
    assert ids <= made, f"catalogued mistakes without a mutant: {sorted(ids - made)}"
    for m in MUTANTS:
        if m.catalogue:
            assert m.function in mistake(m.catalogue).functions, (m.name, m.catalogue)
    # both forms of the wrong tanh derivative: 1 - t (no square) and 1 - x**2 (the input)
    assert len([m for m in MUTANTS if m.catalogue == "tanh_backward_wrong_derivative"]) == 2


def test_every_patch_applies_exactly_once_and_changes_the_file():
    for m in MUTANTS:
        original = m.path.read_text(encoding="utf-8")
        first, stop = solution_region(original, m.function, m.path.name)
        lines = original.splitlines(keepends=True)
        head, region, tail = ("".join(lines[:first]), "".join(lines[first:stop]),
                              "".join(lines[stop:]))
        assert region.count(m.old) == 1, m.name
        patched = m.source()
        assert patched != original, m.name
        # only the function's solution region changed, by exactly this substitution
        assert patched.startswith(head) and patched.endswith(tail), m.name
        assert patched[len(head):len(patched) - len(tail)] == region.replace(m.old, m.new)
        compile(patched, f"{m.name}/{m.topic}.py", "exec")  # a syntax error would zero the topic


STALE = [
    ("batchnorm", "batchnorm_forward", "no such line", "occurs 0 times"),
    ("batchnorm", "batchnorm_forward", "xmu", "occurs 4 times"),  # ambiguous
    ("layernorm", "layernorm_forward", "d = xhat.shape[1]", "occurs 0 times"),  # other function
]


@pytest.mark.parametrize(("topic", "function", "old", "words"), STALE)
def test_a_patch_that_does_not_match_fails_loudly(topic, function, old, words):
    stale = Mutant("stale", topic, function, "a stale mutant", old, "x")
    with pytest.raises(MutantError) as info:
        stale.source()
    message = str(info.value)
    assert message.startswith(f"mutant stale: its old snippet {old!r} {words} in the "
                              f"solution region of {function}() in solutions/{topic}.py")
    assert "tests/grading/mutants.py" in message


def test_a_patch_that_changes_nothing_or_a_missing_region_fails_loudly():
    same = "invstd = 1.0 / np.sqrt(var + eps)"
    with pytest.raises(MutantError, match="mutant same: its patch does not change"):
        Mutant("same", "batchnorm", "batchnorm_forward", "no mistake", same, same).source()
    with pytest.raises(MutantError, match=r"no top-level function nope\(\)"):
        solution_region("def f():\n    pass\n", "nope")
    with pytest.raises(MutantError, match="exactly one"):
        solution_region("def f():\n    return 1\n", "f")


def test_solutions_earn_full_marks(solutions_grade):
    g = solutions_grade
    assert g.records and g.score == g.max_score
    failed = [(r["nodeid"], r["message"]) for r in g.records if r["status"] != "passed"]
    assert not failed


def test_every_test_declares_points_and_its_function(solutions_grade):
    for r in solutions_grade.records:
        assert r["declared"], f"{r['nodeid']} lacks @pytest.mark.points or .checks"
        assert r["function"] in TOPICS[r["topic"]], r["nodeid"]
    tested = {(r["topic"], r["function"], r["visibility"]) for r in solutions_grade.records}
    for topic, functions in TOPICS.items():
        for f in functions:
            assert (topic, f, "visible") in tested, f"no public test checks {f}"
            assert (topic, f, "hidden") in tested, f"no hidden test checks {f}"


def test_stubs_fail_every_test(stubs_grade):
    g = stubs_grade
    assert g.records and g.score == 0
    assert all(r["status"] == "not implemented" for r in g.records), [
        (r["nodeid"], r["message"]) for r in g.records if r["status"] != "not implemented"]
    table = format_table(g)
    assert table.splitlines()[-1] == f"Score: 0 / {g.max_score:g}"
    assert table.count("Score:") == 1


def _rounds() -> list[list[Mutant]]:
    """The mutants in rounds of different topics: round k holds each topic's k-th mutant."""
    by_topic: dict[str, list[Mutant]] = {}
    for m in MUTANTS:
        by_topic.setdefault(m.topic, []).append(m)
    return [[ms[k] for ms in by_topic.values() if k < len(ms)]
            for k in range(max(map(len, by_topic.values())))]


def test_no_exercise_file_imports_another():
    """What lets mutants of different topics share a submission: a topic's tests call only
    its own file's functions (the registry), and no file imports another."""
    siblings = {p.stem for p in (ROOT / "solutions").glob("*.py")}
    for p in (ROOT / "solutions").glob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom)}
        names |= {"." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
        assert not names & (siblings | {"."}), (p.name, names & (siblings | {"."}))


@pytest.fixture(scope="module")
def mutant_results(tmp_path_factory):
    """Each mutant graded, with the hidden tests, on the one topic whose file it patches.

    The mutants are graded in rounds (:func:`_rounds`): one submission per round, holding
    each of its mutants' files, graded on the round's topics; each mutant's result is its
    topic's records. Every topic's tests load only that topic's file and no file imports
    another (:func:`test_no_exercise_file_imports_another`), so a mutant's records are
    those it would get alone, and the other files of its round are the solutions' for
    every topic but its own. Returns the results and, per mutant, its round's folder.
    """
    subs = tmp_path_factory.mktemp("mutants")
    rounds = _rounds()
    folders = {}
    for k, members in enumerate(rounds):
        folder = write_submission(members[0], subs / f"round{k:02d}")
        for m in members[1:]:
            (folder / m.path.name).write_text(m.source(), encoding="utf-8")
        folders.update({m.name: folder for m in members})

    def one(members):
        g = grade(folders[members[0].name], hidden=True, topics=[m.topic for m in members])
        return [(m.name, dataclasses.replace(g, records=[
            r for r in g.records if r["topic"] == m.topic])) for m in members]

    with judges.templates(ROOT), ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pair for done in pool.map(one, rounds) for pair in done), folders


def test_every_mutant_loses_points_on_its_own_exercise_only(mutant_results, solutions_grade):
    results, folders = mutant_results
    full = solutions_grade.by_topic()
    assert sorted(results) == sorted(m.name for m in MUTANTS)
    for m in MUTANTS:
        name, function, topic = m.name, m.function, m.topic
        per = results[name].by_topic()
        # every test of its topic graded (the fixture keeps only its topic's records)
        assert (per[topic]["tests"], per[topic]["max_score"]) == (
            full[topic]["tests"], full[topic]["max_score"]), name
        assert per[topic]["score"] < full[topic]["max_score"], f"{name} kept all its points"
        lost = {r["function"] for r in results[name].records if r["status"] != "passed"}
        assert function in lost, f"{name}: expected failures in {function}, got {lost}"
        assert (folders[name] / m.path.name).read_text(encoding="utf-8") == m.source(), name
        # nowhere else: every topic's tests load only their own file, and every file of
        # the round that belongs to no mutant of it is the solution's
        mine = {n.topic for n in MUTANTS if folders[n.name] == folders[name]}
        for other in TOPICS:
            if other not in mine:
                assert (folders[name] / f"{other}.py").read_bytes() == (
                    ROOT / "solutions" / f"{other}.py").read_bytes(), (name, other)
    assert all(v["score"] == v["max_score"] for v in full.values())


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, stub_course):
    """A small class: two mutants, the stubs in exercises/, a formula-like name, a dot folder."""
    subs = tmp_path_factory.mktemp("class")
    by_name = {m.name: m for m in MUTANTS}
    write_submission(by_name["dense_db_mean"], subs / "bob")
    write_submission(by_name["adam_no_bias_correction"], subs / "=HYPERLINK(1)")
    (subs / "carol").mkdir()
    shutil.copytree(stub_course / "exercises", subs / "carol" / "exercises")
    make_submission(subs / ".hidden")
    (subs / "notes.txt").write_text("not a submission")
    out = tmp_path_factory.mktemp("out")
    csv_path, json_dir = out / "grades.csv", out / "results"
    results = grade_submissions(subs, csv_path, hidden=True, progress=False,
                                json_dir=json_dir, canvas=out / "canvas.csv",
                                assignment="HW 3 (4711)")
    return results, csv_path, json_dir, subs


def test_batch_grading_writes_a_grades_table(class_run, solutions_grade):
    results, csv_path, json_dir, _ = class_run
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", *TOPICS, "total"]
    assert [r[0] for r in rows[1:-1]] == ["'=HYPERLINK(1)", "bob", "carol"]  # no formula
    assert set(results) == {"=HYPERLINK(1)", "bob", "carol"}
    assert rows[-1][0] == "max_points" and float(rows[-1][-1]) == solutions_grade.max_score
    full = solutions_grade.by_topic()
    assert rows[-1][1:-1] == [f"{full[t]['max_score']:g}" for t in TOPICS]
    for row in rows[1:-1]:
        name = row[0].removeprefix("'")
        assert sum(map(float, row[1:-1])) == float(row[-1]) == results[name].score
        doc = json.loads((json_dir / f"{name}.json").read_text())
        assert doc["score"] == results[name].score
    assert 0 < results["bob"].score < solutions_grade.max_score
    assert results["carol"].score == 0 and "exercises/" in results["carol"].note
    assert not any(p.name.endswith(".tmp") for p in csv_path.parent.rglob("*"))


def test_every_entry_of_the_class_folder_is_graded_or_named_with_the_reason(class_run):
    results, _, _, subs = class_run
    entries, skipped = list_submissions(subs)
    assert {p.name for p in entries} == set(results)
    assert set(skipped) == {".hidden", "notes.txt"}
    assert "starts with '.'" in skipped[".hidden"] and "not graded" in skipped[".hidden"]
    assert "not a folder" in skipped["notes.txt"]


def test_names_that_look_alike_are_none_of_them_graded_and_each_is_named(tmp_path):
    """A byte 0x9b that is not UTF-8 and the control character U+009B are both written
    ``\\x9b``, and "jos\u00e9" is the same name as "jose\u0301" in another Unicode form:
    grading both would give one row two students' results, or two rows that look the
    same."""
    for raw in (b"eve\x9b", "eve\x9b".encode()):
        os.mkdir(os.path.join(os.fsencode(tmp_path), raw))
    for name in ("alice", "alice\u200b", "alice\u034f", "jos\u00e9", "jose\u0301"):
        (tmp_path / name).mkdir()
    entries, skipped = list_submissions(tmp_path)
    # invisible characters are shown escaped, so those names no longer look alike
    assert sorted(shown_name(p.name) for p in entries) == [
        "alice", "alice\\u034f", "alice\\u200b"]
    assert sorted(skipped) == ["eve\\x9b (looks alike #2)", "eve\\x9b (looks alike)",
                               "jose\u0301 (looks alike)", "jos\u00e9 (looks alike)"]
    assert all("looks the same as another entry's" in why for why in skipped.values())


def test_the_canvas_file_is_a_gradebook_import_and_nothing_else(class_run):
    results, csv_path, _, _ = class_run
    with open(csv_path.parent / "canvas.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 3 (4711)"]
    assert len(rows) == 1 + len(results)  # no points-possible row, no totals
    by_login = {r[3]: r for r in rows[1:]}
    assert set(by_login) == {"'=HYPERLINK(1)", "bob", "carol"}
    for name, result in results.items():
        row = by_login[safe_cell(name)]
        assert row[:3] == ["", "", ""] and row[4] == "" and float(row[5]) == result.score


def test_a_roster_gives_the_canvas_columns_and_names_who_is_left_out(tmp_path):
    roster_csv = tmp_path / "export.csv"
    roster_csv.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,HW 1 (12)\n"
        "    Points Possible,,,,,10\n"
        '"Doe, Jane",101,S-1,jdoe,Sec A,7\n'
        '"Roe, Rick",102,S-2,rroe,Sec A,\n', encoding="utf-8")
    roster = read_roster(roster_csv)
    assert set(roster) == {"jdoe", "rroe"}
    assert roster["jdoe"] == {"Student": "Doe, Jane", "ID": "101", "SIS User ID": "S-1",
                              "SIS Login ID": "jdoe", "Section": "Sec A"}
    by_sis = read_roster(roster_csv, id_column="SIS User ID")
    assert set(by_sis) == {"S-1", "S-2"}
    rec = {"score": 3.0, "points": 5.0}
    rows, left_out = canvas_rows({"jdoe": Grade([rec]), "zed": Grade([rec])}, "HW 3", roster)
    assert rows == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 3"],
                    ["Doe, Jane", "101", "S-1", "jdoe", "Sec A", "3"]]
    assert list(left_out) == ["zed"] and "not in the roster" in left_out["zed"]
    mapping = tmp_path / "map.csv"
    mapping.write_text("folder,SIS User ID\nalice-hw,S-9\n", encoding="utf-8")
    assert read_roster(mapping)["alice-hw"]["SIS User ID"] == "S-9"
    (tmp_path / "bad.csv").write_text("name,score\nx,1\n", encoding="utf-8")
    with pytest.raises(GradingSetupError, match="neither a 'folder' column nor"):
        read_roster(tmp_path / "bad.csv")


def test_a_renamed_copy_of_an_exercise_file_is_named_not_graded(tmp_path):
    # a re-download, a re-upload or a file manager's copy: "dense (1).py" is not dense.py
    bob = tmp_path / "bob"
    bob.mkdir()
    for name in ("dense (1).py", "Losses.py", "adam-2.py", "adam.py", "notes (1).py",
                 "dropout\r(1).py"):  # a control character is never echoed to a log
        (bob / name).write_text("x = 1\n", encoding="utf-8")
    (bob / "dropout copy.py").mkdir()  # a folder, not a file
    h = inspect_handin(bob, ["dense", "losses", "adam", "dropout"])
    assert list(h.files) == ["adam"]
    assert h.problems == [
        "Losses.py is not graded, only losses.py is: rename it to losses.py to grade that "
        "exercise",
        "dense (1).py is not graded, only dense.py is: rename it to dense.py to grade that "
        "exercise"]
    carol = tmp_path / "carol" / "exercises"
    carol.mkdir(parents=True)
    for name in ("dense.py", "losses_2.py"):
        (carol / name).write_text("x = 1\n", encoding="utf-8")
    h = inspect_handin(carol.parent, ["dense", "losses"])
    assert list(h.files) == ["dense"] and h.layout == "exercises"
    assert h.problems == ["exercises/losses_2.py is not graded, only exercises/losses.py is: "
                          "rename it to losses.py to grade that exercise"]
    eve = tmp_path / "eve" / "hw\x1b[2J\u202e"  # one folder whose name holds escapes
    eve.mkdir(parents=True)
    (eve / "dense.py").write_text("x = 1\n", encoding="utf-8")
    h = inspect_handin(eve.parent, ["dense"])
    assert h.layout == "single" and "found in hw\\x1b[2J\\u202e/ inside" in h.note
    h = inspect_handin(tmp_path / "bob", ["dense"], prefix="exercises/")
    assert h.problems[0].startswith("no exercise files found")
    assert h.problems[1].startswith("exercises/dense (1).py is not graded")


# ------------------------------------------------------------------ crafted bad submission
# topic -> (expected points: "zero", "partial"; words the first failure message must hold)
CRAFTED = {
    "gradients": ("zero", "ValueError: boom"),
    "activations": ("partial", "MB of output"),
    "dense": ("partial", "sys.exit(3)"),
    "initialization": ("partial", "did not finish within 2 s"),
    "losses": ("partial", "modified its argument pred"),
    "network": ("zero", "imports nnlib"),
    "batchnorm": ("partial", "crashed the worker process"),
    "dropout": ("zero", "imports solutions"),
    "layernorm": ("zero", "SyntaxError"),
    "adam": ("zero", "No module named 'solutions'"),
}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crafted")
    sub = make_submission(tmp / "student", HERE / "crafted", suffix=".txt")
    out = tmp / "results.json"
    proc = run(["-m", "nnlib", "grade", "--impl", str(sub), "--hidden", "--timeout", "2",
                "--json", str(out)])
    return proc, json.loads(out.read_text())


def test_crafted_submission_is_graded_to_the_end(crafted, solutions_grade):
    proc, results = crafted
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("Score:") for line in lines) == 1
    assert lines[-1] == f"Score: {results['score']:g} / {solutions_grade.max_score:g}"
    full = solutions_grade.by_topic()
    for topic, (expected, words) in CRAFTED.items():
        row = next(line for line in lines if line.startswith(topic + " "))
        mine = [t for t in results["tests"] if t["tags"][0] == topic]
        score = sum(t["score"] for t in mine)
        if expected == "zero":
            assert score == 0, (topic, row)
        else:
            assert 0 < score < full[topic]["max_score"], (topic, row)
        messages = " ".join(t["output"] for t in mine)
        assert words in messages, (topic, words, row)


def test_crafted_failures_point_at_the_function(crafted):
    _, results = crafted
    by_name = {t["name"].split(": ")[1]: t for t in results["tests"] if t["status"] == "failed"}
    assert "he_init" in by_name and "small_init" not in by_name
    assert "mse_loss" in by_name and "softmax_cross_entropy" not in by_name
    assert "running_stats_update" in by_name and "batchnorm_backward" not in by_name
    assert "sigmoid_forward" in by_name and "relu_forward" not in by_name


def test_results_json_follows_the_gradescope_schema(crafted):
    _, results = crafted
    assert set(results) == {"score", "execution_time", "output", "visibility", "tests"}
    numbers = set()
    for t in results["tests"]:
        assert set(t) == {"name", "number", "score", "max_score", "status", "output", "tags",
                          "visibility"}
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in ("visible", "after_published")
        assert (t["visibility"] == "after_published") == t["name"].endswith("(hidden)")
        assert t["number"] not in numbers
        numbers.add(t["number"])
        # curated feedback: no traceback, no test source
        for leak in ("Traceback", "def test_", "assert_close(", "tests/hidden", "numeric_grad"):
            assert leak not in t["output"], (t["name"], t["output"])


def test_gradescope_results_of_the_stubs(stubs_grade):
    doc = gradescope_results(stubs_grade)
    assert doc["score"] == 0 and len(doc["tests"]) == len(stubs_grade.records)
    assert {t["visibility"] for t in doc["tests"]} == {"visible", "after_published"}


# ------------------------------------------------------------------ check()
CHECK_SCRIPT = """
import pathlib, sys
from nnlib.grading import check
print(bool(check("dense")))
print(bool(check("dense", "dense_forward")))
print(bool(check("nope")))
print(bool(check("dense", "nope")))
"""


def test_check_reports_stubs_as_not_implemented(stub_course):
    env = clean_env()  # inside a course folder, as in a student's notebook: its exercises/
    first = run(["-c", CHECK_SCRIPT], cwd=stub_course / "course", env=env)
    again = run(["-c", CHECK_SCRIPT], cwd=stub_course / "course", env=env)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert first.stdout == again.stdout  # deterministic
    out = first.stdout
    assert "check('dense'): 0 of 7 tests passed." in out
    assert "dense_forward   not implemented yet: write its body in exercises/dense.py" in out
    assert "dense_backward  waiting for dense_forward (not implemented yet)" in out
    assert "check: unknown topic 'nope'" in out
    assert "unknown function(s) 'nope'" in out
    assert out.count("False") == 4 and str(stub_course) not in out and "0x" not in out


def test_check_passes_the_solutions():
    out = run(["-c", CHECK_SCRIPT], cwd=ROOT / "course",
              env=clean_env(NNLIB_IMPL="solutions")).stdout
    assert out.splitlines()[:4] == ["check('dense'): all 7 tests passed.", "True",
                                    "check('dense', 'dense_forward'): all 4 tests passed.",
                                    "True"]


EDIT_SCRIPT = """
import pathlib, sys
from nnlib.grading import check
folder = pathlib.Path(sys.argv[1])
src = (folder / "adam.py").read_text()
(folder / "adam.py").write_text(src.replace("1.0 - beta1**t", "1.0 - beta1"))
print(bool(check("adam")))
(folder / "adam.py").write_text(src)
print(bool(check("adam")))
"""


def test_check_uses_the_edited_file_in_the_same_process(tmp_path):
    sub = make_submission(tmp_path / "me")
    proc = run(["-c", EDIT_SCRIPT, str(sub)], env=clean_env(NNLIB_IMPL=str(sub)))
    lines = proc.stdout.splitlines()
    assert "FAILED" in proc.stdout and lines[-2:] == ["check('adam'): all 3 tests passed.",
                                                       "True"], proc.stdout + proc.stderr
    assert "me/adam.py" not in proc.stdout or str(tmp_path) not in proc.stdout


def test_check_result_is_truthy_and_shows_nothing_in_a_notebook():
    from nnlib.grading import CheckResult
    assert CheckResult(True) and not CheckResult(False)
    assert CheckResult(True) == True and CheckResult(False) == False  # noqa: E712
    assert CheckResult(True)._ipython_display_() is None  # IPython shows nothing below the summary


def test_the_table_wraps_a_long_message_instead_of_cutting_it():
    from nnlib.grading.grader.results import Grade

    message = ("batchnorm_forward with gamma=1, beta=0: each column should have variance 1 "
               "(normalize over the batch axis 0, with the biased variance), got [0.75 0.75]")
    records = [
        {"nodeid": "a", "name": "t1", "topic": "batchnorm", "function": "batchnorm_forward",
         "points": 2.0, "visibility": "visible", "status": "failed", "message": message,
         "score": 0.0},
        {"nodeid": "b", "name": "t2", "topic": "dropout", "function": "dropout_forward",
         "points": 1.0, "visibility": "visible", "status": "not implemented",
         "message": "dropout_forward is not implemented yet", "score": 0.0},
    ]
    for width in (60, 100):
        table = format_table(Grade(records=records), width=width)
        assert " ".join(table.split()).count("with the biased variance), got [0.75 0.75]") == 1
        assert "..." not in table
        assert all(len(line) <= width for line in table.splitlines() if "Score" not in line)
        dropout = next(line for line in table.splitlines() if line.startswith("dropout"))
        assert "not implemented" in dropout and "failed" not in dropout
        assert table.splitlines()[-1] == "Score: 0 / 3"


def test_no_line_of_the_table_is_wider_than_the_terminal_whatever_the_student_raises():
    """A word longer than a line (blank-looking U+2800 between the words) or wide characters
    would make the terminal wrap the line itself, and put the student's text at the start
    of a line: a fake total in the middle of the table."""
    import unicodedata

    from nnlib.grading.grader.results import Grade

    fake = "\u2800" * 61 + "Score:\u2800210\u2800/\u2800210" + "\u2800" * 84 + "All\u2800done"
    for text in (fake, "\u5206" * 150):
        records = [{"nodeid": "a", "name": "t1", "topic": "dense", "function": "dense_backward",
                    "points": 2.0, "visibility": "visible", "status": "failed",
                    "message": f"dense_backward raised ValueError: {text}", "score": 0.0}]
        for width in (60, 100):
            lines = format_table(Grade(records=records), width=width).splitlines()
            columns = [sum(1 + (unicodedata.east_asian_width(c) in "WF") for c in line)
                       for line in lines]
            assert max(columns) <= width, (width, columns)
            assert lines[-1] == "Score: 0 / 2"


def test_each_catalogued_mistake_is_named_and_nothing_else_is(mutant_results, solutions_grade):
    """The judge names a mutant's catalogued mistake in at least one failing test and no
    other id anywhere; mutants outside the catalogue and the solutions get no name."""
    results, _ = mutant_results
    for m in MUTANTS:
        records = results[m.name].records
        named = {r["mistake"] for r in records if r.get("mistake")}
        assert named == ({m.catalogue} if m.catalogue else set()), (m.name, named)
        assert all(r["status"] == "failed" for r in records if r.get("mistake")), m.name
        if m.catalogue:  # the message says it, and results.json carries it
            shown = [r["message"] for r in records if r.get("mistake")]
            assert all(f"(the known mistake '{m.catalogue}')" in s for s in shown), m.name
            entries = gradescope_results(results[m.name])["tests"]
            assert {e["extra_data"]["mistake"] for e in entries if "extra_data" in e} == {
                m.catalogue}, m.name
    assert not any(r.get("mistake") for r in solutions_grade.records)
