"""``course site``: the course as a static web site, built with pandoc from the released lessons.

    course site                      # every lesson in notebooks/ -> ./site
    course site 01 03 --out /tmp/s   # some lessons, elsewhere
    python -m http.server -d site    # or just open site/index.html (works from file://)

One article per lesson (title block, table of contents, the notebook's sections, exercises as
the student meets them, figures, margin notes, references) and an index. Math is MathML
(pandoc ``--mathml``), citations come from ``docs/references.bib`` through citeproc, the CSS and
the interactive figures' scripts ship in ``course/tools/site/assets/``, and each lesson opens
with a short video made from its own numbers (``video.py``: matplotlib frames, imageio-ffmpeg,
WebVTT captions, cached by a hash of its inputs). No CDN, no network: the site works offline. Same input, same bytes. Only ``notebooks/`` (the releases) is read, never
``solutions/``. How to add a video, a figure or a citation: docs/SITE.md.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from course.checkout import Checkout, pandoc
from course.checkout.pandoc import PandocError
from course.tools.site import citations, figures, lesson, page, video
from course.tools.site.errors import SiteError

ASSETS = Path(__file__).resolve().parent / "assets"
BIBLIOGRAPHY = Path("docs") / "references.bib"
MARKER = ".course-site"  # marks an output folder as ours, so a rebuild may empty it
READER = "markdown+lists_without_preceding_blankline-example_lists"

__all__ = ["SiteError", "build", "run", "lesson_ids"]


@dataclass
class BuildResult:
    out: Path
    lessons: list[str]
    pages: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    videos_encoded: int = 0  # lesson videos encoded by this build (the others came from the cache)


def lesson_ids(course_dir: Path, names: list[str] | None = None) -> list[str]:
    """Lessons with a released notebook in ``notebooks/`` (all, or those named: ``01`` or ids)."""
    folder = course_dir / "notebooks"
    if not folder.is_dir():
        raise SiteError(
            f"{course_dir} has no notebooks/ folder: `course site` builds from the released "
            "lessons (run `course release` first, or pass --course-dir)"
        )
    known = sorted(p.name for p in folder.iterdir() if (p / f"{p.name}.ipynb").is_file())
    if not known:
        raise SiteError(f"no released lesson in {folder} (expected notebooks/<id>/<id>.ipynb)")
    if not names:
        return known
    chosen = []
    for name in names:
        name = Path(name).name.removesuffix(".ipynb")
        hits = [k for k in known if k == name or k.split("_", 1)[0] == name]
        if len(hits) != 1:
            raise SiteError(f"unknown lesson {name!r}; released lessons: {', '.join(known)}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return sorted(chosen)


def _prepare_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise SiteError(f"--out {out} is a file; give a folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise SiteError(
                f"--out {out} exists, is not empty and was not made by `course site`; choose "
                "another folder (nothing was deleted)"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by `course site`; rebuilt from scratch each time\n")


def _pandoc_article(le: lesson.Lesson, bib_path: Path) -> tuple[str, str]:
    meta = ["---", f"title: {_yaml(le.title)}", "link-citations: true"]
    if le.nocite:
        meta.append("nocite: " + _yaml(", ".join(f"@{k}" for k in sorted(le.nocite))))
    meta.append("---")
    refs = ""
    if le.cited or le.nocite:
        refs = "\n\n## References {#references .unnumbered}\n\n::: {#refs}\n:::\n"
    source = "\n".join(meta) + "\n\n" + le.markdown + refs
    args = [
        "-f", READER, "-t", "html5", "--mathml", "--wrap=none",
        "--citeproc", f"--bibliography={bib_path}",
        "--lua-filter", str(ASSETS / "site.lua"),
        "--toc", "--toc-depth=2", "--template", str(ASSETS / "fragment.html"),
    ]  # fmt: skip
    out, err = pandoc.run(args, source, f"lesson {le.id}")
    _check_warnings(err, le)
    toc, _, body = out.partition("<!--course-site:body-->")
    return toc.strip(), focusable_code(body.strip())


def focusable_code(html_text: str) -> str:
    """Code blocks scroll sideways on a phone: each ``<pre>`` is focusable, so that a keyboard
    can scroll it (the tables' and equations' boxes get the same from site.lua)."""
    return re.sub(r"<pre\b(?![^>]*\btabindex=)", '<pre tabindex="0"', html_text)


def _check_warnings(stderr: str, le: lesson.Lesson) -> None:
    """pandoc's warnings are errors here: a missing citation or unreadable math is a bug."""
    problems = []
    for line in stderr.splitlines():
        m = re.search(r"Citeproc: citation (\S+) not found", line)
        if m:
            key = m.group(1)
            cell = next((c for c, src in le.cells.items() if f"@{key}" in src), "?")
            problems.append(
                f"{le.where(cell)}: broken citation key @{key}: no entry {key!r} in "
                f"{BIBLIOGRAPHY} (docs/SITE.md, 'Citations')"
            )
        elif "[WARNING]" in line:
            problems.append(f"lesson {le.id}: pandoc: {line.strip()}")
    if problems:
        raise SiteError("\n".join(problems))


def _yaml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _media(le: lesson.Lesson) -> tuple[str | None, str | None]:
    found: list[str | None] = []
    for key in ("video", "slides"):
        value = le.meta.get(key)
        if not value:
            found.append(None)
            continue
        value = str(value).strip()
        if value.startswith("https://"):
            found.append(value)
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I):
            raise SiteError(
                f"lesson {le.id}: notebook metadata course.{key} = {value!r}: give an https:// URL "
                "or a file in the lesson folder"
            )
        path = (le.folder / value).resolve()
        if le.folder.resolve() not in path.parents or not path.is_file():
            raise SiteError(
                f"lesson {le.id}: notebook metadata course.{key} names {value!r}, which is not a "
                f"file in {le.folder}"
            )
        le.assets.add(value)
        found.append(value)
    return found[0], found[1]


def build(
    lessons: list[str] | None = None,
    out: Path | str = "site",
    course_dir: Path | str | None = None,
    log=print,
) -> BuildResult:
    """Build the site into ``out`` (emptied first if it is a previous build)."""
    t0 = time.perf_counter()
    if course_dir is None:
        course_dir = Checkout.find().root
    course_dir = Path(course_dir).resolve()
    out = Path(out).resolve()
    pandoc.pandoc_path()  # fail early and clearly when there is none
    ids = lesson_ids(course_dir, lessons)
    bib_path = course_dir / BIBLIOGRAPHY
    bib = citations.Bibliography(pandoc.bibliography_entries(bib_path), str(BIBLIOGRAPHY))

    all_lessons = [lesson.read(i, course_dir) for i in ids]
    for le in all_lessons:
        lesson.to_markdown(le, bib, f"{le.id}.ipynb")
    _prepare_out(out)
    for le in all_lessons:
        le.media = _media(le)

    workers = max(1, min(len(all_lessons), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        rendered = list(pool.map(lambda le: _pandoc_article(le, bib_path), all_lessons))

    result = BuildResult(out, ids)
    for i, (le, (toc, body)) in enumerate(zip(all_lessons, rendered, strict=True)):
        folder = out / le.id
        folder.mkdir()
        shutil.copy2(le.notebook, folder / le.notebook.name)
        for rel in sorted(le.assets):
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(le.folder / rel, target)
        notebook_href = le.notebook.name
        made = None if le.media[0] else video.make(le.number, le.id, course_dir, folder)
        result.videos_encoded += bool(made and made.encoded)
        content = "\n".join(
            part
            for part in [
                '<article class="d-article">',
                page.title_block(le, notebook_href, le.points, le.written_points),
                page.media_block(le, *le.media, generated=made),
                f'<nav class="toc" aria-label="Contents"><h2>Contents</h2>\n{toc}\n</nav>'
                if toc
                else "",
                body,
                "</article>",
                page.lesson_pager(all_lessons, i, "../"),
            ]
            if part
        )
        html_text = page.shell(
            title=f"{le.number} · {le.title} — {page.SITE_TITLE}",
            root="../",
            body=content,
            lessons=all_lessons,
            current=le.id,
            scripts=figures.scripts(le.figures),
            description=f"Lesson {le.number} of {page.SITE_TITLE}: {le.title}",
        )
        (folder / "index.html").write_text(html_text, encoding="utf-8")
        result.pages.append(folder / "index.html")

    index_md = page.index_markdown(course_dir, all_lessons)
    index_body, _ = pandoc.run(
        [
            "-f",
            READER,
            "-t",
            "html5",
            "--wrap=none",
            "--mathml",
            "--lua-filter",
            str(ASSETS / "site.lua"),
        ],
        index_md,
        "the index page",
    )
    index_body = focusable_code(index_body)
    index_html = page.shell(
        title=page.SITE_TITLE,
        root="",
        body=(
            '<article class="d-article index">\n<header class="title-block">\n'
            f'<p class="kicker">An open course</p>\n<h1>{page.esc(page.SITE_TITLE)}</h1>\n'
            "</header>\n" + index_body + "\n</article>"
        ),
        lessons=all_lessons,
        description="An open, autograded course on residual networks, from the block's "
        "equations to ResNet-34 on CIFAR-10.",
    )
    (out / "index.html").write_text(index_html, encoding="utf-8")
    result.pages.insert(0, out / "index.html")

    assets = out / "assets"
    (assets / "figures").mkdir(parents=True)
    shutil.copy2(ASSETS / "site.css", assets / "site.css")
    shutil.copy2(ASSETS / "favicon.svg", assets / "favicon.svg")
    for name in sorted({s for le in all_lessons for s in figures.scripts(le.figures)}):
        shutil.copy2(ASSETS / "figures" / name, assets / "figures" / name)
    result.seconds = time.perf_counter() - t0
    log(
        f"built {len(ids)} lesson(s) + index into {out} in {result.seconds:.1f} s "
        f"({result.videos_encoded} video(s) encoded, the others from {video.cache_dir()}); "
        f"open {out / 'index.html'}"
    )
    return result


def run(args) -> int:
    """``course site [LESSON ...] [--out DIR] [--course-dir DIR]``."""
    try:
        build(args.lessons, out=args.out, course_dir=args.course_dir)
    except (SiteError, PandocError) as exc:
        print(f"course site: error: {exc}", file=sys.stderr)
        return 2
    return 0
