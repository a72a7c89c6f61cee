"""The site's figures: interactive ones (a small JavaScript file each) and plots of measured data.

A lesson places a figure with a marker on its own line in a markdown cell, invisible in
JupyterLab::

    <!-- site-figure: bottleneck-cost -->

Interactive figures are drawn in the browser by ``assets/figures/<name>.js`` (plain scripts: no
modules, no network, so the site works from ``file://``), on top of ``assets/figures/common.js``
(the shared DOM helpers and controls, ``window.CourseFigures``), which a page loads first. The page carries their data as JSON
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
resnet34-stages        05      ResNet-34's shape walk, parameters and multiply-adds per stage
                               (closed form from He et al. 2015, Table 1, for each stem/size/classes)
variant-gradients      06      the five units of lesson 06: gradient at a 64-unit stack's input and
                               final training error, per seed (``benchmarks/VARIANTS.md``, ``quick``)
highway-carry          07      the highway carry product (1 − σ(b_T))^L against gate bias and depth
=====================  ======  ==============================================================

Lessons 01–04 place their figures with a marker; lessons 05–07 have none (yet), so
:data:`PLACEMENT` puts a figure after the markdown cell that holds a given heading when the
lesson has no marker for it (a heading that is gone stops the build with a clear message).
"""

from __future__ import annotations

import html
import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from course.tools.site.errors import SiteError

GRADIENT_DATA = Path("benchmarks") / "gradient_norms.json"
DEGRADATION_REPORT = Path("benchmarks") / "DEGRADATION.md"
VARIANTS_REPORT = Path("benchmarks") / "VARIANTS.md"

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


def _variants():
    """``course.experiments.variants`` (lesson 06's constants): the site's one import of it, made when a
    figure needs it, so that ``course site`` does not load torch otherwise."""
    return importlib.import_module("course.experiments.variants")


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


# --------------------------------------------------------------------------- lesson 05
RESNET34_STEMS, RESNET34_SIZES, RESNET34_CLASSES = ("cifar", "imagenet"), (32, 64, 224), (10, 1000)
RESNET34_DEFAULT = {"stem": "cifar", "size": 32, "classes": 10}


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def resnet34_walk(stem: str, size: int, classes: int) -> list[dict]:
    """ResNet-34 stage by stage (He et al. 2015, Table 1; torchvision's layout, the lesson's
    ``ResNet34``): output shape, parameters (convolutions, batch norms, fc) and multiply-adds of
    the convolutions and the fc layer, for a ``size``×``size`` image. Closed form: a k×k
    convolution has k²·C_in·C_out weights and costs H_out·W_out·k²·C_in·C_out multiply-adds (lesson
    03); a batch norm has 2·C parameters; option-B projection shortcuts (1×1 conv + BN)."""
    rows = []
    if stem == "cifar":
        side = size
        params, macs = 3 * 3 * 3 * 64 + 2 * 64, side * side * 3 * 3 * 3 * 64
        what = "3×3 conv, stride 1"
    elif stem == "imagenet":
        side = _conv_out(size, 7, 2, 3)
        params, macs = 7 * 7 * 3 * 64 + 2 * 64, side * side * 7 * 7 * 3 * 64
        side = _conv_out(side, 3, 2, 1)  # 3x3 max-pool, stride 2
        what = "7×7 conv, stride 2, 3×3 max-pool"
    else:
        raise ValueError(f"unknown stem {stem!r}")
    rows.append(
        dict(name="stem", what=what, blocks=0, shape=[64, side, side], params=params, macs=macs)
    )
    c_in = 64
    for i, (blocks, c) in enumerate(_variants().RESNET34_STAGES):
        params = macs = 0
        for b in range(blocks):
            stride = 2 if (i > 0 and b == 0) else 1
            side = _conv_out(side, 3, stride, 1)
            params += 9 * c_in * c + 2 * c + 9 * c * c + 2 * c
            macs += side * side * (9 * c_in * c + 9 * c * c)
            if stride != 1 or c_in != c:  # option B: a 1x1 conv + BN on the shortcut
                params += c_in * c + 2 * c
                macs += side * side * c_in * c
            c_in = c
        rows.append(
            dict(name=f"layer{i + 1}", what=f"{blocks} basic blocks", blocks=blocks,
                 shape=[c, side, side], params=params, macs=macs)
        )  # fmt: skip
    rows.append(
        dict(name="avgpool + fc", what=f"global average pool, {c_in} → {classes}", blocks=0,
             shape=[classes], params=c_in * classes + classes, macs=c_in * classes)
    )  # fmt: skip
    return rows


def _resnet34_stages(lesson) -> str:
    walks = {
        f"{stem}-{size}-{classes}": resnet34_walk(stem, size, classes)
        for stem in RESNET34_STEMS
        for size in RESNET34_SIZES
        for classes in RESNET34_CLASSES
    }
    default = walks["cifar-32-10"]
    total = sum(r["params"] for r in default)
    caption = (
        "<strong>ResNet-34, stage by stage: shape, parameters, multiply-adds.</strong> The stem, the "
        "four stages of basic blocks (3, 4, 6, 3 blocks of 64, 128, 256, 512 channels; He et al. "
        "2015, Table 1, as <code>course.experiments.variants.RESNET34_STAGES</code>) and the head, for the stem, "
        "image size and number of classes you choose. The numbers are computed when the site is "
        "built, in closed form from the layer shapes (k²·C<sub>in</sub>·C<sub>out</sub> weights per "
        "convolution, H<sub>out</sub>·W<sub>out</sub> times as many multiply-adds, 2·C per batch "
        "norm, option-B projections); tests/test_site.py checks every row against the lesson's "
        f"reference <code>ResNet34</code>. Default: the lesson's CIFAR stem, {total:,} parameters "
        "(the lesson's 21,282,122). Multiply-adds count convolutions and the fc layer, as the "
        "lesson's <code>conv_macs</code>; <code>FlopCounterMode</code> reports twice as many FLOPs."
    )
    settings = {"stem": RESNET34_STEMS, "size": RESNET34_SIZES, "classes": RESNET34_CLASSES}
    data = {"walks": walks, "settings": settings, "default": RESNET34_DEFAULT}
    return _interactive("resnet34-stages", data, caption)


# --------------------------------------------------------------------------- lesson 06
def _measured_block(path: Path, block: str) -> str:
    text = path.read_text(encoding="utf-8")
    b = re.escape(block)
    m = re.search(rf"<!-- measured:{b}:begin -->(.*?)<!-- measured:{b}:end -->", text, re.S)
    if not m:
        raise ValueError(f"{path} has no measured block {block!r}")
    return m.group(1)


def _seed_tables(body: str) -> list[tuple[list[str], dict[str, list[str]]]]:
    """Every markdown table of ``body`` whose first column is ``seed``: (columns, seed -> cells)."""
    tables = []
    for chunk in re.findall(r"(?:^\|.*\|[ \t]*\n?)+", body, re.M):
        lines = [ln.strip() for ln in chunk.strip().split("\n")]
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        if head[0] != "seed":
            continue
        rows = {}
        for ln in lines[2:]:
            cells = [c.strip() for c in ln.strip("|").split("|")]
            if cells[0].isdigit():
                rows[cells[0]] = cells[1:]
        tables.append((head[1:], rows))
    return tables


def variant_measurements(course_dir: Path, block: str = "quick") -> dict:
    """Lesson 06's measured block of ``benchmarks/VARIANTS.md`` as numbers: per unit kind and seed,
    the final training error (%), the gradient at a 64-unit stack's input relative to its top,
    and the smallest such ratio along the stack."""
    body = _measured_block(course_dir / VARIANTS_REPORT, block)
    tables = _seed_tables(body)
    if len(tables) < 2:
        raise ValueError(
            f"{VARIANTS_REPORT}: the block {block!r} lacks its error and gradient tables"
        )
    kinds, labels = _variants().KINDS, _variants().LABELS
    by_label = {label: kind for kind, label in labels.items()}
    out: dict[str, dict[str, dict[str, float]]] = {"error": {}, "grad": {}, "grad_min": {}}
    (err_cols, err_rows), (grad_cols, grad_rows) = tables[0], tables[1]
    for seed, cells in err_rows.items():
        for col, cell in zip(err_cols, cells, strict=False):
            if col in by_label:
                out["error"].setdefault(by_label[col], {})[seed] = float(cell)
    for seed, cells in grad_rows.items():
        for col, cell in zip(grad_cols, cells, strict=False):
            m = re.fullmatch(r"([\d.]+) \(min ([\d.]+)\)", cell)
            if col in by_label and m:
                out["grad"].setdefault(by_label[col], {})[seed] = float(m.group(1))
                out["grad_min"].setdefault(by_label[col], {})[seed] = float(m.group(2))
    first = body.strip().split("\n", 1)[0].strip()
    data = re.search(r"^Data: (.+)$", body, re.M)
    command = re.search(r"Command: `([^`]+)`", body)
    return {
        "kinds": [k for k in kinds if k in out["error"]],
        "labels": {k: labels[k] for k in kinds},
        "metrics": out,
        "seeds": sorted(err_rows, key=int),
        "measured": first.removeprefix("Measured ").rstrip("."),
        "data": data.group(1).strip() if data else "",
        "command": command.group(1) if command else "",
    }


def _variant_gradients(lesson) -> str:
    try:
        measured = variant_measurements(_course_dir(lesson))
    except (OSError, ValueError) as exc:
        raise SiteError(f"the figure variant-gradients needs measured data: {exc}") from None
    caption = (
        "<strong>The five units of He et al. (2016, Fig. 4), measured.</strong> For each unit: "
        "the gradient that reaches the input of a fresh 64-unit stack (16 channels, 8×8, batch 32, "
        "training mode), relative to the gradient sent into its top "
        "(<code>course.experiments.variants.gradient_profiles</code>), the smallest such ratio along the "
        "stack, and the final training error of the quick memorisation probe (random labels, 56 "
        f"weighted layers). Per seed, or the mean of the {len(measured['seeds'])} seeds' values "
        "as the report rounds them. All numbers "
        "are read from the measured block <code>quick</code> of <code>benchmarks/VARIANTS.md</code> "
        f"when the site is built: measured {html.escape(measured['measured'])}, with "
        f"<code>{html.escape(measured['command'])}</code>; {html.escape(measured['data'])}"
    )
    return _interactive("variant-gradients", measured, caption)


# --------------------------------------------------------------------------- lesson 07
HIGHWAY_LESSON_BIASES = (-2.0, -6.0)  # the gate biases lesson 07 measures
HIGHWAY_DEFAULTS = {
    "bias": -4.0, "depth": 50, "max_depth": 200, "lesson_biases": list(HIGHWAY_LESSON_BIASES),
}  # fmt: skip


def _highway_carry(lesson) -> str:
    caption = (
        "<strong>What a stack of highway layers carries straight through.</strong> With "
        "T = σ(b<sub>T</sub>) at the start (gate weights small), each layer carries "
        "1 − σ(b<sub>T</sub>) of its input, and L layers carry the product "
        "(1 − σ(b<sub>T</sub>))<sup>L</sup> (Srivastava et al. 2015, Eq. 3; the lesson's "
        "“What the gate bias does to a deep stack”). Choose a gate bias and a depth; the lesson's "
        "b<sub>T</sub> = −2 and −6 and the residual unit (carry exactly 1 at any depth) are drawn "
        "for comparison. Computed in your browser from this formula; tests/test_site.py checks it "
        "against a stack of the lesson's reference <code>HighwayLayer</code> whose transform and "
        "gate weights are zero."
    )
    return _interactive("highway-carry", {"defaults": HIGHWAY_DEFAULTS}, caption)


REGISTRY: dict[str, Figure] = {
    f.name: f
    for f in [
        Figure("residual-vs-plain", "residual-vs-plain.js", _residual_vs_plain),
        Figure("gradient-norms", "gradient-norms.js", _gradient_norms),
        Figure("degradation-seeds", None, _degradation_seeds),
        Figure("bottleneck-cost", "bottleneck-cost.js", _bottleneck_cost),
        Figure("inception-costs", "inception-costs.js", _inception_costs),
        Figure("resnet34-stages", "resnet34-stages.js", _resnet34_stages),
        Figure("variant-gradients", "variant-gradients.js", _variant_gradients),
        Figure("highway-carry", "highway-carry.js", _highway_carry),
    ]
}

# figure -> (lesson number, heading of the markdown cell it follows) when the lesson has no marker
PLACEMENT: dict[str, tuple[str, str]] = {
    "resnet34-stages": ("05", "## 2. ResNet-34"),
    "variant-gradients": ("06", "## 5. The five units side by side, measured"),
    "highway-carry": ("07", "### What the gate bias does to a deep stack"),
}


def placed_after(number: str, text: str) -> list[str]:
    """Figures of lesson ``number`` that follow a markdown cell with ``text`` (by PLACEMENT)."""
    return [
        name
        for name, (lesson, heading) in PLACEMENT.items()
        if lesson == number and re.search(rf"^{re.escape(heading)}", text, re.M)
    ]


def names() -> list[str]:
    return sorted(REGISTRY)


def render(name: str, lesson) -> str:
    return REGISTRY[name].render(lesson)


# assets/figures/common.js: the helpers every figure script uses (window.CourseFigures)
COMMON_SCRIPT = "common.js"


def scripts(used: list[str]) -> list[str]:
    """The scripts a page with figures ``used`` loads, in order: the shared one first."""
    own = [script for n in used if (script := REGISTRY[n].script)]
    return [COMMON_SCRIPT, *own] if own else []
