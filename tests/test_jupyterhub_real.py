"""A real JupyterHub, end to end: docs/JUPYTERHUB.md's recipe with real Unix users.

The test (as root) creates three Unix users — an instructor and two students — and starts
JupyterHub with ``deploy/jupyterhub/jupyterhub_config.py`` (local process spawner: each server
is a process of its user), the hub-wide Jupyter settings of ``deploy/jupyterhub/``, a test
authenticator (DummyAuthenticator) and configurable-http-proxy from npm. Then, only through the
Hub's REST API and each user's own server:

1. the instructor's server runs the recipe's ``release`` step (docs/JUPYTERHUB.md, the block
   marked ``hub-step: release``) in a kernel;
2. each student's server fetches the lesson (nbgrader's Assignment List endpoints, what the
   *Fetch* button calls); one student writes the reference answers into it (Contents API), the
   other leaves it blank; both submit;
3. the instructor's server runs the ``grade`` and ``feedback`` steps (collect, ``course grade
   --gradebook --feedback``, release_feedback);
4. each student fetches feedback: their own page, with their own score; the other student's
   page and server are not reachable from their account (asserted).

CIFAR-10 (a small synthetic stand-in here) is shared read-only through ``COURSE_DATA``: every
user reads it, none can write it. The recipe's shell blocks are what runs (``/srv/`` moved
into a temporary folder), so the document and this test cannot drift apart.

Needs root, ``jupyterhub`` (test extras) and ``configurable-http-proxy`` (npm; ``.ci/run``
installs it). Skipped, with the reason, without root.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from course import data
from course.checkout import notebooks as nbs

LESSON = "01_residual_block"
COURSE_ID = "resnets-hands-on"
DOC = ROOT / "docs" / "JUPYTERHUB.md"
HUB_FILES = ROOT / "deploy" / "jupyterhub"
INSTRUCTOR, ADA, BOB = "crsinstructor", "crsada", "crsbob"  # ada answers, bob hands in blank
USERS = (INSTRUCTOR, ADA, BOB)

pytestmark = pytest.mark.xdist_group("jupyterhub")
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: run as root (CI does)")


# --------------------------------------------------------------------------- the recipe
def doc_steps(name: str) -> list[str]:
    """The commands of docs/JUPYTERHUB.md's ```bash block marked ``<!-- hub-step: name -->``
    (comments dropped, one command per line)."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"<!-- hub-step: {name} -->\s*```bash\n(.*?)```", text, re.S)
    assert m, f"docs/JUPYTERHUB.md has no block marked hub-step: {name}"
    lines = [ln.split("  #", 1)[0].strip() for ln in m.group(1).splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def test_recipe_blocks_exist():
    """The steps this test runs are in the recipe, and the recipe quotes the grader."""
    for step in ("root", "release", "grade", "feedback"):
        assert doc_steps(step)
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "jupyterhub_config.py" in text
    # what `course grade` says when bubblewrap cannot start, quoted as the grader words it
    from course.grading import sandbox

    assert " ".join(sandbox.INSTALL_HINT.split(". ")[0].split()) in text
    assert "bubblewrap cannot create a sandbox on this machine" in text
    assert "It needs unprivileged user namespaces" in text


# --------------------------------------------------------------------------- machinery
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def hub_needs() -> set[Path]:
    """What the hub's users run (the Python installation and environment) and import ``course``
    from (this checkout), resolved."""
    return {Path(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix, ROOT)}


def reachable_root() -> str:
    """Shell lines that make the Python environment reachable by other users inside the hub's
    own mount namespace, when it lives under a home only root may enter (pyenv in /root):
    a tmpfs over /root holding just what the environment needs, bound back in. Nothing on the
    machine changes; on a normal install (/usr, /opt, /srv) this is empty."""
    needed = hub_needs()
    under_root = sorted(
        {p.relative_to("/root").parts[0] for p in needed if p.is_relative_to("/root")}
    )
    if not under_root or os.stat("/root").st_mode & 0o001:
        return ""
    lines = ["mkdir -p /tmp/.course-hub-root-view", "mount --bind /root /tmp/.course-hub-root-view",
             "mount -t tmpfs -o mode=0755 course-hub /root"]  # fmt: skip
    for part in under_root:
        lines += [
            f"mkdir -p /root/{part}",
            f"mount --bind /tmp/.course-hub-root-view/{part} /root/{part}",
        ]
    return "\n".join(lines) + "\n"


def closed_folder() -> Path | None:
    """The first folder on the way to the Python environment or this checkout that other users
    cannot enter (no ``o+x``), or ``None``: the hub's users run that Python and import
    ``course`` from the checkout. Folders under ``/root`` are left out (:func:`reachable_root`
    opens them in the hub's own namespace)."""
    opened = bool(reachable_root())
    for path in sorted(hub_needs()):
        for folder in (path, *path.parents):
            if folder == Path("/root") or (opened and folder.is_relative_to("/root")):
                break
            if not folder.stat().st_mode & 0o001:
                return folder
    return None


class Hub:
    """A running JupyterHub and a REST client for it."""

    def __init__(self, base: Path, env: dict[str, str]):
        self.base, self.port, self.token = base, free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        config = base / "jupyterhub_test_config.py"
        config.write_text(
            f"load_subconfig({str(HUB_FILES / 'jupyterhub_config.py')!r})\n"
            "c.JupyterHub.authenticator_class = 'dummy'  # a test login: no passwords\n"
            f"c.Authenticator.allowed_users = {set(USERS)!r}\n"
            f"c.JupyterHub.ip = '127.0.0.1'\nc.JupyterHub.port = {self.port}\n"
            f"c.JupyterHub.hub_port = {free_port()}\n"
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{free_port()}'\n"
            f"c.JupyterHub.services = [{{'name': 'roundtrip', 'api_token': {self.token!r}}}]\n"
            "c.JupyterHub.load_roles = [{'name': 'roundtrip', 'services': ['roundtrip'],\n"
            "    'scopes': ['admin:users', 'admin:servers', 'tokens', 'access:servers']}]\n"
            f"c.JupyterHub.db_url = 'sqlite:///{base / 'jupyterhub.sqlite'}'\n"
            f"c.JupyterHub.cookie_secret_file = {str(base / 'cookie_secret')!r}\n"
            f"c.Spawner.cmd = [{str(Path(sys.prefix) / 'bin' / 'jupyterhub-singleuser')!r}]\n",
            encoding="utf-8",
        )
        script = reachable_root() + f"exec {sys.prefix}/bin/jupyterhub -f {config}\n"
        self.log = open(base / "jupyterhub.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
            cwd=base, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.wait(lambda: self.api("GET", "/hub/api/")[0] == 200, 90, "the hub to answer")

    def wait(self, ok, seconds: float, what: str):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyterhub exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if ok():
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        pytest.fail(f"timed out waiting for {what}:\n{self.tail()}")

    def tail(self) -> str:
        return (self.base / "jupyterhub.log").read_text(errors="replace")[-4000:]

    def api(self, method: str, path: str, body=None, token: str | None = None, query: str = ""):
        """(status, decoded JSON or text) of a request to the hub or through its proxy."""
        data_ = json.dumps(body).encode() if body is not None else None
        url = self.url + urllib.parse.quote(path) + query
        req = urllib.request.Request(url, data=data_, method=method)
        req.add_header("Authorization", f"token {token or self.token}")
        if data_ is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def start(self, user: str) -> str:
        """Create ``user`` on the hub, start their server, return a token of theirs."""
        assert self.api("POST", f"/hub/api/users/{user}")[0] in (201, 409)
        status, _ = self.api("POST", f"/hub/api/users/{user}/server")
        assert status in (201, 202), (status, self.tail())

        def ready():
            servers = self.api("GET", f"/hub/api/users/{user}")[1].get("servers", {})
            return servers.get("", {}).get("ready")

        self.wait(ready, 150, f"{user}'s server")
        status, token = self.api("POST", f"/hub/api/users/{user}/tokens", {"note": "roundtrip"})
        assert status == 201, token
        return token["token"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # the hub stops the servers it started
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        self.log.close()


class Server:
    """One user's own Jupyter server, reached through the hub's proxy with that user's token."""

    def __init__(self, hub: Hub, user: str, token: str):
        self.hub, self.user, self.token = hub, user, token
        self.prefix = f"/user/{user}"

    def call(self, method: str, path: str, body=None, query: str = ""):
        return self.hub.api(method, self.prefix + path, body, token=self.token, query=query)

    def nbgrader(self, action: str) -> object:
        """What the Assignment List's buttons do: fetch, submit, fetch_feedback."""
        status, out = self.call(
            "POST", f"/assignments/{action}", query=f"?assignment_id={LESSON}&course_id={COURSE_ID}"
        )
        assert status == 200, (self.user, action, status, out)
        return out

    def run(self, code: str, timeout: float = 600) -> str:
        """Run Python ``code`` in a fresh kernel of this server; returns its output."""
        status, kernel = self.call("POST", "/api/kernels", {"name": "python3"})
        assert status == 201, kernel
        try:
            # in a thread of its own: a sync Playwright open in this test process (conftest's
            # `playwright`) keeps an event loop running here, where asyncio.run() refuses
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                run = pool.submit(asyncio.run, self._execute(kernel["id"], code, timeout))
                return run.result()
        finally:
            self.call("DELETE", f"/api/kernels/{kernel['id']}")

    async def _execute(self, kernel_id: str, code: str, timeout: float) -> str:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = self.hub.url.replace("http", "ws") + f"{self.prefix}/api/kernels/{kernel_id}/channels"
        conn = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        )
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "username": self.user,
                  "session": uuid.uuid4().hex, "version": "5.3", "date": ""}  # fmt: skip
        content = {"code": code, "silent": False, "store_history": False,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}  # fmt: skip
        conn.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                       "content": content, "channel": "shell", "buffers": []}))  # fmt: skip
        out, status, idle = [], None, False
        end = time.monotonic() + timeout
        while (
            status is None or not idle
        ):  # the reply (shell) and the outputs (iopub) may interleave
            raw = await asyncio.wait_for(conn.read_message(), max(1, end - time.monotonic()))
            assert raw is not None, "the kernel's websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                out.append("\n".join(msg["content"]["traceback"]))
            elif kind == "execute_reply":
                status = msg["content"]["status"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        conn.close()
        text = "".join(out)
        assert status == "ok", f"{self.user}'s kernel:\n{text}"
        return text

    def shell(self, commands: list[str], cwd: str, timeout: float = 600) -> str:
        """Run shell commands one by one in this user's kernel (as the user), in ``cwd``;
        each must succeed."""
        code = (
            "import os, subprocess\n"
            f"os.chdir(os.path.expanduser({cwd!r}))\n"
            f"for cmd in {commands!r}:\n"
            "    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)\n"
            "    print('$', cmd, '->', r.returncode)\n"
            "    print(r.stdout[-3000:], r.stderr[-3000:])\n"
            "    assert r.returncode == 0, cmd\n"
        )
        return self.run(code, timeout)


# --------------------------------------------------------------------------- the class
def make_users(base: Path):
    for user in USERS:
        subprocess.run(["userdel", "-r", user], capture_output=True)  # a previous run's
        sh(["useradd", "--create-home", "--shell", "/bin/bash", user]).check_returncode()
        os.chmod(pwd.getpwnam(user).pw_dir, 0o700)  # a home only its owner enters


def remove_users():
    for user in USERS:
        subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
        subprocess.run(["userdel", "-r", user], capture_output=True)


def copy_course(dest: Path):
    dest.mkdir(parents=True)
    shutil.copy2(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for kind in ("solutions", "notebooks"):
        shutil.copytree(ROOT / kind / LESSON, dest / kind / LESSON)


@pytest.fixture(scope="module")
def hub():
    for tool in ("configurable-http-proxy", "unshare", "useradd"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (.ci/run installs configurable-http-proxy from npm)")
    pytest.importorskip("jupyterhub", reason="pip install -e '.[test]'")
    closed = closed_folder()
    if closed is not None:
        pytest.fail(
            f"{closed} (mode {closed.stat().st_mode & 0o777:o}) keeps the hub's Unix users out of "
            f"the Python environment or the checkout: run the tests from folders every user "
            f"can enter (chmod o+x {closed})"
        )
    base = Path(tempfile.mkdtemp(prefix="course-hub-", dir="/tmp"))
    base.chmod(0o755)
    srv = base / "srv"
    # the recipe's root steps: exchange, shared read-only data, hub-wide settings
    steps = [s.replace("/srv/", f"{srv}/").replace("/etc/jupyter", str(base / "etc-jupyter"))
             for s in doc_steps("root")]  # fmt: skip
    copy_course(srv / "resnets-hands-on")  # stands for the recipe's `git clone` (step 1)
    shutil.copytree(HUB_FILES, srv / "resnets-hands-on" / "deploy" / "jupyterhub")
    data.make_fake_cifar10(srv / "course-data", n_train=100, n_test=50, seed=0)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBGRADER", "COURSE"))
    }
    env.update(
        PATH=f"{sys.prefix}/bin:{env.get('PATH', '/usr/bin:/bin')}",
        COURSE_CHECKOUT=str(srv / "resnets-hands-on"),
        NBGRADER_EXCHANGE=str(srv / "nbgrader" / "exchange"),
        COURSE_DATA=str(srv / "course-data"),
        JUPYTER_CONFIG_PATH=str(base / "etc-jupyter"),
    )
    for step in steps:
        proc = subprocess.run(
            step, shell=True, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"{step}:\n{proc.stdout}\n{proc.stderr}"
    make_users(base)
    home = Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
    copy_course(home / "resnets-hands-on")  # the instructor's course folder (step 4)
    sh(["chown", "-R", f"{INSTRUCTOR}:", str(home)]).check_returncode()
    running = None
    try:
        running = Hub(base, env)
        yield running, srv
    finally:
        if running is not None:
            running.stop()
        remove_users()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
@AS_ROOT
def test_release_submit_grade_feedback_through_the_hub(hub):
    hub, srv = hub
    servers = {user: Server(hub, user, hub.start(user)) for user in USERS}
    teacher, ada, bob = servers[INSTRUCTOR], servers[ADA], servers[BOB]

    # 1. the instructor releases the lesson (the recipe's release step, in their own server)
    teacher.shell(doc_steps("release"), "~/resnets-hands-on")

    # 2. students fetch (the Assignment List's Fetch), work, submit
    for student in (ada, bob):
        listed = student.nbgrader("fetch")
        assert listed["success"], listed
        assert any(a["assignment_id"] == LESSON for a in listed["value"]), listed
    path = f"/api/contents/{LESSON}/{LESSON}.ipynb"
    status, fetched = ada.call("GET", path)
    assert status == 200, fetched
    source = nbs.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb")
    answered = nbs.fill_release(nbformat.from_dict(fetched["content"]), source)
    status, saved = ada.call("PUT", path, {"type": "notebook", "format": "json",
                                           "content": json.loads(nbformat.writes(answered))})  # fmt: skip
    assert status == 200, saved
    for student in (ada, bob):
        student.nbgrader("submit")

    # the shared data: every user reads it, nobody writes it
    probe = (
        "import os, pathlib\n"
        "d = pathlib.Path(os.environ['COURSE_DATA'])\n"
        "print(sorted(p.name for p in d.iterdir()))\n"
        "try:\n    (d / 'mine.txt').write_text('x')\n    print('WRITABLE')\n"
        "except PermissionError:\n    print('read-only')\n"
    )
    for student in (ada, bob):
        out = student.run(probe)
        assert "cifar-10-batches-py" in out and "read-only" in out, out

    # 3. the instructor collects, grades (course grade --gradebook --feedback), releases feedback
    log = teacher.shell(doc_steps("grade") + doc_steps("feedback"), "~/resnets-hands-on", 600)
    assert "course grade" in log or "grade" in log

    # 4. each student fetches their own feedback, and only their own
    pages = {}
    for name, student in ((ADA, ada), (BOB, bob)):
        student.nbgrader("fetch_feedback")
        status, listing = student.call("GET", f"/api/contents/{LESSON}/feedback")
        assert status == 200 and listing["content"], (name, listing)
        stamp = listing["content"][0]["path"]
        status, page = student.call("GET", f"/api/contents/{stamp}/{LESSON}.html",
                                    query="?type=file&format=text")  # fmt: skip
        assert status == 200, page
        pages[name] = (Path(pwd.getpwnam(name).pw_dir) / stamp / f"{LESSON}.html", page["content"])
    # the course's verdicts: ada's answers pass every test, bob's blank notebook none
    assert pages[ADA][1].count("PASSED (") > 0 and "FAILED (" not in pages[ADA][1]
    assert pages[BOB][1].count("FAILED (") > 0 and "PASSED (" not in pages[BOB][1]
    assert "BEGIN HIDDEN TESTS" not in pages[ADA][1] + pages[BOB][1]
    # bob can read neither ada's page nor her server
    other = pages[ADA][0]
    out = bob.run(
        f"try:\n    open({str(other)!r}).read()\n    print('READ')\n"
        "except PermissionError:\n    print('denied')\n"
    )
    assert "denied" in out, out
    assert bob.hub.api("GET", f"/user/{ADA}/api/contents", token=bob.token)[0] in (403, 404, 302)
    exchange_feedback = srv / "nbgrader" / "exchange" / COURSE_ID / "feedback"
    out = bob.run(
        f"import os\ntry:\n    print(os.listdir({str(exchange_feedback)!r}))\n"
        "except PermissionError:\n    print('not listable')\n"
    )
    assert "not listable" in out, out
