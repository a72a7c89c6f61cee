"""The JupyterHub recipe (docs/JUPYTERHUB.md) on one machine: nbgrader's exchange with the
hub-wide settings of ``deploy/jupyterhub/``, in a temporary exchange folder.

release (instructor) -> fetch, work, submit (student) -> collect (instructor) -> [course grade
--gradebook --feedback: its output is stood in for here; course grade has its own tests] ->
release_feedback (instructor) -> fetch_feedback (student). On a hub each person is a Unix user;
here one Unix user plays both, in two home folders (nbgrader names the student after the Unix
account, :func:`nbgrader.utils.get_username`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from course.checkout import notebooks

LESSON = "01_residual_block"
HUB = ROOT / "deploy" / "jupyterhub"


@pytest.fixture
def hub(tmp_path):
    """An /etc/jupyter holding the hub's files, a course checkout, an exchange, two homes."""
    etc = tmp_path / "etc-jupyter"
    shutil.copytree(HUB, etc)
    course = tmp_path / "srv" / "resnets-hands-on"  # the instructor's course folder
    course.mkdir(parents=True)
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for kind in ("solutions", "notebooks"):
        shutil.copytree(ROOT / kind / LESSON, course / kind / LESSON)
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    homes = {name: tmp_path / "home" / name for name in ("alice",)}
    for home in homes.values():
        home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NBGRADER_", "JUPYTER_"))}
    env.update(
        JUPYTER_CONFIG_PATH=str(etc),  # stands for /etc/jupyter
        JUPYTER_CONFIG_DIR=str(tmp_path / "user-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "user-data"),
        COURSE_CHECKOUT=str(course),
        NBGRADER_EXCHANGE=str(exchange),
    )
    return {"course": course, "exchange": exchange, "homes": homes, "env": env}


def nbgrader(hub, cwd: Path, *args: str) -> str:
    env = {**hub["env"], "HOME": str(cwd)}
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_exchange_round_trip_with_the_hub_settings(hub):
    from nbgrader.utils import get_username

    course, exchange, alice = hub["course"], hub["exchange"], hub["homes"]["alice"]
    course_id, student = "resnets-hands-on", get_username()

    # instructor: put the lesson into the gradebook (for `course grade --gradebook` and the
    # formgrader), then restore the byte-stable release that nbgrader just overwrote
    nbgrader(hub, course, "generate_assignment", LESSON, "--force")
    release = course / "notebooks" / LESSON / f"{LESSON}.ipynb"
    assert (course / "gradebook.db").is_file()
    subprocess.run(
        [sys.executable, "-m", "course", "release", LESSON, "--course-dir", str(course)],
        env=hub["env"], check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert release.read_bytes() == (ROOT / "notebooks" / LESSON / f"{LESSON}.ipynb").read_bytes()
    # the committed release goes out as it is
    nbgrader(hub, course, "release_assignment", LESSON)
    outbound = exchange / course_id / "outbound" / LESSON / f"{LESSON}.ipynb"
    assert outbound.read_bytes() == (course / "notebooks" / LESSON / f"{LESSON}.ipynb").read_bytes()

    # student: fetch, answer one exercise, submit (course id comes from the hub-wide settings)
    listed = nbgrader(hub, alice, "list")
    assert LESSON in listed
    nbgrader(hub, alice, "fetch_assignment", LESSON)
    mine = alice / LESSON / f"{LESSON}.ipynb"
    answered = notebooks.fill_release(
        notebooks.read(mine), notebooks.read(course / "solutions" / LESSON / f"{LESSON}.ipynb"),
        solved=["plain_block"],
    )  # fmt: skip
    notebooks.write(answered, mine)
    (alice / LESSON / "checkpoints").mkdir()
    (alice / LESSON / "checkpoints" / "model.pt").write_bytes(b"weights")
    (alice / LESSON / "runs").mkdir()
    (alice / LESSON / "runs" / "last.pt").write_bytes(b"training state, not handed in")
    nbgrader(hub, alice, "submit", LESSON)

    # instructor: collect into the layout `course grade` reads
    nbgrader(hub, course, "collect", LESSON)
    submitted = course / "submitted" / student / LESSON
    assert (submitted / f"{LESSON}.ipynb").read_bytes() == mine.read_bytes()
    assert (submitted / "timestamp.txt").is_file()
    assert (submitted / "submission_secret.txt").is_file()
    assert (submitted / "checkpoints" / "model.pt").read_bytes() == b"weights"
    assert not (submitted / "runs").exists(), "runs/ was handed in (CourseDirectory.ignore)"

    # `course grade submitted/ --gradebook gradebook.db --feedback` writes, per student,
    # feedback/<student>/<lesson>/<lesson>.html beside the submission's timestamp and secret
    feedback = course / "feedback" / student / LESSON
    feedback.mkdir(parents=True)
    (feedback / f"{LESSON}.html").write_text("<html><body>plain_block: 2/2</body></html>")
    for name in ("timestamp.txt", "submission_secret.txt"):
        shutil.copy2(submitted / name, feedback / name)

    nbgrader(hub, course, "release_feedback", LESSON)
    nbgrader(hub, alice, "fetch_feedback", LESSON)
    got = list((alice / LESSON / "feedback").glob(f"*/{LESSON}.html"))
    assert len(got) == 1 and "plain_block: 2/2" in got[0].read_text()


def test_hub_settings_load(hub):
    """The hub files read cleanly: the course's settings plus the shared exchange."""
    probe = (
        "from nbgrader.apps import NbGrader\n"
        "app = NbGrader(); app.initialize([])\n"
        "c = app.config\n"
        "print(c.Exchange.root, c.CourseDirectory.course_id, c.Execute.timeout)\n"
        "print(c.Execute.extra_arguments)\n"
        "print(c.Execute.on_cell_start.__module__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=hub["homes"]["alice"], env=hub["env"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{hub['exchange']} resnets-hands-on 120"
    assert "--InteractiveShell.xmode=Minimal" in lines[1]
    assert lines[2] == "course.tools.validation"
