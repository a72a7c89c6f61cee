"""``course check NOTEBOOK``: a self-learner's grader, no nbgrader database needed.

Runs the notebook top to bottom in a fresh kernel (grading mode on, so training cells take
their quick path), then prints one row per exercise: points, passed/failed and the first line
of the message. On a student notebook only the visible tests exist, so a pass here is
necessary, not sufficient: the instructor's hidden tests check more.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

from jupyter_client.manager import KernelManager
from traitlets import default

from course import progress
from course.checkout import notebooks
from course.errors import CourseError
from course.progress import ExerciseRow, format_table  # noqa: F401 - the table lives there
from course.tools import execution


def _outcome(cell) -> progress.Outcome | None:
    if cell.get("execution_count") is None and not cell.get("outputs"):
        return None  # never ran (the kernel died or timed out before it)
    err = execution.failure_of(cell)  # nbgrader's rule: an error, or output on stderr
    return progress.Outcome(err is None, err or "")


def summarize(executed_nb) -> list[ExerciseRow]:
    """One row per exercise of an executed notebook, in notebook order (written answers too)."""
    return progress.table_rows(executed_nb.cells, _outcome)


class QuietKernelManager(KernelManager):
    """A kernel on IPC sockets (a private folder of Jupyter's runtime directory) instead of
    TCP: nothing listens on a port, and the kernel has no reason to print "Kernel is running
    over TCP without encryption" on every run. TCP stays where there is no IPC (Windows)."""

    @default("transport")
    def _default_transport(self) -> str:
        return "tcp" if os.name == "nt" else "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        if os.name == "nt":
            return "127.0.0.1"
        from jupyter_core.paths import jupyter_runtime_dir

        folder = Path(jupyter_runtime_dir())
        folder.mkdir(parents=True, exist_ok=True)
        # the sockets are <ip>-<port>; jupyter_client removes them when the kernel stops
        return str(folder / f"course-check-{uuid.uuid4().hex[:12]}")


def check_notebook(path: Path, timeout: int = 120) -> list[ExerciseRow]:
    path = Path(path).resolve()
    if not path.is_file():
        raise CourseError(f"no such notebook: {path}")
    try:
        nb = notebooks.read(path)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise CourseError(
            f"{path} is not a readable notebook ({exc}); restore it from notebooks/"
        ) from exc
    # the kernel is told which notebook it runs, as JupyterLab does (course.progress reads it)
    env = execution.execution_env(extra={"JPY_SESSION_NAME": str(path)})
    executed = execution.execute(
        nb, cwd=path.parent, timeout=timeout, env=env, kernel_manager_class=QuietKernelManager
    )
    return summarize(executed)


def run(args) -> int:
    print(f"checking {args.notebook} (fresh kernel, quick mode) ...", file=sys.stderr)
    rows = check_notebook(args.notebook, timeout=args.timeout)
    if not rows:
        print("no graded tests found in this notebook")
        return 1
    print(format_table(rows, width=shutil.get_terminal_size((100, 24)).columns))
    return 0 if all(r.passed for r in rows if not r.manual) else 1
