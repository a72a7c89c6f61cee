"""``course export GRADES [--canvas]``: the class's grades, one row per student, for an LMS.

From the folder ``course grade`` wrote (``grades.csv``: the autograded points of each student
and lesson) and, with ``--gradebook``, nbgrader's gradebook (what the instructor graded by
hand in the formgrader: written answers, overrides of a test's points, extra credit).

* plain (default): ``student``, one column per lesson (its points), ``total``,
  ``points_possible``, ``awaiting_manual`` (lessons whose written answers are not graded yet)
  and ``review`` (lessons flagged for manual review), written to ``GRADES/grades_export.csv``;
* ``--canvas``: Canvas's gradebook import layout (Canvas Instructor Guide, "How do I import
  grades in the Gradebook?"): the columns ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then one column per assignment (here: per lesson); the second
  row is ``Points Possible`` (used when Canvas creates a new assignment from the column),
  written to ``GRADES/canvas_grades.csv``. The student's folder name (their JupyterHub user
  name) goes in ``SIS Login ID``; ``--roster`` (a gradebook CSV exported from Canvas) fills in
  ``Student``, ``ID``, ``SIS User ID`` and ``Section`` for the students it lists, so that
  Canvas matches rows by its own ID.

A lesson's points: the autograded points from grades.csv, plus, per graded cell of the
gradebook that carries a hand-given score, that score in place of the automatic one, plus
extra credit. Points possible: the autograded maximum, plus the written answers' points when a
gradebook is given (without one, written answers are not part of the export).
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

from course.errors import CourseError
from course.grading.class_report import load_class
from course.grading.report import path_name

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "Points Possible"


@dataclass
class Manual:
    """What the gradebook adds to one (student, lesson)."""

    delta: float = 0.0  # hand-given scores minus the automatic ones they replace, + extra
    awaiting: bool = False  # a written answer not graded yet


@dataclass
class Sheet:
    lessons: list[str]
    students: list[str]
    points: dict[tuple[str, str], float]  # (student, lesson) -> points
    possible: dict[str, float]  # lesson -> points possible
    awaiting: dict[str, list[str]] = field(default_factory=dict)
    review: dict[str, list[str]] = field(default_factory=dict)


def manual_grades(db: Path, course_id: str = "default_course") -> dict[tuple[str, str], Manual]:
    """(gradebook student id, lesson) -> what was graded by hand there."""
    from nbgrader.api import Gradebook

    if not Path(db).is_file():
        raise CourseError(f"no gradebook at {db}")
    out: dict[tuple[str, str], Manual] = {}
    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                m = out.setdefault((sub.student_id, assignment.name), Manual())
                for nb in sub.notebooks:
                    for g in nb.grades:
                        if g.cell_type == "markdown":
                            if g.manual_score is None:
                                m.awaiting = m.awaiting or bool(g.needs_manual_grade)
                            else:
                                m.delta += float(g.manual_score)
                        elif g.manual_score is not None:  # an override of a test's points
                            m.delta += float(g.manual_score) - float(g.auto_score or 0.0)
                        m.delta += float(g.extra_credit or 0.0)
    return out


def sheet(grades: Path, gradebook: Path | None = None) -> Sheet:
    rows = load_class(grades)
    if not rows:
        raise CourseError(f"{Path(grades) / 'grades.csv'} has no rows")
    manual = manual_grades(gradebook) if gradebook is not None else {}
    lessons = sorted({r.lesson for r in rows})
    students = sorted({r.student for r in rows})
    s = Sheet(lessons, students, {}, {le: 0.0 for le in lessons})
    for r in rows:
        m = manual.get((path_name(r.student), r.lesson), Manual())
        s.points[(r.student, r.lesson)] = r.score + m.delta
        written = r.manual_max if gradebook is not None else 0.0
        s.possible[r.lesson] = max(s.possible[r.lesson], r.max_score + written)
        if m.awaiting:
            s.awaiting.setdefault(r.student, []).append(r.lesson)
        if r.review:
            s.review.setdefault(r.student, []).append(r.lesson)
    return s


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x)}"


def write_plain(s: Sheet, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", *s.lessons, "total", "points_possible", "awaiting_manual",
                    "review"])  # fmt: skip
        top = sum(s.possible.values())
        for st in s.students:
            pts = [s.points.get((st, le), 0.0) for le in s.lessons]
            w.writerow([st, *map(_num, pts), _num(sum(pts)), _num(top),
                        " ".join(s.awaiting.get(st, [])), " ".join(s.review.get(st, []))])  # fmt: skip


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """SIS Login ID -> the identity columns of a gradebook CSV exported from Canvas."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not {"SIS Login ID", "ID"} <= set(reader.fieldnames or []):
                raise CourseError(
                    f"{path} is not a Canvas gradebook export (no 'ID' and 'SIS Login ID' "
                    "columns): export it from Canvas's Gradebook (Export > Export Entire "
                    "Gradebook)"
                )
            return {
                row["SIS Login ID"].strip(): {
                    k: (row.get(k) or "").strip() for k in CANVAS_IDENTITY
                }
                for row in reader
                if (row.get("SIS Login ID") or "").strip()
                and POINTS_POSSIBLE not in (row.get("Student") or "")
            }
    except OSError as exc:
        raise CourseError(f"cannot read the roster {path}: {exc}") from None


def write_canvas(s: Sheet, path: Path, roster: dict[str, dict[str, str]] | None = None) -> list:
    """Canvas's import layout; returns the students the roster does not list."""
    unknown = []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*CANVAS_IDENTITY, *s.lessons])
        w.writerow([POINTS_POSSIBLE, "", "", "", "", *(_num(s.possible[le]) for le in s.lessons)])
        for st in s.students:
            who = {k: "" for k in CANVAS_IDENTITY}
            who["Student"], who["SIS Login ID"] = st, st
            if roster is not None:
                if st in roster:
                    who.update(roster[st])
                else:
                    unknown.append(st)
            pts = [_num(s.points.get((st, le), 0.0)) for le in s.lessons]
            w.writerow([*(who[k] for k in CANVAS_IDENTITY), *pts])
    return unknown


def run(args) -> int:
    grades = Path(args.grades)
    s = sheet(grades, args.gradebook)
    if args.roster is not None and not args.canvas:
        raise CourseError("--roster is for --canvas (Canvas's identity columns)")
    name = "canvas_grades.csv" if args.canvas else "grades_export.csv"
    out = Path(args.out) if args.out is not None else grades / name
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.canvas:
        roster = read_roster(args.roster) if args.roster is not None else None
        unknown = write_canvas(s, out, roster)
        if unknown:
            print(f"course export: {len(unknown)} student(s) not in the roster (matched by SIS "
                  f"Login ID only): {', '.join(unknown[:10])}", file=sys.stderr)  # fmt: skip
    else:
        write_plain(s, out)
    if s.awaiting:
        print(f"course export: written answers not graded yet for {len(s.awaiting)} student(s): "
              "they count 0 until you grade them in the formgrader", file=sys.stderr)  # fmt: skip
    print(f"wrote {out}", file=sys.stderr)
    return 0
