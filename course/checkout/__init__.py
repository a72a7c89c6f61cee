"""The course checkout: the layer both wings (:mod:`course.tools`, :mod:`course.grading`) stand on.

A checkout is a folder holding ``solutions/<id>/<id>.ipynb`` (the nbgrader sources),
``notebooks/<id>/<id>.ipynb`` (their releases), ``nbgrader_config.py`` and, in the course's own
repository, ``tests/wrong_answers/<id>.py`` (the catalogues of plausible wrong answers).
:class:`Checkout` is that folder as one object: found once, passed on, its configuration read
once. Beside it: :mod:`.notebooks` (reading and writing notebook files, the solution and
hidden-test markers, a lesson's reference answers) and :mod:`.pandoc` (markdown to HTML, for the
site and the feedback pages). What a cell *is* (test, answer, helper) is the runtime's
:mod:`course.cells`. Nothing here imports the tools, the grading wing or the command.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from course.errors import CourseError

PACKAGE_CHECKOUT = Path(__file__).resolve().parents[2]  # an editable install's own checkout
CONFIG = "nbgrader_config.py"
DEFAULT_CELL_TIMEOUT = 120.0


@dataclass(frozen=True)
class Checkout:
    """A course checkout at ``root``: its lessons, their sources and releases, its config."""

    root: Path

    @classmethod
    def find(cls, start: Path | str | None = None) -> Checkout:
        """The nearest checkout at or above ``start`` (default: the current folder); without
        ``start``, the checkout this package is installed from when the current folder is in
        none. Raises :class:`CourseError` when there is none."""
        here = Path(start or Path.cwd()).resolve()
        for cand in [here, *here.parents]:
            if cls._is_checkout(cand):
                return cls(cand)
        if start is None and cls._is_checkout(PACKAGE_CHECKOUT):
            return cls(PACKAGE_CHECKOUT)
        raise CourseError(
            f"no course checkout found at or above {here} (looked for solutions/ and "
            f"{CONFIG}); run this command inside the course repository"
        )

    @staticmethod
    def _is_checkout(folder: Path) -> bool:
        return (folder / "solutions").is_dir() and (folder / CONFIG).is_file()

    # ------------------------------------------------------------------ lessons
    @property
    def sources(self) -> Path:
        return self.root / "solutions"

    @property
    def releases(self) -> Path:
        return self.root / "notebooks"

    @property
    def lessons(self) -> list[str]:
        """Lesson ids with a source notebook, in order (``01_residual_block``, ...)."""
        if not self.sources.is_dir():
            return []
        return sorted(p.name for p in self.sources.iterdir() if (p / f"{p.name}.ipynb").is_file())

    def source(self, lesson: str) -> Path:
        """The nbgrader source of ``lesson`` (solutions and hidden tests)."""
        return self.sources / lesson / f"{lesson}.ipynb"

    def release(self, lesson: str) -> Path:
        """The student version of ``lesson`` (``course release`` writes it)."""
        return self.releases / lesson / f"{lesson}.ipynb"

    def resolve(self, names: Iterable[str] | None) -> list[str]:
        """Expand user-given lesson names (``01``, ``01_residual_block``, a path to the
        notebook) to lesson ids; every lesson when ``names`` is empty."""
        known = self.lessons
        if not names:
            return known
        out = []
        for name in names:
            name = Path(name).name.removesuffix(".ipynb")
            matches = [
                k for k in known if k == name or k.startswith(name + "_") or k.split("_")[0] == name
            ]
            if len(matches) != 1:
                raise CourseError(f"unknown lesson {name!r}; known lessons: {', '.join(known)}")
            out.append(matches[0])
        return out

    def wrong_answers(self, lesson: str) -> list[dict]:
        """The catalogue of plausible wrong answers of ``lesson``
        (``tests/wrong_answers/<lesson>.py``; empty when the checkout has none). Read from the
        checkout, never shipped in the package (an entry is a solution with one change)."""
        path = self.root / "tests" / "wrong_answers" / f"{lesson}.py"
        if not path.is_file():
            return []
        spec = importlib.util.spec_from_file_location(f"wrong_answers_{lesson}", path)
        if spec is None or spec.loader is None:
            raise CourseError(f"cannot load the catalogue {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return list(getattr(module, "WRONG_ANSWERS", []))

    # ------------------------------------------------------------------ nbgrader_config.py
    @cached_property
    def config(self) -> Any:
        """``nbgrader_config.py`` (a traitlets ``Config``), read once."""
        from traitlets.config.loader import PyFileConfigLoader

        return PyFileConfigLoader(CONFIG, path=str(self.root)).load_config()

    @property
    def cell_timeout(self) -> float:
        """``c.Execute.timeout`` (default 120 s)."""
        value = self.config.Execute.get("timeout", DEFAULT_CELL_TIMEOUT)
        return (
            float(value) if isinstance(value, int | float) and value > 0 else DEFAULT_CELL_TIMEOUT
        )

    @property
    def course_id(self) -> str:
        """``c.CourseDirectory.course_id`` (nbgrader's ``default_course`` when unset)."""
        return str(self.config.CourseDirectory.get("course_id", "") or "default_course")

    # ------------------------------------------------------------------ nbgrader
    def copy(self, dest: Path, lessons: Iterable[str]) -> Checkout:
        """A fresh nbgrader course folder at ``dest`` with the config and the chosen lessons'
        source folders (their figures and other files too)."""
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.root / CONFIG, dest / CONFIG)
        (dest / "solutions").mkdir(exist_ok=True)
        for lesson in lessons:
            target = dest / "solutions" / lesson
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(
                self.sources / lesson,
                target,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pt", "data"),
            )
        return Checkout(dest)

    def generate_assignment(self, lesson: str) -> Path:
        """Run ``nbgrader generate_assignment`` here (in a copy: it writes a gradebook);
        returns the release folder."""
        return self.generate_assignments([lesson])[0]

    def generate_assignments(self, lessons: Iterable[str]) -> list[Path]:
        """:meth:`generate_assignment` for each of ``lessons``; when they are all of this
        checkout's lessons (a copy made for releasing), one nbgrader process releases them all
        (its assignment glob ``*``): nbgrader's start-up and its gradebook check cost seconds
        per process."""
        lessons = list(lessons)
        if len(lessons) > 1 and sorted(lessons) == self.lessons:
            self._nbgrader("generate_assignment", "*", "--force", "--create")
        else:
            for lesson in lessons:
                self._nbgrader("generate_assignment", lesson, "--force", "--create")
        return [self.releases / lesson for lesson in lessons]

    def _nbgrader(self, *args: str) -> None:
        # nbgrader's command line without two of its start-up costs (course.checkout.nbgrader_cli)
        cmd = [sys.executable, "-m", "course.checkout.nbgrader_cli", *args]
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"`nbgrader {' '.join(args)}` failed (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
