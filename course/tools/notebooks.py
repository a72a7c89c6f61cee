"""Notebook tooling: find lessons, read their nbgrader structure, release, execute, score.

Conventions every lesson follows (see CONTRIBUTING.md):

* ``solutions/<id>/<id>.ipynb`` is the nbgrader source; ``notebooks/<id>/<id>.ipynb`` its release.
* A solution cell's ``grade_id`` is the exercise name (``residual_block``); a test cell's
  ``grade_id`` is ``<exercise>__<what>`` (``residual_block__shape``). ``exercise_of`` maps one to
  the other, so tools can report per exercise.
* Every test cell starts with visible checks that call the student's code, then hides the rest
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
* Cell ids are deterministic (``normalize``), so a release is byte-stable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.cells import (  # noqa: F401 - re-exported: tools say notebooks.is_test(...)
    COURSE_CELL_IDS,
    NOT_ANSWERED,
    exercise_of,
    grade_id,
    grades_artifact,
    is_course_cell,
    is_helper,
    is_locked,
    is_manual,
    is_solution,
    is_test,
    nbgrader_meta,
    points,
)
from course.errors import CourseError
from course.progress import error_line

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
NB_VERSION = 4
_ID_OK = re.compile(r"[^a-zA-Z0-9_-]")


# --------------------------------------------------------------------------- repository layout
def repo_root(start: Path | None = None) -> Path:
    """The course checkout: the nearest folder at or above ``start`` holding ``solutions/``."""
    here = Path(start or Path.cwd()).resolve()
    for cand in [here, *here.parents]:
        if (cand / "solutions").is_dir() and (cand / "nbgrader_config.py").is_file():
            return cand
    if (REPO_ROOT / "solutions").is_dir():
        return REPO_ROOT
    raise FileNotFoundError(
        f"no course checkout found at or above {here} (looked for solutions/ and "
        "nbgrader_config.py); run this command inside the course repository"
    )


def lessons(root: Path | None = None) -> list[str]:
    """Lesson ids with a source notebook, in order (``01_residual_block``, ...)."""
    src = repo_root(root) / "solutions"
    return sorted(p.name for p in src.iterdir() if (p / f"{p.name}.ipynb").is_file())


def source_path(lesson: str, root: Path | None = None) -> Path:
    return repo_root(root) / "solutions" / lesson / f"{lesson}.ipynb"


def release_path(lesson: str, root: Path | None = None) -> Path:
    return repo_root(root) / "notebooks" / lesson / f"{lesson}.ipynb"


def resolve_lessons(names: Iterable[str] | None, root: Path | None = None) -> list[str]:
    """Expand user-given lesson names (``01`` or ``01_residual_block``) to lesson ids."""
    known = lessons(root)
    if not names:
        return known
    out = []
    for name in names:
        name = Path(name).name.removesuffix(".ipynb")
        matches = [
            k for k in known if k == name or k.startswith(name + "_") or k.split("_")[0] == name
        ]
        if len(matches) != 1:
            raise CourseError(f"unknown lesson {name!r}; known lessons: {', '.join(known)}")
        out.append(matches[0])
    return out


# --------------------------------------------------------------------------- cell structure
# nbgrader's cell semantics live in course.cells (the runtime needs them too); imported above.


def strip_markers(source: str) -> str:
    """A solution cell's source as a student would have written it (markers removed)."""
    return "\n".join(
        line for line in source.split("\n") if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)
    )


def read(path: Path | str):
    return nbformat.read(str(path), as_version=NB_VERSION)


def write(nb, path: Path | str) -> None:
    """Write in the canonical form: nbformat's JSON, 1-space indent, sorted keys, final newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb, version=NB_VERSION)
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text, encoding="utf-8")


# The notebook metadata an IPython kernel of the course's reference environment writes
# (ipykernel's language_info; Python as in CI). Released with it, a notebook opened in
# JupyterLab stays unmodified: JupyterLab rewrites this key on kernel start and marks the
# notebook dirty only if the value differs (another Python patch version still does).
PYTHON_VERSION = "3.11.7"
RAISES_EXCEPTION = "raises-exception"  # the cell tag that lets Run All continue after it fails
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CODEMIRROR_MODE = {"name": "ipython", "version": 3}
LANGUAGE_INFO = {
    "codemirror_mode": CODEMIRROR_MODE,
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": PYTHON_VERSION,
}


def normalize(nb):
    """Make a notebook byte-stable: no outputs/counts, deterministic cell ids, trimmed metadata,
    the course cells from their template (:mod:`course.tools.course_cells`), and the notebook
    metadata a kernel writes (so opening it in JupyterLab does not mark it modified).

    Cell ids come from the nbgrader ``grade_id`` when there is one, else ``<kind>-<n>`` counted
    per kind, so inserting a markdown cell does not renumber every code cell.
    """
    from course.tools.course_cells import ensure_course_cells

    nb.nbformat, nb.nbformat_minor = 4, 5
    ensure_course_cells(nb)
    counters: dict[str, int] = {}
    used: set[str] = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid:
            cid = _ID_OK.sub("-", gid)[:64]
        else:
            counters[cell.cell_type] = counters.get(cell.cell_type, 0) + 1
            cid = f"{cell.cell_type}-{counters[cell.cell_type]}"
        while cid in used:
            cid = (cid + "-x")[-64:]
        used.add(cid)
        cell["id"] = cid
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        course_cell = is_course_cell(cell)
        for key in ("collapsed", "scrolled", "execution", "ExecuteTime", "jupyter", "tags"):
            if key == "jupyter" and course_cell:  # its display (course_cells.DISPLAY)
                continue
            if key in cell.metadata and not (key == "tags" and cell.metadata[key]):
                del cell.metadata[key]
        if is_test(cell):
            # JupyterLab's Run All (and nbclient) go on after a failing test: every test shows
            # its result, and the notebook runs to its end (the progress table) as in Validate
            tags = list(cell.metadata.get("tags", []))
            if RAISES_EXCEPTION not in tags:
                cell.metadata["tags"] = [*tags, RAISES_EXCEPTION]
        cell.pop("attachments", None) if not cell.get("attachments") else None
    meta = nb.metadata
    meta["kernelspec"] = dict(KERNELSPEC)
    meta["language_info"] = {
        **LANGUAGE_INFO,
        "codemirror_mode": dict(CODEMIRROR_MODE),
    }
    for key in ("widgets", "toc", "varInspector", "celltoolbar"):
        meta.pop(key, None)
    return nb


# --------------------------------------------------------------------------- release
def _nbgrader(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"`nbgrader {' '.join(args)}` failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def make_course_dir(dest: Path, lesson_ids: Iterable[str], root: Path | None = None) -> Path:
    """A fresh nbgrader course directory at ``dest`` with the config and the chosen sources."""
    root = repo_root(root)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", dest / "nbgrader_config.py")
    for lesson in lesson_ids:
        target = dest / "solutions" / lesson
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(
            root / "solutions" / lesson,
            target,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pt", "data"),
        )
    return dest


def generate_assignment(course_dir: Path, lesson: str) -> Path:
    """Run ``nbgrader generate_assignment`` in ``course_dir``; returns the release folder."""
    _nbgrader(["generate_assignment", lesson, "--force", "--create"], cwd=course_dir)
    return course_dir / "notebooks" / lesson


def release(
    lesson_ids: Iterable[str] | None = None,
    dest: Path | None = None,
    root: Path | None = None,
    log=print,
    normalize_sources: bool = True,
) -> list[Path]:
    """Regenerate student notebooks from ``solutions/`` into ``dest`` (default ``notebooks/``).

    Runs the real ``nbgrader generate_assignment`` in a throwaway course directory (so no
    gradebook or timestamps land in the repository), then writes each released notebook in
    canonical form. Source notebooks are normalised in place first (outputs stripped, stable ids).
    Deterministic: releasing twice gives byte-identical files.
    """
    root = repo_root(root)
    ids = resolve_lessons(lesson_ids, root)
    dest = Path(dest) if dest else root / "notebooks"
    written = []
    for lesson in ids if normalize_sources else []:
        src = source_path(lesson, root)
        nb = read(src)
        canonical = nbformat.writes(normalize(nb), version=NB_VERSION) + "\n"
        if src.read_text(encoding="utf-8") != canonical:
            src.write_text(canonical, encoding="utf-8")
            log(f"normalised source {src.relative_to(root)}")
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        course_dir = make_course_dir(Path(tmp), ids, root)
        for lesson in ids:
            out = generate_assignment(course_dir, lesson)
            target = dest / lesson
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(out, target)
            nb_path = target / f"{lesson}.ipynb"
            write(normalize(read(nb_path)), nb_path)
            written.append(nb_path)
            log(f"released {lesson} -> {nb_path}")
    return written


ANSWER_PRELUDE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"


def answers(nb, names: Iterable[str] | None = None) -> dict[str, str]:
    """The answer cells of ``nb`` (grade id -> code, markers removed), all or ``names``.
    Raises ``KeyError`` naming the missing ones."""
    cells = {
        grade_id(c): strip_markers(c.source)
        for c in nb.cells
        if c.cell_type == "code" and is_solution(c)
    }
    if names is None:
        return cells
    missing = [n for n in names if n not in cells]
    if missing:
        raise KeyError(f"no answer cell(s) {missing}")
    return {n: cells[n] for n in names}


def answer_namespace(path: Path | str, names: Iterable[str], module_name: str = "lesson") -> dict:
    """Run the answer cells ``names`` of the notebook at ``path`` (in this order, markers
    removed, after importing torch, nn and F) and return their namespace: a lesson's reference
    code as Python, for the grader's reference model and for tests that check the lessons'
    figures independently. Only for the course's own (trusted) notebooks."""
    cells = answers(read(path), names)
    source = ANSWER_PRELUDE + "\n\n".join(cells.values())
    namespace: dict = {"__name__": module_name}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the course's own source
    return namespace


def fill_release(
    release_nb,
    source_nb,
    exercises: dict[str, str] | None = None,
    solved: Iterable[str] | None = None,
):
    """A student submission: the release with some answer cells filled in.

    ``solved``: exercise ids answered with the reference solution (default: all);
    ``exercises``: exercise id -> source to put in that answer cell instead (e.g. a wrong answer).
    """
    reference = answers(source_nb)
    solved = set(reference) if solved is None else set(solved)
    exercises = exercises or {}
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        gid = grade_id(cell)
        if not is_solution(cell) or not gid:
            continue
        if gid in exercises:
            cell.source = exercises[gid]
        elif gid in solved:
            cell.source = reference[gid]
    return nb


# --------------------------------------------------------------------------- execution
@dataclass
class TestResult:
    grade_id: str
    exercise: str
    points: float
    passed: bool
    message: str  # first line of the error, "" when passed

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


def error_of(cell) -> str | None:
    """The first line of an executed cell's error output (``None`` when it has none)."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return error_line(out.get("ename", "Error"), str(out.get("evalue", "")))
    return None


def execution_env(mode: str = "validate", extra: dict | None = None) -> dict:
    """Environment for a kernel that grades: grading mode on, quick mode on, no GPU surprises."""
    env = dict(os.environ)
    env["NBGRADER_EXECUTION"] = mode
    env.setdefault("COURSE_QUICK", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.pop("NBGRADER_VALIDATING", None)
    env.pop("JPY_SESSION_NAME", None)  # set by JupyterLab for *its* kernel: not this notebook
    if extra:
        env.update(extra)
    return env


def execute(
    nb, cwd: Path | str, *, timeout: int = 120, env: dict | None = None, kernel_manager_class=None
):
    """Execute every cell (errors recorded, not raised) with the same kernel flags as nbgrader.
    ``kernel_manager_class``: jupyter_client's ``KernelManager`` unless given."""
    from nbclient import NotebookClient

    nb = nbformat.from_dict(nb)
    extra = {"kernel_manager_class": kernel_manager_class} if kernel_manager_class else {}
    client = NotebookClient(
        nb,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"],
        **extra,
    )
    # the kernel gets exactly this environment (grading mode, quick mode)
    client.execute(env=env if env is not None else execution_env())
    return nb


def earned(cell) -> float:
    """Points an executed test cell earns: nbgrader's own rule (``nbgrader.utils.determine_grade``:
    0 if the cell shows an error *or wrote to stderr*), the rule Validate and nbgrader's
    autograde apply in a kernel. ``course check`` and the tests use it; ``course grade`` runs
    the tests outside the kernel and awards the points when the test runs to the end."""
    from nbgrader.utils import determine_grade

    got, _ = determine_grade(cell)
    return float(got or 0.0)


def _stderr_line(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = str(out.get("text", "")).strip().split("\n", 1)[0][:200]
            return f"the test wrote to stderr, which nbgrader counts as a failure: {text}"
    return None


def failure_of(cell) -> str | None:
    """Why an executed test cell earns less than its points (nbgrader's rule), or ``None``."""
    if earned(cell) >= points(cell):
        return None
    return error_of(cell) or _stderr_line(cell) or "failed"


def results(executed_nb) -> list[TestResult]:
    """One :class:`TestResult` per autograded test cell of an executed notebook."""
    out = []
    for cell in executed_nb.cells:
        if not is_test(cell):
            continue
        gid = grade_id(cell)
        err = failure_of(cell)
        out.append(TestResult(gid, exercise_of(gid), points(cell), err is None, err or ""))
    return out


def truncate_after(nb, grade_ids: Iterable[str]):
    """A copy of ``nb`` that stops after the last cell whose grade id is in ``grade_ids``."""
    wanted = set(grade_ids)
    last = max(
        (i for i, c in enumerate(nb.cells) if grade_id(c) in wanted), default=len(nb.cells) - 1
    )
    copy = nbformat.from_dict(nb)
    copy.cells = copy.cells[: last + 1]
    return copy


def iter_code(nb) -> Iterator[str]:
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield cell.source


def release_command(args) -> int:
    """``course release [LESSON ...] [--out DIR] [--course-dir DIR]``."""
    release(args.lessons, dest=args.out, root=args.course_dir)
    return 0
