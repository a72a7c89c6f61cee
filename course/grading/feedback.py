"""What a graded notebook looks like afterwards: the instructor's copy and the student's page.

* :func:`autograded_notebook` — for the instructor (nbgrader's formgrader reads it from
  ``autograded/<student>/<lesson>/``): the student's cells with their outputs, every test cell
  with its full source and the verdict as its output.
* :func:`feedback_notebook` / :func:`feedback_html` — for the student: the same, except that a
  test cell shows only its name, points, passed/failed and the check's message. Never the test's
  source, never anything printed while a test ran (tests run in the grader, and what the
  student's code prints during them goes to a log, not here).

The page (:func:`feedback_html`) is one self-contained HTML file that works offline: it opens
with the student's total and a table of every test (name linking to its cell, points,
passed/failed, the one-line message), then the notebook. Markdown and its math go through the
same pandoc as the course site (``--mathml``: the browser draws the math, no MathJax); code is
highlighted by Pygments; figures are inline ``data:`` images. No script at all, from anywhere:
the page's Content-Security-Policy allows none and no request beyond the page itself, and the
student's own HTML output or raw HTML in their markdown is shown as text, never rendered.

:func:`leaked_lines` is the last gate before a page is written: the page's text, Unicode-
normalised (NFKC) with zero-width and other format characters removed and whitespace collapsed,
must contain no line of the hidden tests (normalised the same way). A page that fails it is
withheld and the submission flagged.
"""

from __future__ import annotations

import base64
import copy
import html
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course import cells
from course.checkout import notebooks as nbs

LONG_LINE = 12  # hidden lines at least this long are searched for anywhere in the page
TEST_PLACEHOLDER = "# {gid}: {points:g} point{s}. The test's code is not shown in feedback."


def hidden_lines(source, release) -> list[str]:
    """The lines of the source's hidden tests a student never sees (stripped). A line the
    release shows anywhere (``downsample = None`` inside ``self.downsample = None``) is not a
    secret."""
    shown = "\n".join(c.source for c in release.cells)
    secret, inside = [], False
    for cell in source.cells:
        if not cells.is_test(cell):
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
    runs = {c.index: c for c in result.cells}
    tests = {t.grade_id: t for t in result.tests}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        gid = cells.grade_id(cell)
        if cells.is_test(cell) and gid in tests:
            cell.outputs = [_verdict_output(tests[gid])]
        elif i in runs:
            run = runs[i]
            cell.outputs = [nbformat.from_dict(o) for o in run.outputs]
            if run.error:
                cell.outputs.append(_error_output(run))
            if run.status == "not run":
                cell.outputs.append(
                    nbformat.v4.new_output("stream", name="stderr", text="(not run)\n")
                )
    return nb


VERDICT_KEY = "course_verdict"  # cell metadata of a feedback notebook's test cell


def feedback_notebook(staged_nb, result):
    """The student's copy: test cells reduced to name, points and verdict (the verdict also in
    the cell's metadata, ``course_verdict``, for the page's table)."""
    nb = autograded_notebook(staged_nb, result)
    tests = {t.grade_id: t for t in result.tests}
    for cell in nb.cells:
        if cells.is_test(cell):
            points = cells.points(cell)
            cell.source = TEST_PLACEHOLDER.format(
                gid=cells.grade_id(cell), points=points, s="s" * (points != 1)
            )
            t = tests.get(cells.grade_id(cell))
            if t is not None:
                cell.metadata[VERDICT_KEY] = {
                    "points": t.points, "earned": t.earned, "message": t.message,
                }  # fmt: skip
    return nb


# --------------------------------------------------------------------------- the page
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Jupyter-flavoured markdown as the site reads it, without raw HTML or TeX: a student's markdown
# is shown, never run (and the page's CSP would block a script anyway)
_READER = "markdown+lists_without_preceding_blankline-example_lists-raw_html-raw_tex-raw_attribute"
_SLOT = "COURSEFEEDBACKSLOT{:05d}"
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass
class _Row:
    grade_id: str
    anchor: str
    points: float
    earned: float | None  # None: graded by the instructor (written answer)
    message: str

    @property
    def status(self) -> str:
        if self.earned is None:
            return "manual"
        return "passed" if self.earned >= self.points else "failed"


def _one_line(text: str) -> str:
    line = next((ln.strip() for ln in _ANSI.sub("", text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= 240 else line[:239] + "…"


def _rows(nb) -> list[_Row]:
    rows = []
    for i, cell in enumerate(nb.cells):
        gid = cells.grade_id(cell)
        if not gid:
            continue
        if cells.is_manual(cell):
            rows.append(
                _Row(gid, f"cell-{i}", cells.points(cell), None, "graded by your instructor")
            )
        elif cells.is_test(cell):
            v = cell.metadata.get(VERDICT_KEY)
            if v is None:  # not graded (e.g. a cell the grade did not reach)
                rows.append(_Row(gid, f"cell-{i}", cells.points(cell), 0.0, "not graded"))
            else:
                message = "" if v["earned"] >= v["points"] else _one_line(v["message"])
                rows.append(_Row(gid, f"cell-{i}", v["points"], v["earned"], message))
    return rows


def _highlight(code: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))


def _pre(text: str, classes: str, label: str) -> str:
    # focusable, so a wide block can be scrolled from the keyboard
    return (
        f'<pre class="{classes}" tabindex="0" aria-label="{html.escape(label)}">'
        f"{html.escape(_ANSI.sub('', text))}</pre>"
    )


def _output(out, i: int, k: int) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name", "stdout")
        return _pre(str(out.get("text", "")), f"out {name}", f"cell {i}: {name}")
    if kind == "error":
        text = "\n".join(out.get("traceback") or [f"{out.get('ename')}: {out.get('evalue')}"])
        return _pre(text, "out error", f"cell {i}: error")
    data = out.get("data", {}) if kind in ("display_data", "execute_result") else {}
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in data:
            raw = data[mime]
            raw = "".join(raw) if isinstance(raw, list) else str(raw)
            if mime == "image/svg+xml":  # as an image: a script inside an <img> never runs
                raw = base64.b64encode(raw.encode("utf-8")).decode("ascii")
            alt = _one_line(str(data.get("text/plain", ""))).strip("<>") or "a figure"
            return (
                f'<img class="out" src="data:{mime};base64,{raw.strip()}" '
                f'alt="Output {k + 1} of cell {i}: {html.escape(alt)}">'
            )
    if "text/plain" in data:
        text = data["text/plain"]
        text = "".join(text) if isinstance(text, list) else str(text)
        return _pre(text, "out result", f"cell {i}: result")
    if data:
        return '<p class="out note">(an output this page does not show: HTML or a widget)</p>'
    return ""


def _code_cell(cell, i: int, rows: dict[str, _Row]) -> str:
    gid = cells.grade_id(cell)
    head = ""
    classes = "cell code"
    if gid in rows and cells.is_test(cell):
        r = rows[gid]
        classes += f" test {r.status}"
        verdict = "passed" if r.status == "passed" else "failed"
        head = (
            f'<p class="verdict"><span class="badge {r.status}">{verdict}</span> '
            f"<code>{html.escape(gid)}</code>: {r.earned or 0:g} of {r.points:g} "
            f"point{'s' * (r.points != 1)}</p>"
        )
    body = "".join(_output(o, i, k) for k, o in enumerate(cell.get("outputs", [])))
    code = _highlight(cell.source) if cell.source.strip() else ""
    src = (
        f'<pre class="source" tabindex="0" aria-label="cell {i}: code">{code}</pre>' if code else ""
    )
    return f'<section id="cell-{i}" class="{classes}" aria-label="cell {i}">{head}{src}{body}</section>'


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Your graded notebook"


def _breakable(name: str) -> str:
    """An exercise__test name that may break after its ``__`` on a narrow screen."""
    return "__<wbr>".join(html.escape(part) for part in name.split("__"))


def _summary(rows: list[_Row]) -> str:
    auto = [r for r in rows if r.earned is not None]
    earned, total = sum(r.earned for r in auto), sum(r.points for r in auto)  # type: ignore[misc]
    manual = sum(r.points for r in rows if r.earned is None)
    passed = sum(r.status == "passed" for r in auto)
    extra = (
        f" Written answers ({manual:g} point{'s' * (manual != 1)}) are graded by your instructor."
        if manual else ""
    )  # fmt: skip
    lines = [
        '<section class="summary" aria-labelledby="score">',
        f'<h2 id="score">Your score: {earned:g} of {total:g} points</h2>',
        f"<p>{passed} of {len(auto)} tests passed (auto-graded, hidden tests included).{extra}"
        " Each test's name links to its cell below.</p>",
        '<div class="scroll" tabindex="0" role="region" aria-label="every test">',
        "<table><caption>Every test</caption><thead><tr>"
        '<th scope="col">test</th><th scope="col">points</th><th scope="col">result</th>'
        '<th scope="col">message</th></tr></thead><tbody>',
    ]
    for r in rows:
        pts = f"?/{r.points:g}" if r.earned is None else f"{r.earned:g}/{r.points:g}"
        lines.append(
            f'<tr class="{r.status}"><td><a href="#{r.anchor}"><code>{_breakable(r.grade_id)}'
            f'</code></a></td><td class="num">{pts}</td><td><span class="badge {r.status}">'
            f"{r.status}</span></td><td>{html.escape(r.message)}</td></tr>"
        )
    lines.append("</tbody></table></div></section>")
    return "\n".join(lines)


def _focusable_if_long(m: re.Match) -> str:
    """An inline equation of 30+ TeX characters may be wider than a phone: it scrolls, so it
    is focusable (a short one never scrolls and stays out of the tab order)."""
    tex = re.search(r'encoding="application/x-tex">(.*?)</annotation>', m.group(1), re.S)
    if tex is None or len(html.unescape(tex.group(1))) < 30:
        return m.group(0)
    return f'<math display="inline" tabindex="0"{m.group(1)}</math>'


_IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
                ".jpeg": "image/jpeg", ".gif": "image/gif"}  # fmt: skip


def _inline_images(body: str, assets: Path | None) -> str:
    """A lesson's own figure (``residual_block.svg`` beside the notebook, in ``assets``) becomes
    a ``data:`` image; any other image reference is shown as its description."""

    def swap(m: re.Match) -> str:
        tag, src = m.group(0), html.unescape(m.group(1))
        path = (assets / src).resolve() if assets is not None and "://" not in src else None
        kind = _IMAGE_TYPES.get(path.suffix.lower()) if path is not None else None
        if kind and path.is_file() and path.is_relative_to(assets.resolve()):  # type: ignore[union-attr]
            data = base64.b64encode(path.read_bytes()).decode("ascii")  # type: ignore[union-attr]
            return tag.replace(m.group(1), f"data:{kind};base64,{data}", 1)
        alt = re.search(r'alt="([^"]*)"', tag)
        return f"<em>[image not included: {alt.group(1) if alt else html.escape(src)}]</em>"

    return re.sub(r'<img\b[^>]*?\bsrc="(?!data:)([^"]*)"[^>]*>', swap, body)


def feedback_html(nb, assets: Path | None = None) -> str:
    """The student's page for a feedback notebook (see the module docstring); ``assets`` is the
    lesson's folder, whose figures the markdown shows (inlined)."""
    from course.checkout import pandoc

    rows = _rows(nb)
    by_gid = {r.grade_id: r for r in rows}
    parts, slots = [], {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = _COMMENT.sub("", cell.source)
            parts.append(f"::: {{#cell-{i} .cell .markdown}}\n{text}\n:::")
        elif cell.cell_type == "code":
            slot = _SLOT.format(i)
            slots[slot] = _code_cell(cell, i, by_gid)
            parts.append(slot)
    body, _ = pandoc.run(
        ["-f", _READER, "-t", "html5", "--mathml", "--wrap=none", "--shift-heading-level-by=1"],
        "\n\n".join(parts), "a feedback notebook",
    )  # fmt: skip
    # a wide block scrolls inside itself: focusable, so that a keyboard can scroll it too
    body = body.replace('<math display="block"', '<math display="block" tabindex="0"')
    body = body.replace("<pre>", '<pre tabindex="0">')
    body = re.sub(
        r"<table\b.*?</table>",
        lambda m: f'<div class="scroll" tabindex="0" role="region" aria-label="table">{m.group(0)}</div>',
        body, flags=re.S,
    )  # fmt: skip
    body = re.sub(r'<math display="inline"(.*?)</math>', _focusable_if_long, body, flags=re.S)
    body = _inline_images(body, assets)  # before the cells go in: their images are data: already
    body = re.sub(r"<p>(COURSEFEEDBACKSLOT\d{5})</p>", lambda m: slots.get(m.group(1), ""), body)
    title = html.escape(_title(nb))
    from pygments.formatters import HtmlFormatter

    code_css = HtmlFormatter(style="default").get_style_defs("pre.source")
    return _PAGE.format(
        csp=_CSP, title=title, css=_CSS + code_css, summary=_summary(rows), body=body
    )


_CSS = """
:root{color-scheme:light}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
 margin:0 auto;padding:1rem;max-width:60rem}
h1{font-size:1.6rem;margin:.5rem 0}
pre{overflow-x:auto;padding:.5rem .75rem;border-radius:4px;font-size:.85rem;
 white-space:pre;background:#f6f8fa;border:1px solid #d0d7de}
pre:focus,.scroll:focus{outline:2px solid #0969da}
pre.out{background:#fff}
pre.stderr{background:#fff5f5}
pre.error{background:#fff0f0;border-color:#cf222e;white-space:pre-wrap}
img{max-width:100%;height:auto}
code{overflow-wrap:anywhere}
math{max-width:100%;overflow-x:auto;overflow-y:hidden}
math:not([display=block]){display:inline-block;vertical-align:middle}
math[display=block]{padding:.25rem 0}
.cell{margin:1rem 0}
.cell.test{border-left:4px solid #6e7781;padding-left:.5rem}
.cell.test.passed{border-left-color:#1a7f37}
.cell.test.failed{border-left-color:#cf222e}
.verdict{margin:.25rem 0}
.badge{font-weight:600;padding:0 .35rem;border-radius:3px;color:#fff;background:#57606a}
.badge.passed{background:#1a7f37}
.badge.failed{background:#cf222e}
.summary{border:1px solid #d0d7de;border-radius:6px;padding:.75rem;margin:1rem 0 2rem}
.summary h2{margin-top:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
caption{text-align:left;font-weight:600}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
td{overflow-wrap:break-word}
.badge{white-space:nowrap}
td code{overflow-wrap:normal}
@media (max-width:40rem){body{padding:.5rem}h1{font-size:1.3rem}.summary{padding:.5rem}
 th,td{padding:.25rem .3rem}
 .summary tr{display:grid;grid-template-columns:1fr auto auto;border-bottom:1px solid #d0d7de}
 .summary th,.summary td{border:0}
 .summary td:last-child,.summary th:last-child{grid-column:1/-1;padding-top:0}
 .summary td:last-child:empty{display:none}}
td.num{white-space:nowrap;text-align:right}
a{color:#0969da}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feedback: {title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>Feedback: {title}</h1></header>
<main>
{summary}
<h2 id="notebook">Your notebook, as graded</h2>
{body}
</main>
</body>
</html>
"""


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
