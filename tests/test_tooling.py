"""The instructor/self-learner tools on a toy course built in code (independent of real lessons)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from course import cli
from course.cells import grade_id, is_locked, is_manual, is_solution, is_test
from course.checkout import Checkout, notebooks
from course.errors import CourseError
from course.tools import authoring as a
from course.tools import releases


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    nb = a.notebook(
        [
            a.md("# Toy lesson"),
            a.code("import torch\nfrom course.checks import check_close"),
            a.solution(
                "double",
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            ),
            a.tests(
                "double__values",
                2,
                "check_close(double(torch.ones(3)), 2 * torch.ones(3), 'double(ones)')\n"
                "### BEGIN HIDDEN TESTS\n"
                "check_close(double(torch.arange(5.0)), torch.arange(5.0) * 2, 'double(arange)')\n"
                "### END HIDDEN TESTS",
            ),
            a.written("why", 1),
        ]
    )
    nb.cells[0]["outputs"] = []  # harmless
    notebooks.write(nb, root / "solutions" / "00_toy" / "00_toy.ipynb")  # not yet canonical
    (root / "solutions" / "00_toy" / "figure.svg").write_text("<svg/>")
    return root


@pytest.fixture(scope="module")
def released(toy) -> bytes:
    """The toy released once (nbgrader's generate_assignment: seconds) for the tests below."""
    return releases.release(["00_toy"], checkout=Checkout(toy), log=lambda *_: None)[0].read_bytes()


def test_release_is_deterministic_and_normalises_source(toy, released):
    first = released
    src = (toy / "solutions" / "00_toy" / "00_toy.ipynb").read_text()
    assert '"id": "double"' in src and '"id": "markdown-1"' in src
    second = releases.release(["00"], checkout=Checkout(toy), log=lambda *_: None)[0].read_bytes()
    assert first == second
    text = first.decode()
    assert "BEGIN SOLUTION" not in text and "arange" not in text
    assert "raise NotImplementedError()" in text
    assert (toy / "notebooks" / "00_toy" / "figure.svg").is_file(), (
        "other lesson files are released"
    )


def test_check_tables(toy, released, capsys, monkeypatch):
    monkeypatch.chdir(toy)
    code_blank = cli.main(["check", str(toy / "notebooks" / "00_toy" / "00_toy.ipynb")])
    out = capsys.readouterr().out
    assert code_blank == 1
    assert "double" in out and "0/2" in out and "FAILED" in out and "not answered yet" in out
    assert "?/1" in out and "manual" in out
    code_sol = cli.main(["check", str(toy / "solutions" / "00_toy" / "00_toy.ipynb")])
    out = capsys.readouterr().out
    assert code_sol == 0 and "2/2" in out and "passed" in out


def test_fill_release(toy, released):
    src = notebooks.read(toy / "solutions" / "00_toy" / "00_toy.ipynb")
    rel = notebooks.read(toy / "notebooks" / "00_toy" / "00_toy.ipynb")
    full = notebooks.fill_release(rel, src)
    answer = next(c for c in full.cells if grade_id(c) == "double")
    assert "return 2 * x" in answer.source and "BEGIN SOLUTION" not in answer.source
    wrong = notebooks.fill_release(rel, src, exercises={"double": "def double(x):\n    return x"})
    assert next(c for c in wrong.cells if grade_id(c) == "double").source.endswith("return x")


def test_resolve_lessons_errors(toy):
    assert Checkout(toy).resolve(["00"]) == ["00_toy"]
    with pytest.raises(CourseError, match="unknown lesson"):
        Checkout(toy).resolve(["99"])
    assert cli.main(["release", "99", "--course-dir", str(toy)]) == 2  # a message, no traceback


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in ("release", "check", "demo", "grade", "data", "score-checkpoints"):
        assert command in out


def test_cell_predicates_agree_with_nbgrader():
    """Our predicates (not imported from nbgrader.utils, whose import loads all of nbgrader)
    mean what nbgrader's do, on every cell of every lesson."""
    import nbgrader.utils as nu

    for lesson in Checkout(ROOT).lessons:
        for path in (Checkout(ROOT).source(lesson), Checkout(ROOT).release(lesson)):
            for cell in notebooks.read(path).cells:
                assert is_solution(cell) == bool(nu.is_solution(cell))
                assert is_locked(cell) == bool(nu.is_locked(cell))
                grade = bool(nu.is_grade(cell))
                assert is_test(cell) == (
                    grade and not nu.is_solution(cell) and cell.cell_type == "code"
                )
                assert is_manual(cell) == (grade and bool(nu.is_solution(cell)))


# The layers of course/, bottom up, and what each may import (CONTRIBUTING.md, "The wings").
# A package's layer is its first name under course/; any other module is the runtime's.
LAYERS = {
    "runtime": {"runtime"},
    "checkout": {"runtime", "checkout"},
    "tools": {"runtime", "checkout", "tools"},
    "grading": {"runtime", "checkout", "grading"},
    "cli": {"runtime", "checkout", "tools", "grading", "cli"},
}
PACKAGE = Path(__file__).resolve().parents[1] / "course"


def layer_of(module: str) -> str:
    """``course.grading.batch`` -> ``grading``; ``course.cells``, ``course.experiments.x`` ->
    ``runtime``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "runtime"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def course_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of a ``course`` module in the file at ``path``, at any
    depth (inside functions too): ``from course import x`` counts as ``course.x``."""
    import ast

    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], base]).strip(".")
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m.split(".")[0] == "course"]


def layer_violations() -> list[str]:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if module in ("course", "course.__main__"):
            continue  # the package itself and `python -m course` (the command)
        layer = layer_of(module)
        for line, target in sorted(course_imports(path)):
            if target != "course" and layer_of(target) not in LAYERS[layer]:
                wrong.append(f"{module}:{line} ({layer}) imports {target} ({layer_of(target)})")
    return wrong


def test_layers_import_only_downward():
    """Neither wing imports the other (course.grading <-> course.tools), the checkout layer
    neither wing, the runtime nothing above it; only the command (course.cli) stands on all.
    Read from every module's imports, those inside functions included."""
    wrong = layer_violations()
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_layer_test_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The reader above finds a wing's import made inside a function, and a relative one."""
    fake = tmp_path / "course" / "grading"
    fake.mkdir(parents=True)
    (fake / "x.py").write_text(
        "def f():\n    from course.tools import releases\nfrom ..tools import y\n"
    )
    (tmp_path / "course" / "cells.py").write_text("def f():\n    import course.checkout\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "course")
    assert sorted(course_imports(fake / "x.py")) == [
        (2, "course.tools.releases"),
        (3, "course.tools.y"),
    ]
    assert layer_violations() == [
        "course.cells:2 (runtime) imports course.checkout (checkout)",
        "course.grading.x:2 (grading) imports course.tools.releases (tools)",
        "course.grading.x:3 (grading) imports course.tools.y (tools)",
    ]


def runtime_files() -> dict[str, Path]:
    """Every module of the student-facing runtime (the notebooks import these), by name, with
    its file: every module of ``course/`` outside the checkout layer, the wings and the command."""
    named = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        m: named[m]
        for m in sorted(named)
        if m not in ("course", "course.__main__") and layer_of(m) == "runtime"
    }


def runtime_modules() -> list[str]:
    return list(runtime_files())


def test_runtime_list_is_complete():
    names = set(runtime_modules())
    generic = (
        "checks",
        "cells",
        "colab",
        "errors",
        "progress",
        "data",
        "train",
        "runtime",
        "plots",
    )
    experiments = ("comparison", "costs", "degradation", "panels", "results", "variants")
    assert {f"course.{m}" for m in generic} <= names
    assert {f"course.experiments.{m}" for m in experiments} <= names
    assert not any(m.startswith(("course.tools", "course.grading", "course.cli")) for m in names)


def test_runtime_imports_neither_tools_nor_grading():
    """The student-facing runtime the notebooks import stands alone: importing all of its
    modules loads nothing of the checkout layer, course.tools, course.grading or course.cli."""
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        f"for m in {runtime_modules()!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('course.tools', 'course.grading', "
        "'course.cli', 'course.checkout')))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", f"the runtime imports {out.stdout.strip()}"


def test_course_help_is_fast_and_imports_no_torch():
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "course", "--help"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert out.returncode == 0 and "release" in out.stdout and "grade" in out.stdout
    code = "import sys, course.cli; course.cli.build_parser(); print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'nbformat', 'nbgrader', 'numpy')))"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.stdout.strip() == "[]", probe.stdout
    assert seconds < 3, f"course --help took {seconds:.2f} s"


def _slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    import re

    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_docs_resolve():
    """Every relative link in README, CONTRIBUTING and docs/ names a file that exists, and its
    ``#anchor`` a heading of that file (docs/JUPYTERHUB.md once linked to one that did not)."""
    import re

    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)  # code spans show examples, not links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            name, _, anchor = target.partition("#")
            linked = (page.parent / name).resolve() if name else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_nbgrader_cli_reads_the_same_alembic_head_as_nbgrader():
    """course.checkout.nbgrader_cli answers nbgrader's "which schema revision" question in
    process; nbgrader's own answer runs ``alembic heads`` in a subprocess. Both agree."""
    import nbgrader.api

    from course.checkout import nbgrader_cli

    assert nbgrader_cli.alembic_head() == nbgrader.api.get_alembic_version()
