"""``course grade SUBMISSIONS``: autograde a whole class with nbgrader, robustly.

SUBMISSIONS is nbgrader's ``submitted/`` layout: ``<student>/<lesson>/<lesson>.ipynb``. Each
(student, lesson) is graded on its own:

1. **Sanitise** the submission outside any kernel (:func:`sanitize`): unreadable JSON scores 0
   ("unreadable notebook"); a renamed notebook is graded (flag); every locked/test cell is put back
   from the course source by ``grade_id`` (source, points, metadata); duplicated grade ids keep the
   first cell (nbgrader #1083 would otherwise fail the whole notebook); deleted test cells are
   re-inserted where they belong; outputs are stripped; the kernelspec is reset.
2. **Scan** the student's code for cheating tools (:func:`scan`): flags only, never points.
3. **Autograde** in a private nbgrader course folder (a copy of the gradebook, no solutions in
   reach, its own HOME), one ``nbgrader autograde`` per notebook under :mod:`course.sandbox`
   (wall-clock timeout, memory limit, every process killed afterwards), with
   :class:`course.guard.GuardedExecute` in place of nbgrader's ``Execute``.
4. **Score** from the autograded notebook with the points of the course source (nothing the
   student's code could have written to), and collect the guard's tamper report.

One student's failure never stops the batch. The command prints a student × lesson table, the
failures with their reason and the submissions flagged for manual review, and writes
``grades.csv``, ``scores.png`` and the autograded notebooks (plus feedback HTML with
``--feedback``) to ``--out``. It exits non-zero only for instructor errors (no submissions folder,
unknown lesson, a course source that nbgrader rejects). See docs/GRADING.md.
"""

from __future__ import annotations

import copy
import csv
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

import nbformat

from course import notebooks as nbs
from course.guard import REPORT_ENV
from course.sandbox import Limits
from course.sandbox import run as sandboxed

INTERNAL_STUDENT = "student"  # the one student of each private course folder
MAX_NOTEBOOK_MB = 100  # larger files are not parsed at all
HUGE_OUTPUT_MB = 1.0  # outputs larger than this are flagged (they are always stripped)
MAX_EXTRA_FILE_MB = 200  # other files in a submission folder (checkpoints, data)
STATUSES = ("graded", "missing", "unreadable", "timeout", "crashed")


class InstructorError(Exception):
    """A problem with the course or the command line, not with a student's work."""


@dataclass
class Result:
    student: str
    lesson: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "graded"
    reason: str = ""
    flags: list[str] = field(default_factory=list)
    manual_max: float = 0.0  # points of written answers, left to the instructor
    seconds: float = 0.0
    tests: dict[str, float] = field(default_factory=dict)  # grade_id -> points earned

    @property
    def review(self) -> bool:
        return bool(self.flags) or self.status not in ("graded", "missing")


# --------------------------------------------------------------------------- sanitising
def _nbmeta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _plain(cell):
    """A cell with its nbgrader metadata removed (so nbgrader treats it as ordinary)."""
    cell = copy.deepcopy(cell)
    cell.get("metadata", {}).pop("nbgrader", None)
    for key in ("editable", "deletable"):
        cell.get("metadata", {}).pop(key, None)
    return cell


def _clean(cell):
    """Outputs and execution counts stripped; returns the byte size of what was stripped."""
    size = 0
    if cell.get("cell_type") == "code":
        size = len(json.dumps(cell.get("outputs", []), default=str))
        cell["outputs"] = []
        cell["execution_count"] = None
    return size


def _fresh(cell):
    cell = copy.deepcopy(cell)
    _clean(cell)
    return cell


def sanitize(sub, source, release) -> tuple[nbformat.NotebookNode, list[str]]:
    """Repair a student's notebook against the course ``source`` (with hidden tests) and its
    ``release``; returns the notebook to grade and the flags raised on the way.

    Locked and test cells always come from ``source``; answer cells keep the student's text with
    the source's metadata; unknown grade ids lose their nbgrader metadata; a duplicated grade id
    keeps its first cell (later answer copies stay as plain code, later test copies are dropped);
    deleted graded or locked cells are re-inserted after the cell that precedes them in the
    source (answer cells blank, as released).
    """
    flags: list[str] = []
    src = {nbs.grade_id(c): c for c in source.cells if nbs.grade_id(c)}
    rel = {nbs.grade_id(c): c for c in release.cells if nbs.grade_id(c)}
    order = [nbs.grade_id(c) for c in source.cells if nbs.grade_id(c)]
    out, seen, stripped = [], set(), 0
    for cell in sub.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            flags.append("malformed cell dropped")
            continue
        stripped += _clean(cell)
        raw_meta = cell.get("metadata", {}).get("nbgrader")
        meta = _nbmeta(cell)
        gid = meta.get("grade_id")
        if raw_meta is not None and not isinstance(raw_meta, dict):
            flags.append("malformed nbgrader metadata removed")
            out.append(_plain(cell))
            continue
        if not gid or not isinstance(gid, str):
            if meta.get("grade") or meta.get("solution") or meta.get("locked"):
                flags.append("nbgrader cell without grade id made ordinary")
            out.append(_plain(cell) if meta else cell)
            continue
        if gid not in src:
            flags.append(f"unknown grade id {gid} made ordinary")
            out.append(_plain(cell))
            continue
        ref = src[gid]
        if gid in seen:
            flags.append(f"duplicate grade id {gid} (first cell kept)")
            if nbs.is_solution(ref) and cell.get("cell_type") == "code":
                out.append(_plain(cell))  # the student's copy still runs, ungraded
            continue
        seen.add(gid)
        if nbs.is_solution(ref):
            new = copy.deepcopy(cell)
            if new.get("cell_type") != ref.cell_type:
                flags.append(f"cell type of {gid} changed back to {ref.cell_type}")
                new = nbformat.from_dict(
                    {
                        "cell_type": ref.cell_type,
                        "metadata": new.get("metadata", {}),
                        "source": new.get("source", ""),
                        **(
                            {"outputs": [], "execution_count": None}
                            if ref.cell_type == "code"
                            else {}
                        ),
                    }
                )
            new.setdefault("metadata", {})["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
            if meta.get("points") is not None and meta.get("points") != ref.metadata[
                "nbgrader"
            ].get("points"):
                flags.append(f"points of {gid} changed (restored)")
            out.append(new)
        else:
            shown = rel.get(gid, ref)
            if str(cell.get("source", "")).rstrip() != str(shown.source).rstrip():
                flags.append(f"locked cell {gid} edited (restored)")
            if nbs.is_test(ref) and meta.get("points") != ref.metadata["nbgrader"].get("points"):
                flags.append(f"points of {gid} changed (restored)")
            out.append(_fresh(ref))
    # re-insert deleted cells after their predecessor in the source
    for i, gid in enumerate(order):
        if gid in seen:
            continue
        ref = src[gid]
        if nbs.is_solution(ref):
            new = _fresh(rel.get(gid, ref))
            flags.append(f"answer cell {gid} deleted (blank one re-inserted)")
        else:
            new = _fresh(ref)
            kind = "test" if nbs.is_test(ref) else "locked"
            flags.append(f"{kind} cell {gid} deleted (re-inserted)")
        where = {nbs.grade_id(c): k for k, c in enumerate(out) if nbs.grade_id(c)}
        before = [where[g] for g in order[:i] if g in where]
        after = [where[g] for g in order[i + 1 :] if g in where]
        pos = max(before) + 1 if before else (min(after) if after else len(out))
        out.insert(pos, new)
        seen.add(gid)
    present = [nbs.grade_id(c) for c in out if nbs.grade_id(c) in src]
    if present != [g for g in order if g in present]:
        flags.append("graded cells reordered")
    if stripped > HUGE_OUTPUT_MB * 1e6:
        flags.append(f"huge outputs ({stripped / 1e6:.0f} MB) stripped")
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(source.metadata)
    ks = (sub.get("metadata", {}) or {}).get("kernelspec", {}) or {}
    if isinstance(ks, dict) and ks.get("name") not in (None, source.metadata["kernelspec"]["name"]):
        flags.append(
            f"kernel {ks.get('name')!r} replaced by {source.metadata['kernelspec']['name']}"
        )
    for k, cell in enumerate(out):
        cell["id"] = f"cell-{k}"
        cell.pop("attachments", None) if cell.get("cell_type") == "code" else None
    nb.cells = [nbformat.from_dict(c) for c in out]
    return nb, flags


# --------------------------------------------------------------------------- static scan
SUSPICIOUS = [
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (
        r"get_ipython|InteractiveShell|ipykernel|set_custom_exc|run_cell|showtraceback|excepthook",
        "touches the IPython machinery",
    ),
    (r"settrace|setprofile|_getframe|f_lineno|f_back|f_globals|f_locals|f_trace", "frame tricks"),
    (r"os\._exit|sys\.exit|\bexit\(|\bquit\(|os\.kill|\bsignal\.", "exits or signals"),
    (r"ctypes|cffi", "ctypes"),
    (
        r"\b(exec|eval|compile)\s*\(|__import__|importlib|marshal|base64|codecs|pickle\.loads",
        "dynamic code",
    ),
    (
        r"\b(torch|np|numpy|math|checks|nn|F|testing|Tensor)(\.\w+)+\s*=(?!=)|setattr\(|delattr\(",
        "replaces a library attribute",
    ),
    (
        r"__class__|__dict__|__globals__|__closure__|__code__|__subclasses__|\bgc\.|\binspect\b|sys\.modules",
        "introspection",
    ),
    (
        r"\bcheck\w*\s*=(?!=)|def\s+check\w*|AssertionError\s*=(?!=)|class\s+AssertionError",
        "redefines a test helper",
    ),
    (
        r"gradebook|sqlite|nbgrader|\.\./|os\.walk|listdir|scandir|\bglob\b|shutil|subprocess|os\.system|Popen|\bfork\b",
        "file system or processes",
    ),
    (r"\bthreading\b|multiprocessing|_thread\b", "threads"),
]


def scan(nb) -> list[str]:
    """Static flags for the code a student could edit (answer and unlocked cells)."""
    found: list[str] = []
    for cell in nb.cells:
        meta = _nbmeta(cell)
        if cell.cell_type != "code" or (meta.get("locked") and not meta.get("solution")):
            continue
        code = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith("#")
        )
        where = meta.get("grade_id") or "an unlocked cell"
        for pattern, label in SUSPICIOUS:
            if re.search(pattern, code):
                found.append(f"code {label} ({where})")
    return sorted(set(found), key=found.index)


# --------------------------------------------------------------------------- one submission
@dataclass
class Course:
    """Everything a grading job needs, prepared once for the class."""

    root: Path  # the course checkout (solutions/, nbgrader_config.py)
    template: Path  # nbgrader course folder with the assignments generated
    lessons: list[str]
    limits: Limits
    cell_timeout: int | None
    out: Path
    feedback: bool = False
    jobs: int = 1
    sources: dict = field(default_factory=dict)  # lesson -> source notebook
    releases: dict = field(default_factory=dict)  # lesson -> released notebook


def find_notebook(folder: Path, lesson: str) -> tuple[Path | None, list[str], str]:
    """The notebook to grade in a student's lesson folder: (path, flags, reason if none)."""
    if not folder.is_dir():
        return None, [], "no submission"
    exact = folder / f"{lesson}.ipynb"
    if exact.is_file() and not exact.is_symlink():
        return exact, [], ""
    others = sorted(
        p
        for p in folder.glob("*.ipynb")
        if p.is_file() and not p.is_symlink() and p.name != f"{lesson}.ipynb"
    )
    if len(others) == 1:
        return others[0], [f"renamed notebook {others[0].name!r} graded"], ""
    if others:
        names = ", ".join(p.name for p in others)
        return (
            None,
            [f"{len(others)} notebooks, none named {lesson}.ipynb: {names}"],
            (f"no {lesson}.ipynb and several other notebooks"),
        )
    return None, [], f"no {lesson}.ipynb in the submission"


def _private_course(course: Course, lesson: str, job: Path) -> Path:
    """A one-student nbgrader course folder: config, gradebook copy, no solution notebooks."""
    cdir = job / "course"
    cdir.mkdir(parents=True)
    shutil.copy2(course.template / "gradebook.db", cdir / "gradebook.db")
    src = cdir / "solutions" / lesson
    shutil.copytree(
        course.template / "solutions" / lesson,
        src,
        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"),
    )
    config = (course.template / "nbgrader_config.py").read_text(encoding="utf-8")
    config += "\n# --- added by course grade for this private folder\n"
    config += "c.Autograde.autograde_preprocessors = [\n"
    for pp in [
        "course.guard.GuardedExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]:
        config += f"    {pp!r},\n"
    config += "]\n"
    if course.cell_timeout:
        config += f"c.Execute.timeout = {int(course.cell_timeout)}\n"
    config += f"c.GuardedExecute.memory_mb = {course.limits.memory_mb or None}\n"
    (cdir / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return cdir


def _copy_extras(src_folder: Path, dest: Path, notebook: Path, flags: list[str]) -> None:
    """Other regular files of the submission (checkpoints, data), without symlinks."""
    for path in sorted(src_folder.rglob("*")):
        rel = path.relative_to(src_folder)
        if ".ipynb_checkpoints" in rel.parts or path == notebook or path.suffix == ".ipynb":
            continue
        if path.is_symlink():
            flags.append(f"symlink {rel} ignored")
            continue
        if not path.is_file():
            continue
        if rel.name == "timestamp.txt" and len(rel.parts) == 1:
            try:
                from nbgrader.utils import parse_utc

                parse_utc(path.read_text(encoding="utf-8", errors="replace").strip())
            except Exception:  # noqa: BLE001 - any unparsable timestamp
                flags.append("unreadable timestamp.txt ignored")
                continue
        if path.stat().st_size > MAX_EXTRA_FILE_MB * 1e6:
            flags.append(f"file {rel} larger than {MAX_EXTRA_FILE_MB} MB ignored")
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _job_env(job: Path, course: Course) -> dict:
    """Environment of a grading job: its own HOME, IPython and Jupyter folders (so a student's
    code cannot leave a startup file for the next kernel), no user site-packages."""
    env = nbs.execution_env("autograde")
    home = job / "home"
    for sub in ("", ".ipython", ".jupyter", "tmp", ".config/matplotlib", ".local/share/jupyter"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        IPYTHONDIR=str(home / ".ipython"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / ".local/share/jupyter/runtime"),
        MPLCONFIGDIR=str(home / ".config/matplotlib"),
        TMPDIR=str(home / "tmp"),
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    threads = str(max(1, (os.cpu_count() or 1) // max(course.jobs, 1)))
    # few malloc arenas: each reserves 64 MB of address space, counted by the memory cap
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, MALLOC_ARENA_MAX="2")
    env[REPORT_ENV] = str(job / "guard.json")
    for key in ("PYTHONSTARTUP", "PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"):
        env.pop(key, None)
    return env


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", ln) or "[AutogradeApp | ERROR]" in ln:
            return ln[:200]
    return lines[-1][:200] if lines else "no output"


def score_notebook(executed, source) -> tuple[float, float, float, dict[str, float], list[str]]:
    """(score, max_score, manual_max, per-test points, flags) with the source's points.

    A test earns its points exactly when nbgrader would give them (no error output, nothing on
    stderr); the points come from the course source, never from the graded file.
    """
    from nbgrader.utils import determine_grade

    cells = {}
    for c in executed.cells:
        cells.setdefault(nbs.grade_id(c), c)
    score = max_score = manual = 0.0
    tests: dict[str, float] = {}
    flags: list[str] = []
    stubbed = {
        nbs.grade_id(c)
        for c in executed.cells
        if nbs.is_solution(c) and c.cell_type == "code" and "raise NotImplementedError" in c.source
    }
    for ref in source.cells:
        gid = nbs.grade_id(ref)
        if nbs.is_manual(ref):
            manual += nbs.points(ref)
            continue
        if not nbs.is_test(ref):
            continue
        pts = nbs.points(ref)
        max_score += pts
        cell = cells.get(gid)
        earned = 0.0
        if cell is not None and cell.cell_type == "code":
            probe = copy.deepcopy(cell)
            probe.metadata["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
            got, _ = determine_grade(probe)
            earned = float(got or 0.0)
        tests[gid] = earned
        score += earned
        if earned and nbs.exercise_of(gid) in stubbed:
            flags.append(f"{gid} passed while the answer still raises NotImplementedError")
    return score, max_score, manual, tests, flags


def grade_one(course: Course, student: str, lesson: str, submissions: Path) -> Result:
    """Grade one student's lesson; never raises for anything the student did."""
    start = time.monotonic()
    res = Result(student, lesson)
    source = course.sources[lesson]
    res.max_score = sum(nbs.points(c) for c in source.cells if nbs.is_test(c))
    res.manual_max = sum(nbs.points(c) for c in source.cells if nbs.is_manual(c))
    folder = submissions / student / lesson
    path, flags, why = find_notebook(folder, lesson)
    res.flags += flags
    if path is None:
        res.status, res.reason = "missing", why
        return res
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_MB * 1e6:
        res.status = "unreadable"
        res.reason = f"notebook is {size / 1e6:.0f} MB (limit {MAX_NOTEBOOK_MB} MB)"
        return res
    try:
        sub = nbformat.reads(path.read_text(encoding="utf-8"), as_version=nbs.NB_VERSION)
        if not isinstance(sub.get("cells"), list):
            raise ValueError("no cell list")
    except Exception as exc:  # noqa: BLE001 - JSON, encoding, schema errors alike
        res.status = "unreadable"
        res.reason = f"unreadable notebook ({type(exc).__name__}: {str(exc)[:120]})"
        return res
    try:
        nb, flags = sanitize(sub, source, course.releases[lesson])
    except Exception as exc:  # noqa: BLE001
        res.status, res.reason = "unreadable", f"unreadable notebook ({type(exc).__name__}: {exc})"
        return res
    res.flags += flags + scan(nb)

    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        job = Path(tmp)
        cdir = _private_course(course, lesson, job)
        dest = cdir / "submitted" / INTERNAL_STUDENT / lesson
        dest.mkdir(parents=True)
        nbs.write(nb, dest / f"{lesson}.ipynb")
        _copy_extras(folder, dest, path, res.flags)
        env = _job_env(job, course)
        cmd = [sys.executable, "-m", "nbgrader", "autograde", lesson]
        cmd += ["--student", INTERNAL_STUDENT, "--force", "--create"]
        outcome = sandboxed(cmd, course.limits, cwd=cdir, env=env)
        _save_log(course, student, lesson, outcome.stdout + outcome.stderr)
        graded = cdir / "autograded" / INTERNAL_STUDENT / lesson / f"{lesson}.ipynb"
        report = {}
        if (job / "guard.json").is_file():
            try:
                report = json.loads((job / "guard.json").read_text(encoding="utf-8"))
            except ValueError:
                res.flags.append("guard report unreadable")
        if outcome.timed_out:
            res.status = "timeout"
            res.reason = f"did not finish within {course.limits.timeout_s:g} s (whole notebook)"
        elif outcome.returncode != 0 or not graded.is_file():
            res.status = "crashed"
            died = f" ({outcome.signal})" if outcome.signal else ""
            res.reason = f"nbgrader autograde failed{died}: {_last_error(outcome.stderr)}"
        else:
            try:
                executed = nbs.read(graded)
            except Exception as exc:  # noqa: BLE001
                res.status, res.reason = "crashed", f"autograded notebook unreadable: {exc}"
            else:
                res.score, res.max_score, res.manual_max, res.tests, more = score_notebook(
                    executed, source
                )
                res.flags += more
                keep = course.out / "autograded" / student / lesson
                keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(graded, keep / f"{lesson}.ipynb")
                if course.feedback:
                    _feedback(course, cdir, student, lesson, env, res)
        if report.get("kernel"):
            res.reason = (res.reason + "; " if res.reason else "") + report["kernel"]
        res.flags += [f"tamper: {t}" for t in report.get("tamper", [])]
        res.flags += [f"grader: {t}" for t in report.get("notes", [])]
        for k in outcome.memory_killed:
            what = "the kernel" if "ipykernel" in k["cmd"] else repr(k["cmd"][:60])
            note = f"memory limit: {what} killed at {k['rss_mb']} MB resident"
            res.reason = (res.reason + "; " if res.reason else "") + note
        if outcome.leftovers:
            res.flags.append(f"{outcome.leftovers} leftover process(es) killed")
    if res.status != "graded":
        res.score = 0.0
    res.seconds = time.monotonic() - start
    return res


def _feedback(course: Course, cdir: Path, student: str, lesson: str, env: dict, res) -> None:
    cmd = [sys.executable, "-m", "nbgrader", "generate_feedback", lesson]
    cmd += ["--student", INTERNAL_STUDENT, "--force"]
    outcome = sandboxed(cmd, course.limits, cwd=cdir, env=env)
    html = cdir / "feedback" / INTERNAL_STUDENT / lesson / f"{lesson}.html"
    if outcome.returncode != 0 or not html.is_file():
        res.flags.append(f"feedback failed: {_last_error(outcome.stderr)}")
        return
    dest = course.out / "feedback" / student / lesson
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(html, dest / f"{lesson}.html")


_log_lock = threading.Lock()


def _save_log(course: Course, student: str, lesson: str, text: str) -> None:
    logs = course.out / "logs"
    with _log_lock:
        logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{student}__{lesson}.log").write_text(text, encoding="utf-8", errors="replace")


# --------------------------------------------------------------------------- the class
def prepare(
    root: Path,
    lessons: list[str],
    workdir: Path,
    limits: Limits,
    cell_timeout: int | None,
    out: Path,
    feedback: bool,
    jobs: int,
) -> Course:
    """Generate every assignment once in a template course folder (instructor errors raise)."""
    template = nbs.make_course_dir(workdir / "template", lessons, root)
    course = Course(root, template, lessons, limits, cell_timeout, out, feedback, jobs)
    for lesson in lessons:
        try:
            course.sources[lesson] = nbs.read(nbs.source_path(lesson, root))
            release_dir = nbs.generate_assignment(template, lesson)
            course.releases[lesson] = nbs.read(release_dir / f"{lesson}.ipynb")
        except Exception as exc:  # noqa: BLE001 - anything wrong with the course source
            raise InstructorError(f"cannot prepare lesson {lesson}: {exc}") from exc
    return course


def students_in(submissions: Path) -> list[str]:
    return sorted(
        p.name
        for p in submissions.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
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
    log=print,
) -> list[Result]:
    """Grade every (student, lesson); returns the results in student, lesson order."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise InstructorError(f"no submissions folder {submissions}")
    limits = limits or Limits()
    out.mkdir(parents=True, exist_ok=True)
    names = students or students_in(submissions)
    with tempfile.TemporaryDirectory(prefix="course-grade-template-") as tmp:
        log(f"preparing {len(lessons)} lesson(s) with nbgrader generate_assignment ...")
        course = prepare(root, lessons, Path(tmp), limits, cell_timeout, out, feedback, jobs)
        todo = [(s, le) for s in names for le in lessons]
        log(f"grading {len(todo)} notebook(s) of {len(names)} student(s), {jobs} at a time ...")
        results: dict[tuple[str, str], Result] = {}
        with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
            futures = {
                pool.submit(grade_one, course, s, le, submissions): (s, le) for s, le in todo
            }
            for fut in as_completed(futures):
                s, le = futures[fut]
                try:
                    r = fut.result()
                except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the class
                    r = Result(s, le, status="crashed", reason=f"grader error: {exc!r}")
                    r.max_score = sum(
                        nbs.points(c) for c in course.sources[le].cells if nbs.is_test(c)
                    )
                results[(s, le)] = r
                log(f"  {s} / {le}: {r.status} {r.score:g}/{r.max_score:g} ({r.seconds:.0f} s)")
    return [results[k] for k in todo]


# --------------------------------------------------------------------------- reports
CSV_FIELDS = ["student", "lesson", "score", "max_score", "status", "reason", "flags", "manual_max"]


def write_csv(results: list[Result], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_FIELDS)
        for r in results:
            w.writerow(
                [r.student, r.lesson, f"{r.score:g}", f"{r.max_score:g}", r.status, r.reason,
                 "; ".join(r.flags), f"{r.manual_max:g}"]
            )  # fmt: skip


def plot_scores(results: list[Result], lessons: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*lessons, "total"] if len(lessons) > 1 else lessons
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.8), squeeze=False)
    bins = [i * 10 for i in range(11)]
    students = sorted({r.student for r in results})
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "total":
            vals = []
            for s in students:
                mine = [r for r in results if r.student == s]
                top = sum(r.max_score for r in mine)
                vals.append(100 * sum(r.score for r in mine) / top if top else 0.0)
        else:
            vals = [
                100 * r.score / r.max_score if r.max_score else 0.0
                for r in results
                if r.lesson == panel
            ]
        ax.hist(vals, bins=bins, color="#4c72b0", edgecolor="white")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("autograded score (%)")
        ax.set_xlim(0, 100)
    axes[0][0].set_ylabel("students")
    fig.suptitle(f"Score distribution ({len(students)} students)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(results: list[Result], lessons: list[str]) -> str:
    students = sorted({r.student for r in results})
    by = {(r.student, r.lesson): r for r in results}
    w = max([len("student"), *(len(s) for s in students)])
    cols = [max(len(le), 9) for le in lessons]
    lines = [
        "  ".join(
            [
                f"{'student':<{w}}",
                *(f"{le:>{c}}" for le, c in zip(lessons, cols, strict=True)),
                "    total",
            ]
        )
    ]
    for s in students:
        cells, tot, top = [], 0.0, 0.0
        for le, c in zip(lessons, cols, strict=True):
            r = by[(s, le)]
            mark = (
                ""
                if r.status == "graded"
                else {"missing": "-", "timeout": "T", "crashed": "X", "unreadable": "U"}[r.status]
            )
            mark += "!" if r.flags else ""
            cells.append(f"{f'{r.score:g}/{r.max_score:g}{mark}':>{c}}")
            tot, top = tot + r.score, top + r.max_score
        lines.append("  ".join([f"{s:<{w}}", *cells, f"{tot:g}/{top:g}".rjust(9)]))
    lines.append("(- missing, T timeout, X crashed, U unreadable, ! flagged for review)")
    failures = [r for r in results if r.status not in ("graded", "missing") or r.reason]
    if failures:
        lines += ["", "Failures:"]
        lines += [f"  {r.student} / {r.lesson}: {r.status}: {r.reason}" for r in failures]
    review = [r for r in results if r.flags]
    if review:
        lines += ["", "Flagged for manual review:"]
        for r in review:
            lines.append(f"  {r.student} / {r.lesson}:")
            lines += [f"    - {f}" for f in r.flags]
    manual = sum(r.manual_max for r in results if r.status == "graded")
    if manual:
        lines += ["", f"Written answers to grade by hand: {manual:g} points in total (formgrader)."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    p = sub.add_parser(
        "grade",
        help="autograde a whole class robustly (timeouts, memory limits, tamper checks)",
        description=__doc__.split("\n\n")[0]
        + " Each notebook runs in its own process under a wall-clock timeout and a memory "
        "limit; hostile or broken submissions are scored on what they earned and flagged. "
        "See docs/GRADING.md.",
    )
    p.add_argument("submissions", type=Path, help="nbgrader submitted/ folder: <student>/<lesson>/")
    p.add_argument(
        "--lessons", nargs="+", default=None, help="lesson ids or numbers (default: all)"
    )
    p.add_argument("--students", nargs="+", default=None, help="only these students")
    p.add_argument(
        "--course-dir", type=Path, default=None, help="course checkout (default: this repository)"
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="notebooks graded at once",
    )
    p.add_argument(
        "--timeout", type=float, default=1200, help="wall-clock seconds per notebook (default 1200)"
    )
    p.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        help="seconds per cell (default: nbgrader_config.py, 120)",
    )
    p.add_argument(
        "--memory",
        type=int,
        default=4096,
        help="MB of address space per process (default 4096; 0: none)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("grades"), help="output folder (default ./grades)"
    )
    p.add_argument(
        "--feedback", action="store_true", help="also write feedback HTML (hidden tests removed)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        if args.course_dir is not None and not (args.course_dir / "solutions").is_dir():
            raise InstructorError(f"{args.course_dir} has no solutions/ folder")
        if args.course_dir is not None and not (args.course_dir / "nbgrader_config.py").is_file():
            raise InstructorError(f"{args.course_dir} has no nbgrader_config.py")
        root = nbs.repo_root(args.course_dir)
        lessons = nbs.resolve_lessons(args.lessons, root)
        if not lessons:
            raise InstructorError(f"no lessons in {root / 'solutions'}")
        if args.jobs < 1 or args.timeout <= 0:
            raise InstructorError("--jobs and --timeout must be positive")
        limits = Limits(timeout_s=args.timeout, memory_mb=args.memory or None)
        results = grade_class(
            args.submissions,
            root,
            lessons,
            args.out,
            jobs=args.jobs,
            limits=limits,
            cell_timeout=args.cell_timeout,
            feedback=args.feedback,
            students=args.students,
            log=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    except (InstructorError, FileNotFoundError) as exc:
        print(f"course grade: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # resolve_lessons: unknown lesson
        print(f"course grade: {exc}", file=sys.stderr)
        return 2
    if not results:
        print("course grade: no students found in the submissions folder", file=sys.stderr)
        return 2
    write_csv(results, args.out / "grades.csv")
    plot_scores(results, lessons, args.out / "scores.png")
    text = summary(results, lessons)
    (args.out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(
        f"\nwrote {args.out / 'grades.csv'}, {args.out / 'scores.png'}, {args.out / 'summary.txt'}"
    )
    return 0
