"""An OS sandbox for one student's notebook: bubblewrap, resource limits, a memory watchdog.

Each graded notebook gets a fresh :class:`Sandbox`: a ``python -m course.grading.student``
process started by `bubblewrap <https://github.com/containers/bubblewrap>`_ (Debian package
``bubblewrap``; the sandbox Flatpak uses) with

* its own mount namespace holding only: the Python environment and the ``course`` package
  (read-only), the data folder (read-only, at ``/data``), the student's handed-in files
  (read-only, under a size-capped writable ``/home/student/<lesson>``), and a size-capped
  private ``/tmp`` — no course checkout, no ``solutions/``, no gradebook, no other student,
  nothing shared with another job; everything it writes dies with it;
* its own PID namespace (it cannot see or signal the grader or other jobs), network namespace
  (no network), IPC and UTS namespaces, a new session (no terminal injection), no capabilities,
  and an unprivileged uid (1000);
* rlimits on address space, CPU seconds, file size, processes and core files, and a watchdog
  that kills it when its resident memory passes the limit.

Where bubblewrap is missing, :func:`check_available` explains how to install it; running
without it needs the explicit ``unsafe=True`` (``course grade --unsafe-no-sandbox``), and every
report then says so.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import course
from course.grading.proxy import Session

BWRAP = "bwrap"
HOME = "/home/student"
INSTALL_HINT = (
    "course grade runs every notebook in a bubblewrap sandbox, and `bwrap` was not found. "
    "Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install "
    "bubblewrap`) and run again. On a machine where unprivileged user namespaces are disabled, "
    "see docs/GRADING.md. (--unsafe-no-sandbox runs student code without isolation: only for "
    "code you trust.)"
)


# ``-P``: the handed-in folder is not put first on sys.path, so a handed-in ``course/`` or
# ``torch.py`` cannot replace the server's own modules; the server appends the folder after
# start-up (the student's own ``helper.py`` still imports, as in a kernel).
STUDENT_SERVER = ("-P", "-m", "course.grading.student")


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot create namespaces here (an instructor error)."""


@dataclass
class Limits:
    """Resource limits of one notebook's sandbox (``None``: no limit of that kind)."""

    memory_mb: int | None = 4096  # resident memory on top of start-up (watchdog + RLIMIT_AS)
    startup_mb: int = 1024  # a Python process with torch and IPython loaded, with headroom
    cpu_s: int | None = 3600  # CPU seconds (RLIMIT_CPU)
    file_mb: int = 1024  # largest file it may write (RLIMIT_FSIZE)
    disk_mb: int = 2048  # its writable folders together (tmpfs sizes)
    procs: int = 1024  # processes and threads it may add (RLIMIT_NPROC above current use)
    threads: int = 1  # OMP/MKL threads (the grader runs several jobs at once)


@dataclass
class SandboxReport:
    """What happened to a sandbox, for the job's notes."""

    memory_killed_mb: float | None = None  # resident memory at which the watchdog killed it
    exit_status: int | None = None
    starts: int = 0
    notes: list[str] = field(default_factory=list)


def check_available() -> str:
    """The path of ``bwrap`` if it can create a sandbox here; raises :class:`SandboxUnavailable`."""
    path = shutil.which(BWRAP)
    if path is None:
        raise SandboxUnavailable(INSTALL_HINT)
    probe = subprocess.run(
        [path, "--unshare-all", "--ro-bind", "/", "/", "--uid", "1000", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox on this machine: {probe.stderr.strip()}. "
            "It needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
            "on older Debian kernels) or a setuid bwrap; see docs/GRADING.md."
        )
    return path


def _tasks_of_this_user() -> int:
    uid = os.getuid()
    n = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                text = fh.read()
        except OSError:
            continue
        uid_line = next((ln for ln in text.splitlines() if ln.startswith("Uid:")), "")
        threads = next((ln for ln in text.splitlines() if ln.startswith("Threads:")), "")
        if uid_line.split()[1:2] == [str(uid)]:
            n += int(threads.split()[1]) if threads else 1
    return n


def _children(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            kids.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sandbox:
    """One student process in a fresh sandbox. ``start()`` returns a :class:`Session`."""

    def __init__(
        self,
        lesson: str,
        files: dict[str, Path],
        data: Path | None,
        limits: Limits,
        log: Path,
        deadline,
        *,
        unsafe: bool = False,
    ):
        self.lesson = lesson
        self.files = files  # relative path in the lesson folder -> host file (read-only)
        self.data = data
        self.limits = limits
        self.log = log
        self.deadline = deadline
        self.unsafe = unsafe
        self.proc: subprocess.Popen | None = None
        self._to: int | None = None  # the pipes to and from the student process
        self._from: int | None = None
        self.report = SandboxReport()
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    # ------------------------------------------------------------------ command line
    def _python_paths(self) -> list[Path]:
        paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
        return sorted(p for p in paths if not str(p).startswith("/usr"))

    def _bwrap_args(self, fd_in: int, fd_out: int, info_fd: int) -> list[str]:
        pkg = Path(course.__file__).resolve().parent
        lim = self.limits
        a = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        a += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox"]
        # the private tmpfs first: binds below stay visible even where the Python environment
        # or this package lives under /tmp (a virtual environment in a temporary checkout)
        a += ["--size", str(lim.disk_mb // 4 * 2**20), "--tmpfs", "/tmp"]
        a += ["--size", str(lim.disk_mb * 2**20), "--tmpfs", HOME]
        a += ["--ro-bind", "/usr", "/usr"]
        for top in ("bin", "lib", "lib64", "sbin"):
            host = Path("/") / top
            if host.is_symlink():
                a += ["--symlink", os.readlink(host), f"/{top}"]
            elif host.is_dir():
                a += ["--ro-bind", str(host), f"/{top}"]
        for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts",
                    "localtime", "mime.types"):  # fmt: skip
            if (Path("/etc") / etc).exists():
                a += ["--ro-bind", f"/etc/{etc}", f"/etc/{etc}"]
        a += ["--ro-bind-data", "0", "/etc/passwd"]  # replaced below by a real fd
        for p in self._python_paths():
            a += ["--ro-bind", str(p), str(p)]
        a += ["--ro-bind", str(pkg), str(pkg)]
        a += ["--proc", "/proc", "--dev", "/dev"]
        work = f"{HOME}/{self.lesson}"
        a += ["--dir", work]
        for rel, host in sorted(self.files.items()):
            a += ["--ro-bind", str(host), f"{work}/{rel}"]
        if self.data is not None and self.data.is_dir():
            a += ["--ro-bind", str(self.data.resolve()), "/data"]
        a += ["--chdir", work, "--clearenv"]
        for key, value in self._env(pkg.parent, "/data", HOME, "/tmp").items():
            a += ["--setenv", key, value]
        a += ["--info-fd", str(info_fd)]
        a += [sys.executable, *STUDENT_SERVER, str(fd_in), str(fd_out)]
        return a

    def _env(self, pkg_parent: Path, data: str, home: str, tmp: str) -> dict[str, str]:
        threads = str(self.limits.threads)
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": tmp,
            "PYTHONPATH": str(pkg_parent),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "MPLCONFIGDIR": f"{tmp}/matplotlib",
            "NBGRADER_EXECUTION": "autograde",
            "COURSE_QUICK": "1",
            "COURSE_DATA": data,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "MALLOC_ARENA_MAX": "2",
            "LANG": "C.UTF-8",
        }

    def _limit(self) -> None:
        """In the child before exec: rlimits (inherited by everything in the sandbox)."""
        lim = self.limits
        os.setsid() if self.unsafe else None
        if lim.memory_mb:
            cap = (lim.memory_mb + lim.startup_mb + 2048) * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        if lim.cpu_s:
            resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_mb * 2**20,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        nproc = self._nproc
        if nproc:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Session:
        self.stop()
        self.report.starts += 1
        self._nproc = _tasks_of_this_user() + self.limits.procs
        to_child = os.pipe()
        from_child = os.pipe()
        info: tuple[int, int] | None  # the child pid from bwrap --info-fd (None: unsafe)
        info = os.pipe()
        passwd_r, passwd_w = os.pipe()
        os.write(passwd_w, b"student:x:1000:1000:student:/home/student:/bin/false\n")
        os.close(passwd_w)
        log = open(self.log, "ab")  # noqa: SIM115 - closed after Popen
        try:
            if self.unsafe:
                cmd, fds = self._unsafe_command(to_child[0], from_child[1])
                os.close(info[1])
                os.close(info[0])
                info = None
            else:
                args = self._bwrap_args(to_child[0], from_child[1], info[1])
                i = args.index("--ro-bind-data")
                args[i + 1] = str(passwd_r)
                cmd = [check_available(), *args]
                fds = (to_child[0], from_child[1], info[1], passwd_r)
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=fds,
                preexec_fn=self._limit,
                cwd=self._scratch.name if self._scratch else None,
            )
        finally:
            log.close()
            os.close(to_child[0])
            os.close(from_child[1])
            os.close(passwd_r)
            if info is not None:
                os.close(info[1])
        self.child_pid = self.proc.pid
        if info is not None:
            self.child_pid = self._read_child_pid(info[0]) or self.proc.pid
            os.close(info[0])
        self._to, self._from = to_child[1], from_child[0]
        self._stop.clear()
        self._watch = threading.Thread(target=self._watchdog, daemon=True)
        self._watch.start()
        session = Session(to_child[1], from_child[0], self.deadline)
        session.ready()
        return session

    def _read_child_pid(self, fd: int) -> int | None:
        data = b""
        end = time.monotonic() + 30
        while time.monotonic() < end:
            import select

            r, _, _ = select.select([fd], [], [], 0.5)
            if not r:
                if self.proc is None or self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
            try:
                return int(json.loads(data.decode())["child-pid"])
            except (ValueError, KeyError):
                continue
        return None

    def _unsafe_command(self, fd_in: int, fd_out: int):
        self._scratch = tempfile.TemporaryDirectory(prefix="course-unsafe-")
        work = Path(self._scratch.name) / self.lesson
        work.mkdir()
        for rel, host in self.files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(host, work / rel)
        env = self._env(
            Path(course.__file__).resolve().parent.parent,
            str(self.data) if self.data else "",
            self._scratch.name,
            self._scratch.name,
        )
        cmd = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items())]
        cmd += ["sh", "-c", f'cd "{work}" && exec "$0" "$@"', sys.executable]
        cmd += [*STUDENT_SERVER, str(fd_in), str(fd_out)]
        return cmd, (fd_in, fd_out)

    def _watchdog(self) -> None:
        limit = (self.limits.memory_mb + self.limits.startup_mb) if self.limits.memory_mb else None
        while not self._stop.wait(0.05):
            if self.proc is None or self.proc.poll() is not None:
                return
            if limit is None:
                continue
            pids = [self.child_pid, *_children(self.child_pid)]
            rss = sum(_rss_mb(p) for p in pids)
            if rss > limit:
                self.report.memory_killed_mb = round(rss)
                self.kill()
                return

    def kill(self) -> None:
        if self.proc is None:
            return
        pgid = None
        if self.unsafe:
            try:
                pgid = os.getpgid(self.proc.pid)
            except OSError:
                pgid = None
        try:
            if pgid is not None:
                os.killpg(pgid, signal.SIGKILL)
            self.proc.kill()
        except OSError:
            pass
        try:
            self.report.exit_status = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.report.notes.append("sandbox did not exit after SIGKILL")

    def stop(self) -> None:
        """End the sandbox (if running) and release its pipes."""
        self._stop.set()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.kill()
            else:
                self.report.exit_status = self.proc.returncode
            for fd in (getattr(self, "_to", None), getattr(self, "_from", None)):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._to = self._from = None
            self.proc = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def dead(self) -> bool:
        return self.proc is None or self.proc.poll() is not None
