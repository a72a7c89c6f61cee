"""course.train on the CPU: a short fit learns, checkpoints round-trip and resume, grading caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from torch import nn

from course import data, runtime, train
from course.train import CheckpointError


class TinyNet(nn.Module):
    """conv -> BN -> ReLU -> pool -> linear: enough to learn the synthetic classes."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * width, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.fc(self.avgpool(x).flatten(1))


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: on a small shared CPU, more threads oversubscribe the cores and
    make these tiny workloads many times slower. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    data.make_fake_cifar10(root, n_train=200, n_test=60, seed=0)
    return root


def loaders(root, batch_size=50):
    train_loader = data.CifarLoader(*data.load_cifar10(root, "train"), batch_size, True, seed=0)
    test_loader = data.CifarLoader(*data.load_cifar10(root, "test"), 100, False)
    return train_loader, test_loader


@pytest.fixture(autouse=True)
def not_grading(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_fit_lowers_the_loss(root):
    runtime.seed_everything(0)
    model = TinyNet()
    train_loader, test_loader = loaders(root)
    before = train.evaluate(model, test_loader)
    lines = []
    history = train.fit(
        model, train_loader, test_loader, epochs=4, lr=0.2, progress=False, log=lines.append
    )
    after = train.evaluate(model, test_loader)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert set(history[0]) == {
        "epoch",
        "step",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
        "images_per_s",
    }
    assert history[-1]["step"] == 16 and history[-1]["images_per_s"] > 0
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.3
    assert history[-1]["val_loss"] == pytest.approx(after["loss"])
    assert len(lines) == 4 and lines[0].startswith("epoch 1/4")


def test_fit_on_the_bf16_path_under_cpu_autocast(root, monkeypatch):
    """COURSE_PRECISION=bf16 runs on a CPU what a GPU runs: bf16 channels_last inputs, forward
    under bf16 autocast, fp32 weights and loss; it still learns, evaluates and predicts."""
    monkeypatch.setenv(runtime.PRECISION_ENV, "bf16")
    runtime.seed_everything(0)
    model = TinyNet()
    train_loader, test_loader = loaders(root)
    X, y = next(iter(train_loader))
    assert X.dtype == torch.bfloat16 and X.is_contiguous(memory_format=torch.channels_last)
    opt = train.make_optimizer(model, lr=0.1)
    loss, logits = train.train_step(model, opt, X, y)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    history = train.fit(
        model, train_loader, test_loader, epochs=4, lr=0.2, progress=False, log=None
    )
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_acc"] > 0.3
    assert train.predict(model, test_loader).shape == (60,)


def test_init_distributed_keeps_its_import_path():
    assert train.init_distributed is runtime.init_distributed


def test_optimizer_groups_and_adamw(root):
    model = TinyNet()
    groups = train._param_groups(model, 5e-4)
    assert [len(g["params"]) for g in groups] == [2, 3]  # conv1/fc weights; bn1 w/b, fc bias
    assert groups[1]["weight_decay"] == 0
    train_loader, _ = loaders(root)
    history = train.fit(
        model, train_loader, epochs=1, lr=1e-2, optimizer="adamw", progress=False, log=None
    )
    assert history[0]["val_loss"] is None
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(model, train_loader, epochs=1, lr=0.1, optimizer="lion", progress=False)


class AuxNet(TinyNet):
    """Returns ``(logits, aux_logits)`` while training, plain logits in eval mode (GoogLeNet-style)."""

    def __init__(self):
        super().__init__()
        self.aux = nn.Linear(3, 10)

    def forward(self, x):
        logits = super().forward(x)
        if self.training:
            return logits, self.aux(x.mean(dim=(2, 3)))
        return logits


def test_fit_with_a_loss_fn_for_auxiliary_heads(root):
    runtime.seed_everything(0)
    model = AuxNet()
    calls = []

    def main_plus_aux(outputs, y):
        calls.append(len(outputs))
        logits, aux = outputs
        return nn.functional.cross_entropy(logits, y) + 0.3 * nn.functional.cross_entropy(aux, y)

    train_loader, test_loader = loaders(root)
    history = train.fit(
        model, train_loader, test_loader, epochs=2, lr=0.2, loss_fn=main_plus_aux,
        progress=False, log=None,
    )  # fmt: skip
    assert calls and set(calls) == {2}, "loss_fn gets the tuple of outputs"
    assert model.aux.weight.grad is not None, "the auxiliary head is trained through loss_fn"
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert 0 <= history[-1]["train_acc"] <= 1 and history[-1]["val_acc"] is not None


def test_evaluate_tta_and_predict(root):
    runtime.seed_everything(1)
    model = TinyNet().eval()
    _, test_loader = loaders(root)
    X = test_loader.X
    y = test_loader.labels
    with torch.no_grad():
        logits = model(X)
        tta_logits = (logits + model(X.flip(-1))) / 2
    plain = train.evaluate(model, test_loader)
    tta = train.evaluate(model, test_loader, tta=True)
    assert plain["n"] == 60
    assert plain["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert plain["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert tta["accuracy"] == pytest.approx((tta_logits.argmax(1) == y).float().mean().item())
    assert torch.equal(train.predict(model, test_loader), logits.argmax(1))
    labels, probs = train.predict(model, X, probs=True, batch_size=7)
    assert torch.equal(labels, logits.argmax(1))
    torch.testing.assert_close(probs.sum(1), torch.ones(60))
    with pytest.raises(TypeError, match="normalise"):
        train.predict(model, test_loader.images)


def test_checkpoint_round_trip(tmp_path, root):
    """save_checkpoint -> load_checkpoint into a fresh model: identical logits, meta kept."""
    runtime.seed_everything(2)
    model = TinyNet()
    train_loader, test_loader = loaders(root)
    train.fit(model, train_loader, epochs=1, lr=0.1, progress=False, log=None)  # non-trivial BN
    path = train.save_checkpoint(
        tmp_path / "sub" / "model.pt", model, config={"width": 8}, metrics={"acc": 0.5}
    )
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left
    fresh = TinyNet()
    checkpoint = train.load_checkpoint(path, fresh)
    assert checkpoint["model_class"] == "TinyNet" and checkpoint["config"] == {"width": 8}
    assert checkpoint["torch_version"] == torch.__version__ and checkpoint["date"][:2] == "20"
    model.eval(), fresh.eval()
    with torch.no_grad():
        assert torch.equal(model(test_loader.X), fresh(test_loader.X))

    # a compiled/DDP-style prefixed state_dict still loads
    torch.save({"model": {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}}, path)
    train.load_checkpoint(path, TinyNet())
    with pytest.raises(CheckpointError, match="do not fit"):
        train.load_checkpoint(path, TinyNet(width=4))
    with pytest.raises(CheckpointError, match="No checkpoint"):
        train.load_checkpoint(tmp_path / "missing.pt")


def test_resume_refuses_a_different_run(tmp_path, root):
    train_loader, _ = loaders(root)
    kwargs = dict(lr=0.1, checkpoint_dir=tmp_path, progress=False, log=None)
    train.fit(TinyNet(), train_loader, epochs=1, **kwargs)
    checkpoint = torch.load(tmp_path / train.CHECKPOINT_NAME, weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["config"]["model"] == "TinyNet"
    assert set(checkpoint) >= {"optimizer", "scheduler", "step", "rng", "history", "date"}
    with pytest.raises(CheckpointError, match="epochs: checkpoint 1, now 2"):
        train.fit(TinyNet(), train_loader, epochs=2, **kwargs)
    with pytest.raises(CheckpointError, match="num_params"):
        train.fit(TinyNet(width=4), train_loader, epochs=1, **kwargs)
    history = train.fit(TinyNet(), train_loader, epochs=2, resume=False, **kwargs)
    assert len(history) == 2  # resume=False: starts over and overwrites


def test_max_steps_stops_early_without_checkpoint(tmp_path, root):
    train_loader, _ = loaders(root)
    history = train.fit(
        TinyNet(), train_loader, epochs=3, lr=0.1, max_steps=2, checkpoint_dir=tmp_path,
        progress=False, log=None,
    )  # fmt: skip
    assert len(history) == 1 and history[0]["step"] == 2 and history[0]["partial"]
    assert not (tmp_path / train.CHECKPOINT_NAME).exists()


def test_quick_epochs_knob_trains_fewer_whole_epochs(root, monkeypatch):
    """``$COURSE_QUICK_EPOCHS`` in quick mode: fit trains that many whole epochs (its schedule
    planned over them, every epoch evaluated) and says so in one log line."""
    train_loader, test_loader = loaders(root)
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_QUICK_EPOCHS", "2")
    lines = []
    history = train.fit(
        TinyNet(), train_loader, test_loader, epochs=5, lr=0.1, progress=False, log=lines.append
    )
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[-1]["step"] == 2 * len(train_loader) and not history[-1].get("partial")
    assert all(row["val_acc"] is not None for row in history)
    assert history[-1]["lr"] < 0.01  # the one-cycle schedule ended: planned over 2 epochs
    assert "$COURSE_QUICK_EPOCHS: 2 of the 5 epochs asked for." in lines


def test_quick_steps_knob_makes_each_epoch_shorter_and_whole(root, monkeypatch, tmp_path):
    """``$COURSE_QUICK_STEPS`` in quick mode: every epoch takes that many optimizer steps, a
    whole epoch of a smaller run (the schedule planned over them, evaluated, checkpointed, not
    "partial"), and fit says so in one log line; a resumed run with another value is refused."""
    train_loader, test_loader = loaders(root)
    assert len(train_loader) > 2
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_QUICK_STEPS", "2")
    lines = []
    history = train.fit(
        TinyNet(), train_loader, test_loader, epochs=3, lr=0.1, progress=False,
        log=lines.append, checkpoint_dir=tmp_path,
    )  # fmt: skip
    assert [(row["epoch"], row["step"]) for row in history] == [(1, 2), (2, 4), (3, 6)]
    assert not any(row.get("partial") for row in history)
    assert all(row["val_acc"] is not None for row in history)
    assert history[-1]["lr"] < 0.02  # the one-cycle schedule ended: planned over 6 steps
    assert f"$COURSE_QUICK_STEPS: 2 of the {len(train_loader)} steps of each epoch." in lines
    assert (tmp_path / train.CHECKPOINT_NAME).exists()
    monkeypatch.setenv("COURSE_QUICK_STEPS", "3")
    with pytest.raises(train.CheckpointError, match="steps_per_epoch"):
        train.fit(TinyNet(), train_loader, epochs=4, lr=0.1, progress=False, log=None,
                  checkpoint_dir=tmp_path)  # fmt: skip


def test_grading_mode_caps_or_loads(tmp_path, root, monkeypatch):
    """Under nbgrader: a few steps and no checkpoint; or the existing checkpoint, loaded."""
    train_loader, _ = loaders(root)
    kwargs = dict(epochs=3, lr=0.1, checkpoint_dir=tmp_path, progress=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    lines = []
    history = train.fit(TinyNet(), train_loader, log=lines.append, **kwargs)
    assert history[-1]["step"] == train.GRADING_MAX_STEPS == 3
    assert "grading mode: training capped at 3 steps" in lines[0]
    assert not (tmp_path / train.CHECKPOINT_NAME).exists()

    monkeypatch.delenv("NBGRADER_EXECUTION")
    trained = TinyNet()
    full = train.fit(trained, train_loader, log=None, **kwargs)
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    lines.clear()
    graded = TinyNet()
    assert train.fit(graded, train_loader, log=lines.append, **kwargs) == full
    assert "grading mode: loaded" in lines[0]
    for a, b in zip(trained.state_dict().values(), graded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


class DropNet(TinyNet):
    """TinyNet with dropout: training draws from torch's global RNG every step."""

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        return self.fc(nn.functional.dropout(self.avgpool(x).flatten(1), 0.3, self.training))


class Interrupt(Exception):
    pass


def test_resume_restores_every_state_exactly(tmp_path, root):
    """A fit interrupted during epoch 2 (after the epoch-1 checkpoint), then resumed in the same
    process, whose global RNG has moved on meanwhile: the result equals an uninterrupted run bit
    for bit. Dropout makes the restored RNG state matter, the one-cycle schedule the scheduler's."""

    def interrupt_at_epoch_2(line):
        if line.startswith("epoch 2/"):
            raise Interrupt

    kwargs = dict(epochs=3, lr=0.2, progress=False, checkpoint_dir=tmp_path / "run")
    train_loader, test_loader = loaders(root)
    runtime.seed_everything(5)
    model = DropNet()
    with pytest.raises(Interrupt):
        train.fit(model, train_loader, test_loader, log=interrupt_at_epoch_2, **kwargs)
    assert torch.load(tmp_path / "run" / train.CHECKPOINT_NAME, weights_only=True)["epoch"] == 1
    torch.rand(7)  # the RNG moves on before the rerun
    lines = []
    resumed = train.fit(DropNet(), train_loader, test_loader, log=lines.append, **kwargs)
    assert lines[0].startswith("resumed from") and "epoch 1/3 done, step 4." in lines[0]

    runtime.seed_everything(5)
    reference_model = DropNet()
    reference = train.fit(
        reference_model, train_loader, test_loader, log=None,
        **{**kwargs, "checkpoint_dir": tmp_path / "reference"},
    )  # fmt: skip
    timing = {"seconds", "images_per_s"}
    assert [{k: v for k, v in r.items() if k not in timing} for r in resumed] == [
        {k: v for k, v in r.items() if k not in timing} for r in reference
    ]
    got = torch.load(tmp_path / "run" / train.CHECKPOINT_NAME, weights_only=True)
    want = torch.load(tmp_path / "reference" / train.CHECKPOINT_NAME, weights_only=True)
    for key in ("model", "optimizer", "scheduler", "rng", "step", "epoch"):
        assert_same(got[key], want[key], key)


RUN_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import torch
    from course import data, runtime, train
    sys.path.insert(0, sys.argv[3])
    from test_train import TinyNet, loaders

    torch.set_num_threads(1)
    runtime.seed_everything(0)
    def log(line):
        print(line, flush=True)
        if os.environ.get("SLOW_EPOCH_2") and line.startswith("epoch 2/"):
            time.sleep(60)  # plays a long epoch: the test kills us here
    train_loader, test_loader = loaders(sys.argv[1])
    model = TinyNet()
    history = train.fit(model, train_loader, test_loader, epochs=3, lr=0.2,
                        checkpoint_dir=sys.argv[2], progress=False, log=log)
    print("HISTORY " + json.dumps(history))
    """
)


@pytest.mark.slow
def test_kill_and_resume(tmp_path, root):
    """Kill a fit (SIGKILL) after its first checkpoint, rerun: it resumes at epoch 2 and ends at
    epoch 3, exactly as an uninterrupted run: same history, weights, optimizer, schedule, RNG."""
    script = tmp_path / "run.py"
    script.write_text(RUN_SCRIPT)
    ckpt_dir = tmp_path / "ckpt"
    ckpt = ckpt_dir / train.CHECKPOINT_NAME
    cmd = [sys.executable, str(script), str(root), str(ckpt_dir), os.path.dirname(__file__)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SLOW_EPOCH_2": "1"}
    env.pop("NBGRADER_EXECUTION", None)

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint after 60 s"
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        proc.kill()
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1

    env.pop("SLOW_EPOCH_2")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "resumed from" in out.stdout and "epoch 1/3 done" in out.stdout
    assert "epoch 1/3  train" not in out.stdout  # epoch 1 was not trained again
    history = json.loads(out.stdout.split("HISTORY ", 1)[1])
    assert [row["epoch"] for row in history] == [1, 2, 3]
    final = torch.load(ckpt, weights_only=True)
    assert final["epoch"] == 3 and final["step"] == 12

    # the same run without interruption, checkpointed alike: bit-for-bit the same history
    # (timings aside), weights, optimizer and schedule state and RNG states
    torch.set_num_threads(1)
    runtime.seed_everything(0)
    train_loader, test_loader = loaders(root)
    model = TinyNet()
    reference = train.fit(model, train_loader, test_loader, epochs=3, lr=0.2, progress=False,
                          checkpoint_dir=tmp_path / "reference", log=None)  # fmt: skip
    timing = {"seconds", "images_per_s"}
    assert [{k: v for k, v in row.items() if k not in timing} for row in history] == [
        {k: v for k, v in row.items() if k not in timing} for row in reference
    ]
    want = torch.load(tmp_path / "reference" / train.CHECKPOINT_NAME, weights_only=True)
    for key, value in model.state_dict().items():
        assert torch.equal(final["model"][key], value), key
    assert_same(final["optimizer"], want["optimizer"], "optimizer")
    assert_same(final["scheduler"], want["scheduler"], "scheduler")
    assert_same(final["rng"], want["rng"], "rng")


def assert_same(got, want, where: str) -> None:
    """Exact equality of nested checkpoint values (tensors bit for bit)."""
    if torch.is_tensor(want):
        assert torch.is_tensor(got) and torch.equal(got, want), where
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"
