"""``course grade --gradebook COURSE/gradebook.db``: the class's scores into nbgrader's gradebook.

So that the formgrader can take over (written answers, overrides, ``nbgrader export``), the
scores ``course grade`` computed are recorded in the instructor's gradebook, and the autograded
notebooks are put where the formgrader looks for them (``COURSE/autograded/<student>/<lesson>/``).

Only the grader's own process writes here, after every notebook has run; a notebook never
sees this gradebook. The gradebook is fingerprinted before grading: if anything changed it
meanwhile (a notebook that found it, or the formgrader open at the same time), nothing is
written and the summary says so.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

from course.grading.report import path_name


class GradebookError(Exception):
    """The gradebook does not match the course: an instructor error."""


def _digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def check(db: Path, cid: str, plans: dict) -> str:
    """Check that every lesson is in the gradebook with the source's graded cells and points
    (``nbgrader generate_assignment`` puts it there); returns the gradebook's fingerprint."""
    from nbgrader.api import Gradebook, MissingEntry

    if not db.is_file():
        raise GradebookError(f"no gradebook at {db} (run nbgrader generate_assignment there)")
    with Gradebook(f"sqlite:///{db}", cid) as gb:
        for lesson, plan in plans.items():
            try:
                nb = gb.find_notebook(lesson, lesson)
            except MissingEntry:
                raise GradebookError(
                    f"{lesson} is not in {db}: run `nbgrader generate_assignment {lesson}` "
                    "in that course folder first"
                ) from None
            have = {c.name: float(c.max_score) for c in nb.grade_cells}
            want = {**plan.tests, **plan.manual}
            if have != want:
                raise GradebookError(
                    f"{lesson} in {db} has other graded cells or points than the source "
                    f"({sorted(set(have) ^ set(want)) or 'points differ'}): regenerate it"
                )
    return _digest(db)


def record(db: Path, cid: str, fingerprint: str, results, plans: dict, out: Path, staged) -> str:
    """Write the scores of ``results`` (missing notebooks skipped); returns a line for the
    summary. Test scores are replaced; scores you entered in the formgrader (manual scores,
    overrides) stay, since nbgrader counts them before the automatic ones."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc
    from sqlalchemy.exc import SAWarning

    if _digest(db) != fingerprint:
        return (
            f"GRADEBOOK NOT UPDATED: {db} changed while the class was graded (a notebook that "
            "found it, or the formgrader writing at the same time). Check it, then run again."
        )
    stamps = {}
    for st in staged:
        if "timestamp.txt" in st.digests:
            try:
                text = (st.folder / "timestamp.txt").read_text(encoding="utf-8").strip()
                stamps[(st.student, st.lesson)] = parse_utc(text)
            except Exception:  # noqa: BLE001 - an unparsable timestamp is just left out
                pass
    n = 0
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{db}", cid) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own, harmless (upstream)
        for r in results:
            if r.status == "missing":
                continue
            plan = plans[r.lesson]
            sid = path_name(r.student)  # the folder name under autograded/ too
            gb.update_or_create_student(sid)
            when = stamps.get((r.student, r.lesson))
            gb.update_or_create_submission(r.lesson, sid, **({"timestamp": when} if when else {}))
            for gid in plan.tests:
                grade = gb.find_grade(gid, r.lesson, r.lesson, sid)
                grade.auto_score = float(r.tests.get(gid, 0.0))
                grade.needs_manual_grade = False
            for gid in plan.manual:
                grade = gb.find_grade(gid, r.lesson, r.lesson, sid)
                if grade.manual_score is None:  # a grade you already gave stays
                    grade.auto_score = None if r.status == "graded" else 0.0
                    grade.needs_manual_grade = r.status == "graded"
            gb.db.commit()
            src = out / "autograded" / path_name(r.student) / r.lesson / f"{r.lesson}.ipynb"
            dest = db.parent / "autograded" / sid / r.lesson
            if src.is_file() and src.resolve() != (dest / src.name).resolve():
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest / f"{r.lesson}.ipynb")
            n += 1
    return (
        f"Recorded {n} submission(s) in {db} (autograded notebooks in {db.parent / 'autograded'})."
    )
