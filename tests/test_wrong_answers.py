"""Every plausible wrong answer in tests/wrong_answers/<lesson>.py is caught by the grader.

Each wrong answer replaces one answer cell of the reference solution, inside the trusted grader's
live job for that lesson (tests/lesson_jobs.py): the exercise's test cells (or the entry's
``caught_by``) run in the grader, hidden tests included, and at least one must fail. Then the
reference answer is put back for the next entry.
"""

from __future__ import annotations

import pytest
from conftest import ROOT, all_lessons
from lesson_jobs import lesson_job

from course.cells import grade_id, is_manual, is_solution
from course.checkout import Checkout, notebooks

CHECKOUT = Checkout(ROOT)

CASES = [
    pytest.param(
        lesson,
        wrong,
        id=f"{lesson}-{wrong['exercise']}-{wrong['name']}",
        marks=pytest.mark.xdist_group(lesson),
    )  # fmt: skip
    for lesson in all_lessons()
    for wrong in CHECKOUT.wrong_answers(lesson)
]


def test_every_lesson_has_a_catalogue():
    missing = [lesson for lesson in all_lessons() if not CHECKOUT.wrong_answers(lesson)]
    assert not missing, f"no wrong-answer catalogue for {missing} (tests/wrong_answers/<id>.py)"


def test_catalogue_covers_every_exercise():
    for lesson in all_lessons():
        src = notebooks.read(Checkout(ROOT).source(lesson))
        exercises = {grade_id(c) for c in src.cells if is_solution(c) and not is_manual(c)}
        catalogue = CHECKOUT.wrong_answers(lesson)
        covered = {w["exercise"] for w in catalogue}
        assert covered <= exercises, f"{lesson}: unknown exercises {covered - exercises}"
        assert exercises <= covered, f"{lesson}: no wrong answers for {sorted(exercises - covered)}"
        names = [(w["exercise"], w["name"]) for w in catalogue]
        assert len(names) == len(set(names)), f"{lesson}: duplicate catalogue names"


@pytest.mark.slow
@pytest.mark.parametrize("lesson, wrong", CASES)
def test_wrong_answer_is_caught(lesson, wrong):
    job = lesson_job(lesson)
    got = job.try_answer(wrong["exercise"], wrong["source"], wrong.get("caught_by"))
    cell = got.pop("_cell")
    caught = {gid: t.message for gid, t in got.items() if not t.passed}
    assert got, f"no tests ran for {wrong['exercise']!r}"
    assert caught, (
        f"wrong answer {wrong['name']!r} ({wrong.get('why', '')}) passes every test of "
        f"{wrong['exercise']!r} in the grader (its cell: {cell.status} {cell.error})"
    )
    if wrong.get("earns_nothing"):  # a broken how-constraint: none of the exercise's points
        earned = {gid: t.earned for gid, t in got.items() if t.earned}
        assert not earned, f"{wrong['name']!r} still earns {earned} in the grader"
    if wrong.get("flagged"):  # not verifiable from the source: withheld and sent to a human
        flags = job.job.result.flags
        assert any(f.startswith(f"{wrong['exercise']}: ") for f in flags), flags
    if "message" in wrong:  # what the student reads names their own objects (not a proxy's)
        assert any(wrong["message"] in m for m in caught.values()), (
            f"wrong answer {wrong['name']!r} is caught, but no message says {wrong['message']!r}: "
            f"{list(caught.values())}"
        )
