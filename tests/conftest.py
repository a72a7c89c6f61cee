"""Shared fixtures: the lessons, fresh releases, executed notebooks (cached per test session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course import notebooks

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")


def all_lessons() -> list[str]:
    return notebooks.lessons(ROOT)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory) -> Path:
    """Every lesson released anew into a temporary folder (the real nbgrader generate_assignment)."""
    dest = tmp_path_factory.mktemp("release")
    notebooks.release(
        all_lessons(), dest=dest, root=ROOT, log=lambda *_: None, normalize_sources=False
    )
    return dest


_executed: dict[tuple[str, str], object] = {}


def executed(kind: str, lesson: str):
    """Execute the source (``kind='solutions'``) or release (``'notebooks'``) of a lesson once."""
    key = (kind, lesson)
    if key not in _executed:
        path = ROOT / kind / lesson / f"{lesson}.ipynb"
        _executed[key] = notebooks.execute(notebooks.read(path), cwd=path.parent, timeout=300)
    return _executed[key]
