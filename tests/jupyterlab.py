"""Drive a real JupyterLab in headless Chromium (Playwright): start, open, run, look.

One :class:`JupyterLab` server (started the documented way, ``course lab``) and one browser page
serve a whole test module. The page talks to JupyterLab through ``window.jupyterapp`` (the
server runs with ``--LabApp.expose_app_in_browser``) for what a user does with menus (open a
notebook, Run All), and clicks the real buttons where the button is what is tested (Validate,
the Nbgrader menu, a slider).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from browser import CHROMIUM_ARGS  # tests/browser.py: one home for Chromium's flags

CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("COURSE_BROWSER_ARTIFACTS", ROOT / "artifacts" / "browser"))


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """``course lab`` on 127.0.0.1 with a token, in ``course_dir``, isolated from ~/.jupyter."""

    def __init__(self, course_dir: Path, scratch: Path, *, startup_timeout: float = 120):
        self.course_dir, self.scratch = course_dir, scratch
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(scratch / "config"),  # no user settings, workspaces, news
            JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
            # a user who did not activate the environment: only the system's commands on PATH
            PATH=os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin") if p),
        )
        env.pop("MPLBACKEND", None)  # as for a user: the kernel's inline figures
        # answered once by every new user; here it would cover part of each screenshot
        news = scratch / "settings" / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}\n')
        for key in ("JUPYTER_CONFIG_PATH", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING"):
            env.pop(key, None)
        cmd = [
            # the `course` command a user runs (not `python -m`, which would put this scratch
            # folder, and any `course/` folder in it, first on sys.path)
            str(Path(sys.executable).parent / "course"), "lab", "--course-dir", str(course_dir),
            "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={course_dir}",
            "--LabApp.expose_app_in_browser=True",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log_path = scratch / "jupyterlab.log"
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=scratch, env=env, stdout=self.log_path.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited:\n{self.log()}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"JupyterLab did not answer in {startup_timeout} s"
                    ) from None
                time.sleep(0.3)
        self.startup_seconds = time.monotonic() - self.started

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def course_copy(dest: Path, extra_lessons: bool = True) -> Path:
    """A scratch course folder: what a student's checkout holds (config, notebooks, solutions)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    ignore = shutil.ignore_patterns(
        "data", "checkpoints", "runs", "*.pt", "__pycache__", ".ipynb_checkpoints"
    )
    for kind in ("notebooks", "solutions"):
        shutil.copytree(ROOT / kind, dest / kind, ignore=ignore)
    return dest


# JavaScript run in the page. `window.__course` remembers the notebook panels by path.
JS_OPEN = """async (path) => {
  const app = window.jupyterapp;
  const w = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await w.context.ready;
  await w.sessionContext.ready;
  await w.sessionContext.session.kernel.info;
  window.__course = window.__course || {};
  window.__course[path] = w;
  app.shell.activateById(w.id);
  return w.id;
}"""

JS_DIRTY = "(path) => window.__course[path].context.model.dirty"

JS_RUN_ALL = """(path) => {
  const app = window.jupyterapp, w = window.__course[path];
  app.shell.activateById(w.id);
  window.__course_done = false;
  const done = () => { window.__course_done = true; };
  app.commands.execute('notebook:run-all-cells').then(done, done);
  return true;
}"""

JS_STATUS = "(path) => window.__course[path].sessionContext.kernelDisplayStatus"

JS_CELLS = """(path) => window.__course[path].context.model.toJSON().cells.map(c => ({
  id: c.id, type: c.cell_type, count: c.execution_count ?? null,
  grade_id: ((c.metadata || {}).nbgrader || {}).grade_id || null,
  errors: (c.outputs || []).filter(o => o.output_type === 'error')
            .map(o => ({ename: o.ename, evalue: o.evalue, lines: o.traceback.length})),
}))"""

JS_SCROLL_TO = """async ([path, index]) => {
  const w = window.__course[path];
  w.content.activeCellIndex = index;
  await w.content.scrollToItem(index, 'start');
  return true;
}"""

JS_CLOSE = """async (path) => {
  const w = window.__course[path];
  await w.sessionContext.shutdown();
  w.context.model.dirty = false;
  w.dispose();
  delete window.__course[path];
  return true;
}"""


class Page:
    """A Chromium page on the JupyterLab, collecting console errors, saving screenshots."""

    def __init__(self, playwright, lab: JupyterLab):
        self.lab = lab
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        self.console_errors: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.console_errors.append(f"{m.text} ({m.location.get('url', '')})")
                if m.type == "error"
                else None
            ),
        )
        self.failed_requests: list[str] = []
        self.files_served: list[str] = []
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))
        self.page.goto(f"{lab.url}/lab?token={lab.token}")
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started")
        self.page.evaluate("() => window.jupyterapp.started")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.screenshots: list[Path] = []

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed_requests.append(
                f"{response.status} {response.request.method} {response.url}"
            )
        elif "/files/" in response.url:
            self.files_served.append(response.url.split("?", 1)[0])

    def unexpected_console_errors(self, since: int = 0) -> list[str]:
        """Console errors, less one JupyterLab 4.6 artefact: a markdown image with a relative
        path (``![..](figure.svg)``) is first requested against the page's URL (404) and then,
        once JupyterLab's resolver has rewritten it, served from ``/files/<notebook folder>/``.
        ``since``: only the errors from that index on (what one test caused, on a shared page)."""
        unexpected = []
        for error in self.console_errors[since:]:
            url = error.rsplit("(", 1)[-1].rstrip(")")
            name = url.rsplit("/", 1)[-1]
            relative_then_resolved = (
                "status of 404" in error
                and url == f"{self.lab.url}/{name}"
                and any(served.endswith(f"/{name}") for served in self.files_served)
            )
            if not relative_then_resolved:
                unexpected.append(error)
        return unexpected

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        self.screenshots.append(path)
        return path

    def open(self, path: str) -> None:
        self.page.evaluate(JS_OPEN, path)

    def dirty(self, path: str) -> bool:
        return self.page.evaluate(JS_DIRTY, path)

    def run_all(self, path: str, timeout: float) -> float:
        """Run ▸ Run All Cells; wait until the kernel is idle again. Returns the seconds taken."""
        t0 = time.monotonic()
        self.page.evaluate(JS_RUN_ALL, path)
        deadline = t0 + timeout
        while not (
            self.page.evaluate("() => window.__course_done")
            and self.page.evaluate(JS_STATUS, path) == "idle"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Run All of {path} still busy after {timeout} s")
            time.sleep(0.5)
        return time.monotonic() - t0

    def cells(self, path: str) -> list[dict]:
        return self.page.evaluate(JS_CELLS, path)

    def scroll_to(self, path: str, index: int, settle_ms: int = 400) -> None:
        self.page.evaluate(JS_SCROLL_TO, [path, index])
        self.page.wait_for_timeout(settle_ms)

    def close(self, path: str) -> None:
        self.page.evaluate(JS_CLOSE, path)

    def quit(self) -> None:
        self.browser.close()
