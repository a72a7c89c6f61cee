"""The course site (``course site``): built with pandoc from the releases, checked in a real browser.

The lessons are discovered from ``notebooks/`` (never listed here), the site is built once per
test session (deterministic and fast), and one headless Chromium (Debian's, driven by Playwright)
is shared by every browser check. Screenshots of every page land in the folder printed at the
end of the run (``artifacts/browser/site/``, or ``$COURSE_ARTIFACTS/site/``): look at them.

The interactive figures are checked against the lessons' **reference solutions**
(``lesson_code.answers``): the numbers the browser shows must equal what the Python functions
return, for several settings of each figure's controls.
"""

from __future__ import annotations

import html
import re
import resource
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
import torch
from browser import (
    Visit,
    artifacts_dir,
    axe_violations,
    horizontal_overflow,
    screenshot,
)
from conftest import ROOT
from lesson_code import answers

from course.cells import grade_id, is_solution
from course.checkout import Checkout, notebooks
from course.checkout import pandoc as site_pandoc
from course.experiments import costs
from course.tools import course_cells, releases
from course.tools import site as course_site
from course.tools.site import SiteError, figures

pytestmark = pytest.mark.xdist_group("site")  # one worker, one build, one browser (if honoured)

WIDTHS = (1280, 375)


def released_lessons() -> list[str]:
    return sorted(
        p.name for p in (ROOT / "notebooks").iterdir() if (p / f"{p.name}.ipynb").is_file()
    )


# --------------------------------------------------------------------------- fixtures
@dataclass
class Built:
    out: Path
    lessons: list[str]
    wall: float
    cpu: float


def _cpu() -> float:
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _build(out: Path, course_dir: Path = ROOT, lessons=None) -> Built:
    cpu0, t0 = _cpu(), time.perf_counter()
    result = course_site.build(lessons, out=out, course_dir=course_dir, log=lambda *_: None)
    return Built(result.out, result.lessons, time.perf_counter() - t0, _cpu() - cpu0)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Built:
    return _build(tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots: ``artifacts/browser/site/`` (``$COURSE_ARTIFACTS/site/``): look at them
    (whole pages with ``COURSE_SCREENSHOTS=full``: tests/browser.screenshot)."""
    folder = artifacts_dir("site")
    yield folder
    shots = sorted(folder.glob("*.png"))
    warnings.warn(f"course site: {len(shots)} screenshots saved in {folder}", stacklevel=1)


def page_url(built: Built, rel: str) -> str:
    return (built.out / rel).as_uri()


def pages(built: Built) -> list[str]:
    return ["index.html"] + [f"{lesson}/index.html" for lesson in built.lessons]


# --------------------------------------------------------------------------- the build
def test_every_released_lesson_gets_an_article(site):
    lessons = released_lessons()
    assert site.lessons == lessons, "the site must pick up every lesson in notebooks/"
    index = (site.out / "index.html").read_text()
    for lesson in lessons:
        page = site.out / lesson / "index.html"
        assert page.is_file(), f"no article for {lesson}"
        assert f'href="{lesson}/index.html"' in index, f"the index does not link {lesson}"
        assert (site.out / lesson / f"{lesson}.ipynb").read_bytes() == (
            ROOT / "notebooks" / lesson / f"{lesson}.ipynb"
        ).read_bytes(), "the downloadable notebook is the release"
        text = page.read_text()
        for part in ('class="title-block"', 'class="toc"', 'id="references"'):
            assert part in text, f"{lesson}: no {part}"
        colab = html.escape(course_cells.colab_url(lesson))
        assert f'class="open-colab" href="{colab}"' in text, f"{lesson}: no Open in Colab link"
        assert colab in index, f"the index has no Colab link for {lesson}"
        assert "Installing the course package" not in text, (
            f"{lesson}: the generated Colab/progress cells are tooling, not article content"
        )
        nb = notebooks.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb")
        for cell in nb.cells:
            if is_solution(cell) and cell.cell_type == "code":
                assert f'id="exercise-{grade_id(cell)}"' in text, (
                    f"{lesson}: no exercise card for {grade_id(cell)}"
                )
        for fig in re.findall(r"<figure\b.*?</figure>", text, re.S):
            assert "<figcaption" in fig, f"{lesson}: a figure without a caption: {fig[:120]}"
        for src in re.findall(r'<img [^>]*src="([^"]+)"', text):
            assert (site.out / lesson / src).is_file(), f"{lesson}: image {src} not in the site"
        meta = nb.metadata.get("course", {})
        for key in ("time", "gpu"):
            if meta.get(key):
                assert html.escape(meta[key]) in index, f"{lesson}: index lacks its {key}"


def test_build_is_deterministic_and_fast(site, tmp_path):
    again = _build(tmp_path / "again")
    files = sorted(p.relative_to(site.out) for p in site.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again.out) for p in again.out.rglob("*") if p.is_file())
    differ = [str(f) for f in files if (site.out / f).read_bytes() != (again.out / f).read_bytes()]
    assert not differ, f"two builds of the same input differ in {differ}"
    print(
        f"\nsite build: {len(site.lessons)} lessons, {site.wall:.1f} s wall, "
        f"{site.cpu:.1f} s CPU (python + pandoc); rebuild {again.wall:.1f} s wall"
    )
    # CPU seconds bound the wall time on 2 idle cores (CI shares them with other tests)
    assert site.cpu < 30 and again.cpu < 30, f"the build took {site.cpu:.1f} s of CPU (limit 30)"


def _solution_lines(lesson: str) -> set[str]:
    """Lines that only the solution notebook has: answers and hidden tests (12+ characters)."""
    source = notebooks.read(Checkout(ROOT).source(lesson))
    public = "\n".join(  # what students get anyway: every lesson's release
        cell.source
        for other in released_lessons()
        for cell in notebooks.read(ROOT / "notebooks" / other / f"{other}.ipynb").cells
    )
    secret: set[str] = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.split("\n"):
            s = line.strip()
            if s in (notebooks.SOLUTION_BEGIN, notebooks.HIDDEN_BEGIN):
                inside = True
                continue
            if s in (notebooks.SOLUTION_END, notebooks.HIDDEN_END):
                inside = False
                continue
            if inside and len(s) >= 12 and s not in public:
                secret.add(s)
    return secret


def test_no_solution_or_hidden_test_line_in_the_site(site):
    texts = {}
    for path in site.out.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".js", ".css", ".ipynb", ".json", ".svg"}:
            raw = path.read_text(encoding="utf-8")
            texts[path] = raw + "\n" + html.unescape(re.sub(r"<[^>]+>", "", raw))
    checked = 0
    for lesson in site.lessons:
        secret = _solution_lines(lesson)
        assert secret or lesson not in Checkout(ROOT).lessons, f"{lesson}: found no solution lines"
        for line in secret:
            checked += 1
            leaks = [str(p.relative_to(site.out)) for p, t in texts.items() if line in t]
            assert not leaks, f"{lesson}: solution/hidden-test line {line!r} appears in {leaks}"
    assert checked > 100, f"only {checked} solution lines were checked"


# --------------------------------------------------------------------------- links
def _targets(page: Path) -> list[str]:
    text = page.read_text()
    return re.findall(r'(?:href|src)="([^"]+)"', text)


def test_links_resolve(site):
    ids: dict[Path, set[str]] = {}
    external: set[str] = set()
    for page in site.out.rglob("*.html"):
        for target in _targets(page):
            target = html.unescape(target)
            parsed = urlparse(target)
            if parsed.scheme == "data":  # the captions ride inside the page (file:// origin rule)
                assert target.startswith("data:text/vtt;base64,"), f"{page}: data URL {target[:40]}"
                continue
            if parsed.scheme in ("http", "https", "mailto"):
                assert parsed.scheme == "https" and parsed.netloc, f"{page}: bad link {target}"
                external.add(target)
                continue
            assert not parsed.scheme, f"{page.relative_to(site.out)}: unexpected link {target}"
            file = (page.parent / unquote(parsed.path)).resolve() if parsed.path else page
            assert site.out.resolve() in [file, *file.parents], f"{page}: {target} leaves the site"
            assert file.is_file(), f"{page.relative_to(site.out)}: broken link {target}"
            if parsed.fragment and file.suffix == ".html":
                if file not in ids:
                    ids[file] = set(re.findall(r'\bid="([^"]+)"', file.read_text()))
                assert parsed.fragment in ids[file], (
                    f"{page.relative_to(site.out)}: no #{parsed.fragment} in {file.name}"
                )
    assert any("arxiv.org/abs/" in u for u in external), "the references link their papers"


# --------------------------------------------------------------------------- every page, in the browser
@pytest.mark.slow
def test_pages_load_clean_and_hold_their_layout(site, browser, artifacts):
    """No console error, no request outside the site, no horizontal scroll; screenshots."""
    site_prefix = site.out.resolve().as_uri() + "/"
    for rel in pages(site):
        for width in WIDTHS:
            with Visit(browser, page_url(site, rel), width) as v:
                v.page.wait_for_timeout(50)
                assert not v.errors, f"{rel} at {width}px: console errors {v.errors}"
                outside = [u for u in v.requests if not u.startswith(site_prefix)]
                assert not outside, f"{rel}: requests outside the site: {outside}"
                scroll, inner = v.page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert scroll <= inner, f"{rel} at {width}px scrolls sideways ({scroll} > {inner})"
                figs = v.page.locator("figure[data-figure]")
                for i in range(figs.count()):
                    assert figs.nth(i).get_attribute("data-ready") == "true", (
                        f"{rel}: figure {figs.nth(i).get_attribute('data-figure')} did not start"
                    )
                name = rel.replace("/index.html", "").replace(".html", "")
                screenshot(v.page, artifacts / f"{name}-{width}.png")
    # dark mode and print, on the index and the first article
    for rel in pages(site)[:2]:
        name = rel.replace("/index.html", "").replace(".html", "")
        with Visit(browser, page_url(site, rel), 1280, color_scheme="dark") as v:
            bg = v.page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert bg != "rgb(255, 255, 255)", f"{rel}: no dark mode"
            v.page.screenshot(path=str(artifacts / f"{name}-1280-dark.png"))
        with Visit(browser, page_url(site, rel), 1280) as v:
            v.page.emulate_media(media="print")
            hidden = v.page.evaluate(
                "getComputedStyle(document.querySelector('.site-bar')).display"
            )
            assert hidden == "none", f"{rel}: the navigation bar is printed"
            screenshot(v.page, artifacts / f"{name}-print.png")


@pytest.mark.slow
def test_math_renders_as_mathml(site, browser):
    with_math = 0
    for lesson in site.lessons:
        with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
            sizes = v.page.evaluate(
                "Array.from(document.querySelectorAll('math')).map(m => "
                "{const r = m.getBoundingClientRect(); return [r.width, r.height]})"
            )
            if not sizes:
                continue
            with_math += 1
            empty = [i for i, (w, h) in enumerate(sizes) if not (w > 0 and h > 0)]
            assert not empty, f"{lesson}: {len(empty)} of {len(sizes)} MathML elements have no size"
            # real MathML layout: a superscript sits above its base
            raised = v.page.evaluate(
                "(() => { const s = document.querySelector('msup'); if (!s) return null;"
                " const [b, e] = s.children; return e.getBoundingClientRect().top <"
                " b.getBoundingClientRect().top; })()"
            )
            assert raised in (True, None), f"{lesson}: superscripts are not laid out as MathML"
    assert with_math >= 2, "the lessons' equations should render as MathML"


# --------------------------------------------------------------------------- interactive figures
def _set(page, fig: str, control: str, value) -> None:
    box = page.locator(f'#fig-{fig} [data-control="{control}"]')
    box.fill(str(value))
    box.dispatch_event("change")


def _value(page, selector: str) -> float:
    return float(page.locator(selector).get_attribute("data-value"))


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def _lesson_with(site: Built, figure: str) -> str:
    for lesson in site.lessons:
        if f'data-figure="{figure}"' in (site.out / lesson / "index.html").read_text():
            return lesson
    pytest.fail(f"no article carries the figure {figure}")


@pytest.mark.slow
def test_figure_pages_load_the_shared_script_once_and_first(site):
    """assets/figures/common.js (window.CourseFigures) is the figures' one home for their
    helpers: a page with an interactive figure loads it once, before the figure scripts; a page
    without one loads no script; no figure script carries its own copy of the helpers."""
    folder = site.out / "assets" / "figures"
    assert (folder / figures.COMMON_SCRIPT).is_file(), "common.js is not copied into the site"
    for rel in pages(site):
        text = (site.out / rel).read_text()
        srcs = [s.rsplit("/", 1)[-1] for s in re.findall(r'<script src="([^"]+)"', text)]
        used = re.findall(r'<figure class="interactive[^"]*" id="fig-([\w-]+)"', text)
        if not used:
            assert srcs == [], f"{rel}: scripts {srcs} on a page without an interactive figure"
            continue
        assert srcs[0] == figures.COMMON_SCRIPT and srcs.count(figures.COMMON_SCRIPT) == 1, (
            f"{rel}: {figures.COMMON_SCRIPT} must load once, before the figures: {srcs}"
        )
        assert srcs[1:] == [figures.REGISTRY[n].script for n in used], f"{rel}: {srcs}"
    for script in sorted(folder.glob("*.js")):
        if script.name == figures.COMMON_SCRIPT:
            continue
        own = re.findall(r"function (el|svg|fmt|numberControl|control)\(", script.read_text())
        assert not own, f"{script.name} defines its own {own}: use window.CourseFigures"


@pytest.mark.slow
def test_bottleneck_cost_figure_equals_the_lesson(site, browser):
    ref = answers("03_one_by_one_convolutions", "conv_params", "conv_mults")
    lesson = _lesson_with(site, "bottleneck-cost")
    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        fig = "#fig-bottleneck-cost"
        assert _text(p, f'{fig} [data-out="direct_mults"]') == "120,422,400"
        assert _text(p, f'{fig} [data-out="bottleneck_mults"]') == "12,443,648"
        settings = [
            dict(h=28, w=28, c_in=192, c_mid=16, c_out=32, f=5),
            dict(h=14, w=14, c_in=256, c_mid=64, c_out=128, f=3),
            dict(h=7, w=9, c_in=512, c_mid=200, c_out=64, f=1),
            dict(h=32, w=16, c_in=48, c_mid=96, c_out=24, f=7),
        ]
        before = _value(p, f'{fig} [data-out="direct_mults"]')
        for s in settings:
            for key, value in s.items():
                _set(p, "bottleneck-cost", key, value)
            want = costs.bottleneck_costs(ref["conv_mults"], ref["conv_params"], **s)
            want["reduce_weights"] = ref["conv_params"](s["c_in"], s["c_mid"], 1, bias=False)
            want["expand_weights"] = ref["conv_params"](s["c_mid"], s["c_out"], s["f"], bias=False)
            for key, value in want.items():
                got = _text(p, f'{fig} [data-out="{key}"]')
                assert got == f"{value:,}", (
                    f"{s}: {key} shows {got}, the lesson's code gives {value:,}"
                )
        assert _value(p, f'{fig} [data-out="direct_mults"]') != before, "the numbers never moved"


@pytest.mark.slow
def test_inception_figure_equals_the_lesson(site, browser):
    ns = answers("04_inception", "NaiveInception", "InceptionModule")
    lesson = _lesson_with(site, "inception-costs")
    names = ["in_ch", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"]
    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        total = '#fig-inception-costs table[data-module="reduced"] tr[data-branch="total"]'
        assert _text(p, f'{total} [data-out="weights"]') == "163,328"  # Table 1: "159K"
        assert _text(p, f'{total} [data-out="mult_adds"]') == "128,049,152"  # "128M"
        for args, size in [
            ((192, 64, 96, 128, 16, 32, 32), 28),  # inception (3a)
            ((256, 128, 128, 192, 32, 96, 64), 28),  # (3b)
            ((480, 192, 96, 208, 16, 48, 64), 14),  # (4a)
            ((48, 16, 24, 32, 4, 8, 8), 32),  # the lesson's small (3a)
        ]:
            for key, value in zip(names, args, strict=True):
                _set(p, "inception-costs", key, value)
            _set(p, "inception-costs", "size", size)
            for kind, cls in [("reduced", ns["InceptionModule"]), ("naive", ns["NaiveInception"])]:
                cargs = args if kind == "reduced" else (args[0], args[1], args[3], args[5])
                with torch.device("meta"):
                    module = cls(*cargs)
                rows = costs.inception_branch_costs(module, in_ch=args[0], size=size)
                table = f'#fig-inception-costs table[data-module="{kind}"]'
                for row in rows:
                    tr = f'{table} tr[data-branch="{row["branch"]}"]'
                    for key, out in [
                        ("weights", "weights"),
                        ("mult_adds", "mult_adds"),
                        ("out_channels", "out"),
                    ]:
                        got = _text(p, f'{tr} [data-out="{out}"]')
                        assert got == f"{row[key]:,}", (
                            f"{kind} {args}, {size}: {row['branch']} {key} shows {got}, "
                            f"the lesson's module measures {row[key]:,}"
                        )


@pytest.mark.slow
def test_residual_vs_plain_figure_equals_the_lesson(site, browser):
    ns = answers("01_residual_block", "plain_block", "residual_block")
    ex = {
        k: torch.tensor(v, dtype=torch.float64)
        for k, v in figures.RESIDUAL_EXAMPLE.items()
        if k != "decay"
    }
    lesson = _lesson_with(site, "residual-vs-plain")
    fig = "#fig-residual-vs-plain"

    def shown(p, kind):
        return torch.tensor(
            p.evaluate(
                f"Array.from(document.querySelectorAll('{fig} table[data-matrix=\"{kind}\"] tr'))"
                ".map(r => Array.from(r.children).map(td => Number(td.dataset.value)))"
            ),
            dtype=torch.float64,
        )

    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        first = None
        for s in (1, 0.37, 0.05, 0):
            _set(p, "residual-vs-plain", "s", s)
            args = (ex["a"], ex["W1"], ex["b1"], s * ex["W2"], s * ex["b2"])
            for kind, fn in [("residual", ns["residual_block"]), ("plain", ns["plain_block"])]:
                got, want = shown(p, kind), fn(*args)
                assert torch.allclose(got, want, atol=1e-12), f"s={s}: {kind} {got} != {want}"
                texts = p.evaluate(
                    f"Array.from(document.querySelectorAll('{fig} table[data-matrix=\"{kind}\"] td'))"
                    ".map(td => td.textContent)"
                )
                for text, x in zip(texts, want.flatten().tolist(), strict=True):
                    # a value on a rounding tie (e.g. 0.145) may round either way
                    tie = abs(x * 100 - int(x * 100) - 0.5) < 1e-9
                    ok = {f"{x:.2f}"} | ({f"{x + 1e-9:.2f}", f"{x - 1e-9:.2f}"} if tie else set())
                    assert text in ok, f"s={s}: {kind} shows {text} for {x}"
            first = first if first is not None else shown(p, "residual")
        assert torch.equal(shown(p, "residual"), ex["a"]), (
            "at s = 0 the residual block is the identity"
        )
        assert not shown(p, "plain").any(), "at s = 0 the plain block outputs 0"
        assert not torch.equal(first, ex["a"])
        assert "identity" in _text(p, f'{fig} [data-out="verdict"]')
        # the weight-decay button shrinks s step by step down to 0
        _set(p, "residual-vs-plain", "s", 1)
        p.locator(f'{fig} [data-action="decay"]').click()
        p.wait_for_function(f"document.querySelector('{fig}').dataset.s === '0'", timeout=15000)
        assert torch.equal(shown(p, "residual"), ex["a"])


@pytest.mark.slow
def test_gradient_norm_figure_shows_the_measured_data(site, browser):
    measured = figures.load_gradient_norms(ROOT)
    nets = figures.gradient_summary(measured)
    lesson = _lesson_with(site, "gradient-norms")
    fig = "#fig-gradient-norms"
    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        seen = set()
        for depth in sorted({n["depth"] for n in nets.values()}):
            p.locator(f'{fig} input[data-control="depth"][value="{depth}"]').check()
            for seed in ["median", *sorted({str(r["seed"]) for r in measured["runs"]})][:3]:
                p.locator(f'{fig} select[data-control="seed"]').select_option(seed)
                for label in (f"plain-{depth}", f"ResNet-{depth}"):
                    norms = (
                        nets[label]["median"] if seed == "median" else nets[label]["seeds"][seed]
                    )
                    row = f'{fig} tr[data-net="{label}"]'
                    assert _value(p, f'{row} [data-out="first"]') == pytest.approx(
                        norms[0], rel=1e-12
                    )
                    assert _value(p, f'{row} [data-out="last"]') == pytest.approx(
                        norms[-1], rel=1e-12
                    )
                    assert _value(p, f'{row} [data-out="ratio"]') == pytest.approx(
                        norms[0] / norms[-1], rel=1e-12
                    )
                    assert int(_text(p, f'{row} [data-out="layers"]')) == depth - 1
                    seen.add(_text(p, f'{row} [data-out="first"]'))
        assert len(seen) > 4, "the numbers must change with the controls"


@pytest.mark.slow
def test_gradient_norm_data_comes_from_the_lesson_functions(tmp_path):
    """Re-measure two nets of the committed data with the lesson's reference code."""
    from course import runtime
    from course.experiments import degradation

    measured = figures.load_gradient_norms(ROOT)
    if not measured.get("synthetic_fallback"):
        pytest.skip("the data was measured on CIFAR-10, which this machine does not have")
    ns = answers("02_plain_vs_residual", "ShortcutA", "cifar_net", "layer_gradient_norms")
    empty = tmp_path / "no-cifar"  # -> the same synthetic stand-in the benchmark used
    empty.mkdir()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for run in [r for r in measured["runs"] if r["depth"] == 20 and r["seed"] == 0]:
            X, y, _ = degradation.sample_batch(measured["batch_size"], root=empty, seed=run["seed"])
            runtime.seed_everything(run["seed"])
            model = ns["cifar_net"]((run["depth"] - 2) // 6, residual=run["residual"])
            norms = ns["layer_gradient_norms"](model, X, y)
            assert list(norms) == run["layers"]
            assert list(norms.values()) == pytest.approx(run["norms"], rel=1e-3), run["label"]
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- a lesson made here
def _course(
    tmp_path: Path, cells: list, meta: dict | None = None, files: dict | None = None
) -> Path:
    """A minimal course checkout with one released lesson ``90_demo``."""
    course = tmp_path / "course"
    (course / "docs").mkdir(parents=True)
    (course / "docs" / "references.bib").write_bytes(
        (ROOT / "docs" / "references.bib").read_bytes()
    )
    folder = course / "notebooks" / "90_demo"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    if meta:
        nb.metadata["course"] = meta
    notebooks.write(releases.normalize(nb), folder / "90_demo.ipynb")
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    return course


def _md(text: str):
    return nbformat.v4.new_markdown_cell(text)


DEMO_TEXT = (
    "# 90 · A demo lesson\n\nResidual learning (He et al. 2015, §3.1) in one line.[^note]\n\n"
    "[^note]: A margin note: it sits beside the text on a wide screen and behind its number "
    "on a phone.\n\n$$a^{[l+2]} = g(z^{[l+2]} + a^{[l]})$$\n"
)


@pytest.mark.slow
def test_margin_notes_and_the_media_slot(tmp_path, browser, artifacts):
    course = _course(
        tmp_path,
        [_md(DEMO_TEXT), _md("## More\n\n" + "Text of the second section. " * 30)],
        meta={
            "time": "5 min",
            "gpu": "no",
            "video": "intro.mp4",
            "slides": "https://example.org/s.pdf",
        },
        files={"intro.mp4": b"\x00\x00\x00\x18ftypmp42"},
    )
    built = _build(tmp_path / "site", course_dir=course)
    page = (built.out / "90_demo" / "index.html").read_text()
    assert '<video class="lesson-video"' in page and 'src="intro.mp4"' in page
    assert (built.out / "90_demo" / "intro.mp4").is_file()
    assert 'href="https://example.org/s.pdf"' in page
    with Visit(browser, page_url(built, "90_demo/index.html"), 1280) as v:
        note = v.page.locator(".sidenote").first
        text = v.page.locator("p:has(.sidenote)").first
        assert note.is_visible()
        nbox, tbox = note.bounding_box(), text.bounding_box()
        assert nbox["x"] >= tbox["x"] + tbox["width"], "on a wide screen the note is in the margin"
        v.page.screenshot(path=str(artifacts / "demo-margin-note-1280.png"))
    with Visit(browser, page_url(built, "90_demo/index.html"), 375) as v:
        note = v.page.locator(".sidenote").first
        assert not note.is_visible(), "on a phone the note waits behind its number"
        v.page.locator(".sidenote-number").first.click()
        assert note.is_visible()
        scroll = v.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= 375
        screenshot(v.page, artifacts / "demo-margin-note-375.png")


def site_lessons_without_media() -> list[str]:
    return [
        lesson
        for lesson in released_lessons()
        if not {"video", "slides"}
        & set(
            notebooks.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb").metadata.get(
                "course", {}
            )
        )
    ]


def test_no_media_slot_when_a_lesson_has_no_video_or_slides(tmp_path):
    """A lesson without metadata video/slides and without a video of its own (90_demo) has no
    media slot; the course's lessons all get their generated video (the next test)."""
    course = _course(tmp_path, [_md(DEMO_TEXT)])
    built = _build(tmp_path / "site", course_dir=course)
    assert "lesson-media" not in (built.out / "90_demo" / "index.html").read_text()


# --------------------------------------------------------------------------- clear errors
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# 90 · Demo\n\nAs Nobody et al. (2099) showed.", ["90_demo", "cell 1", "Nobody et al."]),
        ("# 90 · Demo\n\nSee [@no_such_key].", ["90_demo", "cell 1", "no_such_key"]),
        ("# 90 · Demo\n\nText.\n\n![a diagram](missing.svg)", ["90_demo", "cell 1", "missing.svg"]),
        (
            "# 90 · Demo\n\n<!-- site-figure: no-such-figure -->",
            ["90_demo", "cell 1", "no-such-figure"],
        ),
        ("# 90 · Demo\n\n![remote](https://example.org/x.png)", ["90_demo", "cell 1", "network"]),
    ],
    ids=["unknown-author-year", "broken-key", "missing-figure", "unknown-figure", "remote-image"],
)
def test_content_errors_name_the_lesson_and_cell(tmp_path, text, expected):
    course = _course(tmp_path, [_md(text)])
    with pytest.raises(SiteError) as err:
        course_site.build(out=tmp_path / "site", course_dir=course, log=lambda *_: None)
    for part in expected:
        assert part in str(err.value), f"{part!r} missing from: {err.value}"


def test_a_missing_pandoc_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(site_pandoc, "_found", {})
    monkeypatch.setitem(sys.modules, "pypandoc", None)  # `import pypandoc` fails
    monkeypatch.setattr(site_pandoc.shutil, "which", lambda _name: None)
    with pytest.raises(site_pandoc.PandocError, match="pandoc not found.*pypandoc-binary"):
        course_site.build(out=tmp_path / "site", course_dir=ROOT, log=lambda *_: None)
    from course.cli import main

    assert main(["site", "--out", str(tmp_path / "s2")]) == 2
    assert "pandoc not found" in capsys.readouterr().err


def test_cli_builds_chosen_lessons_and_refuses_a_foreign_folder(tmp_path, capsys):
    from course.cli import main

    first = released_lessons()[0]
    assert main(["site", first.split("_")[0], "--out", str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / first / "index.html").is_file()
    assert (
        not (tmp_path / "one" / released_lessons()[-1] / "index.html").exists()
        or len(released_lessons()) == 1
    )
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert main(["site", "--out", str(foreign)]) == 2
    assert "not made by `course site`" in capsys.readouterr().err
    assert (foreign / "thesis.tex").read_text() == "precious"


# --------------------------------------------------------------------------- issue 23: layout, a11y
def test_how_to_start_says_course_lab_and_the_real_repository(site):
    import course

    index = (site.out / "index.html").read_text()
    start = re.sub(r"<[^>]+>", "", index[index.index("How to start") :])  # code is highlighted
    assert f"git clone {course.__repository__} resnet-course" in html.unescape(start)
    assert "course lab" in start and "jupyter lab notebooks" not in start
    assert "&lt;the course repository&gt;" not in index


@pytest.mark.slow
def test_wide_blocks_narrow_screens_and_accessibility(site, browser, artifacts):
    """At 1280 px no equation or code block is cut (they use the margin, code wraps); at 390
    px bar labels stay off their bars, the index table fits with its Colab column, and unticking
    every series shows a message; every page has no serious or critical axe-core violation
    (WCAG 2.1 AA) and every image or chart has a text alternative."""
    cut = (
        "() => [...document.querySelectorAll('math[display=block], pre, .table-wrap')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.tagName + ' ' +"
        " e.scrollWidth + '/' + e.clientWidth + ' ' + (e.textContent || '').slice(0, 50))"
    )
    for rel in pages(site):
        with Visit(browser, page_url(site, rel), 1280) as v:
            assert v.page.evaluate(cut) == [], f"{rel}: cut at 1280 px"
            assert axe_violations(v.page) == [], f"{rel}: accessibility"
            missing = v.page.evaluate(
                "() => [...document.querySelectorAll('img:not([alt]), svg.chart:not([aria-label])"
                ", video:not([aria-label])')].map(e => e.outerHTML.slice(0, 80))"
            )
            assert missing == [], f"{rel}: figures without a text alternative: {missing}"
        with Visit(browser, page_url(site, rel), 390) as v:
            assert horizontal_overflow(v.page) == [], f"{rel}: wider than a phone"
            assert axe_violations(v.page) == [], f"{rel}: accessibility at 390 px"
            overlaps = v.page.evaluate(
                """() => { const bad = [];
                for (const chart of document.querySelectorAll('svg.chart.bars')) {
                  const rects = [...chart.querySelectorAll('rect')].map(r => r.getBoundingClientRect());
                  const texts = [...chart.querySelectorAll('text')];
                  for (const t of texts) { const a = t.getBoundingClientRect();
                    for (const b of rects) if (a.left < b.right - 1 && b.left < a.right - 1 &&
                        a.top < b.bottom - 1 && b.top < a.bottom - 1) bad.push(t.textContent); }
                  for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
                    const a = texts[i].getBoundingClientRect(), b = texts[j].getBoundingClientRect();
                    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
                      bad.push(texts[i].textContent + ' / ' + texts[j].textContent); } }
                return bad; }"""
            )
            assert overlaps == [], f"{rel}: bar labels overlap at 390 px: {overlaps}"
            cut_tables = v.page.evaluate(  # a readout table cut by its box, not the page
                "() => [...document.querySelectorAll('table.readout')].filter(t => "
                "t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 1"
                " || t.scrollWidth > t.clientWidth + 1).map(t => t.rows[0].textContent)"
            )
            assert cut_tables == [], f"{rel}: readout tables cut at 390 px: {cut_tables}"
            if rel == "index.html":
                right = v.page.evaluate(
                    "[...document.querySelectorAll('.index table tr')].map(r => "
                    "r.cells[r.cells.length - 1].getBoundingClientRect().right)"
                )
                assert max(right) <= 390, f"the index's Colab column is off-screen: {max(right)}"
                v.page.locator(".index table").screenshot(
                    path=str(artifacts / "index-table-390.png")
                )
    lesson = _lesson_with(site, "gradient-norms")
    with Visit(browser, page_url(site, f"{lesson}/index.html"), 390) as v:
        fig = v.page.locator("#fig-gradient-norms")
        for box in ("plain", "residual"):
            fig.locator(f'input[data-control="{box}"]').uncheck()
        note = fig.locator(".empty-note")
        assert note.count() == 2 and "No series selected" in note.first.text_content()
        box = note.first.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 10, "the message is not drawn"
        fig.screenshot(path=str(artifacts / "gradient-norms-no-series-390.png"))
        fig.locator('input[data-control="plain"]').focus()
        v.page.keyboard.press("Space")  # keyboard: the checkbox toggles, the curve comes back
        assert fig.locator(".empty-note").count() == 0


# --------------------------------------------------------------------------- issue 23: videos
def _track(page_html: str) -> str:
    m = re.search(r'<track kind="captions" src="data:text/vtt;base64,([^"]+)"', page_html)
    assert m, "no captions track"
    import base64

    return base64.b64decode(m.group(1)).decode("utf-8")


def test_every_lesson_has_its_video_with_captions(site):
    """On top of each article: a small MP4 made by the build from the lesson's numbers, its
    WebVTT captions (one cue per scene) inside the page and as a file, and a transcript."""
    from course.tools.site import video

    for lesson in site.lessons:
        text = (site.out / lesson / "index.html").read_text()
        if lesson.split("_")[0] not in video.LESSONS or lesson in site_lessons_with_own_video():
            continue
        head = text[: text.index('class="toc"')]
        assert '<video class="lesson-video"' in head, f"{lesson}: no video above the contents"
        mp4 = site.out / lesson / f"{lesson}-video.mp4"
        vtt = site.out / lesson / f"{lesson}-video.vtt"
        data = mp4.read_bytes()
        assert data[4:8] == b"ftyp", f"{lesson}: not an MP4"
        assert 5_000 < len(data) < 400_000, f"{lesson}: video of {len(data):,} bytes"
        assert f'<source src="{mp4.name}" type="video/mp4">' in text
        poster = site.out / lesson / f"{lesson}-video.png"
        assert poster.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f'poster="{poster.name}"' in text
        captions = vtt.read_text()
        assert _track(text) == captions, f"{lesson}: the page's captions differ from {vtt.name}"
        assert captions.startswith("WEBVTT\n")
        cues = re.findall(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$", captions, re.M)
        scenes = video.LESSONS[lesson.split("_")[0]](ROOT).scenes
        assert len(cues) == len(scenes) >= 4, f"{lesson}: {len(cues)} cues"
        for scene in scenes:
            assert html.escape(scene.caption) in text, f"{lesson}: transcript lacks {scene.caption}"
        assert 'aria-label="Lesson video:' in text


def site_lessons_with_own_video() -> set[str]:
    return {
        lesson
        for lesson in released_lessons()
        if notebooks.read(ROOT / "notebooks" / lesson / f"{lesson}.ipynb")
        .metadata.get("course", {})
        .get("video")
    }


def test_video_numbers_are_the_lessons(site):
    """What the videos say is what the lessons compute or measured (spot checks per lesson)."""
    from course.tools.site import video

    v02 = video.LESSONS["02"](ROOT)
    nets = figures.gradient_summary(figures.load_gradient_norms(ROOT))
    p110 = nets["plain-110"]["median"]
    assert (
        f"{p110[0] / p110[-1]:.3g} times the last one's in the plain net" in v02.scenes[-1].caption
    )
    v05 = video.LESSONS["05"](ROOT)
    assert "so far 21,282,122 parameters" in v05.scenes[-1].caption  # the lesson's own number
    v07 = video.LESSONS["07"](ROOT)
    sig = torch.sigmoid(torch.tensor(-2.0, dtype=torch.float64))
    assert f"carries {float((1 - sig) ** 50):.3g} of the input" in v07.scenes[3].caption
    v04 = video.LESSONS["04"](ROOT)
    assert "163,328 weights with 1×1 reductions" in v04.scenes[-1].caption  # Table 1's "159K"


def test_video_is_cached_and_deterministic(tmp_path, monkeypatch):
    """Encoded once per set of inputs: a second build copies the cached file (no encoder run);
    two encodes in two empty caches give the same bytes; other inputs, another key."""
    from course.tools.site import video

    made = []
    for k in (1, 2):
        monkeypatch.setenv("COURSE_SITE_CACHE", str(tmp_path / f"cache{k}"))
        (tmp_path / f"out{k}").mkdir()
        made.append(video.make("07", "07_demo", ROOT, tmp_path / f"out{k}"))
        assert made[-1].encoded
    a, b = ((tmp_path / f"out{k}" / "07_demo-video.mp4").read_bytes() for k in (1, 2))
    assert a == b, "two encodes of the same scenes differ"

    def refuse(*_args):
        raise AssertionError("the cached video was encoded again")

    monkeypatch.setattr(video, "encode", refuse)
    (tmp_path / "out3").mkdir()
    again = video.make("07", "07_demo", ROOT, tmp_path / "out3")
    assert not again.encoded and (tmp_path / "out3" / "07_demo-video.mp4").read_bytes() == a
    changed = video.Video("07", "x", [*made[0].video.scenes[:-1]], "y")
    assert video.cache_key(changed) != video.cache_key(made[0].video)


@pytest.mark.slow
def test_videos_play_offline_with_captions(site, browser, artifacts):
    site_prefix = site.out.resolve().as_uri() + "/"
    for lesson in site.lessons:
        with Visit(browser, page_url(site, f"{lesson}/index.html"), 390) as v:
            if not v.page.locator("video.lesson-video").count():
                continue
            assert not v.errors, f"{lesson}: {v.errors}"  # preload="none": nothing loaded yet
            failures: list[tuple[str, str]] = []
            v.page.on("requestfailed", lambda r, f=failures: f.append((r.url, r.failure or "")))
            state = v.page.evaluate(
                """async () => { const v = document.querySelector('video.lesson-video');
                v.muted = true; await v.play(); await new Promise(r => setTimeout(r, 2600));
                const t = v.textTracks[0]; const cue = t.activeCues && t.activeCues[0];
                v.pause(); return {time: v.currentTime, width: v.videoWidth, mode: t.mode,
                  cues: t.cues ? t.cues.length : 0, cue: cue ? cue.text : null,
                  boxWidth: v.getBoundingClientRect().width}; }"""
            )
            assert state["time"] > 1 and state["width"] == 640, f"{lesson}: {state}"
            assert state["mode"] == "showing" and state["cues"] >= 4 and state["cue"], state
            assert state["boxWidth"] <= 390, f"{lesson}: the video is wider than a phone"
            # a media element may abort a range request of its own file and issue the next one
            aborted = {u for u, why in failures if u.endswith(".mp4") and "ERR_ABORTED" in why}
            errors = [e for e in v.errors if e.removeprefix("failed: ") not in aborted]
            assert not errors, f"{lesson}: {errors}"
            outside = [u for u in v.requests if not u.startswith(site_prefix)]
            assert not outside, f"{lesson}: the video made requests outside the site: {outside}"
            v.page.locator(".lesson-media").screenshot(
                path=str(artifacts / f"{lesson}-video-390.png")
            )


# --------------------------------------------------------------------------- issue 23: 05-07's figures
@pytest.mark.slow
def test_resnet34_figure_equals_the_lessons_model(site, browser):
    ns = answers("05_resnet34_cifar10", "BasicBlock", "ResNet34")
    lesson = _lesson_with(site, "resnet34-stages")
    fig = "#fig-resnet34-stages"

    def measured(stem: str, size: int, classes: int) -> dict[str, tuple[int, int, list[int]]]:
        """Per stage of the reference ResNet34 (meta device): parameters, multiply-adds, shape."""
        with torch.device("meta"):
            model = ns["ResNet34"](num_classes=classes, stem=stem).eval()
        stage_of = {"conv1": "stem", "bn1": "stem", "fc": "avgpool + fc"}
        macs: dict[str, int] = {}
        shapes: dict[str, list[int]] = {}

        def hook(module, _inputs, output):
            if isinstance(module, torch.nn.Conv2d):
                kh, kw = module.kernel_size
                return output[0].numel() * module.in_channels // module.groups * kh * kw
            if isinstance(module, torch.nn.Linear):
                return output[0].numel() * module.in_features
            return 0

        handles = []
        for name, child in model.named_children():
            stage = stage_of.get(name, name if name.startswith("layer") else None)
            for m in child.modules():
                handles.append(
                    m.register_forward_hook(
                        lambda mod, i, o, s=stage: (
                            macs.__setitem__(s, macs.get(s, 0) + hook(mod, i, o)) if s else None
                        )
                    )
                )
            if name.startswith("layer") or name in ("maxpool", "fc"):
                key = {"maxpool": "stem", "fc": "avgpool + fc"}.get(name, name)
                child.register_forward_hook(
                    lambda m, i, o, k=key: shapes.__setitem__(k, list(o.shape[1:]))
                )
        if stem == "cifar":
            model.relu.register_forward_hook(
                lambda m, i, o: shapes.__setitem__("stem", list(o.shape[1:]))
            )
        with torch.no_grad():
            model(torch.empty(1, 3, size, size, device="meta"))
        params: dict[str, int] = {}
        for name, child in model.named_children():
            stage = stage_of.get(name, name if name.startswith("layer") else None)
            if stage:
                params[stage] = params.get(stage, 0) + sum(p.numel() for p in child.parameters())
        return {k: (params[k], macs[k], shapes[k]) for k in params}

    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        assert _text(p, f'{fig} tr[data-stage="total"] [data-out="params"]') == "21,282,122"
        for stem, size, classes in [
            ("cifar", 32, 10),
            ("imagenet", 224, 1000),
            ("imagenet", 64, 10),
            ("cifar", 64, 1000),
        ]:
            p.locator(f'{fig} input[data-control="stem"][value="{stem}"]').check()
            p.locator(f'{fig} select[data-control="size"]').select_option(str(size))
            p.locator(f'{fig} select[data-control="classes"]').select_option(str(classes))
            want = measured(stem, size, classes)
            for stage, (params, macs, shape) in want.items():
                row = f'{fig} tr[data-stage="{stage}"]'
                assert _value(p, f'{row} [data-out="params"]') == params, (
                    stem,
                    size,
                    classes,
                    stage,
                )
                assert _value(p, f'{row} [data-out="macs"]') == macs, (stem, size, classes, stage)
                got = p.locator(f'{row} [data-out="shape"]').get_attribute("data-value")
                assert got == "x".join(map(str, shape)), (stem, size, classes, stage, got, shape)
            total = sum(w[0] for w in want.values())
            assert _value(p, f'{fig} tr[data-stage="total"] [data-out="params"]') == total
        # torchvision's resnet34 (ImageNet stem, 1000 classes): 21,797,672 parameters
        assert _text(p, f'{fig} tr[data-stage="total"] [data-out="params"]') != "21,282,122"


def _variants_tables() -> list[dict[str, dict[str, str]]]:
    """The measured block `quick` of benchmarks/VARIANTS.md, read here independently of the site:
    for each seed table, column -> seed -> cell."""
    text = (ROOT / "benchmarks" / "VARIANTS.md").read_text()
    body = text.split("<!-- measured:quick:begin -->")[1].split("<!-- measured:quick:end -->")[0]
    tables = []
    for block in re.split(r"\n\s*\n", body):
        lines = [ln for ln in block.strip().split("\n") if ln.startswith("|")]
        if not lines or not lines[0].startswith("| seed |"):
            continue
        assert re.fullmatch(r"\|(-+\|)+", lines[1]), lines[1]
        cols = [c.strip() for c in lines[0].strip("|").split("|")]
        table: dict[str, dict[str, str]] = {c: {} for c in cols[1:]}
        for ln in lines[2:]:
            cells = [c.strip() for c in ln.strip("|").split("|")]
            for c, cell in zip(cols[1:], cells[1:], strict=False):
                table[c][cells[0]] = cell
        tables.append(table)
    return tables


def _cell(cell: str, metric: str) -> float:
    """A cell of the report: ``25.8`` (error), ``39.4 (min 0.98)`` (gradient, its minimum)."""
    if metric == "error":
        return float(cell)
    m = re.fullmatch(r"([\d.]+) \(min ([\d.]+)\)", cell)
    assert m, cell
    return float(m.group(1 if metric == "grad" else 2))


@pytest.mark.slow
def test_variant_figure_shows_the_measured_report(site, browser):
    errors, grads = _variants_tables()[:2]
    lesson = _lesson_with(site, "variant-gradients")
    fig = "#fig-variant-gradients"
    kinds = figures._variants().KINDS
    labels = figures._variants().LABELS
    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        for metric in ("grad", "grad_min", "error"):
            p.locator(f'{fig} input[data-control="metric"][value="{metric}"]').check()
            for seed in ("0", "3", "mean"):
                p.locator(f'{fig} select[data-control="seed"]').select_option(seed)
                for kind in kinds:
                    col = labels[kind]
                    cells = errors[col] if metric == "error" else grads[col]
                    if seed == "mean":
                        vals = [_cell(c, metric) for s, c in cells.items() if s.isdigit()]
                        want = sum(vals) / len(vals)
                        if metric == "error":  # the report's mean row (of unrounded values)
                            reported = float(cells["mean ± sd"].split(" ")[0])
                            assert want == pytest.approx(reported, abs=0.1), kind
                    else:
                        want = _cell(cells[seed], metric)
                    got = _value(p, f'{fig} tr[data-kind="{kind}"] [data-out="value"]')
                    assert got == pytest.approx(want, rel=1e-12), (metric, seed, kind, got, want)


@pytest.mark.slow
def test_highway_figure_equals_a_stack_of_the_lessons_layers(site, browser):
    ns = answers("07_highway_densenet", "HighwayLayer")
    lesson = _lesson_with(site, "highway-carry")
    fig = "#fig-highway-carry"

    def carried(bias: float, depth: int) -> float:
        """x through ``depth`` reference HighwayLayers with zero transform and gate weights."""
        torch.manual_seed(0)
        layers = [ns["HighwayLayer"](4, gate_bias=bias).double() for _ in range(depth)]
        x = torch.rand(3, 4, dtype=torch.float64) + 0.5
        h = x
        with torch.no_grad():
            for layer in layers:
                for lin in (layer.transform, layer.gate):
                    lin.weight.zero_()
                layer.transform.bias.zero_()
                h = layer(h)
        ratio = h / x
        assert torch.allclose(ratio, ratio[0, 0].expand_as(ratio))
        return float(ratio[0, 0])

    with Visit(browser, page_url(site, f"{lesson}/index.html"), 1280) as v:
        p = v.page
        assert _value(p, f'{fig} tr[data-series="lesson0"] [data-out="product"]') == pytest.approx(
            carried(-2.0, 50), rel=1e-9
        )
        for bias, depth in [(-2, 50), (-6, 50), (-4.5, 100), (0, 7), (1.5, 3)]:
            _set(p, "highway-carry", "bias", bias)
            _set(p, "highway-carry", "depth", depth)
            got = _value(p, f'{fig} tr[data-series="mine"] [data-out="product"]')
            assert got == pytest.approx(carried(bias, depth), rel=1e-9), (bias, depth)
            assert _value(p, f'{fig} tr[data-series="residual"] [data-out="product"]') == 1


# --------------------------------------------------------------------------- issue 23: the keyboard
_FOCUSABLE = (
    "a[href], button, input, select, textarea, video[controls], details > summary, "
    "[tabindex]:not([tabindex='-1'])"
)


@pytest.mark.slow
def test_every_figure_control_works_from_the_keyboard(site, browser, artifacts):
    """For every interactive figure of every lesson: Tab, from the element before the figure,
    reaches each of its controls in turn (a radio group counts once: arrows move inside it), and
    a key operates each one (arrows on sliders, numbers, radios and selects, Space on checkboxes,
    Enter on buttons), changing what the figure shows. Unticking every series by keyboard shows
    a message instead of an empty chart (390 px, screenshot)."""
    checked_figures = []
    for lesson in site.lessons:
        text = (site.out / lesson / "index.html").read_text()
        names = re.findall(r'<figure class="interactive[^"]*" id="fig-([\w-]+)"', text)
        if not names:
            continue
        with Visit(browser, page_url(site, f"{lesson}/index.html"), 390) as v:
            p = v.page
            for name in names:
                fig = f"#fig-{name}"
                controls = p.evaluate(
                    f"""() => {{ const fig = document.querySelector('{fig}'); const seen = new Set();
                    return [...fig.querySelectorAll('input, select, button')].filter(e => {{
                      if (e.type === 'radio') {{ if (seen.has(e.name)) return false; seen.add(e.name); }}
                      return true; }}).map(e => e.type === 'radio' ? 'radio:' + e.name :
                        (e.dataset.control || e.dataset.action || e.getAttribute('aria-label')) + ':' + e.type); }}"""
                )
                assert controls, f"{lesson}: {name} has no controls"
                # focus the last focusable element before the figure, then Tab through it
                p.evaluate(
                    f"""() => {{ const fig = document.querySelector('{fig}');
                    const all = [...document.querySelectorAll("{_FOCUSABLE}")];
                    const before = all.filter(e => fig.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_PRECEDING
                      && !fig.contains(e) && e.offsetParent !== null);
                    before[before.length - 1].focus(); }}"""
                )
                reached = []
                for _ in range(len(controls) + 5):
                    p.keyboard.press("Tab")
                    here = p.evaluate(
                        f"""() => {{ const e = document.activeElement;
                        if (!document.querySelector('{fig}').contains(e)) return null;
                        return e.type === 'radio' ? 'radio:' + e.name :
                          (e.dataset.control || e.dataset.action || e.getAttribute('aria-label')) + ':' + e.type; }}"""
                    )
                    if here is None and reached:
                        break
                    if here is not None:
                        reached.append(here)
                        kind = here.rsplit(":", 1)[-1] if not here.startswith("radio:") else "radio"
                        before = p.locator(f"{fig} .figure-body").inner_html()
                        keys = {
                            "range": ["ArrowRight", "ArrowLeft"],
                            "number": ["ArrowUp", "ArrowDown"],
                            "radio": ["ArrowRight", "ArrowLeft"],
                            "select-one": ["ArrowDown", "ArrowUp"],
                            "checkbox": ["Space"],
                            "submit": ["Enter"],
                            "button": ["Enter"],
                        }[kind]
                        changed = False
                        for key in keys:
                            p.keyboard.press(key)
                            p.wait_for_timeout(30)
                            if p.locator(f"{fig} .figure-body").inner_html() != before:
                                changed = True
                                break
                        assert changed, f"{lesson}: {name}: {key} on {here} changed nothing"
                        if kind == "checkbox":
                            p.keyboard.press("Space")  # back as it was
                        if kind in ("submit", "button"):
                            p.wait_for_timeout(1500)  # let an animation run out
                assert sorted(reached) == sorted(controls), (
                    f"{lesson}: {name}: Tab reached {reached}, the figure has {controls}"
                )
                # every series unticked (by keyboard): a message, not an empty box
                boxes = p.locator(f"{fig} input[type=checkbox]")
                if boxes.count():
                    for i in range(boxes.count()):
                        boxes.nth(i).focus()
                        p.keyboard.press("Space")
                    note = p.locator(f"{fig} .empty-note")
                    assert note.count() >= 1 and "No " in note.first.text_content(), name
                    box = note.first.bounding_box()
                    assert box and box["width"] > 50, f"{name}: the message is not drawn"
                    assert horizontal_overflow(p) == [], f"{lesson}: {name} wider than a phone"
                    p.locator(fig).screenshot(
                        path=str(artifacts / f"{name}-keyboard-empty-390.png")
                    )
                    for i in range(boxes.count()):
                        boxes.nth(i).focus()
                        p.keyboard.press("Space")
                p.locator(fig).screenshot(path=str(artifacts / f"{name}-keyboard-390.png"))
                checked_figures.append(name)
    assert {"residual-vs-plain", "gradient-norms", "bottleneck-cost", "inception-costs",
            "resnet34-stages", "variant-gradients", "highway-carry"} <= set(checked_figures)  # fmt: skip
