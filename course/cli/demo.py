"""``course demo``: the instructor pipeline end to end, on a throwaway class, offline. It
releases (the tools) and grades (the grading wing), so it lives here, above both wings.

1. build a fresh nbgrader course folder from ``solutions/`` (config, sources) and run
   ``nbgrader generate_assignment`` for each lesson (the student versions and the gradebook)
2. submit three sample students per lesson:
   ``solution`` (every answer correct), ``blank`` (the release untouched),
   ``partial`` (about half answered, one of them with a plausible wrong answer from the
   checkout's catalogue of plausible mistakes, ``tests/wrong_answers/``: read from the course
   repository on purpose, never shipped in the package students install)
3. ``course grade --gradebook --feedback``: every notebook in a sandbox, the tests in the
   grader, scores recorded in the folder's nbgrader gradebook
4. print the gradebook (student x lesson x score) and where the feedback files are
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from course import cells, data
from course.checkout import Checkout, notebooks

STUDENTS = {
    "solution": "every answer correct",
    "blank": "the release, untouched",
    "partial": "about half answered, one answer plausibly wrong",
}


def make_submission(kind: str, release_nb, source_nb, catalogue: list[dict]):
    """The notebook a sample student of ``kind`` hands in."""
    exercises = [
        cells.grade_id(c)
        for c in source_nb.cells
        if cells.is_solution(c) and not cells.is_manual(c)
    ]
    if kind == "solution":
        return notebooks.fill_release(release_nb, source_nb)
    if kind == "blank":
        return notebooks.fill_release(release_nb, source_nb, solved=[])
    half = exercises[: max(1, (len(exercises) + 1) // 2)]
    wrong = next((w for w in catalogue if w["exercise"] in half), None)
    overrides = {wrong["exercise"]: wrong["source"]} if wrong else {}
    return notebooks.fill_release(release_nb, source_nb, exercises=overrides, solved=half)


def artifact_cells(source_nb) -> dict[str, float]:
    """Test cells that grade a file the student produces (lesson 05's trained checkpoint), with
    their points. The sample students submit no such file, so these cells score 0 for all of them:
    a model trained for hours on a GPU cannot be part of an offline demo."""
    return {cells.grade_id(c): cells.points(c) for c in source_nb.cells if cells.grades_artifact(c)}


def gradebook_rows(course_dir: Path, lesson_ids: list[str]) -> list[dict]:
    from nbgrader.api import Gradebook, MissingEntry

    rows: list[dict] = []
    db = f"sqlite:///{course_dir / 'gradebook.db'}"
    artifacts = {
        lesson: artifact_cells(notebooks.read(Checkout(course_dir).source(lesson)))
        for lesson in lesson_ids
    }
    with Gradebook(db) as gb:
        for student in STUDENTS:
            for lesson in lesson_ids:
                try:
                    sub = gb.find_submission(lesson, student)
                except MissingEntry:
                    rows.append({"student": student, "lesson": lesson, "score": None})
                    continue
                grades = [g for nb in sub.notebooks for g in nb.grades]
                auto_max = sum(g.max_score for g in grades if g.cell.cell_type == "code")
                manual_max = sum(g.max_score for g in grades if g.cell.cell_type == "markdown")
                rows.append(
                    {
                        "student": student,
                        "lesson": lesson,
                        "score": sub.score,
                        "auto_max": auto_max,
                        "manual_max": manual_max,
                        "max_score": sub.max_score,
                        "needs_manual": sub.needs_manual_grade,
                        "artifact_max": sum(artifacts[lesson].values()),
                    }
                )
    return rows


def format_gradebook(rows: list[dict], lesson_ids: list[str]) -> str:
    width = max(12, *(len(lesson) for lesson in lesson_ids))
    head = f"{'student':<10}" + "".join(f"  {lesson:>{width}}" for lesson in lesson_ids)
    lines = [head, "-" * len(head)]
    for student in STUDENTS:
        columns = []
        for lesson in lesson_ids:
            r = next(r for r in rows if r["student"] == student and r["lesson"] == lesson)
            if r["score"] is None:
                columns.append("not graded")
            else:
                columns.append(
                    f"{r['score']:g}/{r['auto_max']:g}"
                    + ("*" if r["artifact_max"] else "")
                    + (f" +{r['manual_max']:g}?" if r["manual_max"] else "")
                )
        lines.append(f"{student:<10}" + "".join(f"  {c:>{width}}" for c in columns))
    lines.append("")
    lines.append(
        "score/auto-graded points; '+N?' = written answers worth N points, awaiting "
        "manual grading in the formgrader."
    )
    with_artifacts = sorted({r["lesson"] for r in rows if r.get("artifact_max")})
    if with_artifacts:
        pts = {r["lesson"]: r["artifact_max"] for r in rows if r.get("artifact_max")}
        lines.append(
            "* includes "
            + ", ".join(f"{pts[lesson]:g} points in {lesson}" for lesson in with_artifacts)
            + " for a trained model (a checkpoint file saved by the notebook). No sample student "
            "submits one (training takes a GPU), so nobody earns them here; those columns fail "
            "with a message saying so. `course score-checkpoints` scores a class's checkpoints."
        )
    return "\n".join(lines)


def demo_data(course_dir: Path, log=print) -> Path:
    """CIFAR-10 for the lessons that use it: the user's copy if there is one (``$COURSE_DATA``,
    ``./data``, ``~/.cache/course``), else a small synthetic stand-in inside the class folder."""
    root = data.data_root()
    if (root / data.FOLDER_NAME / "test_batch").is_file():
        log(f"      data: {data.dataset_name(root)} at {root}")
        return root.resolve()
    root = course_dir / "data"
    data.make_fake_cifar10(root, n_train=2000, n_test=500, seed=0)
    log(f"      data: no CIFAR-10 found, using a {data.SYNTHETIC_NAME} at {root}")
    return root


def run_demo(
    course_dir: Path, lesson_ids: list[str], log=print, jobs: int | None = None
) -> list[dict]:
    import os

    from course.grading import batch

    checkout = Checkout.find()
    t0 = time.perf_counter()
    log(f"[1/4] course folder: {course_dir}")
    demo = checkout.copy(course_dir, lesson_ids)
    log(f"      nbgrader generate_assignment {' '.join(lesson_ids)}")
    demo.generate_assignments(lesson_ids)
    log(f"[2/4] submitting {len(STUDENTS)} students x {len(lesson_ids)} lesson(s)")
    for lesson in lesson_ids:
        release_nb = notebooks.read(demo.release(lesson))
        source_nb = notebooks.read(demo.source(lesson))
        catalogue = checkout.wrong_answers(lesson)
        for student, what in STUDENTS.items():
            folder = course_dir / "submitted" / student / lesson
            # the rest of the release (figures, data files) comes along, as in a real submission
            shutil.copytree(course_dir / "notebooks" / lesson, folder, dirs_exist_ok=True)
            notebooks.write(
                make_submission(student, release_nb, source_nb, catalogue),
                folder / f"{lesson}.ipynb",
            )
            (folder / "timestamp.txt").write_text("2026-01-15 09:00:00.000000 UTC\n")
            log(f"      {student:<9} {lesson}: {what}")
    data_root = demo_data(course_dir, log)
    log("[3/4] course grade: every notebook in a sandbox, the tests in the grader ...")
    graded = batch.grade_class(
        course_dir / "submitted",
        demo,
        lesson_ids,
        course_dir,  # autograded/ and feedback/ where nbgrader's formgrader and exchange look
        jobs=jobs or max(1, (os.cpu_count() or 2) // 2),
        feedback=True,
        gradebook=course_dir / "gradebook.db",
        data=data_root,
        log=lambda m: log("      " + m),
    )
    for note in graded.notes:
        log("      " + note)
    rows = gradebook_rows(course_dir, lesson_ids)
    log(f"[4/4] gradebook ({time.perf_counter() - t0:.0f} s)\n")
    log(format_gradebook(rows, lesson_ids))
    log("\nfeedback (HTML: verdicts and messages, never the tests' code):")
    for student in STUDENTS:
        for lesson in lesson_ids:
            html = course_dir / "feedback" / student / lesson / f"{lesson}.html"
            log(f"  {html}" + ("" if html.exists() else "  (missing!)"))
    log(
        f"\nThe whole class folder stays in {course_dir}: `cd` there and run nbgrader commands "
        "(e.g. `nbgrader formgrader` via JupyterLab) to explore it."
    )
    return rows


def run(args) -> int:
    lesson_ids = Checkout.find().resolve(args.lessons)
    if not lesson_ids:
        print("no lessons found in solutions/", file=sys.stderr)
        return 2
    if args.out is None:
        course_dir = Path(tempfile.mkdtemp(prefix="course-demo-"))
    else:
        course_dir = args.out.resolve()
        if course_dir.exists() and any(course_dir.iterdir()):
            print(f"{course_dir} is not empty; choose a new --out", file=sys.stderr)
            return 2
    rows = run_demo(course_dir, lesson_ids)
    ok = all(r["score"] is not None for r in rows)
    return 0 if ok else 1
