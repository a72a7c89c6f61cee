"""Every plausible wrong answer in tests/wrong_answers/<lesson>.py is caught by its exercise's tests.

Each wrong answer replaces one answer cell of the source notebook (all other answers correct,
hidden tests present); the notebook runs up to the exercise's last test cell. The wrong answer must
make at least one test of its exercise fail, while every test of other exercises still passes
(so the failure is specific, not a crash of the whole notebook).
"""

from __future__ import annotations

import pytest
from conftest import ROOT, all_lessons, scratch_copy

from course.tools import notebooks
from course.tools.demo import load_catalogue

CASES = [
    pytest.param(lesson, wrong, id=f"{lesson}-{wrong['exercise']}-{wrong['name']}")
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
        covered = {w["exercise"] for w in load_catalogue(lesson, ROOT)}
        assert covered <= exercises, (
            f"{lesson}: catalogue names unknown exercises {covered - exercises}"
        )
        assert exercises <= covered, f"{lesson}: no wrong answers for {sorted(exercises - covered)}"


@pytest.mark.slow
@pytest.mark.parametrize("lesson, wrong", CASES)
def test_wrong_answer_is_caught(lesson, wrong, tmp_path):
    path = scratch_copy("solutions", lesson, tmp_path / lesson, artifacts=False)
    src = notebooks.read(path)
    ex = wrong["exercise"]
    nb = notebooks.fill_release(src, src, exercises={ex: wrong["source"]})
    tests = [notebooks.grade_id(c) for c in nb.cells if notebooks.is_test(c)]
    mine = wrong.get("caught_by") or [t for t in tests if notebooks.exercise_of(t) == ex]
    assert mine, f"exercise {ex!r} has no tests"
    nb = notebooks.truncate_after(nb, mine)
    res = {
        r.grade_id: r
        for r in notebooks.results(notebooks.execute(nb, cwd=path.parent, timeout=300))
    }
    caught = [g for g in mine if g in res and not res[g].passed]
    assert caught, (
        f"wrong answer {wrong['name']!r} ({wrong.get('why', '')}) passes every test of {ex!r}"
    )
    others = [
        (g, r.message)
        for g, r in res.items()
        if notebooks.exercise_of(g) != ex and g not in mine and not r.passed
    ]
    assert not others, f"the wrong answer also broke unrelated tests: {others}"
