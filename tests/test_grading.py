"""``course grade``: the grading wing, its pieces, and a hostile class graded in one run.

The class is a toy course built in code (tests/hostile/fixtures.py): every notebook runs in
seconds. ``test_hostile_class`` grades all of it in ONE batch and checks, for every attack, that it
earns no more than the same notebook without it, hurts no classmate and leaves the batch complete.
The other tests check the parts: the wire, the proxies, the sandbox's isolation, staging caps,
reports, feedback, resuming after the grader is killed, and lesson 05's trusted band scoring.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from conftest import ROOT
from hostile import fixtures as fx

from course import cells, cli
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.grading import feedback, proxy, report, wire
from course.grading.report import Result, plot_scores, summary, write_csv
from course.grading.staging import find_notebook, sanitize, scan

LIMITS = ["--timeout", "120", "--cell-timeout", "5", "--memory", "1024"]  # small, for tests
needs_bwrap = pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v bwrap"], capture_output=True).returncode != 0,
    reason="bubblewrap is not installed (.ci/run installs it)",
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A course checkout with the toy lesson, released by nbgrader there, so that it also has
    the instructor's gradebook (root/gradebook.db): (root, source, release)."""
    root = fx.make_toy_course(tmp_path_factory.mktemp("toy-course"), ROOT)
    Checkout(root).generate_assignment(fx.LESSON)
    source = nbs.read(Checkout(root).source(fx.LESSON))
    release = nbs.read(Checkout(root).release(fx.LESSON))
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
    by = {cells.grade_id(c): c for c in nb.cells if cells.grade_id(c)}
    assert by["double"].source == fx.DOUBLE, "the student's answer is kept"
    assert fx.HIDDEN_MARK in by["double__values"].source, "tests are the source's, hidden included"
    assert [cells.grade_id(c) for c in nb.cells if cells.grade_id(c)] == [
        cells.grade_id(c) for c in source.cells if cells.grade_id(c)
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
    tests = [(cells.grade_id(c), cells.points(c), c.source) for c in nb.cells if cells.is_test(c)]
    assert tests == [
        (cells.grade_id(c), cells.points(c), c.source) for c in source.cells if cells.is_test(c)
    ]


def test_sanitize_duplicate_answer_keeps_the_copy_with_the_answer(toy):
    _, source, release = toy
    nb, flags = sanitize(
        _node(_case("duplicate_answer").make(_release_dict(release))), source, release
    )
    graded = [c for c in nb.cells if cells.grade_id(c) == "square"]
    assert len(graded) == 1 and graded[0].source == fx.SQUARE
    assert any("duplicate grade id square" in f for f in flags)
    plain = [
        c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source
    ]
    assert any(not cells.grade_id(c) for c in plain), "the blank copy still runs, ungraded"


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
    cell = next(c for c in nb.cells if cells.grade_id(c) == "double")
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


# --------------------------------------------------------------------------- the wire
def test_wire_round_trip_and_caps():
    enc = wire.Encoder()
    value = {
        "t": torch.arange(6.0).reshape(2, 3),
        "b": torch.tensor([1.5], dtype=torch.bfloat16),
        "m": torch.empty(2, 5, device="meta", dtype=torch.float64),
        "x": (1, 2.5, float("nan"), "s", None, True, torch.float16, torch.Size([3])),
        "n": [slice(1, None, 2), Ellipsis, torch.device("cpu")],
    }
    data = enc.encode(value)
    back = wire.decode(json.loads(json.dumps(data)), enc.buffers)
    assert torch.equal(back["t"], value["t"]) and back["b"].dtype == torch.bfloat16
    assert back["m"].device.type == "meta" and back["m"].shape == (2, 5)
    assert back["x"][0] == 1 and back["x"][3] == "s" and back["x"][6] is torch.float16
    assert back["n"][0] == slice(1, None, 2) and back["n"][1] is Ellipsis
    with pytest.raises(wire.WireError, match="elements"):
        wire.decode({"$": "tensor", "dtype": "float32", "shape": [10**9], "buf": 0}, [b""])
    with pytest.raises(wire.WireError, match="bytes for"):
        wire.decode({"$": "tensor", "dtype": "float32", "shape": [4], "buf": 0}, [b"1234"])
    with pytest.raises(wire.WireError, match="unexpected module"):
        wire.decode({"$": "module", "buf": 0}, [b"pickle"])
    with pytest.raises(wire.WireError, match="unknown tag"):
        wire.decode({"$": "pickle", "v": "x"}, [])
    deep = current = []
    for _ in range(200):
        current.append([])
        current = current[0]
    with pytest.raises(wire.WireError, match="deeply"):
        wire.decode(deep, [])
    with pytest.raises(TypeError):
        wire.Encoder().encode(lambda: 1)


def test_wire_kinds_and_requests_are_tables():
    """Each value kind and each request kind is defined once: every type the encoder writes has
    one tag the decoder reads back, and every request the grader can send has one answer in the
    sandbox's server; a request of no kind, or one missing a field, is refused as data."""
    from collections import OrderedDict

    import numpy as np

    from course.grading import student

    tags = [kind.tag for kind in wire.KINDS if kind.tag]
    assert len(tags) == len(set(tags)) and set(wire.DECODE) == set(tags)
    for value in [np.arange(3.0), OrderedDict(a=1), float("-inf"), (1, [2, {3: "x"}])]:
        data, buffers = wire.encode(value)
        back = wire.decode(json.loads(json.dumps(data)), [bytearray(b) for b in buffers])
        assert type(back) is (dict if type(value) is OrderedDict else type(value))
    assert set(student.HANDLERS) == set(wire.REQUESTS.values())
    for kind in wire.REQUESTS.values():
        fields = {f.name: 1 for f in dataclasses.fields(kind)}
        req = kind(**fields)
        assert wire.parse_request(json.loads(json.dumps(req.header()))) == req
    with pytest.raises(wire.WireError, match="unknown request"):
        wire.parse_request({"op": "pickle"})
    with pytest.raises(wire.WireError, match="malformed 'getattr'"):
        wire.parse_request({"op": "getattr", "ref": 1})
    with pytest.raises(wire.WireError, match="untagged"):
        wire.decode({"$": ["tensor"]}, [])


def _fake_sandbox(seconds: float):
    """A session whose "sandbox" is the test: (session, fd the sandbox reads, fd it writes)."""
    to_sandbox, from_sandbox = os.pipe(), os.pipe()
    end = time.monotonic() + seconds
    session = proxy.Session(to_sandbox[1], from_sandbox[0], lambda: end)
    return session, to_sandbox[0], from_sandbox[1]


def _frame(header: bytes, *buffers: bytes) -> bytes:
    return len(header).to_bytes(4, "big") + header + b"".join(buffers)


def _send(fd: int, data: bytes) -> None:
    """Write ``data`` to a pipe from a thread (it may not fit the pipe's buffer)."""
    import threading

    def write():
        try:
            os.write(fd, data)
        except OSError:
            pass

    threading.Thread(target=write, daemon=True).start()


def test_wire_reads_and_writes_honour_the_cell_timeout():
    """A frame sent in part and never finished, or a sandbox that stops reading what the
    grader sends, times out at the cell's deadline instead of blocking the grader."""
    session, _, student_out = _fake_sandbox(1.0)
    os.write(student_out, _frame(b'{"ok": true, "value": 1')[:-5])  # a partial frame
    start = time.monotonic()
    with pytest.raises(proxy.SandboxTimeout):
        session.request(wire.Exec("1"))
    assert time.monotonic() - start < 3
    session, _, _ = _fake_sandbox(1.0)  # nobody reads: the pipe fills up
    start = time.monotonic()
    with pytest.raises(proxy.SandboxTimeout):
        session.request(wire.Exec("1"), [bytes(8 * 2**20)])
    assert time.monotonic() - start < 3


def test_wire_refuses_oversized_frames_from_the_header_before_allocating():
    """Sizes are checked from the header before anything of that size is allocated; a value
    over a cap read whole fails the test (the session goes on); a malformed frame ends the
    session as the student's failure, marked for review."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for header, why in [
        (b'{"ok": true, "buffers": [1099511627776]}', "frame of 1,099,511,627,"),
        (b"[" * 100 + b"]" * 100, "header is not an object"),
        (b'{"ok": true, "v": "' + b"," * 2_000_000 + b'"}', "JSON values"),
        (b"\xff{", "unreadable header"),
    ]:
        session, _, student_out = _fake_sandbox(5.0)
        _send(student_out, _frame(header))
        with pytest.raises(proxy.SandboxError, match=wire.PROTOCOL) as exc:
            session.request(wire.Names(["x"]))
        assert why in str(exc.value) and not session.alive
    session, _, student_out = _fake_sandbox(5.0)
    os.write(student_out, (2**31).to_bytes(4, "big"))  # a 2 GB header
    with pytest.raises(proxy.SandboxError, match="header of 2,147,483,648 bytes"):
        session.request(wire.Names(["x"]))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200 * 1024  # KB

    # a 10-million-character string and a too-large tensor: the test fails, the session lives
    big = {"$": "tensor", "dtype": "float32", "shape": [2**27], "buf": 0}
    for value, why in [("x" * 10_000_000, "10,000,000 characters"), (big, "134,217,728 elements")]:
        session, _, student_out = _fake_sandbox(5.0)
        _send(
            student_out, _frame(json.dumps({"ok": True, "value": value, "buffers": [0]}).encode())
        )
        reply, buffers = session.request(wire.Names(["x"]))
        with pytest.raises(wire.TooLarge, match=why) as exc:
            session.decode(reply["value"], buffers)
        assert session.alive
        from course.grading.job import _raised_by_grader, failure_message

        message = failure_message(exc.value, 60)
        assert (
            message.startswith("what your code returned is too large to grade") and why in message
        )
        assert not _raised_by_grader(exc.value)
    # the sandbox itself refuses to send such values: an error reply, not a broken wire
    with pytest.raises(wire.TooLarge, match="10,000,000 characters"):
        wire.Encoder().encode("x" * 10_000_000)
    with pytest.raises(wire.TooLarge, match="MB of tensors"):
        wire.check_frame({}, [bytes(wire.CAPS.frame_bytes + 1)])
    assert isinstance(proxy.student_error({"type": "TooLarge", "message": "m"}), wire.TooLarge)


def test_wire_reads_a_tensor_into_place():
    """A tensor crosses the wire with one copy of its bytes in the reader (read straight into
    the buffer the tensor then uses), so the caps bound the grader's memory."""
    code = (
        "import os, resource, threading, torch\n"
        "from course.grading import wire\n"
        "r, w = os.pipe()\n"
        "t = torch.ones(2**25)\n"
        "value, buffers = wire.encode(t)\n"
        "th = threading.Thread(target=wire.write_frame, args=(w, {'value': value}, buffers))\n"
        "th.start()\n"
        "del t, value\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "header, bufs = wire.read_frame(r)\n"
        "th.join()\n"
        "del buffers\n"
        "got = wire.decode(header['value'], bufs)\n"
        "assert got.shape == (2**25,) and float(got[-1]) == 1.0\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) < 128 * 1.25, out.stdout  # a 128 MB tensor: one copy, not four


def test_checkpoint_zip_bomb_is_refused_from_its_headers(tmp_path):
    """A checkpoint whose records are compressed (a zip bomb: 66 KB that torch.load would
    expand to 64 MB) is refused from the zip directory, before anything is decompressed."""
    from hostile.system_attacks import make_zip_bomb

    from course import scoring

    bomb = make_zip_bomb(tmp_path / "bomb.pt")
    assert bomb.stat().st_size < 2**20
    assert torch.load(bomb, weights_only=True)["model"]["w"].numel() == 2**26  # a real bomb
    with pytest.raises(scoring.ScoringError, match="is compressed"):
        scoring.read_checkpoint(bomb)
    (tmp_path / "legacy.pt").write_bytes(b"\x80\x02" + bytes(100))
    with pytest.raises(scoring.ArchiveError, match="not a torch.save zip"):
        scoring.check_archive(tmp_path / "legacy.pt")
    plain = tmp_path / "plain.pt"
    torch.save({"model": {"w": torch.zeros(2**20, dtype=torch.uint8)}}, plain)
    scoring.check_archive(plain)  # torch.save's own format passes
    with pytest.raises(scoring.ArchiveError, match="the limit is 0 MB"):
        scoring.check_archive(plain, max_mb=0)


def test_decoded_values_are_plain_whatever_was_sent():
    """A tensor subclass or an int subclass cannot survive the wire: what arrives is plain."""

    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True

    enc = wire.Encoder(ref=lambda obj: {"id": 1, "kind": "object", "types": [], "info": {}})
    data = enc.encode([torch.zeros(2).as_subclass(Liar).as_subclass(torch.Tensor), 3])
    back = wire.decode(data, enc.buffers, refs=lambda d: ("ref", d["id"]))
    assert type(back[0]) is torch.Tensor and type(back[1]) is int

    class Everything(int):
        def __eq__(self, other):
            return True

    data = enc.encode(Everything(0))
    assert data["$"] == "ref", "an int subclass is not sent as a number"


# --------------------------------------------------------------------------- feedback gate
def test_leak_gate_sees_through_unicode_tricks(toy):
    """A hidden line is found in a page even with zero-width characters inside it, full-width
    letters (NFKC), entities and tags in between; lines the student wrote are not counted."""
    _, source, release = toy
    lines = feedback.hidden_lines(source, release)
    assert any(fx.HIDDEN_MARK in line for line in lines)
    shown = {ln.strip() for c in release.cells for ln in c.source.split("\n")}
    assert not shown & set(lines), "a line of the release counted as hidden"
    long = next(ln for ln in lines if fx.HIDDEN_MARK in ln)
    zw = "\u200b".join(long)
    wide = long.replace("t", "\uff54")  # fullwidth t
    for page in (
        f"<pre>{zw}</pre>",
        f"<p>{wide}</p>",
        f"<span>{long[:5]}</span>{long[5:].replace('=', '&#61;')}",
    ):
        assert feedback.leaked_lines(page, lines) == [long], page
    assert feedback.leaked_lines(f"<p>{long}</p>", lines, allowed={long}) == []


def test_clean_text_removes_control_and_format_characters():
    from course.grading.job import clean_text

    assert clean_text("a\x1b[31mb\u200bc\u202ed\x07") == "a[31mbcd"
    assert len(clean_text("x" * 5000, 100)) == 100


# --------------------------------------------------------------------------- reports
def _results():
    return [
        Result("ann", "toy", 6, 6),
        Result("bob", "toy", 0, 6, status="unreadable", reason="unreadable notebook (x)"),
        Result("cy", "toy", 3, 6, reason="cell 3 timed out", flags=["handed-in code helper.py"]),
        Result("dee", "toy", 0, 6, status="missing", reason="no submission"),
        Result("eve\nmallory,6,6", "toy", 0, 6),
    ]


def test_summary_csv_plot(tmp_path):
    results = _results()
    text = summary(results, ["toy"])
    assert re.search(r"ann\s+6/6\s+6/6", text)
    assert "0/6U!" in text and "3/6!" in text and "0/6-" in text
    assert "bob / toy: unreadable: unreadable notebook" in text
    assert "eve\\x0amallory,6,6" in text and "\nmallory" not in text
    write_csv(results, tmp_path / "grades.csv")
    raw = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert len(raw.splitlines()) == len(results) + 1, "a student id forged a row"
    rows = list(csv.DictReader(open(tmp_path / "grades.csv", encoding="utf-8")))
    assert [(r["student"], r["score"], r["review"]) for r in rows][:4] == [
        ("ann", "6", "no"),
        ("bob", "0", "yes"),
        ("cy", "3", "yes"),
        ("dee", "0", "no"),
    ]
    plot_scores(results, ["toy"], tmp_path / "scores.png")
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"
    assert report.path_name("ann") == "ann" and report.path_name("a\nb").startswith("student-")


def test_statuses_and_the_legend_are_one_table(tmp_path):
    """Every status has its mark, and every mark is in the summary's legend; a grading worker
    stopped at its time limit is reported as timed out (T), not as a grader crash."""
    from course.grading import batch
    from course.grading.job import JobResult, JobSpec
    from course.grading.report import MARKS, Status, legend
    from course.grading.sandbox import Limits

    assert set(MARKS) == set(Status)
    assert all(f"{mark} {words}" in legend() for mark, words in MARKS.values() if mark)
    text = summary([Result("ann", "toy", 0, 6, status=Status.TIMEOUT, reason="r")], ["toy"])
    assert "0/6T!" in text and legend() in text and "ann / toy: timeout: r" in text
    setup = "import time\ntime.sleep(60)"  # the course's setup cell runs in the worker
    spec = JobSpec("ann", "toy", [], setup, {}, None, 10, 60, Limits(), str(tmp_path / "x.ipynb"))
    job = batch.run_in_worker(spec, tmp_path / "work", 1.0)
    assert job.status is Status.TIMEOUT and "did not finish within 1 s" in job.notes[0]
    assert JobResult.from_json(job.to_json()).status is Status.TIMEOUT


def test_gradebook_changed_during_grading_is_not_written(tmp_path):
    from course.grading import gradebook

    db = tmp_path / "gradebook.db"
    db.write_bytes(b"before")
    fingerprint = gradebook._digest(db)
    db.write_bytes(b"after: something wrote to it")
    line = gradebook.record(db, "c", fingerprint, _results(), {}, tmp_path, [])
    assert line.startswith("GRADEBOOK NOT UPDATED") and db.read_bytes().startswith(b"after")
    with pytest.raises(gradebook.GradebookError, match="no gradebook"):
        gradebook.check(tmp_path / "none.db", "c", {})


# --------------------------------------------------------------------------- CLI
def test_grade_help_is_fast_and_complete():
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "course", "grade", "--help"], capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    assert out.returncode == 0
    for word in ("--jobs", "--timeout", "--memory", "--unsafe-no-sandbox", "GRADING.md"):
        assert word in out.stdout
    code = "import sys, course.cli; course.cli.build_parser(); print('torch' in sys.modules)"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.stdout.strip() == "False", "the CLI imports torch before a command runs"
    assert seconds < 5, f"course grade --help took {seconds:.1f} s"


def test_reading_a_notebook_leaves_out_rfc3987_syntax():
    """A process of the course that reads a notebook (``course grade``'s staging subprocess, one
    per student) does not import rfc3987-syntax under jsonschema (about 1 s of CPU each: it
    builds its parsers at import), yet still validates notebooks."""
    code = (
        "import sys, course.grading.staging as s, nbformat\n"
        "from course.checkout import notebooks\n"
        "nb = notebooks.reads(notebooks.writes(nbformat.v4.new_notebook()))\n"
        "nbformat.validate(nb)\n"
        "print(sorted(m for m in ('rfc3987_syntax', 'lark') if sys.modules.get(m)))"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", (probe.stdout, probe.stderr)


def test_instructor_errors_exit_2(toy, tmp_path, capsys):
    root, _, _ = toy
    sub = tmp_path / "submitted"
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--course-dir", str(root)]) == 2
    sub.mkdir()
    assert cli.main(["grade", str(sub), "--course-dir", str(root)]) == 2  # no students
    (sub / "ann" / "toy").mkdir(parents=True)
    assert cli.main(["grade", str(sub), "nope", "--course-dir", str(root)]) == 2
    assert cli.main(["grade", str(sub), "--course-dir", str(tmp_path)]) == 2  # not a course
    err = capsys.readouterr().err
    assert "no submissions folder" in err and "unknown lesson" in err and "has no solutions" in err
    with pytest.raises(SystemExit) as exc:  # argparse: a message, not a traceback
        cli.main(["grade", str(sub), "--jobs", "0"])
    assert exc.value.code == 2 and "expected a number >= 1" in capsys.readouterr().err


def test_a_lesson_nbgrader_cannot_release_is_named(toy, tmp_path, capsys):
    """``course grade`` releases every lesson in one nbgrader process; when that fails it
    releases them one by one, so the instructor is told which lesson is wrong (exit 2)."""
    import shutil

    root = tmp_path / "course"
    shutil.copytree(toy[0], root, ignore=shutil.ignore_patterns("gradebook.db", "release"))
    broken = root / "solutions" / "zz_toy" / "zz_toy.ipynb"  # after toy
    broken.parent.mkdir(parents=True)
    text = (root / "solutions" / "toy" / "toy.ipynb").read_text()
    broken.write_text(text.replace("### END SOLUTION", "", 1))  # nbgrader refuses a lone BEGIN
    sub = tmp_path / "submitted"
    (sub / "ann" / "toy").mkdir(parents=True)
    code = cli.main(["grade", str(sub), "--course-dir", str(root), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    tail = err[-3000:]
    assert "cannot prepare lesson zz_toy" in err and "cannot prepare lesson toy:" not in err, tail
    # nbgrader's own reason, from the lesson's own run
    assert "generate_assignment zz_toy" in err and "No end solution statement" in err, tail


def test_missing_bubblewrap_is_refused_with_instructions(toy, tmp_path, capsys, monkeypatch):
    root, _, _ = toy
    (tmp_path / "sub" / "ann" / "toy").mkdir(parents=True)
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    assert cli.main(["grade", str(tmp_path / "sub"), "--course-dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err and "--unsafe-no-sandbox" in err


# --------------------------------------------------------------------------- one sandbox
def test_sandbox_mounts_its_tmpfs_before_the_environment(tmp_path):
    """A Python environment or course checkout under /tmp (a CI clone, a venv in a temporary
    folder) stays visible: the private /tmp and home come first, the read-only binds on top.
    Every tmpfs has a size, bubblewrap's own root and /dev are remounted read-only, and under
    root the command drops to an unprivileged host uid before bubblewrap starts."""
    from course.grading import sandbox
    from course.grading.sandbox import Limits, Sandbox

    sb = Sandbox("toy", {"toy.ipynb": tmp_path / "toy.ipynb"}, None, Limits(), tmp_path / "log",
                 lambda: 60.0)  # fmt: skip
    args = sb._bwrap_args(3, 4, 5)
    tmpfs = [i for i, a in enumerate(args) if a == "--tmpfs"]
    binds = [i for i, a in enumerate(args) if a in ("--ro-bind", "--bind", "--symlink", "--dir")]
    assert [args[i + 1] for i in tmpfs] == ["/tmp", sandbox.HOME, "/dev/shm"], args
    assert max(tmpfs[:2]) < min(binds), args
    sizes = {args[i + 1]: int(args[i - 1]) // 2**20 for i in tmpfs if args[i - 2] == "--size"}
    assert sizes == Limits().tmpfs_mb(), args
    remounts = [args[i + 1] for i, a in enumerate(args) if a == "--remount-ro"]
    assert remounts == ["/dev", "/"] and args.index("--remount-ro") > args.index("/dev/shm")
    cmd = sandbox.drop_command(sandbox.UID_BASE, "/tmp/b", [("0", "/x")], ["bwrap", "true"])
    assert cmd[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert f"--reuid={sandbox.UID_BASE}" in cmd and cmd[-2:] == ["bwrap", "true"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the drop to another uid happens under root only")
def test_root_without_a_way_to_drop_privileges_is_refused(toy, tmp_path, capsys, monkeypatch):
    """As root, with no way to run the student as another uid, or a data folder that uid cannot
    read, course grade refuses."""
    import shutil

    root, _, _ = toy
    (tmp_path / "sub" / "ann" / "toy").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bwrap").symlink_to(shutil.which("bwrap"))  # bwrap, but no setpriv or unshare
    monkeypatch.setenv("PATH", str(bin_dir))
    assert cli.main(["grade", str(tmp_path / "sub"), "--course-dir", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unprivileged host uid" in err and "setpriv" in err and len(err.splitlines()) == 1

    from course.grading import sandbox

    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)
    (data / "cifar-10-batches-py").chmod(0o700)  # readable by root only
    with pytest.raises(sandbox.SandboxUnavailable, match=r"cifar-10-batches-py is not readable"):
        sandbox.check_readable(data)
    (data / "cifar-10-batches-py").chmod(0o755)
    sandbox.check_readable(data)


def test_memory_caps_are_printed_and_too_many_jobs_refused(tmp_path):
    from course.grading import batch
    from course.grading.sandbox import Limits

    lines = []
    caps = batch.check_memory(Limits(memory_mb=1024), 2, tmp_path, lines.append)
    assert set(caps) >= {"sandbox memory", "sandbox tmpfs", "grader worker"}
    per_job = sum(caps.values())
    assert f"= {per_job:,} MB; x 2 job(s) = {2 * per_job:,} MB of this machine's" in lines[0]
    too_many = batch.machine_mb() // per_job + 1
    with pytest.raises(batch.InstructorError, match=r"lower --jobs or --memory") as exc:
        batch.check_memory(Limits(memory_mb=1024), too_many, tmp_path, lines.append)
    assert f"{too_many * per_job:,} MB" in str(exc.value)


@pytest.fixture()
def sandbox_session(tmp_path):
    from course.grading.sandbox import Limits, Sandbox

    (tmp_path / "handed-in.txt").write_text("mine\n")
    box = Sandbox(
        "toy",
        {"handed-in.txt": tmp_path / "handed-in.txt"},
        None,
        Limits(memory_mb=512, procs=32),
        tmp_path / "sandbox.log",
        lambda: time.monotonic() + 60,
    )
    yield box, box.start()
    box.stop()


def _run(session, code):
    reply, _ = session.request(wire.Exec(code))
    return "".join(o.get("text", "") for o in reply["outputs"]), reply.get("error")


def _names(session, *names):
    reply, buffers = session.request(wire.Names(list(names)))
    return session.decode(reply["value"], buffers)


@needs_bwrap
def test_sandbox_sees_nothing_of_the_grader(sandbox_session, monkeypatch):
    """Inside: uid 1000, its own PID namespace, no network, none of the checkout, the host's
    /tmp or the grader's environment; its handed-in files read-only."""
    box, session = sandbox_session
    out, err = _run(
        session,
        "import os, socket, pathlib, course\n"
        "print('uid', os.getuid(), 'pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "root = pathlib.Path(course.__file__).resolve().parents[1]\n"
        "print('checkout', sorted(p.name for p in root.iterdir()))\n"
        "print('tmp', os.listdir('/tmp'))\n"
        "print('env', sorted(os.environ))\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\nexcept OSError as e:\n"
        "    print('network', type(e).__name__)\n"
        "try:\n    open('handed-in.txt', 'w')\nexcept OSError as e:\n    print('ro', e.errno)\n"
        "print('cwd', os.getcwd(), os.listdir('.'))",
    )
    assert err is None, err
    assert "uid 1000" in out and re.search(r"pids \[1, \d+\]", out), out
    checkout = re.search(r"checkout (\[.*\])", out).group(1)
    assert "solutions" not in checkout and "tests" not in checkout and "course" in checkout
    assert "network" in out and "ro 30" in out  # EROFS
    assert "/home/student/toy ['handed-in.txt']" in out
    assert str(ROOT / "solutions") not in out
    for name in ("JUPYTERHUB_API_TOKEN", "PYTEST_CURRENT_TEST"):
        assert name not in out


HOST_PROBE = """import os, time
for path in ('/proc/sys/kernel/core_pattern', '/proc/sys/vm/overcommit_ratio'):
    try:
        open(path, 'r+').close()  # opened for writing, nothing written
        print('WRITABLE', path)
    except OSError as e:
        print('refused', path, e.errno)
for path in ('/x', '/etc/x', '/dev/x'):
    try:
        open(path, 'w').close()
        print('WRITABLE', path)
    except OSError as e:
        print('refused', path, e.errno)
for line in open('/proc/self/mounts'):
    dev, where, kind, opts = line.split()[:4]
    if kind == 'tmpfs':
        print('tmpfs', where, opts.split(',')[0], [o for o in opts.split(',') if o.startswith('size=')])
written = 0
try:
    with open('/dev/shm/fill', 'wb') as fh:
        while written < 2**30:
            fh.write(bytes(2**20))
            written += 2**20
except OSError as e:
    print('shm full', e.errno)
print('shm MB', written // 2**20)
try:
    os.memfd_create('hoard')
    print('WRITABLE memfd')
except OSError as e:
    print('memfd refused', e.errno)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0, 2**20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
print('shmget', segment, ctypes.get_errno())
print('open files', __import__('resource').getrlimit(__import__('resource').RLIMIT_NOFILE))
kids, failed = [], None
for i in range(200):
    try:
        kids.append(os.posix_spawn('/usr/bin/sleep', ['sleep', '2'], {}))
    except OSError as e:
        failed = e.errno
        break
print('spawned', len(kids), 'failed', failed)
for k in kids:
    os.waitpid(k, 0)
"""


@needs_bwrap
def test_sandbox_is_unprivileged_on_the_host(sandbox_session):
    """Under root too (CI): the student's host uid is not 0 (seen from the host), /proc/sys is
    not writable, the process limit binds (a bounded spawn attempt past it fails), every
    writable tmpfs has a size (/dev/shm fills up at its cap) and the rest is read-only; memfds
    and System V segments (memory outside any file system and any RSS) are refused."""
    from course.grading import sandbox

    box, session = sandbox_session
    status = Path(f"/proc/{box.child_pid}/status").read_text()
    uids = next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()[1:]
    if os.geteuid() == 0:
        assert all(sandbox.UID_BASE <= int(u) < sandbox.UID_BASE + sandbox.UID_SLOTS for u in uids)
    else:
        assert uids == [str(os.getuid())] * 4
    out, err = _run(session, HOST_PROBE)
    assert err is None, err
    assert "WRITABLE" not in out, out
    assert out.count("refused /proc/sys") == 2 and out.count("30") >= 3  # EROFS
    for line in (ln for ln in out.splitlines() if ln.startswith("tmpfs")):
        assert line.split()[2] == "ro" or "size=" in line, line  # read-only, or sized
    assert "shm full 28" in out and "shm MB 64" in out  # ENOSPC at Limits.shm_mb
    if sandbox.seccomp_filter() is not None:  # memory no file system and no RSS counts: refused
        assert "memfd refused 38" in out and "shmget -1 38" in out, out  # ENOSYS
    assert f"open files ({sandbox.OPEN_FILES}, {sandbox.OPEN_FILES})" in out, out
    spawned = int(re.search(r"spawned (\d+) failed 11", out).group(1))  # EAGAIN
    assert spawned < 32, out


@needs_bwrap
def test_proxies_behave_like_the_objects(sandbox_session):
    """Calls, attributes, in-place changes mirrored back, gradients through the bridge,
    isinstance, iteration, student errors as the builtin type, meta tensors."""
    box, session = sandbox_session
    _, err = _run(
        session,
        "import torch, torch.nn as nn\n"
        "def bump(a):\n    a.add_(1)\n    return a * 2\n"
        "def meta_ok(x):\n    return torch.zeros_like(x)\n"
        "def picky(n):\n    if n < 0:\n        raise ValueError('negative')\n    return n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.lin = nn.Linear(3, 2)\n    def forward(self, x):\n        return self.lin(x).relu()",
    )
    assert err is None, err
    ns = _names(session, "bump", "meta_ok", "picky", "Net", "missing")
    assert set(ns) == {"bump", "meta_ok", "picky", "Net"}
    a = torch.ones(3)
    with pytest.raises(AssertionError, match="changed its argument `a` in place"):
        ns["bump"](a)
    assert torch.equal(a, torch.ones(3)), "the test's tensor never changes unless declared"
    with checks_may_change(session, a):
        assert torch.equal(ns["bump"](a), torch.full((3,), 4.0))
    assert torch.equal(a, torch.full((3,), 2.0)), "a declared change is mirrored back"
    m = torch.empty(4, 5, device="meta")
    assert ns["meta_ok"](m).device.type == "meta"
    with pytest.raises(ValueError, match="negative"):
        ns["picky"](-1)
    net = ns["Net"]()
    assert isinstance(net, torch.nn.Module) and isinstance(net.lin, torch.nn.Linear)
    assert isinstance(net, ns["Net"]) and not isinstance(net.lin, torch.nn.Conv2d)
    x = torch.randn(4, 3, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and x.grad.shape == (4, 3)
    assert net.lin.weight.grad.shape == (2, 3)
    with torch.no_grad():
        net.lin.weight.zero_()
        net.lin.bias.fill_(1.0)
    assert torch.equal(net(torch.randn(2, 3)), torch.ones(2, 2))
    assert [tuple(p.shape) for p in net.parameters()] == [(2, 3), (2,)]
    ref = torch.nn.functional.linear(torch.ones(1, 3), net.lin.weight, net.lin.bias)
    assert torch.equal(ref, torch.ones(1, 2)), "a tensor proxy works in torch functions"
    seq = torch.nn.Sequential(torch.nn.Linear(3, 3))
    _run(session, "def apply(model, x):\n    return model(x)")
    assert torch.allclose(
        _names(session, "apply")["apply"](seq, torch.ones(1, 3)), seq(torch.ones(1, 3))
    )

    class Custom(torch.nn.Module):
        pass

    with pytest.raises(proxy.AuthoringError, match="torch.nn classes only"):
        _names(session, "apply")["apply"](Custom(), torch.ones(1))
    with pytest.raises(proxy.AuthoringError, match="only classes of torch"):
        ns["picky"](Custom)


def checks_may_change(session, *tensors):
    """``checks.may_change`` as the grader routes it (a bare session has no job's hooks)."""
    return session.call_options(may_change=tensors)


@needs_bwrap
def test_in_place_changes_fail_the_call_and_numpy_is_not_seeded(sandbox_session):
    """Nothing the student's function does to a test's tensor reaches the test: values, a
    nested tensor, ``requires_grad`` and ``.grad`` changes fail the call with the parameter's
    name; a declared change comes back whole (requires_grad and .grad included). The grader
    seeds torch only: NumPy and Python draw as in a kernel (differently on every call)."""
    box, session = sandbox_session
    _, err = _run(
        session,
        "import torch, numpy as np, random\n"
        "def nested(d):\n    d['w'].mul_(0)\n    return 1\n"
        "def wants_grad(x):\n    x.requires_grad_(True)\n    return 1\n"
        "def grads(x):\n    (x * 3).sum().backward()\n    return 1\n"
        "def draws():\n    return [float(np.random.rand()), random.random(), float(torch.rand(()))]\n"
        "def relu_(x):\n    return x.relu_()",
    )
    assert err is None, err
    ns = _names(session, "nested", "wants_grad", "grads", "draws", "relu_")
    x = torch.tensor([-1.0, 2.0])
    assert torch.equal(ns["relu_"](x), torch.tensor([0.0, 2.0])), "an in-place layer's result"
    assert torch.equal(x, torch.tensor([-1.0, 2.0])), "...and the test's tensor as it was"
    with session.call_options(keep_inputs=True), pytest.raises(AssertionError, match="`x`"):
        ns["relu_"](x)  # what checks.call_keeping_inputs asks: fails, as in a kernel
    w = torch.ones(2)
    with pytest.raises(AssertionError, match="argument `d` in place"):
        ns["nested"]({"w": w})
    assert torch.equal(w, torch.ones(2))
    x = torch.zeros(3)
    with pytest.raises(AssertionError, match="argument `x` in place"):
        ns["wants_grad"](x)
    assert not x.requires_grad
    with checks_may_change(session, x):
        ns["wants_grad"](x)
    assert x.requires_grad, "a declared requires_grad change is mirrored, as in a kernel"
    leaf = torch.ones(3, requires_grad=True)
    with pytest.raises(AssertionError, match="argument `x` in place"):
        ns["grads"](leaf)
    assert leaf.grad is None
    with checks_may_change(session, leaf):
        ns["grads"](leaf)
    assert torch.equal(leaf.grad, torch.full((3,), 3.0))
    torch.manual_seed(0)
    session.reseeded()
    first = ns["draws"]()
    torch.manual_seed(0)
    session.reseeded()
    second = ns["draws"]()
    assert first[2] == second[2], "the same torch seed gives the student's torch the same numbers"
    assert first[0] != second[0] and first[1] != second[1], "NumPy and Python are not seeded"


@needs_bwrap
def test_structure_is_established_by_behaviour(sandbox_session):
    """checks.behaves_like: a module that names and counts its layers right but computes
    something else fails; one whose load_state_dict zeroes the test's weights fails the call
    (the test's dict, which a reference could also load, never changes); the right one passes."""
    from course import checks

    box, session = sandbox_session
    _, err = _run(
        session,
        "import torch, torch.nn as nn\n"
        "class Right(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(2, 2, 3, padding=1)\n        self.bn = nn.BatchNorm2d(2)\n"
        "    def forward(self, x):\n        return torch.relu(self.bn(self.conv(x)) + x)\n"
        "class Liar(Right):\n    def forward(self, x):\n        return torch.relu(x)\n"
        "class Zeroer(Right):\n    def load_state_dict(self, sd, strict=True):\n"
        "        for v in sd.values():\n            v.zero_()\n        return super().load_state_dict(sd)\n",
    )
    assert err is None, err
    ns = _names(session, "Right", "Liar", "Zeroer")
    nn = torch.nn

    class Ref(nn.Module):  # what the test builds: torch.nn layers, the contract's names
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.bn = nn.BatchNorm2d(2)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x)) + x)

    x = [torch.randn(3, 2, 5, 5)]
    checks.behaves_like(ns["Right"](), Ref(), x, "Right()")
    liar = ns["Liar"]()
    assert checks.count_params(liar) == checks.count_params(Ref()), "it counts right..."
    with pytest.raises(AssertionError, match="the test's weights"):
        checks.behaves_like(liar, Ref(), x, "Liar()")  # ...and computes something else
    with pytest.raises(AssertionError, match="changed its argument `sd` in place"):
        checks.behaves_like(ns["Zeroer"](), Ref(), x, "Zeroer()")


@needs_bwrap
def test_sandbox_memory_watchdog_and_death(sandbox_session):
    box, session = sandbox_session
    with pytest.raises(proxy.SandboxError):
        _run(session, "x = []\nwhile True:\n    x.append(bytearray(10**7))")
    assert box.report.memory_killed_mb and box.report.memory_killed_mb > 512


@needs_bwrap
def test_sandbox_watchdog_counts_the_whole_process_tree(sandbox_session):
    """The watchdog walks the sandbox's process tree: memory hoarded by a grandchild of the
    server (forked by a child that a thread forked, and that waits for it) counts and kills
    the sandbox, as does the same hoard in an orphan (re-parented to the sandbox's first
    process)."""
    box, session = sandbox_session
    nested = (
        "import os, threading, time\n"
        "def spawn():\n"
        "    if os.fork() == 0:\n"
        "        if os.fork() == 0:\n"
        "            x = []\n"
        "            while True:\n"
        "                x.append(bytearray(10**7)); time.sleep(0.01)\n"
        "        os.wait()\n"
        "        os._exit(0)\n"
        "threading.Thread(target=spawn).start()\n"
        "time.sleep(30)"
    )
    with pytest.raises(proxy.SandboxError):
        _run(session, nested)
    assert box.report.memory_killed_mb and box.report.memory_killed_mb > 512
    box.report.memory_killed_mb = None
    orphan = nested.replace("        os.wait()\n", "").replace(
        "            x = []", "            os.setsid(); x = []"
    )
    assert orphan != nested
    session = box.start()
    with pytest.raises(proxy.SandboxError):
        _run(session, orphan)
    assert box.report.memory_killed_mb and box.report.memory_killed_mb > 512


def test_process_tree_walk_equals_the_full_scan():
    """sandbox._children (the watchdog's walk through /proc/<pid>/task/<tid>/children) finds
    what a scan of every process finds, children forked from a thread included."""
    from course.grading import sandbox

    code = (
        "import os, subprocess, threading, time\n"
        "subprocess.Popen(['sleep', '30'])\n"
        "threading.Thread(target=lambda: subprocess.Popen(['sh', '-c', 'sleep 31; :'])).start()\n"
        "time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while len(sandbox._children_by_scan(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        walked, scanned = (
            sorted(sandbox._children(proc.pid)),
            sorted(sandbox._children_by_scan(proc.pid)),
        )
        assert len(scanned) == 3 and walked == scanned, (walked, scanned)
    finally:
        for pid in sandbox._children_by_scan(proc.pid):
            os.kill(pid, 9)
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- the hostile class
# the tests that read the hostile class share one worker, so the class is graded once per session
HOSTILE = pytest.mark.xdist_group("hostile")


@pytest.fixture(scope="module")
def hostile(toy, tmp_path_factory):
    """The hostile class, graded once for the tests below (each marked ``HOSTILE``):
    (out, sub, work, root, stdout)."""
    root, _, release = toy
    base = tmp_path_factory.mktemp("hostile")
    sub, out, work = base / "submitted", base / "out", base / "work"
    paths = {"SUBMISSIONS": sub, "WORK": work, "OUT": out, "ROOT": root}
    fx.write_submissions(sub, _release_dict(release), paths)
    config_before = (root / "nbgrader_config.py").read_bytes()
    env = dict(os.environ, JUPYTERHUB_API_TOKEN="instructor-secret-token")
    cmd = [sys.executable, "-m", "course", "grade", str(sub), "--course-dir", str(root)]
    cmd += ["--jobs", "2", *LIMITS, "--out", str(out), "--work-dir", str(work), "--feedback"]
    cmd += ["--gradebook", str(root / "gradebook.db")]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with _SharedMemory() as shared:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (root / "nbgrader_config.py").read_bytes() == config_before
    return {"out": out, "sub": sub, "work": work, "root": root, "stdout": proc.stdout,
            "stderr": proc.stderr, "rss_before": rss_before, "shared_mb": shared.peak_mb}  # fmt: skip


class _SharedMemory:
    """The peak growth (MB) of the host's shared memory while active: ``Shmem:`` of
    /proc/meminfo (every tmpfs, the sandboxes' included) plus the host's /dev/shm usage."""

    def __enter__(self):
        import threading

        self.base, self.peak_mb = self._now(), 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _now() -> float:
        meminfo = Path("/proc/meminfo").read_text()
        shmem = int(re.search(r"^Shmem:\s+(\d+) kB", meminfo, re.M).group(1)) / 1024
        st = os.statvfs("/dev/shm")
        return shmem + (st.f_blocks - st.f_bfree) * st.f_frsize / 2**20

    def _sample(self):
        while not self._stop.wait(0.1):
            self.peak_mb = max(self.peak_mb, self._now() - self.base)


def _rows(out: Path) -> dict:
    rows = csv.DictReader(open(out / "grades.csv", encoding="utf-8"))
    return {r["student"]: r for r in rows}


@needs_bwrap
@pytest.mark.slow
@HOSTILE
def test_hostile_class(hostile):
    """No attack earns more than the same notebook without it; honest students keep full
    marks; structural cheats are undone and flagged; the batch completes."""
    rows = _rows(hostile["out"])
    problems = []
    for case in fx.CASES:
        r = rows.get(report.display(case.student))
        if r is None:
            problems.append(f"{case.student!r}: not in grades.csv")
            continue
        score = float(r["score"])
        ok = score == case.points if case.exact else score <= case.points
        if not ok or r["status"] != case.status:
            problems.append(
                f"{case.student!r}: got {score} {r['status']}, expected "
                f"{'' if case.exact else '<= '}{case.points} {case.status}; {r['reason']} | {r['flags']}"
            )
        for flag in case.flags:
            if flag not in r["flags"]:
                problems.append(f"{case.student!r}: no flag {flag!r} in {r['flags']!r}")
        if case.reason not in r["reason"]:
            problems.append(f"{case.student!r}: reason {r['reason']!r} lacks {case.reason!r}")
    assert not problems, "\n".join(problems)
    assert "Reference solution under the same limits: toy 6/6" in hostile["stdout"]
    assert "UNSAFE" not in hostile["stdout"]


@needs_bwrap
@pytest.mark.slow
@HOSTILE
def test_hostile_class_stays_under_the_memory_caps_it_printed(hostile):
    """The caps ``course grade`` printed at start hold for the hostile class (zip-bomb-free: lesson
    05's checkpoint is the bands test's): every grading worker's peak resident memory under the
    worker's cap, the host's shared memory (the sandboxes' tmpfs) under their sum over --jobs."""
    line = re.search(
        r"memory caps per notebook: (.*) = ([\d,]+) MB; x (\d+) job", hostile["stderr"]
    )
    assert line, hostile["stderr"][:2000]
    caps = {
        k.strip(): int(v.replace(",", ""))
        for k, v in re.findall(r"([a-z ()]+?) ([\d,]+) MB", line[1])
    }
    jobs = int(line[3])
    peaks = [
        int(p.replace(",", "")) for p in re.findall(r"worker peak ([\d,]+) MB", hostile["stderr"])
    ]
    assert len(peaks) == len([c for c in fx.CASES if c.status == "graded"]), hostile["stderr"][
        -3000:
    ]
    assert max(peaks) < caps["grader worker"], (max(peaks), caps)
    assert hostile["shared_mb"] < jobs * caps["sandbox tmpfs"], (hostile["shared_mb"], caps)
    tmp_fill = 512  # MB: tmp_fill filled its /tmp to the cap, so the sampling saw tmpfs grow
    assert hostile["shared_mb"] > tmp_fill * 0.5, hostile["shared_mb"]


@needs_bwrap
@pytest.mark.slow
@HOSTILE
def test_hostile_class_reads_and_leaks_nothing(hostile):
    out = hostile["out"]

    def graded(student):
        path = out / "autograded" / report.path_name(student) / fx.LESSON / f"{fx.LESSON}.ipynb"
        return path.read_text(encoding="utf-8")

    assert "found []" in graded("read_solutions"), "the solutions were found in the sandbox"
    thief = graded("env_thief")
    assert "NBGRADER_EXECUTION" in thief and "instructor-secret-token" not in thief
    leak = nbformat.reads(graded("leak_tests"), as_version=4)
    printed = json.dumps([c.get("outputs", []) for c in leak.cells if not cells.is_test(c)])
    assert fx.HIDDEN_MARK not in printed, "a hidden test reached the sandbox"
    for page in (out / "feedback").rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert fx.HIDDEN_MARK not in html and "BEGIN HIDDEN TESTS" not in html, page
    for student in ("ok_full", "leak_tests", "lying_tensor"):
        page = out / "feedback" / student / fx.LESSON / f"{fx.LESSON}.html"
        assert "The test's code is not shown" in page.read_text(encoding="utf-8")
    # nothing written by a notebook outlived its sandbox or reached the grader's files
    assert not list(hostile["work"].rglob("evil.py"))
    assert json.loads((hostile["sub"] / "victim" / fx.LESSON / f"{fx.LESSON}.ipynb").read_text())[
        "cells"
    ], "the victim's notebook was overwritten"
    assert _rows(out)["victim"]["flags"] == ""


@needs_bwrap
@pytest.mark.slow
@HOSTILE
def test_hostile_class_gradebook_and_feedback_files(hostile):
    from nbgrader.api import Gradebook

    root, out = hostile["root"], hostile["out"]
    graded = [c for c in fx.CASES if c.status == "graded"]
    pages = sorted((out / "feedback").rglob("*.html"))
    assert len(pages) == len(graded)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "resnets-hands-on") as gb:
        for case in graded:
            entry = gb.find_submission(fx.LESSON, report.path_name(case.student))
            assert entry.score == float(_rows(out)[report.display(case.student)]["score"])
            assert entry.needs_manual_grade, case.student
    assert (root / "autograded" / "ok_full" / fx.LESSON / f"{fx.LESSON}.ipynb").is_file()


@needs_bwrap
@pytest.mark.slow
def test_killed_grader_resumes(toy, tmp_path, capsys):
    """Kill ``course grade`` while it works: what was graded stays, a rerun grades the rest and
    reuses the rest, the reference check included."""
    root, _, release = toy
    sub, out = tmp_path / "sub", tmp_path / "out"
    cases = [fx.Case(f"s{i}", fx.correct, fx.MAX) for i in range(5)]
    fx.write_submissions(sub, _release_dict(release), {}, cases)
    cmd = [sys.executable, "-m", "course", "grade", str(sub), "--course-dir", str(root)]
    cmd += ["--jobs", "1", *LIMITS, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = {p: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert len(kept) >= 2, "no result written before the kill"
    reference = {p: p.stat().st_mtime_ns for p in (out / "reference").glob("*.json")}
    assert len(reference) == 1, "the passed reference check was not kept"
    capsys.readouterr()
    assert cli.main(["grade", str(sub), "--course-dir", str(root), "--jobs", "2", *LIMITS,
                     "--out", str(out)]) == 0  # fmt: skip
    assert "reference / toy: passed before, unchanged since" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in (out / "reference").glob("*.json")} == reference
    rows = _rows(out)
    assert sorted(rows) == [c.student for c in cases]
    assert all(float(r["score"]) == fx.MAX for r in rows.values())
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items()), "a kept result was redone"


@needs_bwrap
def test_a_failed_reference_check_is_not_kept(tmp_path, capsys):
    """A failed check leaves nothing behind: fixing the environment or the test takes effect on
    the next run (a passed one is kept: test_killed_grader_resumes)."""
    root = fx.make_toy_course(tmp_path / "course", ROOT)
    Checkout(root).generate_assignment(fx.LESSON)
    release = nbs.read(Checkout(root).release(fx.LESSON))
    sub, out = tmp_path / "sub", tmp_path / "out"
    fx.write_submissions(sub, _release_dict(release), {}, [fx.Case("s0", fx.correct, fx.MAX)])
    source_path = Checkout(root).source(fx.LESSON)
    broken = nbs.read(source_path)
    test = next(c for c in broken.cells if cells.is_test(c))
    test.source += "\nassert False, 'broken on purpose'"
    nbs.write(broken, source_path)
    args = ["grade", str(sub), "--course-dir", str(root), *LIMITS, "--out", str(out)]
    assert cli.main(args) == 2
    assert "does not earn every point" in capsys.readouterr().err
    assert not list((out / "reference").glob("*.json")), "a failed reference check was kept"


# --------------------------------------------------------------------------- lesson 05's bands
@pytest.mark.slow
def test_bands_come_from_the_course_model_not_the_students(tmp_path):
    """Lesson 05's band cells, in the grader, load the handed-in checkpoint (weights only) into
    the course's own ResNet34: a student class that looks test images up on disk earns nothing
    from an untrained checkpoint; a well-trained checkpoint earns the bands."""
    from forge import forge_resnet34_checkpoint
    from hostile.system_attacks import make_zip_bomb

    from course import checks, data, scoring
    from course.grading import checkpoints
    from course.grading.job import Job, JobSpec
    from course.grading.sandbox import Limits

    lesson = "05_resnet34_cifar10"
    source = Checkout(ROOT).source(lesson)
    model_class = checkpoints.load_reference(source)
    good, bad = tmp_path / "good.pt", tmp_path / "bad.pt"
    forge_resnet34_checkpoint(model_class, good, data.data_root())
    scoring.save_model(model_class(num_classes=10, stem="cifar"), bad, stem="cifar",
                       mean=[0.5] * 3, std=[0.25] * 3, classes=data.CLASSES, epochs=0,
                       val_accuracy=0.1)  # fmt: skip

    class Lookup:  # what a cheating student's class would be: never used by the grader
        def __init__(self, *a, **k):
            raise AssertionError("the student's class was called")

    def bands(path):
        spec = JobSpec("s", lesson, [], "", {str(scoring.CHECKPOINT_PATH): str(path)},
                       str(data.data_root()), 60, 600, Limits(), str(source))  # fmt: skip
        job = Job(spec, tmp_path / "job")
        checks.grading_hooks = {"score_checkpoint": job._score_checkpoint}
        try:
            score = scoring.score_checkpoint(Lookup, scoring.CHECKPOINT_PATH, n=100)
        finally:
            checks.grading_hooks = None
            scoring._CACHE.clear()
        return score

    assert bands(good).ok and bands(good).accuracy >= 0.94
    low = bands(bad)
    assert low.ok and low.accuracy < 0.75
    bomb = bands(make_zip_bomb(tmp_path / "bomb.pt"))  # refused from its zip headers
    assert not bomb.ok and "is compressed" in bomb.message


# --------------------------------------------------------------------------- on a cluster
@needs_bwrap
@pytest.mark.slow
@HOSTILE
def test_a_dask_cluster_gives_the_same_grades(hostile, tmp_path, monkeypatch):
    """Five students of the hostile class (honest, half done, a lying tensor, a crash, the
    victim), graded again on a local Dask cluster of two worker processes (files and course
    source travel with each task; the same sandbox on every worker): the same rows of grades.csv
    as the hostile class's run here. Before grading, the command asked each of the two workers
    for its versions, and each reported this machine's (the one local cluster of the suite: the
    refusals of other versions are tests/test_cluster.py's)."""
    pytest.importorskip("distributed")
    from course.grading import cluster

    asked = []
    ask = cluster.worker_versions
    monkeypatch.setattr(
        cluster, "worker_versions", lambda client: asked.append(ask(client)) or asked[-1]
    )
    root = hostile["root"]
    release = nbs.read(Checkout(root).release(fx.LESSON))
    sub = tmp_path / "sub"
    names = ["ok_full", "ok_half", "lying_tensor", "segfault", "victim"]
    cases = [c for c in fx.CASES if c.student in names]
    fx.write_submissions(sub, _release_dict(release), {}, cases)
    args = ["grade", str(sub), "--course-dir", str(root), *LIMITS, "--scheduler", "local:2"]
    assert cli.main([*args, "--out", str(tmp_path / "dask")]) == 0
    here = (hostile["out"] / "grades.csv").read_text(encoding="utf-8").splitlines()
    there = (tmp_path / "dask" / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert there[0] == here[0]
    shown = {report.display(n) for n in names}
    assert sorted(there[1:]) == sorted(r for r in here[1:] if r.split(",", 1)[0] in shown)
    assert len(there) == len(cases) + 1
    (found,) = asked
    assert len(found) == 2 and all(v == cluster.versions() for v in found.values()), found
