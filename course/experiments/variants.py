"""Experiments and figures of lesson 06 (residual variants): where the ReLU goes, what a
shortcut costs, what the gradient sees.

The student's own code is passed in; this module only builds networks out of it, measures them
and draws the results. It never implements an exercise::

    variants.plot_units()                                         # He et al. 2016, Fig. 4
    profiles = variants.gradient_profiles(block_variant, units=64)   # |dL/dx| along a stack
    variants.plot_gradients(profiles, variants.gradient_growth(block_variant))
    results = variants.run(block_variant)                         # the five units, one budget
    variants.plot_curves(results); variants.plot_summary(results)
    variants.control(block_variant)                               # ipywidgets: kinds, depth, run

The networks (:func:`variant_net`): a 3x3 stem conv + BN + ReLU, then stages of units made by
the student's ``block_variant(kind, width)``, joined by a plain stride-2 3x3 conv + BN + ReLU
where the width changes, then BN + ReLU, global average pooling and one linear layer. Stem,
joins and head are the same for all five kinds, so two networks differ only in their units.
(He et al. 2016 instead start a stage with a unit whose shortcut projects; ``block_variant``
makes shape-preserving units only.)

Two budgets, as in lesson 02 (:mod:`course.experiments.degradation`, whose data and training code this
module reuses):

- :data:`QUICK` (a CPU, minutes): a **memorisation probe** — 256 images shrunk to 8x8, each
  with a random label, one stage of 27 units (56 weighted layers). Random labels carry no
  pattern: the training error measures how easily SGD fits, nothing else. It cannot measure
  what Table 2 of He et al. 2016 reports (test error on real CIFAR-10).
- :data:`FULL` (a GPU): CIFAR-10 itself, three stages of 18 units (16/32/64 channels, the
  depth of ResNet-110), crop + flip, He et al.'s optimiser settings; reports test error too.

Measured results, with date, machine and command: ``benchmarks/VARIANTS.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from course import data, plots, runtime, train
from course.experiments import degradation

__all__ = [
    "KINDS",
    "LABELS",
    "TABLE2_RESNET110",
    "TABLE3_RESNET34",
    "RESNET34_STAGES",
    "Config",
    "QUICK",
    "FULL",
    "default_config",
    "variant_net",
    "gradient_profiles",
    "gradient_growth",
    "run",
    "plot_units",
    "plot_plus_one",
    "plot_gradients",
    "plot_curves",
    "plot_summary",
    "plot_table3",
    "plot_block_costs",
    "control",
]

# The five units of He et al. 2016 (Identity Mappings in Deep Residual Networks), Fig. 4 (a)-(e).
KINDS = ("original", "bn_after_add", "relu_before_add", "relu_only_preact", "full_preact")
LABELS = {
    "original": "(a) original",
    "bn_after_add": "(b) BN after addition",
    "relu_before_add": "(c) ReLU before addition",
    "relu_only_preact": "(d) ReLU-only pre-activation",
    "full_preact": "(e) full pre-activation",
}
COLOURS = {
    "original": "#4c72b0",
    "bn_after_add": "#c44e52",
    "relu_before_add": "#dd8452",
    "relu_only_preact": "#8172b3",
    "full_preact": "#55a868",
}
# He et al. 2016, Table 2: CIFAR-10 test error (%) of ResNet-110 with each unit.
TABLE2_RESNET110 = {
    "original": 6.61,
    "bn_after_add": 8.17,
    "relu_before_add": 7.84,
    "relu_only_preact": 6.71,
    "full_preact": 6.37,
}
# He et al. 2015 (Deep Residual Learning), Table 3: ImageNet validation error (%), 10-crop
# testing, (top-1, top-5), for ResNet-34 with shortcut options A, B, C, and the plain net.
TABLE3_RESNET34 = {
    "plain-34": (28.54, 10.02),
    "A": (25.03, 7.76),
    "B": (24.52, 7.46),
    "C": (24.19, 7.40),
}
# ResNet-34's stages (He et al. 2015, Table 1): (blocks, channels); the first block of stages
# 2-4 halves the resolution.
RESNET34_STAGES = ((3, 64), (4, 128), (6, 256), (3, 512))


@dataclass(frozen=True)
class Config(degradation.Config):
    """A training budget (:class:`course.experiments.degradation.Config`) plus the network's shape.

    Lessons: none directly (:func:`default_config` returns one, lesson 06).
    """

    stages: tuple[int, ...] = (27,)  # units per stage
    widths: tuple[int, ...] = (16,)  # channels per stage

    @property
    def layers(self) -> int:
        """Weighted layers: stem + 2 per unit + one per join between stages + the classifier."""
        return 1 + 2 * sum(self.stages) + (len(self.stages) - 1) + 1


# The quick budget (a CPU: 66 s of CPU time for the five kinds, measured): memorise random labels of 256
# images shrunk to 8x8 (16x16 costs 4x more; one trial at 16x16, seed 0, ranked (b) and (c) worst
# and (a) best, as 8x8 does).
# Optimiser as in lesson 02: He et al.'s lr 0.1 at batch 128 scaled linearly to batch 32.
QUICK = Config(
    name="quick",
    n_images=256,
    image_size=8,
    random_labels=True,
    augment=False,
    epochs=40,
    batch_size=32,
    lr=0.025,
    schedule="onecycle",
    stages=(27,),
    widths=(16,),
)

# The full budget (a GPU): CIFAR-10, three stages of 18 units on 32/16/8 maps (ResNet-110's
# 54 units), crop + flip, SGD 0.1 / momentum 0.9 / weight decay 1e-4 / batch 128 (He et al.
# 2016, §4.1 and appendix). They train 64k steps (164 epochs) with step decays; this budget is
# 64 cosine-annealed epochs. Not measured yet: see benchmarks/VARIANTS.md.
FULL = Config(
    name="full",
    n_images=None,
    image_size=32,
    random_labels=False,
    augment=True,
    epochs=64,
    batch_size=128,
    lr=0.1,
    schedule="cosine",
    stages=(18, 18, 18),
    widths=(16, 32, 64),
)


def default_config() -> Config:
    """:data:`QUICK` in quick mode (no GPU, grading, ``COURSE_QUICK=1``), else :data:`FULL`.

    Lessons: 06_residual_variants.
    """
    return QUICK if runtime.quick_mode() else FULL


def _label(kind: str) -> str:
    return LABELS.get(kind, kind)


# --------------------------------------------------------------------------------------------
# networks made of the student's units
# --------------------------------------------------------------------------------------------


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
    return [conv, nn.BatchNorm2d(c_out), nn.ReLU()]


def variant_net(
    block_variant: Callable[[str, int], nn.Module],
    kind: str,
    stages: Sequence[int] = (27,),
    widths: Sequence[int] = (16,),
    num_classes: int = 10,
) -> nn.Sequential:
    """A classifier whose residual units are ``block_variant(kind, width)``.

    X: (B, 3, H, W) float -> logits (B, num_classes). Stem 3x3 conv + BN + ReLU to
    ``widths[0]``; ``stages[i]`` units at ``widths[i]`` channels; between stages a plain 3x3
    stride-2 conv + BN + ReLU; then BN + ReLU, global average pooling, linear. Every conv of
    the network (the student's included) is initialised as He et al. do (Kaiming normal).

    Lessons: none directly (:func:`run` builds every network with it, lesson 06).
    """
    if len(stages) != len(widths) or not stages:
        raise ValueError(f"stages {tuple(stages)} and widths {tuple(widths)}: one width per stage")
    layers: list[nn.Module] = _conv_bn_relu(3, widths[0], 1)
    for i, (n, width) in enumerate(zip(stages, widths, strict=True)):
        if i:
            layers += _conv_bn_relu(widths[i - 1], width, 2)
        layers += [block_variant(kind, width) for _ in range(n)]
    layers += [nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    layers.append(nn.Linear(widths[-1], num_classes))
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return net


# --------------------------------------------------------------------------------------------
# what the gradient sees: a stack of units at initialisation
# --------------------------------------------------------------------------------------------


def _stack_input_gradients(block_variant, kind, units, width, size, batch, seed) -> list[float]:
    """||dL/dx_l|| / ||dL/dx_L|| at the input of every unit l of a fresh stack, L = <x_L, g>."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        stack = [block_variant(kind, width) for _ in range(units)]
    for unit in stack:
        unit.train()  # the batch statistics of training, as in the first step of SGD
    x = torch.randn(batch, width, size, size, generator=gen).requires_grad_(True)
    inputs, h = [], x
    for unit in stack:
        if h is not x:
            h.retain_grad()
        inputs.append(h)
        h = unit(h)
    g = torch.randn(h.shape, generator=gen)  # da_out at the top of the stack
    (h * g).sum().backward()
    top = float(g.norm())
    return [float(t.grad.norm()) / top for t in inputs]


def gradient_profiles(
    block_variant: Callable[[str, int], nn.Module],
    kinds: Sequence[str] = ("original", "full_preact"),
    units: int = 64,
    width: int = 16,
    size: int = 8,
    batch: int = 32,
    seed: int = 0,
) -> dict[str, list[float]]:
    """For each kind, a fresh stack of ``units`` units (train mode): the norm of the gradient
    arriving at each unit's input, relative to the one sent into the top (index 0 = the input).

    The input is standard normal (B, width, size, size); the top receives a standard normal
    ``da_out``. Returns kind -> ``units`` floats.

    Lessons: 06_residual_variants.
    """
    return {
        kind: _stack_input_gradients(block_variant, kind, units, width, size, batch, seed)
        for kind in kinds
    }


def gradient_growth(
    block_variant: Callable[[str, int], nn.Module],
    kinds: Sequence[str] = ("original", "full_preact"),
    depths: Sequence[int] = (2, 4, 8, 16, 32, 64),
    width: int = 16,
    size: int = 8,
    batch: int = 32,
    seed: int = 0,
) -> dict[str, dict[int, float]]:
    """kind -> {depth L: ||dL/dx_0|| / ||dL/dx_L||} for fresh stacks of L units (train mode).

    Lessons: 06_residual_variants.
    """
    out: dict[str, dict[int, float]] = {}
    for kind in kinds:
        out[kind] = {
            depth: _stack_input_gradients(block_variant, kind, depth, width, size, batch, seed)[0]
            for depth in depths
        }
    return out


# --------------------------------------------------------------------------------------------
# training: the five kinds under one budget
# --------------------------------------------------------------------------------------------


def _test_error(model: nn.Module, config: Config, root=None) -> float | None:
    """CIFAR-10 test error of ``model`` (full budget only; None when the split is missing)."""
    root = root or data.data_root()
    try:
        images, labels = data.load_cifar10(root, "test")
    except data.DataError:
        return None
    loader = data.CifarLoader(
        images, labels, batch_size=500, train=False, device=runtime.get_device()
    )
    return 1 - train.evaluate(model, loader)["accuracy"]


def run(
    block_variant: Callable[[str, int], nn.Module],
    kinds: Sequence[str] = KINDS,
    config: Config | None = None,
    task: degradation.Task | None = None,
    seed: int = 0,
    log: Callable[[str], object] = print,
) -> list[dict]:
    """Train :func:`variant_net` for each kind under one budget, side by side.

    Every network starts from ``torch.manual_seed(seed)`` and sees the same batches. Returns
    one dict per kind: ``kind``, ``label``, ``params``, ``layers``, ``config``, ``task``,
    ``seed``, ``history`` (per-epoch ``train_loss``/``train_acc``), ``final_loss`` and
    ``final_error`` (the whole training set, eval mode), ``test_error`` (full budget on real
    CIFAR-10 only, else None) and ``seconds``. While grading each network takes one token step.

    Lessons: 06_residual_variants.
    """
    config = config or default_config()
    task = task or degradation.make_task(config, seed=seed)
    grading = runtime.is_grading()
    if grading:  # one token step on 8 images per network: the cell runs, nothing is learned
        n = degradation.GRADING_IMAGES
        config = replace(config, batch_size=min(n, len(task.images)))
        task = degradation.Task(task.images[:n], task.labels[:n], task.description)
    results = []
    for kind in kinds:
        runtime.seed_everything(seed)
        model = variant_net(block_variant, kind, config.stages, config.widths)
        out = degradation.train_net(
            model, task, config, seed=seed, max_steps=1 if grading else None
        )
        real = not config.random_labels and not grading and "SYNTHETIC" not in task.description
        row = {
            "kind": kind,
            "label": _label(kind),
            "params": sum(p.numel() for p in model.parameters()),
            "layers": config.layers,
            "config": asdict(config),
            "task": task.description,
            "seed": seed,
            "test_error": _test_error(model, config) if real else None,
            **out,
        }
        results.append(row)
        test = "" if row["test_error"] is None else f", test error {row['test_error']:.2%}"
        log(
            f"{row['label']:<30} final training loss {row['final_loss']:.3f}, "
            f"error {row['final_error']:.1%}{test}  ({row['seconds']:.0f} s)"
            + ("  [grading: 1 token step, meaningless]" if grading else "")
        )
    return results


# --------------------------------------------------------------------------------------------
# figures: each returns its figure; in a notebook the inline backend shows it when the cell ends
# --------------------------------------------------------------------------------------------


# What each unit computes, bottom (input) to top (output): "w" weight layer (3x3 conv),
# "bn", "relu", "+" the addition with the shortcut. (He et al. 2016, Fig. 4.)
_UNIT_LAYOUT = {
    "original": ["w", "bn", "relu", "w", "bn", "+", "relu"],
    "bn_after_add": ["w", "bn", "relu", "w", "+", "bn", "relu"],
    "relu_before_add": ["w", "bn", "relu", "w", "bn", "relu", "+"],
    "relu_only_preact": ["relu", "w", "bn", "relu", "w", "bn", "+"],
    "full_preact": ["bn", "relu", "w", "bn", "relu", "w", "+"],
}
_BOX = {"w": ("weight", "#dfe8f5"), "bn": ("BN", "#fbe3c8"), "relu": ("ReLU", "#e0f0dc")}


def plot_units():
    """The five units of He et al. 2016, Fig. 4, side by side, input at the bottom.

    The shortcut (grey) joins at the addition; what lies on the path from the addition to the
    unit's output (above the circle) also acts on the shortcut's signal. Returns the figure.

    Lessons: 06_residual_variants.
    """
    from matplotlib.patches import Circle, FancyBboxPatch

    fig, (ax,) = plots.figure_row(11, 5.2)
    ax.set_xlim(0, 5 * 2.2)
    ax.set_ylim(-1.5, 8.6)
    ax.axis("off")
    for col, kind in enumerate(KINDS):
        cx = 1.1 + col * 2.2
        layout = _UNIT_LAYOUT[kind]
        ax.annotate("", (cx, 0.55), (cx, -0.1), arrowprops=dict(arrowstyle="-|>", color="k"))
        ax.text(cx, -0.45, "$x_l$", ha="center", va="center", fontsize=10)
        add_y = None
        for i, step in enumerate(layout):
            y = 1 + i
            if step == "+":
                add_y = y
                ax.add_patch(Circle((cx, y), 0.22, fill=False, lw=1.4))
                ax.text(cx, y, "+", ha="center", va="center", fontsize=12)
            else:
                text, colour = _BOX[step]
                after = add_y is not None
                ax.add_patch(
                    FancyBboxPatch(
                        (cx - 0.6, y - 0.25),
                        1.2,
                        0.5,
                        boxstyle="round,pad=0.02",
                        facecolor=colour,
                        edgecolor="#c44e52" if after else "#555",
                        lw=2.0 if after else 1.0,
                    )
                )
                ax.text(cx, y, text, ha="center", va="center", fontsize=9)
            ax.plot([cx, cx], [y + 0.27, y + 0.73], color="k", lw=1)
        top = len(layout) + 1
        ax.annotate("", (cx, top - 0.1), (cx, top - 0.27), arrowprops=dict(arrowstyle="-|>"))
        ax.text(cx, top + 0.15, "$x_{l+1}$", ha="center", va="center", fontsize=10)
        # the shortcut: from below the first layer, around the right side, into the addition
        sx = cx + 0.85
        ax.plot([cx, sx, sx, cx + 0.22], [0.5, 0.5, add_y, add_y], color="#888", lw=1.6)
        ax.text(cx, -1.15, _label(kind), ha="center", va="center", fontsize=9, weight="bold")
    ax.set_title(
        "The five units of He et al. 2016, Fig. 4, input at the bottom "
        "(red frame: also acts on the shortcut's signal)",
        fontsize=10,
    )
    return fig


def plot_plus_one(pairs: dict, title: str = "What reaches a unit's input when its branch is off"):
    """``pairs``: label -> (da_out, dx), tensors of one shape. A scatter of every element of dx
    against the matching element of da_out (the identity line dashed). Returns the figure.

    Lessons: 06_residual_variants.
    """
    fig, axes = plots.figure_row(4.2 * len(pairs), 3.8, len(pairs))
    for ax, (label, (da_out, dx)) in zip(axes, pairs.items(), strict=True):
        a = torch.as_tensor(da_out).detach().reshape(-1).float()
        b = torch.as_tensor(dx).detach().reshape(-1).float()
        lim = float(max(a.abs().max(), b.abs().max(), 1e-6)) * 1.05
        ax.plot([-lim, lim], [-lim, lim], "--", color="#999", lw=1, label="dx = da_out")
        same = (b == a).float().mean().item()
        ax.scatter(a, b, s=5, alpha=0.4, color="#4c72b0")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("da_out (sent into the unit's output)")
        ax.set_ylabel("dx (arriving at the unit's input)")
        ax.set_title(f"{label}\n{same:.0%} of the elements passed unchanged", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=10)
    return fig


def plot_gradients(
    profiles: dict[str, list[float]], growth: dict[str, dict[int, float]] | None = None
):
    """Left: the gradient norm at each unit's input along one deep stack (top = 1).
    Right (if ``growth``): at the input of stacks of increasing depth. Log scales.

    Lessons: 06_residual_variants.
    """
    fig, axes = plots.figure_row(11 if growth else 6, 3.8, 2 if growth else 1)
    ax = axes[0]
    for kind, values in profiles.items():
        ax.plot(range(1, len(values) + 1), values, label=_label(kind), color=COLOURS.get(kind))
    ax.axhline(1.0, color="#999", lw=1, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("unit (1 = next to the input)")
    ax.set_ylabel("||dL/dx_l|| / ||dL/dx_L||")
    units = max(len(v) for v in profiles.values()) if profiles else 0
    ax.set_title(f"one stack of {units} units at initialisation", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if growth:
        ax = axes[1]
        for kind, by_depth in growth.items():
            xs = sorted(by_depth)
            ax.plot(
                xs, [by_depth[d] for d in xs], "o-", label=_label(kind), color=COLOURS.get(kind)
            )
        ax.axhline(1.0, color="#999", lw=1, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("units in the stack (L)")
        ax.set_ylabel("||dL/dx_0|| / ||dL/dx_L||")
        ax.set_title("at the input of stacks of growing depth", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _budget_title(results: list[dict]) -> str:
    cfg = results[0]["config"]
    note = "  [grading: token step only]" if runtime.is_grading() else ""
    layers = results[0]["layers"]
    return f"{cfg['name']} budget, {layers}-layer nets: {results[0]['task']}{note}"


def plot_curves(results: list[dict]):
    """Training loss and training error (on the batches as trained) vs epoch, one line per kind;
    several seeds of a kind share its colour.

    Lessons: 06_residual_variants.
    """
    fig, axes = plots.figure_row(11, 3.8, 2)
    seen: set[str] = set()
    for r in results:
        xs = [row["epoch"] for row in r["history"]]
        first = r["kind"] not in seen
        seen.add(r["kind"])
        style = dict(color=COLOURS.get(r["kind"]), alpha=0.9 if first else 0.45)
        label = r["label"] if first else None
        axes[0].plot(xs, [row["train_loss"] for row in r["history"]], label=label, **style)
        axes[1].plot(xs, [100 * (1 - row["train_acc"]) for row in r["history"]], **style)
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("training error (%)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    if results:
        axes[0].legend(fontsize=8)
        fig.suptitle(_budget_title(results), fontsize=9)
    return fig


def plot_summary(results: list[dict]):
    """Left: He et al. 2016, Table 2 (ResNet-110, CIFAR-10 test error). Right: this run's final
    training error per kind (a dot per seed, the bar at their mean). Same colours, same order.

    Lessons: 06_residual_variants.
    """
    fig, (left, right) = plots.figure_row(11, 3.9, 2)
    kinds = [k for k in KINDS if any(r["kind"] == k for r in results)] or list(KINDS)
    ys = range(len(kinds))
    left.barh(ys, [TABLE2_RESNET110[k] for k in kinds], color=[COLOURS[k] for k in kinds])
    for y, k in zip(ys, kinds, strict=True):
        left.text(
            TABLE2_RESNET110[k] + 0.05, y, f"{TABLE2_RESNET110[k]:.2f}", va="center", fontsize=8
        )
    left.set_xlim(5.5, 8.8)
    left.set_xlabel("test error (%)")
    left.set_title("He et al. 2016, Table 2: ResNet-110 on CIFAR-10", fontsize=10)
    for ax in (left, right):
        ax.set_yticks(list(ys), [_label(k) for k in kinds], fontsize=8)
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    right.tick_params(labelleft=False)
    for y, k in zip(ys, kinds, strict=True):
        errs = [100 * r["final_error"] for r in results if r["kind"] == k]
        if errs:
            right.barh(y, sum(errs) / len(errs), color=COLOURS[k], alpha=0.5)
            right.plot(errs, [y] * len(errs), "o", color=COLOURS[k], ms=5)
    right.set_xlim(0, 100)
    right.set_xlabel("final training error (%)")
    seeds = sorted({r["seed"] for r in results})
    right.set_title(
        f"this run ({len(seeds)} seed{'s' if len(seeds) > 1 else ''}): "
        f"{results[0]['config']['name'] if results else ''} budget",
        fontsize=10,
    )
    if results:
        fig.suptitle(_budget_title(results), fontsize=9)
    return fig


def plot_table3(extra_params: dict[str, int]):
    """He et al. 2015, Table 3 against parameters: ImageNet top-1 error of ResNet-34 with
    shortcut options A/B/C (and plain-34) vs the shortcut parameters each option adds.

    ``extra_params``: option ("A", "B", "C") -> parameters its shortcuts add to ResNet-34
    (as the student computed them). Returns the figure.

    Lessons: 06_residual_variants.
    """
    fig, (ax,) = plots.figure_row(6.2, 3.8)
    xs = [extra_params[k] / 1e6 for k in ("A", "B", "C")]
    ys = [TABLE3_RESNET34[k][0] for k in ("A", "B", "C")]
    ax.plot(xs, ys, "o-", color="#4c72b0")
    for k, x, y in zip(("A", "B", "C"), xs, ys, strict=True):
        ax.annotate(
            f"{k}: {y:.2f}%  (+{extra_params[k]:,})",
            (x, y),
            (6, 6),
            textcoords="offset points",
            fontsize=8,
        )
    ax.axhline(TABLE3_RESNET34["plain-34"][0], color="#c44e52", ls="--", lw=1)
    ax.text(
        max(xs) * 0.5,
        TABLE3_RESNET34["plain-34"][0] - 0.35,
        "plain-34: 28.54%",
        color="#c44e52",
        fontsize=8,
        ha="center",
    )
    ax.set_xlabel("parameters added by the shortcuts (millions)")
    ax.set_ylabel("top-1 error (%, 10-crop)")
    ax.set_ylim(23.5, 29.2)
    ax.set_title("ResNet-34 on ImageNet (He et al. 2015, Table 3)", fontsize=10)
    ax.grid(True, alpha=0.3)
    return fig


def plot_block_costs(rows: dict[str, dict[str, int]]):
    """``rows``: block name -> {"params": int, "mults": int}. Two bar panels. Returns the figure.

    Lessons: 06_residual_variants.
    """
    fig, axes = plots.figure_row(11, 3.2, 2)
    names = list(rows)
    colours = ["#4c72b0", "#55a868", "#c44e52", "#8172b3"][: len(names)]
    for ax, key, unit, what in (
        (axes[0], "params", 1e3, "weights (thousands)"),
        (axes[1], "mults", 1e6, "multiply-adds (millions)"),
    ):
        values = [rows[n][key] / unit for n in names]
        ax.barh(range(len(names)), values, color=colours)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:,.1f}", va="center", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(what)
        ax.set_xlim(0, max(values) * 1.25)
        ax.grid(True, axis="x", alpha=0.3)
    axes[1].tick_params(labelleft=False)
    return fig


# --------------------------------------------------------------------------------------------
# widget
# --------------------------------------------------------------------------------------------


def control(
    block_variant: Callable[[str, int], nn.Module], config: Config | None = None, task=None
):
    """An ipywidgets panel: pick the kinds and the depth; the gradient profile of stacks of that
    depth redraws at once, and Run trains the nets under the budget and draws both plots.

    Nothing trains until Run is pressed. Returns the ``VBox`` with extra attributes: ``kinds``,
    ``units``, ``epochs``, ``lr`` (the controls), ``button``, ``refresh()`` (redraw the
    gradients), ``run()`` (what the button does), ``results`` (the last run, or ``None``) and
    ``error`` (the last error message, or ``None``).

    Lessons: 06_residual_variants.
    """
    import ipywidgets as ipw

    from course.experiments import panels

    base = config or default_config()
    kinds = ipw.SelectMultiple(
        options=[(LABELS[k], k) for k in KINDS],
        value=tuple(KINDS),
        description="units",
        rows=5,
        layout=ipw.Layout(width="26em"),
    )
    units = ipw.IntSlider(
        value=sum(base.stages),
        min=2,
        max=128,
        description="depth (units)",
        continuous_update=False,
        style={"description_width": "8em"},
    )
    epochs, lr, button = panels.budget_controls(base)
    status = ipw.HTML()
    gradients, summary, curves = panels.image(), panels.image(), panels.image()

    box = ipw.VBox(
        [
            ipw.HBox([kinds, ipw.VBox([units, epochs, lr, button])]),
            status,
            gradients,
            summary,
            curves,
        ]
    )
    box.kinds, box.units, box.epochs, box.lr, box.button = kinds, units, epochs, lr, button
    box.results, box.error = None, None

    def _fail(exc: BaseException) -> None:
        box.error = f"{type(exc).__name__}: {exc}"
        status.value = panels.error_html(box.error)

    def refresh(_=None):
        try:
            chosen = list(kinds.value) or ["original"]
            profiles = gradient_profiles(block_variant, chosen, units=int(units.value))
            panels.show(gradients, plot_gradients(profiles))
            box.error = None
            status.value = (
                f"<small>{base.name} budget: {int(units.value)} units per net "
                f"({2 * int(units.value) + 2} weighted layers); Run trains each chosen kind</small>"
            )
        except Exception as exc:  # the student's code: show what went wrong, do not crash
            _fail(exc)

    def do_run(_=None):
        stages = (int(units.value),) if len(base.stages) == 1 else base.stages
        cfg = replace(base, epochs=int(epochs.value), lr=float(lr.value), stages=stages)
        chosen = list(kinds.value)
        status.value = f"<small>training {len(chosen)} nets of {cfg.layers} layers...</small>"
        t0 = time.perf_counter()
        try:
            results = run(block_variant, chosen, cfg, task=task, log=lambda _m: None)
        except Exception as exc:  # the student's code, or a budget that cannot run
            _fail(exc)
            return None
        box.results = results
        panels.show(summary, plot_summary(results))
        panels.show(curves, plot_curves(results))
        status.value = f"<small>done in {time.perf_counter() - t0:.0f} s</small>"
        return results

    units.observe(lambda _change: refresh(), names="value")
    kinds.observe(lambda _change: refresh(), names="value")
    button.on_click(do_run)
    box.refresh, box.run = refresh, do_run
    if runtime.is_grading():  # nothing to look at while grading: skip the first drawing
        status.value = "<small>grading: the panel draws when you change a control</small>"
    else:
        refresh()
    return box
