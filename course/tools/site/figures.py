"""The site's figures: interactive ones (a small JavaScript file each) and plots of measured data.

A lesson places a figure with a marker on its own line in a markdown cell, invisible in
JupyterLab::

    <!-- site-figure: bottleneck-cost -->

Interactive figures are drawn in the browser by ``assets/figures/<name>.js`` (plain scripts: no
modules, no network, so the site works from ``file://``). The page carries their data as JSON
(``<script type="application/json" class="figure-data">``), written here; the arithmetic in the
scripts is the lessons' own formulas, and tests/test_site.py checks that the numbers the browser
shows equal the lessons' reference solutions for several settings. Plots of measured data are
drawn here as inline SVG (styled by the site's CSS, so they follow dark mode and print).

=====================  ======  ==============================================================
name                   lesson  what
=====================  ======  ==============================================================
residual-vs-plain      01      the two blocks on one example while weight decay shrinks W2, b2
gradient-norms         02      per-layer weight-gradient norms at init, plain vs residual, by depth
                               (``benchmarks/gradient_norms.json``)
degradation-seeds      02      final training error per seed of the quick degradation run
                               (``benchmarks/DEGRADATION.md``, measured block ``quick``)
bottleneck-cost        03      direct f×f convolution vs 1×1 bottleneck: multiplications, weights
inception-costs        04      weights and multiply-adds of each Inception branch, vs naive
=====================  ======  ==============================================================
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from course.tools.site.errors import SiteError

GRADIENT_DATA = Path("benchmarks") / "gradient_norms.json"
DEGRADATION_REPORT = Path("benchmarks") / "DEGRADATION.md"

# Lesson 01's example: a >= 0 is the output of a ReLU (n = 4 features, m = 3 examples), and one
# block of width h = 4. Round numbers so that a reader can check a column by hand.
RESIDUAL_EXAMPLE = {
    "a": [[0.9, 0.0, 1.4], [0.2, 1.1, 0.5], [0.0, 0.7, 0.3], [1.3, 0.4, 0.0]],
    "W1": [
        [0.5, -0.3, 0.8, 0.1],
        [-0.6, 0.9, 0.2, 0.4],
        [0.3, 0.5, -0.7, 0.6],
        [0.7, -0.2, 0.4, -0.5],
    ],
    "b1": [[0.1], [-0.1], [0.2], [0.0]],
    "W2": [
        [-0.8, 0.6, 0.3, -0.4],
        [0.5, -0.9, 0.7, 0.2],
        [0.4, 0.3, -0.6, 0.9],
        [-0.5, 0.8, 0.2, -0.7],
    ],
    "b2": [[0.2], [-0.3], [0.1], [-0.2]],
    "decay": 0.9,  # factor per step of the "weight decay" animation: W2 <- 0.9 W2
}
BOTTLENECK_DEFAULTS = {"h": 28, "w": 28, "c_in": 192, "c_mid": 16, "c_out": 32, "f": 5}
INCEPTION_DEFAULTS = {  # GoogLeNet inception (3a), Szegedy et al. 2014, Table 1
    "in_ch": 192, "ch1x1": 64, "ch3x3red": 96, "ch3x3": 128, "ch5x5red": 16, "ch5x5": 32,
    "pool_proj": 32, "size": 28,
}  # fmt: skip


@dataclass(frozen=True)
class Figure:
    name: str
    script: str | None  # assets/figures/<script>, or None for a static figure
    render: Callable  # (lesson) -> HTML


def _course_dir(lesson) -> Path:
    return lesson.folder.parent.parent


def _interactive(name: str, data: dict, caption: str, wide: bool = True) -> str:
    payload = json.dumps(data, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<figure class="interactive{" wide" if wide else ""}" id="fig-{name}" '
        f'data-figure="{name}">\n'
        f'<div class="figure-body" aria-live="polite"></div>\n'
        f'<noscript><p class="noscript">This figure is interactive: it needs JavaScript '
        f"(no network access; the script ships with the site).</p></noscript>\n"
        f'<script type="application/json" class="figure-data">{payload}</script>\n'
        f"<figcaption>{caption}</figcaption>\n</figure>"
    )


# --------------------------------------------------------------------------- lesson 01
def _residual_vs_plain(lesson) -> str:
    caption = (
        "<strong>Weight decay turns a residual block into the identity, and a plain block into "
        "zero.</strong> Both blocks share the same first layer and the same example "
        "<em>a</em> ≥ 0 (4 features × 3 examples). Slide the size of the second layer (both "
        "<em>W</em><sub>2</sub> and <em>b</em><sub>2</sub> are scaled by <em>s</em>) or let "
        "weight decay shrink it: at <em>s</em> = 0 the residual block returns <em>a</em> exactly, "
        "the plain block returns 0. The numbers are computed in your browser with the lesson's "
        "formulas, <code>g(W2 g(W1 a + b1) + b2)</code> and <code>g(W2 g(W1 a + b1) + b2 + a)</code>."
    )
    return _interactive("residual-vs-plain", RESIDUAL_EXAMPLE, caption)


# --------------------------------------------------------------------------- lesson 02
def load_gradient_norms(course_dir: Path) -> dict:
    path = course_dir / GRADIENT_DATA
    if not path.is_file():
        raise FileNotFoundError(path)
    return json.loads(path.read_text(encoding="utf-8"))


def gradient_summary(measured: dict) -> dict:
    """Per network: the median over seeds of each layer's norm, and the min and max."""
    nets: dict[str, dict] = {}
    for run in measured["runs"]:
        net = nets.setdefault(
            run["label"],
            {
                "depth": run["depth"],
                "residual": run["residual"],
                "layers": run["layers"],
                "seeds": {},
            },
        )
        net["seeds"][str(run["seed"])] = run["norms"]
    for net in nets.values():
        per_layer = list(zip(*net["seeds"].values(), strict=True))
        net["median"] = [
            sorted(v)[len(v) // 2] if len(v) % 2 else _mid(sorted(v)) for v in per_layer
        ]
        net["min"] = [min(v) for v in per_layer]
        net["max"] = [max(v) for v in per_layer]
    return nets


def _mid(v: list[float]) -> float:
    k = len(v) // 2
    return (v[k - 1] + v[k]) / 2


def _gradient_norms(lesson) -> str:
    try:
        measured = load_gradient_norms(_course_dir(lesson))
    except FileNotFoundError as exc:
        raise SiteError(
            f"the figure gradient-norms needs measured data: {exc.args[0]} is missing. Produce it "
            "with `python benchmarks/gradient_norms.py` (a few minutes on a CPU)."
        ) from None
    nets = gradient_summary(measured)
    data = {
        "nets": nets,
        "depths": sorted({n["depth"] for n in nets.values()}),
        "seeds": sorted({int(s) for n in nets.values() for s in n["seeds"]}),
        "batch_size": measured["batch_size"],
        "data": measured["data"],
    }
    caption = (
        "<strong>Gradient norm vs depth, plain vs residual, at initialisation.</strong> The norm "
        "of ∂L/∂W for every convolution (layer 1 is next to the input), measured with the "
        f"lesson's <code>cifar_net</code> and <code>layer_gradient_norms</code> on one batch of "
        f"{measured['batch_size']} images ({html.escape(measured['data'])}); the line is the "
        f"median of {len(data['seeds'])} seeds, the band their range. Measured "
        f"{html.escape(measured['measured'])} on {html.escape(measured['machine'])} with "
        f"<code>{html.escape(measured['command'])}</code>. Nothing vanishes: in the plain nets the "
        "gradient <em>grows</em> towards the input, and more so the deeper the net."
    )
    return _interactive("gradient-norms", data, caption)


def degradation_seeds(course_dir: Path, block: str = "quick") -> dict:
    """The measured seed table of ``benchmarks/DEGRADATION.md`` (block ``block``) as numbers."""
    path = course_dir / DEGRADATION_REPORT
    text = path.read_text(encoding="utf-8")
    m = re.search(
        rf"<!-- measured:{re.escape(block)}:begin -->(.*?)<!-- measured:{re.escape(block)}:end -->",
        text,
        re.S,
    )
    if not m:
        raise ValueError(f"{path} has no measured block {block!r}")
    body = m.group(1)
    header = re.search(r"^\|\s*seed\s*\|(.+)\|\s*$", body, re.M)
    if not header:
        raise ValueError(f"{path}: the measured block {block!r} has no seed table")
    columns = [c.strip() for c in header.group(1).split("|")]
    nets = [c for c in columns if re.fullmatch(r"(plain|ResNet)-\d+", c)]
    seeds: dict[str, list[float]] = {n: [] for n in nets}
    for row in re.finditer(r"^\|\s*(\d+)\s*\|(.+)\|\s*$", body, re.M):
        cells = [c.strip() for c in row.group(2).split("|")]
        for name, value in zip(columns, cells, strict=False):
            if name in seeds:
                seeds[name].append(float(value))
    first = body.strip().split("\n", 1)[0].strip()
    command = re.search(r"Command: `([^`]+)`", body)
    data = re.search(r"^Data: (.+)$", body, re.M)
    return {
        "nets": seeds,
        "measured": first.removeprefix("Measured ").rstrip("."),
        "command": command.group(1) if command else "",
        "data": data.group(1).strip() if data else "",
    }


def _degradation_seeds(lesson) -> str:
    try:
        measured = degradation_seeds(_course_dir(lesson))
    except (OSError, ValueError) as exc:
        raise SiteError(f"the figure degradation-seeds needs measured data: {exc}") from None
    svg = _dot_plot(measured["nets"], ylabel="final training error (%)", ymax=100)
    n = max(len(v) for v in measured["nets"].values())
    caption = (
        "<strong>The quick degradation run, measured over "
        f"{n} seeds.</strong> Final training error of each network (one dot per seed, the bar is "
        f"the mean) on {html.escape(measured['data'].rstrip('.'))}. Measured {html.escape(measured['measured'])}"
        f"; command <code>{html.escape(measured['command'])}</code>; the full table is in "
        "<code>benchmarks/DEGRADATION.md</code>. Plain-56 barely leaves the 90% chance level; "
        "both residual nets memorise everything."
    )
    return (
        '<figure class="plot" id="fig-degradation-seeds">\n'
        f"{svg}\n<figcaption>{caption}</figcaption>\n</figure>"
    )


def _dot_plot(groups: dict[str, list[float]], ylabel: str, ymax: float) -> str:
    """A dot plot (one column per group, a dot per value, a bar at the mean) as inline SVG."""
    width, height = 560, 260
    left, right, top, bottom = 56, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ymax)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(ylabel)} per network and seed">'
    ]
    for tick in range(0, int(ymax) + 1, 20):
        ty = f"{y(tick):.1f}"
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty}" y2="{ty}"/>')
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{ty}" dy="0.32em" text-anchor="end">{tick}</text>'
        )
    parts.append(
        f'<text class="axis-label" transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{html.escape(ylabel)}</text>'
    )
    step = plot_w / max(len(groups), 1)
    for i, (name, values) in enumerate(groups.items()):
        cx = left + step * (i + 0.5)
        kind = "residual" if name.lower().startswith("resnet") else "plain"
        if values:
            mean = sum(values) / len(values)
            parts.append(
                f'<line class="mean {kind}" x1="{cx - step * 0.28:.1f}" x2="{cx + step * 0.28:.1f}" '
                f'y1="{y(mean):.1f}" y2="{y(mean):.1f}"><title>{name}: mean {mean:.1f}%</title></line>'
            )
        for j, v in enumerate(values):
            dx = (j - (len(values) - 1) / 2) * 7
            parts.append(
                f'<circle class="dot {kind}" cx="{cx + dx:.1f}" cy="{y(v):.1f}" r="4">'
                f"<title>{name}, seed {j}: {v:.1f}%</title></circle>"
            )
        parts.append(
            f'<text class="tick" x="{cx:.1f}" y="{height - bottom + 18}" text-anchor="middle">{name}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- lesson 03
def _bottleneck_cost(lesson) -> str:
    caption = (
        "<strong>A 1×1 bottleneck before an f×f convolution.</strong> Multiplications "
        "(= multiply-accumulates; FLOP counters report twice as many) and weights of a stride-1 "
        "“same” f×f convolution from C<sub>in</sub> to C<sub>out</sub> channels on an H×W map, "
        "directly and behind a 1×1 convolution to C<sub>mid</sub> channels: "
        "H·W·C<sub>out</sub>·f²·C<sub>in</sub> multiplications and f²·C<sub>in</sub>·C<sub>out</sub> "
        "weights per layer (the lesson's <code>conv_mults</code> and <code>conv_params</code>). "
        "Defaults: the lecture's 28×28×192 → 5×5, 32 example."
    )
    return _interactive("bottleneck-cost", {"defaults": BOTTLENECK_DEFAULTS}, caption)


# --------------------------------------------------------------------------- lesson 04
def _inception_costs(lesson) -> str:
    caption = (
        "<strong>What each branch of an Inception module costs.</strong> Weights (convolution "
        "kernels, no biases) and multiply-adds of the four branches for an input of "
        "size×size×in_ch, with the 1×1 reductions (Fig. 2b) and without them (the naive "
        "module, Fig. 2a, with the same 1×1, 3×3 and 5×5 widths). Every convolution is stride-1 "
        "“same”, so each weight is used once per output pixel. Defaults: GoogLeNet's inception "
        "(3a), 163,328 weights (Table 1's “159K”, K = 1024) and 128,049,152 multiply-adds (“128M”)."
    )
    return _interactive("inception-costs", {"defaults": INCEPTION_DEFAULTS}, caption)


REGISTRY: dict[str, Figure] = {
    f.name: f
    for f in [
        Figure("residual-vs-plain", "residual-vs-plain.js", _residual_vs_plain),
        Figure("gradient-norms", "gradient-norms.js", _gradient_norms),
        Figure("degradation-seeds", None, _degradation_seeds),
        Figure("bottleneck-cost", "bottleneck-cost.js", _bottleneck_cost),
        Figure("inception-costs", "inception-costs.js", _inception_costs),
    ]
}


def names() -> list[str]:
    return sorted(REGISTRY)


def render(name: str, lesson) -> str:
    return REGISTRY[name].render(lesson)


def scripts(used: list[str]) -> list[str]:
    return [script for n in used if (script := REGISTRY[n].script)]
