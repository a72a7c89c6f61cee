"""``course grade``: a hostile class graded correctly, and the pieces it is built from.

The class is a toy course built in code (tests/hostile/fixtures.py): every notebook runs in
seconds. The whole hostile class is graded in ONE batch run (``test_hostile_class``); the other
tests check the parts (sanitising, scanning, scoring, scrubbing, the sandbox, the reports) without
nbgrader, or with one short nbgrader run each.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import csv
import io
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from hostile import fixtures as fx

from course import cli, grade_job, sandbox
from course.grade_report import Result, plot_scores, summary, write_csv
from course.submission import find_notebook, sanitize, scan
from course.tools import notebooks as nbs

LIMITS = ["--timeout", "90", "--cell-timeout", "5", "--memory", "1024"]  # small, for tests


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A course checkout with the toy lesson, released by nbgrader there, so that it also has
    the instructor's gradebook (root/gradebook.db): (root, source, release)."""
    root = fx.make_toy_course(tmp_path_factory.mktemp("toy-course"), ROOT)
    nbs.generate_assignment(root, fx.LESSON)
    source = nbs.read(nbs.source_path(fx.LESSON, root))
    release = nbs.read(nbs.release_path(fx.LESSON, root))
    return root, source, release


def _node(case_nb):
    """A submission as ``course grade`` reads it."""
    return nbformat.reads(json.dumps(case_nb), as_version=4)


def _case(student):
    return next(c for c in fx.CASES if c.student == student)


def _release_dict(release):
    return json.loads(nbformat.writes(release))


# --------------------------------------------------------------------------- sanitize
def test_sanitize_restores_tests_and_keeps_answers(toy):
    _, source, release = toy
    nb, flags = sanitize(_node(_case("ok_full").make(_release_dict(release))), source, release)
    assert flags == []
    by = {nbs.grade_id(c): c for c in nb.cells if nbs.grade_id(c)}
    assert by["double"].source == fx.DOUBLE, "the student's answer is kept"
    assert fx.HIDDEN_MARK in by["double__values"].source, "tests are the source's, hidden included"
    assert [nbs.grade_id(c) for c in nb.cells if nbs.grade_id(c)] == [
        nbs.grade_id(c) for c in source.cells if nbs.grade_id(c)
    ]


@pytest.mark.parametrize(
    "student",
    ["edit_test", "delete_test", "change_points", "duplicate_test", "fake_test_cell"],
)
def test_sanitize_undoes_structural_cheats(toy, student):
    """Edited, deleted or copied test cells, changed points and invented test cells all come
    out as the source has them, with a flag naming what happened."""
    _, source, release = toy
    case = _case(student)
    nb, flags = sanitize(_node(case.make(_release_dict(release))), source, release)
    for expected in case.flags:
        assert any(expected in f for f in flags), (expected, flags)
    tests = [(nbs.grade_id(c), nbs.points(c), c.source) for c in nb.cells if nbs.is_test(c)]
    assert tests == [
        (nbs.grade_id(c), nbs.points(c), c.source) for c in source.cells if nbs.is_test(c)
    ]


def test_sanitize_duplicate_answer_keeps_the_copy_with_the_answer(toy):
    _, source, release = toy
    nb, flags = sanitize(
        _node(_case("duplicate_answer").make(_release_dict(release))), source, release
    )
    graded = [c for c in nb.cells if nbs.grade_id(c) == "square"]
    assert len(graded) == 1 and graded[0].source == fx.SQUARE
    assert any("duplicate grade id square" in f for f in flags)
    plain = [
        c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source
    ]
    assert any(not nbs.grade_id(c) for c in plain), "the blank copy still runs, ungraded"


def test_sanitize_strips_outputs_and_flags_huge_ones(toy):
    _, source, release = toy
    nb, flags = sanitize(_node(_case("huge_outputs").make(_release_dict(release))), source, release)
    assert all(c.get("outputs") == [] for c in nb.cells if c.cell_type == "code")
    assert any("huge outputs" in f for f in flags)


def test_sanitize_answer_cell_type_and_kernel(toy):
    _, source, release = toy
    sub = _release_dict(release)
    i = next(
        k
        for k, c in enumerate(sub["cells"])
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "double"
    )
    sub["cells"][i] = {
        "cell_type": "markdown",
        "id": "double-as-markdown",
        "metadata": sub["cells"][i]["metadata"],
        "source": fx.DOUBLE,
    }
    sub["metadata"]["kernelspec"] = {"name": "evil", "display_name": "evil", "language": "python"}
    nb, flags = sanitize(_node(sub), source, release)
    cell = next(c for c in nb.cells if nbs.grade_id(c) == "double")
    assert cell.cell_type == "code" and cell.source == fx.DOUBLE
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert any("cell type of double" in f for f in flags) and any(
        "kernel 'evil'" in f for f in flags
    )


# --------------------------------------------------------------------------- find, scan
def test_find_notebook(tmp_path):
    folder = tmp_path / "toy"
    assert find_notebook(folder, "toy")[2] == "no submission"
    folder.mkdir()
    assert find_notebook(folder, "toy")[0] is None
    (folder / "copy.ipynb").write_text("{}")
    path, flags, _ = find_notebook(folder, "toy")
    assert path.name == "copy.ipynb" and "renamed" in flags[0]
    (folder / "other.ipynb").write_text("{}")
    path, flags, why = find_notebook(folder, "toy")
    assert path is None and "several" in why
    (folder / "toy.ipynb").symlink_to(folder / "copy.ipynb")
    path, flags, _ = find_notebook(folder, "toy")
    assert path is None and "symbolic link" in flags[0]


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("torch.allclose = lambda *a: True", "replaces a library attribute"),
        ("import builtins", "touches builtins"),
        ("get_ipython().run_cell('x')", "IPython machinery"),
        ("f = sys._getframe(1)", "frame tricks"),
        ("os._exit(0)", "exits or signals"),
        ("exec(s)", "dynamic code"),
        ("def check_close(*a):\n    pass", "redefines a test helper"),
        ("open('../../gradebook.db')", "file system"),
        ("import threading", "threads"),
    ],
)
def test_scan_flags_cheating_tools(code, label):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    assert any(label in f for f in scan(nb)), scan(nb)


def test_scan_leaves_the_courses_own_cells_alone(toy):
    """A cell exactly as released is the course's code, whatever it uses."""
    _, _, release = toy
    rel = nbformat.from_dict(copy.deepcopy(release))
    rel.cells.append(nbformat.v4.new_code_cell("import subprocess"))
    nb = nbformat.from_dict(copy.deepcopy(rel))
    assert scan(nb, rel) == [] and scan(nb) != []


def test_scan_leaves_ordinary_code_alone():
    """Everyday answers (model.eval(), setattr on self, a variable named `checked`) are not
    flagged: a flag costs an instructor's time."""
    code = (
        "model.eval()\nsetattr(self, f'layer{i}', block)\nchecked = True\n"
        "x = torch.zeros(3)  # torch.allclose = nothing, a comment\nout = F.relu(x)"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    assert scan(nb) == []


def test_kernel_guard_accepts_what_libraries_do(shell_guard):
    """A library's wrapper around the original (torch wraps ``torch.manual_seed`` when an
    optimizer first loads torch._dynamo) and a library's event callback (matplotlib's inline
    backend) are not tampering: real lessons do both. The same moves from notebook code are."""
    import torch

    ip, op = shell_guard
    op("observe")  # pytest swaps sys.stdout between setup and call: the guard puts it back
    real_seed, real_allclose = torch.manual_seed, torch.allclose
    try:
        ip.run_cell("import torch\ntorch.manual_seed = torch._disable_dynamo(torch.manual_seed)")
        ip.run_cell(
            "import matplotlib_inline.backend_inline as inline\n"
            "get_ipython().events.register('post_execute', inline.flush_figures)"
        )
        assert op("observe") == [[], None]
        ip.run_cell(
            "import functools\n"
            "torch.allclose = functools.wraps(torch.allclose)(lambda *a, **k: True)\n"
            "get_ipython().events.register('post_execute', lambda: None)"
        )
        problems, _ = op("observe")
        assert "torch.allclose replaced" in problems
        assert "IPython event callbacks for post_execute changed" in problems
    finally:
        torch.manual_seed, torch.allclose = real_seed, real_allclose


# --------------------------------------------------------------------------- scoring, scrub
def _test_cell(outputs):
    cell = nbformat.v4.new_code_cell("t")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


ERR = {"output_type": "error", "ename": "AssertionError", "evalue": "no", "traceback": []}
RESULT = {
    "output_type": "execute_result",
    "data": {"text/plain": "ok"},
    "metadata": {},
    "execution_count": 1,
}


@pytest.mark.parametrize(
    ("outputs", "earned"),
    [
        ([], 2.0),
        ([ERR], 0.0),
        ([RESULT, ERR], 0.0),  # nbgrader alone gives full points: the result comes first
        ([{"output_type": "stream", "name": "stderr", "text": "warn"}], 0.0),
        ([{**RESULT, "data": {"text/plain": "0.5"}}], 0.5),  # partial credit
        ([{**RESULT, "data": {"text/plain": "7"}}], 2.0),  # out of range: full, never more
    ],
)
def test_earned_is_order_proof(outputs, earned):
    assert grade_job._earned(_test_cell(outputs), 2.0) == earned


@pytest.fixture()
def shell_guard():
    """The kernel half of the guard installed in an in-process IPython shell: ``run(code)``
    returns the cell's result, ``op(name, *args)`` a guard operation's payload."""
    from IPython.core.interactiveshell import InteractiveShell

    from course import guard

    ip = InteractiveShell.instance()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        install = f"__cg_install('_g', {guard.MARK!r})\ndel __cg_install\n"
        ip.run_cell(guard.KERNEL_GUARD + install)

        def op(name, *args):
            nonce = f"n{len(out.getvalue())}"
            call = ", ".join(repr(a) for a in (name, nonce, *args))
            ip.run_cell(f"_g({call})")
            cell = nbformat.v4.new_code_cell()
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out.getvalue())]
            return guard._parse(cell, nonce)

        yield ip, op


def test_kernel_guard_completion_keeps_the_value_and_catches_a_swallowed_error(shell_guard):
    ip, op = shell_guard
    op("pre", "T1")
    assert ip.run_cell("x = 21\nx * 2").result == 42, "a test's final value (partial credit) stays"
    assert op("post", "T1") == [[], True]
    op("pre", "T2")
    ip.run_cell(
        "def f():\n    get_ipython().showtraceback = lambda *a, **k: None\n"
        "    raise AssertionError('wrong')\nf()"
    )
    problems, completed = op("post", "T2")
    assert completed is False and "shell.showtraceback overridden on the instance" in problems


def test_kernel_guard_restores_what_a_notebook_replaced(shell_guard):
    import torch

    ip, op = shell_guard
    real = torch.allclose
    try:
        ip.run_cell("import torch, builtins\ntorch.allclose = lambda *a, **k: True\n"
                    "builtins.AssertionError = KeyError")  # fmt: skip
        problems, _ = op("pre", "T3")
        assert "torch.allclose replaced" in problems
        assert "builtins.AssertionError replaced" in problems
        assert torch.allclose is real and AssertionError is builtins.AssertionError
    finally:
        torch.allclose = real


def _stdout(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_hidden_lines_and_scrub(toy):
    """Hidden lines a notebook printed are removed from its outputs before feedback: a long
    line wherever it occurs, a short one (``z = ...``) only as a whole line; the final check of
    the page ignores lines the student wrote in their own cells."""
    _, source, release = toy
    lines = grade_job.hidden_lines(source, release)
    assert nbs.HIDDEN_BEGIN in lines and any(fx.HIDDEN_MARK in line for line in lines)
    shown = {ln.strip() for c in release.cells for ln in c.source.split("\n")}
    assert not shown & set(lines), "a line of the release counted as hidden"
    long = next(ln for ln in lines if fx.HIDDEN_MARK in ln)
    short = "y = f(x)"
    lines = [nbs.HIDDEN_BEGIN, long, short]
    text = f"{nbs.HIDDEN_BEGIN}\n  {long}\nprefix {long} suffix\n{short}\nnot {short}\n"
    nb = nbformat.v4.new_notebook(cells=[_test_cell([_stdout(text)])])
    assert grade_job.scrub(nb, lines) == 4
    got = nb.cells[0].outputs[0].text.split("\n")
    red = grade_job.REDACTED
    assert got[:5] == [red, red, f"prefix {red} suffix", red, f"not {short}"]
    page = f"<pre><span>{long[:5]}</span>{long[5:].replace('>', '&gt;')}</pre>\n<p>{short}</p>"
    assert grade_job.leaked_lines(page, lines) == [long, short]
    assert grade_job.leaked_lines(page, lines, allowed={short}) == [long]


# --------------------------------------------------------------------------- sandbox
def test_sandbox_timeout_kills_the_whole_tree(tmp_path):
    """A command that outlives its wall clock is killed, with the daemon it double-forked."""
    pidfile = tmp_path / "daemon.pid"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n        time.sleep(600)\n"
        "    os._exit(0)\n"
        "time.sleep(600)"
    )
    out = sandbox.run(["python", "-c", code], sandbox.Limits(timeout_s=2))
    assert out.timed_out and out.seconds < 30
    pid = int(pidfile.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), "the double-forked daemon survived"


def test_sandbox_sweeps_leftovers_and_watches_memory():
    code = "import os, time\nif os.fork() == 0:\n    time.sleep(600)\nprint('done')"
    out = sandbox.run(["python", "-c", code], sandbox.Limits(timeout_s=30))
    assert out.returncode == 0 and out.output.strip() == "done" and out.leftovers == 1
    bomb = "x = []\nwhile True:\n    x.append(bytearray(10**7))"
    limits = sandbox.Limits(timeout_s=30, memory_mb=150, startup_mb=0)
    out = sandbox.run(["python", "-c", bomb], limits)
    assert out.signal == "SIGKILL" and out.memory_killed and out.memory_killed[0]["rss_mb"] >= 150


def test_sandbox_reports_crashes_and_calls_functions(tmp_path):
    out = sandbox.run(
        ["python", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
        sandbox.Limits(timeout_s=30),
    )
    assert out.signal == "SIGSEGV" and not out.timed_out
    out = sandbox.call("operator", "add", (2, 3), sandbox.Limits(timeout_s=30), cwd=tmp_path)
    assert out.returncode == 5, "the function's int result is the exit status"


# --------------------------------------------------------------------------- reports
def _results():
    return [
        Result("ann", "toy", 6, 6),
        Result("bob", "toy", 0, 6, status="unreadable", reason="unreadable notebook (x)"),
        Result(
            "cy",
            "toy",
            3,
            6,
            reason="double timed out (10 s per cell)",
            flags=["code exits or signals (double)"],
        ),
        Result("dee", "toy", 0, 6, status="missing", reason="no submission"),
    ]


def test_summary_csv_plot(tmp_path):
    results = _results()
    text = summary(results, ["toy"])
    assert re.search(r"ann\s+6/6\s+6/6", text)
    assert "0/6U!" in text and "3/6!" in text and "0/6-" in text
    assert "bob / toy: unreadable: unreadable notebook" in text
    assert "cy / toy: graded: double timed out" in text and "- code exits or signals" in text
    write_csv(results, tmp_path / "grades.csv")
    rows = list(csv.DictReader(open(tmp_path / "grades.csv", encoding="utf-8")))
    assert [(r["student"], r["score"], r["review"]) for r in rows] == [
        ("ann", "6", "no"),
        ("bob", "0", "yes"),
        ("cy", "3", "yes"),
        ("dee", "0", "no"),
    ]
    plot_scores(results, ["toy"], tmp_path / "scores.png")
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_gradebook_changed_during_grading_is_not_written(tmp_path):
    from course import grade_gradebook

    db = tmp_path / "gradebook.db"
    db.write_bytes(b"before")
    fingerprint = grade_gradebook._digest(db)
    db.write_bytes(b"after: a notebook found it")
    line = grade_gradebook.record(db, "c", fingerprint, _results(), {}, tmp_path, [])
    assert line.startswith("GRADEBOOK NOT UPDATED") and db.read_bytes().startswith(b"after")
    with pytest.raises(grade_gradebook.GradebookError, match="no gradebook"):
        grade_gradebook.check(tmp_path / "none.db", "c", {})


# --------------------------------------------------------------------------- CLI
def test_grade_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["grade", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--jobs" in out and "--timeout" in out and "--memory" in out and "GRADING.md" in out


def test_instructor_errors_exit_2(toy, tmp_path, capsys):
    root, _, _ = toy
    sub = tmp_path / "submitted"
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--course-dir", str(root)]) == 2
    sub.mkdir()
    assert cli.main(["grade", str(sub), "--course-dir", str(root)]) == 2  # no students
    (sub / "ann" / "toy").mkdir(parents=True)
    assert cli.main(["grade", str(sub), "--course-dir", str(root), "--lessons", "nope"]) == 2
    assert cli.main(["grade", str(sub), "--course-dir", str(tmp_path)]) == 2  # not a course
    assert cli.main(["grade", str(sub), "--course-dir", str(root), "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert "no submissions folder" in err and "unknown lesson" in err and "has no solutions" in err


@pytest.mark.slow
def test_bad_limits_are_an_instructor_error(toy, tmp_path, capsys):
    """Limits too small for the course's own solution are the instructor's error (exit 2),
    not a class of zeros."""
    root, _, _ = toy
    sub = tmp_path / "submitted"
    (sub / "ann" / "toy").mkdir(parents=True)
    slow = tmp_path / "slow"
    fx.make_toy_course(slow, ROOT)
    src = nbs.read(nbs.source_path(fx.LESSON, slow))
    src.cells.insert(2, nbformat.v4.new_code_cell("import time\ntime.sleep(5)"))
    nbs.write(nbs.normalize(src), nbs.source_path(fx.LESSON, slow))
    args = [
        "grade",
        str(sub),
        "--course-dir",
        str(slow),
        "--cell-timeout",
        "2",
        "--out",
        str(tmp_path / "out"),
    ]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "reference solution of toy cannot be graded" in err and "timed out" in err


# --------------------------------------------------------------------------- the hostile class
def _processes_in(folder: Path) -> list[int]:
    """Live processes whose working directory is inside ``folder``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if cwd.startswith(str(folder)):
                found.append(int(entry))
    return found


@pytest.mark.slow
def test_hostile_class(toy, tmp_path, capsys, monkeypatch):
    """Every hostile or broken submission gets exactly the points it earned, with the flag or
    reason that explains it; the rest of the class is graded; the exit status is 0; the CSV,
    plot and feedback are written, and no feedback page shows a hidden test."""
    root, _, release = toy
    sub, out, work = tmp_path / "submitted", tmp_path / "out", tmp_path / "work"
    paths = {"SUBMISSIONS": sub, "WORK": work, "OUT": out}
    fx.write_submissions(sub, _release_dict(release), paths)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "instructor-secret-token")
    gradebook = root / "gradebook.db"  # the instructor's, made by the fixture's release
    args = ["grade", str(sub), "--course-dir", str(root), "--jobs", "2", *LIMITS]
    more = ["--out", str(out), "--work-dir", str(work), "--feedback", "--gradebook", str(gradebook)]
    code = cli.main([*args, *more])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    problems = []
    for case in fx.CASES:
        r = rows.get(case.student)
        if r is None:
            problems.append(f"{case.student}: not in grades.csv")
            continue
        got = (float(r["score"]), r["status"])
        if got != (case.points, case.status):
            problems.append(
                f"{case.student}: got {got}, expected {(case.points, case.status)}; {r['reason']} | {r['flags']}"
            )
        for flag in case.flags:
            if flag not in r["flags"]:
                problems.append(f"{case.student}: no flag {flag!r} in {r['flags']!r}")
        if case.reason not in r["reason"]:
            problems.append(f"{case.student}: reason {r['reason']!r} lacks {case.reason!r}")
        if (r["review"] == "yes") != case.expected_review():
            problems.append(f"{case.student}: review={r['review']} ({r['flags']})")
    assert not problems, "\n".join(problems)
    assert float(rows["ok_full"]["max_score"]) == fx.MAX
    # the report
    text = captured.out
    assert (
        "Flagged for manual review" in text
        and "Reference solution under the same limits: toy 6/6" in text
    )
    assert (out / "scores.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "autograded" / "ok_full" / fx.LESSON / f"{fx.LESSON}.ipynb").is_file()
    # feedback: one page per graded notebook, none with a hidden test's source
    pages = sorted((out / "feedback").rglob("*.html"))
    graded = [c.student for c in fx.CASES if c.status == "graded"]
    assert sorted(p.parent.parent.name for p in pages) == sorted(graded)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert fx.HIDDEN_MARK not in html, f"hidden test in {page}"
        assert "BEGIN HIDDEN TESTS" not in html
    leak = (out / "feedback" / "leak_hidden" / fx.LESSON / f"{fx.LESSON}.html").read_text()
    assert grade_job.REDACTED in leak
    # the scores are in the instructor's gradebook, ready for the formgrader
    from nbgrader.api import Gradebook

    assert f"Recorded {len(fx.CASES) - 1} submission(s) in {gradebook}" in text
    with Gradebook(f"sqlite:///{gradebook}", "resnets-hands-on") as gb:
        for case in fx.CASES:
            if case.status == "missing":
                continue
            entry = gb.find_submission(fx.LESSON, case.student)
            assert entry.score == case.points, (case.student, entry.score)
            assert entry.needs_manual_grade == (case.status == "graded"), case.student
    assert (root / "autograded" / "ok_full" / fx.LESSON / f"{fx.LESSON}.ipynb").is_file()
    # the grader's own secrets stay out of the notebooks' environment
    thief = (out / "autograded" / "env_thief" / fx.LESSON / f"{fx.LESSON}.ipynb").read_text()
    assert "NBGRADER_EXECUTION" in thief and "instructor-secret-token" not in thief
    # the attack on a classmate's files changed nothing that was graded; nothing is left running
    assert json.loads((sub / "victim" / fx.LESSON / f"{fx.LESSON}.ipynb").read_text()) == {}
    assert not _processes_in(tmp_path), "a process of the class is still running"
