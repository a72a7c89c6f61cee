"""The degradation experiment of lesson 02 (He et al. 2015, §4.2, Fig. 6): run, collect, plot.

The student's own ``cifar_net(n, residual)`` is passed in; this module only trains what it
builds and draws the results::

    task = degradation.make_task(degradation.QUICK)          # data for one budget
    results = degradation.run(cifar_net, depths=(20, 56), config=degradation.QUICK, task=task)
    degradation.plot_curves(results)                          # training error vs epoch (Fig. 6)
    degradation.plot_summary(results)                         # final error vs depth, two panels
    degradation.plot_gradient_norms({"plain-56": ..., "ResNet-56": ...})
    degradation.control(cifar_net)                            # ipywidgets: depths, budget, run

Two budgets:

- :data:`QUICK` (a CPU, minutes): a **memorisation probe**. A small subset of images, shrunk to
  16x16, with **random labels** drawn once (the images are CIFAR-10 when ``data/`` holds it,
  else the synthetic stand-in of :func:`course.data.make_fake_cifar10`). Random labels carry no
  signal, so the only way down is to memorise: training error measures how well the optimiser
  fits, nothing else (the probe of Zhang et al. 2017, "Understanding deep learning requires
  rethinking generalization"). It is not CIFAR-10 training, and plots say so.
- :data:`FULL` (a GPU): CIFAR-10 itself, 32x32, crop + flip, He et al.'s optimiser settings
  (SGD 0.1, momentum 0.9, weight decay 1e-4, batch 128) for a shorter, cosine-annealed budget.

Training goes through :func:`course.train.fit` on a :class:`course.data.CifarLoader`, so grading
mode caps every run at a few steps by itself; :func:`run` takes a single token step per
network while grading.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from course import checks, data, plots, runtime, train

__all__ = [
    "Config",
    "QUICK",
    "FULL",
    "Task",
    "load_images",
    "make_task",
    "default_config",
    "token_budget",
    "sample_batch",
    "trace",
    "shape_walk",
    "train_net",
    "run",
    "plot_gradient_norms",
    "plot_curves",
    "plot_summary",
    "control",
]

PLAIN_COLOUR, RESIDUAL_COLOUR = "#c44e52", "#4c72b0"


@dataclass(frozen=True)
class Config:
    """One training budget. Units in the comments; every run of a comparison shares it.

    Lessons: none directly (:func:`default_config` returns one, lesson 02).
    """

    name: str
    n_images: int | None  # training images used (None: all 50,000)
    image_size: int  # side in pixels (32 = CIFAR-10 as is; 16 = 2x2 average-pooled)
    random_labels: bool  # replace the labels by uniform random ones (memorisation probe)
    augment: bool  # random crop (4 px) + horizontal flip
    epochs: int  # passes over the n_images
    batch_size: int  # images per SGD step
    lr: float  # peak learning rate
    schedule: str  # "constant", "cosine" or "onecycle" (course.train.fit)
    momentum: float = 0.9
    weight_decay: float = 1e-4  # on conv/linear weights (He et al. 2015, §4.2)

    @property
    def steps(self) -> int:
        n = self.n_images or 50_000
        return self.epochs * (n // self.batch_size)


# The quick budget (a CPU, minutes): memorise random labels of 256 small images. He et al.'s
# lr 0.1 at batch 128, scaled linearly to batch 32 (Goyal et al. 2017): 0.025; one-cycle
# schedule over 40 epochs (320 steps). benchmarks/degradation_robustness.py measures how often
# it shows the degradation problem across seeds (benchmarks/DEGRADATION.md).
QUICK = Config(
    name="quick",
    n_images=256,
    image_size=16,
    random_labels=True,
    augment=False,
    epochs=40,
    batch_size=32,
    lr=0.025,
    schedule="onecycle",
)

# The full budget (GPU): CIFAR-10 proper. He et al. train 64k steps (~164 epochs) with step decay;
# 30 cosine epochs already show the gap between plain-20 and plain-56 (Fig. 6 shows it from the
# first epochs on).
FULL = Config(
    name="full",
    n_images=None,
    image_size=32,
    random_labels=False,
    augment=True,
    epochs=30,
    batch_size=128,
    lr=0.1,
    schedule="cosine",
)


GRADING_IMAGES = 8  # images per network while grading: one token step, nothing learned


def default_config() -> Config:
    """:data:`QUICK` in quick mode (no GPU, grading, ``COURSE_QUICK=1``), else :data:`FULL`.

    Lessons: 02_plain_vs_residual.
    """
    return QUICK if runtime.quick_mode() else FULL


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


@dataclass
class Task:
    """The training set of one budget: ``images`` uint8 (N, 3, S, S), ``labels`` int64 (N,).

    Lessons: none directly (:func:`make_task` returns one, lesson 02).
    """

    images: torch.Tensor
    labels: torch.Tensor
    description: str  # for plot titles: what the images and labels are


def token_budget(config: Config, task: Task) -> tuple[Config, Task]:
    """The budget a notebook takes while grading: batches of :data:`GRADING_IMAGES` images, the
    first :data:`GRADING_IMAGES` of ``task`` only; the caller then takes one step per network
    (the cell runs, nothing is learned).

    Lessons: none directly (:func:`run`, lesson 02, and :mod:`course.experiments.comparison`, lesson 07, call it).
    """
    config = replace(config, batch_size=min(GRADING_IMAGES, len(task.images)))
    task = Task(task.images[:GRADING_IMAGES], task.labels[:GRADING_IMAGES], task.description)
    return config, task


def _shrink(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) -> uint8 (N, 3, size, size) by average pooling (size divides 32)."""
    if size == images.shape[-1]:
        return images
    k = images.shape[-1] // size
    pooled = F.avg_pool2d(images.float(), k)
    return pooled.round().clamp(0, 255).to(torch.uint8)


def load_images(root: str | Path | None = None, download: bool = False):
    """CIFAR-10's training split: ``images`` uint8 (N, 3, 32, 32), ``labels`` int64 (N,), its name.

    From ``root`` (default :func:`course.data.data_root`). With ``download`` a missing CIFAR-10
    is fetched first (a failure, e.g. offline, is reported and not raised). When ``root`` holds no
    CIFAR-10, a small synthetic stand-in (:func:`course.data.make_fake_cifar10`) is generated in
    a temporary folder, read into memory and deleted: nothing is written into ``root``. The name
    is ``"CIFAR-10"`` or :data:`course.data.SYNTHETIC_NAME`: show it on everything drawn.

    Lessons: none directly (:func:`make_task` and :func:`sample_batch` read CIFAR-10 with it,
    lesson 02).
    """
    root = Path(root) if root is not None else data.data_root()
    if download:
        try:
            data.download_cifar10(root)
        except data.DataError as err:
            print(
                f"CIFAR-10 unavailable ({str(err).split('. ')[0]}): using the synthetic stand-in."
            )
    try:
        images, labels = data.load_cifar10(root, "train")
        return images, labels, data.dataset_name(root)
    except data.DataError:
        with tempfile.TemporaryDirectory(prefix="course-fake-cifar-") as tmp:
            data.make_fake_cifar10(tmp, n_train=1000, n_test=10)
            images, labels = data.load_cifar10(tmp, "train")
        return images, labels, data.SYNTHETIC_NAME


def make_task(config: Config = QUICK, root: str | Path | None = None, seed: int = 0) -> Task:
    """The training data of ``config``: a subset, shrunk, with random labels if asked.

    Images come from :func:`load_images` (CIFAR-10 in ``root``, else the synthetic stand-in;
    the full budget tries to download CIFAR-10 first unless grading). Random labels depend only
    on ``seed``.

    Lessons: 02_plain_vs_residual, 06_residual_variants.
    """
    download = not config.random_labels and not runtime.is_grading()
    images, labels, source = load_images(root, download=download)
    if config.n_images is not None:
        if config.n_images > len(images):
            raise ValueError(f"{config.name}: {config.n_images} images asked, {len(images)} there")
        images, labels = images[: config.n_images], labels[: config.n_images]
    images = _shrink(images, config.image_size)
    what = f"{len(images):,} images of {source}, {config.image_size}x{config.image_size}"
    if config.random_labels:
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 10, (len(images),), generator=g)
        what = f"RANDOM labels (memorisation probe) on {what}"
    return Task(images, labels, what)


def sample_batch(batch_size: int = 32, root: str | Path | None = None, seed: int = 0):
    """A normalised batch of 32x32 training images and their labels, to probe a network with.

    Returns ``X`` float32 (B, 3, 32, 32), ``y`` int64 (B,) and a description (CIFAR-10, or the
    synthetic stand-in when ``root`` has no CIFAR-10), all on the CPU.

    Lessons: 02_plain_vs_residual.
    """
    images, labels, source = load_images(root)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(images), generator=g)[:batch_size]
    loader = data.CifarLoader(
        images[idx], labels[idx], batch_size=batch_size, train=False, device="cpu"
    )
    return loader.X, loader.labels, f"{batch_size} images of {source}"


# --------------------------------------------------------------------------------------------
# looking inside a network: weighted layers in the order the forward pass runs them
# --------------------------------------------------------------------------------------------


@checks.runs_beside_student
def trace(
    model: nn.Module, X: torch.Tensor, types=(nn.Conv2d, nn.Linear), keep_outputs: bool = False
) -> list[dict]:
    """Run ``model(X)`` (no grad) and record every module of ``types`` in execution order.

    One dict per call: ``name`` (from ``named_modules``), ``module``, ``out_shape`` (without the
    batch axis) and, with ``keep_outputs``, ``output`` (the tensor). Works for any way of writing
    the model (Sequential, custom ``forward``). BN layers in train mode update their running
    statistics, as in any forward pass.

    Lessons: 02_plain_vs_residual.
    """
    names = {m: name for name, m in model.named_modules()}
    calls: list[dict] = []

    def hook(module, _inputs, output):
        call = {"name": names.get(module, "?"), "module": module}
        call["out_shape"] = tuple(output.shape[1:])
        if keep_outputs:
            call["output"] = output.detach()
        calls.append(call)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in handles:
            h.remove()
    return calls


def _describe_layer(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k, s = m.kernel_size, m.stride
        return f"conv {k[0]}x{k[1]}, {m.in_channels}->{m.out_channels}, stride {s[0]}"
    if isinstance(m, nn.Linear):
        return f"linear {m.in_features}->{m.out_features}"
    return type(m).__name__


def shape_walk(model: nn.Module, X: torch.Tensor) -> None:
    """Print the weighted layers (conv, linear) of ``model`` in forward order with output shapes.

    Lessons: 02_plain_vs_residual.
    """
    calls = trace(model, X)
    for i, c in enumerate(calls, 1):
        print(f"{i:>3}  {c['name']:<22} {_describe_layer(c['module']):<32} -> {c['out_shape']}")
    print(
        f"{len(calls)} weighted layers, {sum(p.numel() for p in model.parameters()):,} parameters"
    )


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


def _label(depth: int, residual: bool) -> str:
    return f"{'ResNet' if residual else 'plain'}-{depth}"


def train_net(
    model: nn.Module,
    task: Task,
    config: Config,
    seed: int = 0,
    max_steps: int | None = None,
    progress: bool = False,
) -> dict:
    """Train ``model`` on ``task`` with ``config`` through :func:`course.train.fit`.

    Returns ``history`` (fit's per-epoch rows: ``train_loss``, ``train_acc`` on the batches as
    they were trained), and ``final_loss`` / ``final_error``: the trained model evaluated on the
    whole training set, in eval mode (BN running statistics), no augmentation.

    Lessons: none directly (:func:`run` trains every network with it, lesson 02).
    """
    device = runtime.get_device()
    loader = data.CifarLoader(
        task.images,
        task.labels,
        batch_size=min(config.batch_size, len(task.images)),
        train=True,
        device=device,
        aug=dict(flip=True, crop_padding=4) if config.augment else (lambda X: X),
        seed=seed,
    )
    t0 = time.perf_counter()
    history = train.fit(
        model,
        loader,
        epochs=config.epochs,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=False,
        weight_decay=config.weight_decay,
        schedule=config.schedule,
        max_steps=max_steps,
        progress=progress,
        log=lambda _msg: None,
    )
    seconds = time.perf_counter() - t0
    plain_loader = data.CifarLoader(
        task.images, task.labels, batch_size=256, train=False, device=device
    )
    final = train.evaluate(model, plain_loader)
    return {
        "history": history,
        "final_loss": final["loss"],
        "final_error": 1 - final["accuracy"],
        "seconds": seconds,
    }


def run(
    cifar_net: Callable[..., nn.Module],
    depths: Sequence[int] = (20, 56),
    config: Config | None = None,
    task: Task | None = None,
    seed: int = 0,
    residual: Sequence[bool] = (False, True),
    log: Callable[[str], object] = print,
) -> list[dict]:
    """Build ``cifar_net(n, residual)`` for each depth 6n+2 (plain and residual) and train each.

    Every network starts from ``torch.manual_seed(seed)`` and sees the same batches. Returns one
    dict per network: ``label``, ``depth``, ``n``, ``residual``, ``params``, ``config`` and the
    fields of :func:`train_net`. While grading, each network takes one token step only.

    Lessons: 02_plain_vs_residual.
    """
    config = config or default_config()
    task = task or make_task(config, seed=seed)
    grading = runtime.is_grading()
    if grading:
        config, task = token_budget(config, task)
    results = []
    for is_residual in residual:
        for depth in depths:
            if (depth - 2) % 6:
                raise ValueError(f"depth {depth} is not of the form 6n+2 (20, 32, 44, 56, 110)")
            n = (depth - 2) // 6
            runtime.seed_everything(seed)
            model = cifar_net(n, residual=is_residual)
            out = train_net(model, task, config, seed=seed, max_steps=1 if grading else None)
            row = {
                "label": _label(depth, is_residual),
                "depth": depth,
                "n": n,
                "residual": is_residual,
                "params": sum(p.numel() for p in model.parameters()),
                "config": asdict(config),
                "task": task.description,
                "seed": seed,
                **out,
            }
            results.append(row)
            log(
                f"{row['label']:>10}: final training loss {row['final_loss']:.3f}, "
                f"error {row['final_error']:.1%}  ({row['seconds']:.0f} s)"
                + ("  [grading: 1 token step, meaningless]" if grading else "")
            )
    return results


# --------------------------------------------------------------------------------------------
# plots: each returns its figure; in a notebook the inline backend shows it when the cell ends
# --------------------------------------------------------------------------------------------


def plot_gradient_norms(norms: dict, title: str = "Weight-gradient norm per conv layer at init"):
    """``norms``: label -> per-layer values (a list, or a dict name -> float, in depth order).

    One line per network, x = conv layer (1 = next to the input), log-scale y. Returns the figure.

    Lessons: 02_plain_vs_residual.
    """
    fig, (ax,) = plots.figure_row(7, 3.6)
    for label, values in norms.items():
        ys = list(values.values()) if isinstance(values, dict) else list(values)
        colour = RESIDUAL_COLOUR if label.lower().startswith("res") else PLAIN_COLOUR
        ax.plot(range(1, len(ys) + 1), ys, marker=".", label=label, color=colour)
    ax.set_yscale("log")
    ax.set_xlabel("conv layer (1 = first, next to the input)")
    ax.set_ylabel("||dL/dW||")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def _depth_colour(depth: int, depths: Sequence[int], residual: bool):
    import matplotlib

    cmap = matplotlib.colormaps["Blues" if residual else "Reds"]
    ordered = sorted(set(depths))
    t = 0.45 + 0.5 * (ordered.index(depth) / max(len(ordered) - 1, 1))
    return cmap(t)


def _title(results: list[dict]) -> str:
    cfg = results[0]["config"]
    note = "  [grading: token step only]" if runtime.is_grading() else ""
    return f"{cfg['name']} budget: {results[0]['task']}{note}"


def plot_curves(results: list[dict]):
    """Training error vs epoch, plain | residual (the training-error curves of He et al. Fig. 6).

    Lessons: 02_plain_vs_residual.
    """
    fig, axes = plots.figure_row(10, 3.8, 2)
    depths = [r["depth"] for r in results]
    for ax, residual in zip(axes, (False, True), strict=True):
        for r in (r for r in results if r["residual"] == residual):
            xs = [row["epoch"] for row in r["history"]]
            ys = [100 * (1 - row["train_acc"]) for row in r["history"]]
            colour = _depth_colour(r["depth"], depths, residual)
            ax.plot(xs, ys, marker=".", label=r["label"], color=colour)
        ax.set_title("residual" if residual else "plain")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training error (%)")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if results:
        fig.suptitle(_title(results), fontsize=9)
    return fig


def plot_summary(results: list[dict]):
    """Final training error vs depth: "plain: theory vs reality" | "residual".

    Theory: a deeper plain net can copy a shallower one and make its extra layers identities,
    so its training error should be no higher than the best shallower net's: the running
    minimum of the measured errors. Reality: what was measured.

    Lessons: 02_plain_vs_residual.
    """
    fig, (left, right) = plots.figure_row(10, 3.8, 2)
    for ax, residual in ((left, False), (right, True)):
        rows = sorted((r for r in results if r["residual"] == residual), key=lambda r: r["depth"])
        xs = [r["depth"] for r in rows]
        ys = [100 * r["final_error"] for r in rows]
        colour = RESIDUAL_COLOUR if residual else PLAIN_COLOUR
        if not residual and ys:
            theory = [min(ys[: i + 1]) for i in range(len(ys))]
            ax.plot(xs, theory, "--", color="grey", label="theory: no worse than shallower")
        ax.plot(xs, ys, "o-", color=colour, label="reality (measured)" if not residual else None)
        ax.set_title("residual" if residual else "plain: theory vs reality")
        ax.set_xlabel("depth (layers)")
        ax.set_ylabel("final training error (%)")
        ax.set_xticks(sorted(set(xs)) or [20, 56])
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    # one scale for both panels, so that 0% next to 85% looks like it
    top = max([100 * r["final_error"] for r in results] + [10.0]) * 1.08
    for ax in (left, right):
        ax.set_ylim(-0.03 * top, top)  # a little below 0: a line at 0% stays visible
    if results:
        fig.suptitle(_title(results), fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# widget
# --------------------------------------------------------------------------------------------


def control(cifar_net: Callable[..., nn.Module], config: Config | None = None, task=None):
    """An ipywidgets panel: pick depths and a budget (epochs, lr), press Run, see both plots.

    Nothing trains until the button is pressed. Returns the ``VBox`` with extra attributes:
    ``depths``, ``epochs``, ``lr`` (the controls), ``button``, ``run()`` (what the button
    does) and ``results`` (the last run's rows, or ``None``).

    Lessons: 02_plain_vs_residual.
    """
    import ipywidgets as ipw

    from course.experiments import panels

    base = config or default_config()
    depths = ipw.SelectMultiple(
        options=[20, 32, 44, 56, 110],
        value=(20, 56),
        description="depths",
        rows=5,
    )
    epochs, lr, button = panels.budget_controls(base)
    status = ipw.HTML(
        f"<small>{base.name} budget; every depth trains plain and residual "
        "(a 110-layer net costs ~5x a 20-layer one)</small>"
    )
    curves, summary = panels.image(), panels.image()
    box = ipw.VBox([ipw.HBox([depths, ipw.VBox([epochs, lr, button])]), status, summary, curves])
    box.depths, box.epochs, box.lr, box.button, box.results = depths, epochs, lr, button, None

    def do_run(_=None):
        cfg = replace(base, epochs=int(epochs.value), lr=float(lr.value))
        chosen = sorted(depths.value)
        status.value = (
            f"<small>training {', '.join(map(str, chosen))} (plain + residual)...</small>"
        )
        try:
            results = run(cifar_net, chosen, cfg, task=task, log=lambda _m: None)
        except Exception as exc:  # the student's code, or a wrong depth: show it, do not crash
            status.value = panels.error_html(f"{type(exc).__name__}: {exc}")
            return None
        box.results = results
        panels.show(summary, plot_summary(results))
        panels.show(curves, plot_curves(results))
        took = sum(r["seconds"] for r in results)
        status.value = f"<small>done in {took:.0f} s of training</small>"
        return results

    button.on_click(do_run)
    box.run = do_run
    return box
