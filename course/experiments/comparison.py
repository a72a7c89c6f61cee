"""Architectures side by side (lesson 07: ResNet vs Highway vs DenseNet): measure, train, draw.

The networks are built by the lesson from the student's own classes; this module only measures
and trains what it is given::

    nets = comparison.matched_networks(ConvHighwayUnit, DenseNet)   # name -> builder
    rows = comparison.compare(nets, seeds=(0,))                      # trains each on one budget
    print(comparison.format_table(rows))
    comparison.plot(rows)

What is measured, per network (docstrings say exactly how):

- **parameters**;
- **multiply-adds** per image, from ``torch.utils.flop_counter.FlopCounterMode`` (which counts
  2 FLOPs per multiply-add; lesson 03);
- **activation memory** per image: the bytes autograd keeps for the backward pass during one
  training-mode forward pass (:func:`activation_bytes`), the memory that concatenation inflates;
- **time per training step** on this machine, the fastest of 10 (:func:`seconds_per_step`);
- **training error** after a budget of :mod:`course.experiments.degradation` (the :data:`QUICK` budget is
  lesson 02's memorisation probe: random labels, so the error measures how well the optimiser
  fits, nothing else).

Also :func:`depth_profile`, the signal and gradient of a stack of layers, layer by layer (the
highway section of lesson 07), and :func:`stack_units`, the small CIFAR skeleton the ResNet and
Highway networks of the comparison share.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace

import torch
import torch.nn.functional as F
from torch import nn

from course import checks, runtime
from course.experiments import degradation

__all__ = [
    "QUICK",
    "FULL",
    "default_config",
    "RESNET_WIDTHS",
    "UNITS_PER_STAGE",
    "DENSENET_CONFIG",
    "stack_units",
    "matched_networks",
    "count_params",
    "multiply_adds",
    "activation_bytes",
    "seconds_per_step",
    "depth_profile",
    "measure",
    "compare",
    "summarize",
    "format_table",
    "read_measured",
    "lesson_table",
    "plot",
    "plot_depth_profiles",
]

# The quick budget (a CPU, minutes): lesson 02's memorisation probe (256 images, 16x16, random
# labels, 40 epochs of batch 32 = 320 steps, one-cycle), at a peak lr every network of the
# comparison fits with (benchmarks/ARCHITECTURES.md measures the lr sensitivity).
QUICK = replace(degradation.QUICK, name="compare-quick", lr=0.01)
# The full budget (a GPU): CIFAR-10 itself, 32x32, crop + flip, SGD 0.1, cosine, 15 epochs.
FULL = replace(degradation.FULL, name="compare-full", epochs=15)

# The matched networks of lesson 07 (about 0.22 M parameters each, checked in tests):
RESNET_WIDTHS = (16, 32, 64)  # channels of the three stages (He et al. 2015 §4.2)
UNITS_PER_STAGE = 2  # residual / highway units per stage
DENSENET_CONFIG = dict(  # a DenseNet-BC for 32x32 images (Huang et al. 2017 §3-4)
    block_config=(7, 7, 7), growth_rate=12, num_init_features=24, compression=0.5, stem="cifar"
)


def default_config() -> degradation.Config:
    """:data:`QUICK` in quick mode (no GPU, grading, ``COURSE_QUICK=1``), else :data:`FULL`.

    Lessons: 07_highway_densenet.
    """
    return QUICK if runtime.quick_mode() else FULL


# --------------------------------------------------------------------------------------------
# the networks
# --------------------------------------------------------------------------------------------


def stack_units(
    unit: Callable[..., nn.Module],
    widths: Sequence[int] = RESNET_WIDTHS,
    units_per_stage: int = UNITS_PER_STAGE,
    num_classes: int = 10,
    **unit_kwargs,
) -> nn.Sequential:
    """A small CIFAR network around shape-keeping units: x (B, 3, H, W) -> logits (B, classes).

    ``stem`` (3x3 conv to ``widths[0]``, BN, ReLU), then per stage ``units_per_stage`` calls
    ``unit(width, **unit_kwargs)`` (a module that keeps (B, width, H, W)); between stages a plain
    3x3 stride-2 conv + BN + ReLU (``down2``, ``down3``...) halves H, W and changes the width;
    then global average pooling and one linear layer ``fc``. The stride-2 convs carry no shortcut,
    so every shortcut of the network is one of the units'.

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["stem"] = nn.Sequential(
        nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
    )
    channels = widths[0]
    for i, width in enumerate(widths, start=1):
        if i > 1:
            layers[f"down{i}"] = nn.Sequential(
                nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            )
        layers[f"stage{i}"] = nn.Sequential(
            *[unit(width, **unit_kwargs) for _ in range(units_per_stage)]
        )
        channels = width
    layers["pool"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(channels, num_classes)
    return nn.Sequential(layers)


def matched_networks(
    unit: Callable[..., nn.Module], densenet: Callable[..., nn.Module], num_classes: int = 10
) -> dict[str, Callable[[], nn.Module]]:
    """Builders of lesson 07's three networks of about the same parameter count.

    ``unit`` is the lesson's ``ConvHighwayUnit(channels, gate_bias, gated)`` and ``densenet`` its
    ``DenseNet(block_config, growth_rate, num_init_features, ..., num_classes, stem)``:
    ResNet = :func:`stack_units` of ungated units, Highway = the same with gated units (their
    1x1 gates add about 5 % parameters), DenseNet = :data:`DENSENET_CONFIG`.

    Lessons: 07_highway_densenet.
    """
    return {
        "ResNet": lambda: stack_units(unit, num_classes=num_classes, gated=False),
        "Highway": lambda: stack_units(unit, num_classes=num_classes, gated=True),
        "DenseNet": lambda: densenet(**DENSENET_CONFIG, num_classes=num_classes),
    }


# --------------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------------


def count_params(model: nn.Module) -> int:
    """Number of parameters (elements) of ``model``.

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    return checks.count_params(model)


@checks.runs_beside_student
def multiply_adds(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass on a batch of ``input_shape``, per example.

    Counted by ``FlopCounterMode`` (2 FLOPs per multiply-add, convolutions and matrix products
    only: BN, ReLU, pooling and additions are not counted) on a copy of ``model`` moved to the
    ``meta`` device, so nothing is computed and the model is untouched.

    Lessons: 07_highway_densenet.
    """
    from torch.utils.flop_counter import FlopCounterMode

    shape = tuple(int(s) for s in input_shape)
    twin = copy.deepcopy(model).eval().to("meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        twin(torch.empty(shape, device="meta"))
    return counter.get_total_flops() // 2 // shape[0]


@checks.runs_beside_student
def activation_bytes(model: nn.Module, X: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward pass of one training-mode forward pass on ``X``.

    Every tensor the forward pass saves for backward (inputs of convolutions and batch norms,
    ReLU outputs, concatenations...) is recorded with ``torch.autograd.graph.saved_tensors_hooks``;
    each storage counts once (a view or an in-place result shares its storage) and parameters
    do not count. Runs on a copy of ``model`` (BN running statistics untouched). Divide by
    ``X.shape[0]`` for bytes per example. This is what backpropagation needs in memory besides
    the weights; the peak of a real step adds gradients, optimizer state and temporaries.

    Lessons: 07_highway_densenet.
    """
    twin = copy.deepcopy(model).train()
    weights = {p.untyped_storage().data_ptr() for p in twin.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = twin(X)  # kept alive until the end: saved storages cannot be reused meanwhile
    total = sum(saved.values())
    del out
    return total


@checks.runs_beside_student
def seconds_per_step(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 10, lr: float = 0.01
) -> float:
    """Wall-clock seconds of one SGD training step (forward, cross-entropy, backward, update) on
    the batch ``(X, y)``: the fastest of ``steps`` steps after one warm-up step, on a copy of
    ``model``. The minimum is the time least disturbed by other work on the machine (as
    ``timeit`` recommends); still a property of this machine as much as of the network: compare
    networks measured side by side only.

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    twin = copy.deepcopy(model).train()
    opt = torch.optim.SGD(twin.parameters(), lr=lr, momentum=0.9)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        loss = F.cross_entropy(twin(X), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:  # the first step pays for allocations and lazy initialisation
            times.append(time.perf_counter() - t0)
    return min(times)


@checks.runs_beside_student
def depth_profile(layers: Sequence[nn.Module], X: torch.Tensor) -> dict[str, list[float]]:
    """Run ``X`` (B, features) through ``layers`` one after the other and record, per depth:

    - ``change``: ||a_l - X|| / ||X||, how far the signal has moved from the input (0 = identity);
    - ``norm``: ||a_l|| / ||X||, how its size evolves;
    - ``grad``: ||dL/dX|| for L = sum(a_l * R) with a fixed random R of unit entries scale, the
      gradient that reaches the input from depth l (relative to its value at depth 0, where it
      is ||R||).

    Index 0 is the input itself. Runs without changing the layers (no parameter update).

    Lessons: 07_highway_densenet.
    """
    X = X.detach()
    g = torch.Generator().manual_seed(0)
    R = torch.randn(X.shape, generator=g, dtype=X.dtype)
    x0 = X.clone().requires_grad_()
    change, norm, grad = [0.0], [1.0], [1.0]
    base = float(X.norm())
    a = x0
    for layer in layers:
        a = layer(a)
        change.append(float((a.detach() - X).norm()) / base)
        norm.append(float(a.detach().norm()) / base)
        (gx,) = torch.autograd.grad((a * R).sum(), x0, retain_graph=True)
        grad.append(float(gx.norm()) / float(R.norm()))
    return {"change": change, "norm": norm, "grad": grad}


# --------------------------------------------------------------------------------------------
# a comparison: measure and train every network on one budget
# --------------------------------------------------------------------------------------------


def measure(model: nn.Module, image_size: int, batch_size: int = 32, seed: int = 0) -> dict:
    """Parameters, multiply-adds per image, activation bytes per image and seconds per
    training step of ``model`` on (batch_size, 3, image_size, image_size) random inputs.

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(batch_size, 3, image_size, image_size, generator=g)
    y = torch.randint(0, 10, (batch_size,), generator=g)
    return {
        "params": count_params(model),
        "macs": multiply_adds(model, (1, 3, image_size, image_size)),
        "activation_bytes": activation_bytes(model, X) / batch_size,
        "seconds_per_step": seconds_per_step(model, X, y),
    }


def compare(
    builders: Mapping[str, Callable[[], nn.Module]],
    config: degradation.Config | None = None,
    seeds: Sequence[int] = (0,),
    log: Callable[[str], object] = print,
) -> list[dict]:
    """Build, measure and train every network on the same budget, for each seed.

    For a seed, every network starts from ``torch.manual_seed(seed)`` and sees the same data and
    batches (:func:`course.experiments.degradation.make_task`, :func:`course.experiments.degradation.train_net`).
    Returns one row per (network, seed): ``name``, ``seed``, the fields of :func:`measure`
    (measured for the first seed, copied to the others; the step time on this machine, at the
    budget's batch size), ``final_error`` / ``final_loss`` (whole training set, eval mode),
    ``curve`` (training error per epoch), ``seconds`` (training time), ``config``, ``task``.
    While grading, each network takes one token step on 8 images
    (:func:`course.experiments.degradation.token_budget`): the cell runs, nothing is learned.

    Lessons: 07_highway_densenet.
    """
    config = config or default_config()
    grading = runtime.is_grading()
    measured: dict[str, dict] = {}
    rows = []
    for seed in seeds:
        task = degradation.make_task(config, seed=seed)
        budget = config
        if grading:
            budget, task = degradation.token_budget(config, task)
        for name, build in builders.items():
            runtime.seed_everything(seed)
            model = build()
            if name not in measured:
                measured[name] = measure(
                    model, config.image_size, batch_size=budget.batch_size, seed=seed
                )
            out = degradation.train_net(
                model, task, budget, seed=seed, max_steps=1 if grading else None
            )
            row = {
                "name": name,
                "seed": seed,
                **measured[name],
                "final_error": out["final_error"],
                "final_loss": out["final_loss"],
                "curve": [1 - h["train_acc"] for h in out["history"]],
                "seconds": out["seconds"],
                "config": asdict(budget),
                "task": task.description,
            }
            rows.append(row)
            log(
                f"seed {seed} {name:>9}: {row['params']:,} parameters, final training error "
                f"{row['final_error']:.1%} ({row['seconds']:.0f} s)"
                + ("  [grading: 1 token step, meaningless]" if grading else "")
            )
    return rows


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(rows: Sequence[Mapping]) -> dict[str, dict]:
    """Per network (in the rows' order): the measurements and the final training error's mean,
    standard deviation and per-seed values.

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(
            row["name"],
            {k: row[k] for k in ("params", "macs", "activation_bytes", "seconds_per_step")}
            | {"errors": [], "seeds": []},
        )
        entry["errors"].append(row["final_error"])
        entry["seeds"].append(row["seed"])
    for entry in out.values():
        entry["error_mean"], entry["error_sd"] = _mean_sd(entry["errors"])
    return out


# the columns every comparison table starts with (the report's and lesson 07's)
_COLUMNS = (
    "network",
    "parameters",
    "multiply-adds / image",
    "activation memory / image",
    "time / step",
)


def format_table(rows: Sequence[Mapping], markdown: bool = False) -> str:
    """The comparison as a table: one line per network, the first one's figures as the unit of
    the ratios in brackets. ``markdown=True`` for a Markdown table (benchmarks/).

    Lessons: 07_highway_densenet.
    """
    summary = summarize(rows)
    base = next(iter(summary.values()))
    n = len(base["errors"])
    head = [*_COLUMNS, f"training error ({n} seed{'s' if n > 1 else ''})"]
    lines = []
    for name, s in summary.items():
        err = f"{100 * s['error_mean']:.1f} %" + (f" ± {100 * s['error_sd']:.1f}" if n > 1 else "")
        lines.append(
            [
                name,
                f"{s['params']:,} ({s['params'] / base['params']:.2f}×)",
                f"{s['macs'] / 1e6:.1f} M ({s['macs'] / base['macs']:.2f}×)",
                f"{s['activation_bytes'] / 2**20:.2f} MiB "
                f"({s['activation_bytes'] / base['activation_bytes']:.1f}×)",
                f"{1000 * s['seconds_per_step']:.0f} ms "
                f"({s['seconds_per_step'] / base['seconds_per_step']:.1f}×)",
                err,
            ]
        )
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        + [fmt.format(*cells) for cells in lines]
    )


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def read_measured(report: str, block: str = "quick") -> dict[str, dict]:
    """A measured block of ``benchmarks/ARCHITECTURES.md`` (written by
    ``benchmarks/architecture_comparison.py`` with :func:`format_table`), read back.

    Per network, in the table's order: ``row`` (its cells, as printed), the printed figures
    ``params``, ``params_ratio``, ``macs``, ``macs_ratio``, ``memory``, ``memory_ratio``, ``ms``,
    ``time_ratio``, ``error``, ``error_sd`` (strings, rounded as in the report: the lesson's prose
    quotes them) and ``seed_errors`` (final training error per seed, %, floats). A ``ValueError``
    names what is missing. Lesson 07 (its measured table is generated from this).

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    begin, end = f"<!-- measured:{block}:begin -->", f"<!-- measured:{block}:end -->"
    if begin not in report or end not in report:
        raise ValueError(f"no measured block {block!r} in the report")
    lines = report.split(begin, 1)[1].split(end, 1)[0].splitlines()
    head = next((i for i, line in enumerate(lines) if line.startswith("| network |")), None)
    seeds_head = next((i for i, line in enumerate(lines) if line.startswith("| seed |")), None)
    if head is None or seeds_head is None:
        raise ValueError(f"measured block {block!r} has no network table or no per-seed table")
    out: dict[str, dict] = {}
    for line in lines[head + 2 :]:
        if not line.startswith("|"):
            break
        row = _cells(line)
        params, macs, memory, step, error = row[1:6]
        figures = {
            "params": params.split(" (")[0],
            "params_ratio": params.split("(")[1].rstrip("×)"),
            "macs": macs.split(" M")[0],
            "macs_ratio": macs.split("(")[1].rstrip("×)"),
            "memory": memory.split(" MiB")[0],
            "memory_ratio": memory.split("(")[1].rstrip("×)"),
            "ms": step.split(" ms")[0],
            "time_ratio": step.split("(")[1].rstrip("×)"),
            "error": error.split(" %")[0],
            "error_sd": error.split("± ")[1] if "±" in error else "0.0",
        }
        out[row[0]] = {"row": row, **figures, "seed_errors": []}
    names = _cells(lines[seeds_head])[1:]
    for line in lines[seeds_head + 2 :]:
        if not line.startswith("|"):
            break
        for name, value in zip(names, _cells(line)[1:], strict=True):
            out[name]["seed_errors"].append(float(value))
    return out


def lesson_table(measured: Mapping[str, Mapping]) -> str:
    """The Markdown table lesson 07 shows (section 5): the report's table (:func:`read_measured`)
    with the per-seed training errors in a last column.

    Lessons: none (the comparison's own steps; benchmarks/architecture_comparison.py).
    """
    first = next(iter(measured.values()))
    n = len(first["seed_errors"])
    head = [*_COLUMNS, f"training error ({n} seeds, mean ± sd)", "per seed (%)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in measured.values():
        per_seed = ", ".join(f"{e:.1f}" for e in entry["seed_errors"])
        out.append("| " + " | ".join([*entry["row"][:6], per_seed]) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------

COLOURS = {"ResNet": "#4c72b0", "Highway": "#dd8452", "DenseNet": "#55a868"}


def _colour(name: str, i: int) -> str:
    return COLOURS.get(name, f"C{i}")


def plot(rows: Sequence[Mapping], title: str | None = None):
    """Two rows of panels: training error per epoch (mean over seeds, thin lines per seed) and
    final training error per seed; then parameters, multiply-adds, activation memory and time
    per step, each relative to the first network. Returns the figure.

    Lessons: 07_highway_densenet.
    """
    import matplotlib.pyplot as plt

    summary = summarize(rows)
    names = list(summary)
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.4), layout="constrained")
    ax = axes[0, 0]
    for i, name in enumerate(names):
        curves = [r["curve"] for r in rows if r["name"] == name]
        for c in curves:
            ax.plot(
                range(1, len(c) + 1),
                [100 * v for v in c],
                color=_colour(name, i),
                lw=0.6,
                alpha=0.4,
            )
        length = min(len(c) for c in curves)
        mean = [statistics.mean(c[e] for c in curves) for e in range(length)]
        ax.plot(
            range(1, length + 1), [100 * v for v in mean], color=_colour(name, i), lw=2, label=name
        )
    ax.set(xlabel="epoch", ylabel="training error (%)", title="training error (batches as trained)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax = axes[0, 1]
    for i, name in enumerate(names):
        errs = [100 * e for e in summary[name]["errors"]]
        ax.bar(i, statistics.mean(errs), color=_colour(name, i), alpha=0.6)
        ax.scatter([i] * len(errs), errs, color="black", s=12, zorder=3)
    ax.set_xticks(range(len(names)), names)
    n = len(summary[names[0]]["errors"])
    ax.set(
        ylabel="final training error (%)",
        title=f"final training error, {n} seed{'s' if n > 1 else ''} (dots)",
    )
    ax.grid(alpha=0.3, axis="y")
    panels = [
        ("params", "parameters", 1.0),
        ("macs", "multiply-adds / image (M)", 1e-6),
        ("activation_bytes", "activation memory / image (MiB)", 2.0**-20),
        ("seconds_per_step", "time / training step (ms)", 1e3),
    ]
    axes[0, 2].axis("off")
    for ax, (key, label, scale) in zip(
        [axes[1, 0], axes[1, 1], axes[1, 2], axes[0, 2]], panels, strict=True
    ):
        ax.axis("on")
        values = [summary[n][key] * scale for n in names]
        bars = ax.bar(names, values, color=[_colour(n, i) for i, n in enumerate(names)])
        for bar, v in zip(bars, values, strict=True):
            ratio = v / values[0]
            ax.annotate(
                f"{ratio:.2f}×" if ratio < 2 else f"{ratio:.1f}×",
                (bar.get_x() + bar.get_width() / 2, v),
                ha="center",
                va="bottom",
                fontsize=9,
            )
        ax.set_ylim(0, 1.15 * max(values))  # room for the ratios above the bars
        ax.set(title=label)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title or f"{rows[0]['task']} — {rows[0]['config']['name']} budget", fontsize=10)
    return fig


def plot_depth_profiles(profiles: Mapping[str, Mapping[str, Sequence[float]]], title: str = ""):
    """Side-by-side panels of :func:`depth_profile` results (name -> profile): distance from the
    input, and gradient reaching the input (log scale), against depth. Returns the figure.

    Lessons: 07_highway_densenet.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for i, (name, prof) in enumerate(profiles.items()):
        depth = range(len(prof["change"]))
        axes[0].plot(depth, prof["change"], label=name, color=f"C{i}", lw=1.8)
        axes[1].plot(
            depth, [max(v, 1e-30) for v in prof["grad"]], label=name, color=f"C{i}", lw=1.8
        )
    axes[0].set(
        xlabel="depth (layers)",
        ylabel="‖a_l − x‖ / ‖x‖",
        title="how far the signal moved from the input",
    )
    axes[1].set(
        xlabel="depth (layers)",
        ylabel="‖∂L/∂x‖ (relative)",
        yscale="log",
        title="gradient reaching the input from depth l",
    )
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
