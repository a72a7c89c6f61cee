"""``course check NOTEBOOK``: a self-learner's grader, no nbgrader database needed.

Runs the notebook top to bottom in a fresh kernel (grading mode on, so training cells take
their quick path), then prints one row per exercise: points, passed/failed and the first line
of the message. On a student notebook only the visible tests exist, so a pass here is
necessary, not sufficient: the instructor's hidden tests check more.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from course.tools import notebooks


@dataclass
class ExerciseRow:
    exercise: str
    points: float
    earned: float
    passed: bool
    message: str
    manual: bool = False


def summarize(executed_nb) -> list[ExerciseRow]:
    """Group test results per exercise, in notebook order; manual answers listed separately."""
    rows: dict[str, ExerciseRow] = {}
    for r in notebooks.results(executed_nb):
        row = rows.setdefault(r.exercise, ExerciseRow(r.exercise, 0.0, 0.0, True, ""))
        row.points += r.points
        row.earned += r.score
        if not r.passed and row.passed:
            row.passed, row.message = False, f"[{r.grade_id}] {r.message}"
    for cell in executed_nb.cells:
        if notebooks.is_manual(cell):
            gid = notebooks.grade_id(cell)
            rows[gid] = ExerciseRow(
                gid,
                notebooks.points(cell),
                0.0,
                False,
                "written answer: graded by your instructor",
                manual=True,
            )
    return list(rows.values())


def format_table(rows: list[ExerciseRow]) -> str:
    w = max([len("exercise"), *(len(r.exercise) for r in rows)])
    lines = [f"{'exercise':<{w}}  {'points':>9}  {'result':<7}  message", "-" * (w + 40)]
    for r in rows:
        status = "manual" if r.manual else ("passed" if r.passed else "FAILED")
        pts = f"{r.earned:g}/{r.points:g}" if not r.manual else f"?/{r.points:g}"
        lines.append(f"{r.exercise:<{w}}  {pts:>9}  {status:<7}  {r.message}")
    auto = [r for r in rows if not r.manual]
    total = sum(r.points for r in auto)
    earned = sum(r.earned for r in auto)
    lines.append("-" * (w + 40))
    lines.append(f"{'total (auto-graded)':<{w}}  {earned:g}/{total:g}")
    return "\n".join(lines)


def check_notebook(path: Path, timeout: int = 120) -> list[ExerciseRow]:
    path = Path(path).resolve()
    if not path.is_file():
        raise notebooks.CourseError(f"no such notebook: {path}")
    try:
        nb = notebooks.read(path)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise notebooks.CourseError(
            f"{path} is not a readable notebook ({exc}); restore it from notebooks/"
        ) from exc
    executed = notebooks.execute(nb, cwd=path.parent, timeout=timeout)
    return summarize(executed)


def run(args) -> int:
    print(f"checking {args.notebook} (fresh kernel, quick mode) ...", file=sys.stderr)
    rows = check_notebook(args.notebook, timeout=args.timeout)
    if not rows:
        print("no graded tests found in this notebook")
        return 1
    print(format_table(rows))
    return 0 if all(r.passed for r in rows if not r.manual) else 1
