"""What ``course lab`` shows a student, in a real JupyterLab driven through headless Chromium:
the settings the course ships (no news pop-up for a new user; widget state saved, so a
reopened notebook shows its widgets instead of "Error displaying widget: model not found") and
Validate's dialog opening on the summary.

One JupyterLab server (tests/jupyterlab.py, started the documented way) and one page for the
module. Unlike tests/test_jupyterlab.py, the user settings folder is left empty before the page
loads: what a new user sees comes from the course's shipped settings alone. Screenshots:
``artifacts/browser/lab/``.
"""

from __future__ import annotations

import shutil
import time

import pytest
from jupyterlab import JupyterLab, Page, chromium_missing, course_copy

from course.checkout import notebooks
from course.tools import authoring

pytestmark = [
    pytest.mark.xdist_group("lab-browser"),
    pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or ""),
]

BLANK_06 = "notebooks/06_residual_variants/06_residual_variants.ipynb"
NEWS_TOAST = "official Jupyter news"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("lab-browser")
    course_dir = course_copy(scratch / "course")
    nb = authoring.notebook(
        [authoring.code("import ipywidgets as w\nw.IntSlider(value=7, description='depth')")]
    )
    notebooks.write(nb, course_dir / "widget.ipynb")
    server = JupyterLab(course_dir, scratch)
    # tests/jupyterlab.py answers the news question for its own screenshots; a new user has
    # not: only the course's shipped settings decide here
    shutil.rmtree(scratch / "settings", ignore_errors=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ui(lab, playwright):
    page = Page(playwright, lab)  # the process's one Playwright (conftest)
    yield page
    page.quit()


def _shot(ui, name):
    from browser import artifacts_dir

    folder = getattr(ui, "_lab_shots", None) or artifacts_dir("lab")
    ui._lab_shots = folder
    ui.page.screenshot(path=str(folder / f"{name}.png"))


def _settle(ui, path):
    """Wait until the kernel is idle and JupyterLab has restored the debugger's state: closing
    earlier cancels that request (a console error that is the test's, not a student's)."""
    ui.page.wait_for_function(
        "(p) => window.__course[p].sessionContext.kernelDisplayStatus === 'idle'", arg=path
    )
    ui.page.wait_for_timeout(2000)


def test_a_new_user_gets_no_news_pop_up(ui):
    fetch = """async () => {
      const s = await window.jupyterapp.serviceManager.settings.fetch(
        '@jupyterlab/apputils-extension:notification');
      return s.schema.properties.fetchNews.default; }"""  # the default the page starts from
    assert ui.page.evaluate(fetch) == "false", "the shipped setting did not reach the page"
    ui.page.wait_for_timeout(4000)  # JupyterLab asks a few seconds after start
    _shot(ui, "01-new-user-no-news")
    assert NEWS_TOAST not in ui.page.locator("body").inner_text()


def test_a_reopened_notebook_shows_its_widget(ui):
    path = "widget.ipynb"
    ui.open(path)
    ui.run_all(path, timeout=120)
    ui.page.locator(".widget-slider").first.wait_for(timeout=60_000)
    ui.page.evaluate("(p) => window.__course[p].context.save()", path)
    ui.close(path)  # the kernel is shut down: the widget's model is gone with it
    errors_before = len(ui.console_errors)
    ui.open(path)
    _settle(ui, path)
    _shot(ui, "02-reopened-widget")
    text = ui.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").inner_text()
    assert "Error displaying widget" not in text, text[:500]
    assert "IntSlider(value=7" in text, text[:500]  # the widget's text form, saved in its place
    new = ui.console_errors[errors_before:]
    assert not [e for e in new if "model not found" in e.lower()], new
    ui.close(path)


def test_validate_opens_on_the_summary(ui):
    """Blank lesson 06, whose first failing test has a long source: the dialog's first entry
    is the summary, on screen without scrolling."""
    ui.open(BLANK_06)
    _settle(ui, BLANK_06)
    t0 = time.monotonic()
    ui.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").first.click()
    dialog = ui.page.locator(".jp-Dialog")
    dialog.wait_for(timeout=300_000)
    ui.page.wait_for_timeout(500)
    _shot(ui, "03-validate-blank-06")
    text = dialog.inner_text()
    start = text.index("The following cell failed")
    first_entry = text[start : start + 600]
    assert "Validate's summary" in first_entry and "SUMMARY: 0 of" in first_entry, first_entry
    summary = ui.page.locator(".jp-Dialog pre", has_text="SUMMARY:").first
    box, body = summary.bounding_box(), dialog.locator(".jp-Dialog-body").bounding_box()
    assert box["y"] < body["y"] + body["height"], "the summary is not in view when it opens"
    ui.page.locator(".jp-Dialog .jp-mod-accept").click()
    ui.close(BLANK_06)
    print(f"Validate of blank lesson 06: {time.monotonic() - t0:.0f} s")


def test_no_console_errors(ui):
    assert not ui.unexpected_console_errors(), (ui.console_errors, ui.failed_requests)
