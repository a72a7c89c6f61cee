"""A summary at the top of nbgrader's Validate results.

What nbgrader 0.9's Validate shows (the button's dialog and ``nbgrader validate``): for every
failing graded cell, "The following cell failed:", the cell's whole source, then its error
outputs (traceback text) and stderr. What the course controls:

* the **error text**: the kernel shows a failing check as its message and an unanswered
  exercise as ``not answered yet: ...`` in one line (:mod:`course.progress`), and Validate's
  kernel runs with ``--InteractiveShell.xmode=Minimal`` (``nbgrader_config.py``);
* **a summary first**: the hooks below (``Execute.on_notebook_start`` / ``on_cell_start``, set
  in ``nbgrader_config.py``) put, while nbgrader validates, one extra cell at the top of the
  notebook being validated (never of the file: Validate does not write the notebook back): a
  0-point grade cell whose source is one comment line. Before the last cell runs, every test
  has its outputs, and the summary (points, result and message per exercise) becomes that
  cell's output on stderr. A 0-point grade cell with stderr output is "failed" by nbgrader's
  rule, and the dialog lists failed cells in notebook order: the summary is the first entry,
  whatever the first failing test is. When every test passes the cell stays empty and the
  dialog says so as before.

Not controllable without replacing nbgrader's extension: the dialog's own wording ("The
following cell failed:" above the summary's one-line source) and the source listing of each
failing test that follows. Autograding is untouched: the hooks act only while
``NBGRADER_VALIDATING=1``.
"""

from __future__ import annotations

import os
import threading

from nbformat import NotebookNode

from course import cells
from course.tools import execution, selfcheck


def summary_text(executed_nb) -> str | None:
    """The summary block for an executed notebook; ``None`` when every test passed."""
    if executed_nb.cells and cells.grade_id(executed_nb.cells[0]) == SUMMARY_ID:
        executed_nb = NotebookNode(executed_nb, cells=executed_nb.cells[1:])  # not a test
    rows = selfcheck.summarize(executed_nb)
    tests = execution.results(executed_nb)
    failing = [t for t in tests if not t.passed]
    if not failing:
        return None
    earned = sum(t.score for t in tests)
    total = sum(t.points for t in tests)
    head = (
        f"SUMMARY: {len(tests) - len(failing)} of {len(tests)} test cells pass "
        f"({earned:g} of {total:g} points, if the hidden tests agree); per exercise:"
    )
    table = selfcheck.format_table(rows)
    return f"{head}\n{table}\nThe failing cells follow, in notebook order.\n"


# The notebook being validated, per thread. Module-level: traitlets deep-copies config values,
# so two bound methods of one object would each get their own copy of it.
_validating_nb: dict[int, NotebookNode] = {}


SUMMARY_ID = "validate_summary"
SUMMARY_SOURCE = "# Validate's summary of this notebook's tests (added while validating)"


def summary_cell() -> NotebookNode:
    """The cell that carries the summary (see the module docstring)."""
    from nbformat.v4 import new_code_cell

    cell = new_code_cell(SUMMARY_SOURCE, id="validate-summary")
    cell.metadata["nbgrader"] = {
        "grade": True, "grade_id": SUMMARY_ID, "points": 0, "solution": False,
        "locked": False, "schema_version": 3,
    }  # fmt: skip
    return cell


def on_notebook_start(notebook=None, **_kwargs) -> None:
    """``Execute.on_notebook_start``: while nbgrader validates, remember the notebook and put
    the (empty) summary cell first."""
    if os.environ.get("NBGRADER_VALIDATING") == "1" and notebook is not None:
        if not notebook.cells or cells.grade_id(notebook.cells[0]) != SUMMARY_ID:
            notebook.cells.insert(0, summary_cell())
        _validating_nb[threading.get_ident()] = notebook


def on_cell_start(cell=None, cell_index=None, **_kwargs) -> None:
    """``Execute.on_cell_start``: before the last cell runs, every test cell has its outputs
    (a lesson's last cell is the progress cell, never a test): the summary goes in."""
    nb = _validating_nb.get(threading.get_ident())
    if nb is None or cell_index != len(nb.cells) - 1:
        return
    del _validating_nb[threading.get_ident()]
    try:
        text = summary_text(nb)
        first = nb.cells[0]
        if text and cells.grade_id(first) == SUMMARY_ID:
            first.outputs = [NotebookNode(output_type="stream", name="stderr", text=text)]
    except Exception:  # noqa: BLE001 - a summary must never break validation
        pass


def summary_hooks() -> tuple:
    """``(on_notebook_start, on_cell_start)`` for ``c.Execute`` in ``nbgrader_config.py``."""
    return on_notebook_start, on_cell_start
