"""How robust is lesson 02's quick degradation run? The same run over several seeds, tabulated.

Each seed draws new random labels, new initial weights and a new batch order; all four networks
of a seed share them. The networks are the lesson's reference solution (``ShortcutA`` and
``cifar_net`` from ``solutions/02_plain_vs_residual``), trained by ``course.experiments.degradation.run``
exactly as the notebook trains them.

    python benchmarks/degradation_robustness.py                      # 5 seeds, quick budget
    python benchmarks/degradation_robustness.py --seeds 0 1 2 --json out.json
    python benchmarks/degradation_robustness.py --write              # update DEGRADATION.md

``--write`` replaces a measured block of ``benchmarks/DEGRADATION.md`` (between its
``<!-- measured:quick:begin -->`` / ``<!-- measured:quick:end -->`` markers, or those named by
``--block``) with this run's table, date, machine and command. ``--lr`` / ``--epochs`` vary the
quick budget to see how sensitive the result is:

    python benchmarks/degradation_robustness.py --lr 0.1 --seeds 0 1 2 --block lr0.1 --write
 Images come from ``course.data.data_root()`` (``$COURSE_DATA``, ``./data``),
or the synthetic stand-in when there is no CIFAR-10 there; the table says which.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from measured_block import command_line, mean_sd, measured_on, pct, replace_block

from course.checkout import Checkout, notebooks
from course.experiments import degradation

LESSON = "02_plain_vs_residual"
REPORT = Path(__file__).resolve().parent / "DEGRADATION.md"
MARGIN = 0.02  # a difference of 2 points of training error or less counts as a tie


def reference_cifar_net():
    """The solution's ``cifar_net`` (with its ``ShortcutA``)."""
    names = ("ShortcutA", "cifar_net")
    return notebooks.answer_namespace(Checkout.find().source(LESSON), names)["cifar_net"]


def verdict(errors: dict[str, float], shallow: int, deep: int) -> dict:
    """Per seed: the plain and residual gaps (deep minus shallow training error) and verdicts."""
    plain = errors[f"plain-{deep}"] - errors[f"plain-{shallow}"]
    residual = errors[f"ResNet-{deep}"] - errors[f"ResNet-{shallow}"]
    return {
        "plain_gap": plain,
        "residual_gap": residual,
        "plain_degrades": plain > MARGIN,  # deeper plain net clearly worse
        "residual_does_not": residual <= MARGIN,  # deeper residual net no worse (within margin)
    }


def measure(seeds, depths, config, log=print) -> list[dict]:
    cifar_net = reference_cifar_net()
    rows = []
    for seed in seeds:
        task = degradation.make_task(config, seed=seed)
        t0 = time.perf_counter()
        results = degradation.run(cifar_net, depths, config, task, seed=seed, log=lambda _m: None)
        errors = {r["label"]: r["final_error"] for r in results}
        row = {"seed": seed, "errors": errors, "seconds": time.perf_counter() - t0}
        row.update(verdict(errors, min(depths), max(depths)))
        row["task"] = task.description
        rows.append(row)
        log(
            f"seed {seed}: "
            + "  ".join(f"{k} {v:.1%}" for k, v in errors.items())
            + f"  ({row['seconds']:.0f} s)"
        )
    return rows


def table(rows: list[dict], depths) -> str:
    """Markdown: one line per seed, then mean ± sd and the counts of seeds that show the effect."""
    shallow, deep = min(depths), max(depths)
    labels = list(rows[0]["errors"])
    head = ["seed", *labels, f"plain {deep}−{shallow}", f"ResNet {deep}−{shallow}", "shows it"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        both = r["plain_degrades"] and r["residual_does_not"]
        cells = [str(r["seed"]), *(pct(r["errors"][k]) for k in labels)]
        cells += [f"{100 * r['plain_gap']:+.1f}", f"{100 * r['residual_gap']:+.1f}"]
        lines.append("| " + " | ".join([*cells, "yes" if both else "**no**"]) + " |")
    mean = ["mean ± sd", *(mean_sd([r["errors"][k] for r in rows]) for k in labels)]
    mean += [mean_sd([r["plain_gap"] for r in rows]), mean_sd([r["residual_gap"] for r in rows])]
    n = len(rows)
    k = sum(r["plain_degrades"] and r["residual_does_not"] for r in rows)
    lines.append("| " + " | ".join([*mean, f"{k}/{n}"]) + " |")
    return "\n".join(lines)


def report(rows, depths, config, command: str, wall: float) -> str:
    shallow, deep = min(depths), max(depths)
    n = len(rows)
    degrade = sum(r["plain_degrades"] for r in rows)
    holds = sum(r["residual_does_not"] for r in rows)
    both = sum(r["plain_degrades"] and r["residual_does_not"] for r in rows)
    return "\n".join(
        [
            measured_on(str(degradation.runtime.get_device()), wall),
            "",
            f"Command: `{command}`",
            "",
            f"Budget `{config.name}`: {json.dumps(asdict(config))}",
            "",
            f"Data: {rows[0]['task']} (labels redrawn per seed).",
            "",
            f"Final training error (%, whole training subset, eval mode) per seed; gaps are "
            f"{deep}-layer minus {shallow}-layer, in points:",
            "",
            table(rows, depths),
            "",
            f"- plain-{deep} worse than plain-{shallow} by more than {100 * MARGIN:.0f} points: "
            f"**{degrade}/{n}** seeds;",
            f"- ResNet-{deep} no worse than ResNet-{shallow} (within {100 * MARGIN:.0f} points): "
            f"**{holds}/{n}** seeds;",
            f"- both (the phenomenon as the lesson describes it): **{both}/{n}** seeds.",
        ]
    )


def write_report(text: str, block: str = "quick", path: Path = REPORT) -> None:
    replace_block(path, text, block)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--depths", type=int, nargs=2, default=[20, 56])
    parser.add_argument("--epochs", type=int, help="override the quick budget's epochs")
    parser.add_argument("--lr", type=float, help="override the quick budget's peak lr")
    parser.add_argument("--block", default="quick", help="the block of the report to replace")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", help="write the rows as JSON to this file")
    parser.add_argument("--write", action="store_true", help=f"update {REPORT.name}")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    config = degradation.QUICK
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    if args.lr:
        config = replace(config, lr=args.lr)
    command = command_line("degradation_robustness.py", argv)
    t0 = time.perf_counter()
    rows = measure(args.seeds, tuple(args.depths), config)
    text = report(rows, args.depths, config, command.strip(), time.perf_counter() - t0)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.write:
        write_report(text, args.block)
        print(f"\nwrote {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
