"""What a student sees when a test fails, in a real kernel with JupyterLab's default traceback
mode; the progress table; the summary at the top of nbgrader's Validate results."""

from __future__ import annotations

import re

import nbformat
import pytest
from conftest import ROOT

from course import cells, progress
from course.checkout import Checkout, notebooks
from course.tools import authoring as a
from course.tools import execution, releases, validation

WRONG = "def double(x):\n    return x + 2"  # right for x = 2, wrong elsewhere


def toy_source():
    """A lesson in miniature, through the same normalisation as a real one (course cells)."""
    nb = a.notebook(
        [
            a.md("# toy"),
            a.code("import torch\nfrom course import checks"),
            a.solution(
                "double",
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            ),
            a.tests("double__two", 1, "checks.check_equal(double(2), 4, 'double(2)')"),
            a.tests(
                "double__three",
                2,
                "checks.check_equal(double(3), 6, 'double(3)', hint='twice x, for every x')",
            ),  # fmt: skip
            a.solution(
                "halve",
                "def halve(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION",
            ),
            a.tests("halve__two", 1, "checks.check_equal(halve(2), 1.0, 'halve(2)')"),
            a.code("halved = halve(4)"),  # stops: `halve` is not answered
            a.code("print(halved)"),  # an analysis cell that needs it: which exercise to finish
            a.code("def broken():\n    return 1 / 0\n\nbroken()"),
            a.tests(  # lesson 05's band cell without a checkpoint: no error, a line on stderr
                "band__reached",
                1,
                "import sys\nprint('not earned yet: no checkpoint (train first)', file=sys.stderr)",
            ),  # fmt: skip
            a.written("why", 1),
        ]
    )
    return releases.normalize(nb)


def student(nb):
    """What a student has: `double` answered wrongly, `halve` still nbgrader's stub."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cells.grade_id(cell) == "double":
            cell.source = WRONG
        elif cells.grade_id(cell) == "halve":
            cell.source = "def halve(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The toy with a wrong `double` and no `halve`, run like JupyterLab runs it: no
    --InteractiveShell.xmode flag, not grading (the progress cell prints its table)."""
    folder = tmp_path_factory.mktemp("progress")
    nb = student(toy_source())
    notebooks.write(nb, folder / "toy.ipynb")
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, timeout=120, allow_errors=True, kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )  # fmt: skip
    env = execution.execution_env()
    env.pop("NBGRADER_EXECUTION")
    client.execute(env=env)
    return nb


def _errors(nb, gid):
    cell = next(c for c in nb.cells if cells.grade_id(c) == gid)
    return [o for o in cell.outputs if o.output_type == "error"]


def test_a_failing_check_shows_its_message_only(executed):
    (err,) = _errors(executed, "double__three")
    assert err.ename == "AssertionError"
    assert len(err.traceback) == 1, "a traceback through the test cell was shown"
    assert "AssertionError\x1b[0m: double(3): expected 6, got 5" in err.traceback[0]
    assert err.traceback[0].endswith("\n  Hint: twice x, for every x")
    assert _errors(executed, "double__two") == []


def test_an_unanswered_exercise_reads_not_answered_yet_in_one_line(executed):
    (err,) = _errors(executed, "halve__two")
    assert err.ename == "NotImplementedError" and len(err.traceback) == 1
    assert err.evalue.startswith("not answered yet: `halve` still raises NotImplementedError")


def test_a_name_an_unanswered_exercise_would_set_says_what_to_finish(executed):
    cell = next(c for c in executed.cells if c.source == "print(halved)")
    (err,) = [o for o in cell.outputs if o.output_type == "error"]
    assert err.ename == "NameError" and len(err.traceback) == 1, err
    assert err.evalue == (
        "`halved` is not defined yet: the cell that sets it stopped because `halve` is not "
        "answered yet. Finish `halve` first, then run the cells from there down."
    )


def test_other_errors_keep_their_traceback(executed):
    """The student's own bug: the full traceback, pointing at their line."""
    cell = next(c for c in executed.cells if "broken()" in c.source)
    (err,) = [o for o in cell.outputs if o.output_type == "error"]
    assert err.ename == "ZeroDivisionError" and len(err.traceback) > 2
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback))
    assert "return 1 / 0" in plain and "broken()" in plain


def test_progress_table_in_the_notebook(executed):
    last = executed.cells[-1]
    assert cells.grade_id(last) == cells.PROGRESS_ID
    (out,) = [o for o in last.outputs if o.output_type == "display_data"]
    text = out.data["text/plain"]
    assert "text/html" in out.data and "course-progress" in out.data["text/html"]
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if line[:1].isalpha():
            key = line.split()[0]
            rows[key] = line
        elif line.startswith(" ") and rows:  # a wrapped message goes on under its column
            rows[key] += " " + line.strip()
    assert "1/3" in rows["double"] and "FAILED" in rows["double"]
    assert "[double__three] AssertionError: double(3): expected 6, got 5" in rows["double"]
    assert "0/1" in rows["halve"] and "not answered yet" in rows["halve"]
    assert "?/1" in rows["why"] and "manual" in rows["why"]
    # stderr without an error: not earned (nbgrader's rule), the course's line as the message
    assert "0/1" in rows["band"] and "FAILED" in rows["band"]
    assert "[band__reached] not earned yet: no checkpoint (train first)" in rows["band"]
    assert "1/5" in rows["total"]


def test_table_rows_not_run_and_partial():
    nb = toy_source()
    ok = progress.Outcome(True, "")
    outcome = {"double__two": ok}
    rows = progress.table_rows(nb.cells, lambda c: outcome.get(cells.grade_id(c)))
    by = {r.exercise: r for r in rows}
    assert by["double"].status == "not run" and by["double"].earned == 1
    assert by["double"].message == "1 of 2 test cells run"
    assert by["halve"].status == "not run" and by["halve"].message == ""
    assert [r.exercise for r in rows] == ["double", "halve", "band", "why"]


def test_error_line():
    assert progress.error_line("NotImplementedError", "") == cells.NOT_ANSWERED
    assert (
        progress.error_line("NotImplementedError", "not answered yet: `f` ...")
        == "not answered yet"
    )
    assert progress.error_line("NotImplementedError", "Module [X] is missing forward") == (
        "NotImplementedError: Module [X] is missing forward"
    )
    assert progress.error_line("AssertionError", "first\n  Hint: second") == "AssertionError: first"


def test_one_rule_for_earned():
    """nbgrader's rule: an error or anything on stderr earns nothing; a course line that says
    what to do is the message as it stands."""
    assert progress.outcome(None, None) == progress.Outcome(True, "")
    assert progress.outcome(ValueError("bad\nmore"), "x") == progress.Outcome(
        False, "ValueError: bad"
    )
    warned = progress.outcome(None, "\n/x.py:3: UserWarning: careful\n  warn()\n")
    assert not warned.ok and warned.message.endswith(": /x.py:3: UserWarning: careful")
    assert "grader counts as a failure" in warned.message
    line = "not earned yet: 0 of this band's points, no checkpoint yet (train on a GPU)"
    assert progress.outcome(None, line + "\n") == progress.Outcome(False, line)


def test_outside_ipython_nothing_is_installed():
    assert progress.install() is False  # pytest is not an IPython kernel


@pytest.mark.slow
def test_validate_dialog_starts_with_a_summary(tmp_path):
    """nbgrader's Validator (what the Validate button calls) with the course's config."""
    course = Checkout(ROOT).copy(tmp_path / "course", [])
    course_dir = course.root
    notebooks.write(toy_source(), course.source("toy"))
    course.generate_assignment("toy")  # a real release, then the student's work
    path = course.release("toy")
    notebooks.write(student(notebooks.read(path)), path)

    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    app = NbGrader()
    app.config_file_paths.append(str(course_dir))
    app.load_config_file()
    result = Validator(config=app.config).validate(str(path))
    failed = result["failed"]
    first = failed[0]["raw_error"]
    assert failed[0]["source"] == validation.SUMMARY_SOURCE  # one line above the summary
    assert first.startswith("SUMMARY: 1 of 4 test cells pass (1 of 5 points"), first
    assert "double" in first and "not answered yet" in first
    assert "The failing cells follow" in first
    error = re.sub(r"\x1b\[[0-9;]*m", "", failed[1]["raw_error"])
    assert error.strip().startswith("AssertionError: double(3): expected 6, got 5"), error
    assert all("SUMMARY" not in f["raw_error"] for f in failed[1:])
    assert not validation._validating_nb, "state left behind"
    assert "validate_summary" not in path.read_text(), "Validate wrote the notebook back"


def test_show_finds_the_notebook_on_colab(monkeypatch, tmp_path, capsys):
    """On Colab the notebook is not a file: it comes from Colab's frontend (get_ipynb)."""
    import json
    import sys
    import types

    nb = json.loads(nbformat.writes(toy_source()))
    message = types.ModuleType("google.colab._message")
    message.blocking_request = lambda kind, timeout_sec: (
        {"ipynb": nb} if kind == "get_ipynb" else None
    )
    colab = types.ModuleType("google.colab")
    colab._message = message
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.chdir(tmp_path)  # /content: no notebook file
    progress.show()
    out = capsys.readouterr().out
    assert "double" in out and "halve" in out and "not run" in out and "0/5" in out


def test_show_is_silent_while_autograding(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    progress.show()
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- one rule, four readers
_TOTAL = re.compile(r"total \(auto-graded\)\s+([\d.]+)/([\d.]+)")


@pytest.mark.slow
@pytest.mark.xdist_group("05_resnet34_cifar10")  # shares the worker's graded lesson-05 job
def test_lesson05_without_a_checkpoint_one_total_everywhere(tmp_path_factory):
    """Lesson 05 solved, no checkpoint: the progress table (a kernel run as in JupyterLab),
    Validate's summary, ``course check`` and the grader (``course grade``'s trusted grader)
    give the same total, and the band cells read "not earned yet" with what to do.

    The kernel run is the session's Run All of lesson 05 (conftest.run_all: a student's kernel,
    not grading, quick mode at the test scale, no checkpoint), the one the JupyterLab test
    shows: the table reads which visible tests passed, which the training's length does not
    change (no checkpoint is written in quick mode)."""
    from conftest import checked_without_artifacts, run_all
    from lesson_jobs import lesson_job

    from course.tools import selfcheck

    lesson = "05_resnet34_cifar10"

    # 1. the student's kernel, not grading (quick mode): the last cell's table
    ran = run_all(lesson, tmp_path_factory)
    assert "QUICK MODE" in "".join(
        o.get("text", "") for c in ran.cells for o in c.get("outputs", [])
    )
    bands = [c for c in ran.cells if (cells.grade_id(c) or "").startswith("checkpoint__acc")]
    for band in bands:
        (err,) = [o for o in band.outputs if o.get("name") == "stderr"]
        assert err.text.startswith("not earned yet: 0 of this band's points, no checkpoint yet")
        assert "train on a GPU" in err.text
    (table,) = [o for o in ran.cells[-1].outputs if o.output_type == "display_data"]
    text = table.data["text/plain"]
    row = next(line for line in text.splitlines() if line.startswith("checkpoint "))
    assert "FAILED" in row and "not earned yet" in row and "passed" not in row, row
    in_kernel = _TOTAL.search(text).groups()

    # 2. course check and 3. Validate's summary: one grading-mode run (the session's, shared
    # with test_scoring), read by each command's code
    checked, folder = checked_without_artifacts(lesson, tmp_path_factory)
    assert not (folder / "checkpoints").exists()
    by_check = _TOTAL.search(selfcheck.format_table(selfcheck.summarize(checked))).groups()
    summary = validation.summary_text(checked)
    by_validate = re.search(r"\(([\d.]+) of ([\d.]+) points", summary).groups()

    # 4. the trusted grader (course grade) on the same answers, no checkpoint handed in
    job = lesson_job(lesson)
    by_grader = (
        f"{sum(t.earned for t in job.outcomes.values()):g}",
        f"{sum(t.points for t in job.outcomes.values()):g}",
    )
    assert in_kernel == by_check == by_validate == by_grader, (
        in_kernel, by_check, by_validate, by_grader,
    )  # fmt: skip
    assert float(in_kernel[0]) < float(in_kernel[1])  # the bands' 9 points are not earned


@pytest.mark.slow
@pytest.mark.parametrize(
    "lesson",
    [pytest.param(le, marks=pytest.mark.xdist_group(le)) for le in Checkout(ROOT).lessons],
)
def test_validate_opens_on_the_summary_for_every_blank_release(lesson, tmp_path):
    """Validate on each lesson's blank release (nbgrader's Validator with the course's config):
    the first entry of the dialog is the summary, whatever the first failing test is."""
    import shutil

    from conftest import SCRATCH_IGNORE
    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    folder = tmp_path / lesson
    shutil.copytree(ROOT / "notebooks" / lesson, folder, ignore=SCRATCH_IGNORE)
    app = NbGrader()
    app.config_file_paths.append(str(ROOT))
    app.load_config_file()
    failed = Validator(config=app.config).validate(str(folder / f"{lesson}.ipynb"))["failed"]
    assert failed[0]["source"] == validation.SUMMARY_SOURCE, failed[0]["source"][:200]
    n_tests = sum(cells.is_test(c) for c in notebooks.read(folder / f"{lesson}.ipynb").cells)
    assert failed[0]["raw_error"].startswith(f"SUMMARY: 0 of {n_tests} test cells pass"), failed[0][
        "raw_error"
    ][:300]
    assert "not answered yet" in failed[0]["raw_error"]
    assert len(failed) > 1 and all("SUMMARY" not in f["raw_error"] for f in failed[1:])


def test_an_unanswered_exercise_under_check_raises_reads_not_answered():
    """nbgrader's stub inside ``checks.check_raises`` is "not answered yet" (the kernel shows the
    stub's one line), not "expected ValueError, got NotImplementedError"."""
    from course import checks

    def stub():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError) as err:
        checks.check_raises(stub, ValueError, "Shortcut(4, 8, option='x')")
    assert err.value.args == ()

    def unfinished():
        raise NotImplementedError("option 'C' is not written yet")

    with pytest.raises(AssertionError, match="expected ValueError, got NotImplementedError"):
        checks.check_raises(unfinished, ValueError, "Shortcut")
