"""One released lesson notebook -> the pandoc markdown of its article.

Only the **released** notebook (``notebooks/<id>/<id>.ipynb``) is read: its answer cells hold the
stub a student starts from and its test cells only the visible checks, so nothing here can leak a
solution or a hidden test. Per cell:

* markdown: kept (the notebook's title becomes the article's title block, its own reference list
  is replaced by the generated one, author-year mentions become citations, images are checked and
  copied, ``<!-- site-figure: NAME -->`` markers become figures);
* an answer cell: an exercise card with what the student writes (signature and docstring, the
  stub replaced by ``...``), the intent of each visible test (its leading comment) with points, and
  a link to the notebook;
* a test cell: folded into its exercise's card (never shown as code);
* a written answer (graded markdown): a card saying what is graded and by whom;
* any other code cell: shown as code (long ones folded).

Lesson-level facts come from the notebook's metadata, ``metadata["course"]``: ``time`` and
``gpu`` (shown on the index and in the title block), optional ``video`` and ``slides`` (a file in
the lesson folder or an https URL; nothing is shown when absent). See docs/SITE.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course import cells
from course.checkout import notebooks
from course.tools.site import citations, figures
from course.tools.site.errors import SiteError

FIGURE_MARKER = re.compile(r"^[ \t]*<!--\s*site-figure:\s*([\w-]+)\s*-->[ \t]*$", re.M)
IMAGE = re.compile(r"!\[(?P<alt>(?:[^\[\]]|\[[^\[\]]*\])*)\]\((?P<src>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HTML_IMG = re.compile(r"<img\b[^>]*\bsrc=[\"'](?P<src>[^\"']+)[\"']", re.I)
TITLE = re.compile(r"^#[ \t]+(?P<text>.+?)[ \t]*$", re.M)
STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "raise NotImplementedError"}
FOLD_LINES = 18  # code cells longer than this are folded
META_KEYS = {"time", "gpu", "video", "slides", "title"}


@dataclass
class Exercise:
    name: str
    cell: str
    code: str
    tests: list[tuple[str, str, float]] = field(default_factory=list)  # (grade id, intent, points)

    @property
    def points(self) -> float:
        return sum(p for _, _, p in self.tests)


@dataclass
class Lesson:
    id: str
    folder: Path
    notebook: Path
    number: str
    title: str
    meta: dict
    markdown: str = ""
    exercises: list[Exercise] = field(default_factory=list)
    written_points: float = 0.0
    figures: list[str] = field(default_factory=list)
    assets: set[str] = field(default_factory=set)
    cited: set[str] = field(default_factory=set)
    nocite: set[str] = field(default_factory=set)
    cells: dict[str, str] = field(default_factory=dict)  # cell label -> source (for errors)
    media: tuple[str | None, str | None] = (None, None)  # (video, slides), checked by the build
    nb: Any = field(default=None, repr=False)  # the released notebook (nbformat's node)

    @property
    def href(self) -> str:
        return f"{self.id}/index.html"

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises)

    def where(self, cell: str) -> str:
        return f"lesson {self.id}, cell {cell}"


def _fmt_points(p: float) -> str:
    text = f"{p:g}"
    return f"{text} point" + ("" if p == 1 else "s")


def _cell_label(cell, index: int) -> str:
    return f"{index + 1} ({cell.get('id') or cell.cell_type})"


def _intent(source: str, grade_id: str) -> str:
    """What a visible test checks: its first block of top-level comment lines (after any helper)."""
    lines: list[str] = []
    for line in source.split("\n"):
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            if text.startswith("...") and lines:
                break
            lines.append(text)
        elif lines:
            break
    text = " ".join(t for t in lines if t)
    if text:
        return text
    what = grade_id.split("__", 1)[-1].replace("_", " ")
    return f"{what} (see the test cell `{grade_id}` in the notebook)"


def _student_code(source: str) -> str:
    """An answer cell as the student meets it, with the stub shown as ``...``."""
    out: list[str] = []
    for line in source.rstrip().split("\n"):
        if line.strip() in STUB_LINES:
            indent = line[: len(line) - len(line.lstrip())]
            if not (out and out[-1].strip() == "..." and out[-1].startswith(indent)):
                out.append(indent + "...")
            continue
        out.append(line)
    return "\n".join(out)


def _fence(code: str, lang: str = "python", classes: str = "") -> str:
    ticks = "```"
    while ticks in code:
        ticks += "`"
    attrs = "{" + " ".join(f".{c}" for c in [lang, *classes.split()]) + "}"
    return f"{ticks}{attrs}\n{code}\n{ticks}"


def read(lesson_id: str, course_dir: Path) -> Lesson:
    folder = course_dir / "notebooks" / lesson_id
    path = folder / f"{lesson_id}.ipynb"
    if not path.is_file():
        raise SiteError(
            f"lesson {lesson_id}: no released notebook at {path}; run `course release {lesson_id}`"
        )
    try:
        nb = notebooks.read(path)
    except Exception as exc:  # nbformat raises several types for a broken file
        raise SiteError(f"lesson {lesson_id}: cannot read {path}: {exc}") from exc
    meta = dict(nb.metadata.get("course") or {})
    unknown = set(meta) - META_KEYS
    if unknown:
        raise SiteError(
            f"lesson {lesson_id}: unknown key(s) {sorted(unknown)} in the notebook metadata "
            f'"course" (known: {sorted(META_KEYS)}; see docs/SITE.md)'
        )
    number = lesson_id.split("_", 1)[0]
    title = meta.get("title") or lesson_id.split("_", 1)[-1].replace("_", " ").capitalize()
    first_md = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first_md is not None and not meta.get("title"):
        m = TITLE.search(first_md.source)
        if m:
            text = m.group("text")
            # "01 · The residual block: ..." -> "The residual block: ..."
            title = re.sub(rf"^{re.escape(number)}\s*[·:.\-–—]\s*", "", text).strip()
    return Lesson(lesson_id, folder, path, number, title, meta, nb=nb)


def to_markdown(lesson: Lesson, bib: citations.Bibliography, notebook_href: str) -> None:
    """Fill ``lesson.markdown`` (and exercises, figures, assets, citations) from its notebook."""
    nb = lesson.nb
    tests: dict[str, list[tuple[str, str, float]]] = {}
    for cell in nb.cells:
        if cells.is_test(cell):
            gid = cells.grade_id(cell) or ""
            tests.setdefault(cells.exercise_of(gid), []).append(
                (gid, _intent(cell.source, gid), cells.points(cell))
            )
    marked = {
        name
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for name in FIGURE_MARKER.findall(cell.source)
    }
    blocks: list[str] = []
    title_done = False
    for index, cell in enumerate(nb.cells):
        label = _cell_label(cell, index)
        lesson.cells[label] = cell.source
        gid = cells.grade_id(cell)
        if cell.cell_type == "markdown" and cells.is_manual(cell):
            lesson.written_points += cells.points(cell)
            blocks.append(_written_card(gid or "answer", cells.points(cell), notebook_href))
        elif cell.cell_type == "markdown":
            text = cell.source
            if not title_done:
                text, n = TITLE.subn("", text, count=1)
                title_done = bool(n)
            blocks.append(_markdown(lesson, text, label, bib))
            for name in figures.placed_after(lesson.number, text):
                if name not in marked and name not in lesson.figures:
                    lesson.figures.append(name)
                    blocks.append(_figure_block(figures.render(name, lesson)))
        elif cell.cell_type == "code" and cells.is_solution(cell):
            ex = Exercise(gid or f"exercise-{index}", label, _student_code(cell.source))
            ex.tests = tests.get(ex.name, [])
            lesson.exercises.append(ex)
            blocks.append(_exercise_card(ex, notebook_href))
        elif cell.cell_type == "code" and (cells.is_test(cell) or cells.is_course_cell(cell)):
            continue  # tests are summarised on their exercise; the Colab/progress cells are tooling
        elif cell.cell_type == "code" and cell.source.strip():
            code = cell.source.rstrip()
            if code.count("\n") + 1 > FOLD_LINES:
                blocks.append(
                    '<details class="code-cell">\n<summary>Code cell: '
                    f"{code.count(chr(10)) + 1} lines (open to read)</summary>\n\n"
                    f"{_fence(code)}\n\n</details>"
                )
            else:
                blocks.append(_fence(code))
    for name, (number, heading) in figures.PLACEMENT.items():
        if number == lesson.number and name not in marked and name not in lesson.figures:
            raise SiteError(
                f"lesson {lesson.id}: the figure {name} goes after the heading {heading!r}, which "
                f"the lesson no longer has; place <!-- site-figure: {name} --> in a markdown cell "
                "or update PLACEMENT in course/tools/site/figures.py"
            )
    lesson.nocite -= lesson.cited
    lesson.markdown = "\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n"


def _markdown(lesson: Lesson, text: str, label: str, bib: citations.Bibliography) -> str:
    where = lesson.where(label)
    text, refs = citations.split_references(text)
    if refs:
        found, unknown = bib.named_in(refs)
        if unknown:
            raise SiteError(
                f"{where}: its reference list names work(s) not in {bib.source}: "
                + "; ".join(repr(u) for u in unknown)
                + ". Add a BibTeX entry for each (docs/SITE.md, 'Citations')."
            )
        lesson.nocite |= {e.key for e in found}
    try:
        rewritten = citations.rewrite(text, bib)
    except citations.CitationError as exc:
        raise SiteError(f"{where}: {exc}") from None
    lesson.cited |= rewritten.cited
    lesson.nocite |= rewritten.linked
    text = rewritten.text

    for m in list(IMAGE.finditer(text)) + list(HTML_IMG.finditer(text)):
        _check_asset(lesson, m.group("src"), where)

    def figure(m: re.Match) -> str:
        name = m.group(1)
        try:
            html = figures.render(name, lesson)
        except KeyError:
            raise SiteError(
                f"{where}: unknown figure {name!r} in <!-- site-figure: {name} -->; known "
                f"figures: {', '.join(figures.names())} (docs/SITE.md, 'Figures')"
            ) from None
        if name not in lesson.figures:
            lesson.figures.append(name)
        return _figure_block(html)

    return FIGURE_MARKER.sub(figure, text)


def _figure_block(html: str) -> str:
    return f"\n```{{=html}}\n{html}\n```\n"


def _check_asset(lesson: Lesson, src: str, where: str) -> None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("//"):
        raise SiteError(
            f"{where}: the image {src} is not a file in the lesson folder; the site never loads "
            "anything from the network. Save it next to the notebook and link it by file name."
        )
    rel = src.split("#", 1)[0]
    path = (lesson.folder / rel).resolve()
    if lesson.folder.resolve() not in path.parents or not path.is_file():
        raise SiteError(
            f"{where}: missing figure {src!r}: no such file in {lesson.folder} (a lesson's "
            "figures live in its folder and are released with it)"
        )
    lesson.assets.add(rel)


def _exercise_card(ex: Exercise, notebook_href: str) -> str:
    points = f" · {_fmt_points(ex.points)}" if ex.points else ""
    lines = [
        f"::: {{.exercise #exercise-{ex.name}}}",
        f"[Exercise]{{.exercise-label}} **`{ex.name}`**{points}"
        f" · [open the notebook]({notebook_href}){{.open-notebook}}",
        "",
        "You write:",
        "",
        _fence(ex.code, classes="student-code"),
        "",
    ]
    if ex.tests:
        lines += ["What the visible tests check:", ""]
        for _gid, intent, pts in ex.tests:
            lines.append(f"- {intent} [{_fmt_points(pts)}]{{.test-points}}")
        lines += [
            "",
            "[When your work is graded, hidden tests may check more cases: passing the visible "
            "ones is necessary, not sufficient.]{.hidden-note}",
        ]
    lines += ["", ":::"]
    return "\n".join(lines)


def _written_card(gid: str, pts: float, notebook_href: str) -> str:
    return "\n".join(
        [
            f"::: {{.exercise .written #written-{gid}}}",
            f"[Written answer]{{.exercise-label}} · {_fmt_points(pts)}, graded by your instructor. "
            f"Write it in the notebook's answer cell (`{gid}`): "
            f"[open the notebook]({notebook_href}){{.open-notebook}}.",
            "",
            ":::",
        ]
    )
