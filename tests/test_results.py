"""course.experiments.results: confusion matrix, per-class accuracy and the figures built from them."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch

from course.experiments import results

matplotlib.use("Agg")
CLASSES = [f"class{i}" for i in range(10)]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _reference_cm(pred, target, c):
    cm = torch.zeros(c, c, dtype=torch.int64)
    for p, t in zip(pred.tolist(), target.tolist(), strict=True):
        cm[t, p] += 1
    return cm


def test_confusion_matrix_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 10, (500,), generator=g)
    pred = torch.where(
        torch.rand(500, generator=g) < 0.7, target, torch.randint(0, 10, (500,), generator=g)
    )
    cm = results.confusion_matrix(pred, target)
    assert cm.dtype == torch.int64 and cm.shape == (10, 10)
    assert torch.equal(cm, _reference_cm(pred, target, 10))
    assert torch.equal(cm.sum(1), torch.bincount(target, minlength=10))  # rows: true classes
    assert int(cm.trace()) == int((pred == target).sum())


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="differ"):
        results.confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="0..9"):
        results.confusion_matrix(torch.tensor([10]), torch.tensor([0]))
    with pytest.raises(ValueError, match="integer"):
        results.confusion_matrix(torch.tensor([0.5]), torch.tensor([0]))


def test_per_class_accuracy_and_table():
    cm = torch.zeros(10, 10, dtype=torch.int64)
    cm[3, 3], cm[3, 5] = 6, 4  # cats: 60% right, mistaken for dogs
    cm[5, 5] = 10
    acc = results.per_class_accuracy(cm)
    assert acc[3] == pytest.approx(0.6) and acc[5] == 1.0
    assert math.isnan(acc[0])  # no images of class 0
    table = results.format_per_class(cm, CLASSES)
    assert "class3" in table and "class5 (4)" in table and "60.0%" in table
    assert table.splitlines()[-1].split()[1:3] == ["20", "16"]


def test_figures_build():
    history = [
        {"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.3 * e, "val_loss": None, "val_acc": None}
        for e in (1, 2, 3)
    ]
    fig = results.plot_history(history, title="t")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 1  # no val curve when val is None
    history[0]["val_loss"] = history[1]["val_loss"] = history[2]["val_loss"] = 1.0
    history[0]["val_acc"] = history[1]["val_acc"] = history[2]["val_acc"] = 0.5
    assert len(results.plot_history(history).axes[0].lines) == 2
    with pytest.raises(ValueError):
        results.plot_history([])
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 10, (40,), generator=g)
    pred = target.clone()
    pred[:5] = (pred[:5] + 1) % 10
    cm = results.confusion_matrix(pred, target)
    assert results.plot_confusion(cm, CLASSES).axes
    assert results.plot_per_class(results.per_class_accuracy(cm), CLASSES).axes
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g)
    fig = results.show_misclassified(images, pred, target, CLASSES, n=16, cols=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5
    assert "->" in shown[0].get_title()
    # no mistakes: an empty grid, not an error
    results.show_misclassified(images, target, target, CLASSES)
    with pytest.raises(ValueError, match="uint8"):
        results.show_misclassified(images.float(), pred, target, CLASSES)
