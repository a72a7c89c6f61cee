"""``course grade SUBMISSIONS``: autograde a whole class with nbgrader, robustly.

SUBMISSIONS is nbgrader's ``submitted/`` layout, ``<student>/<lesson>/<lesson>.ipynb``.

1. **Prepare** (instructor errors stop here, exit 2): ``nbgrader generate_assignment`` for each
   lesson in a template course folder, then the *reference check*: the release filled with the
   reference answers is graded like a student; if it hits a limit (timeout, memory) or crashes,
   the limits or the environment are wrong for this course, and grading the class would give
   everyone zeros.
2. **Stage**: every submission is copied (and hashed) before any student's code runs, so a
   notebook that rewrites classmates' files in ``submitted/`` changes nothing that is graded;
   the originals are checked again at the end and changes are flagged.
3. **Grade** each (student, lesson) on its own (:func:`grade_one`), ``--jobs`` at a time:
   :func:`course.submission.sanitize` repairs the notebook against the source and
   :func:`course.submission.scan` flags suspicious code; then :mod:`course.grade_job` runs
   nbgrader autograde (and feedback) in a private one-student course folder, under
   :mod:`course.sandbox` (wall-clock timeout, memory watchdog, every process killed after)
   with :class:`course.guard.GuardedExecute` in the kernel. A student's failure is that
   student's result: it never stops the batch.
4. **Report**: a student × lesson table, what was not graded and why, what is flagged for
   manual review; ``grades.csv``, ``scores.png``, ``summary.txt``, the autograded notebooks,
   feedback HTML (``--feedback``) and one log per notebook, all under ``--out``.

Exit status: 0 once the class is graded (whatever the students did), 2 for instructor errors.
See docs/GRADING.md for what this guarantees and what it does not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from course import grade_gradebook, grade_job, sandbox
from course.grade_report import Result, plot_scores, summary, write_csv
from course.sandbox import Limits
from course.submission import Staged, changed_files, stage, timestamp_ok
from course.tools import notebooks as nbs

REFERENCE = "reference-solution"  # the pseudo-student of the reference check
RELEASE_FILES = ("timestamp.txt", "submission_secret.txt")  # kept beside each feedback page


class InstructorError(Exception):
    """A problem with the course, its configuration or the command line, not a student's."""


@dataclass
class Course:
    """Everything a grading job needs, prepared once for the class."""

    root: Path  # the course checkout (solutions/, nbgrader_config.py)
    template: Path  # nbgrader course folder with the assignments generated, no solutions
    lessons: list[str]
    limits: Limits
    cell_timeout: int | None
    out: Path
    work: Path  # scratch space: template, staged files, job folders
    feedback: bool = False
    jobs: int = 1
    sources: dict = field(default_factory=dict)  # lesson -> source notebook (in memory only)
    releases: dict = field(default_factory=dict)  # lesson -> released notebook
    specs: dict = field(default_factory=dict)  # lesson -> grade_job spec


@dataclass
class Graded:
    """What :func:`grade_class` returns."""

    results: list[Result]  # in student, lesson order
    reference: dict[str, Result]  # lesson -> the reference solution's result
    notes: list[str] = field(default_factory=list)  # for the end of the summary


# --------------------------------------------------------------------------- preparing
def prepare(
    root: Path,
    lessons: list[str],
    work: Path,
    limits: Limits,
    cell_timeout: int | None,
    out: Path,
    feedback: bool,
    jobs: int,
) -> Course:
    """Generate every assignment once in ``work/template``; course errors raise."""
    template = nbs.make_course_dir(work / "template", lessons, root)
    course = Course(root, template, lessons, limits, cell_timeout, out, work, feedback, jobs)
    for lesson in lessons:
        try:
            course.sources[lesson] = nbs.read(nbs.source_path(lesson, root))
            release_dir = nbs.generate_assignment(template, lesson)
            course.releases[lesson] = nbs.read(release_dir / f"{lesson}.ipynb")
        except Exception as exc:  # noqa: BLE001 - anything wrong with the course source
            raise InstructorError(f"cannot prepare lesson {lesson}: {exc}") from exc
        course.specs[lesson] = grade_job.make_spec(
            lesson, course.sources[lesson], course.releases[lesson], feedback
        )
        # the solutions stay in memory only: nothing a student's code could find on disk
        for path in (template / "solutions" / lesson).rglob("*.ipynb"):
            path.unlink()
    return course


def _private_course(course: Course, lesson: str, job: Path) -> Path:
    """A one-student nbgrader course folder: config, gradebook copy, lesson files, no solutions."""
    cdir = job / "course"
    cdir.mkdir(parents=True)
    shutil.copy2(course.template / "gradebook.db", cdir / "gradebook.db")
    shutil.copytree(course.template / "solutions" / lesson, cdir / "solutions" / lesson)
    preprocessors = [
        "course.guard.GuardedExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]  # no SaveAutoGrades: scores come from course.grade_job.score_notebook
    feedback = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    config = (course.template / "nbgrader_config.py").read_text(encoding="utf-8")
    config += "\n\n# --- added by `course grade` for this private course folder\n"
    config += f"c.Autograde.autograde_preprocessors = {preprocessors!r}\n"
    config += f"c.GenerateFeedback.preprocessors = {feedback!r}\n"
    if course.cell_timeout:
        config += f"c.Execute.timeout = {int(course.cell_timeout)}\n"
    config += f"c.GuardedExecute.memory_mb = {course.limits.memory_mb or None}\n"
    if course.cell_timeout:  # a guard call takes milliseconds: longer than a cell means stuck
        config += f"c.GuardedExecute.guard_timeout = {min(20, int(course.cell_timeout))}\n"
    (cdir / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return cdir


# The only variables of the grader's environment a job sees: a student's code must not find
# the instructor's tokens (JUPYTERHUB_API_TOKEN, cloud keys, ...) in os.environ.
ENV_KEEP = {"PATH", "LANG", "LANGUAGE", "TZ", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV"}
ENV_KEEP_PREFIXES = ("LC_", "COURSE_", "CUDA_", "NVIDIA_")


def _job_env(job: Path, course: Course) -> dict:
    """Environment of a grading job: an allowlist of the grader's (:data:`ENV_KEEP`), grading
    mode, and its own HOME, IPython and Jupyter folders (so a student's code cannot leave a
    startup file for the next kernel); no user site-packages."""
    env = {
        k: v
        for k, v in nbs.execution_env("autograde").items()
        if k in ENV_KEEP or k.startswith(ENV_KEEP_PREFIXES)
    }
    home = job / "home"
    for sub in (".ipython", ".jupyter", "tmp", ".config/matplotlib", ".local/share/jupyter"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    threads = str(max(1, (os.cpu_count() or 1) // max(course.jobs, 1)))
    env.update(
        NBGRADER_EXECUTION="autograde",
        HOME=str(home),
        IPYTHONDIR=str(home / ".ipython"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / ".local/share/jupyter/runtime"),
        MPLCONFIGDIR=str(home / ".config/matplotlib"),
        TMPDIR=str(home / "tmp"),
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        MPLBACKEND="Agg",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        MALLOC_ARENA_MAX="2",  # each arena reserves 64 MB of address space (the memory cap)
    )
    return env


# --------------------------------------------------------------------------- one submission
def grade_one(course: Course, st: Staged) -> Result:
    """Grade one staged submission; never raises for anything the student did."""
    start = time.monotonic()
    spec = course.specs[st.lesson]
    res = Result(st.student, st.lesson, flags=list(st.flags))
    res.max_score = sum(spec["tests"].values())
    res.manual_max = sum(spec["manual"].values())
    if st.nb is None:
        res.status, res.reason = st.status, st.reason
        return res
    extras = {rel: d for rel, d in st.digests.items() if rel != st.notebook}
    changed = changed_files(st.folder, extras)
    if changed:  # another notebook's code got at the copy: take the original again if intact
        res.flags.append(f"staged files changed before grading: {', '.join(changed)}")
        if not changed_files(st.origin, {rel: extras[rel] for rel in changed}):
            for rel in changed:
                shutil.copyfile(st.origin / rel, st.folder / rel)
    with tempfile.TemporaryDirectory(prefix="job-", dir=course.work) as tmp:
        _run_job(course, st, Path(tmp), res)
    if res.status != "graded":
        res.score, res.tests = 0.0, {}
    res.seconds = time.monotonic() - start
    return res


def _run_job(course: Course, st: Staged, job: Path, res: Result) -> None:
    lesson = st.lesson
    cdir = _private_course(course, lesson, job)
    dest = cdir / "submitted" / grade_job.STUDENT / lesson
    for rel in st.digests:
        if rel == st.notebook:
            continue
        if rel == "timestamp.txt" and not timestamp_ok(st.folder / rel):
            res.flags.append("unreadable timestamp.txt ignored")
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(st.folder / rel, dest / rel)
    nbs.write(st.nb, dest / f"{lesson}.ipynb")
    (job / "spec.json").write_text(json.dumps(course.specs[lesson]), encoding="utf-8")
    env = _job_env(job, course)
    outcome = sandbox.call(
        "course.grade_job", "main", ([str(job)],), course.limits, cwd=job, env=env
    )
    _save_log(course, st.student, lesson, outcome.output)
    result_file = job / "out" / "result.json"
    result = {}
    if result_file.is_file() and not result_file.is_symlink() and not outcome.timed_out:
        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
        except ValueError:
            result = {}
    guard = result.get("guard") or {}
    if outcome.timed_out:
        res.status = "timeout"
        res.reason = f"did not finish within {course.limits.timeout_s:g} s (whole notebook)"
    elif outcome.returncode != 0 or not result.get("autograded"):
        res.status = "crashed"
        died = f" ({outcome.signal})" if outcome.signal else ""
        why = result.get("error") or _last_error(outcome.output)
        res.reason = f"grading job failed{died}: {why}"
    else:
        res.score, res.tests = float(result["score"]), result["tests"]
        res.flags += result.get("flags", [])
        _explain(result.get("errors", {}), course, res)
        if st.student != REFERENCE:  # the reference's pages hold the solutions: not kept
            keep = course.out / "autograded" / st.student / lesson
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(job / "out" / "autograded.ipynb", keep / f"{lesson}.ipynb")
            _keep_feedback(course, st, job, result.get("feedback"), res)
    if guard.get("kernel"):
        res.note(guard["kernel"])
    for k in outcome.memory_killed:
        what = "the kernel" if "ipykernel" in k["cmd"] else repr(k["cmd"][:60])
        res.note(f"memory limit: {what} killed at {k['rss_mb']} MB resident")
    res.flags += [f"tamper: {t}" for t in guard.get("tamper", [])]
    res.flags += [f"grader: {t}" for t in guard.get("notes", [])]
    if outcome.leftovers:
        res.flags.append(f"{outcome.leftovers} leftover process(es) killed after grading")


def _explain(errors: dict[str, str], course: Course, res: Result) -> None:
    """Reasons for cells that hit a limit: they scored 0 (or broke what followed)."""
    for where, ename in errors.items():
        if ename == "CellTimeoutError":
            limit = f" ({course.cell_timeout} s per cell)" if course.cell_timeout else ""
            res.note(f"{where} timed out{limit}")
        else:
            res.note(f"{where} ran out of memory ({course.limits.memory_mb} MB)")


def _keep_feedback(course: Course, st: Staged, job: Path, fb: dict | None, res: Result) -> None:
    if not course.feedback:
        return
    if not fb or "error" in fb or not (job / "out" / "feedback.html").is_file():
        res.flags.append(f"grader: feedback failed ({(fb or {}).get('error', 'no page')})")
        return
    if fb.get("redacted"):
        res.flags.append(f"hidden-test lines printed by the notebook ({fb['redacted']}) removed")
    if fb.get("leaked"):  # never expected: the page is not kept
        first = fb["leaked"][0][:80]
        res.flags.append(
            f"grader: feedback withheld, {len(fb['leaked'])} hidden-test line(s) in it: {first!r}"
        )
        return
    dest = course.out / "feedback" / st.student / st.lesson
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job / "out" / "feedback.html", dest / f"{st.lesson}.html")
    for name in RELEASE_FILES:  # what `nbgrader release_feedback` needs beside the page
        if name in st.digests:
            shutil.copyfile(st.folder / name, dest / name)


_log_lock = threading.Lock()


def _save_log(course: Course, student: str, lesson: str, text: str) -> None:
    logs = course.out / "logs"
    with _log_lock:
        logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{student}__{lesson}.log").write_text(text, encoding="utf-8", errors="replace")


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", ln) or "| ERROR]" in ln:
            return ln[:200]
    return lines[-1][:200] if lines else "no output"


# --------------------------------------------------------------------------- the class
def students_in(submissions: Path) -> list[str]:
    return sorted(
        p.name
        for p in submissions.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )


def _stage(course: Course, submissions: Path, student: str, lesson: str, dest: Path) -> Staged:
    return stage(
        submissions, student, lesson, dest, course.sources[lesson], course.releases[lesson]
    )


def reference_submissions(course: Course, work: Path) -> list[Staged]:
    """Each lesson's release filled with the reference answers, staged like a student's."""
    staged = []
    for lesson in course.lessons:
        nb = nbs.fill_release(course.releases[lesson], course.sources[lesson])
        nbs.write(nb, work / "reference" / REFERENCE / lesson / f"{lesson}.ipynb")
        staged.append(_stage(course, work / "reference", REFERENCE, lesson, work / "ref" / lesson))
    return staged


def check_reference(r: Result, course: Course) -> None:
    """The reference answers must run to the end under the limits: else no student could."""
    if r.status != "graded" or r.reason:
        raise InstructorError(
            f"the reference solution of {r.lesson} cannot be graded under these limits: "
            f"{r.status}: {r.reason} (see {course.out / 'logs'}); raise --timeout, "
            "--cell-timeout or --memory, or fix the environment"
        )


def grade_class(
    submissions: Path,
    root: Path,
    lessons: list[str],
    out: Path,
    *,
    jobs: int = 2,
    limits: Limits | None = None,
    cell_timeout: int | None = None,
    feedback: bool = False,
    students: list[str] | None = None,
    work_dir: Path | None = None,
    gradebook: Path | None = None,
    log=print,
) -> Graded:
    """Grade every (student, lesson), and record the scores in ``gradebook`` if given (see
    :mod:`course.grade_gradebook`). Raises :class:`InstructorError` for course errors,
    including a reference solution that cannot be graded (the class's jobs still queued are
    then cancelled)."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise InstructorError(f"no submissions folder {submissions}")
    names = students or students_in(submissions)
    if not names:
        raise InstructorError(f"no student folders in {submissions}")
    out.mkdir(parents=True, exist_ok=True)
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-grade-", dir=work_dir) as tmp:
        work = Path(tmp)
        log(f"preparing {len(lessons)} lesson(s) (nbgrader generate_assignment) ...")
        course = prepare(root, lessons, work, limits or Limits(), cell_timeout, out, feedback, jobs)
        if gradebook is not None:
            try:
                cid = grade_gradebook.course_id(root)
                fingerprint = grade_gradebook.check(gradebook, cid, course.specs)
            except grade_gradebook.GradebookError as exc:
                raise InstructorError(str(exc)) from exc
        refs = reference_submissions(course, work)
        todo = [
            _stage(course, submissions, s, le, work / "staged" / s / le)
            for s in names
            for le in lessons
        ]
        log(f"grading {len(todo)} notebook(s) of {len(names)} student(s), {jobs} at a time ...")
        results: dict[tuple[str, str], Result] = {}
        reference: dict[str, Result] = {}
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            first = [pool.submit(grade_one, course, st) for st in refs]
            futures = {pool.submit(grade_one, course, st): st for st in todo}
            for fut in first:
                r = fut.result()
                try:
                    check_reference(r, course)
                except InstructorError:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
                reference[r.lesson] = r
                log(f"  reference solution / {r.lesson}: {r.score:g}/{r.max_score:g}")
            for fut in as_completed(futures):
                st = futures[fut]
                try:
                    r = fut.result()
                except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the class
                    r = Result(st.student, st.lesson, status="crashed", flags=st.flags)
                    r.reason = f"grader error: {exc!r}"
                    r.max_score = sum(course.specs[st.lesson]["tests"].values())
                results[(st.student, st.lesson)] = r
                log(f"  {r.student} / {r.lesson}: {r.status} {r.score:g}/{r.max_score:g} "
                    f"({r.seconds:.0f} s)")  # fmt: skip
        for st in todo:  # did anything rewrite the submissions while the class was graded?
            moved = changed_files(st.origin, st.digests)
            if moved:
                results[(st.student, st.lesson)].flags.append(
                    f"submitted files changed while the class was graded: {', '.join(moved)} "
                    "(graded from the copy taken before)"
                )
        graded = Graded([results[(st.student, st.lesson)] for st in todo], reference)
        if gradebook is not None:
            graded.notes.append(
                grade_gradebook.record(
                    gradebook, cid, fingerprint, graded.results, course.specs, out, todo
                )
            )
    return graded


# --------------------------------------------------------------------------- CLI


def run(args) -> int:
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.jobs is None:
            args.jobs = max(1, (os.cpu_count() or 2) // 2)
        if args.course_dir is not None:
            for need in ("solutions", "nbgrader_config.py"):
                if not (args.course_dir / need).exists():
                    raise InstructorError(f"{args.course_dir} has no {need}")
        root = nbs.repo_root(args.course_dir)
        lessons = nbs.resolve_lessons(args.lessons, root)
        if not lessons:
            raise InstructorError(f"no lessons in {root / 'solutions'}")
        limits = Limits(timeout_s=args.timeout, memory_mb=args.memory or None)
        graded = grade_class(
            args.submissions,
            root,
            lessons,
            args.out,
            jobs=args.jobs,
            limits=limits,
            cell_timeout=args.cell_timeout,
            feedback=args.feedback,
            students=args.students,
            work_dir=args.work_dir,
            gradebook=args.gradebook,
            log=log,
        )
    except (InstructorError, FileNotFoundError, SystemExit) as exc:  # SystemExit: bad lesson
        print(f"course grade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        sandbox.stop_all()
        print("course grade: interrupted; no grades.csv written", file=sys.stderr)
        return 130
    write_csv(graded.results, args.out / "grades.csv")
    plot_scores(graded.results, lessons, args.out / "scores.png")
    text = summary(graded.results, lessons)
    short = [f"{le} {r.score:g}/{r.max_score:g}" for le, r in graded.reference.items()]
    text += "\n\nReference solution under the same limits: " + ", ".join(short)
    text += "".join("\n" + note for note in graded.notes)
    (args.out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nwrote {args.out / 'grades.csv'}, {args.out / 'scores.png'}, summary.txt, logs/")
    return 0
