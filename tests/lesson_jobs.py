"""A lesson graded by the trusted grader in this test process, kept alive for many checks.

``lesson_job(lesson)`` grades the lesson's source filled with the reference answers exactly as
``course grade`` would (:class:`course.grading.job.Job`: the notebook in a bubblewrap sandbox,
the tests here) and keeps its sandbox running, so the wrong-answer catalogue can swap one answer
at a time and rerun that exercise's tests in seconds instead of grading a whole notebook per
wrong answer. One job per lesson per test worker (tests of a lesson share an xdist group).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import ROOT

from course import data
from course.cells import exercise_of
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.grading import batch
from course.grading.job import CellSpec, Job, TestOutcome
from course.grading.sandbox import Limits

CELL_TIMEOUT = 300  # generous: several workers share two cores


class LessonJob:
    def __init__(self, lesson: str, kind: str = "solution"):
        self.lesson = lesson
        source_path = Checkout(ROOT).source(lesson)
        source = nbs.read(source_path)
        release = nbs.read(Checkout(ROOT).release(lesson))
        self.plan = batch.make_plan(lesson, source_path, source, release, "tests")
        nb = nbs.fill_release(source, source) if kind == "solution" else release
        folder = source_path.parent if kind == "solution" else Checkout(ROOT).release(lesson).parent
        files = {
            str(p.relative_to(folder)): str(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts
            and "__pycache__" not in p.parts and "data" not in p.relative_to(folder).parts
        }  # fmt: skip
        self.spec = batch.spec_for(
            self.plan, kind, nb, files, data=data.data_root(), cell_timeout=CELL_TIMEOUT,
            timeout=3600, limits=Limits(threads=1),
        )  # fmt: skip
        self.job = Job(self.spec, Path(tempfile.mkdtemp(prefix=f"job-{lesson}-")))
        with self.job.hooks():
            self.job._run_all()
        self.outcomes = {t.grade_id: t for t in self.job.result.tests}

    def answer_cell(self, exercise: str) -> CellSpec:
        return next(c for c in self.spec.cells if c.kind == "student" and c.grade_id == exercise)

    def tests_of(self, exercise: str) -> list[CellSpec]:
        return [
            c for c in self.spec.cells
            if c.kind == "test" and exercise_of(c.grade_id) == exercise
        ]  # fmt: skip

    def try_answer(self, exercise: str, source: str, tests: list[str] | None = None):
        """Put ``source`` in the answer cell of ``exercise``, run its tests (or ``tests``) in
        the grader, put the reference answer back. Returns ``{grade_id: TestOutcome}``."""
        cells = [c for c in self.spec.cells if c.kind == "test" and c.grade_id in tests] if tests \
            else self.tests_of(exercise)  # fmt: skip
        answer = self.answer_cell(exercise)
        out: dict[str, TestOutcome] = {}
        with self.job.hooks():
            cell = self.job.run_student_cell(CellSpec(answer.index, "student", source, exercise))
            for test in cells:
                out[test.grade_id] = self.job.run_test(test)
            self.job.run_student_cell(answer)
        out["_cell"] = cell
        return out


_JOBS: dict[tuple[str, str], LessonJob] = {}


def lesson_job(lesson: str, kind: str = "solution") -> LessonJob:
    if (lesson, kind) not in _JOBS:
        _JOBS[(lesson, kind)] = LessonJob(lesson, kind)
    return _JOBS[(lesson, kind)]
