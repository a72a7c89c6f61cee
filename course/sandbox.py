"""Run untrusted work under resource limits, and leave nothing of it behind.

``course grade`` grades each submission through :func:`call` (a Python function, here
:func:`course.grade_job.run_job`); :func:`run` does the same for a command line. Either way a
*supervisor* process watches a *job* process::

    course grade ──> fork server ──> supervisor (own session, child subreaper) ──> job ──> kernel
                     (nbgrader imported once)                                (own session)

Both are forked from a fork server, a Python process started once that has imported the heavy
modules (:data:`PRELOAD`: nbgrader takes seconds to import), so a job starts in milliseconds.
The supervisor

* applies the limits in the job before it starts (``RLIMIT_CPU``, ``RLIMIT_NPROC`` fork-bomb
  cap, ``RLIMIT_FSIZE``, no core files); the kernel inherits them;
* watches memory: any descendant whose resident set passes :attr:`Limits.rss_kill_mb` is killed.
  This is the backstop; the first line is the kernel's own address-space cap, which
  :class:`course.guard.GuardedExecute` sets once torch is loaded (an ``RLIMIT_AS`` on the job
  would have to leave room for torch's large mappings and would mean little);
* is a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so every process the student
  starts, even one that double-forks into a new session the way daemons do, stays its
  descendant instead of escaping to ``init``;
* enforces the wall-clock limit: SIGKILL to the job's process group, then to every remaining
  descendant (Jupyter starts kernels in a session of their own, so the group alone is not enough);
* sweeps descendants again when the job ends, so a background process cannot outlive its
  grading and tamper with files afterwards; only then does it write its report.

This is process hygiene, not a security boundary: the job still runs as the same Unix user,
with that user's files. See docs/GRADING.md for running the grader in a container.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
WATCH_INTERVAL_S = 0.05  # how often the supervisor samples the memory of its descendants
LOG_TAIL = 200_000  # characters of the job's output kept (a flood goes to a file, not RAM)
PRELOAD = ["course.grade_job", "course.guard", "nbgrader.converters", "nbgrader.api"]
SERVER = "import socket, sys; from course.sandbox import serve; serve(socket.socket(fileno=int(sys.argv[1])))"


@dataclass
class Limits:
    """Resource limits for one sandboxed job (``None``: no limit of that kind)."""

    timeout_s: float = 1200.0  # wall clock, whole job
    memory_mb: int | None = 4096  # memory a grading kernel may add after start-up (see below)
    cpu_s: int | None = None  # CPU seconds per process (RLIMIT_CPU); default from timeout
    file_mb: int | None = 1024  # largest file a process may write (RLIMIT_FSIZE)
    extra_procs: int | None = 4096  # tasks this user may add (RLIMIT_NPROC = current + this)
    startup_mb: int = 1024  # resident memory of a kernel with torch imported, and then some

    @property
    def rss_kill_mb(self) -> int | None:
        """Resident memory at which the supervisor kills a process outright: the kernel's own
        limit (:mod:`course.guard` caps its address space at start-up size + ``memory_mb``, so
        an allocation beyond fails with ``MemoryError``) plus room for that start-up size."""
        return self.memory_mb + self.startup_mb if self.memory_mb else None


@dataclass
class Outcome:
    returncode: int  # the job's exit status, or -N when signal N killed it
    timed_out: bool
    signal: str | None  # "SIGKILL", "SIGSEGV", ... when the job died of a signal
    seconds: float
    output: str  # the tail of the job's stdout and stderr
    leftovers: int  # descendants still alive after the job ended (all killed)
    memory_killed: list = field(default_factory=list)  # {pid, rss_mb, cmd} over the memory limit


# --------------------------------------------------------------------------- process tree
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parentheses
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    if not os.path.isdir("/proc"):
        return []
    kids = _children_map()
    out, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def kill_descendants(pid: int, rounds: int = 20) -> int:
    """SIGKILL every descendant of ``pid`` until none is left; returns how many were killed.

    Several rounds, because a process may fork between the scan and the kill; killed children
    of a subreaper are reaped here so that they leave the table.
    """
    killed: set[int] = set()
    for _ in range(rounds):
        found = descendants(pid)
        if not found:
            break
        for p in found:
            try:
                os.kill(p, signal.SIGKILL)
                killed.add(p)
            except ProcessLookupError:
                pass
        _reap()
        time.sleep(0.02)
    _reap()
    return len(killed)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _user_tasks() -> int:
    """Tasks (processes + threads) of this user now: RLIMIT_NPROC counts them all."""
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                st = os.stat(f"/proc/{entry}")
                if st.st_uid == uid:
                    with open(f"/proc/{entry}/status") as fh:
                        for line in fh:
                            if line.startswith("Threads:"):
                                n += int(line.split()[1])
                                break
            except (OSError, ValueError):
                continue
    return n


def _limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))  # the hard limit too: no raising it again


def _apply_limits(limits: Limits, nproc: int | None) -> None:
    """Limits of this process and its future children (soft = hard: no way back up)."""
    mb = 1024 * 1024
    cpu = limits.cpu_s or int(limits.timeout_s * max(os.cpu_count() or 1, 1) + 60)
    _limit(resource.RLIMIT_CPU, cpu)
    if limits.file_mb:
        _limit(resource.RLIMIT_FSIZE, limits.file_mb * mb)
    if nproc:
        _limit(resource.RLIMIT_NPROC, nproc)
    _limit(resource.RLIMIT_CORE, 0)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()[:200]
    except OSError:
        return "?"


def _watch_memory(limit_mb: float) -> list[dict]:
    """Kill every descendant of this process whose resident memory exceeds ``limit_mb``."""
    killed = []
    for pid in descendants(os.getpid()):
        rss = rss_mb(pid)
        if rss > limit_mb:
            cmd = _cmdline(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append({"pid": pid, "rss_mb": round(rss), "cmd": cmd})
    return killed


# --------------------------------------------------------------------------- supervisor
def _job(work, limits: Limits, nproc: int | None, cwd: str, env: dict, log: str) -> int:
    """Body of the job process: limits, then ``work`` (a command line, or ``(module,
    function, args)``); returns the exit status (a command replaces this process)."""
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # TMPDIR may have changed
    _apply_limits(limits, nproc)
    if isinstance(work, list):
        os.execvpe(work[0], work, env)
    module, function, args = work
    result = getattr(importlib.import_module(module), function)(*args)
    return result if isinstance(result, int) else 0


def _supervise(work, limits: Limits, cwd: str, env: dict, log: str, report: int) -> None:
    """Body of the supervisor process (see the module docstring). Writes its pid, then at the
    end a JSON summary, to the pipe ``report``."""
    _become_subreaper()
    os.setsid()  # a Ctrl-C meant for course grade does not orphan the job
    for sig in (signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    os.write(report, f"{os.getpid()}\n".encode())
    nproc = _user_tasks() + limits.extra_procs if limits.extra_procs else None
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(report)
            code = _job(work, limits, nproc, cwd, env, log)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - reported in the log, exit status 1
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    timed_out, memory_killed, status = False, [], None
    deadline = start + limits.timeout_s
    while status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
        if limits.rss_kill_mb:
            memory_killed += _watch_memory(limits.rss_kill_mb)
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            break
        time.sleep(WATCH_INTERVAL_S)
    leftovers = kill_descendants(os.getpid())
    summary = {
        "returncode": status,
        "timed_out": timed_out,
        "seconds": round(time.monotonic() - start, 3),
        "leftovers": leftovers,
        "memory_killed": memory_killed,
    }
    os.write(report, json.dumps(summary).encode())


# --------------------------------------------------------------------------- fork server
def serve(sock: socket.socket) -> None:
    """The fork server's loop: each request (a length-prefixed pickle and the write end of a
    report pipe) forks a supervisor. :data:`PRELOAD` is imported before the first call of a
    function of one of its modules is forked (a command line needs none of it). Ends when the requesting process closes
    its socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for course grade to handle
    loaded = False
    while True:
        try:
            head, fds, _, _ = socket.recv_fds(sock, 8, 1)
        except OSError:
            return
        if len(head) < 8 or not fds:
            return
        size = int.from_bytes(head, "big")
        payload = b""
        while len(payload) < size:
            chunk = sock.recv(size - len(payload))
            if not chunk:
                return
            payload += chunk
        request = pickle.loads(payload)
        if not loaded and not isinstance(request[0], list) and request[0][0] in PRELOAD:
            for name in PRELOAD:
                importlib.import_module(name)
            loaded = True
        if os.fork() == 0:
            sock.close()
            try:
                _supervise(*request, report=fds[0])
            finally:
                os._exit(0)
        os.close(fds[0])
        while True:  # reap supervisors that have finished
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


_server_lock = threading.Lock()
_server: tuple | None = None  # (Popen, socket) of the fork server
_running: dict[int, float] = {}  # supervisor pid -> start, for stop_all()


def _send(work, limits: Limits, cwd: str, env: dict, log: str) -> int:
    """Ask the fork server for a supervisor; returns the read end of its report pipe."""
    global _server
    payload = pickle.dumps((work, limits, cwd, env, log))
    rfd, wfd = os.pipe()
    try:
        with _server_lock:
            if _server is None or _server[0].poll() is not None:
                ours, theirs = socket.socketpair()
                proc = subprocess.Popen(
                    [sys.executable, "-c", SERVER, str(theirs.fileno())],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                )
                theirs.close()
                _server = (proc, ours)
            socket.send_fds(_server[1], [len(payload).to_bytes(8, "big") + payload], [wfd])
    except BaseException:
        os.close(rfd)
        raise
    finally:
        os.close(wfd)
    return rfd


def _read_report(rfd: int, limit_s: float) -> tuple[int | None, bytes]:
    """The supervisor's pid and summary from its pipe (EOF when it is done or dead)."""
    data, pid, deadline = b"", None, time.monotonic() + limit_s
    with os.fdopen(rfd, "rb", buffering=0) as fh:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fh], [], [], 1.0)
            if not ready:
                continue
            chunk = fh.read(65536)
            if not chunk:
                break
            data += chunk
            if pid is None and b"\n" in data:
                line, data = data.split(b"\n", 1)
                pid = int(line)
                _running[pid] = time.monotonic()
        else:  # the supervisor itself hung: kill its whole tree
            if pid is not None:
                _kill_tree(pid)
    if pid is not None:
        _running.pop(pid, None)
    return pid, data


def _kill_tree(pid: int) -> None:
    kill_descendants(pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _launch(work, limits: Limits, cwd, env) -> Outcome:
    scratch = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
    log = scratch / "output.log"
    start = time.monotonic()
    rfd = _send(
        work, limits, str(cwd or os.getcwd()), dict(os.environ if env is None else env), str(log)
    )
    _, data = _read_report(rfd, limits.timeout_s + 60)
    try:
        info = json.loads(data.decode())
    except ValueError:
        info = {"returncode": -1, "timed_out": False}
    try:
        with open(log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - LOG_TAIL))
            output = fh.read().decode("utf-8", "replace")
    except OSError:
        output = ""
    shutil.rmtree(scratch, ignore_errors=True)
    rc = info.get("returncode")
    rc = -1 if rc is None else int(rc)
    sig = None
    if rc < 0 and not info.get("timed_out"):
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
    return Outcome(
        returncode=rc,
        timed_out=bool(info.get("timed_out")),
        signal=sig,
        seconds=time.monotonic() - start,
        output=output,
        leftovers=int(info.get("leftovers", 0)),
        memory_killed=list(info.get("memory_killed", [])),
    )


def run(cmd: list[str], limits: Limits, *, cwd=None, env: dict | None = None) -> Outcome:
    """Run the command line ``cmd`` under ``limits``; never raises for the command's own
    failures (a crash, a timeout and a kill all come back as an :class:`Outcome`)."""
    return _launch(list(cmd), limits, cwd, env)


def call(
    module: str, function: str, args: tuple, limits: Limits, *, cwd=None, env: dict | None = None
) -> Outcome:
    """Call ``module.function(*args)`` in a job process under ``limits`` (its exit status is
    the function's int result); the module is best listed in :data:`PRELOAD`."""
    return _launch((module, function, tuple(args)), limits, cwd, env)


def stop_all() -> None:
    """Kill every job this process started that is still running (e.g. on Ctrl-C)."""
    for pid in list(_running):
        _kill_tree(pid)
