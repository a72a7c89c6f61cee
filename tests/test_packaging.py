"""Install metadata: environment.yml mirrors pyproject.toml; CI runs the README's test command."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT

CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", req)
    return m.group(1).lower(), m.group(2).replace(" ", "")


def _conda_deps() -> dict[str, str]:
    """Every package environment.yml installs: conda's, and those of its ``pip:`` section (for
    packages conda-forge does not carry), name -> version spec."""
    deps, in_deps = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.-]+)(.*)$", line) or re.match(
            r"^      - ([A-Za-z][A-Za-z0-9_.-]*)(.*)$", line
        )
        if in_deps and m:
            deps[m.group(1).lower()] = m.group(2).replace(" ", "")
    return deps


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert extras["dev"] == ["resnet-course[test]"], "dev is the test extra (one list)"
    wanted = [*project["dependencies"], *extras["test"]]
    conda = _conda_deps()
    assert conda.get("python") == "=3.11", "environment.yml pins python 3.11"
    for req in wanted:
        name, spec = _split(req)
        cname = CONDA_NAMES.get(name, name)
        assert cname in conda, f"{name} is in pyproject.toml but not in environment.yml"
        assert conda[cname] == spec, (
            f"{name}: pyproject says {spec!r}, environment.yml {conda[cname]!r}"
        )
    extra = (
        set(conda)
        - {CONDA_NAMES.get(_split(r)[0], _split(r)[0]) for r in wanted}
        - {"python", "pip"}
    )
    assert not extra, f"environment.yml has packages pyproject.toml lacks: {extra}"


def _readme_command(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {heading} -->\s*```(?:bash|sh)?\n(.+?)\n```", text, re.S)
    assert m, f"README has no block marked <!-- {heading} -->"
    return m.group(1).strip()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_command("test-command") in ci
    assert "torch==2.13.0" in ci, "CI installs the pinned CPU wheel before the project"


def test_readme_names_install_and_main_job():
    assert "pip install" in _readme_command("install-command")
    assert _readme_command("main-command") == "course demo"


def test_the_installed_package_carries_no_course_content():
    """What students install (pip, Colab's set-up cell) is ``course/`` and its package data:
    never a solution, a hidden test or a wrong-answer catalogue (an entry is a solution with one
    change). Those stay in the checkout: solutions/, tests/wrong_answers/."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["course*"]
    markers = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "WRONG_ANSWERS")
    offending = []
    for path in sorted((ROOT / "course").rglob("*")):
        if path.is_file() and path.suffix in {".py", ".ipynb", ".json", ".txt", ".md"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            # the tools name the markers they look for; a cell that *uses* them starts a line
            lines = [line.strip() for line in text.splitlines()]
            offending += [f"{path.relative_to(ROOT)}: {m}" for m in markers
                          if any(line.startswith(m) for line in lines)]  # fmt: skip
        assert path.suffix != ".ipynb", f"a notebook inside the package: {path}"
    assert not offending, offending
