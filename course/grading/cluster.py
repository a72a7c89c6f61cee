"""``course grade --scheduler``: reach the Dask scheduler first, then check its workers.

Before anything is prepared, :func:`connect` reaches the scheduler (or starts ``local:N``) within
:data:`CONNECT_TIMEOUT_S`, and :func:`check_workers` asks every worker which course version,
torch build and Python it runs: a worker that differs from this machine would grade with other
code than the reference check ran with, so the command stops and names it (exit 2, like every
instructor error). The jobs themselves travel as :func:`course.grading.batch.cluster_task`.
"""

from __future__ import annotations

import platform

from course.errors import CourseError

CONNECT_TIMEOUT_S = 10.0  # a reachable scheduler answers in well under a second
INSTALL = "pip install 'resnet-course[cluster]'"


def versions() -> dict[str, str]:
    """What a worker must share with the grader: the course, the torch build, Python."""
    import torch

    import course

    build = f"{torch.__version__} (git {str(torch.version.git_version)[:12]})"
    return {"course": course.__version__, "torch": build, "python": platform.python_version()}


def connect(address: str, timeout: float | None = None):
    """``(client, local_cluster_or_None)`` for ``tcp://HOST:PORT`` or ``local:N``; a
    :class:`CourseError` (one line) when Dask is missing or the scheduler does not answer."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CourseError(f"--scheduler needs Dask: {INSTALL}") from None
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    local = None
    if address.startswith("local:"):
        count = address.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise CourseError(f"--scheduler {address}: local:N needs a number of workers N >= 1")
        local = LocalCluster(
            n_workers=int(count), threads_per_worker=1, processes=True, dashboard_address=None
        )
        address = local.scheduler_address
    try:
        client = Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as exc:
        if local is not None:
            local.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CourseError(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({first}); start one "
            "(`dask scheduler`, and `dask worker ADDRESS` on each machine) or fix the address"
        ) from None
    return client, local


def check_workers(found: dict[str, object], here: dict[str, str] | None = None) -> None:
    """Refuse a cluster with no workers, or a worker whose :func:`versions` differ from this
    machine's (``found``: worker address -> its versions, or the exception it raised)."""
    here = here or versions()
    if not found:
        raise CourseError("the Dask scheduler has no workers: start `dask worker ADDRESS`")
    for worker, theirs in sorted(found.items()):
        if isinstance(theirs, BaseException):
            raise CourseError(
                f"Dask worker {worker} cannot run the grader ({type(theirs).__name__}: "
                f"{theirs}); install the course there: {INSTALL}"
            )
        if not isinstance(theirs, dict):
            raise CourseError(f"Dask worker {worker} answered {theirs!r} about its versions")
        differ = [f"{k} {theirs.get(k)} (here {v})" for k, v in here.items() if theirs.get(k) != v]
        if differ:
            raise CourseError(
                f"Dask worker {worker} runs {', '.join(differ)}: install the same course "
                "version and torch build on every worker"
            )


def worker_versions(client) -> dict[str, object]:
    """Every worker's :func:`versions` (an exception for a worker that cannot import them)."""
    return client.run(versions, on_error="return")
