"""``course lab``: JupyterLab for self-study, and the Jupyter settings the course ships.

``course lab`` is ``jupyter lab`` started in the course checkout with
:data:`CONFIG_DIR` on ``JUPYTER_CONFIG_PATH``, which

* turns off nbgrader's Assignment List and Courses (the lab plugins and their server
  extensions): they need an nbgrader exchange, which self-study does not have, and would show
  "Error fetching courses!" / "exchange directory does not exist". Validate, Create Assignment
  and the formgrader stay;
* runs :func:`configure_server`, which puts this environment's commands (``course``,
  ``jupyter``) first on ``PATH`` for kernels (``!course check ...`` in a notebook) and for
  JupyterLab's terminals, whose login shell would otherwise reset ``PATH`` (as on JupyterHub);
* ships default settings (:data:`APP_SETTINGS_DIR`, ``overrides.json``, JupyterLab's own
  mechanism for an installation's defaults; a user's own settings still win): no "Would you
  like to receive official Jupyter news?" pop-up for a new user;
* saves notebooks without widget views (:func:`drop_widget_views`, a pre-save hook): a widget's
  model lives in the kernel, so a notebook reopened in a later session would show "Error
  displaying widget: model not found" where a slider or a progress bar was; it shows the
  widget's text form instead (a tqdm bar's last state, ``IntSlider(value=7)``). Saving the
  widget state with the notebook (the widgets extension's ``saveState``) does not help: the
  saved models are dropped as soon as the reopened notebook's new kernel starts (tested).

A JupyterHub installs the same :func:`configure_server` with ``self_study=False`` (the exchange
is real there): ``deploy/jupyterhub/`` and ``docs/JUPYTERHUB.md``.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().with_name("lab_config")
TERMINAL_RC = CONFIG_DIR / "terminal_rc.sh"
# JupyterLab's application settings folder for `course lab` and the hub: overrides.json there
# sets the course's defaults (it replaces <sys.prefix>/share/jupyter/lab/settings, which a plain
# pip or conda environment leaves empty)
APP_SETTINGS_DIR = CONFIG_DIR / "lab_settings"
# nbgrader's parts that need an exchange (lab plugins are listed in labconfig/page_config.json)
EXCHANGE_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)


def scripts_dir() -> str:
    """Where this environment's console scripts (``course``, ``jupyter``) live."""
    return sysconfig.get_path("scripts")


def terminal_command() -> list[str] | None:
    """A login shell (profile read, as JupyterLab does) that then starts an interactive bash
    reading :data:`TERMINAL_RC`; ``None`` where there is no bash (Windows): keep Jupyter's."""
    bash = shutil.which("bash")
    if os.name == "nt" or bash is None:
        return None
    return [bash, "-l", "-c", f'exec "{bash}" --rcfile "{TERMINAL_RC}" -i']


def configure_server(c, *, self_study: bool) -> None:
    """Apply the course's settings to a Jupyter server config object ``c`` (see module doc)."""
    scripts = scripts_dir()
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + path if path else scripts
    os.environ["COURSE_SCRIPTS"] = scripts  # read by TERMINAL_RC
    command = terminal_command()
    if command is not None:
        c.ServerApp.terminado_settings = {"shell_command": command}
    # no "official Jupyter news?" toast and no update check during lessons (they also reach out
    # to the internet, which a lab room may not have)
    c.LabApp.news_url = None
    c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
    c.LabApp.app_settings_dir = str(APP_SETTINGS_DIR)
    c.ContentsManager.pre_save_hook = drop_widget_views
    if self_study:
        c.ServerApp.jpserver_extensions = dict.fromkeys(EXCHANGE_SERVER_EXTENSIONS, False)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_GONE = "(a widget: run its cell again to use it)"


def drop_widget_views(model=None, **_kwargs) -> None:
    """Jupyter's pre-save hook: a notebook is saved with each widget output reduced to its text
    form (see the module docstring). Other files and outputs are untouched."""
    if not model or model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    for cell in model["content"].get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if isinstance(data, dict) and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                data.setdefault("text/plain", WIDGET_GONE)


def lab_environment(env: dict | None = None) -> dict:
    """The environment ``course lab`` starts JupyterLab with."""
    env = dict(os.environ if env is None else env)
    paths = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(CONFIG_DIR), *paths])
    return env


def lab_command(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "jupyter", "lab", *extra]


def run(args) -> int:
    """``course lab [--course-dir DIR] [JUPYTER LAB OPTIONS ...]``."""
    from course.checkout import Checkout
    from course.errors import CourseError

    try:
        root = Checkout.find(args.course_dir).root
    except CourseError:
        root = Path(args.course_dir or Path.cwd()).resolve()
    command = lab_command(list(args.jupyter_args))
    print(f"course lab: JupyterLab in {root} with the course's settings ({CONFIG_DIR})")
    sys.stdout.flush()
    os.chdir(root)  # Validate reads nbgrader_config.py from the server's folder
    if os.name == "nt":  # no exec on Windows: wait for it
        import subprocess

        return subprocess.call(command, env=lab_environment())
    os.execve(sys.executable, command, lab_environment())  # replaces this process
