"""What the benchmark reports share: the measured block they replace, the line that says where
and how a measurement was made, the command that made it, and the per-seed statistics.

A report (``benchmarks/*.md``) keeps each measurement between ``<!-- measured:NAME:begin -->``
and ``<!-- measured:NAME:end -->``; a benchmark run with ``--write`` replaces only that block,
so the prose around it (the reading of the numbers) stays. The lessons' reference answers come
from the checkout (:func:`course.checkout.notebooks.answer_namespace`), never a copy here.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path


def replace_block(path: Path, text: str, block: str = "quick") -> None:
    """Put ``text`` between the ``block`` markers of ``path`` (SystemExit if they are missing)."""
    begin, end = f"<!-- measured:{block}:begin -->", f"<!-- measured:{block}:end -->"
    old = path.read_text(encoding="utf-8")
    if begin not in old or end not in old:
        raise SystemExit(f"{path} has no {begin} ... {end} block to replace")
    head, rest = old.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


def load_average() -> str:
    """The machine's load average (1/5/15 min), or ``unknown``."""
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # not available on this platform
        return "unknown"


def measured_on(device: str, wall: float, more: str = "") -> str:
    """``Measured <when> UTC on <host> (<cpu>, <n> logical CPUs, <k> torch thread(s), torch
    <version>, <device>); <m> min wall-clock in all<more>.``"""
    import torch

    cpu = platform.processor() or platform.machine()
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'unknown'} "
        f"({cpu}, {os.cpu_count()} logical CPUs, {torch.get_num_threads()} torch thread(s), "
        f"torch {torch.__version__}, {device}); {wall / 60:.0f} min wall-clock in all{more}."
    )


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command as the report shows it: ``python benchmarks/<script> <arguments>``."""
    args = list(argv) if argv is not None else sys.argv[1:]
    return " ".join([f"python benchmarks/{script}", *args])


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def mean_sd(values: list[float]) -> str:
    """``mean ± sd`` of fractions, in percent (sd 0 for one value)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * sd:.1f}"
