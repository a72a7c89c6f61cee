"""Lesson 07's side-by-side comparison (ResNet vs Highway vs DenseNet, matched parameters), measured.

The networks are built from the lesson's reference solution (``ConvHighwayUnit``, ``DenseLayer``,
``DenseBlock``, ``Transition``, ``DenseNet`` from ``solutions/07_highway_densenet``) by
``course.experiments.comparison.matched_networks`` and measured and trained by ``course.experiments.comparison.compare``,
exactly as the notebook does, over several seeds:

    python benchmarks/architecture_comparison.py                   # 5 seeds, the quick budget
    python benchmarks/architecture_comparison.py --seeds 0 1 2 --lr 0.025 --block lr0.025 --write
    python benchmarks/architecture_comparison.py --write --figure benchmarks/architecture_comparison.png

``--write`` replaces a measured block of ``benchmarks/ARCHITECTURES.md`` (between its
``<!-- measured:quick:begin -->`` / ``<!-- measured:quick:end -->`` markers, or those named by
``--block``) with this run's tables, date, machine and command; the quick block is also copied
into lesson 07's table (section 5, between ``<!-- measured-table:begin/end -->``; ``--lesson-only``
copies it without measuring). Images come from
``course.data.data_root()`` (``$COURSE_DATA``, ``./data``), or the synthetic stand-in when there is
no CIFAR-10 there; the report says which.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from measured_block import command_line, load_average, measured_on, replace_block

from course.checkout import Checkout, notebooks
from course.experiments import comparison
from course.tools import releases

LESSON = "07_highway_densenet"
REPORT = Path(__file__).resolve().parent / "ARCHITECTURES.md"
CLASSES = ("ConvHighwayUnit", "DenseLayer", "DenseBlock", "Transition", "DenseNet")


def reference_classes() -> dict:
    """The solution's classes, by name (answer cells run with their markers removed)."""
    namespace = notebooks.answer_namespace(Checkout.find().source(LESSON), CLASSES)
    return {name: namespace[name] for name in CLASSES}


def per_seed_table(rows: list[dict]) -> str:
    """Markdown: final training error (%) per seed and network."""
    names = list(dict.fromkeys(r["name"] for r in rows))
    seeds = list(dict.fromkeys(r["seed"] for r in rows))
    err = {(r["name"], r["seed"]): r["final_error"] for r in rows}
    lines = ["| seed | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for s in seeds:
        lines.append(f"| {s} | " + " | ".join(f"{100 * err[n, s]:.1f}" for n in names) + " |")
    return "\n".join(lines)


def report(rows: list[dict], config, command: str, wall: float, load_before: str = "") -> str:
    summary = comparison.summarize(rows)
    seconds = {
        n: sum(r["seconds"] for r in rows if r["name"] == n) / len(s["errors"])
        for n, s in summary.items()
    }
    return "\n".join(
        [
            measured_on(
                str(comparison.runtime.get_device()),
                wall,
                f"; load average (1/5/15 min) {load_before} before, {load_average()} after",
            ),
            "",
            f"Command: `{command}`",
            "",
            f"Budget `{config.name}`: {json.dumps(asdict(config))}",
            "",
            f"Data: {rows[0]['task']} (labels redrawn per seed).",
            "",
            f"Measurements (first seed; time per step at batch {config.batch_size} on "
            f"{config.image_size}x{config.image_size} images, one SGD step, fastest of 10) and final "
            f"training error (whole training subset, eval mode; mean ± sd over "
            f"{len(next(iter(summary.values()))['errors'])} seeds):",
            "",
            comparison.format_table(rows, markdown=True),
            "",
            "Final training error (%) per seed:",
            "",
            per_seed_table(rows),
            "",
            "Training time per run (s, mean over seeds): "
            + ", ".join(f"{n} {s:.0f}" for n, s in seconds.items())
            + ".",
        ]
    )


def write_report(text: str, block: str = "quick", path: Path = REPORT) -> None:
    replace_block(path, text, block)


LESSON_BEGIN, LESSON_END = "<!-- measured-table:begin -->", "<!-- measured-table:end -->"


def write_lesson_table(report: Path = REPORT) -> bool:
    """Put the report's quick block, as ``comparison.lesson_table``, between the markers of lesson
    07's source (section 5); True if the lesson changed (then run ``course release``)."""
    table = comparison.lesson_table(comparison.read_measured(report.read_text(encoding="utf-8")))
    path = Checkout.find().source(LESSON)
    nb = notebooks.read(path)
    cell = next(c for c in nb.cells if LESSON_BEGIN in c.source)
    head, rest = cell.source.split(LESSON_BEGIN, 1)
    new = f"{head}{LESSON_BEGIN}\n{table}\n{LESSON_END}{rest.split(LESSON_END, 1)[1]}"
    if new == cell.source:
        return False
    cell.source = new
    notebooks.write(releases.normalize(nb), path)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, help="override the quick budget's epochs")
    parser.add_argument("--lr", type=float, help="override the quick budget's peak lr")
    parser.add_argument("--n-images", type=int, help="override the quick budget's image count")
    parser.add_argument("--block", default="quick", help="the block of the report to replace")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", help="write the rows as JSON to this file")
    parser.add_argument("--figure", help="save the comparison figure (PNG) to this file")
    parser.add_argument("--write", action="store_true", help=f"update {REPORT.name}")
    parser.add_argument(
        "--lesson-only",
        action="store_true",
        help=f"measure nothing: copy {REPORT.name}'s quick block into lesson 07's table",
    )
    args = parser.parse_args(argv)
    if args.lesson_only:
        changed = write_lesson_table()
        print(
            "lesson 07's table "
            + ("updated: run `course release 07_highway_densenet`" if changed else "is current")
        )
        return 0

    torch.set_num_threads(args.threads)
    config = comparison.QUICK
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    if args.lr:
        config = replace(config, lr=args.lr)
    if args.n_images:
        config = replace(config, n_images=args.n_images)
    command = command_line("architecture_comparison.py", argv)
    classes = reference_classes()
    nets = comparison.matched_networks(classes["ConvHighwayUnit"], classes["DenseNet"])
    load_before = load_average()
    t0 = time.perf_counter()
    rows = comparison.compare(nets, config=config, seeds=args.seeds)
    text = report(rows, config, command.strip(), time.perf_counter() - t0, load_before)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        comparison.plot(rows).savefig(args.figure, dpi=110)
        print(f"\nsaved {args.figure}")
    if args.write:
        write_report(text, args.block)
        print(f"\nwrote {REPORT}")
        if args.block == "quick" and write_lesson_table():
            print("updated lesson 07's measured table: run `course release 07_highway_densenet`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
