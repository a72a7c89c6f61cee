"""Notebook files of a checkout: read and write them, the markers nbgrader's sources use, and a
lesson's reference answers.

* A solution cell holds the answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION``.
* Every test cell starts with visible checks that call the student's code, then hides the rest
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
* What a cell is (answer, test, helper; its grade id and points) is :mod:`course.cells`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import nbformat

from course.cells import grade_id, is_solution

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
NB_VERSION = 4
ANSWER_PRELUDE = (
    "import math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
)


def read(path: Path | str):
    return nbformat.read(str(path), as_version=NB_VERSION)


def reads(text: str):
    return nbformat.reads(text, as_version=NB_VERSION)


def writes(nb) -> str:
    """The canonical form: nbformat's JSON, 1-space indent, sorted keys, final newline."""
    text = nbformat.writes(nb, version=NB_VERSION)
    return text if text.endswith("\n") else text + "\n"


def write(nb, path: Path | str) -> None:
    """Write ``nb`` at ``path`` in the canonical form (:func:`writes`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(writes(nb), encoding="utf-8")


def strip_markers(source: str) -> str:
    """A solution cell's source as a student would have written it (markers removed)."""
    return "\n".join(
        line for line in source.split("\n") if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)
    )


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
    removed, after importing math, torch, nn and F) and return their namespace: a lesson's reference
    code as Python, for the grader's reference model, the benchmarks and the tests that check
    the lessons' figures independently. Only for the course's own (trusted) notebooks."""
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
