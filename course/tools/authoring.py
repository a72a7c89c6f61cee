"""Build nbgrader source notebooks in code (an alternative to JupyterLab's nbgrader toolbar).

Each helper returns a cell with valid nbgrader schema-3 metadata::

    from course.tools.authoring import md, code, solution, tests, written, notebook
    nb = notebook([
        md("# Lesson"),
        code("import torch", locked=True),
        solution("plain_block", "def plain_block(a, W1, b1, W2, b2):\\n"
                 "    ### BEGIN SOLUTION\\n    ...\\n    ### END SOLUTION"),
        tests("plain_block__shape", 1, "check_shape(...)\\n### BEGIN HIDDEN TESTS\\n...\\n### END HIDDEN TESTS"),
        written("why_identity", 2, "YOUR ANSWER HERE"),
    ])
    course.checkout.notebooks.write(course.tools.releases.normalize(nb), "solutions/01_x/01_x.ipynb")
"""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _meta(
    grade_id: str | None,
    *,
    grade: bool,
    solution: bool,
    locked: bool,
    points: float | None = None,
    task: bool = False,
) -> dict:
    m: dict[str, object] = {
        "schema_version": 3,
        "grade": grade,
        "solution": solution,
        "locked": locked,
    }
    if grade_id is not None:
        m["grade_id"] = grade_id
    if points is not None:
        m["points"] = points
    if task:
        m["task"] = False
    return {"nbgrader": m}


def md(text: str, *, locked: bool = False, grade_id: str | None = None):
    """Lesson text. ``locked=True`` (with a grade_id) makes it read-only for students."""
    cell = new_markdown_cell(text.strip("\n"))
    if locked:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def code(src: str, *, locked: bool = False, grade_id: str | None = None):
    """An ordinary code cell (demo, "try it"); ``locked`` needs a ``grade_id``."""
    cell = new_code_cell(src.strip("\n"))
    if locked:
        if not grade_id:
            raise ValueError("a locked cell needs a grade_id")
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def solution(grade_id: str, src: str):
    """An answer cell; its grade_id is the exercise name. Put the answer between
    ``### BEGIN SOLUTION`` / ``### END SOLUTION``; keep signatures and docstrings outside."""
    if "### BEGIN SOLUTION" not in src:
        raise ValueError(f"solution cell {grade_id!r} has no ### BEGIN SOLUTION marker")
    cell = new_code_cell(src.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=False, solution=True, locked=False))
    return cell


def tests(grade_id: str, points: float, src: str):
    """An autograded test cell: ``grade_id`` is ``<exercise>__<what>``; visible checks first,
    hidden ones between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``."""
    if "__" not in grade_id:
        raise ValueError(f"test grade_id {grade_id!r} must look like '<exercise>__<what>'")
    cell = new_code_cell(src.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def written(grade_id: str, points: float, answer: str = "YOUR ANSWER HERE"):
    """A manually graded written answer (markdown, grade + solution)."""
    cell = new_markdown_cell(answer.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb
