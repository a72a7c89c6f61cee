"""Look at a trained classifier: learning curves, confusion matrix, per-class accuracy, mistakes.

Everything here takes numbers the notebook already has (a ``fit`` history, predicted and true
labels, uint8 images); nothing runs or grades student code::

    labels_pred = train.predict(model, test_loader)
    cm = confusion_matrix(labels_pred, y_test)                 # (10, 10) counts, rows = true class
    plot_history(history, title="ResNet-34, CIFAR-10")
    plot_confusion(cm, data.CLASSES)
    plot_per_class(per_class_accuracy(cm), data.CLASSES)
    show_misclassified(images_test, labels_pred, y_test, data.CLASSES)

Pass ``title=data.dataset_name(root)`` (or include it) so a plot of the synthetic stand-in says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = [
    "confusion_matrix",
    "per_class_accuracy",
    "plot_history",
    "plot_confusion",
    "plot_per_class",
    "show_misclassified",
    "format_per_class",
]


def _labels(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x).detach().to("cpu")
    if t.ndim != 1 or t.is_floating_point():
        raise ValueError(
            f"{name} should be 1-D integer class labels, got {t.dtype} {tuple(t.shape)}"
        )
    return t.long()


def confusion_matrix(pred, target, num_classes: int = 10) -> torch.Tensor:
    """Counts (num_classes, num_classes) int64: entry [i, j] = test images of class i predicted j.

    ``pred``, ``target``: (N,) integer labels. Rows sum to the class sizes, the diagonal holds
    the correct predictions, ``trace / N`` is the accuracy.

    Lessons: 05_resnet34_cifar10.
    """
    pred, target = _labels(pred, "pred"), _labels(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if len(pred) and (
        min(pred.min(), target.min()) < 0 or max(pred.max(), target.max()) >= num_classes
    ):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    flat = target * num_classes + pred
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """(C,) float64 recall per class from a confusion matrix: diagonal / row sum (NaN if no images).

    Lessons: 05_resnet34_cifar10.
    """
    cm = torch.as_tensor(cm, dtype=torch.float64)
    return cm.diagonal() / cm.sum(1)


def format_per_class(cm: torch.Tensor, classes: Sequence[str]) -> str:
    """A text table: class, images, correct, accuracy, most frequent wrong guess.

    Lessons: 05_resnet34_cifar10.
    """
    cm = torch.as_tensor(cm)
    acc = per_class_accuracy(cm)
    w = max(len(c) for c in classes)
    lines = [f"{'class':<{w}}  {'images':>6}  {'correct':>7}  {'accuracy':>8}  most confused with"]
    for i, name in enumerate(classes):
        off = cm[i].clone()
        off[i] = -1
        j = int(off.argmax())
        confused = f"{classes[j]} ({int(cm[i, j])})" if cm[i, j] > 0 else "-"
        lines.append(
            f"{name:<{w}}  {int(cm[i].sum()):>6}  {int(cm[i, i]):>7}  {float(acc[i]):>8.1%}  {confused}"
        )
    total = int(cm.sum())
    correct = int(cm.diagonal().sum())
    lines.append(f"{'all':<{w}}  {total:>6}  {correct:>7}  {correct / max(total, 1):>8.1%}")
    return "\n".join(lines)


def plot_history(history: Sequence[Mapping], *, title: str | None = None):
    """Loss and accuracy per epoch (train and, when present, validation), side by side.

    ``history``: the list of per-epoch dicts returned by :func:`course.train.fit` (keys
    ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``). Returns the figure.

    Lessons: 05_resnet34_cifar10.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not history:
        raise ValueError("empty history: nothing was trained")
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    for key, ax in (("loss", ax_loss), ("acc", ax_acc)):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = [row.get(f"{split}_{key}") for row in history]
            if all(v is not None for v in values):
                ax.plot(epochs, values, style, label=split, markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_ylabel("cross-entropy" if key == "loss" else "accuracy")
        ax.grid(True, alpha=0.3)
        ax.legend()
    ax_acc.set_ylim(0, 1)
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion(cm: torch.Tensor, classes: Sequence[str], *, title: str | None = None):
    """The confusion matrix as an image, rows normalised to fractions, counts written in cells.

    Lessons: 05_resnet34_cifar10.
    """
    import matplotlib.pyplot as plt

    cm = torch.as_tensor(cm)
    frac = (cm.double() / cm.sum(1, keepdim=True).clamp(min=1)).numpy()
    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    n = len(classes)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black",
                )  # fmt: skip
    fig.colorbar(im, ax=ax, label="fraction of the true class")
    ax.set_title(title or "confusion matrix")
    return fig


def plot_per_class(acc: torch.Tensor, classes: Sequence[str], *, title: str | None = None):
    """Horizontal bars: accuracy per class, with the mean as a dashed line.

    Lessons: 05_resnet34_cifar10.
    """
    import matplotlib.pyplot as plt

    acc = torch.as_tensor(acc, dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.barh(range(len(classes)), acc.numpy(), color="tab:blue")
    ax.set_yticks(range(len(classes)), classes)
    ax.invert_yaxis()
    ax.axvline(float(acc.nanmean()), color="k", linestyle="--", linewidth=1, label="mean")
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (recall) on the test images of the class")
    ax.legend(loc="lower left")
    ax.set_title(title or "per-class accuracy")
    return fig


def show_misclassified(
    images: torch.Tensor,
    pred,
    target,
    classes: Sequence[str],
    *,
    n: int = 16,
    cols: int = 8,
    title: str | None = None,
):
    """A grid of the first ``n`` misclassified images, captioned "true -> predicted".

    ``images``: uint8 (N, 3, H, W) as stored (not normalised), aligned with ``pred``/``target``.

    Lessons: 05_resnet34_cifar10.
    """
    import matplotlib.pyplot as plt

    pred, target = _labels(pred, "pred"), _labels(target, "target")
    images = torch.as_tensor(images).detach().cpu()
    if images.dtype != torch.uint8 or images.ndim != 4 or len(images) != len(pred):
        raise ValueError(
            f"images should be uint8 (N, 3, H, W) aligned with the labels, got {images.dtype} "
            f"{tuple(images.shape)} for {len(pred)} labels"
        )
    wrong = torch.nonzero(pred != target).flatten()[:n]
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong.tolist(), strict=False):
        ax.imshow(images[i].permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(f"{classes[target[i]]}\n-> {classes[pred[i]]}", fontsize=7)
    shown = f"{len(wrong)} of {int((pred != target).sum())} misclassified"
    fig.suptitle(f"{title}: {shown}" if title else shown, fontsize=9)
    fig.tight_layout()
    return fig
