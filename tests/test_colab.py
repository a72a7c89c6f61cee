"""Google Colab, simulated: the first cell of every lesson, the GPU line, checkpoints on Drive.

Colab is recognised by its environment variable (``COLAB_RELEASE_TAG``) or its kernel module
(``google.colab``); both are simulated here. The first cell is run as Colab would run it in a
fresh runtime: a Python without the course package, where ``pip`` is a stand-in that records
what it was asked and "installs" this checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import types
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from torch import nn

import course
from course import cells, colab, data, scoring, train
from course.checkout import Checkout, notebooks
from course.tools import course_cells

SITE_PACKAGES = sysconfig.get_paths()["purelib"]  # torch & co. (on Colab: preinstalled)

FAKE_PIP = '''\
"""Stand-in for pip: records its arguments and, unless told to fail, installs the course the
way pip does (a package folder and its metadata in site-packages)."""
import json, os, shutil, sys, sysconfig
from pathlib import Path
Path(os.environ["FAKE_PIP_LOG"]).write_text(json.dumps(sys.argv[1:]))
if os.environ.get("FAKE_PIP_FAIL"):
    print("ERROR: Could not find a version that satisfies the requirement", file=sys.stderr)
    sys.exit(1)
site = Path(sysconfig.get_paths()["purelib"])
shutil.copytree(Path(os.environ["FAKE_PIP_CHECKOUT"]) / "course", site / "course",
                ignore=shutil.ignore_patterns("__pycache__"))
info = site / "resnet_course-{version}.dist-info"
info.mkdir()
(info / "METADATA").write_text("Metadata-Version: 2.1\\nName: resnet-course\\nVersion: {version}\\n")
'''


@pytest.fixture(scope="module")
def fresh_runtime(tmp_path_factory):
    """A Python like a fresh Colab runtime: torch & co. importable, the course package not;
    and a stand-in pip."""
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    preinstalled = base / "preinstalled"  # this environment's packages, minus the course
    preinstalled.mkdir()
    for entry in Path(SITE_PACKAGES).iterdir():
        if not entry.name.startswith(("resnet_course", "__editable__", "course", "_course")):
            (preinstalled / entry.name).symlink_to(entry)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "colab_preinstalled.pth").write_text(f"{preinstalled}\n")
    fake = base / "fakepip" / "pip"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(FAKE_PIP.format(version=course.__version__))
    return python, base


def run_cell(python: Path, base: Path, source: str, *, colab_env: bool, fail: bool = False):
    """Run a cell's source as a script in the simulated runtime; return (process, pip argv)."""
    log = base / "pip.json"
    log.unlink(missing_ok=True)
    workdir = base / "content"
    workdir.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(base),
        "PYTHONPATH": str(base / "fakepip"),  # `python -m pip` finds the stand-in first
        "FAKE_PIP_LOG": str(log),
        "FAKE_PIP_CHECKOUT": str(ROOT),
    }
    if colab_env:
        env["COLAB_RELEASE_TAG"] = "release-colab-20260101"
    if fail:
        env["FAKE_PIP_FAIL"] = "1"
    proc = subprocess.run(
        [str(python), "-c", source], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    pip_args = None
    if log.exists():
        import json

        pip_args = json.loads(log.read_text())
    return proc, pip_args


def test_every_lesson_starts_with_the_same_colab_cell():
    """One template: every source and release has it as its first code cell, and the progress
    cell last; both locked, so autograde restores them."""
    for lesson in Checkout(ROOT).lessons:
        for path in (Checkout(ROOT).source(lesson), Checkout(ROOT).release(lesson)):
            nb = notebooks.read(path)
            code = [c for c in nb.cells if c.cell_type == "code"]
            assert cells.grade_id(code[0]) == cells.COLAB_SETUP_ID, path
            assert code[0].source == course_cells.colab_source(), f"{path}: stale Colab cell"
            assert cells.grade_id(nb.cells[-1]) == cells.PROGRESS_ID, path
            for cell in (code[0], nb.cells[-1]):
                assert cells.nbgrader_meta(cell)["locked"] is True


def test_colab_cell_does_nothing_elsewhere(fresh_runtime):
    python, base = fresh_runtime
    proc, pip_args = run_cell(python, base, course_cells.colab_source(), colab_env=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and pip_args is None


def test_colab_cell_installs_the_pinned_package_quietly(fresh_runtime):
    """On Colab without the package: one pip call, quiet, no dependencies (Colab has them),
    pinned to this release's tag; then the package imports and colab.setup() reports."""
    python, base = fresh_runtime
    missing = subprocess.run(
        [str(python), "-c", "import course"], capture_output=True, text=True, cwd=base,
        env={"PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    assert missing.returncode != 0, "the simulated runtime must not have the course package"
    failed, _ = run_cell(python, base, course_cells.colab_source(), colab_env=True, fail=True)
    assert failed.returncode != 0
    assert "could not install the course package" in failed.stderr
    assert "Could not find a version" in failed.stderr, "pip's reason is shown"

    proc, pip_args = run_cell(python, base, course_cells.colab_source(), colab_env=True)
    assert proc.returncode == 0, proc.stderr
    assert pip_args == ["install", "--quiet", "--no-deps", course_cells.install_spec()]
    spec = course_cells.install_spec()
    assert spec.startswith(f"resnet-course @ {course.__repository__}/archive/refs/tags/")
    assert spec.endswith(f"/v{course.__version__}.zip")
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("Installing the course package")
    assert any(line.startswith("Colab: ") and "GPU" in line for line in lines), proc.stdout
    assert any("mount Google Drive" in line for line in lines), "Drive is not mounted here"
    assert len(lines) <= 4, f"not quiet: {proc.stdout}"

    # a second run of the cell (same runtime): installed already, no pip call
    again, pip_args = run_cell(python, base, course_cells.colab_source(), colab_env=True)
    assert again.returncode == 0, again.stderr
    assert pip_args is None and "Installing" not in again.stdout


@pytest.fixture
def on_colab(monkeypatch):
    """The kernel-side signal: google.colab imported."""
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert colab.on_colab()


def test_off_colab_everything_is_silent(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not colab.on_colab()
    colab.setup(tmp_path, tmp_path / "MyDrive")
    colab.tell_how_to_hand_in(tmp_path / "checkpoints" / "x.pt")
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "checkpoints").exists()


class _Props:
    def __init__(self, name, major, minor, gib):
        self.name, self.major, self.minor, self.total_memory = name, major, minor, gib * 2**30


@pytest.mark.parametrize(
    ("gpu", "bf16", "expected", "unexpected"),
    [
        (None, False, "Change runtime type", "bfloat16"),
        (_Props("Tesla T4", 7, 5, 15), False, "GPU Tesla T4 (15 GB): compute capability 7.5", ""),
        (_Props("NVIDIA A100-SXM4-40GB", 8, 0, 40), True, "GPU NVIDIA A100", "bfloat16"),
    ],
)
def test_gpu_line(monkeypatch, gpu, bf16, expected, unexpected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu is not None)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _i: gpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16)
    line = colab.gpu_line()
    assert expected in line
    if unexpected:
        assert unexpected not in line


def test_keep_on_drive_moves_and_links(tmp_path):
    work, drive = tmp_path / "content", tmp_path / "MyDrive"
    assert colab.keep_on_drive(work, drive) is None, "no Drive mounted: nothing happens"
    drive.mkdir()
    (work / "checkpoints").mkdir(parents=True)
    (work / "checkpoints" / "a.pt").write_text("trained before mounting")
    home = colab.keep_on_drive(work, drive)
    assert home == drive / colab.COURSE_FOLDER
    for name in colab.KEPT_ON_DRIVE:
        assert (work / name).is_symlink() and (work / name).resolve() == (home / name).resolve()
    assert (home / "checkpoints" / "a.pt").read_text() == "trained before mounting"
    assert colab.keep_on_drive(work, drive) == home, "running it again is harmless"
    (work / "checkpoints").unlink()  # a clash: an older local copy and a newer one on Drive
    (work / "checkpoints").mkdir()
    (work / "checkpoints" / "a.pt").write_text("old")
    os.utime(work / "checkpoints" / "a.pt", (1, 1))
    colab.keep_on_drive(work, drive)
    assert (home / "checkpoints" / "a.pt").read_text() == "trained before mounting"
    assert (home / "checkpoints" / "a.pt.older").read_text() == "old"


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(self.conv1(x).mean((2, 3)))


def test_lesson05_on_colab_resumes_after_a_disconnect(on_colab, tmp_path, monkeypatch, capsys):
    """With Drive mounted, runs/ and checkpoints/ live on Drive: after the runtime is wiped
    (a disconnect), the same cells resume training and find the saved model; saving tells the
    student how to hand it in."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    torch.set_num_threads(1)
    root = tmp_path / "cifar"
    data.make_fake_cifar10(root, n_train=100, n_test=20, seed=0)
    drive = tmp_path / "drive" / "MyDrive"
    drive.mkdir(parents=True)

    class Disconnected(Exception):
        pass

    def session(disconnect_after_epoch=None):
        work = tmp_path / "content"  # a fresh Colab VM: empty /content
        work.mkdir(exist_ok=True)
        monkeypatch.chdir(work)
        colab.setup(work, drive)
        loader = data.CifarLoader(*data.load_cifar10(root, "train"), 50, True, seed=0)
        lines = []

        def log(line):
            lines.append(line)
            if disconnect_after_epoch and line.startswith(f"epoch {disconnect_after_epoch + 1}/"):
                raise Disconnected  # epoch 1 is on Drive, epoch 2 is not

        history = train.fit(Tiny(), loader, None, epochs=3, lr=0.1, progress=False,
                            checkpoint_dir="runs/tiny", log=log)  # fmt: skip
        return work, history, lines

    with pytest.raises(Disconnected):
        session(disconnect_after_epoch=1)
    out = capsys.readouterr().out
    assert "kept on Google Drive" in out and "GPU" in out
    saved_run = drive / colab.COURSE_FOLDER / "runs" / "tiny" / train.CHECKPOINT_NAME
    assert torch.load(saved_run, weights_only=True)["epoch"] == 1
    import shutil

    shutil.rmtree(tmp_path / "content")  # the VM's disk is gone, Drive is not
    work, history, lines = session()
    assert any("resumed from" in line and "epoch 1/3" in line for line in lines), lines
    assert [row["epoch"] for row in history] == [1, 2, 3]

    model = Tiny()
    saved = scoring.save_model(model, scoring.CHECKPOINT_PATH, stem="cifar", mean=[0.5] * 3,
                               std=[0.25] * 3, classes=data.CLASSES, epochs=2,
                               val_accuracy=None)  # fmt: skip
    out = capsys.readouterr().out
    assert (drive / colab.COURSE_FOLDER / "checkpoints" / "resnet34_cifar10.pt").is_file()
    assert f"hand in {scoring.CHECKPOINT_PATH}" in out and "files.download" in out
    assert "Google Drive" in out and saved.is_file()


def test_readme_has_a_colab_badge_per_lesson():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for lesson in Checkout(ROOT).lessons:
        assert course_cells.colab_badge(lesson) in readme, f"README: no Colab badge for {lesson}"
    assert course.__repository__ in course_cells.install_spec()


def test_colab_url_shape():
    url = course_cells.colab_url("01_residual_block")
    owner_repo = course.__repository__.removeprefix("https://github.com/")
    assert url == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/v{course.__version__}/"
        "notebooks/01_residual_block/01_residual_block.ipynb"
    )
    with pytest.raises(ValueError, match="GitHub"):
        course_cells.colab_url("01", repository="https://example.org/x")


def test_first_cell_text_is_short_and_pinned():
    src = course_cells.colab_source()
    assert f'"{course.__version__}"' in src and course_cells.install_spec() in src
    assert textwrap.dedent(src) == src and len(src.splitlines()) <= 22
    compile(src, "<colab cell>", "exec")
    compile(course_cells.progress_source(), "<progress cell>", "exec")
