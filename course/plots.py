"""Small plotting helpers shared by the lessons (matplotlib, imported on first use).

A lesson passes named series and gets a labelled figure back; the notebook stays about the idea::

    from course.plots import plot_curves
    plot_curves({"plain": plain_losses, "residual": residual_losses},
                xlabel="step", ylabel="loss", title="Fitting the identity", logy=True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["figure_row", "plot_curves", "plot_panels"]


def figure_row(width: float, height: float, ncols: int = 1):
    """A pyplot figure of ``width`` x ``height`` inches and its row of ``ncols`` axes (a list).

    Lessons: none directly (the figures of :mod:`course.experiments.degradation` and :mod:`course.experiments.variants`).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), layout="constrained", squeeze=False)
    return fig, list(axes[0])


def _as_floats(values: Any) -> list[float]:
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().reshape(-1).tolist()
    return [float(v) for v in values]


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "step",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
    x: Sequence[float] | None = None,
    ax=None,
):
    """Plot one line per named series on ``ax`` (a new figure when ``None``); returns ``ax``.

    ``curves``: name -> values (lists, tuples, NumPy arrays or 1-D tensors), one point per step;
    ``x``: shared x values (default ``0, 1, 2, ...``); ``logy``: log-scale y axis.

    Lessons: none directly (:func:`plot_panels` draws each panel with it, lesson 01).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
    for name, values in curves.items():
        ys = _as_floats(values)
        xs = list(x) if x is not None else list(range(len(ys)))
        ax.plot(xs, ys, label=name, linewidth=1.8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    return ax


def plot_panels(panels: Sequence[Mapping[str, Any]], *, width: float = 5.0, height: float = 3.5):
    """Side-by-side :func:`plot_curves` panels; each panel is a dict of its keyword arguments.

    ``plot_panels([{"curves": {...}, "ylabel": "loss", "logy": True}, {"curves": {...}}])``
    Returns the figure.

    Lessons: 01_residual_block, 07_highway_densenet.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(panels), figsize=(width * len(panels), height), layout="constrained", squeeze=False
    )
    for ax, panel in zip(axes[0], panels, strict=True):
        kwargs = dict(panel)
        curves = kwargs.pop("curves")
        plot_curves(curves, ax=ax, **kwargs)
    return fig
