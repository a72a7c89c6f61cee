"""Every public function and class of the student-facing runtime names, in its docstring, the
lessons whose code uses it (as d2l links each saved helper to its section), and the names are
right: a ``Lessons:`` paragraph lists exactly the lessons whose code cells call it, directly or
through an alias (``scoring.data_root`` is ``data.data_root``); text in parentheses is free
(indirect uses); ``Lessons: none ...`` is for what no lesson calls."""

from __future__ import annotations

import importlib
import inspect
import json
import re

import pytest
from conftest import ROOT

# the name a lesson's code calls a module by -> the module
RUNTIME = {
    **{m: f"course.{m}" for m in ("checks", "data", "train", "plots", "scoring", "runtime")},
    **{m: f"course.experiments.{m}" for m in ("costs", "results", "degradation", "variants", "comparison")},
}  # fmt: skip
LESSON_ID = re.compile(r"\b\d\d_[a-z0-9_]*[a-z0-9]\b")


def public_objects():
    """``(module, name, obj)`` for each public function and class defined in a runtime module."""
    for mod in RUNTIME:
        module = importlib.import_module(RUNTIME[mod])
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) == module.__name__:
                yield mod, name, obj


def code_cells(lesson: str):
    nb = json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def lesson_uses() -> dict[int, set[str]]:
    """id(object) -> the lessons whose code cells name it as ``module.name`` or import it."""
    lessons = sorted(
        p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file()
    )
    uses: dict[int, set[str]] = {}
    for lesson in lessons:
        source = "\n".join(code_cells(lesson))
        refs = [(m, n) for m in RUNTIME for n in re.findall(rf"\b{m}\.(\w+)", source)]
        imports = re.findall(r"from course\.(?:experiments\.)?(\w+) import \(([^)]*)\)", source)
        imports += re.findall(
            r"from course\.(?:experiments\.)?(\w+) import ([\w ,]+)$", source, flags=re.M
        )
        for m, names in imports:
            refs += [(m, n.split(" as ")[0].strip()) for n in names.split(",") if n.strip()]
        for mod, name in refs:
            if mod not in RUNTIME:
                continue
            obj = getattr(importlib.import_module(RUNTIME[mod]), name, None)
            if obj is not None and (inspect.isfunction(obj) or inspect.isclass(obj)):
                uses.setdefault(id(obj), set()).add(lesson)
    return uses


def lessons_paragraph(doc: str) -> str | None:
    """The ``Lessons:`` paragraph of a docstring (to the next blank line), or None."""
    match = re.search(r"^Lessons:(.*?)(?:\n\s*\n|\Z)", doc, flags=re.S | re.M)
    return " ".join(match.group(1).split()) if match else None


def direct_lessons(paragraph: str) -> set[str]:
    """Lesson ids outside parentheses."""
    depth, outside = 0, []
    for ch in paragraph:
        depth += ch == "("
        if depth == 0:
            outside.append(ch)
        depth -= ch == ")" and depth > 0
    return set(LESSON_ID.findall("".join(outside)))


def test_every_public_runtime_function_names_its_lessons():
    uses = lesson_uses()
    assert uses, "no lesson uses the runtime? the notebook scan is broken"
    problems = []
    for mod, name, obj in public_objects():
        where = f"course.{mod}.{name}"
        paragraph = lessons_paragraph(inspect.getdoc(obj) or "")
        used = uses.get(id(obj), set())
        if paragraph is None:
            problems.append(f"{where}: no 'Lessons:' paragraph (used by {sorted(used) or 'none'})")
            continue
        named = direct_lessons(paragraph)
        if paragraph.startswith("none"):
            if used:
                problems.append(f"{where}: says 'none', but {sorted(used)} call it")
        elif named != used:
            problems.append(
                f"{where}: docstring names {sorted(named)}, the notebooks' code uses it in "
                f"{sorted(used)}"
            )
    assert not problems, "update these docstrings' Lessons: paragraphs:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("04_inception, 05_resnet34_cifar10 (and 02 through x).", {"04_inception", "05_resnet34_cifar10"}),
        ("none directly (fit: 02_plain_vs_residual).", set()),
        ("01_residual_block (a (nested) remark 03_x) and 02_plain.", {"01_residual_block", "02_plain"}),
    ],
)  # fmt: skip
def test_direct_lessons_parsing(paragraph, expected):
    assert direct_lessons(paragraph) == expected
