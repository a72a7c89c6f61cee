"""The training loop, evaluation, prediction and self-describing checkpoints.

::

    history = fit(model, train_loader, val_loader, epochs=10, lr=0.2, checkpoint_dir="runs/r34")
    evaluate(model, test_loader, tta=True)          # {"accuracy": ..., "loss": ..., "n": ...}
    labels = predict(model, test_loader)

``fit`` reads top to bottom as named steps: :func:`_setup` (process group, device, the run's
config), :func:`_resume` (``last.pt`` through :func:`load_checkpoint`), :func:`_train_epoch`
(forward under autocast, backward, optimizer step, schedule step, metrics kept on the device),
:func:`_finish_epoch` (totals across ranks, evaluation, the history row) and
:func:`_save_epoch`. Device, precision and the process group come from :mod:`course.runtime`
(CUDA: bf16 autocast + channels_last, optional ``torch.compile``; CPU: fp32). After every epoch
``fit`` writes ``checkpoint_dir/last.pt`` atomically; calling the same ``fit`` again resumes from
it. Under ``torchrun`` it trains with DistributedDataParallel. Under nbgrader it never starts a
long run (see :data:`GRADING_MAX_STEPS`).
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from course import runtime
from course.runtime import init_distributed  # noqa: F401 - its historical home, re-exported

__all__ = [
    "CHECKPOINT_NAME",
    "GRADING_MAX_STEPS",
    "CheckpointError",
    "fit",
    "train_step",
    "make_optimizer",
    "evaluate",
    "predict",
    "save_checkpoint",
    "load_checkpoint",
    "plain_state_dict",
    "init_distributed",
]

CHECKPOINT_NAME = "last.pt"
GRADING_MAX_STEPS = 3  # optimizer steps a fit may take while nbgrader executes a notebook

# fit arguments that define a run: a checkpoint is resumed only if all of them match.
_CONFIG_KEYS = (
    "model",
    "num_params",
    "epochs",
    "lr",
    "optimizer",
    "momentum",
    "nesterov",
    "weight_decay",
    "label_smoothing",
    "loss_fn",
    "schedule",
    "batch_size",
    "steps_per_epoch",
    "world_size",
)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or belongs to a different run/model.

    Lessons: none directly (:func:`load_checkpoint` and :func:`fit` raise it; lesson 05 loads
    checkpoints).
    """


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def _atomic_save(obj: dict, path: Path) -> None:
    """torch.save to a temporary file next to ``path``, then os.replace: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **meta) -> Path:
    """Write ``model``'s weights plus ``meta`` to ``path`` (atomically); return the path.

    The file is a dict: ``model`` (state_dict), ``model_class``, ``torch_version``, ``date``
    (UTC, ISO 8601) and every keyword in ``meta`` (e.g. ``config=...``, ``metrics=...``).
    Keep ``meta`` to tensors, numbers, strings, lists and dicts so that it loads with
    ``torch.load(weights_only=True)``.

    Lessons: none directly (:func:`fit` writes ``last.pt`` with it; lesson 05 hands its model in
    through :func:`course.scoring.save_model`).
    """
    path = Path(path)
    model = _unwrap(model)
    checkpoint = {
        "model": model.state_dict(),
        "model_class": type(model).__name__,
        "torch_version": str(torch.__version__),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **meta,
    }
    _atomic_save(checkpoint, path)
    return path


def plain_state_dict(state_dict: dict) -> dict:
    """A state_dict saved from a compiled (``_orig_mod.``) or DDP (``module.``) model, with its
    keys made plain so that it loads into the bare module.

    Lessons: none directly (:func:`load_checkpoint` and :func:`course.scoring.score_checkpoint`
    use it; lesson 05's checkpoint goes through both).
    """
    out = {}
    for key, value in state_dict.items():
        for prefix in ("_orig_mod.", "module."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def _load_weights(checkpoint: dict, model: nn.Module, path: Path) -> None:
    """Load a checkpoint's weights into ``model`` (strict), with a message when they do not fit."""
    target = _unwrap(model)
    try:
        target.load_state_dict(plain_state_dict(checkpoint["model"]))
    except RuntimeError as err:
        raise CheckpointError(
            f"{path} holds weights of a {checkpoint.get('model_class')} that do not fit this "
            f"{type(target).__name__}: {err}\nHint: build the same architecture (same "
            "class and arguments) as the one that was trained."
        ) from err


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    map_location: str | torch.device = "cpu",
) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` or :func:`fit`; return its dict.

    With ``model``, also load the weights into it (strict: every key and shape must match).
    Loads with ``weights_only=True``: a checkpoint cannot run code on the machine that reads it.

    Lessons: 05_resnet34_cifar10 (loads the trained model instead of training again); :func:`fit`
    resumes through it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Train first (fit(..., checkpoint_dir=...) writes "
            f"{CHECKPOINT_NAME} there) or check the path."
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"Could not read checkpoint {path}: {err}") from err
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise CheckpointError(f"{path} is not a course checkpoint (no 'model' state_dict).")
    if model is not None:
        _load_weights(checkpoint, model, path)
    return checkpoint


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]],
    }


def _set_rng_state(state: dict) -> None:
    """Restore :func:`_rng_state`. Generator states must be CPU byte tensors, wherever the
    checkpoint was mapped to (a CUDA ``map_location`` would otherwise break the resume)."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.cpu().numpy(), pos, has_gauss, cached))


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _logits(model: nn.Module, X: torch.Tensor, tta: bool) -> torch.Tensor:
    """(B, 3, H, W) -> (B, classes) float32; with ``tta`` averaged with the flipped batch."""
    with runtime.autocast(X.device):
        logits = model(X).float()
        if tta:
            logits = (logits + model(X.flip(-1)).float()) / 2
    return logits


@torch.no_grad()
def evaluate(model: nn.Module, loader, tta: bool = False) -> dict:
    """Accuracy and mean cross-entropy of ``model`` over ``loader``: dict(accuracy, loss, n).

    ``tta=True`` averages the logits of each batch and its horizontal flip. When the loader is
    sharded across a process group, the sums are all-reduced: every rank gets the totals.

    Lessons: 04_inception (and through :mod:`course.experiments.degradation`, lesson 02).
    """
    was_training = model.training
    model.eval()
    device = _model_device(model)
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    for X, y in loader:
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        logits = _logits(model, X, tta)
        totals[0] += F.cross_entropy(logits, y, reduction="sum")
        totals[1] += (logits.argmax(1) == y).sum()
        totals[2] += len(y)
    if getattr(loader, "world_size", 1) > 1 and dist.is_available() and dist.is_initialized():
        dist.all_reduce(totals)
    model.train(was_training)
    loss_sum, correct, n = totals.tolist()
    if n == 0:
        raise ValueError("evaluate: the loader yielded no examples.")
    return {"accuracy": correct / n, "loss": loss_sum / n, "n": int(n)}


@torch.no_grad()
def predict(
    model: nn.Module,
    X_or_loader,
    *,
    probs: bool = False,
    tta: bool = False,
    batch_size: int = 1024,
):
    """Predicted labels (N,) int64 on the CPU; with ``probs=True`` also softmax (N, classes).

    ``X_or_loader``: a normalised float batch (N, 3, H, W) (e.g. ``loader.X``), or a loader
    yielding ``(X, y)`` in a fixed order (``CifarLoader(..., train=False)``).

    Lessons: 05_resnet34_cifar10.
    """
    if torch.is_tensor(X_or_loader):
        X = X_or_loader
        if not X.is_floating_point():
            raise TypeError(
                f"predict expects normalised float images, got {X.dtype}: normalise first "
                "(CifarLoader(images, labels, batch_size, train=False).X)."
            )
        batches = (X[i : i + batch_size] for i in range(0, len(X), batch_size))
    else:
        batches = (X for X, _ in X_or_loader)
    was_training = model.training
    model.eval()
    device = _model_device(model)
    fmt = runtime.memory_format(device)
    all_logits = [
        _logits(model, X.to(device).contiguous(memory_format=fmt), tta).cpu() for X in batches
    ]
    model.train(was_training)
    logits = torch.cat(all_logits)
    labels = logits.argmax(1)
    return (labels, logits.softmax(1)) if probs else labels


# --------------------------------------------------------------------------------------------
# training: one step
# --------------------------------------------------------------------------------------------


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay conv/linear weights only (ndim >= 2); not BN weights/biases or biases.

    Decaying BN's scale and the biases only shrinks what the next BN re-normalises anyway; the
    common fast-training recipes leave them out ("no bias decay", Goyal et al. 2017).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def make_optimizer(
    model: nn.Module,
    optimizer: str = "sgd",
    lr: float = 0.1,
    momentum: float = 0.9,
    nesterov: bool = True,
    weight_decay: float = 5e-4,
) -> torch.optim.Optimizer:
    """The optimizer :func:`fit` builds: ``"sgd"`` (momentum, Nesterov) or ``"adamw"``, with
    ``weight_decay`` on conv/linear weights only (not BN parameters or biases).

    Lessons: none directly (:func:`fit` builds its optimizer with it;
    ``benchmarks/train_throughput.py`` too, so that it times the same step).
    """
    groups = _param_groups(model, weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {optimizer!r}.")


def _make_schedule(opt, schedule, total_steps):
    if schedule == "onecycle" and total_steps >= 2:
        # Warm-up from lr/25 to lr over the first 25% of steps, then cosine down to ~0.
        # cycle_momentum=False: momentum stays what fit was given. Very short runs (smoke
        # tests) get a longer warm-up fraction: OneCycleLR needs each phase to span > 0 steps.
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=[g["lr"] for g in opt.param_groups],
            total_steps=total_steps,
            pct_start=min(max(0.25, 1.5 / total_steps), 0.75),
            cycle_momentum=False,
        )
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    if schedule in ("constant", "onecycle"):  # onecycle over a single step: just lr
        return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    raise ValueError(f"schedule must be 'onecycle', 'cosine' or 'constant', got {schedule!r}.")


def train_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    label_smoothing: float = 0.0,
    loss_fn: Callable | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch; returns ``(loss, logits)`` (not synced to the CPU).

    X: (B, 3, H, W) on the model's device, y: (B,) int64. This is exactly the step :func:`fit`
    takes (``benchmarks/train_throughput.py`` times it too). ``loss_fn(outputs, y)`` replaces the
    cross-entropy for a model whose training-mode output is a tuple ``(logits, *extra)`` (lesson
    04's auxiliary heads); ``logits`` is then ``outputs[0]``.

    Lessons: none directly (every :func:`fit` step: lessons 02 and 05).
    """
    # forward: logits and loss under autocast (bf16 on CUDA, fp32 on CPU)
    with runtime.autocast(X.device):
        outputs = net(X)
        logits = outputs[0] if isinstance(outputs, tuple | list) else outputs
        if loss_fn is None:
            loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        else:
            loss = loss_fn(outputs, y)
    # backward and update
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, logits


# --------------------------------------------------------------------------------------------
# training: fit, as named steps
# --------------------------------------------------------------------------------------------


@dataclass
class _Setup:
    """Decided once per fit call, before training: where it runs and which run it is."""

    device: torch.device
    rank: int
    world_size: int
    say: Callable[[str], object]  # rank 0's log (tqdm-safe), a no-op elsewhere
    config: dict  # the run's identity (_CONFIG_KEYS), stored in and checked against last.pt
    ckpt_path: Path | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@dataclass
class _State:
    """How far the run has got: completed epochs, optimizer steps, one history row per epoch."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)


def _setup(model, train_loader, device, log, checkpoint_dir, **run) -> _Setup:
    """Process group, device, logging, the model on the device, the run's config."""
    from tqdm.auto import tqdm

    rank, world_size, _ = runtime.init_distributed()
    device = runtime.get_device(device)
    say = (tqdm.write if log is print else log) if rank == 0 and log else (lambda _msg: None)
    model.to(device, memory_format=runtime.memory_format(device))
    if len(train_loader) == 0:
        raise ValueError("train_loader yields no batches (batch_size larger than the data?).")
    steps_per_epoch = runtime.quick_steps(len(train_loader))  # the test suite's scale knob
    config = {
        "model": type(model).__name__,
        "num_params": sum(p.numel() for p in model.parameters()),
        **run,
        "batch_size": getattr(train_loader, "batch_size", None),
        "steps_per_epoch": steps_per_epoch,
        "world_size": world_size,
    }
    config = {key: config[key] for key in _CONFIG_KEYS}
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    return _Setup(device, rank, world_size, say, config, ckpt_path)


def _check_config(saved: dict, config: dict, path: Path) -> None:
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r}, now {config[k]!r}"
        for k in _CONFIG_KEYS
        if saved.get(k) != config[k]
    ]
    if diffs:
        raise CheckpointError(
            f"{path} was written by a different run:\n  "
            + "\n  ".join(diffs)
            + "\nUse a new checkpoint_dir, delete the old one, or pass resume=False to start over."
        )


def _load_run(setup: _Setup, model: nn.Module) -> dict:
    """``last.pt`` through :func:`load_checkpoint`: the same run (config), then its weights.

    Read onto the CPU: the optimizer's state follows its parameters' device when loaded, and
    the RNG states must stay CPU tensors.
    """
    checkpoint = load_checkpoint(setup.ckpt_path, map_location="cpu")
    _check_config(checkpoint.get("config", {}), setup.config, setup.ckpt_path)
    _load_weights(checkpoint, model, setup.ckpt_path)
    return checkpoint


def _resume(setup: _Setup, model, opt, sched) -> _State:
    """Continue a run from ``last.pt``: weights, optimizer, schedule, RNG states, history."""
    checkpoint = _load_run(setup, model)
    opt.load_state_dict(checkpoint["optimizer"])
    sched.load_state_dict(checkpoint["scheduler"])
    _set_rng_state(checkpoint["rng"])
    state = _State(checkpoint["epoch"], checkpoint["step"], checkpoint["history"])
    setup.say(
        f"resumed from {setup.ckpt_path}: epoch {state.epoch}/{setup.config['epochs']} done, "
        f"step {state.step}."
    )
    return state


def _wrap(model: nn.Module, setup: _Setup, compile: bool) -> nn.Module:
    """The network that steps: DDP wrapper (syncs gradients), then optional torch.compile."""
    net = model
    if setup.world_size > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[setup.device.index] if setup.device.type == "cuda" else None
        )
    return torch.compile(net) if compile else net


def _train_epoch(net, opt, sched, train_loader, epoch, state, bar, max_steps, show, setup, **loss):
    """One pass of optimizer steps; returns ``(sums, seconds)``: the device tensor (loss sum,
    correct, count) of this rank and the seconds the steps took (device synchronised)."""
    if hasattr(train_loader, "set_epoch"):  # deterministic order: a resumed run sees the same
        train_loader.set_epoch(epoch)
    sums = torch.zeros(3, dtype=torch.float64, device=setup.device)  # loss sum, correct, count
    shown_at = t0 = time.perf_counter()
    for X, y in itertools.islice(train_loader, setup.config["steps_per_epoch"]):
        if max_steps is not None and state.step >= max_steps:
            break
        X = X.to(setup.device, non_blocking=True)
        y = y.to(setup.device, non_blocking=True)

        # forward (autocast: bf16 on CUDA, fp32 on CPU), backward (DDP averages the gradients
        # across ranks here), optimizer update, then the per-step schedule
        loss_value, logits = train_step(net, opt, X, y, **loss)
        sched.step()
        state.step += 1

        # metrics stay on the device: no GPU->CPU sync per step
        sums[0] += loss_value.detach() * len(y)
        sums[1] += (logits.detach().argmax(1) == y).sum()
        sums[2] += len(y)
        bar.update(1)
        now = time.perf_counter()
        if show and now - shown_at > 0.5:  # sync twice a second at most
            loss_sum, correct, seen = sums.tolist()
            bar.set_postfix(
                loss=f"{loss_sum / seen:.3f}",
                acc=f"{correct / seen:.1%}",
                img_s=f"{seen * setup.world_size / (now - t0):,.0f}",
                refresh=False,
            )
            shown_at = now
    if setup.device.type == "cuda":
        torch.cuda.synchronize(setup.device)
    return sums, time.perf_counter() - t0


def _sync_ranks(model: nn.Module, sums: torch.Tensor, world_size: int) -> None:
    """Totals over all ranks; BN running statistics (updated per rank, on its own batches)
    averaged, so that every rank evaluates and rank 0 saves the same model."""
    if world_size <= 1:
        return
    dist.all_reduce(sums)
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer)
            buffer /= world_size


def _finish_epoch(model, sums, seconds, val_loader, epoch, opt, state, setup) -> dict | None:
    """Totals across ranks, validation and the epoch's history row (``None``: no step ran)."""
    _sync_ranks(model, sums, setup.world_size)
    loss_sum, correct, seen = sums.tolist()
    if seen == 0:
        return None
    val = evaluate(model, val_loader) if val_loader is not None else None
    row = {
        "epoch": epoch + 1,
        "step": state.step,
        "train_loss": loss_sum / seen,
        "train_acc": correct / seen,
        "val_loss": val["loss"] if val else None,
        "val_acc": val["accuracy"] if val else None,
        "lr": opt.param_groups[0]["lr"],
        "seconds": seconds,
        "images_per_s": seen / seconds,
    }
    if state.step < (epoch + 1) * setup.config["steps_per_epoch"]:
        row["partial"] = True
    state.history.append(row)
    state.epoch = epoch + 1
    val_text = f"  val loss {row['val_loss']:.4f} acc {row['val_acc']:.2%}" if val else ""
    setup.say(
        f"epoch {epoch + 1}/{setup.config['epochs']}{' (partial)' if row.get('partial') else ''}"
        f"  train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%}{val_text}  "
        f"lr {row['lr']:.4g}  {seconds:.1f}s  {row['images_per_s']:,.0f} img/s"
    )
    return row


def _save_epoch(setup: _Setup, model, opt, sched, state: _State, row: dict) -> None:
    """``last.pt``: rank 0, complete epochs only, atomically."""
    if setup.ckpt_path is None or not setup.is_main or row.get("partial"):
        return
    save_checkpoint(
        setup.ckpt_path,
        model,
        optimizer=opt.state_dict(),
        scheduler=sched.state_dict(),
        epoch=state.epoch,
        step=state.step,
        rng=_rng_state(),
        config=setup.config,
        history=state.history,
        metrics=row,
    )


def fit(
    model: nn.Module,
    train_loader,
    val_loader=None,
    *,
    epochs: int,
    lr: float,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    nesterov: bool = True,
    weight_decay: float = 5e-4,
    label_smoothing: float = 0.0,
    schedule: str = "onecycle",
    compile: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_steps: int | None = None,
    log: Callable[[str], object] | None = print,
    loss_fn: Callable | None = None,
) -> list[dict]:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return the history.

    History: one dict per epoch: ``epoch`` (1-based), ``step`` (optimizer steps so far),
    ``train_loss``, ``train_acc`` (on the augmented batches), ``val_loss``, ``val_acc`` (None
    without ``val_loader``), ``lr`` (at the epoch's end), ``seconds`` (training steps, without
    evaluation), ``images_per_s`` (all ranks together).

    - optimizer ``"sgd"`` (momentum, Nesterov) or ``"adamw"`` (``momentum``/``nesterov``
      unused); ``weight_decay`` applies to conv/linear weights only, not to BN parameters or
      biases; ``label_smoothing`` goes to the cross-entropy.
    - ``schedule``: ``"onecycle"`` (OneCycleLR peaking at ``lr`` after 25% of the steps, no
      momentum cycling), ``"cosine"`` or ``"constant"``, stepped every batch.
    - ``checkpoint_dir``: ``last.pt`` after every epoch (model, optimizer, scheduler, epoch,
      step, RNG states, config, history, torch version, date). With ``resume=True`` a rerun
      continues from it and still ends after ``epochs``; a checkpoint of a different run (model
      or any config value) raises :class:`CheckpointError`. ``resume=False`` starts over.
    - ``max_steps``: stop after this many optimizer steps in total (a smoke test); an epoch cut
      short is reported in the history (``"partial": True``) but not checkpointed.
    - grading (``runtime.is_grading()``): loads ``last.pt`` if it exists and returns its
      history, else trains at most :data:`GRADING_MAX_STEPS` steps and writes no checkpoint.
    - quick mode outside grading: at most ``$COURSE_QUICK_EPOCHS`` epochs and
      ``$COURSE_QUICK_STEPS`` steps per epoch when they are set (the test suite's scale knobs,
      :func:`course.runtime.quick_epochs` and :func:`course.runtime.quick_steps`); it logs one
      line for each that cuts the run.
    - under ``torchrun``: DistributedDataParallel; give each rank its shard through the loader
      (``CifarLoader`` does it by itself); only rank 0 logs, shows the bar and writes checkpoints.

    Lessons: 05_resnet34_cifar10 (and lesson 02 through :func:`course.experiments.degradation.train_net`).
    """
    from tqdm.auto import tqdm

    asked, epochs = epochs, runtime.quick_epochs(epochs)  # the test suite's scale knob
    # -- where and what: process group, device, precision, the run's config ---------------------
    setup = _setup(
        model, train_loader, device, log, checkpoint_dir,
        epochs=epochs, lr=lr, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
        weight_decay=weight_decay, label_smoothing=label_smoothing,
        loss_fn=getattr(loss_fn, "__name__", None), schedule=schedule,
    )  # fmt: skip

    if epochs < asked:
        setup.say(f"${runtime.QUICK_EPOCHS_ENV}: {epochs} of the {asked} epochs asked for.")
    if setup.config["steps_per_epoch"] < len(train_loader):
        setup.say(
            f"${runtime.QUICK_STEPS_ENV}: {setup.config['steps_per_epoch']} of the "
            f"{len(train_loader)} steps of each epoch."
        )
    # -- grading: never a long run -----------------------------------------------------------
    if runtime.is_grading():
        if setup.ckpt_path is not None and setup.ckpt_path.is_file():
            checkpoint = _load_run(setup, model)
            setup.say(
                f"grading mode: loaded {setup.ckpt_path} (epoch {checkpoint['epoch']}/{epochs}) "
                "instead of training."
            )
            return checkpoint["history"]
        max_steps = GRADING_MAX_STEPS if max_steps is None else min(max_steps, GRADING_MAX_STEPS)
        setup.ckpt_path = None
        setup.say(f"grading mode: training capped at {max_steps} steps, no checkpoint written.")

    # -- how: optimizer and per-step schedule; resume from checkpoint_dir/last.pt --------------
    opt = make_optimizer(model, optimizer, lr, momentum, nesterov, weight_decay)
    sched = _make_schedule(opt, schedule, epochs * setup.config["steps_per_epoch"])
    state = _State()
    if setup.ckpt_path is not None and resume and setup.ckpt_path.is_file():
        state = _resume(setup, model, opt, sched)
        if state.epoch >= epochs:
            setup.say("nothing left to train.")
            return state.history

    # -- the epoch loop: train, totals + evaluation, checkpoint ----------------------------------
    net = _wrap(model, setup, compile)
    total_steps = epochs * setup.config["steps_per_epoch"]
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    show = progress and setup.is_main
    bar = tqdm(
        total=total_steps,
        initial=min(state.step, total_steps),
        unit="step",
        disable=not show,
        dynamic_ncols=True,
    )
    loss = dict(label_smoothing=label_smoothing, loss_fn=loss_fn)
    for epoch in range(state.epoch, epochs):
        if max_steps is not None and state.step >= max_steps:
            break
        model.train()
        bar.set_description(f"epoch {epoch + 1}/{epochs}")
        sums, seconds = _train_epoch(
            net, opt, sched, train_loader, epoch, state, bar, max_steps, show, setup, **loss
        )
        row = _finish_epoch(model, sums, seconds, val_loader, epoch, opt, state, setup)
        if row is None:
            break
        _save_epoch(setup, model, opt, sched, state, row)
    bar.close()
    return state.history
