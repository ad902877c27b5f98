"""What the class report shows, computed once from the grades: tests, mistakes, students.

Read by :mod:`.report` (the page) and :mod:`.report_figures` (its figures); only the
records' ``status`` and ``mistake`` fields count, never the messages' wording.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from nnlib.grading.grader.results import Grade
from nnlib.grading.registry import EXERCISES, MISTAKES, TOPICS

FUNCTION_ORDER = {e.function: i for i, e in enumerate(EXERCISES)}
TOPIC_ORDER = {t: i for i, t in enumerate(TOPICS)}
MISTAKE_ORDER = {m.id: i for i, m in enumerate(MISTAKES)}
MISTAKE = {m.id: m for m in MISTAKES}


def fmt_points(x: float) -> str:
    """Points as the page prints them (``2``, ``0.5``)."""
    return f"{x:g}"


def fmt_share(x: float) -> str:
    """A share in [0, 1] as a whole percentage."""
    return f"{100 * x:.0f}%"



@dataclass
class TestRow:
    """One test across the class: its outcomes and the named mistakes it caught."""

    nodeid: str
    name: str
    topic: str
    function: str
    points: float
    hidden: bool
    status: Counter = field(default_factory=Counter)
    mistakes: Counter = field(default_factory=Counter)


@dataclass
class MistakeRow:
    """One named mistake in one function, and the students who made it."""

    id: str
    function: str
    students: list[str]


@dataclass
class ClassSummary:
    """What the page shows, computed once from the grades."""

    names: list[str]
    grades: dict[str, Grade]
    max_score: float
    tests: list[TestRow]
    mistake_rows: list[MistakeRow]
    student_mistakes: dict[str, list[tuple[str, str]]]
    topics: list[str]


def summarize(results: Mapping[str, Grade]) -> ClassSummary:
    """The class summary of ``results`` (``{student: Grade}``), in catalogue order."""
    names = sorted(results)
    tests: dict[str, TestRow] = {}
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    per_student: dict[str, set[tuple[str, str]]] = {n: set() for n in names}
    for name in names:
        for r in results[name].records:
            t = tests.get(r["nodeid"])
            if t is None:
                t = tests[r["nodeid"]] = TestRow(
                    r["nodeid"], str(r.get("name", r["nodeid"])), r["topic"], r["function"],
                    float(r["points"]), r.get("visibility") == "hidden")
            t.status[str(r["status"])] += 1
            mistake = r.get("mistake") or ""
            if mistake:
                t.mistakes[mistake] += 1
                seen[(mistake, r["function"])].add(name)
                per_student[name].add((mistake, r["function"]))
    ordered = sorted(tests.values(), key=lambda t: (
        TOPIC_ORDER.get(t.topic, len(TOPICS)), t.topic,
        FUNCTION_ORDER.get(t.function, len(EXERCISES)), t.function, t.hidden))
    rows = [MistakeRow(m, f, sorted(who)) for (m, f), who in seen.items()]
    rows.sort(key=lambda row: (-len(row.students), MISTAKE_ORDER.get(row.id, len(MISTAKES)),
                               row.id, FUNCTION_ORDER.get(row.function, 0), row.function))

    def catalogue_order(pair: tuple[str, str]) -> tuple:
        return (FUNCTION_ORDER.get(pair[1], len(EXERCISES)), pair[1],
                MISTAKE_ORDER.get(pair[0], len(MISTAKES)), pair[0])

    topics = [t for t in TOPICS if any(x.topic == t for x in ordered)]
    topics += sorted({x.topic for x in ordered} - set(topics))
    return ClassSummary(names=names, grades=dict(results),
                  max_score=max(g.max_score for g in results.values()), tests=ordered,
                  mistake_rows=rows,
                  student_mistakes={n: sorted(per_student[n], key=catalogue_order)
                                    for n in names},
                  topics=topics)

