"""`course demo` end to end (two lessons: the cheapest and the one graded on a trained model):
`course grade` gives the solution full marks, the blank release zero and the partly wrong student
something in between, records them in the nbgrader gradebook and writes feedback pages. Every
lesson goes through the same grader in tests/test_trusted_grading.py."""

from __future__ import annotations

import pytest
import test_class_report
from conftest import all_lessons

from course import cli

LESSONS = [le for le in all_lessons() if le.startswith(("03", "05"))]


@pytest.mark.slow
@pytest.mark.skipif(not LESSONS, reason="no lessons yet")
def test_demo_autograde_round_trip(tmp_path, capsys, browser):
    course_dir = tmp_path / "class"
    code = cli.main(["demo", *LESSONS, "--out", str(course_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    from course.tools.demo import gradebook_rows

    rows = gradebook_rows(course_dir, LESSONS)
    for lesson in LESSONS:
        by = {r["student"]: r for r in rows if r["lesson"] == lesson}
        # full marks, except the cells that score a trained checkpoint nobody submits here
        full = by["solution"]["auto_max"] - by["solution"]["artifact_max"]
        assert by["solution"]["score"] == full > 0, (lesson, by["solution"])
        assert by["blank"]["score"] == 0, (lesson, by["blank"])
        assert 0 <= by["partial"]["score"] < by["solution"]["auto_max"], (lesson, by["partial"])
        for student in by:
            html = course_dir / "feedback" / student / lesson / f"{lesson}.html"
            assert html.is_file(), f"no feedback at {html}"
            text = html.read_text(encoding="utf-8")
            assert "BEGIN HIDDEN TESTS" not in text
            if student == "solution" and by[student]["artifact_max"]:
                assert "No checkpoint handed in" in text, "the missing checkpoint is explained"
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
