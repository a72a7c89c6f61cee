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
from course.checkout import notebooks
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


def test_shipped_settings_hide_the_news_and_save_widgets_as_text():
    """overrides.json holds valid values of JupyterLab's own schemas; configure_server points
    JupyterLab at it and installs the pre-save hook (the browser checks: test_lab_browser.py)."""
    c = Config()
    lab.configure_server(c, self_study=True)
    assert c.LabApp.app_settings_dir == str(lab.APP_SETTINGS_DIR)
    assert c.ContentsManager.pre_save_hook is lab.drop_widget_views
    overrides = json.loads((lab.APP_SETTINGS_DIR / "overrides.json").read_text())
    schemas = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    for plugin, values in overrides.items():
        package, name = plugin.split(":")
        schema = json.loads((schemas / package / f"{name}.json").read_text())
        for key, value in values.items():
            prop = schema["properties"][key]
            assert (
                value in prop.get("enum", [value])
                and type(value).__name__ == {"string": "str", "boolean": "bool"}[prop["type"]]
            ), (plugin, key, value)
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"

    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {lab.WIDGET_VIEW: view, "text/plain": "bar 100%"}},
        {"output_type": "display_data", "data": {lab.WIDGET_VIEW: view}},
        {"output_type": "stream", "name": "stdout", "text": "kept"},
    ]}]}  # fmt: skip
    lab.drop_widget_views(model={"type": "notebook", "content": nb}, path="x.ipynb")
    outs = nb["cells"][0]["outputs"]
    assert outs[0]["data"] == {"text/plain": "bar 100%"}
    assert outs[1]["data"] == {"text/plain": lab.WIDGET_GONE}
    assert outs[2]["text"] == "kept"
    lab.drop_widget_views(model={"type": "file", "content": "text"})  # other files: untouched


def test_course_check_is_quiet_and_wraps_its_messages(tmp_path):
    """`course check` in a terminal: no kernel warning about TCP (IPC sockets), and a long
    message wraps at words under its column instead of being cut."""
    from test_progress import student, toy_source

    from course import progress

    path = tmp_path / "toy.ipynb"
    notebooks.write(student(toy_source()), path)
    env = dict(os.environ, COLUMNS="72")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "course"), "check", str(path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Kernel is running over TCP" not in proc.stderr + proc.stdout, proc.stderr
    assert "[IPKernelApp]" not in proc.stderr, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= 72, proc.stdout
    flat = " ".join(proc.stdout.split())
    assert "double(3): expected 6, got 5" in flat, proc.stdout
    assert not list(tmp_path.glob("*-ipc*")) and not list(tmp_path.glob("kernel-*")), "sockets left"

    row = progress.ExerciseRow("checkpoint", 2, 0, "failed", "word " * 40 + "checkpoint")
    text = progress.format_table([row], width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    words = " ".join(line[line.index("FAILED") + 9 :] if "FAILED" in line else line.strip()
                     for line in text.splitlines()[2:-2])  # fmt: skip
    assert words.split() == ["word"] * 40 + ["checkpoint"], text
