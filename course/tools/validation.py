"""A summary at the top of nbgrader's Validate results.

What nbgrader 0.9's Validate shows (the button's dialog and ``nbgrader validate``): for every
failing graded cell, "The following cell failed:", the cell's whole source, then its error
outputs (traceback text) and stderr. What the course controls:

* the **error text**: the kernel shows a failing check as its message and an unanswered
  exercise as ``not answered yet: ...`` in one line (:mod:`course.progress`), and Validate's
  kernel runs with ``--InteractiveShell.xmode=Minimal`` (``nbgrader_config.py``);
* **a summary**: the hooks below (``Execute.on_notebook_start`` / ``on_cell_start``, set in
  ``nbgrader_config.py``) add, while nbgrader validates, a per-exercise table (points, result,
  message) as the first output of the first failing test cell, so it opens the dialog's list.

Not controllable without replacing nbgrader's extension: the source listing (the dialog prints
each failing cell's source; changing it would trip nbgrader's checksum comparison) and the
dialog's own wording. Autograding is untouched: the hooks act only while
``NBGRADER_VALIDATING=1``.
"""

from __future__ import annotations

import os
import threading

from nbformat import NotebookNode

from course.tools import notebooks, selfcheck


def summary_text(executed_nb) -> str | None:
    """The summary block for an executed notebook; ``None`` when every test passed."""
    rows = selfcheck.summarize(executed_nb)
    tests = notebooks.results(executed_nb)
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
    return f"{head}\n{table}\nThe failing cells follow, this one first.\n{'=' * 60}\n"


# The notebook being validated, per thread. Module-level: traitlets deep-copies config values,
# so two bound methods of one object would each get their own copy of it.
_validating_nb: dict[int, NotebookNode] = {}


def on_notebook_start(notebook=None, **_kwargs) -> None:
    """``Execute.on_notebook_start``: remember the notebook while nbgrader validates."""
    if os.environ.get("NBGRADER_VALIDATING") == "1" and notebook is not None:
        _validating_nb[threading.get_ident()] = notebook


def on_cell_start(cell=None, cell_index=None, **_kwargs) -> None:
    """``Execute.on_cell_start``: before the last cell runs, every test cell has its outputs
    (a lesson's last cell is the progress cell, never a test): add the summary."""
    nb = _validating_nb.get(threading.get_ident())
    if nb is None or cell_index != len(nb.cells) - 1:
        return
    del _validating_nb[threading.get_ident()]
    try:
        text = summary_text(nb)
        first = next(
            (c for c in nb.cells if notebooks.is_test(c) and notebooks.failure_of(c)), None
        )
        if text and first is not None:
            first.outputs.insert(0, NotebookNode(output_type="stream", name="stderr", text=text))
    except Exception:  # noqa: BLE001 - a summary must never break validation
        pass


def summary_hooks() -> tuple:
    """``(on_notebook_start, on_cell_start)`` for ``c.Execute`` in ``nbgrader_config.py``."""
    return on_notebook_start, on_cell_start
