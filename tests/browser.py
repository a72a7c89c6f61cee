"""Headless Chromium for the browser tests (the site, the feedback pages, JupyterLab extras).

Debian's chromium driven by Playwright (``executable_path=/usr/bin/chromium``): no browser
download. :class:`Visit` opens a page in a fresh context and records its console errors and
requests; :func:`axe_violations` runs axe-core (bundled by ``axe-playwright-python``, injected into
the page: no download at run time) and returns the serious and critical WCAG 2.1 A/AA violations;
:func:`artifacts_dir` is where screenshots are kept (``artifacts/browser/<suite>/``, or
``$COURSE_ARTIFACTS/<suite>/``); :func:`screenshot` takes whole pages with
``$COURSE_SCREENSHOTS=full``, the first screen otherwise.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def launch(playwright):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def artifacts_dir(suite: str) -> Path:
    """A fresh ``artifacts/browser/<suite>[/<xdist worker>]`` folder (git-ignored)."""
    base = Path(os.environ.get("COURSE_ARTIFACTS") or ROOT / "artifacts" / "browser")
    folder = base / suite / os.environ.get("PYTEST_XDIST_WORKER", "main")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


class Visit:
    """A page opened in a fresh context, with its console errors and requests recorded."""

    def __init__(self, browser, url: str, width: int, color_scheme: str = "light"):
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=color_scheme
        )
        # generous timeouts: CI runs this beside notebook executions on 2 shared cores, where a
        # full-page screenshot of a long article at 375 px can take many seconds
        self.context.set_default_timeout(180_000)
        self.context.set_default_navigation_timeout(180_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url, wait_until="load")

    def outside(self, allowed_prefix: str) -> list[str]:
        """Requests that left ``allowed_prefix`` (``data:`` URLs are part of the page)."""
        return [
            u
            for u in self.requests
            if not u.startswith(allowed_prefix) and not u.startswith("data:")
        ]

    def close(self):
        self.context.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


FULL_PAGE_ENV = "COURSE_SCREENSHOTS"  # "full": whole pages; otherwise the first screen


def screenshot(page, path: Path, chunk: int = 6000) -> None:
    """The first screen of ``page``; with ``$COURSE_SCREENSHOTS=full`` the whole page, long
    pages in parts (``-1.png``, ``-2.png`` ...): Chromium cannot capture one image taller than
    its texture limit (16,384 px), which a long article at 375 px exceeds.

    Whole pages are opt-in because they cost: rendering and encoding every article at two widths
    took 46 of the 58 s of the site's layout test (Chromium's CPU, on a 2-core machine where the
    suite is CPU-bound). No check reads them; they are for a person to look at."""
    if os.environ.get(FULL_PAGE_ENV, "").strip().lower() != "full":
        page.screenshot(path=str(path))
        return
    height, width = page.evaluate("[document.documentElement.scrollHeight, window.innerWidth]")
    if height <= chunk:
        page.screenshot(path=str(path), full_page=True)
        return
    for k, top in enumerate(range(0, height, chunk), start=1):
        clip = {"x": 0, "y": top, "width": width, "height": min(chunk, height - top)}
        page.screenshot(path=str(path.with_name(f"{path.stem}-{k}.png")), full_page=True, clip=clip)


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of ``page`` at ``impacts``, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG_AA}, "resultTypes": ["violations"]}
    result = Axe().run(page, options=options)
    found = []
    for v in result.response.get("violations", []):
        if v.get("impact") in impacts:
            where = [", ".join(n.get("target", [])) for n in v.get("nodes", [])][:3]
            found.append(f"{v['id']} ({v['impact']}, {len(v.get('nodes', []))}x): {where}")
    return found


def horizontal_overflow(page) -> list[str]:
    """Elements wider than the viewport that are not inside a scrollable box (cut content)."""
    return page.evaluate(
        """() => {
      const W = document.documentElement.clientWidth, bad = [];
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.right <= W + 1) continue;
        let p = el.parentElement, inside = false;
        while (p && p !== document.body) {
          const s = getComputedStyle(p);
          if (/(auto|scroll|hidden)/.test(s.overflowX)) { inside = true; break; }
          p = p.parentElement;
        }
        if (!inside) bad.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                              (el.className && el.className.baseVal === undefined ?
                               '.' + String(el.className).split(' ')[0] : ''));
      }
      return bad.slice(0, 10);
    }"""
    )
