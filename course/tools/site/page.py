"""The HTML around pandoc's output: page shell, title block, lesson navigation, the index's text.

Everything here is plain string building with escaping; no dates, no absolute paths, so the
same input gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

import course
from course.tools import course_cells

SITE_TITLE = "Residual Networks, hands-on"


def esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def shell(
    *,
    title: str,
    root: str,
    body: str,
    lessons: list,
    current: str | None = None,
    scripts: Sequence[str] = (),
    description: str = "",
) -> str:
    """A complete page: head (one stylesheet, no external anything), top bar, body, scripts."""
    current_attr = ' aria-current="page"'
    nav = "".join(
        f'<li><a href="{root}{le.href}"{current_attr if le.id == current else ""} '
        f'title="{esc(le.title)}">{esc(le.number)}</a></li>'
        for le in lessons
    )
    script_tags = "".join(f'\n<script src="{root}assets/figures/{s}"></script>' for s in scripts)
    desc = f'\n<meta name="description" content="{esc(description)}">' if description else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="course site (pandoc)">{desc}
<title>{esc(title)}</title>
<link rel="icon" href="{root}assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{root}assets/site.css">
</head>
<body>
<a class="skip-link" href="#content">Skip to the text</a>
<header class="site-bar">
<a class="site-name" href="{root}index.html">{esc(SITE_TITLE)}</a>
<nav aria-label="Lessons"><ol class="lesson-nav">{nav}</ol></nav>
</header>
<main id="content">
{body}
</main>
<footer class="site-footer">
<p>{esc(SITE_TITLE)}: an open, autograded course. Built from the released notebooks with
pandoc; works offline. <a href="{root}index.html">All lessons</a>.</p>
</footer>{script_tags}
</body>
</html>
"""


def title_block(lesson, notebook_href: str, points_auto: float, points_written: float) -> str:
    facts = []
    if lesson.meta.get("time"):
        facts.append(f"<div><dt>Time</dt><dd>{esc(lesson.meta['time'])}</dd></div>")
    if lesson.meta.get("gpu"):
        facts.append(f"<div><dt>GPU</dt><dd>{esc(lesson.meta['gpu'])}</dd></div>")
    pts = f"{points_auto:g} autograded"
    if points_written:
        pts += f" + {points_written:g} written"
    facts.append(f"<div><dt>Points</dt><dd>{pts}</dd></div>")
    facts.append(
        f'<div><dt>Notebook</dt><dd><a class="open-notebook" href="{esc(notebook_href)}" download>'
        f"{esc(Path(notebook_href).name)}</a></dd></div>"
    )
    facts.append(
        f'<div><dt>Colab</dt><dd><a class="open-colab" href="{esc(course_cells.colab_url(lesson.id))}">'
        "Open in Colab</a></dd></div>"
    )
    return (
        '<header class="title-block">\n'
        f'<p class="kicker">Lesson {esc(lesson.number)}</p>\n'
        f"<h1>{esc(lesson.title)}</h1>\n"
        f'<dl class="facts">{"".join(facts)}</dl>\n'
        "</header>"
    )


def media_block(lesson, video: str | None, slides: str | None, generated=None) -> str:
    """The video/slides slot: the lesson's own video (``course.video`` metadata) or the one the
    build made from the lesson's numbers (``generated``, a :class:`video.Made`), with captions
    and a transcript; nothing at all when there is neither and no slides."""
    if not video and not slides and not generated:
        return ""
    parts = ['<section class="lesson-media" aria-label="Video and slides">']
    if generated:
        parts.append(_generated_video(lesson, generated))
    elif video:
        if video.startswith("https://"):
            parts.append(
                f'<p class="media-link"><a href="{esc(video)}" rel="noopener">▶ Watch the lesson '
                f'video</a> <span class="media-host">({esc(_host(video))}; opens outside this '
                "site)</span></p>"
            )
        else:
            parts.append(
                f'<video class="lesson-video" controls preload="none" src="{esc(video)}">'
                f'<a href="{esc(video)}">Download the lesson video</a></video>'
            )
    if slides:
        where = (
            f" ({esc(_host(slides))}; opens outside this site)"
            if slides.startswith("https://")
            else ""
        )
        parts.append(f'<p class="media-link"><a href="{esc(slides)}">Slides</a>{where}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _generated_video(lesson, made) -> str:
    v = made.video
    cues = "".join(f"<li>{esc(s.caption)}</li>" for s in v.scenes)
    tid = f"video-transcript-{esc(lesson.number)}"
    return (
        '<figure class="lesson-video-figure">\n'
        f'<video class="lesson-video" controls preload="none" width="640" height="360" '
        f'poster="{esc(made.png)}" '
        f'aria-label="Lesson video: {esc(v.title)}" aria-describedby="{tid}">'
        f'<source src="{esc(made.mp4)}" type="video/mp4">'
        f'<track kind="captions" src="{_data_url(made.vtt_text)}" srclang="en" label="English" '
        "default>"
        f'<a href="{esc(made.mp4)}">Download the lesson video</a></video>\n'
        f"<figcaption><strong>{esc(v.title)}.</strong> A {len(v.scenes)}-scene animation made "
        f"by <code>course site</code> from the lesson's own numbers: {esc(v.source)} Captions "
        f'are on (CC; also as <a href="{esc(made.vtt)}">WebVTT</a>).\n'
        f'<details id="{tid}"><summary>Transcript</summary><ol>{cues}</ol></details>'
        "</figcaption>\n</figure>"
    )


def _data_url(vtt: str) -> str:
    """The captions inside the page: a browser refuses a caption file from ``file://`` (its own
    origin rule), and the site must work opened from disk."""
    return "data:text/vtt;base64," + base64.b64encode(vtt.encode("utf-8")).decode("ascii")


def _host(url: str) -> str:
    return re.sub(r"^https://([^/]+).*$", r"\1", url)


def lesson_pager(lessons: list, index: int, root: str) -> str:
    prev = lessons[index - 1] if index > 0 else None
    nxt = lessons[index + 1] if index + 1 < len(lessons) else None
    parts = ['<nav class="pager" aria-label="Previous and next lesson">']
    if prev:
        parts.append(
            f'<a class="prev" href="{root}{prev.href}"><span>Previous</span>'
            f"{esc(prev.number)} · {esc(prev.title)}</a>"
        )
    if nxt:
        parts.append(
            f'<a class="next" href="{root}{nxt.href}"><span>Next</span>'
            f"{esc(nxt.number)} · {esc(nxt.title)}</a>"
        )
    parts.append("</nav>")
    return "\n".join(parts)


def readme_intro(course_dir: Path) -> str:
    """The README's opening paragraph (what the course is), as markdown; one home for it."""
    readme = course_dir / "README.md"
    if not readme.is_file():
        return ""
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"^# .*\n", "", text, count=1)
    paras = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.lstrip().startswith(("|", "#", "<!--", "```")):
            break
        paras.append(para)
    return "\n\n".join(paras)


def index_markdown(course_dir: Path, lessons: list) -> str:
    """The home page: what the course is, the lessons (time, GPU), how to start."""
    rows = ["| # | lesson | you build | time | GPU | Colab |", "|---|---|---|---|---|---|"]
    for le in lessons:
        builds = ", ".join(f"`{e.name}`" for e in le.exercises) or "—"
        rows.append(
            f"| {le.number} | [{_md_escape(le.title)}]({le.href}) | {builds} | "
            f"{_md_escape(le.meta.get('time', '—'))} | {_md_escape(le.meta.get('gpu', '—'))} | "
            f"[open]({course_cells.colab_url(le.id)}) |"
        )
    first = lessons[0] if lessons else None
    example = (
        f"notebooks/{first.id}/{first.id}.ipynb" if first else "notebooks/<lesson>/<lesson>.ipynb"
    )
    intro = readme_intro(course_dir) or (
        "An open, autograded course from the two equations of a residual block to training "
        "ResNet-34 on CIFAR-10."
    )
    return f"""{intro}

Each lesson below is an article: the notebook's text and equations, the exercises as you will
meet them (what you write, what the visible tests check), interactive figures computed with the
lessons' own formulas, and the papers behind it. You do the work in the notebook.

## Lessons

{chr(10).join(rows)}

Every lesson runs on a CPU; "GPU" says where one helps. Points and exercises are listed at the top
of each article.

## How to start

### In JupyterLab, on your machine

```bash
git clone {course.__repository__} resnet-course && cd resnet-course
python3 -m venv .venv && source .venv/bin/activate && pip install -e ".[test]"
course lab
```

`course lab` is JupyterLab with the course's settings (it switches off the parts of nbgrader that
need an instructor's exchange, which self-study does not have). In it, open `{example}`.
Fill in each `# YOUR CODE HERE` cell, run the "try it" cell below it, then the test cells: a
failing test says what it expected, what it got, and a hint. Press **Validate** (nbgrader's
button) before you hand in. Self-learners check a whole notebook with
`course check {example}`.

### In Google Colab

Follow **Open in Colab** (at the top of each article, or in the table above): Colab opens the
released notebook. Its first cell, run in Colab, installs the course's helper package pinned to
this release and says so in one line; then work top to bottom as in JupyterLab. For lesson 05
choose *Runtime → Change runtime type → GPU*; mount Google Drive first and the training run keeps
its checkpoints there, so a disconnected session resumes where it stopped.

### On your class's JupyterHub

If your instructor runs nbgrader on JupyterHub, open the **Assignments** tab, **Fetch** the lesson,
work in the copy it creates, press **Validate**, then **Submit**. Feedback comes back in the same
tab after grading; hidden tests are never shown in it.
"""


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")
