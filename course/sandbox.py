"""Run one untrusted command under resource limits, and leave nothing of it behind.

``course grade`` runs each submission's ``nbgrader autograde`` through :func:`run`, which starts
this module as a small supervisor process (``python -m course.sandbox``)::

    course grade  ──>  supervisor (child subreaper)  ──>  nbgrader autograde  ──>  kernel
                                                           (own session)         (own session)

The supervisor

* applies the limits in the child before ``exec`` (``RLIMIT_CPU``, ``RLIMIT_NPROC`` fork-bomb
  cap, ``RLIMIT_FSIZE``, no core files); the kernel inherits them;
* watches memory: any descendant whose resident set passes :attr:`Limits.rss_kill_mb` is killed.
  This is the backstop; the first line is the kernel's own address-space cap, which
  :class:`course.guard.GuardedExecute` sets once torch is loaded (an ``RLIMIT_AS`` here, before
  ``exec``, would have to leave room for torch's large mappings and would mean little);
* becomes a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so every process the student
  starts, even one that double-forks into a new session the way daemons do, stays its
  descendant instead of escaping to ``init``;
* enforces the wall-clock limit: SIGKILL to the whole process group, then to every remaining
  descendant (Jupyter starts kernels in a session of their own, so the group alone is not enough);
* sweeps descendants again when the command exits normally, so a background process cannot outlive
  its grading and tamper with files afterwards.

This is process hygiene, not a security boundary: the command still runs as the same Unix user,
with that user's files. See docs/GRADING.md for running the grader in a container.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
TIMEOUT_EXIT = 124  # the exit status of coreutils `timeout`, for the same reason
WATCH_INTERVAL_S = 0.05  # how often the supervisor samples the memory of its descendants


@dataclass
class Limits:
    """Resource limits for one sandboxed command (``None``: no limit of that kind)."""

    timeout_s: float = 1200.0  # wall clock, whole command
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
    returncode: int
    timed_out: bool
    signal: str | None  # "SIGKILL", "SIGSEGV", ... when the command died of a signal
    seconds: float
    stdout: str
    stderr: str
    leftovers: int  # descendants still alive after the command ended (all killed)
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
    resource.setrlimit(kind, (value, hard if hard != resource.RLIM_INFINITY else value))


def _preexec(limits: Limits, nproc: int | None):
    def apply() -> None:  # runs in the child, between fork and exec
        mb = 1024 * 1024
        cpu = limits.cpu_s or int(limits.timeout_s * max(os.cpu_count() or 1, 1) + 60)
        _limit(resource.RLIMIT_CPU, cpu)
        if limits.file_mb:
            _limit(resource.RLIMIT_FSIZE, limits.file_mb * mb)
        if nproc:
            _limit(resource.RLIMIT_NPROC, nproc)
        _limit(resource.RLIMIT_CORE, 0)

    return apply


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
def supervise(cmd: list[str], limits: Limits, cwd: str | None = None) -> int:
    """Body of the supervisor process: run ``cmd`` with ``limits``; returns the exit status.

    Exit status: the command's own, ``128 + signal`` when a signal killed it, or 124 on timeout.
    While the command runs, any descendant whose resident memory passes
    :attr:`Limits.rss_kill_mb` is killed (a memory bomb the kernel's own limit did not stop).
    """
    _become_subreaper()
    nproc = _user_tasks() + limits.extra_procs if limits.extra_procs else None
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, preexec_fn=_preexec(limits, nproc), start_new_session=True
    )
    timed_out, memory_killed = False, []
    deadline = start + limits.timeout_s
    while True:
        try:
            proc.wait(timeout=WATCH_INTERVAL_S)
            break
        except subprocess.TimeoutExpired:
            pass
        if limits.rss_kill_mb:
            memory_killed += _watch_memory(limits.rss_kill_mb)
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            break
    leftovers = kill_descendants(os.getpid())
    summary = {
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "seconds": round(time.monotonic() - start, 3),
        "leftovers": leftovers,
        "memory_killed": memory_killed,
    }
    print("course-sandbox:" + json.dumps(summary), file=sys.stderr, flush=True)
    if timed_out:
        return TIMEOUT_EXIT
    if proc.returncode < 0:
        return 128 - proc.returncode
    return proc.returncode


LOG_TAIL = 200_000  # characters of the command's output kept (a flood goes to a file, not RAM)


def _tail(fh) -> str:
    fh.seek(0, os.SEEK_END)
    fh.seek(max(0, fh.tell() - LOG_TAIL))
    return fh.read().decode("utf-8", "replace")


def run(
    cmd: list[str],
    limits: Limits,
    *,
    cwd: Path | str | None = None,
    env: dict | None = None,
) -> Outcome:
    """Run ``cmd`` under ``limits`` through a supervisor process; never raises for the command's
    own failures (a crash, a timeout and a kill all come back as an :class:`Outcome`)."""
    sup = [sys.executable, "-m", "course.sandbox", "--limits", json.dumps(asdict(limits)), "--"]
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [*sup, *cmd], cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True
        )
        try:  # the supervisor enforces the limit; the slack covers its own start and sweep
            proc.wait(timeout=limits.timeout_s + 60)
        except subprocess.TimeoutExpired:  # the supervisor itself hung: kill its whole tree
            kill_descendants(proc.pid)
            proc.kill()
            proc.wait()
        stdout, stderr = _tail(out), _tail(err)
    info: dict = {}
    kept = []
    for line in stderr.splitlines():
        if line.startswith("course-sandbox:"):
            try:
                info = json.loads(line.split(":", 1)[1])
            except ValueError:
                pass
        else:
            kept.append(line)
    rc = info.get("returncode", proc.returncode)
    sig = None
    if rc is not None and rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
    return Outcome(
        returncode=rc if rc is not None else -1,
        timed_out=bool(info.get("timed_out", proc.returncode == TIMEOUT_EXIT)),
        signal=sig,
        seconds=time.monotonic() - start,
        stdout=stdout,
        stderr="\n".join(kept),
        leftovers=int(info.get("leftovers", 0)),
        memory_killed=list(info.get("memory_killed", [])),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m course.sandbox", description=__doc__)
    p.add_argument("--limits", default="{}", help="JSON of the Limits fields to set")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        p.error("no command given")
    return supervise(cmd, Limits(**json.loads(args.limits)))


if __name__ == "__main__":
    sys.exit(main())
