"""A graded class built from JSON results, without grading anything: what ``course grade``
writes (``grades.csv`` through its own writer, ``results/*.json`` through its own store), with
a known truth, for the tests of ``course report`` and ``course export``.

Student ``s00`` … ``s39`` has ability ``i / (n - 1)``. Tests of lesson ``01_residual_block``:

* ``shape`` (0.5 pt) — passed from ability 0.25; failed with "expected shape (B, 16, 8, 8), got
  (B, 16, 16, 16)" (B varies with the student: one template) by all but the weakest failing
  students, who are "not answered yet";
* ``values`` (1 pt) — passed from ability 0.5;
* ``gradients`` (1 pt) — passed from ability 0.75;
* ``broken`` (1 pt) — passed by every other student whatever their ability: discrimination ~ 0;
* ``inverted`` (0.5 pt) — passed only by the weakest students: discrimination < 0.

Statuses: ``s01`` missing, ``s02`` unreadable, ``s03`` timed out, ``s04`` and ``s05`` graded but
flagged (``s05``'s id is HTML, to prove the page escapes it).
"""

from __future__ import annotations

from pathlib import Path

from course.grading.batch import Store
from course.grading.job import JobResult, TestOutcome
from course.grading.report import Result, write_csv

LESSON = "01_residual_block"
TESTS = {  # name -> (points, passed(ability, index))
    "shape": (0.5, lambda a, i: a >= 0.25),
    "values": (1.0, lambda a, i: a >= 0.5),
    "gradients": (1.0, lambda a, i: a >= 0.75),
    "broken": (1.0, lambda a, i: i % 2 == 0),
    "inverted": (0.5, lambda a, i: a < 0.2),
}
NOT_GRADED = {"s01": "missing", "s02": "unreadable", "s03": "timeout"}
HOSTILE = "<script>alert(1)</script>"
FLAGGED = {"s04": "scan: the answer cell opens /etc/passwd", HOSTILE: "grader: <b>bold</b> try"}
NOT_ANSWERED = "not answered yet (the answer cell still raises NotImplementedError)"


def student_ids(n: int) -> list[str]:
    ids = [f"s{i:02d}" for i in range(n)]
    ids[5] = HOSTILE
    return ids


def message(test: str, ability: float, index: int) -> str:
    if ability < 0.1:
        return NOT_ANSWERED
    if test == "shape":
        batch = 2 + index % 3
        return f"expected shape ({batch}, 16, 8, 8), got ({batch}, 16, 16, 16)"
    return f"{test}: 3 of 10 value(s) differ at index (0, {index % 4}): got 0.{index}, expected 1"


def build(out: Path, n: int = 40) -> list[Result]:
    """Write a graded class of ``n`` students into ``out``; returns its results."""
    store = Store(out)
    results = []
    for i, student in enumerate(student_ids(n)):
        ability = i / (n - 1)
        res = Result(student, LESSON, max_score=sum(p for p, _ in TESTS.values()), manual_max=2)
        if student in NOT_GRADED:
            res.status = NOT_GRADED[student]
            res.reason = f"the notebook is {res.status}"
            results.append(res)
            continue
        job = JobResult(student, LESSON)
        for test, (points, passes) in TESTS.items():
            ok = passes(ability, i)
            job.tests.append(
                TestOutcome(
                    test, points, points if ok else 0.0, "" if ok else message(test, ability, i)
                )
            )
        store.save(student, LESSON, "digest", "fingerprint", job)
        res.tests = {t.grade_id: t.earned for t in job.tests}
        res.score = job.score
        if student in FLAGGED:
            res.flags.append(FLAGGED[student])
        results.append(res)
    write_csv(results, out / "grades.csv")
    return results
