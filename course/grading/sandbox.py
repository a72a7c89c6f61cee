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
  and uid 1000 inside;
* an unprivileged uid on the host too: run by an ordinary user, bubblewrap maps uid 1000 to
  that user; run by **root**, it would map it to host root (``/proc/sys`` writable, no process
  limit), so there the student runs as a host uid of its own, :data:`UID_BASE` + a slot (no
  account, no files, no groups), from the start of bubblewrap: the grader's process enters a
  private mount namespace (``unshare``), binds what the sandbox needs under a world-readable
  folder there (so a Python under ``/root`` stays reachable), and drops to that uid
  (``setpriv``) before ``bwrap`` runs (:func:`drop_command`);
* every writable file system capped: a sized tmpfs for home, ``/tmp`` and ``/dev/shm``;
  bubblewrap's own root (``/``, ``/etc``) and ``/dev`` remounted read-only;
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
# Under root, the student's host uid: UID_BASE + a slot (one per concurrent job, so that one
# job's processes never count against another's RLIMIT_NPROC). No account has these ids; they
# own no file. Below 2**31, above the ranges Debian, systemd and container tools hand out.
UID_BASE = 2_147_000_000
UID_SLOTS = 100_000
DROP_TOOLS = ("unshare", "setpriv", "mount", "sh")  # util-linux and a shell
ROOT_HINT = (
    "course grade runs as root, so every notebook must run as an unprivileged host uid and "
    "dropping to one failed ({why}); install util-linux (unshare, setpriv, mount) and allow "
    "unprivileged user namespaces, or run course grade as an ordinary user"
)
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
    shm_mb: int = 64  # /dev/shm (tmpfs)
    uid: int | None = None  # under root: the host uid (None: UID_BASE + this process's slot)

    def tmpfs_mb(self) -> dict[str, int]:
        """Every writable tmpfs of the sandbox and its size (host memory it can fill)."""
        return {HOME: self.disk_mb, "/tmp": self.disk_mb // 4, "/dev/shm": self.shm_mb}

    def host_mb(self) -> dict[str, int]:
        """What one sandbox can make the host hold, by kind: resident memory (the watchdog's
        limit, plus the address-space headroom one process can reach between two of its
        checks), and its tmpfs. ``None`` memory: no limit (then the sum is meaningless)."""
        tmpfs = sum(self.tmpfs_mb().values())
        if not self.memory_mb:
            return {"sandbox memory": 0, "sandbox tmpfs": tmpfs}
        return {"sandbox memory": self.memory_mb + self.startup_mb + RSS_SLACK_MB,
                "sandbox tmpfs": tmpfs}  # fmt: skip


RSS_SLACK_MB = 256  # what one process can add in the watchdog's 50 ms between checks
OPEN_FILES = 4096  # RLIMIT_NOFILE: bounds the pipe and socket buffers the kernel holds for it

# Memory outside every file system and every resident-set count: a memfd written with write()
# and never mapped, a System V shared-memory segment detached after use. The sandbox refuses
# both system calls (seccomp, ENOSYS, so a library that tries falls back to files, which are
# in a sized tmpfs), and every system call of another ABI (32-bit calls from a 64-bit process).
# (AUDIT_ARCH, memfd_create, shmget) per machine; elsewhere no filter is loaded.
_SECCOMP_CALLS = {"x86_64": (0xC000003E, 319, 29), "aarch64": (0xC00000B7, 279, 194)}


def seccomp_filter(machine: str | None = None) -> bytes | None:
    """The classic-BPF program bubblewrap loads (``--seccomp FD``), or ``None`` where the
    machine's system call numbers are not known here."""
    import errno
    import platform
    import struct

    calls = _SECCOMP_CALLS.get(machine or platform.machine())
    if calls is None:
        return None
    arch, memfd_create, shmget = calls
    allow, refuse = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, JGE, BPF_RET
    program = [
        (load, 0, 0, 4),  # the call's ABI
        (jeq, 1, 0, arch),
        (ret, 0, 0, refuse | errno.EPERM),  # another ABI: refused
        (load, 0, 0, 0),  # the call's number
        (jge, 3, 0, 0x40000000),  # x32 calls: refused
        (jeq, 2, 0, memfd_create),
        (jeq, 1, 0, shmget),
        (ret, 0, 0, allow),
        (ret, 0, 0, refuse | errno.ENOSYS),
    ]
    return b"".join(struct.pack("=HBBI", *ins) for ins in program)


@dataclass
class SandboxReport:
    """What happened to a sandbox, for the job's notes."""

    memory_killed_mb: float | None = None  # resident memory at which the watchdog killed it
    exit_status: int | None = None
    starts: int = 0
    notes: list[str] = field(default_factory=list)


def check_available() -> str:
    """The path of ``bwrap`` if it can create a sandbox here; raises :class:`SandboxUnavailable`.

    Under root it also proves that a sandbox can start as an unprivileged host uid
    (:func:`drop_command`); where it cannot, grading is refused."""
    path = shutil.which(BWRAP)
    if path is None:
        raise SandboxUnavailable(INSTALL_HINT)
    cmd = [path, "--unshare-all", "--ro-bind", "/", "/", "--uid", "1000", "true"]
    if os.geteuid() == 0:
        missing = [tool for tool in DROP_TOOLS if shutil.which(tool) is None]
        if missing:
            raise SandboxUnavailable(ROOT_HINT.format(why=f"{', '.join(missing)} not found"))
        bridge = _bridge_dir()
        try:
            probe = subprocess.run(
                drop_command(UID_BASE + UID_SLOTS - 1, bridge, [], cmd),
                capture_output=True, text=True, cwd="/",
            )  # fmt: skip
        finally:
            os.rmdir(bridge)
        if probe.returncode != 0:
            why = " ".join(probe.stderr.split())[:200] or f"exit {probe.returncode}"
            raise SandboxUnavailable(ROOT_HINT.format(why=why))
        return path
    probe = subprocess.run(cmd, capture_output=True, text=True)
    if probe.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox on this machine: {probe.stderr.strip()}. "
            "It needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
            "on older Debian kernels) or a setuid bwrap; see docs/GRADING.md."
        )
    return path


# Runs as root in a private mount namespace: a small tmpfs on the bridge folder, each source
# bound (recursively) at BRIDGE/<name>, then ``exec "$@"`` (setpriv, then bwrap). Arguments:
# BRIDGE, then NAME SOURCE pairs, then ``--`` and the command.
_BRIDGE_SCRIPT = r"""set -e
bridge=$1; shift
mount -t tmpfs -o mode=755,size=64k,nosuid,nodev course-bridge "$bridge"
while [ "$1" != "--" ]; do
  if [ -d "$2" ]; then mkdir "$bridge/$1"; else : > "$bridge/$1"; fi
  mount --rbind "$2" "$bridge/$1"
  shift 2
done
shift
exec "$@"
"""


def drop_command(uid: int, bridge: str, binds: list[tuple[str, str]], cmd: list[str]) -> list[str]:
    """``cmd`` (bwrap ...) run as host ``uid``:``uid`` with no supplementary groups, from the
    grader running as root. Each ``(name, source)`` of ``binds`` is visible at
    ``bridge/name`` to ``cmd`` (a private mount namespace of root's: the host sees nothing), so
    that bwrap, no longer root, can bind sources whose folders only root may enter."""
    pairs = [part for name, src in binds for part in (name, src)]
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _BRIDGE_SCRIPT,
            "sh", bridge, *pairs, "--", *drop, *cmd]  # fmt: skip


def _bridge_dir() -> str:
    """An empty folder every uid may enter (the bridge's mount point; stays empty on the
    host)."""
    bridge = tempfile.mkdtemp(prefix="course-sandbox-", dir="/tmp")
    os.chmod(bridge, 0o755)
    return bridge


def python_paths() -> list[Path]:
    """The Python installation and environment the sandbox binds (``/usr`` is bound whole)."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix)}
    return sorted(p for p in paths if not str(p).startswith("/usr"))


def unreadable_by_others(path: Path, depth: int = 0) -> Path | None:
    """The first file or folder in ``path`` (down ``depth`` levels) that a uid other than its
    owner's cannot read (a folder: read and enter), or ``None``. Under root the sandbox runs as
    such a uid: bubblewrap binds the folder, but its own permissions still apply inside."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        if mode & 0o005 != 0o005:
            return path
        if depth > 0:
            try:
                children = sorted(path.iterdir())[:1000]
            except OSError:
                return path
            for child in children:
                found = unreadable_by_others(child, depth - 1)
                if found is not None:
                    return found
    elif mode & 0o004 == 0:
        return path
    return None


def check_readable(data: Path | None) -> None:
    """Under root: refuse (:class:`SandboxUnavailable`) when the Python environment, this
    package or the data folder is not readable by the sandbox's unprivileged uid."""
    if os.geteuid() != 0:
        return
    pkg = Path(course.__file__).resolve().parent
    paths = [(p, 0) for p in (*python_paths(), pkg)]
    paths += [(data.resolve(), 3)] if data is not None and data.is_dir() else []
    for path, depth in paths:
        found = unreadable_by_others(path, depth)
        if found is not None:
            raise SandboxUnavailable(
                f"{found} is not readable by other users, and course grade, run as root, runs "
                f"every notebook as an unprivileged uid: make it readable (chmod -R o+rX "
                f"{path}) or run course grade as an ordinary user"
            )


def host_uid(limits: Limits) -> int | None:
    """The host uid a sandbox's processes run as when the grader is root (else ``None``)."""
    if os.geteuid() != 0:
        return None
    if limits.uid is not None:
        if limits.uid == 0:
            raise SandboxUnavailable(ROOT_HINT.format(why="uid 0 was asked for"))
        return limits.uid
    return UID_BASE + os.getpid() % UID_SLOTS


def _tasks_of_user(uid: int) -> int:
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
    """Every descendant of ``pid``. The watchdog calls this 20 times a second for every live
    sandbox, so it walks the sandbox's own tree through ``/proc/<pid>/task/<tid>/children``
    (a few files per process) instead of reading every process of the host; where the kernel
    has no such file (built without ``CONFIG_PROC_CHILDREN``) it falls back to the full scan.
    A sandbox has its own PID namespace, so an orphan is re-parented to the sandbox's first
    process, never out of this tree."""
    out: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        kids = _children_of(parent)
        if kids is None:
            return _children_by_scan(pid)
        out += kids
        todo += kids
    return out


def _children_of(pid: int) -> list[int] | None:
    """The children of ``pid`` from every thread's ``children`` file (a child belongs to the
    thread that forked it); ``[]`` when ``pid`` is gone, ``None`` when the kernel has no such
    file."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                kids += [int(k) for k in fh.read().split()]
        except FileNotFoundError:
            if os.path.exists(f"/proc/{pid}/task/{tid}"):
                return None  # the thread is there, its children file is not
        except OSError:
            continue  # the thread ended while we looked
    return kids


def _children_by_scan(pid: int) -> list[int]:
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
        self._bridge: str | None = None  # under root: the bridge folder (see drop_command)
        self.bridged: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    # ------------------------------------------------------------------ command line
    def _python_paths(self) -> list[Path]:
        return python_paths()

    def _bwrap_args(self, fd_in: int, fd_out: int, info_fd: int) -> list[str]:
        pkg = Path(course.__file__).resolve().parent
        lim = self.limits
        self.bridged = []  # (name, host source) seen through the bridge
        a = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        a += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox"]
        # the private tmpfs first: binds below stay visible even where the Python environment
        # or this package lives under /tmp (a virtual environment in a temporary checkout)
        tmpfs = lim.tmpfs_mb()
        for mount in ("/tmp", HOME):
            a += ["--size", str(tmpfs[mount] * 2**20), "--tmpfs", mount]
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
            a += ["--ro-bind", self._source(p), str(p)]
        a += ["--ro-bind", self._source(pkg), str(pkg)]
        # /dev: bubblewrap's own tmpfs, read-only after a sized /dev/shm is mounted on it
        a += ["--proc", "/proc", "--dev", "/dev"]
        a += ["--size", str(tmpfs["/dev/shm"] * 2**20), "--tmpfs", "/dev/shm"]
        a += ["--remount-ro", "/dev"]
        work = f"{HOME}/{self.lesson}"
        a += ["--dir", work]
        for rel, host in sorted(self.files.items()):
            a += ["--ro-bind", self._source(host), f"{work}/{rel}"]
        if self.data is not None and self.data.is_dir():
            a += ["--ro-bind", self._source(self.data.resolve()), "/data"]
        # bubblewrap's root tmpfs (/, /etc, the mount points) has no size: read-only from here
        a += ["--remount-ro", "/"]
        a += ["--chdir", work, "--clearenv"]
        for key, value in self._env(pkg.parent, "/data", HOME, "/tmp").items():
            a += ["--setenv", key, value]
        a += ["--info-fd", str(info_fd)]
        if seccomp_filter() is not None:
            a += ["--seccomp", "0"]  # replaced by a real fd in start()
        a += [sys.executable, *STUDENT_SERVER, str(fd_in), str(fd_out)]
        return a

    def _source(self, host: Path) -> str:
        """Where bwrap finds ``host``: itself, or under root its name in the bridge."""
        if getattr(self, "_bridge", None) is None:
            return str(host)
        name = str(len(self.bridged))
        self.bridged.append((name, str(host)))
        return f"{self._bridge}/{name}"

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
        if not self.unsafe:
            files = min(OPEN_FILES, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
        nproc = self._nproc
        if nproc:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Session:
        self.stop()
        self.report.starts += 1
        uid = None if self.unsafe else host_uid(self.limits)
        self.uid = os.getuid() if uid is None else uid
        self._nproc = _tasks_of_user(self.uid) + self.limits.procs
        to_child = os.pipe()
        from_child = os.pipe()
        info: tuple[int, int] | None  # the child pid from bwrap --info-fd (None: unsafe)
        info = os.pipe()
        passwd_r, passwd_w = os.pipe()
        os.write(passwd_w, b"student:x:1000:1000:student:/home/student:/bin/false\n")
        os.close(passwd_w)
        seccomp_r = None
        log = open(self.log, "ab")  # noqa: SIM115 - closed after Popen
        try:
            if self.unsafe:
                cmd, fds = self._unsafe_command(to_child[0], from_child[1])
                os.close(info[1])
                os.close(info[0])
                info = None
            else:
                if uid is not None:
                    self._bridge = _bridge_dir()
                args = self._bwrap_args(to_child[0], from_child[1], info[1])
                i = args.index("--ro-bind-data")
                args[i + 1] = str(passwd_r)
                if "--seccomp" in args:
                    seccomp_r, seccomp_w = os.pipe()
                    os.write(seccomp_w, seccomp_filter())  # type: ignore[arg-type]
                    os.close(seccomp_w)
                    args[args.index("--seccomp") + 1] = str(seccomp_r)
                cmd = [shutil.which(BWRAP) or BWRAP, *args]
                if uid is not None:
                    cmd = drop_command(uid, self._bridge, self.bridged, cmd)  # type: ignore[arg-type]
                fds = (to_child[0], from_child[1], info[1], passwd_r)
                fds += (seccomp_r,) if seccomp_r is not None else ()
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=fds,
                preexec_fn=self._limit,
                cwd=self._scratch.name if self._scratch else "/" if uid is not None else None,
            )
        finally:
            log.close()
            os.close(to_child[0])
            os.close(from_child[1])
            os.close(passwd_r)
            if seccomp_r is not None:
                os.close(seccomp_r)
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
        if self._bridge is not None:
            try:
                os.rmdir(self._bridge)  # empty on the host: the binds were in the sandbox's
            except OSError:
                pass
            self._bridge = None

    def dead(self) -> bool:
        return self.proc is None or self.proc.poll() is not None
