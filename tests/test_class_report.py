"""``course report``: the numbers on a synthetic 40-student class with a known truth
(tests/synthetic_class.py, built from JSON results: nothing is graded here), the page's
escaping, its speed, and the page in headless Chromium (no console error, no request, readable
at 390 px). ``course demo``'s real class goes through it in tests/test_demo.py."""

from __future__ import annotations

import csv
import html
import time

import pytest
import synthetic_class as syn
import test_site

from course import cli
from course.grading import class_report as cr


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("class")
    syn.build(out, n=40)
    return out


def expected_rows(n=40):
    """(index, ability, student) of the graded students."""
    return [
        (i, i / (n - 1), s) for i, s in enumerate(syn.student_ids(n)) if s not in syn.NOT_GRADED
    ]


def test_lesson_counts_and_median(graded):
    rows = cr.load_class(graded)
    (ls,) = cr.lesson_stats(rows)
    assert ls.students == 40
    assert ls.counts == {"graded": 37, "missing": 1, "unreadable": 1, "timeout": 1}
    assert ls.flagged == 4  # two flagged, and the unreadable and timed-out notebooks
    top = sum(p for p, _ in syn.TESTS.values())
    percents = [
        100 * sum(p for p, ok in syn.TESTS.values() if ok(a, i)) / top
        for i, a, _ in expected_rows()
    ]
    assert sorted(ls.percents) == pytest.approx(sorted(percents))


def test_pass_rates_discrimination_and_failure_templates(graded):
    stats = {t.test: t for t in cr.test_stats(cr.load_class(graded))}
    rows = expected_rows()
    for name, (_, passes) in syn.TESTS.items():
        t = stats[name]
        assert t.graded == 37
        assert t.passed == sum(passes(a, i) for i, a, _ in rows), name
    for good in ("shape", "values", "gradients"):  # graded by ability: they separate
        assert stats[good].discrimination > cr.WEAK and stats[good].verdict == "", good
    assert stats["broken"].verdict.startswith("weak"), stats["broken"]
    assert abs(stats["broken"].discrimination) < cr.WEAK
    assert stats["inverted"].discrimination < 0
    assert stats["inverted"].verdict.startswith("check this test")
    assert stats["values"].verdict == ""
    # the shape failures are one template whatever the batch size, the blank ones another
    shape = stats["shape"].failures
    wrong = [(i, a) for i, a, _ in rows if not syn.TESTS["shape"][1](a, i)]
    blank = [(i, a) for i, a in wrong if a < 0.1]
    assert [f.count for f in shape] == [len(wrong) - len(blank), len(blank)]
    assert shape[0].template == "expected shape (#, #, #, #), got (#, #, #, #)"
    assert shape[1].example == syn.NOT_ANSWERED


def test_template_keeps_names_and_drops_numbers():
    msg = "torch.float32 input, W1: (3, 5): got -1.5e-03, expected 2 (relative error 1.2e+00)"
    assert (
        cr.template(msg) == "torch.float32 input, W1: (#, #): got #, expected # (relative error #)"
    )


def test_point_biserial_matches_pearson():
    import numpy as np

    passed = [True, False, True, True, False, False]
    rest = [5.0, 1.0, 4.0, 2.5, 2.0, 0.5]
    r = np.corrcoef(np.array(passed, float), np.array(rest))[0, 1]
    assert cr.point_biserial(passed, rest) == pytest.approx(r)
    assert cr.point_biserial([True, True], [1.0, 2.0]) is None


def test_page_and_csv(graded, tmp_path):
    t0 = time.perf_counter()
    assert cli.main(["report", str(graded), "--out", str(tmp_path)]) == 0
    assert time.perf_counter() - t0 < 60, "the report must take well under a minute"
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    stats = {t.test: t for t in cr.test_stats(cr.load_class(graded))}
    shape = stats["shape"]
    share = f"{100 * shape.failures[0].count / shape.graded:.0f} % of the class"
    assert share in page and html.escape(shape.failures[0].example) in page
    assert syn.HOSTILE not in page and html.escape(syn.HOSTILE) in page
    assert "<b>bold</b>" not in page and "scan: the answer cell opens /etc/passwd" in page
    for word in ("missing", "unreadable", "flagged for review", "discrimination"):
        assert word in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    with open(tmp_path / "report_tests.csv", encoding="utf-8") as fh:
        tests = {r["test"]: r for r in csv.DictReader(fh)}
    assert set(tests) == set(syn.TESTS)
    assert tests["broken"]["verdict"].startswith("weak")
    with open(tmp_path / "report_failures.csv", encoding="utf-8") as fh:
        failures = list(csv.DictReader(fh))
    assert any(
        r["test"] == "shape" and r["template"].startswith("expected shape") for r in failures
    )


def test_not_a_graded_folder(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "no grades.csv" in capsys.readouterr().err


@pytest.mark.slow
def test_page_in_the_browser(graded, tmp_path, browser):
    """0 console errors, 0 requests but the page and its data: images, no sideways scroll."""
    cr.build(graded, tmp_path)
    check_page(browser, tmp_path / "report.html")


def check_page(chromium, page, widths=(390, 1280)):
    """The browser checks every instructor page passes (used by tests/test_similarity.py too)."""
    url = page.resolve().as_uri()
    for width in widths:
        with test_site.Visit(chromium, url, width) as v:
            v.page.wait_for_timeout(50)
            assert not v.errors, f"{page.name} at {width}px: console errors {v.errors}"
            outside = [u for u in v.requests if u != url and not u.startswith("data:")]
            assert not outside, f"{page.name}: requests {outside}"
            scroll, inner = v.page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert scroll <= inner, (
                f"{page.name} at {width}px scrolls sideways ({scroll} > {inner})"
            )
            broken = v.page.evaluate(
                "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"
            )
            assert broken == 0, f"{page.name}: {broken} image(s) did not load"
