"""The short video on top of each lesson page: made from the lesson's own numbers, encoded once.

Each lesson's video is a few *scenes*, each a chart (bars, lines on a log axis, or two small
matrices) with a one-sentence caption. The numbers come from the same functions that feed the
site's figures (``figures.py``: the lessons' formulas, the course's constants, the committed
measurements), so a video shows what its lesson computes or measured, nothing made up:

====  ===================================================================================
01    one example through a plain and a residual block while weight decay shrinks W2, b2
02    the measured weight-gradient norm per layer, plain vs residual, as depth grows 20 → 110
03    a 1×1 bottleneck's multiplications as its width C_mid shrinks, against the direct 5×5
04    the Inception (3a) module branch by branch: weights with and without 1×1 reductions
05    ResNet-34's shape walk: parameters and multiply-adds as each stage is added
06    the five units of lesson 06: gradient at a 64-unit stack's input, then training error
07    the highway carry product (1 − σ(b_T))^L as the stack deepens, vs a residual unit
====  ===================================================================================

Frames are drawn with matplotlib (Agg, no pyplot state, fixed size and fonts) and encoded to
H.264/MP4 with the ffmpeg binary that ``imageio-ffmpeg`` ships (one thread, bit-exact flags,
no metadata: the same frames give the same bytes). The captions become a WebVTT file (one cue
per scene) and the page's transcript. An encoded video is cached under a key that hashes
everything that produces it (the scenes' numbers and captions, this file, matplotlib's and
ffmpeg's versions, the encoder arguments), in ``$COURSE_SITE_CACHE`` or
``~/.cache/resnet-course/site-video``: a second build copies it instead of encoding again.
Videos are build outputs: they are never committed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course.tools.site import figures
from course.tools.site.errors import SiteError

WIDTH, HEIGHT, DPI = 640, 360, 100
FPS = 2  # each scene is a still chart: two frames a second is smooth enough, and tiny
ENCODER_ARGS = [
    "-an", "-c:v", "libx264", "-preset", "slow", "-tune", "stillimage", "-crf", "30",
    "-pix_fmt", "yuv420p", "-g", str(4 * FPS), "-threads", "1", "-x264-params", "threads=1",
    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
    "-movflags", "+faststart",
]  # fmt: skip
COLOURS = {"plain": "#c0502a", "residual": "#1f6fb2", "b1": "#4c72b0", "b2": "#dd8452",
           "b3": "#55a868", "b4": "#8172b3", "b5": "#937860", "bottleneck": "#d88a1d"}  # fmt: skip


@dataclass(frozen=True)
class Scene:
    """One still chart and its caption, shown for ``seconds``. ``chart`` is plain data (JSON):
    ``{"kind": "bars" | "lines" | "matrices", ...}`` (see :func:`_draw`)."""

    title: str
    chart: dict[str, Any]
    caption: str
    seconds: float = 2.5


@dataclass(frozen=True)
class Video:
    lesson: str
    title: str  # what the video shows, one line (the <video>'s label)
    scenes: list[Scene]
    source: str  # where the numbers come from (shown under the video)


def _fmt(n: float) -> str:
    return f"{round(n):,}"


def _big(n: float) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e9 else f"{n / 1e6:.2f} M" if n >= 1e6 else _fmt(n)


# --------------------------------------------------------------------------- the lessons' scenes
def _lesson01(course_dir: Path) -> Video:
    ex = figures.RESIDUAL_EXAMPLE
    import numpy as np

    a, w1, b1 = (np.array(ex[k], dtype=np.float64) for k in ("a", "W1", "b1"))
    w2, b2 = np.array(ex["W2"]), np.array(ex["b2"])
    hidden = np.maximum(w1 @ a + b1, 0)
    scenes = []
    for s in (1.0, 0.6, 0.3, 0.1, 0.0):
        z = s * w2 @ hidden + s * b2
        plain, residual = np.maximum(z, 0), np.maximum(z + a, 0)
        off = float(np.abs(residual - a).max())
        scenes.append(
            Scene(
                f"Second layer scaled by s = {s:g}",
                {
                    "kind": "matrices",
                    "matrices": {
                        "plain block": plain.tolist(),
                        "residual block": residual.tolist(),
                        "input a": a.tolist(),
                    },
                },  # fmt: skip
                f"s = {s:g}: the residual block's output is at most {off:.2f} away from its input a; "
                f"the plain block's largest output is {float(plain.max()):.2f}.",
            )
        )
    return Video(
        "01", "Weight decay: a residual block becomes the identity, a plain block zero", scenes,
        "Lesson 01's formulas g(W2 g(W1 a + b1) + b2) and g(W2 g(W1 a + b1) + b2 + a) on the "
        "example of the figure below, with W2 and b2 scaled by s.",
    )  # fmt: skip


def _lesson02(course_dir: Path) -> Video:
    measured = figures.load_gradient_norms(course_dir)
    nets = figures.gradient_summary(measured)
    depths = sorted({n["depth"] for n in nets.values()})
    scenes = []
    for depth in depths:
        plain, res = nets[f"plain-{depth}"]["median"], nets[f"ResNet-{depth}"]["median"]
        scenes.append(
            Scene(
                f"{depth} layers: gradient norm per convolution at initialisation",
                {
                    "kind": "lines",
                    "log": True,
                    "xlabel": "conv layer (1 = next to the input)",
                    "ylabel": "‖∂L/∂W‖ (median of seeds)",
                    "series": {"plain": plain, "residual": res},
                },  # fmt: skip
                f"Depth {depth}: the first layer's gradient is {plain[0] / plain[-1]:.3g} times the "
                f"last one's in the plain net, {res[0] / res[-1]:.3g} times in the residual net.",
            )
        )
    return Video(
        "02", "The gradient reaching the input of a plain and a residual network as depth grows",
        scenes,
        f"Measured: {figures.GRADIENT_DATA} ({measured['measured']}, {measured['machine']}), "
        "the lesson's cifar_net and layer_gradient_norms.",
    )  # fmt: skip


def _lesson03(course_dir: Path) -> Video:
    d = figures.BOTTLENECK_DEFAULTS
    h, w, c_in, c_out, f = d["h"], d["w"], d["c_in"], d["c_out"], d["f"]
    direct = h * w * c_out * f * f * c_in
    scenes = []
    for c_mid in (192, 96, 48, 32, 16, 8):
        bott = h * w * c_mid * c_in + h * w * c_out * f * f * c_mid
        scenes.append(
            Scene(
                f"{h}×{w}×{c_in} → {f}×{f}, {c_out}: bottleneck width C_mid = {c_mid}",
                {
                    "kind": "bars",
                    "unit": "multiplications",
                    "max": direct * 1.25,
                    "bars": [
                        ["direct 5×5", direct, "plain"],
                        [f"1×1 to {c_mid}, then 5×5", bott, "bottleneck"],
                    ],
                },
                f"C_mid = {c_mid}: {_fmt(bott)} multiplications against {_fmt(direct)} for the "
                f"direct convolution ({direct / bott:.2f}×).",
            )  # fmt: skip
        )
    return Video(
        "03", "A 1×1 bottleneck's cost as its width shrinks", scenes,
        "Lesson 03's conv_mults formula H·W·C_out·f²·C_in on the lecture's 28×28×192 example.",
    )  # fmt: skip


def inception_branches(d: dict) -> list[tuple[str, int, int]]:
    """(branch, weights with 1×1 reductions, weights of the naive module) of an Inception module
    (Szegedy et al. 2014, Fig. 2): stride-1 "same" convolutions, no biases."""
    c = d["in_ch"]
    return [
        ("1×1", c * d["ch1x1"], c * d["ch1x1"]),
        ("3×3", c * d["ch3x3red"] + 9 * d["ch3x3red"] * d["ch3x3"], 9 * c * d["ch3x3"]),
        ("5×5", c * d["ch5x5red"] + 25 * d["ch5x5red"] * d["ch5x5"], 25 * c * d["ch5x5"]),
        ("pool", c * d["pool_proj"], 0),
    ]


def _lesson04(course_dir: Path) -> Video:
    d = figures.INCEPTION_DEFAULTS
    branches = inception_branches(d)
    scenes = []
    for k in range(1, len(branches) + 1):
        bars = []
        for name, reduced, naive in branches[:k]:
            bars += [[f"{name} naive", naive, "plain"], [f"{name} reduced", reduced, "residual"]]
        red, nai = sum(b[1] for b in branches[:k]), sum(b[2] for b in branches[:k])
        scenes.append(
            Scene(
                f"Inception (3a), branches 1–{k}: weights",
                {
                    "kind": "bars",
                    "unit": "weights",
                    "bars": bars,
                    "slots": 2 * len(branches),
                    "max": 1.25 * max(max(b[1:]) for b in branches),
                },
                f"Up to the {branches[k - 1][0]} branch: {_fmt(red)} weights with 1×1 reductions, "
                f"{_fmt(nai)} without ({_fmt(red * d['size'] ** 2)} vs {_fmt(nai * d['size'] ** 2)} "
                "multiply-adds on 28×28).",
                seconds=3,
            )
        )
    return Video(
        "04", "What each branch of an Inception module costs, with and without 1×1 reductions",
        scenes,
        "GoogLeNet's inception (3a) (Szegedy et al. 2014, Table 1), lesson 04's branch formulas.",
    )  # fmt: skip


def _lesson05(course_dir: Path) -> Video:
    rows = figures.resnet34_walk("cifar", 32, 10)
    scenes = []
    for k in range(1, len(rows) + 1):
        r = rows[k - 1]
        shape = " × ".join(str(s) for s in r["shape"])
        params = sum(x["params"] for x in rows[:k])
        macs = sum(x["macs"] for x in rows[:k])
        scenes.append(
            Scene(
                f"ResNet-34 on a 32×32 image: {r['name']} → {shape}",
                {
                    "kind": "bars",
                    "unit": "parameters",
                    "slots": len(rows),
                    "max": 1.25 * max(x["params"] for x in rows),
                    "bars": [[x["name"], x["params"], "b1"] for x in rows[:k]],
                },
                f"{r['name']} ({r['what']}): output {shape}, {_fmt(r['params'])} parameters; so "
                f"far {_fmt(params)} parameters and {_big(macs)} multiply-adds.",
            )  # fmt: skip
        )
    return Video(
        "05", "ResNet-34's shape walk: parameters stage by stage", scenes,
        "Closed form from He et al. 2015, Table 1 (the figure below; checked against the lesson's "
        "reference ResNet34 by tests/test_site.py).",
    )  # fmt: skip


def _lesson06(course_dir: Path) -> Video:
    m = figures.variant_measurements(course_dir)
    kinds, seeds = m["kinds"], m["seeds"]

    def mean(metric: str, kind: str) -> float:
        return sum(m["metrics"][metric][kind][s] for s in seeds) / len(seeds)

    scenes = []
    for metric, title, unit in [
        ("grad", "gradient at a 64-unit stack's input (× the top's)", "×"),
        ("error", "final training error of the memorisation probe (%)", "%"),
    ]:
        for k in range(1, len(kinds) + 1):
            bars = [[m["labels"][x], mean(metric, x), f"b{i + 1}"] for i, x in enumerate(kinds[:k])]
            label, value = bars[-1][0], bars[-1][1]
            scenes.append(
                Scene(
                    title,
                    {
                        "kind": "bars",
                        "unit": unit,
                        "bars": bars,
                        "slots": len(kinds),
                        "max": 100
                        if metric == "error"
                        else 1.25 * max(mean(metric, x) for x in kinds),
                    },  # fmt: skip
                    f"{label}: {value:.3g}{' %' if unit == '%' else '×'} (mean of {len(seeds)} seeds).",
                    seconds=2,
                )
            )
    return Video(
        "06", "The five residual units: gradient at the input of a deep stack, and how well they fit",
        scenes, f"Measured: {figures.VARIANTS_REPORT}, block quick ({m['measured']}).",
    )  # fmt: skip


def _lesson07(course_dir: Path) -> Video:
    biases = figures.HIGHWAY_LESSON_BIASES
    scenes = []

    def carry(b: float) -> float:
        return 1 - 1 / (1 + math.exp(-b))

    for depth in (1, 10, 25, 50, 100, 200):
        series = {f"b_T = {b:g}": [carry(b) ** n for n in range(depth + 1)] for b in biases}
        series["residual"] = [1.0] * (depth + 1)
        scenes.append(
            Scene(
                f"What {depth} highway layer{'s carry' if depth > 1 else ' carries'} straight through",
                {
                    "kind": "lines",
                    "log": True,
                    "x0": 0,
                    "xlabel": "depth L (layers)",
                    "ylabel": "carried fraction (1 − σ(b_T))^L",
                    "series": series,
                    "colours": {f"b_T = {biases[0]:g}": "b2", f"b_T = {biases[1]:g}": "b3"},
                    "dashed": ["residual"],
                    "xlim": [0, 200],
                    "ylim": [1e-12, 2],
                },  # fmt: skip
                f"L = {depth}: b_T = {biases[0]:g} carries {carry(biases[0]) ** depth:.3g} of the "
                f"input, b_T = {biases[1]:g} carries {carry(biases[1]) ** depth:.3g}, a residual "
                "unit exactly 1.",
            )
        )
    return Video(
        "07", "The highway carry product against depth, for the lesson's two gate biases", scenes,
        "Closed form (1 − σ(b_T))^L, Srivastava et al. 2015, Eq. 3, with the lesson's gate biases.",
    )  # fmt: skip


LESSONS: dict[str, Callable[[Path], Video]] = {
    "01": _lesson01, "02": _lesson02, "03": _lesson03, "04": _lesson04,
    "05": _lesson05, "06": _lesson06, "07": _lesson07,
}  # fmt: skip


# --------------------------------------------------------------------------- drawing
def _draw(fig, scene: Scene) -> None:
    chart = scene.chart
    fig.text(0.02, 0.95, scene.title, fontsize=12, fontweight="bold", va="top", color="#1d1d1f")
    if chart["kind"] == "bars":
        ax = fig.add_axes((0.3, 0.12, 0.6, 0.72))
        bars = chart["bars"]
        slots = max(chart.get("slots") or len(bars), 3)
        ys = [slots - 1 - i for i in range(len(bars))]  # the first bar on top, slots fixed
        ax.barh(ys, [b[1] for b in bars], color=[COLOURS[b[2]] for b in bars], height=0.6)
        ax.set_yticks(ys, [b[0] for b in bars], fontsize=9)
        top = chart.get("max") or max(b[1] for b in bars) * 1.25 or 1
        ax.set_xlim(0, top)
        for y, b in zip(ys, bars, strict=True):
            text = f"{b[1]:.3g}" if chart["unit"] in ("%", "×") else _big(b[1])
            ax.text(b[1] + top * 0.01, y, text, va="center", fontsize=9)
        ax.set_xlabel(chart["unit"], fontsize=9)
        if chart["unit"] not in ("%", "×"):
            ax.set_xticks([])  # large counts: the bars carry their values
        ax.set_ylim(-0.6, slots - 0.4)
    elif chart["kind"] == "lines":
        ax = fig.add_axes((0.11, 0.14, 0.62, 0.7))
        x0 = chart.get("x0", 1)
        for i, (name, ys) in enumerate(chart["series"].items()):
            key = chart.get("colours", {}).get(name) or (name if name in COLOURS else f"b{i + 1}")
            colour = COLOURS[key]
            dashed = name in chart.get("dashed", ())
            ax.plot(
                range(x0, x0 + len(ys)),
                ys,
                color=colour,
                lw=2,
                label=name,
                ls="--" if dashed else "-",
            )
        if chart.get("log"):
            ax.set_yscale("log")
            lo = min(v for ys in chart["series"].values() for v in ys if v > 0)
            ax.set_ylim(max(lo / 3, 1e-8), None)
        if "xlim" in chart:
            ax.set_xlim(*chart["xlim"])
        if "ylim" in chart:
            ax.set_ylim(*chart["ylim"])
        ax.set_xlabel(chart["xlabel"], fontsize=9)
        ax.set_ylabel(chart["ylabel"], fontsize=9)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9, frameon=False)
    elif chart["kind"] == "matrices":
        mats = chart["matrices"]
        for i, (name, m) in enumerate(mats.items()):
            ax = fig.add_axes((0.04 + i * 0.33, 0.08, 0.27, 0.72))
            ax.imshow(m, cmap="Blues", vmin=0, vmax=2.5)
            for r, row in enumerate(m):
                for c, v in enumerate(row):
                    ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=9,
                            color="white" if v > 1.4 else "#1d1d1f")  # fmt: skip
            ax.set_title(name, fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    else:  # pragma: no cover - a programming error
        raise ValueError(chart["kind"])
    for ax in fig.axes:
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)


def _figure(scene: Scene):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    with _matplotlib_defaults():
        _draw(fig, scene)
    return fig


def _frame(scene: Scene) -> bytes:
    """One RGB frame (WIDTH × HEIGHT × 3 bytes) of ``scene``."""
    import numpy as np

    buf = io.BytesIO()
    with _matplotlib_defaults():
        _figure(scene).savefig(buf, format="rgba", dpi=DPI)
    rgba = buf.getvalue()
    if len(rgba) != WIDTH * HEIGHT * 4:
        raise SiteError(f"video frame of {len(rgba)} bytes, expected {WIDTH}×{HEIGHT}×4")
    return np.frombuffer(rgba, dtype=np.uint8).reshape(-1, 4)[:, :3].tobytes()


def poster(scene: Scene, target: Path) -> None:
    """The still shown before the video plays (the last scene: the whole picture), a PNG
    without metadata."""
    with _matplotlib_defaults():
        _figure(scene).savefig(target, format="png", dpi=DPI, metadata={"Software": None})


def _matplotlib_defaults():
    import matplotlib

    return matplotlib.rc_context({"font.family": "DejaVu Sans"})


# --------------------------------------------------------------------------- captions, cache, encoding
def _clock(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def webvtt(video: Video) -> str:
    """The captions: one cue per scene (its caption), timed like the frames."""
    lines, t = ["WEBVTT", ""], 0.0
    for i, scene in enumerate(video.scenes, start=1):
        end = t + _frames(scene) / FPS
        lines += [str(i), f"{_clock(t)} --> {_clock(end)}", scene.caption, ""]
        t = end
    return "\n".join(lines)


def _frames(scene: Scene) -> int:
    return max(1, round(scene.seconds * FPS))


def ffmpeg() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise SiteError(
            "the lesson videos need ffmpeg from imageio-ffmpeg: `pip install -e .` installs it"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _versions() -> str:
    import imageio_ffmpeg
    import matplotlib

    return f"matplotlib {matplotlib.__version__}; ffmpeg {imageio_ffmpeg.get_ffmpeg_version()}"


def cache_key(video: Video) -> str:
    """A hash of everything that produces the video's bytes."""
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(_versions().encode())
    h.update(json.dumps(ENCODER_ARGS).encode())
    h.update(json.dumps([[s.title, s.chart, s.caption, s.seconds] for s in video.scenes],
                        sort_keys=True).encode())  # fmt: skip
    return h.hexdigest()[:32]


def cache_dir() -> Path:
    env = os.environ.get("COURSE_SITE_CACHE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resnet-course" / "site-video"


def encode(video: Video, target: Path) -> None:
    """Render the frames and encode them to ``target`` (H.264 in MP4, deterministic)."""
    raw = b"".join(_frame(s) * _frames(s) for s in video.scenes)
    cmd = [
        ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS),
        "-i", "pipe:0", *ENCODER_ARGS, "-f", "mp4", str(target),
    ]  # fmt: skip
    done = subprocess.run(cmd, input=raw, capture_output=True, check=False)
    if done.returncode != 0:
        raise SiteError(
            f"lesson {video.lesson}: ffmpeg failed to encode the video: "
            + done.stderr.decode(errors="replace").strip()[-400:]
        )


@dataclass
class Made:
    mp4: str  # file names in the lesson's folder of the site
    vtt: str
    png: str  # the poster
    vtt_text: str
    video: Video
    encoded: bool  # False when it came from the cache


def make(lesson_number: str, lesson_id: str, course_dir: Path, folder: Path) -> Made | None:
    """The lesson's video and captions, written into ``folder`` (None: the lesson has none)."""
    build = LESSONS.get(lesson_number)
    if build is None:
        return None
    try:
        video = build(course_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise SiteError(f"lesson {lesson_id}: cannot make its video: {exc}") from None
    key = cache_key(video)
    cached, still = cache_dir() / f"{key}.mp4", cache_dir() / f"{key}.png"
    encoded = False
    if not (cached.is_file() and still.is_file()):
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{key}.{os.getpid()}.partial")
        encode(video, partial.with_suffix(".mp4"))
        poster(video.scenes[-1], partial.with_suffix(".png"))
        os.replace(partial.with_suffix(".png"), still)
        os.replace(partial.with_suffix(".mp4"), cached)
        encoded = True
    mp4, vtt, png = (f"{lesson_id}-video.{ext}" for ext in ("mp4", "vtt", "png"))
    shutil.copyfile(cached, folder / mp4)
    shutil.copyfile(still, folder / png)
    captions = webvtt(video)
    (folder / vtt).write_text(captions, encoding="utf-8")
    return Made(mp4, vtt, png, captions, video, encoded)
