"""`course lab` and the Jupyter settings the course ships (self-study and JupyterHub)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from traitlets.config import Config

from course import cli
from course.tools import lab

LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"


def nbgrader_plugin_ids() -> set[str]:
    ids = set()
    for js in (LABEXTENSION / "static").glob("*.js"):
        ids |= set(re.findall(r'"(@jupyter/nbgrader:[a-z-]+)"', js.read_text(errors="replace")))
    return ids


@pytest.mark.parametrize(
    "page_config",
    [lab.CONFIG_DIR / "labconfig" / "page_config.json",
     ROOT / "deploy" / "jupyterhub" / "labconfig" / "page_config.json"],
)  # fmt: skip
def test_disabled_plugins_exist(page_config):
    """A renamed nbgrader plugin would silently stay enabled: the ids must be nbgrader's."""
    if not LABEXTENSION.is_dir():
        pytest.skip("nbgrader's JupyterLab extension is not installed here")
    disabled = json.loads(page_config.read_text())["disabledExtensions"]
    known = nbgrader_plugin_ids()
    assert known, "no plugin ids found in nbgrader's labextension"
    assert set(disabled) <= known, set(disabled) - known


def test_self_study_plugins_and_server_extensions_match():
    disabled = json.loads((lab.CONFIG_DIR / "labconfig" / "page_config.json").read_text())
    assert set(disabled["disabledExtensions"]) == {
        "@jupyter/nbgrader:assignment-list",
        "@jupyter/nbgrader:course-list",
    }
    import importlib

    for module in lab.EXCHANGE_SERVER_EXTENSIONS:
        importlib.import_module(module)  # they exist, so disabling them means something


def test_configure_server(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    c = Config()
    lab.configure_server(c, self_study=True)
    scripts = lab.scripts_dir()
    assert os.environ["PATH"].split(os.pathsep)[0] == scripts
    assert os.environ["COURSE_SCRIPTS"] == scripts
    assert (Path(scripts) / "course").exists() or (Path(scripts) / "course.exe").exists()
    assert c.ServerApp.jpserver_extensions == dict.fromkeys(lab.EXCHANGE_SERVER_EXTENSIONS, False)
    shell = c.ServerApp.terminado_settings["shell_command"]
    assert shell[1:3] == ["-l", "-c"] and str(lab.TERMINAL_RC) in shell[3]
    lab.configure_server(c, self_study=True)
    assert os.environ["PATH"].count(scripts) == 1, "PATH grows on every call"
    hub = Config()
    lab.configure_server(hub, self_study=False)
    assert "jpserver_extensions" not in hub.ServerApp


def test_terminal_rc_puts_the_environment_first(tmp_path):
    """What a JupyterLab terminal does: a login shell (PATH reset by /etc/profile), then the rc."""
    command = lab.terminal_command()
    if command is None:
        pytest.skip("no bash")
    env = {
        "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COURSE_SCRIPTS": lab.scripts_dir(),
        "TERM": "dumb",
    }  # fmt: skip
    run = [*command[:3], command[3].replace(" -i", " -i -c 'command -v course'")]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == str(Path(lab.scripts_dir()) / "course"), proc.stderr


def test_lab_environment_and_cli(monkeypatch):
    env = lab.lab_environment({"JUPYTER_CONFIG_PATH": "/etc/mine", "PATH": "/bin"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(lab.CONFIG_DIR), "/etc/mine"]
    calls = {}
    monkeypatch.setattr(os, "execve", lambda exe, argv, env: calls.update(argv=argv, env=env))
    monkeypatch.chdir(ROOT / "docs")
    assert cli.main(["lab", "--no-browser", "--port=8890"]) == 0
    assert calls["argv"][-3:] == ["lab", "--no-browser", "--port=8890"]
    assert Path.cwd() == ROOT, "Validate reads nbgrader_config.py from the server's folder"
    assert str(lab.CONFIG_DIR) in calls["env"]["JUPYTER_CONFIG_PATH"]
    with pytest.raises(SystemExit):
        cli.main(["check", "x.ipynb", "--no-browser"])  # unknown options only for `lab`


def test_package_ships_the_lab_settings():
    """pyproject's package-data lists every file of lab_config (wheels, Colab, hubs)."""
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["course"]
    files = [p for p in lab.CONFIG_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    course_dir = ROOT / "course"
    for path in files:
        rel = path.relative_to(course_dir)
        assert any(rel.match(pattern) for pattern in patterns), f"{rel} is not package data"
