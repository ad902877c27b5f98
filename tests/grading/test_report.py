"""The class report (``nnlib grade --submissions DIR --report OUTDIR``).

Most tests build the grades by hand (records as the judge writes them, with the ``mistake``
field set in the test data), so they do not depend on the judge's matching; one test runs
the command on a small class end to end.
"""

from __future__ import annotations

import html
import re
import struct
from pathlib import Path

import pytest

from nnlib.grading.grader.report import INDEX, check_report_dir, write_report
from nnlib.grading.grader.results import Grade
from nnlib.grading.impl import GradingSetupError
from nnlib.grading.registry import mistake

from .conftest import make_submission, run
from .mutants import MUTANTS, write_submission

# (topic, function, test name, points, hidden)
TESTS = [
    ("dense", "dense_forward", "test_dense_forward_values", 2, False),
    ("dense", "dense_backward", "test_dense_backward_gradcheck", 2, False),
    ("dense", "dense_backward", "test_dense_backward_db", 1, True),
    ("batchnorm", "batchnorm_forward", "test_batchnorm_forward_values", 2, False),
    ("batchnorm", "batchnorm_inference", "test_batchnorm_inference_values", 1, True),
    ("adam", "adam_update", "test_adam_update_first_steps", 2, False),
]
MAX = sum(t[3] for t in TESTS)


def grade_of(failed: dict[str, str] | None = None, waiting: tuple[str, ...] = (),
             problems: tuple[str, ...] = ()) -> Grade:
    """A Grade whose tests pass, except ``failed`` ({test name: mistake id or ""}) and
    ``waiting`` (test names)."""
    failed = failed or {}
    records = []
    for topic, function, name, points, hidden in TESTS:
        status = "failed" if name in failed else "waiting" if name in waiting else "passed"
        records.append({
            "nodeid": f"tests/{'hidden' if hidden else 'public'}/test_{topic}.py::{name}",
            "name": name, "topic": topic, "function": function, "points": float(points),
            "visibility": "hidden" if hidden else "visible", "status": status,
            "message": "" if status == "passed" else "wrong values <b>",
            "missing": "", "waiting_for": "", "mistake": failed.get(name, ""),
            "score": float(points) if status == "passed" else 0.0})
    return Grade(records=records, problems=list(problems))


HOSTILE = '<script>alert("x")</script>'


def a_class() -> dict[str, Grade]:
    return {
        "alice": grade_of(),
        "bob": grade_of({"test_dense_backward_gradcheck": "dense_db_mean",
                         "test_dense_backward_db": "dense_db_mean"}),
        HOSTILE: grade_of({"test_dense_backward_db": "dense_db_mean",
                           "test_batchnorm_forward_values": "bn_eps_outside_sqrt",
                           "test_batchnorm_inference_values": "bn_eps_outside_sqrt",
                           "test_adam_update_first_steps": ""},
                          problems=("a <problem> quoting <img src=x onerror=alert(1)>",)),
        "dave": grade_of({"test_batchnorm_forward_values": "bn_eps_outside_sqrt"},
                         waiting=("test_batchnorm_inference_values",)),
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG file"
    return struct.unpack(">II", data[16:24])


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def table_rows(page: str, section: str) -> list[str]:
    """The text of each row of the first table after the heading with id ``section``."""
    part = page.split(f'id="{section}"', 1)[1]
    table = part.split("<table>", 1)[1].split("</table>", 1)[0]
    return [text_of("<tr" + row) for row in table.split("<tr")[1:]]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "class-report"  # created by write_report
    index = write_report(a_class(), out)
    return out, index.read_text(encoding="utf-8")


def test_the_page_exists_with_its_figures_referenced_relatively(report):
    out, page = report
    assert (out / INDEX).is_file()
    srcs = re.findall(r'<img src="([^"]+)" width="(\d+)" height="(\d+)"', page)
    assert [s for s, _, _ in srcs] == ["scores.png", "mistakes.png", "functions.png"]
    for src, w, h in srcs:
        assert png_size(out / src) == (int(w), int(h)), src  # the page states the true size
    assert "<script" not in page.lower()  # no JavaScript, and no server needed
    assert "http://" not in page and "https://" not in page
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_the_page_gives_the_scores(report):
    _, page = report
    text = text_of(page)
    assert f"4 submissions graded with 6 tests (2 of them hidden), {MAX} points in all" in text
    assert "full marks: 1 of 4" in text
    rows = {r.split(" ")[0]: r for r in table_rows(page, "students")[1:]}
    assert rows["alice"].startswith(f"alice {MAX} / {MAX} ")
    assert rows["bob"].startswith(f"bob {MAX - 3} / {MAX} ")


def test_each_named_mistake_is_named_with_its_count_and_its_students(report):
    _, page = report
    rows = table_rows(page, "mistakes")
    assert rows[0].startswith("mistake what the output shows function students who")
    db = mistake("dense_db_mean")
    # most frequent first; one row per mistake and function
    assert rows[1].startswith(f"dense_db_mean your {db.name} dense_backward 2 of 4 "
                              f"{HOSTILE}, bob {db.fix}")
    assert rows[2].startswith("bn_eps_outside_sqrt your ") and \
        " batchnorm_forward 2 of 4 " + f"{HOSTILE}, dave " in rows[2]
    assert rows[3].startswith("bn_eps_outside_sqrt ") and \
        f" batchnorm_inference 1 of 4 {HOSTILE} " in rows[3]
    assert len(rows) == 4
    # per student, and in the pass-rate table per test
    students = {r.split(" ")[0]: r for r in table_rows(page, "students")[1:]}
    assert students["bob"].endswith("dense_db_mean (dense_backward)")
    assert students["alice"].endswith(" none")
    tests = table_rows(page, "tests")
    db_row = next(r for r in tests if r.startswith("test_dense_backward_db "))
    assert db_row == "test_dense_backward_db hidden 1 2 of 4 (50%) 2 dense_db_mean ×2"


def test_every_test_has_its_pass_rate_grouped_by_function_hidden_tests_included(report):
    _, page = report
    rows = table_rows(page, "tests")[1:]
    groups = [r for r in rows if "results passed" in r]
    assert [g.split(" \u2014")[0] for g in groups] == [
        "dense: dense_forward", "dense: dense_backward", "batchnorm: batchnorm_forward",
        "batchnorm: batchnorm_inference", "adam: adam_update"]
    assert "2 tests; 5 of 8 results passed (62%)" in groups[1]
    assert groups[1].endswith("all its tests passed: 2 of 4 students")
    tests = [r for r in rows if r not in groups]
    assert [t.split(" ")[0] for t in tests] == [t[2] for t in TESTS]
    inference = tests[4]
    assert inference == ("test_batchnorm_inference_values hidden 1 2 of 4 (50%) 1 1 "
                         "bn_eps_outside_sqrt ×1")


def test_student_controlled_strings_are_escaped(report):
    _, page = report
    assert HOSTILE not in page and "<img src=x" not in page
    assert html.escape(HOSTILE) in page
    assert "a &lt;problem&gt; quoting &lt;img src=x onerror=alert(1)&gt;" in page
    # the policy forbids scripts even if something slipped through
    assert "default-src 'none'" in page and "script-src" not in page


def test_a_name_that_is_not_utf8_is_shown_not_fatal(tmp_path):
    name = b"caf\xe9".decode("utf-8", "surrogateescape")  # a folder name in Latin-1
    page = write_report({name: grade_of()}, tmp_path).read_text(encoding="utf-8")
    assert "caf\\udce9" in page


def test_the_report_is_deterministic(report, tmp_path):
    out, page = report
    again = write_report(a_class(), tmp_path)
    assert again.read_text(encoding="utf-8") == page
    for name in ("scores.png", "functions.png", "mistakes.png"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_a_class_without_named_mistakes(tmp_path):
    (tmp_path / "mistakes.png").write_bytes(b"stale")  # from an earlier report
    results = {"alice": grade_of(), "bob": grade_of({"test_adam_update_first_steps": ""})}
    page = write_report(results, tmp_path).read_text(encoding="utf-8")
    assert "Nobody made a named mistake" in text_of(page)
    assert "mistakes.png" not in page and not (tmp_path / "mistakes.png").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"index.html", "scores.png",
                                                    "functions.png"}
    students = {r.split(" ")[0]: r for r in table_rows(page, "students")[1:]}
    assert students["bob"].startswith(f"bob {MAX - 2} / {MAX} ")


def test_an_empty_class_is_a_clear_error(tmp_path):
    with pytest.raises(GradingSetupError, match="at least one graded submission"):
        write_report({}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_report_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(GradingSetupError, match="exists and is not a folder"):
        check_report_dir(tmp_path / "taken")


def test_the_command_checks_its_options_before_grading(tmp_path):
    proc = run(["-m", "nnlib", "grade", "--report", str(tmp_path / "r")])
    assert proc.returncode == 2 and "--report only work with --submissions" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run(["-m", "nnlib", "grade", "--submissions", str(tmp_path / "empty"), "--csv",
                str(tmp_path / "g.csv"), "--report", str(tmp_path / "r")])
    assert proc.returncode == 2 and "no submission folders" in proc.stderr
    (tmp_path / "file").write_text("")
    proc = run(["-m", "nnlib", "grade", "--submissions", str(tmp_path / "empty"), "--csv",
                str(tmp_path / "g.csv"), "--report", str(tmp_path / "file")])
    assert proc.returncode == 2 and "is not a folder" in proc.stderr


def test_the_command_writes_the_report_of_a_class(tmp_path):
    """End to end, public tests only: the solutions and one mutant."""
    subs = tmp_path / "subs"
    make_submission(subs / "alice")
    hostile = HOSTILE.replace("/", "_")  # a folder name cannot hold "/"
    write_submission(next(m for m in MUTANTS if m.name == "dense_db_mean"), subs / hostile)
    out = tmp_path / "report"
    # the report alone is enough output for a class run (no --csv)
    proc = run(["-m", "nnlib", "grade", "--submissions", str(subs), "--report", str(out),
                "--jobs", "1"])
    assert proc.returncode == 0, proc.stderr
    assert f"class report to {out / 'index.html'}" in proc.stdout
    assert "grades written" not in proc.stdout
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "2 submissions graded" in text_of(page)
    assert "<script>" not in page and html.escape(hostile) in page
    students = {r.split(" ")[0]: r for r in table_rows(page, "students")[1:]}
    assert re.match(r"alice ([\d.]+) / \1 ", students["alice"]), students["alice"]  # full marks
    assert students[hostile].endswith("dense_db_mean (dense_backward)")  # named by the judge
    assert table_rows(page, "mistakes")[1].startswith("dense_db_mean ")
    for src in re.findall(r'<img src="([^"]+)"', page):
        png_size(out / src)
