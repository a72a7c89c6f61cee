"""The instructor/self-learner tools on a toy course built in code (independent of real lessons)."""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT

from course import cli
from course.tools import authoring as a
from course.tools import notebooks


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


def test_release_is_deterministic_and_normalises_source(toy):
    first = notebooks.release(["00_toy"], root=toy, log=lambda *_: None)[0].read_bytes()
    src = (toy / "solutions" / "00_toy" / "00_toy.ipynb").read_text()
    assert '"id": "double"' in src and '"id": "markdown-1"' in src
    second = notebooks.release(["00"], root=toy, log=lambda *_: None)[0].read_bytes()
    assert first == second
    text = first.decode()
    assert "BEGIN SOLUTION" not in text and "arange" not in text
    assert "raise NotImplementedError()" in text
    assert (toy / "notebooks" / "00_toy" / "figure.svg").is_file(), (
        "other lesson files are released"
    )


def test_check_tables(toy, capsys, monkeypatch):
    monkeypatch.chdir(toy)
    notebooks.release(["00_toy"], root=toy, log=lambda *_: None)
    code_blank = cli.main(["check", str(toy / "notebooks" / "00_toy" / "00_toy.ipynb")])
    out = capsys.readouterr().out
    assert code_blank == 1
    assert "double" in out and "0/2" in out and "FAILED" in out and "not answered yet" in out
    assert "?/1" in out and "manual" in out
    code_sol = cli.main(["check", str(toy / "solutions" / "00_toy" / "00_toy.ipynb")])
    out = capsys.readouterr().out
    assert code_sol == 0 and "2/2" in out and "passed" in out


def test_fill_release_and_truncate(toy):
    src = notebooks.read(toy / "solutions" / "00_toy" / "00_toy.ipynb")
    rel = (
        notebooks.read(toy / "notebooks" / "00_toy" / "00_toy.ipynb")
        if (toy / "notebooks" / "00_toy" / "00_toy.ipynb").exists()
        else None
    )
    if rel is None:
        notebooks.release(["00_toy"], root=toy, log=lambda *_: None)
        rel = notebooks.read(toy / "notebooks" / "00_toy" / "00_toy.ipynb")
    full = notebooks.fill_release(rel, src)
    answer = next(c for c in full.cells if notebooks.grade_id(c) == "double")
    assert "return 2 * x" in answer.source and "BEGIN SOLUTION" not in answer.source
    wrong = notebooks.fill_release(rel, src, exercises={"double": "def double(x):\n    return x"})
    assert next(c for c in wrong.cells if notebooks.grade_id(c) == "double").source.endswith(
        "return x"
    )
    short = notebooks.truncate_after(src, ["double"])
    assert notebooks.grade_id(short.cells[-1]) == "double"


def test_resolve_lessons_errors(toy):
    assert notebooks.resolve_lessons(["00"], toy) == ["00_toy"]
    with pytest.raises(SystemExit, match="unknown lesson"):
        notebooks.resolve_lessons(["99"], toy)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in ("release", "check", "demo", "grade", "data", "score-checkpoints"):
        assert command in out
