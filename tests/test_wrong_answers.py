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

from course.tools import notebooks
from course.tools.demo import load_catalogue

CASES = [
    pytest.param(
        lesson,
        wrong,
        id=f"{lesson}-{wrong['exercise']}-{wrong['name']}",
        marks=pytest.mark.xdist_group(lesson),
    )  # fmt: skip
    for lesson in all_lessons()
    for wrong in load_catalogue(lesson, ROOT)
]


def test_every_lesson_has_a_catalogue():
    missing = [lesson for lesson in all_lessons() if not load_catalogue(lesson, ROOT)]
    assert not missing, f"no wrong-answer catalogue for {missing} (tests/wrong_answers/<id>.py)"


def test_catalogue_covers_every_exercise():
    for lesson in all_lessons():
        src = notebooks.read(notebooks.source_path(lesson, ROOT))
        exercises = {
            notebooks.grade_id(c)
            for c in src.cells
            if notebooks.is_solution(c) and not notebooks.is_manual(c)
        }
        catalogue = load_catalogue(lesson, ROOT)
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
    if "message" in wrong:  # the student's message names what they really wrote
        assert any(wrong["message"] in m for m in caught.values()), (
            f"wrong answer {wrong['name']!r} is caught, but no message says {wrong['message']!r}: {caught}"
        )
