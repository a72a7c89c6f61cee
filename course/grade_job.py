"""One submission's grading job: ``python -m course.grade_job JOB_DIR``, run by ``course grade``
inside :mod:`course.sandbox`.

``JOB_DIR`` holds ``spec.json`` (what the course awards: points per test, written answers,
the hidden-test lines that must never reach a student) and ``course/``, a private nbgrader course
folder with one student, ``student``, whose sanitised notebook is in ``submitted/``. The job

1. reads the spec and the pristine gradebook *before any student code runs* (the student's code
   runs as the same user and could rewrite both while it runs);
2. runs nbgrader's autograde converter in this process, with :class:`course.guard.GuardedExecute`
   in place of ``Execute`` (the guard kills every process the notebook started when it ends);
3. with no student code left alive: scores the autograded notebook (:func:`score_notebook`,
   points from the spec), keeps a copy for the instructor, and with ``--feedback`` writes the
   feedback HTML from a fresh gradebook holding exactly those scores, after removing any
   hidden-test line the student's code printed (:func:`scrub`), then checks the HTML;
4. writes ``out/result.json`` (scores, the guard's report, feedback status).

One process for autograde and feedback saves an nbgrader start-up (seconds) per submission.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import logging
import re
import shutil
import sys
from pathlib import Path

STUDENT = "student"  # the one student of each private course folder
REDACTED = "[hidden test line removed]"


# --------------------------------------------------------------------------- spec
LONG_LINE = 12  # hidden lines longer than this are redacted wherever they occur


def hidden_lines(source, release) -> list[str]:
    """The lines of the source's hidden tests a student never sees (stripped), with the
    hidden-test markers. A line the release shows anywhere (``downsample = None`` inside
    ``self.downsample = None``, say) is not a secret."""
    from course.tools import notebooks as nbs

    shown = "\n".join(c.source for c in release.cells)  # a line shown there is no secret
    secret, inside = [nbs.HIDDEN_BEGIN, nbs.HIDDEN_END], False
    for cell in source.cells:
        if not nbs.is_test(cell):
            continue
        for line in cell.source.split("\n"):
            if nbs.HIDDEN_BEGIN in line:
                inside = True
            elif nbs.HIDDEN_END in line:
                inside = False
            elif inside and line.strip() and line.strip() not in shown:
                secret.append(line.strip())
    return list(dict.fromkeys(secret))


def make_spec(lesson: str, source, release, feedback: bool) -> dict:
    """What a job needs to know about the lesson (no solutions)."""
    from course.tools import notebooks as nbs

    return {
        "lesson": lesson,
        "tests": {nbs.grade_id(c): nbs.points(c) for c in source.cells if nbs.is_test(c)},
        "manual": {nbs.grade_id(c): nbs.points(c) for c in source.cells if nbs.is_manual(c)},
        "hidden_lines": hidden_lines(source, release),
        "feedback": feedback,
    }


# --------------------------------------------------------------------------- scoring
def _earned(cell, points: float) -> float:
    """nbgrader's rule, made order-proof: any error or stderr output anywhere: 0; else the
    last result's partial credit when it is a number in [0, points]; else full points."""
    outputs = cell.get("outputs", [])
    if any(
        o.get("output_type") == "error"
        or (o.get("output_type") == "stream" and o.get("name") == "stderr")
        for o in outputs
    ):
        return 0.0
    results = [o for o in outputs if o.get("output_type") == "execute_result"]
    if not results:
        return points
    text = results[-1].get("data", {}).get("text/plain", "")
    try:
        value = float("".join(text) if isinstance(text, list) else text)
    except ValueError:
        return points
    return value if 0.0 <= value <= points else points


def score_notebook(executed, spec: dict) -> tuple[float, dict[str, float], list[str]]:
    """``(score, points per test, flags)`` of an autograded notebook; the points come from the
    spec (the course source), never from the notebook."""
    from course.tools import notebooks as nbs

    cells: dict[str, object] = {}
    for c in executed.cells:
        cells.setdefault(nbs.grade_id(c), c)
    stubbed = {
        nbs.grade_id(c)
        for c in executed.cells
        if nbs.is_solution(c) and c.cell_type == "code" and "raise NotImplementedError" in c.source
    }
    tests, flags = {}, []
    for gid, points in spec["tests"].items():
        cell = cells.get(gid)
        earned = _earned(cell, points) if cell is not None and cell.cell_type == "code" else 0.0
        tests[gid] = earned
        if earned and nbs.exercise_of(gid) in stubbed:
            flags.append(f"{gid} passed while the answer still raises NotImplementedError")
    return sum(tests.values()), tests, flags


def cell_errors(executed) -> dict[str, str]:
    """``{grade id or 'cell N': 'ename'}`` for cells that timed out or ran out of memory."""
    from course.tools import notebooks as nbs

    found = {}
    for i, cell in enumerate(executed.cells):
        for o in cell.get("outputs", []):
            ename = str(o.get("ename", ""))
            if o.get("output_type") != "error":
                continue
            if ename == "CellTimeoutError" or ename.endswith("MemoryError"):  # numpy's too
                kind = "CellTimeoutError" if ename == "CellTimeoutError" else "MemoryError"
                found.setdefault(nbs.grade_id(cell) or f"cell {i + 1}", kind)
    return found


# --------------------------------------------------------------------------- feedback
def _redact(text: str, lines: list[str]) -> tuple[str, int]:
    """``text`` with hidden lines replaced: a long one anywhere, a short one only where it
    is a whole line (``x = 1`` inside some other output is no secret)."""
    whole, long = set(lines), [line for line in lines if len(line) > LONG_LINE]
    out, n = [], 0
    for line in text.split("\n"):
        if line.strip() in whole:
            line, n = REDACTED, n + 1
        else:
            for secret in long:
                if secret in line:
                    n += line.count(secret)
                    line = line.replace(secret, REDACTED)
        out.append(line)
    return "\n".join(out), n


def scrub(nb, lines: list[str]) -> int:
    """Replace hidden-test lines in every output of ``nb`` (in place); returns how many.

    The student's code runs while the hidden tests run, and can print their source (from the
    caller's frame, IPython's history, the files of the private course folder). nbgrader's
    ``ClearHiddenTests`` only clears cell sources.
    """
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for key in ("text", "evalue"):
                if isinstance(out.get(key), str):
                    out[key], k = _redact(out[key], lines)
                    n += k
            if isinstance(out.get("traceback"), list):
                new = []
                for frame in out["traceback"]:
                    frame, k = _redact(frame, lines)
                    new.append(frame)
                    n += k
                out["traceback"] = new
            for mime, value in (out.get("data") or {}).items():
                if isinstance(value, str):
                    out["data"][mime], k = _redact(value, lines)
                    n += k
    return n


def leaked_lines(html_text: str, lines: list[str], allowed: set[str] = frozenset()) -> list[str]:
    """Hidden-test lines present in a feedback page (its text, tags removed), except those
    written in a line of ``allowed`` (the student's own cells: no leak)."""
    text = html.unescape(re.sub(r"<[^>]*>", "", html_text))
    whole = {line.strip() for line in text.split("\n")}
    found = [ln for ln in lines if ln in whole or (len(ln) > LONG_LINE and ln in text)]
    return [ln for ln in found if not any(ln in own for own in allowed)]


def _config(cdir: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(cdir)).load_config()


def _coursedir(cdir: Path, config, lesson: str):
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config, root=str(cdir))
    coursedir.assignment_id, coursedir.student_id = lesson, STUDENT
    return coursedir


def record_scores(db: Path, course_id: str, lesson: str, tests: dict[str, float]) -> None:
    """The submission and its test scores in a fresh copy of the gradebook (for feedback)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}", course_id) as gb:
        gb.update_or_create_student(STUDENT)
        gb.update_or_create_submission(lesson, STUDENT)
        for gid, earned in tests.items():
            grade = gb.find_grade(gid, lesson, lesson, STUDENT)
            grade.auto_score, grade.needs_manual_grade = earned, False
        gb.db.commit()


def feedback(cdir: Path, config, spec: dict, tests: dict, pristine_db: bytes, log) -> dict:
    """Feedback HTML for the autograded notebook; returns ``{html, redacted, leaked}``."""
    from nbgrader.converters import GenerateFeedback

    from course.tools import notebooks as nbs

    lesson = spec["lesson"]
    graded = cdir / "autograded" / STUDENT / lesson / f"{lesson}.ipynb"
    nb = nbs.read(graded)
    redacted = scrub(nb, spec["hidden_lines"])
    graded.chmod(0o644)
    nbs.write(nb, graded)
    db = cdir / "gradebook.db"
    db.unlink(missing_ok=True)
    db.write_bytes(pristine_db)
    coursedir = _coursedir(cdir, config, lesson)
    record_scores(db, coursedir.course_id, lesson, tests)
    app = GenerateFeedback(coursedir=coursedir, config=config, log=log)
    app.force = True
    app.start()
    page = cdir / "feedback" / STUDENT / lesson / f"{lesson}.html"
    own = {ln.strip() for c in nb.cells if not nbs.is_test(c) for ln in c.source.split("\n")}
    leaked = leaked_lines(page.read_text(encoding="utf-8"), spec["hidden_lines"], own)
    return {"html": str(page), "redacted": redacted, "leaked": leaked}


# --------------------------------------------------------------------------- the job
def run_job(job: Path) -> dict:
    from nbgrader.converters import Autograde

    from course.guard import GuardedExecute
    from course.tools import notebooks as nbs

    # read before the student's code runs (it could rewrite both)
    spec = json.loads((job / "spec.json").read_text(encoding="utf-8"))
    cdir = job / "course"
    pristine_db = (cdir / "gradebook.db").read_bytes()
    config = _config(cdir)
    lesson = spec["lesson"]
    logging.basicConfig(level=logging.INFO, format="[%(name)s | %(levelname)s] %(message)s")
    log = logging.getLogger("course.grade_job")
    out = job / "out"
    result: dict = {"autograded": False, "feedback": None, "guard": None}
    app = Autograde(coursedir=_coursedir(cdir, config, lesson), config=config, log=log)
    app.force, app.create_student = True, True
    try:
        app.start()
    except Exception as exc:  # noqa: BLE001 - reported to course grade, which scores 0
        log.exception("autograde failed")
        result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    result["guard"] = copy.deepcopy(GuardedExecute.last_report)
    # from here on no process of the student's is alive (GuardedExecute killed them all)
    if out.is_symlink() or out.is_file():
        out.unlink()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    graded = cdir / "autograded" / STUDENT / lesson / f"{lesson}.ipynb"
    if graded.is_file() and not graded.is_symlink():
        shutil.copyfile(graded, out / "autograded.ipynb")
        result["autograded"] = True
        executed = nbs.read(graded)
        score, tests, flags = score_notebook(executed, spec)
        result.update(score=score, tests=tests, flags=flags, errors=cell_errors(executed))
        if spec.get("feedback"):
            try:
                result["feedback"] = feedback(cdir, config, spec, tests, pristine_db, log)
                shutil.copyfile(result["feedback"]["html"], out / "feedback.html")
            except Exception as exc:  # noqa: BLE001 - feedback is a bonus, never a grade
                log.exception("feedback failed")
                result["feedback"] = {"error": f"{type(exc).__name__}: {exc}"}
    (out / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m course.grade_job", description=__doc__)
    p.add_argument("job", type=Path, help="job folder (spec.json, course/)")
    args = p.parse_args(argv)
    result = run_job(args.job.resolve())
    return 0 if result["autograded"] else 1


if __name__ == "__main__":
    sys.exit(main())
