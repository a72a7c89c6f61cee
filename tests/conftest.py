"""Shared fixtures: the lessons, fresh releases, executed notebooks (cached per test session).

Notebooks never run in place: each execution gets a scratch copy of its lesson folder, so tests
leave nothing behind in ``solutions/`` or ``notebooks/`` (and parallel workers do not race on
``data/`` or ``checkpoints/``). Every lesson finds its data through ``$COURSE_DATA``
(:func:`course.data.data_root`), which points at one small synthetic archive per test worker.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from course import data
from course.tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")
SCRATCH_IGNORE = shutil.ignore_patterns(
    "data", "checkpoints", "*.pt", "__pycache__", ".ipynb_checkpoints"
)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, driven by Playwright) for every page check of a test
    process: the site's and the instructor pages' (a second sync Playwright in one process
    fails)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from browser import launch  # tests/browser.py: Debian's chromium, its flags

    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def all_lessons() -> list[str]:
    return notebooks.lessons(ROOT)


@pytest.fixture(scope="session", autouse=True)
def course_data(tmp_path_factory) -> Path:
    """A synthetic CIFAR-10 archive for every notebook this test session runs."""
    root = tmp_path_factory.mktemp("cifar")
    root.chmod(0o755)  # pytest makes it 0700; under root the sandbox reads it as another uid
    data.make_fake_cifar10(root, n_train=2000, n_test=500, seed=0)
    # notebook kernels inherit these: the lesson-05 grader scores 100 test images, and each
    # kernel runs one torch thread (2 xdist workers x 2 threads on 2 cores is ~2x slower)
    settings = {data.DATA_ENV: str(root), "COURSE_SCORE_N": "100", "OMP_NUM_THREADS": "1"}
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
    """Every lesson released anew into a temporary folder (the real nbgrader generate_assignment)."""
    dest = tmp_path_factory.mktemp("release")
    notebooks.release(
        all_lessons(), dest=dest, root=ROOT, log=lambda *_: None, normalize_sources=False
    )
    return dest


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


_executed: dict[tuple[str, str], object] = {}


def executed(kind: str, lesson: str, tmp_path_factory):
    """Execute the source (``kind='solutions'``) or release (``'notebooks'``) of a lesson once."""
    key = (kind, lesson)
    if key not in _executed:
        path = scratch_copy(kind, lesson, tmp_path_factory.mktemp(f"{kind}-{lesson}"))
        _executed[key] = notebooks.execute(notebooks.read(path), cwd=path.parent, timeout=300)
    return _executed[key]
