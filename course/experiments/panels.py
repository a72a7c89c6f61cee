"""The scaffolding the lessons' experiments share: a figure as PNG bytes, sliders, a panel that
recomputes when a slider moves (lessons 03 and 04's cost explorers), and the controls of a
training experiment's Run panel (lessons 02 and 06).

Panels build and update without a frontend (in tests, or while nbgrader executes a notebook):
a chart is a PNG rendered with matplotlib into an ``ipywidgets.Image``, so no ``plt.show`` and
no event loop are involved.

Lessons: none directly (:mod:`.costs`, :mod:`.degradation`, :mod:`.variants` build on it).
"""

from __future__ import annotations

import io
from typing import Any

import ipywidgets as ipw

ERROR_STYLE = "color:#b00"


def png(fig) -> bytes:
    """``fig`` as PNG bytes; a pyplot figure is closed too (so the notebook does not show it
    again), an object-API ``Figure`` (:func:`figure`) needs no closing."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buf.getvalue()


def figure(width: float, height: float):
    """A matplotlib ``Figure`` of the object API: no pyplot state, no backend needed."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def error_html(message: str, title: str = "") -> str:
    """A red paragraph for a panel's status line."""
    head = f"<b>{title}</b> " if title else ""
    return f"<p style='{ERROR_STYLE}'>{head}{message}</p>"


def failure(exc: BaseException, what: str = "your code") -> str:
    """What went wrong in the student's code, for a panel: an exercise not written yet is named
    as such; anything else as ``Type: message``."""
    if isinstance(exc, NotImplementedError):
        return f"{what} is not written yet (it raises NotImplementedError): finish that exercise first."
    return f"{what} raised {type(exc).__name__}: {exc}"


def slider(description: str, value: int, lo: int, hi: int, step: int = 1) -> ipw.IntSlider:
    return ipw.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "11em"},
        layout=ipw.Layout(width="30em"),
    )


def image(max_width: str = "56em") -> ipw.Image:
    """An empty chart, hidden until :func:`show` puts a figure in it (an empty ``Image`` shows a
    broken-image icon)."""
    return ipw.Image(format="png", layout=ipw.Layout(max_width=max_width, display="none"))


def show(chart: ipw.Image, fig) -> None:
    chart.value = png(fig)
    chart.layout.display = ""


def budget_controls(base: Any) -> tuple[ipw.IntSlider, ipw.FloatLogSlider, ipw.Button]:
    """The epochs and peak-lr sliders of a training budget ``base`` (a ``degradation.Config``)
    and the Run button: what every training experiment's panel starts from."""
    epochs = ipw.IntSlider(
        value=base.epochs,
        min=1,
        max=max(4 * base.epochs, 8),
        description="epochs",
        continuous_update=False,
    )
    lr = ipw.FloatLogSlider(
        value=base.lr, base=10, min=-3, max=0, step=0.25, description="lr", continuous_update=False
    )
    button = ipw.Button(description="Run", button_style="primary", icon="play")
    return epochs, lr, button


class Explorer(ipw.VBox):
    """A VBox of sliders + HTML summary + chart, recomputed whenever a slider moves.

    ``compute(**slider values)`` gives a result (it calls the student's code);
    ``render(result)`` gives ``(summary html, chart png)``. Attributes for tests and curious
    users: ``sliders`` (name -> widget), ``refresh()``, ``result`` (the numbers last shown, or
    ``None`` if the student's code raised; then ``error`` says why)."""

    def __init__(self, sliders: dict[str, ipw.IntSlider], compute, render, title: str):
        self.sliders = sliders
        self.result = None
        self.error: str | None = None
        self._compute, self._render = compute, render
        self.summary = ipw.HTML()
        self.chart = ipw.Image(format="png", layout=ipw.Layout(max_width="46em"))
        controls = ipw.VBox(list(sliders.values()))
        super().__init__([ipw.HTML(f"<b>{title}</b>"), controls, self.summary, self.chart])
        for s in sliders.values():
            s.observe(lambda _change: self.refresh(), names="value")
        self.refresh()

    def values(self) -> dict[str, int]:
        return {name: s.value for name, s in self.sliders.items()}

    def refresh(self) -> None:
        """Recompute with the current slider values and redraw."""
        try:
            self.result = self._compute(**self.values())
            self.error = None
        except Exception as exc:  # noqa: BLE001 - the student's code may raise anything
            self.result = None
            self.error = error_html(failure(exc), "Cannot compute the costs.")
            self.summary.value, self.chart.value = self.error, b""
            return
        self.summary.value, self.chart.value = self._render(self.result)
