"""Running pandoc (the course site's articles, the students' feedback pages): find the binary,
run it, turn its failures into clear errors.

pandoc comes from the ``pypandoc-binary`` wheel (a dependency of the course), so ``pip install``
is all a user needs; a ``pandoc`` on ``$PATH`` is used only when that wheel is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from course.errors import CourseError

MIN_VERSION = (3, 1)  # citeproc built in, MathML, Lua filters, ``{=html}`` raw blocks


class PandocError(CourseError):
    """pandoc is missing or failed (the message says what to install or what went wrong)."""


_found: dict[str, str] = {}


def pandoc_path() -> str:
    """The pandoc executable; :class:`PandocError` with what to install when there is none."""
    if "path" in _found:
        return _found["path"]
    candidates: list[str] = []
    try:
        import pypandoc

        try:
            candidates.append(pypandoc.get_pandoc_path())
        except OSError:
            pass
    except ImportError:
        pass
    on_path = shutil.which("pandoc")
    if on_path:
        candidates.append(on_path)
    for path in candidates:
        if path and Path(path).is_file():
            version = _version(path)
            if version >= MIN_VERSION:
                _found["path"] = path
                return path
    raise PandocError(
        "pandoc not found: `course site` and the feedback pages need pandoc >= "
        f"{'.'.join(map(str, MIN_VERSION))}. Install the course's dependencies "
        "(`pip install -e .` installs pypandoc-binary, which ships pandoc) or install pandoc "
        "itself (https://pandoc.org/installing.html) so that `pandoc` is on your PATH."
    )


def _version(path: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return (0,)
    first = out.stdout.split("\n", 1)[0].split()[-1]
    return tuple(int(p) for p in first.split(".") if p.isdigit())


def run(args: list[str], text: str, what: str) -> tuple[str, str]:
    """Run pandoc with ``args`` on ``text``; return (stdout, stderr). ``what`` names the input."""
    proc = subprocess.run(
        [pandoc_path(), *args], input=text, capture_output=True, text=True, encoding="utf-8"
    )
    if proc.returncode != 0:
        raise PandocError(
            f"pandoc failed on {what} (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return proc.stdout, proc.stderr


def bibliography_entries(bib: Path) -> list[dict]:
    """The entries of a BibTeX/BibLaTeX file as CSL JSON (as citeproc will see them)."""
    if not bib.is_file():
        raise PandocError(f"bibliography {bib} not found: the site cites from it (docs/SITE.md)")
    out, _ = run([str(bib), "-f", "biblatex", "-t", "csljson"], "", f"the bibliography {bib}")
    return json.loads(out)
