"""``course grade SUBMISSIONS [LESSON ...]``: grade a class, one sandboxed notebook at a time.

SUBMISSIONS is nbgrader's ``submitted/`` layout, ``<student>/<lesson>/<lesson>.ipynb``.

0. **Memory**: the caps of what one notebook can make the host hold (:func:`memory_caps`) and
   their sum over ``--jobs`` are printed beside the machine's memory; a sum that does not fit
   stops here (exit 2). Under root, :func:`course.grading.sandbox.check_available` also proves
   that notebooks can run as an unprivileged uid, or stops here.
1. **Prepare** (instructor errors stop here, exit 2): release each lesson once with
   ``nbgrader generate_assignment`` in a private folder (the students' version, needed to
   repair submissions), read the course source (hidden tests) into this process, and build
   each lesson's :class:`Plan`: which cells are tests, helpers, setup, written answers.
2. **Stage** each student in a limited subprocess (:func:`course.grading.staging.stage_student`)
   before any student's code runs: notebooks repaired against the source, scanned, handed-in
   files copied with their digests.
3. **Reference check**: each lesson's release filled with the reference answers is graded
   first, like a student. It must earn every point: if it does not, the limits, the machine or
   a test are wrong, and grading the class would give everyone zeros.
4. **Grade** each (student, lesson) in its own worker process (forked from a server that has
   imported torch once), ``--jobs`` at a time: :func:`course.grading.job.run_job` runs the
   student's cells in a bubblewrap sandbox and the tests here. Each result is written to
   ``OUT/results/`` the moment it is known, with the digests it was graded from: a rerun after a
   crash or a kill of this command reuses every result whose submission and course are
   unchanged, and grades the rest.
5. **Report**: ``grades.csv``, ``summary.txt``, ``scores.png`` (rewritten as results arrive),
   the autograded notebooks for the formgrader, feedback pages (``--feedback``), and with
   ``--gradebook`` the scores in nbgrader's gradebook.

Exit status: 0 once the class is graded (whatever the students did), 2 for instructor errors.
See docs/GRADING.md for the threat model and what is enforced.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from course import cells
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.errors import CourseError
from course.grading import feedback as fb
from course.grading import report, wire
from course.grading.job import CellSpec, JobResult, JobSpec
from course.grading.report import Result, Status
from course.grading.sandbox import (
    UID_BASE,
    UID_SLOTS,
    Limits,
    SandboxUnavailable,
    check_available,
    check_readable,
)
from course.grading.staging import Staged, stage_student, timestamp_ok

REFERENCE = "reference-solution"  # the pseudo-student of the reference check
# A grading worker without its wire frame and checkpoint: Python, torch and the course imported,
# the tests running, lesson 05's reference ResNet-34 evaluated. An allowance: the toy class's
# workers peak near 200 MB (tests/test_grading.py checks the printed cap holds for the hostile
# class); a lesson-05 worker's peak was not measured.
WORKER_BASE_MB = 1024
RELEASE_FILES = ("timestamp.txt", "submission_secret.txt")  # beside each feedback page
PEAK_FILE = "worker-peak-mb.txt"  # beside a job's result: its worker's peak RSS
UID_BLOCK = 64  # host uids one grader takes (jobs beyond share them)
GRACE_S = 60  # a worker gets this long beyond the notebook's limit before it is killed
PRELOAD = ["torch", "course.grading.job", "course.grading.proxy", "course.grading.sandbox"]
RESULT_VERSION = 1


class InstructorError(CourseError):
    """A problem with the course, its configuration or the command line, not a student's."""


# --------------------------------------------------------------------------- the course
if TYPE_CHECKING:
    from nbformat import NotebookNode


@dataclass
class Plan:
    """One lesson as the grader sees it (built from the course source, kept in this process)."""

    lesson: str
    source_path: Path
    source: NotebookNode  # the nbgrader source notebook (hidden tests)
    release: NotebookNode  # the students' version (nbgrader generate_assignment)
    setup: str  # the source's first code cell
    tests: dict[str, float]  # test grade id -> points
    test_sources: dict[str, str]
    helpers: dict[str, str]  # helper cell grade id -> source
    manual: dict[str, float]  # written answers -> points
    artifacts: set[str]  # tests of a file the student hands in (lesson 05's checkpoint)
    hidden: list[str]  # lines that must never reach a student
    fingerprint: str  # of everything that decides a grade (source, release, limits)


@dataclass
class Course:
    checkout: Checkout
    lessons: list[str]
    plans: dict[str, Plan]
    work: Path
    out: Path
    limits: Limits
    cell_timeout: float
    timeout: float
    data: Path | None
    feedback: bool = False
    jobs: int = 1
    unsafe: bool = False
    files: dict = field(default_factory=dict)  # lesson -> (source file, release file) for staging


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def make_plan(lesson: str, source_path: Path, source, release, settings: str) -> Plan:
    # the lesson's first code cell (imports); the generated course cells are not lesson content
    code = [c for c in source.cells if c.cell_type == "code" and not cells.is_course_cell(c)]
    tests = {cells.grade_id(c): cells.points(c) for c in source.cells if cells.is_test(c)}
    return Plan(
        lesson=lesson,
        source_path=source_path,
        source=source,
        release=release,
        setup=code[0].source if code else "",
        tests=tests,
        test_sources={cells.grade_id(c): c.source for c in source.cells if cells.is_test(c)},
        helpers={cells.grade_id(c): c.source for c in source.cells if cells.is_helper(c)},
        manual={cells.grade_id(c): cells.points(c) for c in source.cells if cells.is_manual(c)},
        artifacts={cells.grade_id(c) for c in source.cells if cells.grades_artifact(c)},
        hidden=fb.hidden_lines(source, release),
        fingerprint=_sha(
            str(RESULT_VERSION),
            nbformat.writes(source),
            nbformat.writes(release),
            settings,
        ),
    )


def prepare(
    checkout: Checkout, lessons: list[str], work: Path, out: Path, limits: Limits, *,
    cell_timeout: float | None, timeout: float, data: Path | None, feedback: bool, jobs: int,
    unsafe: bool,
) -> Course:  # fmt: skip
    """Release every lesson once and build its plan; course errors raise InstructorError."""
    template = checkout.copy(work / "template", lessons)
    cell_timeout = cell_timeout or checkout.cell_timeout
    settings = json.dumps([limits.__dict__, cell_timeout, timeout, unsafe], sort_keys=True)
    course = Course(
        checkout,
        lessons,
        {},
        work,
        out,
        limits,
        cell_timeout,
        timeout,
        data,
        feedback,
        jobs,
        unsafe,
    )
    try:
        template.generate_assignments(lessons)  # one nbgrader process for them all
        released = set(lessons)
    except Exception:  # noqa: BLE001 - lesson by lesson below, to say which one is wrong
        released = set()
    for lesson in lessons:
        source_path = checkout.source(lesson)
        try:
            source = nbs.read(source_path)
            if lesson not in released:
                template.generate_assignment(lesson)
            release = nbs.read(template.release(lesson))
        except Exception as exc:  # noqa: BLE001 - anything wrong with the course source
            raise InstructorError(f"cannot prepare lesson {lesson}: {exc}") from exc
        course.plans[lesson] = make_plan(lesson, source_path, source, release, settings)
        specs = work / "specs" / lesson
        specs.mkdir(parents=True)
        nbs.write(source, specs / "source.ipynb")
        nbs.write(release, specs / "release.ipynb")
        course.files[lesson] = (specs / "source.ipynb", specs / "release.ipynb")
    shutil.rmtree(template.sources, ignore_errors=True)
    return course


# --------------------------------------------------------------------------- one notebook
def job_spec(course: Course, st: Staged) -> JobSpec:
    files = {
        rel: str(st.folder / rel)
        for rel in st.digests
        if rel != st.notebook and rel not in RELEASE_FILES
    }
    return spec_for(
        course.plans[st.lesson], st.student, st.nb, files,
        data=course.data, cell_timeout=course.cell_timeout, timeout=course.timeout,
        limits=course.limits, unsafe=course.unsafe,
    )  # fmt: skip


def spec_for(
    plan: Plan, student: str, nb, files: dict[str, str], *, data: Path | None,
    cell_timeout: float, timeout: float, limits: Limits, unsafe: bool = False,
) -> JobSpec:  # fmt: skip
    """The job for notebook ``nb`` (staged: test and locked cells are the course's)."""
    specs = []
    for i, cell in enumerate(nb.cells):
        gid = cells.grade_id(cell)
        if cell.cell_type != "code":
            specs.append(CellSpec(i, "markdown", ""))
        elif cells.is_test(cell) and gid in plan.tests:
            specs.append(CellSpec(i, "test", "", gid, plan.tests[gid], plan.test_sources[gid]))
        elif gid in plan.helpers and cells.is_helper(cell):
            specs.append(CellSpec(i, "helper", cell.source, gid, 0.0, plan.helpers[gid]))
        else:
            specs.append(CellSpec(i, "student", cell.source, gid))
    return JobSpec(
        student=student,
        lesson=plan.lesson,
        cells=specs,
        setup=plan.setup,
        files=files,
        data=str(data) if data else None,
        cell_timeout=cell_timeout,
        timeout=timeout,
        limits=replace(limits),  # a copy: the grader sets each job's uid in it
        source=str(plan.source_path),
        unsafe=unsafe,
    )


def _worker(spec_json: str, workdir: str, result_path: str) -> None:
    import resource

    from course.grading.job import run_job

    text = run_job(spec_json, workdir)
    tmp = result_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, result_path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    Path(workdir, PEAK_FILE).write_text(str(peak), encoding="utf-8")


def worker_peak_mb(workdir: Path) -> int | None:
    """The peak resident memory (MB) of the worker that graded in ``workdir``, if known."""
    try:
        return int((workdir / PEAK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def run_in_worker(spec: JobSpec, work: Path, limit_s: float) -> JobResult:
    """Run one job in a fresh worker process; a worker that overruns is killed."""
    work.mkdir(parents=True, exist_ok=True)
    result_path = work / "result.json"
    proc = _context().Process(target=_worker, args=(spec.to_json(), str(work), str(result_path)))
    proc.start()
    proc.join(limit_s)
    if proc.is_alive():
        proc.kill()
        proc.join(10)
        result = JobResult(spec.student, spec.lesson, status=Status.TIMEOUT, unsafe=spec.unsafe)
        result.notes.append(f"the grading worker did not finish within {limit_s:g} s")
        return result
    try:
        return JobResult.from_json(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        result = JobResult(spec.student, spec.lesson, status=Status.CRASHED, unsafe=spec.unsafe)
        result.notes.append(f"the grading worker died (exit {proc.exitcode}): {exc}")
        return result


# --------------------------------------------------------------------------- on a cluster
def cluster_task(spec_json: str, files: dict[str, bytes], source: str, limit_s: float) -> str:
    """One job on a Dask worker (``course grade --scheduler``): the handed-in files and the
    course source travel with the task (the worker shares no disk with the grader), the job runs
    in a fresh ``python -m course.grading.job`` under the same sandbox as on one machine, and
    the :class:`JobResult` comes back as JSON."""
    import subprocess

    spec = JobSpec.from_json(spec_json)
    with tempfile.TemporaryDirectory(prefix="course-grade-task-") as tmp:
        work = Path(tmp)
        for i, (rel, data) in enumerate(files.items()):
            path = work / "files" / str(i) / Path(rel).name
            path.parent.mkdir(parents=True)
            path.write_bytes(data)
            spec.files[rel] = str(path)
        (work / "source.ipynb").write_text(source, encoding="utf-8")
        spec.source = str(work / "source.ipynb")
        (work / "spec.json").write_text(spec.to_json(), encoding="utf-8")
        job = work / "job"
        job.mkdir()
        try:
            subprocess.run(
                [sys.executable, "-m", "course.grading.job", str(work / "spec.json"), str(job)],
                timeout=limit_s, capture_output=True, check=False,
            )  # fmt: skip
            return (job / "result.json").read_text(encoding="utf-8")
        except (subprocess.TimeoutExpired, OSError) as exc:
            late = isinstance(exc, subprocess.TimeoutExpired)
            status = Status.TIMEOUT if late else Status.CRASHED
            result = JobResult(spec.student, spec.lesson, status=status, unsafe=spec.unsafe)
            result.notes.append(f"the grading worker failed: {type(exc).__name__}")
            return result.to_json()


class Cluster:
    """Jobs handed to a Dask cluster: ``tcp://HOST:PORT`` (an existing scheduler) or
    ``local:N`` (N single-threaded worker processes on this machine, for trying it out)."""

    def __init__(self, address: str):
        from course.grading import cluster

        self.client, self.local = cluster.connect(address)  # fails fast: InstructorError-like
        try:
            cluster.check_workers(cluster.worker_versions(self.client))
        except CourseError:
            self.close()
            raise
        self.threads = sum(self.client.nthreads().values())

    def run(self, spec: JobSpec, limit_s: float) -> JobResult:
        files = {rel: Path(path).read_bytes() for rel, path in spec.files.items()}
        source = Path(spec.source).read_text(encoding="utf-8")
        future = self.client.submit(
            cluster_task, spec.to_json(), files, source, limit_s, pure=False
        )
        try:
            return JobResult.from_json(future.result(timeout=limit_s + GRACE_S))
        except Exception as exc:  # noqa: BLE001 - a lost worker: this notebook, not the class
            status = Status.TIMEOUT if isinstance(exc, TimeoutError) else Status.CRASHED
            result = JobResult(spec.student, spec.lesson, status=status, unsafe=spec.unsafe)
            result.notes.append(f"the cluster did not return a result: {type(exc).__name__}")
            return result

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


def to_result(course: Course, st: Staged, job: JobResult | None) -> Result:
    plan = course.plans[st.lesson]
    res = Result(st.student, st.lesson, flags=list(st.flags))
    res.max_score = sum(plan.tests.values())
    res.manual_max = sum(plan.manual.values())
    res.unsafe = course.unsafe
    if st.nb is None or job is None:
        res.status, res.reason = st.status, st.reason
        return res
    res.status = job.status if job.status in (Status.GRADED, Status.TIMEOUT) else Status.CRASHED
    res.tests = {t.grade_id: t.earned for t in job.tests}
    res.score = sum(res.tests.values()) if res.status == Status.GRADED else 0.0
    res.seconds = job.seconds
    for note in job.notes:
        res.note(note)
        if wire.PROTOCOL in note:  # a forged or broken frame: the student's failure, for review
            res.flags.append(f"review: {note[:300]}")
    res.flags += [f"grader: {a.splitlines()[0][:200]}" for a in job.authoring]
    res.flags += job.flags  # how-constraints the grader could not verify (constraints.py)
    return res


def environment_digest() -> str:
    """The grading environment a kept reference check stands for: this package's code and
    the torch build (a changed grader or library runs the check again)."""
    import torch

    package = Path(__file__).resolve().parents[1]
    files = sorted(package.rglob("*.py"))
    return _sha(torch.__version__, *(f"{f.relative_to(package)}\0{f.read_text()}" for f in files))


def submission_digest(st: Staged) -> str:
    return _sha(json.dumps(sorted(st.digests.items())), st.status, st.reason)


class Store:
    """``OUT/results/``: one JSON file per (student, lesson), written as soon as it is known."""

    def __init__(self, out: Path, folder: str = "results"):
        self.dir = out / folder
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def path(self, student: str, lesson: str) -> Path:
        key = hashlib.sha256(f"{student}\0{lesson}".encode("utf-8", "surrogatepass")).hexdigest()
        return self.dir / f"{key[:32]}.json"

    def load(self, student: str, lesson: str, digest: str, fingerprint: str) -> JobResult | None:
        try:
            data = json.loads(self.path(student, lesson).read_text(encoding="utf-8"))
            if data["digest"] != digest or data["fingerprint"] != fingerprint:
                return None
            return JobResult.from_json(json.dumps(data["job"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(
        self, student: str, lesson: str, digest: str, fingerprint: str, job: JobResult
    ) -> None:
        data = {"student": student, "lesson": lesson, "digest": digest}
        data.update(fingerprint=fingerprint, job=json.loads(job.to_json()))
        path = self.path(student, lesson)
        with self.lock:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, path)


def keep_outputs(course: Course, st: Staged, job: JobResult, res: Result) -> None:
    """The instructor's autograded copy and (``--feedback``) the student's page."""
    if st.student == REFERENCE or job.status != Status.GRADED or st.nb is None:
        return
    safe = report.path_name(st.student)
    graded = fb.autograded_notebook(st.nb, job)
    dest = course.out / "autograded" / safe / st.lesson
    dest.mkdir(parents=True, exist_ok=True)
    nbs.write(graded, dest / f"{st.lesson}.ipynb")
    if not course.feedback:
        return
    plan = course.plans[st.lesson]
    page = fb.feedback_html(fb.feedback_notebook(st.nb, job), plan.source_path.parent)
    own = {c.source for c in st.nb.cells if not cells.is_test(c)}
    leaked = fb.leaked_lines(page, plan.hidden, own)
    if leaked:
        res.flags.append(
            f"grader: feedback withheld, {len(leaked)} hidden-test line(s) in it: "
            f"{leaked[0][:60]!r}"
        )
        return
    dest = course.out / "feedback" / safe / st.lesson
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{st.lesson}.html").write_text(page, encoding="utf-8")
    for name in RELEASE_FILES:  # what `nbgrader release_feedback` needs beside the page
        if name in st.digests and (name != "timestamp.txt" or timestamp_ok(st.folder / name)):
            shutil.copyfile(st.folder / name, dest / name)


# --------------------------------------------------------------------------- memory
def machine_mb() -> int:
    """This machine's memory (MB): ``MemTotal``, or the grader's cgroup limit when lower."""
    total = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) // 1024
    except OSError:
        pass
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = int(Path(limit).read_text().split()[0]) // 2**20
        except (OSError, ValueError, IndexError):
            continue
        total = min(total, value) if total else value
    return total


def on_tmpfs(path: Path) -> bool:
    """Whether ``path`` lies on a tmpfs (what is written there is memory)."""
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    target = str(path.resolve())
    for line in lines:
        parts = line.split()
        if len(parts) > 2:
            mount = parts[1].replace("\\040", " ")
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, parts[2]
    return kind == "tmpfs"


def memory_caps(limits: Limits, staged_on_tmpfs: bool) -> dict[str, int]:
    """What one notebook being graded can make the host hold (MB), by kind: its sandbox
    (resident memory, tmpfs), the grading worker (its base, one wire frame, lesson 05's
    checkpoint decoded), and its staged files where the work folder is a tmpfs."""
    from course.grading import staging, wire
    from course.scoring import MAX_DECODED_MB

    caps = dict(limits.host_mb())
    caps["grader worker"] = WORKER_BASE_MB + wire.CAPS.host_mb() + MAX_DECODED_MB
    if staged_on_tmpfs:
        caps["staged files (work folder on tmpfs)"] = staging.MAX_STAGED_MB
    return caps


def check_memory(limits: Limits, jobs: int, work: Path, log, remote: bool = False) -> dict:
    """Log the per-notebook caps and their sum over ``jobs`` beside this machine's memory;
    raise :class:`InstructorError` with the numbers when they do not fit (never with a
    cluster, whose machines are elsewhere)."""
    caps = memory_caps(limits, on_tmpfs(work))
    per_job = sum(caps.values())
    parts = ", ".join(f"{k} {v:,} MB" for k, v in caps.items())
    if not limits.memory_mb:
        log(f"memory caps per notebook: {parts}; --memory 0: the sandbox's memory is unlimited")
        return caps
    machine = machine_mb()
    log(f"memory caps per notebook: {parts} = {per_job:,} MB; x {jobs} job(s) = "
        f"{per_job * jobs:,} MB" + (f" of this machine's {machine:,} MB" if not remote else ""))  # fmt: skip
    if not remote and machine and per_job * jobs > machine:
        raise InstructorError(
            f"{jobs} job(s) x {per_job:,} MB of caps per notebook ({parts}) = "
            f"{per_job * jobs:,} MB, more than this machine's {machine:,} MB: lower --jobs or "
            "--memory"
        )
    return caps


# --------------------------------------------------------------------------- the class
def students_in(submissions: Path) -> list[str]:
    return sorted(
        p.name
        for p in submissions.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )


@dataclass
class Graded:
    results: list[Result]
    reference: dict[str, Result]
    staged: list[Staged] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def reference_submissions(course: Course) -> list[Staged]:
    """Each lesson's release filled with the reference answers, staged like a student's."""
    folder = course.work / "reference"
    for lesson in course.lessons:
        plan = course.plans[lesson]
        nb = nbs.fill_release(plan.release, plan.source)
        dest = folder / REFERENCE / lesson
        shutil.copytree(
            plan.source_path.parent, dest, dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__", "data"),
        )  # fmt: skip
        nbs.write(nb, dest / f"{lesson}.ipynb")
    return _stage(course, folder, REFERENCE)


def _stage(course: Course, submissions: Path, student: str) -> list[Staged]:
    sources = {le: course.files[le][0] for le in course.lessons}
    releases = {le: course.files[le][1] for le in course.lessons}
    dest = (
        course.work
        / "staged"
        / hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    )
    return stage_student(submissions, student, course.lessons, dest, sources, releases)


def check_reference(course: Course, st: Staged, job: JobResult) -> None:
    """The reference answers must earn every point, except tests of a handed-in file (lesson
    05's trained model: no reference checkpoint exists), which must fail cleanly."""
    plan = course.plans[st.lesson]
    lost = [t for t in job.tests if not t.passed and t.grade_id not in plan.artifacts]
    if st.nb is None or job.status != Status.GRADED or lost or job.authoring:
        why = (
            st.reason
            or "; ".join(job.authoring[:2])
            or "; ".join(f"{t.grade_id}: {t.message}" for t in lost[:3])
            or "; ".join(job.notes[:2])
        )
        raise InstructorError(
            f"the reference solution of {plan.lesson} does not earn every point under these "
            f"limits ({job.score:g}/{sum(plan.tests.values()):g}): {why}. Raise --timeout, "
            "--cell-timeout or --memory, fix the environment, or fix the test"
        )


def grade_class(
    submissions: Path, checkout: Checkout, lessons: list[str], out: Path, *,
    jobs: int = 1, limits: Limits | None = None, cell_timeout: float | None = None,
    timeout: float = 1200, feedback: bool = False, students: list[str] | None = None,
    work_dir: Path | None = None, gradebook: Path | None = None, data: Path | None = None,
    unsafe: bool = False, scheduler: str | None = None, log=print,
) -> Graded:  # fmt: skip
    """Grade every (student, lesson); see the module docstring."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise InstructorError(f"no submissions folder {submissions}")
    names = students or students_in(submissions)
    if not names:
        raise InstructorError(f"no student folders in {submissions}")
    if not unsafe:
        try:
            check_available()
            check_readable(data)
        except SandboxUnavailable as exc:
            raise InstructorError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-grade-", dir=work_dir) as tmp:
        cluster = Cluster(scheduler) if scheduler else None  # first: an unreachable one fails fast
        try:
            check_memory(limits or Limits(), jobs, Path(tmp), log, remote=bool(scheduler))
            log(f"preparing {len(lessons)} lesson(s) ...")
            course = prepare(
                checkout, lessons, Path(tmp), out, limits or Limits(), cell_timeout=cell_timeout,
                timeout=timeout, data=data, feedback=feedback, jobs=jobs, unsafe=unsafe,
            )  # fmt: skip
            book = Book(gradebook, course) if gradebook is not None else None
            if cluster is not None:
                course.jobs = max(jobs, cluster.threads)
                log(
                    f"grading on the Dask cluster at {scheduler} ({cluster.threads} worker threads)"
                )
            graded = _grade(course, submissions, names, Grader(course, Store(out), cluster), log)
        finally:
            if cluster is not None:
                cluster.close()
        if unsafe:
            graded.notes.append(report.UNSAFE)
        if book is not None:
            graded.notes.append(book.record(graded.results, graded.staged))
    return graded


class Book:
    """``--gradebook``: checked against the course before grading, written after."""

    def __init__(self, db: Path, course: Course):
        from course.grading import gradebook as gbook

        self.db, self.course = db, course
        try:
            self.cid = course.checkout.course_id
            self.fingerprint = gbook.check(db, self.cid, course.plans)
        except gbook.GradebookError as exc:
            raise InstructorError(str(exc)) from None

    def record(self, results: list[Result], staged: list[Staged]) -> str:
        from course.grading import gradebook as gbook

        plans, out = self.course.plans, self.course.out
        return gbook.record(self.db, self.cid, self.fingerprint, results, plans, out, staged)


class Grader:
    """Grades one staged notebook: from the results store when unchanged, else in a worker
    process here or on the cluster."""

    def __init__(self, course: Course, store: Store, cluster: Cluster | None):
        self.course, self.store, self.cluster = course, store, cluster
        # under root, each job running at once gets a host uid of its own (sandbox.UID_BASE +
        # a slot): one job's processes never count against another's process limit
        first = (os.getpid() % (UID_SLOTS // UID_BLOCK)) * UID_BLOCK
        self.peaks: dict[tuple[str, str], int | None] = {}  # worker peak RSS (MB) per job
        self.uids: queue.SimpleQueue = queue.SimpleQueue()
        for slot in range(max(1, min(course.jobs, UID_BLOCK))):
            self.uids.put(UID_BASE + first + slot)

    def __call__(self, st: Staged) -> tuple[Staged, JobResult | None]:
        if st.nb is None:
            return st, None
        course = self.course
        plan = course.plans[st.lesson]
        digest = submission_digest(st)
        if st.student != REFERENCE:
            cached = self.store.load(st.student, st.lesson, digest, plan.fingerprint)
            if cached is not None:
                return st, cached
        spec, limit = job_spec(course, st), course.timeout + GRACE_S
        uid = self.uids.get()
        try:
            if os.geteuid() == 0:
                spec.limits.uid = uid
            if self.cluster is not None:
                job = self.cluster.run(spec, limit)
            else:
                key = hashlib.sha256(f"{st.student}\0{st.lesson}".encode("utf-8", "surrogatepass"))
                work = course.work / "jobs" / key.hexdigest()[:24]
                job = run_in_worker(spec, work, limit)
                self.peaks[(st.student, st.lesson)] = worker_peak_mb(work)
        finally:
            self.uids.put(uid)
        if st.student != REFERENCE:
            self.store.save(st.student, st.lesson, digest, plan.fingerprint, job)
        return st, job


def _grade(course: Course, submissions: Path, names: list[str], grade: Grader, log) -> Graded:
    """Reference check, staging, then every notebook, ``course.jobs`` at a time."""
    log("reference check: grading the reference solution of each lesson first ...")
    reference: dict[str, Result] = {}
    # A passed check is kept (OUT/reference/) and reused while the lesson, the settings, the
    # environment and the reference answers are unchanged: a rerun or a late hand-in does not
    # pay for it again. A failed check is never kept, so fixing the environment takes effect.
    kept = Store(course.out, "reference")
    env = environment_digest()

    def key(st: Staged) -> tuple[str, str, str, str]:
        """The kept record's key: (student, lesson, digest, fingerprint)."""
        digest = _sha(submission_digest(st), env)
        return REFERENCE, st.lesson, digest, course.plans[st.lesson].fingerprint

    todo = []
    for st in reference_submissions(course):
        job = kept.load(*key(st))
        if job is None:
            todo.append(st)
        else:
            reference[st.lesson] = to_result(course, st, job)
            log(f"  reference / {st.lesson}: passed before, unchanged since (kept in {kept.dir})")
    with ThreadPoolExecutor(max_workers=course.jobs) as pool:
        for st, job in pool.map(grade, todo):
            if job is None:
                raise InstructorError(f"reference solution of {st.lesson}: {st.reason}")
            check_reference(course, st, job)
            reference[st.lesson] = to_result(course, st, job)
            kept.save(*key(st), job)
            log(f"  reference / {st.lesson}: {job.score:g}/{reference[st.lesson].max_score:g} "
                f"({job.seconds:.0f} s)")  # fmt: skip
    log(f"staging {len(names)} student(s) ...")
    staged: list[Staged] = []
    with ThreadPoolExecutor(max_workers=course.jobs) as pool:
        for group in pool.map(lambda s: _stage(course, submissions, s), names):
            staged += group
    log(f"grading {len(staged)} notebook(s), {course.jobs} at a time ...")
    results: dict[tuple[str, str], Result] = {}
    with ThreadPoolExecutor(max_workers=course.jobs) as pool:
        futures = {pool.submit(grade, st): st for st in staged}
        for fut in as_completed(futures):
            st = futures[fut]
            try:
                st, job = fut.result()
                res = to_result(course, st, job)
                if job is not None:
                    keep_outputs(course, st, job, res)
            except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the class
                res = to_result(course, st, None)
                res.status, res.reason = Status.CRASHED, f"grader error: {exc!r}"
            results[(st.student, st.lesson)] = res
            report.write_csv(list(results.values()), course.out / "grades.csv")
            peak = getattr(grade, "peaks", {}).get((st.student, st.lesson))
            peak = f", worker peak {peak:,} MB" if peak else ""
            log(f"  {report.display(res.student)} / {res.lesson}: {res.status} "
                f"{res.score:g}/{res.max_score:g} ({res.seconds:.0f} s{peak})")  # fmt: skip
    ordered = [results[(st.student, st.lesson)] for st in staged]
    return Graded(ordered, reference, staged=staged)


# --------------------------------------------------------------------------- CLI
def run(args) -> int:
    from course import data as course_data

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.course_dir is not None:
            for need in ("solutions", "nbgrader_config.py"):
                if not (args.course_dir / need).exists():
                    raise InstructorError(f"{args.course_dir} has no {need}")
        checkout = Checkout.find(args.course_dir)
        lessons = checkout.resolve(args.lessons)
        if not lessons:
            raise InstructorError(f"no lessons in {checkout.sources}")
        jobs = args.jobs or max(1, (os.cpu_count() or 2) // 2)
        limits = Limits(memory_mb=args.memory or None)
        data = args.data if args.data is not None else course_data.data_root()
        if args.unsafe_no_sandbox:
            log(report.UNSAFE)
        graded = grade_class(
            args.submissions, checkout, lessons, args.out, jobs=jobs, limits=limits,
            cell_timeout=args.cell_timeout, timeout=args.timeout, feedback=args.feedback,
            students=args.students, work_dir=args.work_dir, gradebook=args.gradebook,
            data=Path(data) if data else None, unsafe=args.unsafe_no_sandbox,
            scheduler=args.scheduler, log=log,
        )  # fmt: skip
    except (CourseError, FileNotFoundError) as exc:
        print(f"course grade: {exc}", file=sys.stderr)
        return 2
    report.write_csv(graded.results, args.out / "grades.csv")
    report.plot_scores(graded.results, lessons, args.out / "scores.png")
    text = report.summary(graded.results, lessons)
    short = [f"{le} {r.score:g}/{r.max_score:g}" for le, r in graded.reference.items()]
    text += "\n\nReference solution under the same limits: " + ", ".join(short)
    text += "".join("\n" + note for note in graded.notes)
    (args.out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nwrote {args.out / 'grades.csv'}, scores.png, summary.txt, results/, autograded/")
    return 0
