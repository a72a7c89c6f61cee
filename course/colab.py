"""Google Colab: the GPU, checkpoints that survive a disconnect, and handing in a model.

Every lesson's first cell (one template, :mod:`course.tools.course_cells`) installs this package
on Colab and then calls :func:`setup`, which on Colab only

* says which GPU the runtime has, or how to get one (lesson 05's full training needs it);
* when Google Drive is mounted, keeps ``checkpoints/`` and ``runs/`` (the resumable training
  state of :func:`course.train.fit`) in ``MyDrive/resnets-hands-on/`` by linking them there, so
  after a disconnect the same cells load the trained model or resume training from the last
  epoch; when it is not mounted, says how to mount it.

:func:`course.scoring.save_model` calls :func:`tell_how_to_hand_in`, which on Colab explains how
to download the graded checkpoint and hand it in with the notebook. Off Colab both do nothing.

Lessons: every lesson, through its generated first cell (:mod:`course.tools.course_cells`);
05_resnet34_cifar10 through ``course.scoring.save_model``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DRIVE_MOUNT = Path("/content/drive")
DRIVE_ROOT = DRIVE_MOUNT / "MyDrive"
COURSE_FOLDER = "resnets-hands-on"  # the nbgrader course id
KEPT_ON_DRIVE = ("checkpoints", "runs")


def on_colab() -> bool:
    """True in a Google Colab runtime (its kernel imports ``google.colab``; the VM sets
    ``COLAB_RELEASE_TAG``)."""
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def gpu_line() -> str:
    """One line: the GPU this runtime has, or how to get one."""
    import torch

    if not torch.cuda.is_available():
        return (
            "no GPU in this runtime: lessons 01-04 run fine on the CPU; for lesson 05's full "
            "training choose Runtime > Change runtime type > a GPU (T4 is free), then run the "
            "notebook again from the top."
        )
    props = torch.cuda.get_device_properties(0)
    line = f"GPU {props.name} ({props.total_memory / 2**30:.0f} GB)"
    try:
        native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3 has no including_emulation
        native_bf16 = props.major >= 8
    if not native_bf16:
        line += (
            f": compute capability {props.major}.{props.minor} has no bfloat16 tensor cores, "
            "so mixed-precision training runs slower here than on an L4 or A100"
        )
    return line


def keep_on_drive(
    workdir: str | os.PathLike = ".",
    drive_root: str | os.PathLike = DRIVE_ROOT,
    names: tuple[str, ...] = KEPT_ON_DRIVE,
) -> Path | None:
    """Link ``workdir/<name>`` to ``<drive_root>/resnets-hands-on/<name>`` for each name.

    Files already in a local folder move to Drive (on a name clash the newer file wins and the
    older one is kept beside it as ``<name>.older``). Returns the Drive folder, or ``None``
    when ``drive_root`` does not exist (Drive not mounted). Running it again is harmless.
    """
    drive_root = Path(drive_root)
    if not drive_root.is_dir():
        return None
    home = drive_root / COURSE_FOLDER
    for name in names:
        local, remote = Path(workdir) / name, home / name
        remote.mkdir(parents=True, exist_ok=True)
        if local.is_symlink():
            if local.resolve() == remote.resolve():
                continue
            local.unlink()
        elif local.is_dir():
            for item in local.iterdir():
                target = remote / item.name
                if target.exists():
                    newer, older = (
                        (item, target)
                        if item.stat().st_mtime > target.stat().st_mtime
                        else (target, item)
                    )
                    shutil.move(str(older), str(remote / (item.name + ".older")))
                    if newer is item:
                        shutil.move(str(item), str(target))
                else:
                    shutil.move(str(item), str(target))
            local.rmdir()
        elif local.exists():
            raise FileExistsError(f"{local} is a file, not a folder: move it away and run again")
        local.symlink_to(remote, target_is_directory=True)
    return home


def setup(workdir: str | os.PathLike = ".", drive_root: str | os.PathLike = DRIVE_ROOT) -> None:
    """On Colab: print the GPU line and keep checkpoints on Drive if mounted (see module doc)."""
    if not on_colab():
        return
    print(f"Colab: {gpu_line()}")
    home = keep_on_drive(workdir, drive_root)
    if home is None:
        print(
            "Colab: to keep trained models and training progress across a disconnect, mount "
            "Google Drive before training: run `from google.colab import drive; "
            f"drive.mount('{DRIVE_MOUNT}')`, then run this cell again."
        )
    else:
        kept = " and ".join(f"{n}/" for n in KEPT_ON_DRIVE)
        print(
            f"Colab: {kept} are kept on Google Drive in {home}: after a disconnect, mount Drive "
            "again and run the notebook; a trained model is loaded and unfinished training "
            "resumes from its last epoch."
        )


def tell_how_to_hand_in(path: str | os.PathLike) -> None:
    """On Colab: how to hand in the saved checkpoint ``path`` together with the notebook."""
    if not on_colab():
        return
    path = Path(path)
    where = ""
    if path.parent.is_symlink() or path.resolve().is_relative_to(DRIVE_MOUNT):
        where = f" A copy is safe on Google Drive: {path.resolve()}."
    print(
        f"Colab: hand in {path} together with this notebook. Download it (Files panel > "
        f"{path.parent.name} > ⋮ > Download, or run `from google.colab import files; "
        f"files.download('{path}')`) and the notebook (File > Download > Download .ipynb), "
        f"and submit both, the checkpoint in a folder named {path.parent.name}/ next to the "
        f"notebook.{where}"
    )
