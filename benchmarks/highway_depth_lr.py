"""Lesson 07 §1's 50-layer memorisation run (highway b_T = -2 / -6, plain He-initialised), by learning rate.

The lesson trains each 50-layer network for 300 SGD steps (momentum 0.9) on random labels of 512
random points at lr 0.05, seed 0, and reads the final error on the 512 points. This script runs the
lesson's own code (``plain_layer``, ``deep_mlp``, ``memorise`` from its code cells, ``HighwayLayer``
from the reference solution) at other learning rates and seeds:

    python benchmarks/highway_depth_lr.py --write          # lr 0.05 and 0.01, seeds 0 1 2

``--write`` replaces the ``depth-lr`` block of ``benchmarks/ARCHITECTURES.md``.
"""

from __future__ import annotations

import argparse
import ast
import platform
import time
from datetime import UTC, datetime

import torch
from architecture_comparison import LESSON, REPORT
from measured_block import command_line, load_average, replace_block

from course.cells import grade_id
from course.checkout import Checkout, notebooks

FUNCTIONS = ("plain_layer", "deep_mlp", "memorise")


def lesson_namespace() -> dict:
    """The lesson's HighwayLayer (solution) and its demo functions, exactly as the notebook has them."""
    path = Checkout.find().source(LESSON)
    namespace = notebooks.answer_namespace(path, ["HighwayLayer"], LESSON)
    for cell in notebooks.read(path).cells:
        if cell.cell_type != "code" or grade_id(cell) == "HighwayLayer":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in FUNCTIONS]
        if defs:
            exec(compile(ast.Module(body=defs, type_ignores=[]), LESSON, "exec"), namespace)
    missing = [f for f in (*FUNCTIONS, "HighwayLayer") if f not in namespace]
    if missing:
        raise SystemExit(f"lesson 07 no longer defines {missing}")
    return namespace


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.05, 0.01])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--write", action="store_true", help=f"update {REPORT.name}")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ns = lesson_namespace()
    nets = {
        "highway, b_T = -2": lambda f: ns["HighwayLayer"](f, gate_bias=-2.0),
        "highway, b_T = -6": lambda f: ns["HighwayLayer"](f, gate_bias=-6.0),
        "plain (He init)": ns["plain_layer"],
    }
    load_before, t0 = load_average(), time.perf_counter()
    errors: dict = {}
    for lr in args.lrs:
        for name, make_layer in nets.items():
            for seed in args.seeds:
                torch.manual_seed(seed)
                _, error = ns["memorise"](ns["deep_mlp"](make_layer), args.steps, lr=lr, seed=seed)
                errors[lr, name, seed] = error
                print(f"lr {lr:g} {name:<18} seed {seed}: error {error:.1%}", flush=True)
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'unknown'} "
        f"({platform.machine()}, torch {torch.__version__}, 1 thread); "
        f"{(time.perf_counter() - t0) / 60:.0f} min; load average {load_before} before, {load_average()} after.",
        "",
        f"Command: `{command_line('highway_depth_lr.py', argv)}`",
        "",
        f"Final error (%) on the 512 points after {args.steps} steps, per seed "
        f"({', '.join(map(str, args.seeds))}):",
        "",
        "| lr | " + " | ".join(nets) + " |",
        "|" + "---|" * (len(nets) + 1),
    ]
    for lr in args.lrs:
        cells = [", ".join(f"{100 * errors[lr, n, s]:.1f}" for s in args.seeds) for n in nets]
        lines.append(f"| {lr:g} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        replace_block(REPORT, text, "depth-lr")
        print(f"\nwrote {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
