"""``course export``: the plain per-student CSV and Canvas's gradebook import layout, from the
synthetic class of tests/synthetic_class.py (nothing graded here), with manual grades from a
real nbgrader gradebook. Canvas's layout, as its Instructor Guide documents it ("How do I
import grades in the Gradebook?"): the columns Student, ID, SIS User ID, SIS Login ID, Section,
then one column per assignment, and a second row "Points Possible"."""

from __future__ import annotations

import csv

import pytest
import synthetic_class as syn

from course import cli
from course.grading.report import path_name

TOP = sum(p for p, _ in syn.TESTS.values())
WRITTEN = 2.0  # synthetic_class's manual_max


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    results = syn.build(out, n=40)
    return out, {r.student: r for r in results}


@pytest.fixture(scope="module")
def gradebook(graded, tmp_path_factory):
    """An nbgrader gradebook with the lesson's cells; s10's written answer graded (1.5 of 2),
    s11's test ``values`` overridden to full points with 0.5 extra credit, s12 left to grade."""
    from nbgrader.api import Gradebook

    out, results = graded
    db = tmp_path_factory.mktemp("gb") / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.add_assignment(syn.LESSON)
        gb.add_notebook(syn.LESSON, syn.LESSON)
        for test, (points, _) in syn.TESTS.items():
            gb.add_grade_cell(test, syn.LESSON, syn.LESSON, max_score=points, cell_type="code")
        gb.add_grade_cell("why", syn.LESSON, syn.LESSON, max_score=WRITTEN, cell_type="markdown")
        for student in ("s10", "s11", "s12"):
            gb.add_student(path_name(student))
            gb.add_submission(syn.LESSON, path_name(student))
            for test in syn.TESTS:  # what course grade --gradebook records
                g = gb.find_grade(test, syn.LESSON, syn.LESSON, student)
                g.auto_score = results[student].tests[test]
            why = gb.find_grade("why", syn.LESSON, syn.LESSON, student)
            why.needs_manual_grade = True
        gb.find_grade("why", syn.LESSON, syn.LESSON, "s10").manual_score = 1.5
        override = gb.find_grade("values", syn.LESSON, syn.LESSON, "s11")
        override.manual_score = 1.0
        override.extra_credit = 0.5
        gb.db.commit()
    return db


def read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_plain_csv(graded, tmp_path):
    out, results = graded
    assert cli.main(["export", str(out), "--out", str(tmp_path / "plain.csv")]) == 0
    rows = read(tmp_path / "plain.csv")
    assert rows[0] == [
        "student", syn.LESSON, "total", "points_possible", "awaiting_manual", "review"
    ]  # fmt: skip
    by = {r[0]: r for r in rows[1:]}
    assert len(by) == 40
    for student, res in results.items():
        assert float(by[student][1]) == pytest.approx(res.score), student
        assert float(by[student][3]) == TOP  # no gradebook: written answers left out
    assert by["s01"][1] == "0" and by["s04"][5] == syn.LESSON  # missing: 0; flagged: listed


def test_canvas_layout(graded, tmp_path):
    out, results = graded
    assert cli.main(["export", str(out), "--canvas"]) == 0
    rows = read(out / "canvas_grades.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", syn.LESSON]
    assert rows[1][0].strip() == "Points Possible" and rows[1][1:5] == ["", "", "", ""]
    assert float(rows[1][5]) == TOP
    body = {r[3]: r for r in rows[2:]}
    assert len(body) == 40
    for student, res in results.items():
        assert float(body[student][5]) == pytest.approx(res.score)
        assert body[student][0] == student and body[student][1] == ""


def test_manual_grades_from_the_gradebook(graded, gradebook, tmp_path, capsys):
    out, results = graded
    dest = tmp_path / "canvas.csv"
    args = ["export", str(out), "--canvas", "--gradebook", str(gradebook), "--out", str(dest)]
    assert cli.main(args) == 0
    assert "not graded yet for 2 student" in capsys.readouterr().err  # s11, s12
    rows = read(dest)
    assert float(rows[1][5]) == TOP + WRITTEN
    body = {r[3]: float(r[5]) for r in rows[2:]}
    assert body["s10"] == pytest.approx(results["s10"].score + 1.5)
    values_auto = results["s11"].tests["values"]
    assert body["s11"] == pytest.approx(results["s11"].score - values_auto + 1.0 + 0.5)
    assert body["s12"] == pytest.approx(results["s12"].score)
    assert body["s20"] == pytest.approx(results["s20"].score)  # not in the gradebook


def test_roster_fills_canvas_identity(graded, tmp_path, capsys):
    out, _ = graded
    roster = tmp_path / "export.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (301)\n"
        "    Points Possible,,,,,10.00\n"
        '"Lovelace, Ada",4471,A-17,s10,Section 2,8.00\n',
        encoding="utf-8",
    )
    dest = tmp_path / "canvas.csv"
    args = ["export", str(out), "--canvas", "--roster", str(roster), "--out", str(dest)]
    assert cli.main(args) == 0
    assert "39 student(s) not in the roster" in capsys.readouterr().err
    body = {r[3]: r for r in read(dest)[2:]}
    assert body["s10"][:5] == ["Lovelace, Ada", "4471", "A-17", "s10", "Section 2"]


def test_bad_roster(graded, tmp_path, capsys):
    out, _ = graded
    bad = tmp_path / "bad.csv"
    bad.write_text("name,score\nada,3\n", encoding="utf-8")
    assert cli.main(["export", str(out), "--canvas", "--roster", str(bad)]) == 2
    assert "not a Canvas gradebook export" in capsys.readouterr().err
