"""Lesson 02: the weight-gradient norm of every convolution at initialisation, plain vs residual.

The data behind the course site's "gradient norm vs depth" figure. For each depth (6n+2 layers),
plain and residual, and each seed: build the lesson's reference ``cifar_net`` (option-A
shortcuts; He initialisation), draw one batch of training images, and record
``layer_gradient_norms`` (the lesson's reference answer: the Frobenius norm of d(mean
cross-entropy)/dW for every ``nn.Conv2d``, in depth order). Nets of one seed share the batch
and the seed of their initial weights.

    python benchmarks/gradient_norms.py                   # writes benchmarks/gradient_norms.json
    python benchmarks/gradient_norms.py --depths 20 56 --seeds 0 --json /tmp/g.json

Images come from ``--data`` (default ``course.data.data_root()``); without CIFAR-10 there, the
synthetic stand-in of ``course.experiments.degradation.load_images`` is used, and the file says so. The JSON
records date, machine, torch and the command, and the site's caption shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from course import data, runtime
from course.checkout import Checkout, notebooks
from course.experiments import degradation

LESSON = "02_plain_vs_residual"
OUT = Path(__file__).resolve().parent / "gradient_norms.json"


def measure(depths, seeds, batch_size: int, root: Path, log=print) -> list[dict]:
    ns = notebooks.answer_namespace(
        Checkout.find().source(LESSON), ["ShortcutA", "cifar_net", "layer_gradient_norms"]
    )
    runs = []
    for seed in seeds:
        X, y, what = degradation.sample_batch(batch_size, root=root, seed=seed)
        for depth in depths:
            if (depth - 2) % 6:
                raise SystemExit(f"depth {depth} is not 6n+2")
            for residual in (False, True):
                runtime.seed_everything(seed)
                model = ns["cifar_net"]((depth - 2) // 6, residual=residual)
                t0 = time.perf_counter()
                norms = ns["layer_gradient_norms"](model, X, y)
                label = f"{'ResNet' if residual else 'plain'}-{depth}"
                runs.append(
                    {
                        "label": label,
                        "depth": depth,
                        "residual": residual,
                        "seed": seed,
                        "layers": list(norms),
                        "norms": [float(v) for v in norms.values()],
                    }
                )
                values = list(norms.values())
                log(
                    f"seed {seed} {label:>10}: {len(values)} convs, first {values[0]:.3g}, "
                    f"last {values[-1]:.3g}, first/last {values[0] / values[-1]:.3g} "
                    f"({time.perf_counter() - t0:.1f} s)"
                )
    return runs


def machine() -> str:
    return (
        f"{platform.node() or 'unknown host'} ({platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}, CPU)"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=[20, 32, 44, 56, 110])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data", type=Path, default=None, help="CIFAR-10 folder (default: data_root())")
    p.add_argument("--json", type=Path, default=OUT, help=f"output (default {OUT.name})")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    root = args.data or data.data_root()
    t0 = time.perf_counter()
    runs = measure(args.depths, args.seeds, args.batch_size, root)
    synthetic = not (Path(root) / data.FOLDER_NAME).is_dir()
    _, _, what = degradation.sample_batch(args.batch_size, root=root, seed=args.seeds[0])
    command = "python benchmarks/gradient_norms.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv or sys.argv[1:])
        else ""
    )
    record = {
        "what": "weight-gradient norm of every conv at initialisation (lesson 02 reference code)",
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": command,
        "seconds": round(time.perf_counter() - t0, 1),
        "batch_size": args.batch_size,
        "data": what.split(" images of ", 1)[-1],
        "synthetic_fallback": synthetic,  # the stand-in made by degradation.load_images
        "runs": runs,
    }
    args.json.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.json} ({len(runs)} runs, {record['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
