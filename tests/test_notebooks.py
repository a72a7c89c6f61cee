"""Generic tests run over every lesson: structure, release, leaks, solutions pass, blanks fail."""

from __future__ import annotations

import filecmp
import re

import nbformat
import pytest
from conftest import ROOT, all_lessons, executed

from course import cells
from course.checkout import Checkout, notebooks
from course.tools import execution, releases

LESSONS = all_lessons()
pytestmark = pytest.mark.skipif(not LESSONS, reason="no lessons in solutions/ yet")


def _source(lesson):
    return notebooks.read(Checkout(ROOT).source(lesson))


def _regions(source: str, begin: str, end: str, *, inside: bool = True) -> list[str]:
    """Lines strictly inside begin/end marker pairs (or, with ``inside=False``, outside them)."""
    out, within = [], False
    for line in source.split("\n"):
        if begin in line:
            within = True
        elif end in line:
            within = False
        elif within == inside:
            out.append(line)
    return out


@pytest.mark.parametrize("lesson", LESSONS)
def test_source_is_canonical(lesson):
    """Sources are committed without outputs and with deterministic ids (run `course release`)."""
    path = Checkout(ROOT).source(lesson)
    canonical = nbformat.writes(releases.normalize(notebooks.read(path)), version=4) + "\n"
    assert path.read_text(encoding="utf-8") == canonical, (
        f"{path} is not in canonical form (outputs or unstable ids): run `course release {lesson}`"
    )


@pytest.mark.parametrize("lesson", LESSONS)
def test_source_structure(lesson):
    """Grade ids unique, tests named <exercise>__<what>, every exercise tested with hidden tests."""
    nb = _source(lesson)
    ids = [cells.grade_id(c) for c in nb.cells if cells.grade_id(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {sorted(ids)}"
    answers = [
        cells.grade_id(c) for c in nb.cells if cells.is_solution(c) and not cells.is_manual(c)
    ]
    tests = [c for c in nb.cells if cells.is_test(c)]
    assert answers, "a lesson needs at least one exercise"
    for cell in tests:
        gid = cells.grade_id(cell)
        assert "__" in gid, f"test cell {gid!r} must be named <exercise>__<what>"
        assert cells.exercise_of(gid) in answers, f"test {gid!r} names no answer cell"
        assert cells.points(cell) > 0, f"test {gid!r} has no points"
        assert cell.source.count(notebooks.HIDDEN_BEGIN) == cell.source.count(notebooks.HIDDEN_END)
    for ex in answers:
        mine = [c for c in tests if cells.exercise_of(cells.grade_id(c)) == ex]
        assert mine, f"exercise {ex!r} has no test cell"
        assert any(notebooks.HIDDEN_BEGIN in c.source for c in mine), (
            f"exercise {ex!r} has no hidden tests"
        )
    for cell in nb.cells:
        if cells.is_solution(cell) and cell.cell_type == "code":
            assert notebooks.SOLUTION_BEGIN in cell.source, f"{cells.grade_id(cell)}: no markers"
    assert any(cells.is_manual(c) for c in nb.cells), "each lesson has a written answer"


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_equals_regeneration(lesson, fresh_release):
    """notebooks/ is exactly what `course release` produces today (byte for byte)."""
    committed, fresh = ROOT / "notebooks" / lesson, fresh_release / lesson
    assert committed.is_dir(), f"notebooks/{lesson} is missing: run `course release {lesson}`"
    cmp = filecmp.dircmp(committed, fresh, ignore=["__pycache__", ".ipynb_checkpoints"])
    assert not cmp.left_only and not cmp.right_only, (cmp.left_only, cmp.right_only)
    for name in cmp.common_files:
        a, b = (committed / name).read_bytes(), (fresh / name).read_bytes()
        assert a == b, (
            f"notebooks/{lesson}/{name} differs from a fresh release: run `course release`"
        )


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_leaks_nothing(lesson):
    """No solution code, hidden test or marker survives into the student notebook."""
    src = _source(lesson)
    rel_text = Checkout(ROOT).release(lesson).read_text(encoding="utf-8")
    rel = notebooks.read(Checkout(ROOT).release(lesson))
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in rel_text, f"marker {marker!r} left in the release"
    # lines that only exist inside hidden/solution regions must not appear anywhere in the release
    outside = set()
    secret = []
    for cell in src.cells:
        hidden = _regions(cell.source, notebooks.HIDDEN_BEGIN, notebooks.HIDDEN_END)
        sol = _regions(cell.source, notebooks.SOLUTION_BEGIN, notebooks.SOLUTION_END)
        visible = _regions(
            "\n".join(
                _regions(cell.source, notebooks.HIDDEN_BEGIN, notebooks.HIDDEN_END, inside=False)
            ),
            notebooks.SOLUTION_BEGIN,
            notebooks.SOLUTION_END,
            inside=False,
        )
        # a line that is also written outside the regions (a visible test repeating a hidden
        # one's loop, say) is not a secret
        outside.update(line.strip() for line in visible)
        secret += hidden + sol
    rel_lines = {line.strip() for c in rel.cells for line in c.source.split("\n")}
    leaked = sorted(
        {
            s.strip()
            for s in secret
            if len(s.strip()) > 12 and s.strip() not in outside and s.strip() in rel_lines
        }
    )
    assert not leaked, f"hidden/solution lines leaked into the release: {leaked[:5]}"
    # written answers are blank in the release
    for cell in rel.cells:
        if cells.is_manual(cell):
            assert re.sub(r"\s", "", cell.source) in {"YOURANSWERHERE", ""}, cell.source[:80]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_passes_every_test(lesson, tmp_path_factory):
    """The reference solution passes every graded test, hidden ones included."""
    res = execution.results(executed("solutions", lesson, tmp_path_factory))
    assert res, "no graded tests ran"
    failed = [(r.grade_id, r.message) for r in res if not r.passed]
    assert not failed, f"solution fails: {failed}"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_release_fails_every_test_without_crashing(lesson, tmp_path_factory):
    """The blank release fails every graded test, and the kernel survives to the last cell."""
    nb = executed("notebooks", lesson, tmp_path_factory)
    res = execution.results(nb)
    assert res, "no graded tests ran"
    passed = [r.grade_id for r in res if r.passed]
    assert not passed, f"these tests pass on the blank release (they test nothing): {passed}"
    for r in res:
        assert "DeadKernel" not in r.message, f"{r.grade_id}: kernel died"
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last_code.get("execution_count") is not None or last_code.get("outputs") is not None
