"""One home for replacing a measured block of a benchmark report.

A report (``benchmarks/*.md``) keeps each measurement between ``<!-- measured:NAME:begin -->``
and ``<!-- measured:NAME:end -->``; a benchmark run with ``--write`` replaces only that block,
so the prose around it (the reading of the numbers) stays.
"""

from __future__ import annotations

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
