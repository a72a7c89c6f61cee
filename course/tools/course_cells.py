"""The course cells every lesson gets from ONE template, and the Colab links.

:func:`course.tools.releases.normalize` puts two locked cells into every notebook (source and
release alike), so no lesson source is edited by hand for them:

* **Colab set-up**, before the first code cell: on Google Colab it installs this package pinned to
  the release (``pip install --no-deps`` from tag ``v<version>`` of :data:`course.__repository__`;
  Colab already has torch, numpy, matplotlib, tqdm and ipywidgets) and calls
  :func:`course.colab.setup`; anywhere else it does nothing.
* **Progress**, the last cell: :func:`course.progress.show` prints one row per exercise with its
  points and what its visible tests said when the student last ran them.

Both carry nbgrader metadata (locked, grade ids :data:`course.cells.COURSE_CELL_IDS`): students
cannot edit them, ``nbgrader autograde`` restores them, and tools skip them as lesson content.
"""

from __future__ import annotations

import nbformat

import course
from course import cells

PACKAGE = "resnet-course"  # the distribution name in pyproject.toml


def release_tag(version: str = course.__version__) -> str:
    return f"v{version}"


def _github_path(repository: str = course.__repository__) -> str:
    prefix = "https://github.com/"
    if not repository.startswith(prefix):
        raise ValueError(f"course.__repository__ must be a GitHub URL, got {repository!r}")
    return repository.removeprefix(prefix).strip("/")


def install_spec(repository: str = course.__repository__, version: str = course.__version__) -> str:
    """What Colab's ``pip install`` gets: this course's package at its release tag."""
    return f"{PACKAGE} @ {repository.rstrip('/')}/archive/refs/tags/{release_tag(version)}.zip"


def colab_url(lesson: str, repository: str = course.__repository__) -> str:
    """The "Open in Colab" address of a lesson's released notebook, at the release tag."""
    return (
        f"https://colab.research.google.com/github/{_github_path(repository)}/blob/"
        f"{release_tag()}/notebooks/{lesson}/{lesson}.ipynb"
    )


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_badge(lesson: str) -> str:
    """Markdown for the README/site badge of ``lesson``."""
    return f"[![Open in Colab]({COLAB_BADGE})]({colab_url(lesson)})"


COLAB_TEMPLATE = """\
# @title Google Colab only: install the course package ({package} {version}). Elsewhere it does nothing.
import os, sys
if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
    import importlib, importlib.metadata as _md, subprocess
    try:
        _have = _md.version("{package}")
    except _md.PackageNotFoundError:
        _have = None
    if _have != "{version}":
        print("Installing the course package ({package} {version}) ...")
        _pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                               "{spec}"], capture_output=True, text=True)
        if _pip.returncode != 0:
            raise RuntimeError("could not install the course package:\\n" + _pip.stderr[-3000:])
        importlib.invalidate_caches()
    from course import colab
    colab.setup()"""

PROGRESS_TEMPLATE = """\
# Your progress: every exercise, its points, and what its visible tests said when you last ran
# them (`course check <notebook>` in a terminal runs the saved notebook afresh).
from course import progress

progress.show()"""


def colab_source() -> str:
    return COLAB_TEMPLATE.format(package=PACKAGE, version=course.__version__, spec=install_spec())


def progress_source() -> str:
    return PROGRESS_TEMPLATE


# How the cells show: the set-up cell collapsed to its title (JupyterLab: input hidden; Colab:
# a form), the progress cell as it is. normalize() keeps these keys on course cells only.
DISPLAY = {
    cells.COLAB_SETUP_ID: {"cellView": "form", "jupyter": {"source_hidden": True}},
    cells.PROGRESS_ID: {},
}


def _locked(gid: str) -> dict:
    return {
        "grade": False,
        "grade_id": gid,
        "locked": True,
        "schema_version": 3,
        "solution": False,
    }


def ensure_course_cells(nb):
    """Put the Colab set-up cell before the first code cell and the progress cell last.

    Existing course cells are kept as objects (a release keeps the checksums nbgrader gave
    them) with their source reset to the template; missing ones are created.
    """
    existing = {cells.grade_id(c): c for c in nb.cells if cells.is_course_cell(c)}
    body = [c for c in nb.cells if not cells.is_course_cell(c)]
    made = []
    for gid, src in (
        (cells.COLAB_SETUP_ID, colab_source()),
        (cells.PROGRESS_ID, progress_source()),
    ):
        cell = existing.get(gid) or nbformat.v4.new_code_cell(metadata={"nbgrader": _locked(gid)})
        cell.source = src
        for key in ("cellView", "jupyter"):
            cell.metadata.pop(key, None)
        cell.metadata.update(nbformat.from_dict(DISPLAY[gid]))
        made.append(cell)
    first_code = next((i for i, c in enumerate(body) if c.cell_type == "code"), len(body))
    nb.cells = body[:first_code] + [made[0]] + body[first_code:] + [made[1]]
    return nb
