"""Interactive explorers for lessons 03 and 04 (ipywidgets).

Each explorer is driven by the **student's own** code, passed in as arguments; this module only
arranges results (sliders -> call the student's functions -> table + bar chart)::

    costs.cost_explorer(conv_mults, conv_params)                      # lesson 03
    costs.branch_cost_explorer(InceptionModule, naive=NaiveInception)  # lesson 04

Nothing here implements an exercise: costs come from the student's ``conv_mults``/``conv_params``
(lesson 03) or are *measured* on the student's module with ``torch.utils.flop_counter`` (lesson 04).

The widgets build and update without a frontend (in tests, or while nbgrader executes a notebook):
the chart is a PNG rendered with matplotlib's object API into an ``ipywidgets.Image``
(:mod:`.panels`). Each explorer is a :class:`course.experiments.panels.Explorer`.
"""

from __future__ import annotations

from collections.abc import Callable

from course.experiments.panels import Explorer, figure, png, slider

__all__ = ["bottleneck_costs", "cost_explorer", "inception_branch_costs", "branch_cost_explorer"]

_DIRECT, _BOTTLENECK = "#4c72b0", "#dd8452"
_BRANCH_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


# --------------------------------------------------------------------------------------------
# lesson 03: direct f×f convolution vs 1×1 bottleneck + f×f convolution
# --------------------------------------------------------------------------------------------


def bottleneck_costs(
    conv_mults: Callable,
    conv_params: Callable,
    h: int,
    w: int,
    c_in: int,
    c_mid: int,
    c_out: int,
    f: int,
) -> dict:
    """Costs of a stride-1 "same" f×f conv c_in -> c_out, directly and behind a 1×1 conv to c_mid.

    Uses only the functions passed in (the student's). Output size is h×w for every layer.
    Returns ints: ``direct_mults, reduce_mults, expand_mults, bottleneck_mults`` and
    ``direct_weights, bottleneck_weights`` (weights only, no biases).

    Lessons: none directly (:func:`cost_explorer` draws it, lesson 03).
    """
    reduce_mults = int(conv_mults(h, w, c_in, c_mid, 1))
    expand_mults = int(conv_mults(h, w, c_mid, c_out, f))
    return {
        "direct_mults": int(conv_mults(h, w, c_in, c_out, f)),
        "reduce_mults": reduce_mults,
        "expand_mults": expand_mults,
        "bottleneck_mults": reduce_mults + expand_mults,
        "direct_weights": int(conv_params(c_in, c_out, f, bias=False)),
        "bottleneck_weights": int(conv_params(c_in, c_mid, 1, bias=False))
        + int(conv_params(c_mid, c_out, f, bias=False)),
    }


def _render_bottleneck(r: dict) -> tuple[str, bytes]:
    ratio = r["direct_mults"] / max(r["bottleneck_mults"], 1)
    html = (
        "<table style='font-family:monospace'>"
        "<tr><th></th><th style='text-align:right'>multiplications</th>"
        "<th style='text-align:right'>weights</th></tr>"
        f"<tr><td>direct f×f</td><td style='text-align:right'>{r['direct_mults']:,}</td>"
        f"<td style='text-align:right'>{r['direct_weights']:,}</td></tr>"
        f"<tr><td>1×1 then f×f</td><td style='text-align:right'>{r['reduce_mults']:,} + "
        f"{r['expand_mults']:,} = {r['bottleneck_mults']:,}</td>"
        f"<td style='text-align:right'>{r['bottleneck_weights']:,}</td></tr></table>"
        f"<p>The bottleneck needs <b>{ratio:.2f}×</b> {'fewer' if ratio >= 1 else 'MORE (!)'} "
        "multiplications. Multiplications and weights are different quantities: do not mix them.</p>"
    )
    fig = figure(7.5, 2.8)
    for ax, key, label in [
        (fig.add_subplot(1, 2, 1), "mults", "multiplications (millions)"),
        (fig.add_subplot(1, 2, 2), "weights", "weights (thousands)"),
    ]:
        scale = 1e6 if key == "mults" else 1e3
        vals = [r[f"direct_{key}"] / scale, r[f"bottleneck_{key}"] / scale]
        bars = ax.bar(["direct", "bottleneck"], vals, color=[_DIRECT, _BOTTLENECK])
        ax.bar_label(bars, fmt="%.3g")
        ax.set_ylim(0, 1.15 * max(*vals, 1e-9))  # room for the labels above the bars
        ax.set_title(label, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    return html, png(fig)


def cost_explorer(
    conv_mults: Callable,
    conv_params: Callable,
    *,
    h: int = 28,
    w: int = 28,
    c_in: int = 192,
    c_mid: int = 16,
    c_out: int = 32,
    f: int = 5,
) -> Explorer:
    """Sliders for H, W, C_in, bottleneck width, C_out and f; bars of direct vs bottleneck cost.

    ``conv_mults(h_out, w_out, c_in, c_out, f)`` and ``conv_params(c_in, c_out, f, bias)`` are
    the student's functions (lesson 03). Defaults: the lecture's 28×28×192 -> 5×5, 32 example.

    Lessons: 03_one_by_one_convolutions.
    """
    sliders = {
        "h": slider("H (= output H)", h, 1, 64),
        "w": slider("W (= output W)", w, 1, 64),
        "c_in": slider("C_in", c_in, 1, 512),
        "c_mid": slider("bottleneck width C_mid", c_mid, 1, 256),
        "c_out": slider("C_out", c_out, 1, 512),
        "f": slider("filter f (odd)", f, 1, 9, step=2),
    }

    def compute(**v):
        return bottleneck_costs(conv_mults, conv_params, **v)

    return Explorer(
        sliders, compute, _render_bottleneck, "Direct f×f convolution vs 1×1 bottleneck first"
    )


# --------------------------------------------------------------------------------------------
# lesson 04: what each Inception branch produces and costs
# --------------------------------------------------------------------------------------------


def inception_branch_costs(module, in_ch: int, size: int = 28) -> list[dict]:
    """Measure each branch ``module.branch1..branch4`` on a (1, in_ch, size, size) input.

    One dict per branch: ``branch``, ``out_channels``, ``out_size`` (H, W of the branch output),
    ``weights`` (elements of parameters with more than one dimension, i.e. conv/linear weights),
    ``params`` (all parameters) and ``mult_adds`` (``FlopCounterMode`` FLOPs // 2). Runs where the
    module's parameters live: on the ``meta`` device no arithmetic is done, so any size is instant.

    Lessons: 04_inception (and :func:`branch_cost_explorer` draws it).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    first = next(iter(module.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros(1, in_ch, size, size, device=device)
    rows = []
    for i in range(1, 5):
        branch = getattr(module, f"branch{i}", None)
        if branch is None:
            raise AttributeError(
                f"{type(module).__name__} has no attribute 'branch{i}': name the four branches "
                "branch1 (1×1), branch2 (3×3), branch3 (5×5), branch4 (pool)"
            )
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = branch(x)
        params = list(branch.parameters())
        rows.append(
            {
                "branch": f"branch{i}",
                "out_channels": int(out.shape[1]),
                "out_size": tuple(int(s) for s in out.shape[-2:]),
                "weights": sum(p.numel() for p in params if p.dim() > 1),
                "params": sum(p.numel() for p in params),
                "mult_adds": int(counter.get_total_flops() // 2),
            }
        )
    return rows


def _build_on_meta(cls, *args):
    """``cls(*args)`` with parameters on the meta device (shapes only: fast for any width)."""
    import torch

    with torch.device("meta"):
        return cls(*args)


_BRANCH_NAMES = ("1×1", "1×1→3×3", "1×1→5×5", "pool→1×1")
_NAIVE_NAMES = ("1×1", "3×3", "5×5", "3×3 pool")


def _render_branches(r: dict) -> tuple[str, bytes]:
    def table(rows, names, title):
        out = [
            f"<b>{title}</b><table style='font-family:monospace'><tr><th>branch</th>"
            "<th style='text-align:right'>out ch.</th><th style='text-align:right'>out H×W</th>"
            "<th style='text-align:right'>weights</th>"
            "<th style='text-align:right'>mult-adds</th></tr>"
        ]
        for row, name in zip(rows, names, strict=True):
            h, w = row["out_size"]
            out.append(
                f"<tr><td>{row['branch']} ({name})</td><td style='text-align:right'>"
                f"{row['out_channels']}</td><td style='text-align:right'>{h}×{w}</td>"
                f"<td style='text-align:right'>{row['weights']:,}</td>"
                f"<td style='text-align:right'>{row['mult_adds']:,}</td></tr>"
            )
        tot_c = sum(x["out_channels"] for x in rows)
        tot_w = sum(x["weights"] for x in rows)
        tot_m = sum(x["mult_adds"] for x in rows)
        out.append(
            f"<tr><td><b>concatenated</b></td><td style='text-align:right'><b>{tot_c}</b></td>"
            f"<td></td><td style='text-align:right'><b>{tot_w:,}</b></td><td style='text-align:right'>"
            f"<b>{tot_m:,}</b></td></tr></table>"
        )
        return "".join(out)

    size = r["size"]
    html = table(r["inception"], _BRANCH_NAMES, f"Inception module, {size}×{size} input")
    if r.get("naive"):
        html += table(r["naive"], _NAIVE_NAMES, "Naive module (no 1×1 reductions)")
    rows = r["inception"] + (r.get("naive") or [])
    if any(tuple(row["out_size"]) != (size, size) for row in rows):
        html += (
            f"<p style='color:#b00'>Some branch changes H×W ({size}×{size} in): branch outputs of "
            "different sizes cannot be concatenated. Check the padding and the pool's stride.</p>"
        )
    fig = figure(8, 2.8)
    kinds = [("inception", r["inception"])] + ([("naive", r["naive"])] if r.get("naive") else [])
    for col, (key, label) in enumerate(
        [("out_channels", "output channels"), ("mult_adds", "mult-adds (millions)")]
    ):
        ax = fig.add_subplot(1, 2, col + 1)
        scale = 1e6 if key == "mult_adds" else 1
        tops = [1e-9]
        for k, (_kind, rows) in enumerate(kinds):
            bottom = 0.0
            for i, row in enumerate(rows):
                val = row[key] / scale
                ax.bar(
                    k,
                    val,
                    bottom=bottom,
                    color=_BRANCH_COLOURS[i],
                    label=f"branch{i + 1}" if k == 0 else None,
                )
                bottom += val
            ax.text(k, bottom, f"{bottom:.3g}", ha="center", va="bottom", fontsize=9)
            tops.append(bottom)
        ax.set_xticks(range(len(kinds)), [kind for kind, _ in kinds])
        ax.set_title(label, fontsize=10)
        ax.set_ylim(0, 1.15 * max(tops))  # room for the totals above the bars
        ax.spines[["top", "right"]].set_visible(False)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return html, png(fig)


def branch_cost_explorer(
    inception_cls,
    *,
    naive=None,
    config: tuple[int, ...] = (192, 64, 96, 128, 16, 32, 32),
    size: int = 28,
) -> Explorer:
    """Sliders for the seven arguments of ``inception_cls`` (default: GoogLeNet's inception (3a)).

    Shows each branch's output channels, weights and mult-adds, measured on a module built from
    the student's class (``branch1..branch4``). With ``naive=NaiveInception`` (arguments
    ``in_ch, ch1x1, ch3x3, ch5x5``) the naive module with the same output widths is shown beside it.

    Lessons: 04_inception.
    """
    names = ("in_ch", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
    sliders = {
        n: slider(n, v, 1, 1024 if n == "in_ch" else 512)
        for n, v in zip(names, config, strict=True)
    }
    sliders["size"] = slider("H = W", size, 1, 64)

    def compute(size, **v):
        args = [v[n] for n in names]
        module = _build_on_meta(inception_cls, *args)
        result = {"size": size, "inception": inception_branch_costs(module, v["in_ch"], size)}
        if naive is not None:
            naive_module = _build_on_meta(naive, v["in_ch"], v["ch1x1"], v["ch3x3"], v["ch5x5"])
            result["naive"] = inception_branch_costs(naive_module, v["in_ch"], size)
        return result

    return Explorer(
        sliders, compute, _render_branches, "Inception branches: output channels and cost"
    )
