"""Where and how code runs: device, precision, grading mode, quick mode, seeding.

Device and precision are chosen once, here: ``cuda`` -> bf16 autocast + channels_last,
``cpu`` -> fp32. Every lesson asks this module instead of deciding on its own.

Grading mode: nbgrader sets ``NBGRADER_EXECUTION`` to ``autograde`` or ``validate`` in the
kernel it starts (and ``course check`` does the same), so a notebook can skip long training.
"""

from __future__ import annotations

import contextlib
import os
import random

QUICK_ENV = "COURSE_QUICK"


def grading_mode() -> str | None:
    """Return ``"autograde"``, ``"validate"`` (nbgrader or ``course check``) or ``None``."""
    mode = os.environ.get("NBGRADER_EXECUTION", "").strip()
    return mode or None


def is_grading() -> bool:
    """True while nbgrader (or ``course check``) executes the notebook."""
    return grading_mode() is not None


def quick_mode() -> bool:
    """True when a lesson should run its small, clearly labelled version.

    Quick when grading, when ``COURSE_QUICK=1`` is set, or when no GPU is available.
    ``COURSE_QUICK=0`` forces the full run even on a CPU (expect hours).
    """
    flag = os.environ.get(QUICK_ENV)
    if flag is not None and flag.strip() != "":
        return flag.strip().lower() not in {"0", "false", "no"}
    if is_grading():
        return True
    import torch

    return not torch.cuda.is_available()


def get_device(prefer: str | None = None):
    """The device to compute on: ``prefer`` if given, else ``cuda`` when available, else ``cpu``."""
    import torch

    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device):
    """Mixed precision for ``device``: bf16 autocast on CUDA, a no-op (fp32) on CPU."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device):
    """``torch.channels_last`` on CUDA (faster convolutions with bf16), else contiguous."""
    import torch

    return torch.channels_last if torch.device(device).type == "cuda" else torch.contiguous_format


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy (if installed) and torch (CPU and CUDA) for a reproducible run."""
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
    """One line for the top of a notebook: device, precision, mode."""
    import torch

    dev = get_device()
    prec = "bf16 autocast + channels_last" if dev.type == "cuda" else "fp32"
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "CPU"
    mode = grading_mode() or ("quick" if quick_mode() else "full")
    return f"device: {dev} ({name}), precision: {prec}, mode: {mode}, torch {torch.__version__}"
