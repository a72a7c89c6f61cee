"""Shared fixtures: the lessons, fresh releases, executed notebooks (made once per test session).

An executed notebook is deterministic work: :func:`once_per_session` makes it once per test
session, in a folder every xdist worker shares (keyed by the lesson folder's content hash, made
under a file lock), so two workers never execute the same notebook and a test in any file can
read a run another file's test already paid for.

Notebooks never run in place: each execution gets a scratch copy of its lesson folder, so tests
leave nothing behind in ``solutions/`` or ``notebooks/`` (and parallel workers do not race on
``data/`` or ``checkpoints/``). Every lesson finds its data through ``$COURSE_DATA``
(:func:`course.data.data_root`), which points at one small synthetic archive per test worker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from course import data
from course.checkout import Checkout, notebooks
from course.tools import execution, releases

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")
SCRATCH_IGNORE = shutil.ignore_patterns(
    "data", "checkpoints", "*.pt", "__pycache__", ".ipynb_checkpoints"
)


@pytest.fixture(scope="session")
def playwright():
    """The one sync Playwright of a test process: a second one started while the first is open
    fails ("using Playwright Sync API inside the asyncio loop"), so every browser test — the
    site's, the feedback and instructor pages', JupyterLab's — starts its Chromium from this."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    """One headless Chromium (Debian's, driven by Playwright) for every page check of a test
    process: the site's and the instructor pages'."""
    from browser import launch  # tests/browser.py: Debian's chromium, its flags

    b = launch(playwright)
    yield b
    b.close()


def all_lessons() -> list[str]:
    return Checkout(ROOT).lessons


SESSION_ENV: dict[str, str] = {}  # what course_data sets, for kernels made once per session


@pytest.fixture(scope="session", autouse=True)
def course_data(tmp_path_factory) -> Path:
    """A synthetic CIFAR-10 archive for every notebook this test session runs."""
    root = tmp_path_factory.mktemp("cifar")
    root.chmod(0o755)  # pytest makes it 0700; under root the sandbox reads it as another uid
    data.make_fake_cifar10(root, n_train=2000, n_test=500, seed=0)
    # notebook kernels inherit these: the lesson-05 grader scores 100 test images, and each
    # kernel runs one torch thread (2 xdist workers x 2 threads on 2 cores is ~2x slower)
    settings = {data.DATA_ENV: str(root), "COURSE_SCORE_N": "100", "OMP_NUM_THREADS": "1"}
    SESSION_ENV.update(settings)
    before = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    yield root
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def one_thread_not_grading(monkeypatch):
    """Tests decide grading mode themselves; one torch thread (tiny workloads, shared cores);
    figures closed afterwards. Used with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("NBGRADER_VALIDATING", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def fresh_release(tmp_path_factory) -> Path:
    """Every lesson released anew into a temporary folder (the real nbgrader generate_assignment),
    once per test session (the workers share it)."""
    lessons = all_lessons()
    digest = hashlib.sha256(
        "".join(content_hash(ROOT / "solutions" / le) for le in lessons).encode()
    )

    def make(dest: Path) -> None:
        releases.release(
            lessons,
            dest=dest,
            checkout=Checkout(ROOT),
            log=lambda *_: None,
            normalize_sources=False,
        )

    return once_per_session(tmp_path_factory, f"release-{digest.hexdigest()[:16]}", make)


def scratch_copy(kind: str, lesson: str, dest: Path, *, artifacts: bool = True) -> Path:
    """Copy ``<kind>/<lesson>/`` to ``dest`` and return the notebook path in the copy.

    With ``artifacts`` (solutions only) the files a finished student would submit beside the
    notebook are added: for lesson 05 a ResNet-34 checkpoint of the solution's own class.
    """
    shutil.copytree(ROOT / kind / lesson, dest, ignore=SCRATCH_IGNORE, dirs_exist_ok=True)
    if artifacts and kind == "solutions" and lesson == "05_resnet34_cifar10":
        from forge import forge_resnet34_checkpoint

        from course import scoring
        from course.grading import checkpoints as scoring_cli

        model_class = scoring_cli.load_reference(ROOT / kind / lesson / f"{lesson}.ipynb")
        forge_resnet34_checkpoint(model_class, dest / scoring.CHECKPOINT_PATH, data.data_root())
    return dest / f"{lesson}.ipynb"


def shared_dir(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this test session (the run's base temp)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # .../pytest-N/popen-gwK -> .../pytest-N, one per session
    folder = base / "shared"
    folder.mkdir(exist_ok=True)
    return folder


def once_per_session(tmp_path_factory, key: str, make: Callable[[Path], None]) -> Path:
    """``folder`` after ``make(folder)``, made by the first worker that asks for ``key``; the
    others wait on its lock and read the result. ``key`` names the inputs (content hashes)."""
    from filelock import FileLock

    folder = shared_dir(tmp_path_factory) / key
    with FileLock(f"{folder}.lock"):
        if not (folder / ".done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".done").touch()
    return folder


def content_hash(folder: Path) -> str:
    """A short hash of every file a scratch copy of ``folder`` would hold."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not SCRATCH_IGNORE(str(folder), list(rel.parts)):
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _run_folder(kind: str, lesson: str, mode: str, tmp_path_factory, run, artifacts: bool) -> Path:
    """The shared folder of ``run(notebook, cwd)`` on a scratch copy of the lesson (in
    ``work/``, its result beside it), made once per session."""
    digest = content_hash(ROOT / kind / lesson)
    name = f"{lesson}.ipynb"

    def make(folder: Path) -> None:
        path = scratch_copy(kind, lesson, folder / "work", artifacts=artifacts)
        notebooks.write(run(notebooks.read(path), path.parent), folder / name)

    return once_per_session(tmp_path_factory, f"{mode}-{kind}-{lesson}-{digest}", make)


def _run_once(kind: str, lesson: str, mode: str, tmp_path_factory, run) -> object:
    folder = _run_folder(kind, lesson, mode, tmp_path_factory, run, artifacts=mode == "validate")
    return notebooks.read(folder / f"{lesson}.ipynb")


_executed: dict[tuple[str, str, str], object] = {}


def executed(kind: str, lesson: str, tmp_path_factory):
    """The source (``kind='solutions'``) or release (``'notebooks'``) of a lesson, executed as
    nbgrader's Validate runs it (grading mode), once per test session."""
    key = (kind, lesson, "validate")
    if key not in _executed:
        _executed[key] = _run_once(
            kind, lesson, "validate", tmp_path_factory,
            lambda nb, cwd: execution.execute(nb, cwd=cwd, timeout=300),
        )  # fmt: skip
    return _executed[key]


def checked_without_artifacts(lesson: str, tmp_path_factory) -> tuple[object, Path]:
    """A lesson's solution executed as ``course check`` runs it (grading mode, the kernel told
    which notebook it runs) with nothing handed in beside it (lesson 05: no checkpoint), once
    per test session: (the executed notebook, the folder it ran in)."""

    def check(nb, cwd: Path):
        # the session's settings whatever the asking test monkeypatched (test_scoring clears them)
        extra = {**SESSION_ENV, "JPY_SESSION_NAME": str(cwd / f"{lesson}.ipynb")}
        env = execution.execution_env(extra=extra)
        return execution.execute(nb, cwd=cwd, timeout=600, env=env)

    folder = _run_folder("solutions", lesson, "check-bare", tmp_path_factory, check, False)
    key = ("solutions", lesson, "check-bare")
    if key not in _executed:
        _executed[key] = notebooks.read(folder / f"{lesson}.ipynb")
    return _executed[key], folder / "work"


# Run All's scale: every quick experiment trains at most this many epochs (the lessons' quick
# runs train 4 to 40; course.runtime.quick_epochs) of at most this many optimizer steps each
# (course.runtime.quick_steps; lessons 04 and 05 take 16 and 8 a quick epoch, ~1 s each on one
# thread). Two epochs of three steps run every cell through the same code (the schedules planned
# over the steps taken, evaluation after each epoch, every curve drawn with more than one
# point), which is what the Run All tests check: no error cell, every output shown. What the
# quick runs show (the degradation problem, the variants' ranking) is measured by the
# benchmarks (benchmarks/DEGRADATION.md, VARIANTS.md, ARCHITECTURES.md), not by Run All.
RUN_ALL_EPOCHS = "2"
RUN_ALL_STEPS = "3"


def student_env() -> dict:
    """The environment of a kernel that JupyterLab starts for a student: not grading, quick
    mode (as on a CPU, also on a GPU machine) at the test scale (:data:`RUN_ALL_EPOCHS`,
    :data:`RUN_ALL_STEPS`), the inline figure backend (no ``MPLBACKEND``), the rest of this
    session's (data, threads)."""
    env = dict(os.environ)
    for key in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "MPLBACKEND", "JPY_SESSION_NAME"):
        env.pop(key, None)
    env.update(
        COURSE_QUICK="1", COURSE_QUICK_EPOCHS=RUN_ALL_EPOCHS, COURSE_QUICK_STEPS=RUN_ALL_STEPS
    )
    return env


def _run_all(nb, cwd: Path):
    from nbclient import NotebookClient

    # JupyterLab's kernel: no --InteractiveShell.xmode flag; widget state kept in the metadata,
    # as JupyterLab saves it, so the browser can show the widgets of the saved notebook
    client = NotebookClient(
        nb, timeout=600, allow_errors=True, kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}}, store_widget_state=True,
    )  # fmt: skip
    client.execute(env=student_env())
    return nb


def run_all(lesson: str, tmp_path_factory):
    """A lesson's solution after Run All in a student's kernel (:func:`student_env`: not
    grading; quick mode at the test scale; no trained checkpoint beside it, as in a fresh
    checkout), once per test session."""
    key = ("solutions", lesson, "run-all")
    if key not in _executed:
        _executed[key] = _run_once("solutions", lesson, "run-all", tmp_path_factory, _run_all)
    return _executed[key]
