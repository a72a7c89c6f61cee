"""What a notebook cell is to the course: nbgrader's cell semantics, defined once.

Works on :mod:`nbformat` cells and on plain JSON dicts alike (the kernel-side progress table
reads the notebook file with :mod:`json`), so the student-facing runtime and the instructor
tools and the grading wing agree on what a test is.

* An **answer cell** (``solution``): its ``grade_id`` is the exercise name (``residual_block``).
* A **test cell** (``grade``, not ``solution``, code): ``grade_id`` is ``<exercise>__<what>``.
* A **written answer** (``grade`` + ``solution``, markdown): graded by hand.
* **Course cells**: the locked cells every release gets from one template
  (:mod:`course.tools.course_cells`): Colab set-up first, the progress table last. They are not
  lesson content; graders and tools skip them.
"""

from __future__ import annotations

NOT_ANSWERED = "not answered yet"
COLAB_SETUP_ID = "colab_setup"
PROGRESS_ID = "progress_summary"
COURSE_CELL_IDS = (COLAB_SETUP_ID, PROGRESS_ID)


def nbgrader_meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def grade_id(cell) -> str:
    """The cell's nbgrader grade id; ``""`` for a cell without one."""
    return nbgrader_meta(cell).get("grade_id") or ""


def source(cell) -> str:
    """The cell's source as one string (on disk it may be a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


# The predicates below mean exactly what nbgrader.utils' is_grade / is_solution / is_locked mean
# (tests/test_tooling.py checks that they agree on every cell of every lesson). They are not
# imported from there because importing nbgrader.utils imports all of nbgrader (its server
# extensions): seconds, for every `course check`, every kernel and every test worker.
def is_locked(cell) -> bool:
    """Read-only for students (nbgrader restores it): locked, or a test cell."""
    m = nbgrader_meta(cell)
    if m.get("solution"):
        return False
    return bool(m.get("grade") or m.get("locked"))


def is_test(cell) -> bool:
    """An autograded test cell (grade, not solution)."""
    m = nbgrader_meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.get("cell_type") == "code"


def is_manual(cell) -> bool:
    """A manually graded answer (grade + solution)."""
    m = nbgrader_meta(cell)
    return bool(m.get("grade")) and bool(m.get("solution"))


def is_helper(cell) -> bool:
    """A locked code cell whose grade id ends in ``helpers``: functions the tests use, run both
    in the student's kernel and in the grader (docs/TEST_FORM.md)."""
    return (
        cell.get("cell_type") == "code"
        and is_locked(cell)
        and not is_test(cell)
        and (grade_id(cell) or "").endswith("helpers")
    )


def grades_artifact(cell) -> bool:
    """A test cell that grades a file the student hands in (lesson 05's trained checkpoint,
    scored with ``course.scoring.check_band`` or ``score_checkpoint``) rather than code in the
    notebook."""
    return is_test(cell) and any(f in source(cell) for f in ("check_band(", "score_checkpoint("))


def is_course_cell(cell) -> bool:
    """One of the generated course cells (Colab set-up, progress table), not lesson content."""
    return grade_id(cell) in COURSE_CELL_IDS


def exercise_of(gid: str) -> str:
    """``residual_block__shape`` -> ``residual_block``; a solution id is its own exercise."""
    return gid.split("__", 1)[0]


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)
