"""What a graded notebook looks like afterwards: the instructor's copy and the student's page.

* :func:`autograded_notebook` — for the instructor (nbgrader's formgrader reads it from
  ``autograded/<student>/<lesson>/``): the student's cells with their outputs, every test cell
  with its full source and the verdict as its output.
* :func:`feedback_notebook` / :func:`feedback_html` — for the student: the same, except that a
  test cell shows only its name, points, passed/failed and the check's message. Never the test's
  source, never anything printed while a test ran (tests run in the grader, and what the
  student's code prints during them goes to a log, not here).

:func:`leaked_lines` is the last gate before a page is written: the page's text, Unicode-
normalised (NFKC) with zero-width and other format characters removed and whitespace collapsed,
must contain no line of the hidden tests (normalised the same way). A page that fails it is
withheld and the submission flagged.
"""

from __future__ import annotations

import copy
import html
import re
import unicodedata
from collections.abc import Collection

import nbformat

from course.tools import notebooks as nbs

LONG_LINE = 12  # hidden lines at least this long are searched for anywhere in the page
TEST_PLACEHOLDER = "# {gid}: {points:g} point{s}. The test's code is not shown in feedback."


def hidden_lines(source, release) -> list[str]:
    """The lines of the source's hidden tests a student never sees (stripped). A line the
    release shows anywhere (``downsample = None`` inside ``self.downsample = None``) is not a
    secret."""
    shown = "\n".join(c.source for c in release.cells)
    secret, inside = [], False
    for cell in source.cells:
        if not nbs.is_test(cell):
            continue
        for line in cell.source.split("\n"):
            if nbs.HIDDEN_BEGIN in line:
                inside = True
            elif nbs.HIDDEN_END in line:
                inside = False
            elif inside and line.strip() and line.strip() not in shown:
                secret.append(line.strip())
    return list(dict.fromkeys(secret))


def _verdict_output(outcome) -> dict:
    if outcome.passed:
        text = f"PASSED ({outcome.earned:g}/{outcome.points:g} point{'s' * (outcome.points != 1)})"
        return nbformat.v4.new_output("stream", name="stdout", text=text + "\n")
    return nbformat.v4.new_output(
        "error",
        ename="Failed",
        evalue=f"0/{outcome.points:g}: {outcome.message}",
        traceback=[f"FAILED (0/{outcome.points:g}): {outcome.message}"],
    )


def _error_output(outcome) -> dict:
    name, _, message = outcome.error.partition(": ")
    return nbformat.v4.new_output(
        "error", ename=name or "Error", evalue=message, traceback=[outcome.error]
    )


def autograded_notebook(staged_nb, result):
    """The staged notebook with the outputs of this grading run (see the module docstring)."""
    nb = copy.deepcopy(staged_nb)
    cells = {c.index: c for c in result.cells}
    tests = {t.grade_id: t for t in result.tests}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        gid = nbs.grade_id(cell)
        if nbs.is_test(cell) and gid in tests:
            cell.outputs = [_verdict_output(tests[gid])]
        elif i in cells:
            run = cells[i]
            cell.outputs = [nbformat.from_dict(o) for o in run.outputs]
            if run.error:
                cell.outputs.append(_error_output(run))
            if run.status == "not run":
                cell.outputs.append(
                    nbformat.v4.new_output("stream", name="stderr", text="(not run)\n")
                )
    return nb


def feedback_notebook(staged_nb, result):
    """The student's copy: test cells reduced to name, points and verdict."""
    nb = autograded_notebook(staged_nb, result)
    for cell in nb.cells:
        if nbs.is_test(cell):
            points = nbs.points(cell)
            cell.source = TEST_PLACEHOLDER.format(
                gid=nbs.grade_id(cell), points=points, s="s" * (points != 1)
            )
    return nb


def feedback_html(nb) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    return body


# --------------------------------------------------------------------------- the last gate
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, format characters (zero-width, bidi) removed, all whitespace removed: syntax
    highlighting and entities cannot hide a line, and neither can spacing."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACES.sub("", text)


def page_text(page: str) -> str:
    """The visible text of an HTML page (tags, scripts and styles removed, entities decoded)."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", page)
    return html.unescape(re.sub(r"<[^>]*>", "", page))


def leaked_lines(page: str, lines: list[str], allowed: Collection[str] = frozenset()) -> list[str]:
    """Hidden-test lines present in ``page`` (see the module docstring): a long line anywhere,
    a short one (``x = 1``) only as a whole line; lines that occur in ``allowed`` (the
    student's own cells: writing a line is not learning it here) are not counted."""
    text = page_text(page)
    whole = normalise(text)
    by_line = {normalise(line) for line in text.split("\n")}
    own = [normalise(a) for a in allowed]
    found = []
    for line in lines:
        key = normalise(line)
        if not key:
            continue
        hit = key in whole if len(key) >= LONG_LINE else key in by_line
        if hit and not any(key in o for o in own):
            found.append(line)
    return found
