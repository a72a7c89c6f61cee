"""course.experiments.degradation: data of a budget, tracing, training runs, plots and the control panel.

The graded exercises of lesson 02 (ShortcutA, cifar_net, layer_gradient_norms) are not in the
library; these tests drive it with a tiny stand-in for the student's ``cifar_net``.
"""

from __future__ import annotations

from dataclasses import replace

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course import data
from course.experiments import degradation

matplotlib.use("Agg")

# A budget small enough for a test: 32 images of 8x8, 4 epochs of 4 steps.
TINY = replace(degradation.QUICK, name="tiny", n_images=32, image_size=8, epochs=4, batch_size=8)


pytestmark = pytest.mark.usefixtures("one_thread_not_grading")


class TinyBlock(nn.Module):
    def __init__(self, channels: int, residual: bool):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.residual = residual

    def forward(self, X):
        out = self.bn(self.conv(X))
        return F.relu(out + X if self.residual else out)


def tiny_net(n: int, residual: bool = True) -> nn.Module:
    """Stands in for the student's cifar_net(n, residual): n blocks of width 8, then a head."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        *[TinyBlock(8, residual) for _ in range(n)],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


@pytest.fixture(scope="module")
def task():
    return degradation.make_task(TINY, seed=0)


# ----------------------------------------------------------------------------- library scope


def test_library_does_not_implement_the_exercises():
    for name in ("ShortcutA", "cifar_net", "layer_gradient_norms", "CifarBlock"):
        assert not hasattr(degradation, name), (
            f"course.experiments.degradation must not define {name}"
        )


def test_budgets():
    q, f = degradation.QUICK, degradation.FULL
    assert q.steps == q.epochs * (q.n_images // q.batch_size)
    assert f.n_images is None and f.steps == f.epochs * (50_000 // f.batch_size)
    # FULL is He et al.'s optimiser (SGD 0.1, momentum 0.9, wd 1e-4, batch 128) on CIFAR-10
    assert (f.lr, f.momentum, f.weight_decay, f.batch_size) == (0.1, 0.9, 1e-4, 128)
    assert not f.random_labels and f.augment and f.image_size == 32
    assert q.random_labels and q.image_size in (8, 16, 32)


def test_default_config_follows_quick_mode(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert degradation.default_config() is degradation.QUICK
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert degradation.default_config() is degradation.FULL


# ------------------------------------------------------------------------------------ data


def test_shrink_averages_blocks():
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    small = degradation._shrink(images, 8)
    assert small.dtype == torch.uint8 and small.shape == (3, 3, 8, 8)
    want = images.float().reshape(3, 3, 8, 4, 8, 4).mean(dim=(3, 5)).round()
    assert torch.equal(small.float(), want)
    assert degradation._shrink(images, 32) is images


def test_load_images_from_the_course_data_root(course_data):
    images, labels, name = degradation.load_images()
    want_images, want_labels = data.load_cifar10(course_data, "train")
    assert torch.equal(images, want_images) and torch.equal(labels, want_labels)
    assert name == data.SYNTHETIC_NAME  # the test archive is the stand-in, and says so


def test_load_images_without_data_writes_nothing(tmp_path):
    images, labels, name = degradation.load_images(tmp_path)
    assert name == data.SYNTHETIC_NAME
    assert images.dtype == torch.uint8 and images.shape[1:] == (3, 32, 32)
    assert labels.shape == images.shape[:1]
    assert list(tmp_path.iterdir()) == []  # the stand-in lived in a temporary folder


def test_load_images_download_failure_falls_back(tmp_path, monkeypatch, capsys):
    def offline(root, *args, **kwargs):
        raise data.DataError("no network. More text")

    monkeypatch.setattr(data, "download_cifar10", offline)
    _, _, name = degradation.load_images(tmp_path, download=True)
    assert name == data.SYNTHETIC_NAME
    assert "CIFAR-10 unavailable (no network)" in capsys.readouterr().out


def test_make_task_random_labels_depend_on_seed_only(task):
    again = degradation.make_task(TINY, seed=0)
    other = degradation.make_task(TINY, seed=1)
    assert task.images.shape == (32, 3, 8, 8) and task.images.dtype == torch.uint8
    assert torch.equal(task.labels, again.labels)
    assert not torch.equal(task.labels, other.labels)
    assert torch.equal(task.images, other.images)  # same images, other labels
    _, true_labels, _ = degradation.load_images()
    assert not torch.equal(task.labels, true_labels[:32])
    assert "RANDOM labels" in task.description and data.SYNTHETIC_NAME in task.description


def test_make_task_real_labels_and_too_many_images():
    cfg = replace(TINY, random_labels=False, image_size=32)
    t = degradation.make_task(cfg)
    _, labels, _ = degradation.load_images()
    assert torch.equal(t.labels, labels[:32]) and t.images.shape[-1] == 32
    assert "RANDOM" not in t.description
    with pytest.raises(ValueError, match="images asked"):
        degradation.make_task(replace(TINY, n_images=10**6))


def test_sample_batch():
    X, y, what = degradation.sample_batch(batch_size=5, seed=3)
    assert X.shape == (5, 3, 32, 32) and X.dtype == torch.float32 and y.shape == (5,)
    assert X.device.type == "cpu" and data.SYNTHETIC_NAME in what
    X2, y2, _ = degradation.sample_batch(batch_size=5, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert abs(X.mean().item()) < 1.5  # normalised, not raw pixel values


# ----------------------------------------------------------------------------------- trace


class OutOfOrder(nn.Module):
    """Registers its layers in one order and runs them in another."""

    def __init__(self):
        super().__init__()
        self.late = nn.Linear(6, 10)
        self.early = nn.Conv2d(3, 6, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(6)

    def forward(self, X):
        X = self.bn(self.early(X))
        return self.late(X.mean(dim=(2, 3)))


def test_trace_follows_execution_order():
    model = OutOfOrder()
    calls = degradation.trace(model, torch.randn(2, 3, 8, 8), keep_outputs=True)
    assert [c["name"] for c in calls] == ["early", "late"]
    assert [c["out_shape"] for c in calls] == [(6, 4, 4), (10,)]
    assert calls[0]["module"] is model.early
    bns = degradation.trace(model, torch.randn(2, 3, 8, 8), (nn.BatchNorm2d,))
    assert [c["name"] for c in bns] == ["bn"] and "output" not in bns[0]
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_trace_keeps_outputs_and_removes_hooks_on_error():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.Conv2d(2, 2, 1))
    X = torch.randn(1, 3, 4, 4)
    calls = degradation.trace(model, X, keep_outputs=True)
    assert torch.allclose(calls[0]["output"], model[0](X).detach())
    assert not calls[0]["output"].requires_grad
    with pytest.raises(RuntimeError):
        degradation.trace(model, torch.randn(1, 5, 4, 4))  # wrong channel count
    assert all(not m._forward_hooks for m in model.modules())


def test_shape_walk_prints_every_weighted_layer(capsys):
    degradation.shape_walk(tiny_net(2), torch.randn(2, 3, 8, 8))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 4 + 1  # 3 convs + 1 linear, then the total
    assert "conv 3x3, 3->8, stride 1" in out[0] and out[0].endswith("(8, 8, 8)")
    assert "linear 8->10" in out[3]
    n_params = sum(p.numel() for p in tiny_net(2).parameters())
    assert out[-1] == f"4 weighted layers, {n_params:,} parameters"


# -------------------------------------------------------------------------------- training


def test_train_net_learns_and_reports():
    """The stand-in's true labels are learnable: a short run fits them (error far below 90%)."""
    cfg = replace(TINY, random_labels=False, epochs=15, lr=0.05)
    task = degradation.make_task(cfg)
    torch.manual_seed(0)
    out = degradation.train_net(tiny_net(1), task, cfg, seed=0)
    assert len(out["history"]) == cfg.epochs
    assert out["history"][-1]["step"] == cfg.steps
    assert {"epoch", "train_acc", "train_loss"} <= set(out["history"][0])  # what plot_curves reads
    assert out["final_error"] <= 0.3, out["final_error"]
    assert out["final_loss"] < 0.5 * out["history"][0]["train_loss"]
    assert out["seconds"] > 0


def test_run_rows_and_reproducibility(task):
    logs = []
    results = degradation.run(tiny_net, depths=(8, 14), config=TINY, task=task, log=logs.append)
    assert [r["label"] for r in results] == ["plain-8", "plain-14", "ResNet-8", "ResNet-14"]
    assert [r["n"] for r in results] == [1, 2, 1, 2]
    assert results[0]["params"] == sum(p.numel() for p in tiny_net(1).parameters())
    assert all(r["config"]["name"] == "tiny" and r["task"] == task.description for r in results)
    assert all(r["history"][-1]["step"] == TINY.steps for r in results)
    assert len(logs) == 4 and "plain-8" in logs[0] and "meaningless" not in logs[0]
    again = degradation.run(tiny_net, depths=(8,), config=TINY, task=task, residual=(False,))
    assert again[0]["final_error"] == results[0]["final_error"]  # same seed: same run
    assert again[0]["final_loss"] == pytest.approx(results[0]["final_loss"], rel=1e-6)


def test_run_rejects_depths_not_6n_plus_2(task):
    with pytest.raises(ValueError, match="6n\\+2"):
        degradation.run(tiny_net, depths=(21,), config=TINY, task=task)


def test_run_under_grading_takes_one_token_step(task, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    logs = []
    cfg = replace(TINY, batch_size=16)
    results = degradation.run(tiny_net, depths=(8,), config=cfg, task=task, log=logs.append)
    assert all(r["history"][-1]["step"] == 1 for r in results)
    assert all(r["config"]["batch_size"] == degradation.GRADING_IMAGES for r in results)
    assert all("meaningless" in line for line in logs)
    assert "token step" in degradation.plot_summary(results).texts[0].get_text()


# ----------------------------------------------------------------------------------- plots


def _rows(errors: dict[str, float]) -> list[dict]:
    """Fake results of run(): label -> final error, two epochs of history each."""
    rows = []
    for label, err in errors.items():
        kind, depth = label.split("-")
        rows.append(
            {
                "label": label,
                "depth": int(depth),
                "residual": kind == "ResNet",
                "final_error": err,
                "history": [{"epoch": 1, "train_acc": 0.1}, {"epoch": 2, "train_acc": 1 - err}],
                "config": {"name": "quick"},
                "task": "RANDOM labels on a SYNTHETIC stand-in",
            }
        )
    return rows


def test_plot_summary_theory_vs_reality():
    rows = _rows({"plain-20": 0.3, "plain-32": 0.2, "plain-56": 0.5, "ResNet-20": 0.25,
                  "ResNet-56": 0.1})  # fmt: skip
    fig = degradation.plot_summary(rows)
    left, right = fig.axes
    lines = {ln.get_label(): ln for ln in left.get_lines()}
    theory = lines["theory: no worse than shallower"]
    reality = lines["reality (measured)"]
    assert list(reality.get_xdata()) == [20, 32, 56]
    assert list(reality.get_ydata()) == pytest.approx([30, 20, 50])
    assert list(theory.get_ydata()) == pytest.approx([30, 20, 20])  # the running minimum
    (res,) = right.get_lines()
    assert list(res.get_ydata()) == pytest.approx([25, 10])
    assert left.get_title().startswith("plain") and right.get_title() == "residual"
    assert left.get_ylim() == right.get_ylim() and left.get_ylim()[0] <= 0  # one shared scale
    assert left.get_ylim()[1] >= 50
    assert "SYNTHETIC" in fig.texts[0].get_text()  # the suptitle names the data


def test_plot_curves_one_line_per_network():
    rows = _rows({"plain-20": 0.3, "plain-56": 0.5, "ResNet-20": 0.25, "ResNet-56": 0.1})
    fig = degradation.plot_curves(rows)
    left, right = fig.axes
    assert [ln.get_label() for ln in left.get_lines()] == ["plain-20", "plain-56"]
    assert [ln.get_label() for ln in right.get_lines()] == ["ResNet-20", "ResNet-56"]
    assert list(left.get_lines()[1].get_ydata()) == pytest.approx([90, 50])


def test_plot_gradient_norms_accepts_dicts_and_lists():
    fig = degradation.plot_gradient_norms({"plain-56": {"a": 1.0, "b": 10.0}, "ResNet-56": [2, 3]})
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    a, b = ax.get_lines()
    assert list(a.get_xdata()) == [1, 2] and list(a.get_ydata()) == [1.0, 10.0]
    assert (
        a.get_color() == degradation.PLAIN_COLOUR and b.get_color() == degradation.RESIDUAL_COLOUR
    )


# ---------------------------------------------------------------------------------- widget


def test_control_runs_the_chosen_depths(task):
    box = degradation.control(tiny_net, config=replace(TINY, epochs=1), task=task)
    assert box.results is None  # nothing trains before the button
    box.depths.value = (20,)
    box.epochs.value = 2
    results = box.run()
    assert [r["label"] for r in results] == ["plain-20", "ResNet-20"]
    assert all(r["config"]["epochs"] == 2 for r in results)
    assert box.results is results
    images = [w for w in box.children if hasattr(w, "format") and w.format == "png"]
    assert len(images) == 2 and all(bytes(im.value).startswith(b"\x89PNG") for im in images)


def test_control_shows_errors_of_the_students_code(task):
    def broken(n, residual=True):
        raise NotImplementedError()

    box = degradation.control(broken, config=TINY, task=task)
    assert box.run() is None and box.results is None
    status = [w for w in box.children if type(w).__name__ == "HTML"][0]
    assert "NotImplementedError" in status.value
