"""Running a notebook in a Jupyter kernel as nbgrader's Validate does, and nbgrader's scoring
rule on the executed cells: ``course check`` (:mod:`.selfcheck`), the Validate summary
(:mod:`.validation`) and the tests use it. ``course grade`` does not: it runs the tests in the
trusted grader (:mod:`course.grading.job`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.cells import exercise_of, grade_id, is_test, points
from course.progress import error_line


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
