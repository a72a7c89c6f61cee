"""`course demo` end to end on the cheapest lesson: `course grade` gives the solution full marks,
the blank release zero and the partly wrong student something in between, records them in the
nbgrader gradebook and writes feedback pages.

What the demo does differently for lesson 05 (the lesson graded on a trained model) is checked on
the grading run that tests/test_trusted_grading.py already makes of that lesson (the same
solution, the same grader): the checkpoint's points are set apart in the gradebook and the
feedback page says why nobody earns them. Every lesson goes through the same grader in
tests/test_trusted_grading.py, and every catalogue entry (the demo's "partial" student hands in
one) in tests/test_wrong_answers.py."""

from __future__ import annotations

import pytest
import test_class_report
from conftest import ROOT, all_lessons
from lesson_jobs import lesson_job

from course import cells, cli
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.cli import demo

LESSONS = [le for le in all_lessons() if le.startswith("03")]
ARTIFACT_LESSON = "05_resnet34_cifar10"


@pytest.mark.slow
@pytest.mark.skipif(not LESSONS, reason="no lessons yet")
def test_demo_autograde_round_trip(tmp_path, capsys, browser):
    course_dir = tmp_path / "class"
    code = cli.main(["demo", *LESSONS, "--out", str(course_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = demo.gradebook_rows(course_dir, LESSONS)
    for lesson in LESSONS:
        by = {r["student"]: r for r in rows if r["lesson"] == lesson}
        full = by["solution"]["auto_max"] - by["solution"]["artifact_max"]
        assert by["solution"]["score"] == full > 0, (lesson, by["solution"])
        assert by["blank"]["score"] == 0, (lesson, by["blank"])
        assert 0 <= by["partial"]["score"] < by["solution"]["auto_max"], (lesson, by["partial"])
        for student in by:
            html = course_dir / "feedback" / student / lesson / f"{lesson}.html"
            assert html.is_file(), f"no feedback at {html}"
            text = html.read_text(encoding="utf-8")
            assert "BEGIN HIDDEN TESTS" not in text
            assert "The test's code is not shown" in text
    assert "gradebook" in out and "feedback" in out
    # the instructor's pages on this real class (course report, similarity, export): the
    # published solution is found as the solution student's source, the pages load clean
    assert cli.main(["report", str(course_dir)]) == 0
    assert cli.main(["similarity", str(course_dir), *LESSONS]) == 0
    pairs = (course_dir / "similarity.csv").read_text(encoding="utf-8")
    assert ",solution,1.000,yes" in pairs, pairs
    assert "blank" not in pairs  # the untouched stub resembles nothing
    for page in ("report.html", "similarity.html"):
        test_class_report.check_page(browser, course_dir / page)
    args = ["export", str(course_dir), "--canvas", "--gradebook", str(course_dir / "gradebook.db")]
    assert cli.main(args) == 0
    head = (course_dir / "canvas_grades.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert head[0] == ",".join(
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *LESSONS]
    )
    assert head[1].startswith("Points Possible,")


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "something").write_text("x")
    assert cli.main(["demo", "01", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "--dir" not in err, err


@pytest.mark.slow
@pytest.mark.xdist_group(ARTIFACT_LESSON)
@pytest.mark.skipif(ARTIFACT_LESSON not in all_lessons(), reason="no lesson 05")
def test_demo_sets_the_checkpoints_points_apart_and_says_why():
    """The demo's "solution" student of lesson 05 hands in no trained checkpoint: it earns every
    point but the checkpoint's, the gradebook table marks them, the feedback page explains."""
    from course.grading import feedback

    source = nbs.read(Checkout(ROOT).source(ARTIFACT_LESSON))
    artifacts = demo.artifact_cells(source)
    assert artifacts, "lesson 05 has test cells that score the handed-in checkpoint"
    job = lesson_job(ARTIFACT_LESSON)  # the reference answers, graded as `course grade` does
    points = {cells.grade_id(c): cells.points(c) for c in source.cells if cells.is_test(c)}
    earned = sum(points[gid] for gid, t in job.outcomes.items() if t.passed)
    assert earned == sum(points.values()) - sum(artifacts.values()) > 0
    row = {"student": "solution", "lesson": ARTIFACT_LESSON, "score": earned,
           "auto_max": sum(points.values()), "manual_max": 0, "artifact_max": sum(artifacts.values())}  # fmt: skip
    rows = [row, *({**row, "student": s} for s in demo.STUDENTS if s != "solution")]
    table = demo.format_gradebook(rows, [ARTIFACT_LESSON])
    assert f"{earned:g}/{row['auto_max']:g}*" in table and "for a trained model" in table, table
    staged = nbs.fill_release(source, source)
    page = feedback.feedback_html(feedback.feedback_notebook(staged, job.job.result))
    assert "No checkpoint handed in" in page, "the missing checkpoint is explained"
    assert "BEGIN HIDDEN TESTS" not in page and "The test's code is not shown" in page
