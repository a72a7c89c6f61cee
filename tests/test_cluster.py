"""``course grade --scheduler`` (Dask): reached before anything is prepared, one line and exit 2
when it cannot be used, and every worker checked for the course version and torch build.
A whole class graded on a local cluster, whose two workers report this machine's versions:
tests/test_grading.py::test_a_dask_cluster_gives_the_same_grades (the suite's one local cluster).
"""

from __future__ import annotations

import shutil
import socket
import sys
import time

import pytest
from conftest import ROOT
from hostile import fixtures as fx

from course import cli
from course.errors import CourseError
from course.grading import cluster

pytest.importorskip("distributed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_unreachable_scheduler_fails_fast_before_preparing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    root = fx.make_toy_course(tmp_path / "course", ROOT)
    (tmp_path / "sub" / "s0" / fx.LESSON).mkdir(parents=True)
    address = f"tcp://127.0.0.1:{_free_port()}"
    args = [
        "grade",
        str(tmp_path / "sub"),
        "--course-dir",
        str(root),
        "--out",
        str(tmp_path / "out"),
    ]
    args += ["--scheduler", address]
    t0 = time.monotonic()
    assert cli.main(args) == 2
    seconds = time.monotonic() - t0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "no Dask scheduler answered at" in lines[0], captured.err
    assert address in lines[0] and "Traceback" not in captured.err + captured.out
    assert "preparing" not in captured.out + captured.err, "the scheduler is reached first"
    assert not (tmp_path / "out" / "reference").exists()
    assert seconds < 30, f"{seconds:.0f} s to give up"


def test_local_needs_a_count():
    with pytest.raises(CourseError, match="local:N"):
        cluster.connect("local:two")


def test_without_dask_the_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(CourseError, match=r"resnet-course\[cluster\]"):
        cluster.connect("tcp://127.0.0.1:1")


def test_a_worker_with_other_versions_is_refused_by_name():
    here = cluster.versions()
    assert here["course"] and "git" in here["torch"] and here["python"]
    cluster.check_workers({"tcp://10.0.0.1:1": dict(here), "tcp://10.0.0.2:1": dict(here)}, here)
    other = dict(here, torch="2.1.0+cu121 (git 0123456789ab)")
    with pytest.raises(CourseError, match=r"worker tcp://10\.0\.0\.2:1 runs torch 2\.1\.0\+cu121"):
        cluster.check_workers({"tcp://10.0.0.1:1": dict(here), "tcp://10.0.0.2:1": other}, here)
    with pytest.raises(CourseError, match=r"worker tcp://10\.0\.0\.3:1 runs course 0\.0\.1"):
        cluster.check_workers({"tcp://10.0.0.3:1": dict(here, course="0.0.1")}, here)
    with pytest.raises(CourseError, match=r"10\.0\.0\.4:1 cannot run the grader.*ModuleNotFound"):
        cluster.check_workers({"tcp://10.0.0.4:1": ModuleNotFoundError("No module named 'course'")})
    with pytest.raises(CourseError, match="no workers"):
        cluster.check_workers({}, here)
