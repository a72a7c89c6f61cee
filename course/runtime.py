"""Where and how code runs: device, precision, process group, grading mode, quick mode, seeding.

Device, precision and the distributed setup are chosen once, here; every lesson, the loader
(:class:`course.data.CifarLoader`) and the trainer (:func:`course.train.fit`) ask this module
instead of deciding on their own:

- device: ``cuda`` when available (``cuda:LOCAL_RANK`` under ``torchrun``), else ``cpu``;
- precision: ``"bf16"`` (bf16 autocast, channels_last memory, bf16 inputs) on CUDA, ``"fp32"``
  elsewhere. ``COURSE_PRECISION=bf16`` requests the bf16 path on a CPU too (CPU autocast), so
  tests and ``benchmarks/gpu_check.py --dry-run`` exercise the GPU's code path without a GPU;
  ``COURSE_PRECISION=fp32`` turns it off on a GPU. Unset (or ``auto``) keeps the default;
- process group: :func:`distributed_env` reads it, :func:`init_distributed` starts it.

Grading mode: nbgrader sets ``NBGRADER_EXECUTION`` to ``autograde`` or ``validate`` in the
kernel it starts (and ``course check`` does the same), so a notebook can skip long training.

Quick mode (:func:`quick_mode`) runs each lesson's small, labelled experiment; the test suite
shrinks those further with two knobs: ``COURSE_QUICK_EPOCHS`` (:func:`quick_epochs`) and
``COURSE_QUICK_STEPS``, optimizer steps per epoch (:func:`quick_steps`).

This module imports torch lazily: ``course --help`` and the grading tools stay fast.
"""

from __future__ import annotations

import contextlib
import os
import random

QUICK_ENV = "COURSE_QUICK"
QUICK_EPOCHS_ENV = "COURSE_QUICK_EPOCHS"
QUICK_STEPS_ENV = "COURSE_QUICK_STEPS"
PRECISION_ENV = "COURSE_PRECISION"
PRECISIONS = ("bf16", "fp32")
_PRECISION_LABELS = {"bf16": "bf16 autocast + channels_last", "fp32": "fp32"}


def grading_mode() -> str | None:
    """Return ``"autograde"``, ``"validate"`` (nbgrader or ``course check``) or ``None``.

    Lessons: none directly (:func:`is_grading` and :func:`describe` read it).
    """
    mode = os.environ.get("NBGRADER_EXECUTION", "").strip()
    return mode or None


def is_grading() -> bool:
    """True while nbgrader (or ``course check``) executes the notebook.

    Lessons: 02_plain_vs_residual, 04_inception, 05_resnet34_cifar10, 06_residual_variants,
    07_highway_densenet (skip long work while graded); :func:`course.train.fit` caps training by it."""
    return grading_mode() is not None


def quick_mode() -> bool:
    """True when a lesson should run its small, clearly labelled version.

    Quick when grading, when ``COURSE_QUICK=1`` is set, or when no GPU is available.
    ``COURSE_QUICK=0`` forces the full run even on a CPU (expect hours).

    Lessons: 04_inception, 05_resnet34_cifar10 (and 02 through :mod:`course.experiments.degradation`).
    """
    flag = os.environ.get(QUICK_ENV)
    if flag is not None and flag.strip() != "":
        return flag.strip().lower() not in {"0", "false", "no"}
    if is_grading():
        return True
    import torch

    return not torch.cuda.is_available()


def quick_epochs(epochs: int) -> int:
    """The epochs a training run takes: ``epochs``, or at most ``$COURSE_QUICK_EPOCHS`` in a quick
    run outside grading.

    One of the test suite's two scale knobs (the other: :func:`quick_steps`): tests/conftest.py
    sets both in the kernels that Run All a lesson, so every quick experiment (lessons 02, 05,
    06, 07 train through :func:`course.train.fit`, which asks both functions) runs the same cells
    and code on fewer epochs. Unset (students, Colab), in a full run and while grading (capped
    in steps already): ``epochs``. A value that is not a positive integer raises ``ValueError``.

    Lessons: none directly (:func:`course.train.fit` calls it).
    """
    return _scale_knob(QUICK_EPOCHS_ENV, epochs, "epochs")


def quick_steps(steps: int) -> int:
    """The optimizer steps one epoch of a training run takes: ``steps`` (the loader's batches),
    or at most ``$COURSE_QUICK_STEPS`` in a quick run outside grading.

    The test suite's second scale knob (see :func:`quick_epochs`): an epoch cut to these steps
    is a whole epoch of a smaller run (its schedule planned over them, then evaluated), not a
    partial one. :func:`course.train.fit` asks it; so do the lessons' hand-written loops (a
    loop of one pass is one epoch).

    Lessons: 04_inception (its training loop), 07_highway_densenet (the memorisation runs).
    """
    return _scale_knob(QUICK_STEPS_ENV, steps, "steps per epoch")


def _scale_knob(env: str, asked: int, what: str) -> int:
    """``asked``, or at most ``$env`` in a quick run outside grading."""
    flag = os.environ.get(env, "").strip()
    if not flag or is_grading() or not quick_mode():
        return asked
    if not flag.isdigit() or int(flag) < 1:
        raise ValueError(f"${env}={flag!r}: use a positive number of {what} (or unset it).")
    return min(asked, int(flag))


# --------------------------------------------------------------------------------------------
# processes and devices
# --------------------------------------------------------------------------------------------


def distributed_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` of this process; ``(0, 1, 0)`` when alone.

    From the initialised process group if there is one, else from ``torchrun``'s environment
    (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), so a loader built before
    :func:`init_distributed` already knows its shard. Starts nothing.

    Lessons: none directly (:class:`course.data.CifarLoader` shards by it,
    :func:`init_distributed` and :func:`get_device` read it).
    """
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), local_rank
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), local_rank


def init_distributed() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)``; under ``torchrun`` also initialise the process group.

    Detects torchrun through ``WORLD_SIZE``/``RANK``; backend ``nccl`` on CUDA (and the process's
    GPU becomes ``cuda:LOCAL_RANK``), ``gloo`` on CPU. Without torchrun: ``(0, 1, 0)``.
    Idempotent; the caller ends the group (``torch.distributed.destroy_process_group()``).
    Also importable as ``course.train.init_distributed``.

    Lessons: none directly (:func:`course.train.fit` calls it; a ``torchrun`` script may too).
    """
    import torch
    import torch.distributed as dist

    rank, world_size, local_rank = distributed_env()
    if dist.is_available() and dist.is_initialized():
        return rank, world_size, local_rank
    if world_size <= 1 or "RANK" not in os.environ:
        return 0, 1, 0
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size(), local_rank


def get_device(prefer: str | None = None):
    """The device to compute on: ``prefer`` if given, else ``cuda`` when available, else ``cpu``.

    Under ``torchrun`` (``LOCAL_RANK`` set) the CUDA device is this process's own GPU,
    ``cuda:LOCAL_RANK``.

    Lessons: 04_inception, 05_resnet34_cifar10 (and through :class:`course.data.CifarLoader`,
    :func:`course.train.fit` and :mod:`course.experiments.degradation`, every training lesson).
    """
    import torch

    if prefer is not None:
        return torch.device(prefer)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device("cuda")


# --------------------------------------------------------------------------------------------
# precision
# --------------------------------------------------------------------------------------------


def precision(device) -> str:
    """``"bf16"`` or ``"fp32"``: how the course computes on ``device``.

    Default: ``"bf16"`` on CUDA (bf16 autocast, channels_last, bf16 loader inputs), ``"fp32"``
    on any other device. ``$COURSE_PRECISION`` (``bf16``, ``fp32`` or ``auto``) overrides it,
    e.g. ``COURSE_PRECISION=bf16`` to run the GPU's bf16 path under CPU autocast in a test.

    Lessons: none directly (:func:`autocast`, :func:`memory_format`, :func:`input_dtype` and
    :func:`describe` follow it).
    """
    import torch

    choice = os.environ.get(PRECISION_ENV, "").strip().lower()
    if choice in PRECISIONS:
        return choice
    if choice not in ("", "auto"):
        raise ValueError(
            f"${PRECISION_ENV}={os.environ[PRECISION_ENV]!r}: use 'bf16', 'fp32' or 'auto' "
            "(or unset it for the default: bf16 on CUDA, fp32 elsewhere)."
        )
    return "bf16" if torch.device(device).type == "cuda" else "fp32"


def precision_label(device) -> str:
    """Human-readable :func:`precision`: ``"bf16 autocast + channels_last"`` or ``"fp32"``.

    Lessons: none directly (:func:`describe` and the benchmarks print it).
    """
    return _PRECISION_LABELS[precision(device)]


def autocast(device):
    """Mixed precision for ``device``: bf16 autocast on CUDA, a no-op (fp32) on CPU.

    Follows :func:`precision`: with ``COURSE_PRECISION=bf16`` also bf16 autocast on a CPU.

    Lessons: 04_inception (and every forward pass of :mod:`course.train`).
    """
    import torch

    device = torch.device(device)
    if precision(device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device):
    """``torch.channels_last`` on CUDA (faster convolutions with bf16), else contiguous.

    Follows :func:`precision`: channels_last wherever the bf16 path is on.

    Lessons: 04_inception (and :class:`course.data.CifarLoader`, :func:`course.train.fit`).
    """
    import torch

    return torch.channels_last if precision(device) == "bf16" else torch.contiguous_format


def input_dtype(device):
    """The dtype a loader gives images on ``device``: ``torch.bfloat16`` on the bf16 path,
    else ``torch.float32`` (follows :func:`precision`).

    Lessons: none directly (:class:`course.data.CifarLoader` uses it).
    """
    import torch

    return torch.bfloat16 if precision(device) == "bf16" else torch.float32


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy (if installed) and torch (CPU and CUDA) for a reproducible run.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    import torch

    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency, but stay usable without it
        pass
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def describe() -> str:
    """One line for the top of a notebook: device, precision, mode.

    Lessons: 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    import torch

    dev = get_device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    mode = grading_mode() or ("quick" if quick_mode() else "full")
    return (
        f"device: {dev} ({name}), precision: {precision_label(dev)}, mode: {mode}, "
        f"torch {torch.__version__}"
    )
