"""``course release``: the student versions of the lessons, byte-stable.

* :func:`normalize` makes a notebook canonical: no outputs, deterministic cell ids (from the
  ``grade_id``, else ``<kind>-<n>``), trimmed metadata, the course cells from their template
  (:mod:`course.tools.course_cells`) and the metadata a kernel writes.
* :func:`release` runs the real ``nbgrader generate_assignment`` in a throwaway copy of the
  checkout (:class:`course.checkout.Checkout`) and writes each release in canonical form.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from course.cells import grade_id, is_course_cell, is_test
from course.checkout import Checkout
from course.checkout import notebooks as nbs

_ID_OK = re.compile(r"[^a-zA-Z0-9_-]")


# The notebook metadata an IPython kernel of the course's reference environment writes
# (ipykernel's language_info; Python as in CI). Released with it, a notebook opened in
# JupyterLab stays unmodified: JupyterLab rewrites this key on kernel start and marks the
# notebook dirty only if the value differs (another Python patch version still does).
PYTHON_VERSION = "3.11.7"
RAISES_EXCEPTION = "raises-exception"  # the cell tag that lets Run All continue after it fails
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CODEMIRROR_MODE = {"name": "ipython", "version": 3}
LANGUAGE_INFO = {
    "codemirror_mode": CODEMIRROR_MODE,
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": PYTHON_VERSION,
}


def normalize(nb):
    """Make a notebook byte-stable: no outputs/counts, deterministic cell ids, trimmed metadata,
    the course cells from their template (:mod:`course.tools.course_cells`), and the notebook
    metadata a kernel writes (so opening it in JupyterLab does not mark it modified).

    Cell ids come from the nbgrader ``grade_id`` when there is one, else ``<kind>-<n>`` counted
    per kind, so inserting a markdown cell does not renumber every code cell.
    """
    from course.tools.course_cells import ensure_course_cells

    nb.nbformat, nb.nbformat_minor = 4, 5
    ensure_course_cells(nb)
    counters: dict[str, int] = {}
    used: set[str] = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid:
            cid = _ID_OK.sub("-", gid)[:64]
        else:
            counters[cell.cell_type] = counters.get(cell.cell_type, 0) + 1
            cid = f"{cell.cell_type}-{counters[cell.cell_type]}"
        while cid in used:
            cid = (cid + "-x")[-64:]
        used.add(cid)
        cell["id"] = cid
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        course_cell = is_course_cell(cell)
        for key in ("collapsed", "scrolled", "execution", "ExecuteTime", "jupyter", "tags"):
            if key == "jupyter" and course_cell:  # its display (course_cells.DISPLAY)
                continue
            if key in cell.metadata and not (key == "tags" and cell.metadata[key]):
                del cell.metadata[key]
        if is_test(cell):
            # JupyterLab's Run All (and nbclient) go on after a failing test: every test shows
            # its result, and the notebook runs to its end (the progress table) as in Validate
            tags = list(cell.metadata.get("tags", []))
            if RAISES_EXCEPTION not in tags:
                cell.metadata["tags"] = [*tags, RAISES_EXCEPTION]
        cell.pop("attachments", None) if not cell.get("attachments") else None
    meta = nb.metadata
    meta["kernelspec"] = dict(KERNELSPEC)
    meta["language_info"] = {
        **LANGUAGE_INFO,
        "codemirror_mode": dict(CODEMIRROR_MODE),
    }
    for key in ("widgets", "toc", "varInspector", "celltoolbar"):
        meta.pop(key, None)
    return nb


def release(
    lesson_ids: Iterable[str] | None = None,
    dest: Path | None = None,
    checkout: Checkout | None = None,
    log=print,
    normalize_sources: bool = True,
) -> list[Path]:
    """Regenerate student notebooks from ``solutions/`` into ``dest`` (default ``notebooks/``)
    of ``checkout`` (default: the one around the current folder).

    Runs the real ``nbgrader generate_assignment`` in a throwaway copy of the checkout (so no
    gradebook or timestamps land in the repository), then writes each released notebook in
    canonical form. Source notebooks are normalised in place first (outputs stripped, stable ids).
    Deterministic: releasing twice gives byte-identical files.
    """
    checkout = checkout or Checkout.find()
    ids = checkout.resolve(lesson_ids)
    dest = Path(dest) if dest else checkout.releases
    written = []
    for lesson in ids if normalize_sources else []:
        src = checkout.source(lesson)
        canonical = nbs.writes(normalize(nbs.read(src)))
        if src.read_text(encoding="utf-8") != canonical:
            src.write_text(canonical, encoding="utf-8")
            log(f"normalised source {src.relative_to(checkout.root)}")
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        copy = checkout.copy(Path(tmp), ids)
        for lesson, out in zip(ids, copy.generate_assignments(ids), strict=True):
            target = dest / lesson
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(out, target)
            nb_path = target / f"{lesson}.ipynb"
            nbs.write(normalize(nbs.read(nb_path)), nb_path)
            written.append(nb_path)
            log(f"released {lesson} -> {nb_path}")
    return written


def release_command(args) -> int:
    """``course release [LESSON ...] [--out DIR] [--course-dir DIR]``."""
    release(args.lessons, dest=args.out, checkout=Checkout.find(args.course_dir))
    return 0
