"""Lesson 06's experiment over several seeds: the five units of He et al. 2016, Fig. 4, side by side.

The units are the lesson's reference solution (``PreActBlock`` and ``block_variant`` from
``solutions/06_residual_variants``), trained by ``course.experiments.variants.run`` exactly as the notebook
trains them. Each seed draws new random labels, new initial weights and a new batch order; the
five networks of a seed share them. It also measures the gradient profile of 64-unit stacks at
initialisation (``course.experiments.variants.gradient_profiles``) for each seed.

    python benchmarks/variants_robustness.py                       # 5 seeds, quick budget (CPU)
    python benchmarks/variants_robustness.py --seeds 0 1 2 --json out.json
    python benchmarks/variants_robustness.py --write               # update VARIANTS.md
    python benchmarks/variants_robustness.py --budget full --seeds 0 1 2 --block full --write  # GPU

``--write`` replaces a measured block of ``benchmarks/VARIANTS.md`` (between its
``<!-- measured:quick:begin -->`` / ``<!-- measured:quick:end -->`` markers, or those named by
``--block``) with this run's tables, date, machine and command. The full budget trains on
CIFAR-10 from ``course.data.data_root()`` (``$COURSE_DATA``, ``./data``; downloaded when missing
and online) and reports test error too; without CIFAR-10 it refuses to run, since a result on
the synthetic stand-in would be meaningless.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from measured_block import command_line, mean_sd, measured_on, pct, replace_block

from course import data, runtime
from course.checkout import Checkout, notebooks
from course.experiments import variants

LESSON = "06_residual_variants"
REPORT = Path(__file__).resolve().parent / "VARIANTS.md"
MARGIN = 0.02  # a difference of 2 points of training error or less counts as a tie
WORST = ("bn_after_add", "relu_before_add")  # the two units Table 2 ranks worst


def reference_block_variant():
    """The solution's ``block_variant`` (with its ``PreActBlock``)."""
    names = ("PreActBlock", "block_variant")
    return notebooks.answer_namespace(Checkout.find().source(LESSON), names)["block_variant"]


def measure(seeds, config, kinds=variants.KINDS, log=print) -> list[dict]:
    block_variant = reference_block_variant()
    rows = []
    for seed in seeds:
        task = variants.degradation.make_task(config, seed=seed)
        t0, c0 = time.perf_counter(), time.process_time()
        results = variants.run(block_variant, kinds, config, task, seed=seed, log=lambda _m: None)
        train_cpu = time.process_time() - c0
        profiles = variants.gradient_profiles(block_variant, kinds, units=64, seed=seed)
        row = {
            "seed": seed,
            "errors": {r["kind"]: r["final_error"] for r in results},
            "losses": {r["kind"]: r["final_loss"] for r in results},
            "test_errors": {r["kind"]: r["test_error"] for r in results},
            "input_gradient": {k: v[0] for k, v in profiles.items()},
            "min_gradient": {k: min(v) for k, v in profiles.items()},
            "seconds": time.perf_counter() - t0,
            "train_cpu_seconds": train_cpu,  # CPU time of this process for the trainings
            "task": task.description,
            "params": results[0]["params"],
            "layers": results[0]["layers"],
        }
        ranked = sorted(kinds, key=lambda k: row["errors"][k])
        row["worst_two"] = sorted(ranked[-2:])
        rows.append(row)
        log(
            f"seed {seed}: "
            + "  ".join(f"{k} {v:.1%}" for k, v in row["errors"].items())
            + f"  ({row['seconds']:.0f} s wall, {row['train_cpu_seconds']:.0f} s CPU training)"
        )
    return rows


def error_table(rows: list[dict], kinds, key: str = "errors") -> str:
    head = ["seed", *(variants.LABELS[k] for k in kinds), "two worst"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        worst = " & ".join(variants.LABELS[k].split(")")[0] + ")" for k in r["worst_two"])
        lines.append(
            "| " + " | ".join([str(r["seed"]), *(pct(r[key][k]) for k in kinds), worst]) + " |"
        )
    mean = ["mean ± sd", *(mean_sd([r[key][k] for r in rows]) for k in kinds)]
    n_worst = sum(sorted(WORST) == r["worst_two"] for r in rows)
    lines.append("| " + " | ".join([*mean, f"(b) & (c): {n_worst}/{len(rows)}"]) + " |")
    return "\n".join(lines)


def gradient_table(rows: list[dict], kinds) -> str:
    head = ["seed", *(variants.LABELS[k] for k in kinds)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{r['input_gradient'][k]:.3g} (min {r['min_gradient'][k]:.2g})" for k in kinds]
        lines.append("| " + " | ".join([str(r["seed"]), *cells]) + " |")
    return "\n".join(lines)


def report(rows, config, kinds, command: str, wall: float) -> str:
    n = len(rows)
    device = runtime.get_device()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    worst = sum(sorted(WORST) == r["worst_two"] for r in rows)
    e_vs_a = sum(r["errors"]["full_preact"] <= r["errors"]["original"] + MARGIN for r in rows)
    lines = [
        measured_on(name, wall),
        "",
        f"Command: `{command}`",
        "",
        f"Budget `{config.name}`: {json.dumps(asdict(config))}",
        "",
        f"Data: {rows[0]['task']} (labels redrawn per seed). Networks: {rows[0]['layers']} weighted "
        f"layers, {rows[0]['params']:,} parameters each.",
        "",
        "Final training error (%, whole training set, eval mode) per seed:",
        "",
        error_table(rows, kinds),
        "",
    ]
    if any(r["test_errors"][k] is not None for r in rows for k in kinds):
        lines += [
            "Test error (%, CIFAR-10 test set):",
            "",
            error_table(rows, kinds, "test_errors"),
            "",
        ]
    cpu_times = [r.get("train_cpu_seconds") for r in rows]
    if all(c is not None for c in cpu_times):
        lines += [
            f"CPU time of the five trainings per seed (this process): {min(cpu_times):.0f}–{max(cpu_times):.0f} s "
            f"(wall-clock per seed, gradients included: "
            f"{min(r['seconds'] for r in rows):.0f}–{max(r['seconds'] for r in rows):.0f} s).",
            "",
        ]
    lines += [
        f"- (b) and (c) the two worst: **{worst}/{n}** seeds;",
        f"- (e) no worse than (a) (within {100 * MARGIN:.0f} points): **{e_vs_a}/{n}** seeds.",
        "",
        "Gradient at the input of a 64-unit stack at initialisation, relative to the gradient sent "
        "into its top (`variants.gradient_profiles`, 16 channels, 8×8, batch 32; in brackets the "
        "smallest ratio along the stack):",
        "",
        gradient_table(rows, kinds),
    ]
    return "\n".join(lines)


def write_report(text: str, block: str = "quick", path: Path = REPORT) -> None:
    replace_block(path, text, block)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", choices=["quick", "full"], default="quick")
    parser.add_argument("--units", type=int, help="override the quick budget's units per net")
    parser.add_argument("--epochs", type=int, help="override the budget's epochs")
    parser.add_argument("--lr", type=float, help="override the budget's peak lr")
    parser.add_argument("--block", default="quick", help="the block of the report to replace")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on a CPU (default 1)")
    parser.add_argument("--json", help="write the rows as JSON to this file")
    parser.add_argument("--write", action="store_true", help=f"update {REPORT.name}")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    config = variants.QUICK if args.budget == "quick" else variants.FULL
    if args.units:
        config = replace(config, stages=(args.units,) * len(config.stages))
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    if args.lr:
        config = replace(config, lr=args.lr)
    if args.budget == "full":
        root = data.data_root()
        try:
            data.download_cifar10(root)
        except data.DataError as err:
            raise SystemExit(f"the full budget needs CIFAR-10 in {root}: {err}") from err
    command = command_line("variants_robustness.py", argv)
    t0 = time.perf_counter()
    rows = measure(args.seeds, config)
    text = report(rows, config, variants.KINDS, command.strip(), time.perf_counter() - t0)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.write:
        write_report(text, args.block)
        print(f"\nwrote {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
