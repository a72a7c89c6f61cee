"""The student's feedback page (``course grade --feedback``), checked in a real browser.

Each lesson's release stands in for a student's notebook, graded with a made-up result (every
other test failed, outputs with text, a figure and an error): the page is built by the grader's
own :func:`course.grading.feedback.feedback_html`. It must open with the total and a table of
every test linking to its cell, render the lessons' math as MathML, load with 0 console errors
and 0 requests beyond the file itself, have no script at all, read at 390 px without cut
content, and pass axe-core (WCAG 2.1 AA, no serious or critical violation). Screenshots:
``artifacts/browser/feedback/``.
"""

from __future__ import annotations

import base64
import io
import re

import nbformat
import pytest
from browser import Visit, artifacts_dir, axe_violations, horizontal_overflow, screenshot
from conftest import ROOT, all_lessons

from course import cells
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.grading import feedback as fb
from course.grading.job import CellOutcome, JobResult, TestOutcome

pytestmark = pytest.mark.xdist_group("feedback-browser")
MESSAGE = "AssertionError: residual_block(x): expected 6, got 5 (off by -1)\n  Hint: twice x"


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 1, 2], [1, 0, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def graded(lesson: str, png: str):
    """(feedback notebook, result) for the lesson's release with every other test failed."""
    nb = nbs.read(Checkout(ROOT).release(lesson))
    tests, outs, k = [], [], 0
    for i, cell in enumerate(nb.cells):
        if cells.is_test(cell):
            k += 1
            pts, ok = cells.points(cell), k % 2 == 0
            tests.append(
                TestOutcome(cells.grade_id(cell), pts, pts if ok else 0.0, "" if ok else MESSAGE)
            )
        elif cell.cell_type == "code" and not outs:
            out = [
                nbformat.v4.new_output("stream", name="stdout", text="a long line " * 30 + "\n"),
                nbformat.v4.new_output(
                    "display_data", data={"image/png": png, "text/plain": "<Figure 180x120>"}
                ),
                nbformat.v4.new_output(
                    "display_data",
                    data={"text/html": "<script>alert(1)</script>", "text/plain": "table"},
                ),
            ]
            outs.append(CellOutcome(i, "error", "ValueError: bad shape", out))
    result = JobResult("student", lesson, tests=tests, cells=outs)
    return fb.feedback_notebook(nb, result), result


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feedback")
    png = _png()
    out = {}
    for lesson in all_lessons():
        nb, result = graded(lesson, png)
        path = folder / lesson / f"{lesson}.html"
        path.parent.mkdir()
        assets = Checkout(ROOT).source(lesson).parent  # what `course grade` passes
        path.write_text(fb.feedback_html(nb, assets), encoding="utf-8")
        out[lesson] = (path, result)
    return out


def test_page_opens_with_the_total_and_every_test(pages):
    for lesson, (path, result) in pages.items():
        page = path.read_text(encoding="utf-8")
        earned, total = sum(t.earned for t in result.tests), sum(t.points for t in result.tests)
        main = page.split("<main>", 1)[1]
        assert main.lstrip().startswith('<section class="summary"'), lesson
        assert f"Your score: {earned:g} of {total:g} points" in main[:400], lesson
        table = main.split("</table>", 1)[0]
        for t in result.tests:
            row = re.search(rf'<tr class="(\w+)"><td><a href="#(cell-\d+)"><code>{t.grade_id.replace("__", "__<wbr>")}</code>'
                            r'</a></td><td class="num">([^<]+)</td>.*?</tr>', table)  # fmt: skip
            assert row, f"{lesson}: no row for {t.grade_id}"
            status, anchor, pts = row.groups()
            assert status == ("passed" if t.passed else "failed")
            assert pts == f"{t.earned:g}/{t.points:g}"
            assert f'<section id="{anchor}" class="cell code test {status}"' in page
            if not t.passed:
                assert "residual_block(x): expected 6, got 5 (off by -1)</td>" in row.group(0)
                assert "Hint" not in row.group(0), "the table's message is one line"
        assert "<script" not in page.lower(), f"{lesson}: a script in the page"
        assert "&lt;script&gt;" not in page, "a student's HTML output is not even shown as text"
        assert not re.search(r'src="(?!data:)|<link\b', page), f"{lesson}: an outside resource"
        assert "The test's code is not shown in feedback" in page
        assert "<math" in page and "$" not in re.sub(
            r"<(pre|code|annotation)\b.*?</\1>", "", page, flags=re.S
        ), f"{lesson}: math left as TeX"


def test_pages_load_clean_offline_readable_and_accessible(pages, browser):
    shots = artifacts_dir("feedback")
    for lesson, (path, result) in pages.items():
        url = path.as_uri()
        for width in (390, 1280):
            with Visit(browser, url, width) as v:
                assert v.errors == [], f"{lesson} at {width}px: console errors {v.errors}"
                assert v.outside(url) == [], f"{lesson}: requests {v.outside(url)}"
                assert horizontal_overflow(v.page) == [], f"{lesson} at {width}px: cut content"
                n_math = v.page.evaluate(
                    "[...document.querySelectorAll('math')].filter(m => m.getBoundingClientRect().height > 0).length"
                )
                assert n_math > 0, f"{lesson}: no math drawn"
                first_fail = next(t for t in result.tests if not t.passed)
                v.page.click(f"text={first_fail.grade_id} >> nth=0")
                top = v.page.evaluate(
                    "document.getElementById(location.hash.slice(1)).getBoundingClientRect().top"
                )
                assert abs(top) < 5, f"{lesson}: the table's link does not reach the cell"
                v.page.evaluate("window.scrollTo(0, 0)")
                if width == 390:
                    v.page.screenshot(path=str(shots / f"{lesson}-390-top.png"))
                    assert axe_violations(v.page) == [], f"{lesson}: accessibility"
                elif lesson.startswith("07"):
                    screenshot(v.page, shots / f"{lesson}-1280.png")
