"""Every lesson through the trusted grader (``course grade``'s engine, docs/TEST_FORM.md): the
reference answers earn every point — except tests of a file the student hands in (lesson 05's
trained model), which fail with a clear message — and the blank release earns none, with no
test that crashed the grader itself."""

from __future__ import annotations

import pytest
from conftest import all_lessons
from lesson_jobs import lesson_job

LESSONS = all_lessons()


@pytest.mark.slow
@pytest.mark.parametrize(
    "lesson", [pytest.param(le, marks=pytest.mark.xdist_group(le)) for le in LESSONS]
)
def test_solution_earns_every_point_in_the_grader(lesson):
    job = lesson_job(lesson)
    assert not job.job.result.authoring, job.job.result.authoring
    lost = {
        gid: t.message
        for gid, t in job.outcomes.items()
        if not t.passed and gid not in job.plan.artifacts
    }
    assert not lost, f"the reference solution loses points in the grader: {lost}"
    assert set(job.outcomes) == set(job.plan.tests), "every test ran"
    for gid in job.plan.artifacts:
        assert "No checkpoint handed in" in job.outcomes[gid].message, job.outcomes[gid].message
    failed_cells = [c for c in job.job.result.cells if c.status != "ok"]
    assert not failed_cells, [(c.index, c.status, c.error) for c in failed_cells]


@pytest.mark.slow
@pytest.mark.parametrize(
    "lesson", [pytest.param(le, marks=pytest.mark.xdist_group(le)) for le in LESSONS]
)
def test_blank_release_earns_nothing_in_the_grader(lesson):
    job = lesson_job(lesson, kind="blank")
    assert not job.job.result.authoring, job.job.result.authoring
    passed = [gid for gid, t in job.outcomes.items() if t.passed]
    assert not passed, f"these tests pass on the blank release: {passed}"
    assert set(job.outcomes) == set(job.plan.tests)
    assert job.job.sandbox.report.starts == 1, "the blank release broke the sandbox"
