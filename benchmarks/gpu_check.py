"""One timed GPU check: environment, data, throughput side by side, lesson 05's recipe with a
real kill and resume. Everything it measures goes to JSON and to a markdown block for
``benchmarks/RESULTS.md``.

    python benchmarks/gpu_check.py --out "$OUT"             # a GPU machine: at most 8 minutes
    python benchmarks/gpu_check.py --dry-run --out /tmp/gc   # the same code on a CPU, < 2 minutes

Phases, in this order (the cheap, certain ones first; ``torch.compile``, whose compile time is
the least predictable, last):

1. ``env``: GPU, driver, CUDA, cuDNN, torch, Python, CPU cores.
2. ``data``: CIFAR-10 if this machine has it (``--data``, ``$COURSE_DATA``, then usual places,
   searched a few levels deep for ``cifar-10-batches-py`` or ``cifar-10-python.tar.gz``). Never
   downloaded; an archive found is md5-checked and extracted into the work folder, never into
   the repository. Without it: the synthetic stand-in, said so in every line that reports it.
3. ``throughput``: ``benchmarks/train_throughput.py`` on CIFAR ResNet-34, DataLoader + fp32
   baseline vs the course pipeline (eager).
4. ``recipe``: lesson 05's ``RECIPE`` (read from the solution notebook) through
   ``course.train.fit`` with a checkpoint every epoch: as many epochs as the time left allows
   (the one-cycle schedule then spans those epochs; the report says so), the worker process
   SIGKILLed mid-epoch after half of them, a new process resumes from ``last.pt``; then test
   accuracy (bf16 as trained, flip TTA, and fp32 through ``course.scoring`` as the grader
   measures it) and time per epoch.
5. ``compiled``: the course pipeline under ``torch.compile`` (same script), in the time left.

Time: ``--budget`` seconds in all (default 480); every phase runs in a child process (its own
process group, so DataLoader and compile workers die with it) with a deadline, and the whole
check ends ``END_MARGIN_S`` before the budget. The JSON (``gpu_check.json``) and markdown
(``gpu_check.md``) in ``--out`` are rewritten after every phase and every epoch: a kill loses
nothing already measured. Exit status 0 when every phase ran, 1 when one failed or was cut.

``--dry-run``: CPU, a tiny ResNet-34 (width 4), a few hundred synthetic images, few steps,
``torch.compile(backend="eager")`` (TorchDynamo captures the graphs; no AOTAutograd, C++ or
Triton code generation: on a busy 2-core CPU ``aot_eager`` alone takes 25-30 s), and
``COURSE_PRECISION=bf16`` so the bf16 autocast + channels_last path runs under CPU autocast.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from course import cells
from course.checkout import notebooks

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
THROUGHPUT = HERE / "train_throughput.py"
LESSON_05 = REPO / "solutions" / "05_resnet34_cifar10" / "05_resnet34_cifar10.ipynb"
RECIPE_CELL = "checkpoint"  # grade_id of the cell that sets RECIPE
EVENT = "GPU_CHECK_EVENT "  # a worker's structured output: this prefix, then one JSON object

BUDGET_S = 480.0  # the limit: 8 minutes
END_MARGIN_S = 12.0  # everything is over (children killed, report written) this long before
COMPILED_RESERVE_S = 150.0  # kept for the compiled pipeline while planning the recipe's epochs

FULL = dict(
    device=None,  # cuda if available
    budget=BUDGET_S,
    compiled_reserve=COMPILED_RESERVE_S,
    end_margin=END_MARGIN_S,
    n_images=50_000,  # CIFAR-10's training split
    synthetic_train=5_000,  # generated when there is no CIFAR-10, repeated up to n_images
    synthetic_test=1_000,
    throughput=dict(width=64, batch_size=512, warmup=10, steps=50, max_seconds=20, workers=8),
    throughput_cap=120.0,
    compile_backend="inductor",
    width=64,
    startup_s=25.0,  # a training worker: imports, CUDA, data on the device (planning guess)
    finish_s=20.0,  # after the last epoch: test evaluation, save, the grader's fp32 score
    score_n=None,  # every test image
    threads=None,
    search=True,
)
DRY = dict(
    device="cpu",
    budget=110.0,
    compiled_reserve=20.0,
    end_margin=6.0,
    n_images=320,
    synthetic_train=320,
    synthetic_test=64,
    throughput=dict(width=4, batch_size=16, warmup=1, steps=2, max_seconds=10, workers=1),
    throughput_cap=45.0,
    compile_backend="eager",
    width=4,
    epochs=3,  # instead of planning from the throughput
    batch_size=32,  # 288 training images: 9 steps an epoch
    startup_s=6.0,
    finish_s=4.0,
    score_n=64,
    threads=1,
    search=True,  # searched and reported, but the dry run always uses its small stand-in
)


# --------------------------------------------------------------------------------------------
# the clock and the report
# --------------------------------------------------------------------------------------------


class Clock:
    """Seconds since the start; :meth:`left` is what remains before the check must be over."""

    def __init__(self, budget: float, end_margin: float = END_MARGIN_S):
        self.t0 = time.monotonic()
        self.budget = budget
        self.end_margin = end_margin

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        return self.budget - self.end_margin - self.elapsed()


class Report:
    """The check's results, rewritten (JSON + markdown, atomically) after every change."""

    def __init__(self, out: Path, clock: Clock, **meta):
        self.out, self.clock = out, clock
        self.data = {**meta, "phases": {}}
        out.mkdir(parents=True, exist_ok=True)

    def phase(self, name: str, /, **fields) -> dict:
        entry = self.data["phases"].setdefault(name, {})
        entry.update(fields)
        self.save()
        return entry

    def save(self) -> None:
        self.data["elapsed_s"] = round(self.clock.elapsed(), 1)
        for name, text in (
            ("gpu_check.json", json.dumps(self.data, indent=2, default=str)),
            ("gpu_check.md", markdown(self.data)),
        ):
            tmp = self.out / f".{name}.tmp"
            tmp.write_text(text)
            os.replace(tmp, self.out / name)


def say(clock: Clock, message: str) -> None:
    print(f"[gpu_check {clock.elapsed():6.1f}s] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# child processes with deadlines
# --------------------------------------------------------------------------------------------


class Child:
    """A command in its own process group, its output teed to a log file and to our stdout.

    Iterate :meth:`events` for ``("line", text)`` and, every ``tick`` seconds without output,
    ``("tick", None)``; the iteration ends when the process has exited and its output is read,
    or at ``deadline`` (``time.monotonic()``), when the whole group is SIGKILLed first.
    """

    live: set[Child] = set()  # started and not yet reaped: killed on the way out

    def __init__(self, cmd: list[str], log_path: Path, deadline: float):
        self.deadline = deadline
        self.timed_out = False
        self.killed = False
        self.log_path = log_path
        self._log = open(log_path, "a", buffering=1)  # noqa: SIM115 - closed in _reader
        self._log.write(f"$ {' '.join(cmd)}\n")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=child_env(),
            start_new_session=True,  # its own process group: killpg reaches every descendant
        )
        Child.live.add(self)
        self._lines: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self._log.write(line + "\n")
            if not line.startswith(EVENT):
                print(f"    | {line}", flush=True)
            self._lines.put(line)
        self._log.close()
        self._lines.put(None)  # end of output

    def events(self, tick: float = 0.2):
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.timed_out = True
                self.kill()
                return
            try:
                line = self._lines.get(timeout=min(tick, remaining))
            except queue.Empty:
                yield "tick", None
                continue
            if line is None:
                self.proc.wait()
                Child.live.discard(self)
                return
            yield "line", line

    def kill(self) -> None:
        """SIGKILL the whole process group (no clean-up runs: a real crash)."""
        if self.proc.poll() is None:
            self.killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
            pass
        Child.live.discard(self)

    @classmethod
    def kill_all(cls) -> None:
        for child in list(cls.live):
            child.kill()

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return ""


def child_env() -> dict:
    """Our environment, with this checkout's ``course`` first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def parse_event(line: str) -> dict | None:
    if not line.startswith(EVENT):
        return None
    try:
        return json.loads(line[len(EVENT) :])
    except json.JSONDecodeError:
        return None


def emit(kind: str, **fields) -> None:
    """A worker's structured message to the parent (one line on stdout)."""
    print(EVENT + json.dumps({"event": kind, "t": time.time(), **fields}, default=str), flush=True)


# --------------------------------------------------------------------------------------------
# phase 1: environment
# --------------------------------------------------------------------------------------------


def nvidia_smi() -> dict:
    """GPU name, driver and memory as ``nvidia-smi`` reports them (or why it could not)."""
    fields = "name,driver_version,memory.total"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"error": f"nvidia-smi: {err}"}
    if out.returncode != 0:
        return {"error": f"nvidia-smi exit {out.returncode}: {(out.stdout + out.stderr)[:300]}"}
    rows = [r.split(", ") for r in out.stdout.strip().splitlines() if r.strip()]
    return {"gpus": [dict(zip(fields.split(","), r, strict=False)) for r in rows]}


def phase_env(cfg: dict) -> dict:
    import torch

    from course import runtime

    device = runtime.get_device(cfg["device"])
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "precision": runtime.precision_label(device),
        "course_precision_env": os.environ.get(runtime.PRECISION_ENV),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            device_name=props.name,
            device_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            bf16_supported=torch.cuda.is_bf16_supported(),
            nvidia_smi=nvidia_smi(),
        )
        env["driver"] = (env["nvidia_smi"].get("gpus") or [{}])[0].get("driver_version")
    else:
        env["device_name"] = platform.processor() or platform.machine() or "CPU"
    return env


# --------------------------------------------------------------------------------------------
# phase 2: data
# --------------------------------------------------------------------------------------------

SEARCH_ROOTS = (
    "{repo}/data",
    "{repo}/shared",
    "~/.cache/course",
    "~/data",
    "~/datasets",
    "~/.cache",
    "/data",
    "/datasets",
    "/dataset",
    "/mnt",
    "/scratch",
    "/opt/data",
    "/srv",
    "/work",
    "/tmp",
    "~",
)
SEARCH_DEPTH = 3
SEARCH_SECONDS = 15.0
SKIP_DIRS = {"proc", "sys", "dev", "node_modules", "__pycache__", ".git", "site-packages"}


def _batches_ok(folder: Path) -> bool:
    from course import data

    return all((folder / name).is_file() for name in data.ALL_FILES)


def find_cifar10(explicit: str | None = None, seconds: float = SEARCH_SECONDS) -> dict:
    """Look for CIFAR-10 (extracted folder or the official archive) without downloading.

    Order: ``explicit`` (``--data``), ``$COURSE_DATA``, then :data:`SEARCH_ROOTS`, each walked
    :data:`SEARCH_DEPTH` levels deep, within ``seconds`` in all. Returns ``folders`` (parents of
    a complete ``cifar-10-batches-py``), ``archives`` (``cifar-10-python.tar.gz`` files) and
    ``searched``.
    """
    from course import data

    t_end = time.monotonic() + seconds
    starts = [p for p in (explicit, os.environ.get(data.DATA_ENV)) if p]
    starts += [s.format(repo=REPO) for s in SEARCH_ROOTS]
    found = {"folders": [], "archives": [], "searched": [], "complete": True}
    seen: set[str] = set()
    for start in starts:
        root = Path(start).expanduser()
        if not root.is_dir():
            continue
        found["searched"].append(str(root))
        frontier = [(root, 0)]
        while frontier:
            if time.monotonic() > t_end:
                found["complete"] = False
                return found
            folder, depth = frontier.pop(0)
            try:
                key = str(folder.resolve())
            except OSError:
                continue
            if key in seen:
                continue
            seen.add(key)
            if folder.name == data.FOLDER_NAME and _batches_ok(folder):
                found["folders"].append(str(folder.parent))
                continue
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.name == data.ARCHIVE_NAME and entry.is_file():
                    found["archives"].append(entry.path)
                elif (
                    depth < SEARCH_DEPTH
                    and entry.is_dir(follow_symlinks=False)
                    and entry.name not in SKIP_DIRS
                    and (not entry.name.startswith(".") or entry.name == ".cache")
                ):
                    frontier.append((Path(entry.path), depth + 1))
    return found


def phase_data(cfg: dict, work: Path, explicit: str | None, dry_run: bool) -> dict:
    """Choose the data: real CIFAR-10 if found (a found archive extracted into ``work``),
    else a synthetic stand-in generated in ``work``."""
    from course import data

    result: dict = {}
    found = find_cifar10(explicit) if cfg["search"] else {"folders": [], "archives": []}
    result["search"] = found
    real = [f for f in found["folders"] if not data.is_synthetic(f)]
    root = None
    if not dry_run:
        if real:
            root = Path(real[0])
        for archive in [] if root else found["archives"]:
            target = work / "cifar10"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(archive, target / data.ARCHIVE_NAME)
            try:  # md5-checked extraction; the archive is present, so nothing is downloaded
                data.download_cifar10(target, progress=False)
            except data.DataError as err:
                result.setdefault("rejected_archives", []).append(f"{archive}: {err}")
                shutil.rmtree(target, ignore_errors=True)
                continue
            if not data.is_synthetic(target):
                root = target
                result["extracted_from"] = archive
                break
    if root is None:
        root = work / "synthetic"
        data.make_fake_cifar10(root, n_train=cfg["synthetic_train"], n_test=cfg["synthetic_test"])
        result["note"] = (
            "dry run: a small synthetic stand-in, whatever the search found"
            if dry_run
            else "no CIFAR-10 on this machine: the synthetic stand-in; accuracies say nothing "
            "about CIFAR-10, timings hold (same shapes and counts)"
        )
    result.update(root=str(root), name=data.dataset_name(root), synthetic=data.is_synthetic(root))
    return result


# --------------------------------------------------------------------------------------------
# phases 3 and 5: throughput (benchmarks/train_throughput.py, side by side)
# --------------------------------------------------------------------------------------------


def throughput_cmd(cfg: dict, root: str, pipelines: str, json_path: Path) -> list[str]:
    t = cfg["throughput"]
    cmd = [sys.executable, str(THROUGHPUT), "--data", root, "--n-images", str(cfg["n_images"])]
    cmd += ["--pipelines", pipelines, "--compile-backend", cfg["compile_backend"]]
    cmd += ["--width", str(t["width"]), "--batch-size", str(t["batch_size"])]
    cmd += ["--warmup", str(t["warmup"]), "--steps", str(t["steps"])]
    cmd += ["--max-seconds", str(t["max_seconds"]), "--num-workers", str(t["workers"])]
    cmd += ["--json", str(json_path)]
    if cfg["device"]:
        cmd += ["--device", cfg["device"]]
    if cfg["threads"]:
        cmd += ["--threads", str(cfg["threads"])]
    return cmd


def phase_throughput(cfg, root, pipelines, out: Path, name: str, deadline: float) -> dict:
    json_path = out / f"{name}.json"
    json_path.unlink(missing_ok=True)
    child = Child(throughput_cmd(cfg, root, pipelines, json_path), out / f"{name}.log", deadline)
    for _ in child.events():
        pass
    result = json.loads(json_path.read_text()) if json_path.is_file() else {}
    result["command"] = "python " + " ".join(
        str(Path(a).relative_to(REPO)) if a == str(THROUGHPUT) else a for a in child.proc.args[1:]
    )
    wanted = pipelines.split(",")
    missing = [p for p in wanted if p not in result.get("results", {})]
    if child.timed_out:
        result["status"] = "cut"
        result["error"] = f"stopped at its deadline; not measured: {missing}"
    elif child.returncode != 0 or missing:
        result["status"] = "failed"
        result["error"] = f"exit status {child.returncode}; not measured: {missing}\n{child.tail()}"
    else:
        result["status"] = "ok"
    return result


# --------------------------------------------------------------------------------------------
# phase 4: lesson 05's recipe, killed and resumed
# --------------------------------------------------------------------------------------------


def lesson_recipe(path: Path = LESSON_05) -> dict:
    """``RECIPE`` as the solution notebook of lesson 05 sets it (its graded cell, executed)."""

    nb = notebooks.read(path)
    found = [c for c in nb.cells if cells.grade_id(c) == RECIPE_CELL]
    if len(found) != 1:
        raise RuntimeError(f"{path}: expected one cell with grade_id {RECIPE_CELL!r}.")
    scope: dict = {}
    exec(compile(notebooks.strip_markers(found[0].source), str(path), "exec"), scope)  # noqa: S102
    recipe = scope.get("RECIPE")
    if not isinstance(recipe, dict) or "epochs" not in recipe or "batch_size" not in recipe:
        raise RuntimeError(f"{path}: the {RECIPE_CELL!r} cell sets no RECIPE dict.")
    return recipe


def plan_epochs(
    recipe_epochs: int,
    seconds: float,
    images_per_s: float | None,
    n_fit: int,
    n_val: int,
    startup_s: float,
    finish_s: float,
) -> tuple[int, str]:
    """Epochs that fit in ``seconds`` (two worker starts, the finish, one epoch redone after
    the kill, 15% slack), at most the recipe's and at least 2 (a kill needs a checkpoint to
    resume from); with the reason."""
    if not images_per_s:
        return min(recipe_epochs, 5), "no throughput measured: 5 epochs, a guess"
    epoch_s = 1.15 * (n_fit / images_per_s + n_val / (3 * images_per_s)) + 0.5
    fits = int((seconds - 2 * startup_s - finish_s) / epoch_s) - 1
    epochs = max(2, min(recipe_epochs, fits))
    why = (
        f"~{epoch_s:.1f} s an epoch (from the course pipeline's {images_per_s:,.0f} img/s) "
        f"and {seconds:.0f} s for this phase: {fits} epochs fit"
    )
    return epochs, why


def worker(config_path: str) -> int:
    """``--worker CONFIG``: one training process of the recipe phase (started twice)."""
    cfg = json.loads(Path(config_path).read_text())
    emit("start", pid=os.getpid())
    sys.path.insert(0, str(HERE))
    import torch
    import train_throughput as tp

    from course import data, runtime, scoring, train

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    device = runtime.get_device(cfg["device"])
    images, labels, name = tp.load_train(cfg["root"], cfg["n_images"])
    # lesson 05's split: 10% of the training images for validation, fixed by seed 0
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    n_val = len(perm) // 10
    val_idx, fit_idx = perm[:n_val], perm[n_val:]
    mean, std = channel_stats(images[fit_idx])
    recipe = dict(cfg["recipe"], epochs=cfg["epochs"], batch_size=cfg["batch_size"])
    train_loader = data.CifarLoader(
        images[fit_idx], labels[fit_idx], recipe["batch_size"], train=True,
        device=device, mean=mean, std=std, seed=0,
    )  # fmt: skip
    val_loader = data.CifarLoader(
        images[val_idx], labels[val_idx], 1000, train=False, device=device, mean=mean, std=std
    )
    model_class = lesson_model(cfg["width"])
    model = model_class()
    emit("fit_start", epochs=recipe["epochs"], dataset=name, device=str(device))
    history = train.fit(
        model, train_loader, val_loader, checkpoint_dir=cfg["checkpoint_dir"], progress=False,
        log=lambda message: emit("log", message=message),
        **{k: v for k, v in recipe.items() if k != "batch_size"},
    )  # fmt: skip
    emit("fit_done", history=history)

    test_images, test_labels = data.load_cifar10(cfg["root"], "test")
    test_loader = data.CifarLoader(
        test_images, test_labels, 1000, train=False, device=device, mean=mean, std=std
    )
    plain = train.evaluate(model, test_loader)
    tta = train.evaluate(model, test_loader, tta=True)
    emit("test", accuracy=plain["accuracy"], tta_accuracy=tta["accuracy"], n=plain["n"])
    path = Path(cfg["checkpoint_dir"]) / "resnet34_cifar10.pt"
    scoring.save_model(
        model, path, stem="cifar", mean=mean, std=std, classes=data.CLASSES,
        epochs=recipe["epochs"], val_accuracy=history[-1]["val_acc"], recipe=recipe,
        history=history, dataset=name,
    )  # fmt: skip
    score = scoring.score_checkpoint(
        model_class, path, root=cfg["root"], n=cfg["score_n"], device=device, use_cache=False
    )
    emit(
        "score", ok=score.ok, accuracy=score.accuracy, n=score.n, message=score.message,
        precision=runtime.precision_label(device),
    )  # fmt: skip
    return 0


def channel_stats(images):
    """Per-channel mean and std of uint8 images (N, 3, H, W), pixel scale [0, 1], pooled over
    all pixels (lesson 05's ``channel_stats``: the course library leaves it to the student)."""
    import torch

    x = images.to(torch.float64) / 255
    return x.mean(dim=(0, 2, 3)).float(), x.std(dim=(0, 2, 3), correction=0).float()


def lesson_model(width: int):
    """The CIFAR ResNet-34 of ``train_throughput.py`` with lesson 05's constructor
    ``(num_classes, stem)``, as ``course.scoring`` builds the student's class."""
    import train_throughput as tp

    class ResNet34(tp.ResNet34):
        def __init__(self, num_classes: int = 10, stem: str = "cifar"):
            if stem != "cifar":
                raise ValueError(f"only the CIFAR stem here, got {stem!r}")
            super().__init__(num_classes=num_classes, width=width)

    return ResNet34


DEADLINE_BEFORE_KILL = "the deadline came before the kill"
EPOCH_LINE = re.compile(r"^epoch (\d+)/(\d+)(?! \(partial\))")
EPOCH_SECONDS = re.compile(
    r"\s([\d.]+)s\s+[\d,]+ img/s$"
)  # fit's epoch line: "... 41.2s  1,093 img/s"
RESUMED_LINE = re.compile(r"^resumed from .*: epoch (\d+)/(\d+) done")


class RecipeRun:
    """The parent's side of the recipe phase: start the worker, SIGKILL it mid-epoch after the
    checkpoint of epoch ``kill_after``, start it again, collect what it reports."""

    def __init__(self, report: Report, entry: dict, cmd, ckpt: Path, out: Path, kill_after: int):
        self.report, self.entry, self.cmd, self.ckpt, self.out = report, entry, cmd, ckpt, out
        self.kill_after = kill_after
        self.epoch_lines: list[dict] = entry.setdefault("epoch_lines", [])

    def checkpoint_epoch(self) -> int | None:
        """The epoch in ``last.pt`` now (memory-mapped: the weights are not read), or None."""
        import torch

        try:
            checkpoint = torch.load(self.ckpt, map_location="cpu", mmap=True, weights_only=True)
            return int(checkpoint["epoch"])
        except Exception:  # noqa: BLE001 - not written yet
            return None

    def _record(self, ev: dict, run: int) -> None:
        kind = ev["event"]
        if kind == "log":
            message = ev["message"]
            self.epoch_lines.append({"run": run, "t": ev["t"], "message": message})
            resumed = RESUMED_LINE.match(message)
            if resumed:
                self.entry["resumed_from_epoch"] = int(resumed.group(1))
        elif kind == "fit_start":
            self.entry.setdefault("starts", []).append({"run": run, "t": ev["t"]})
            self.entry["dataset"] = ev["dataset"]
        elif kind in ("fit_done", "test", "score"):
            self.entry[kind] = {k: v for k, v in ev.items() if k not in ("event",)}
        self.report.save()

    def first_run(self, deadline: float) -> None:
        """Until the kill: once ``last.pt`` holds epoch ``kill_after``, wait 40% of that epoch's
        training time (so the next epoch is under way) and SIGKILL the worker's process group."""
        child = Child(self.cmd, self.out / "recipe_worker.log", deadline)
        train_s = saved_at = None
        for kind, line in child.events():
            now = time.monotonic()
            ev = parse_event(line) if kind == "line" else None
            if ev:
                self._record(ev, run=1)
                match = EPOCH_LINE.match(ev.get("message", "")) if ev["event"] == "log" else None
                if match and int(match.group(1)) >= self.kill_after and train_s is None:
                    seconds = EPOCH_SECONDS.search(ev["message"])
                    train_s = float(seconds.group(1)) if seconds else 1.0
            if train_s is not None and saved_at is None:
                if (self.checkpoint_epoch() or 0) >= self.kill_after:
                    saved_at = now
            if saved_at is not None and now - saved_at >= 0.4 * train_s:
                child.kill()
                self.entry["kill"] = {
                    "signal": "SIGKILL",
                    "checkpoint_epoch_at_kill": self.checkpoint_epoch(),
                    "seconds_after_checkpoint": round(now - saved_at, 2),
                    "epoch_training_seconds": train_s,
                }
                self.report.save()
                return
        self.entry["kill"] = {
            "error": DEADLINE_BEFORE_KILL
            if child.timed_out
            else "the worker ended before it could be killed",
            "returncode": child.returncode,
            "log_tail": child.tail(),
        }
        self.report.save()

    def second_run(self, deadline: float) -> Child:
        t_start = time.time()
        child = Child(self.cmd, self.out / "recipe_worker.log", deadline)
        for kind, line in child.events():
            ev = parse_event(line) if kind == "line" else None
            if ev:
                if RESUMED_LINE.match(ev.get("message", "")):
                    self.entry["resume_seconds"] = round(ev["t"] - t_start, 1)
                self._record(ev, run=2)
        return child


def history_from_checkpoint(path: Path) -> list[dict]:
    """The epochs a cut run completed, from its ``last.pt`` (empty when there is none)."""
    from course import train

    try:
        return train.load_checkpoint(path)["history"]
    except train.CheckpointError:
        return []


def phase_recipe(cfg, report: Report, data_info: dict, ips, clock: Clock, recipe_future):
    entry = report.data["phases"]["recipe"]
    recipe = recipe_future.result(timeout=max(1.0, clock.left()))
    entry["recipe"] = recipe
    n_fit = cfg["n_images"] - cfg["n_images"] // 10
    seconds = clock.left() - cfg["compiled_reserve"]
    if "epochs" in cfg:  # the dry run: fixed
        epochs, why = cfg["epochs"], cfg.get("epochs_why", "a dry run trains 3")
    else:
        epochs, why = plan_epochs(
            recipe["epochs"], seconds, ips, n_fit, cfg["n_images"] // 10,
            cfg["startup_s"], cfg["finish_s"],
        )  # fmt: skip
    batch_size = cfg.get("batch_size", recipe["batch_size"])
    entry.update(
        epochs=epochs, recipe_epochs=recipe["epochs"], batch_size=batch_size, plan=why,
        shortened=epochs < recipe["epochs"], n_fit=n_fit, n_val=cfg["n_images"] // 10,
        width=cfg["width"],
    )  # fmt: skip
    work = Path(cfg["work"])
    ckpt_dir = work / "recipe"
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    worker_cfg = {
        "root": data_info["root"], "n_images": cfg["n_images"], "device": cfg["device"],
        "threads": cfg["threads"], "width": cfg["width"], "epochs": epochs,
        "batch_size": batch_size, "recipe": recipe, "checkpoint_dir": str(ckpt_dir),
        "score_n": cfg["score_n"],
    }  # fmt: skip
    cfg_path = work / "recipe_worker.json"
    cfg_path.write_text(json.dumps(worker_cfg, indent=2))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(cfg_path)]
    say(clock, f"recipe: {epochs} of the recipe's {recipe['epochs']} epochs ({why})")
    run = RecipeRun(report, entry, cmd, ckpt_dir / "last.pt", report.out, max(1, epochs // 2))
    deadline = time.monotonic() + clock.left() - min(cfg["compiled_reserve"], 0.5 * clock.left())
    run.first_run(deadline)
    child = None
    if "error" in entry["kill"]:
        cut = entry["kill"]["error"] == DEADLINE_BEFORE_KILL
        entry.update(status="cut" if cut else "failed", error=f"kill: {entry['kill']['error']}")
    else:
        say(clock, f"recipe: worker killed ({entry['kill']}); resuming")
        child = run.second_run(deadline)
    history = entry.get("fit_done", {}).get("history") or history_from_checkpoint(
        ckpt_dir / "last.pt"
    )
    entry["history"] = history  # a cut run: the epochs its checkpoint holds
    entry["epochs_completed"] = len([r for r in history if not r.get("partial")])
    seconds = [r["seconds"] for r in history]
    if seconds:
        entry["epoch_seconds"] = {
            "median": statistics.median(seconds),
            "first": seconds[0],
            "total_training": sum(seconds),
        }
    if child is None:
        return entry
    if child.timed_out:
        entry.update(status="cut", error="stopped at its deadline (epochs done are reported)")
    elif child.returncode != 0 or "score" not in entry:
        entry.update(status="failed", error=f"exit status {child.returncode}\n{child.tail()}")
    elif entry.get("resumed_from_epoch") != entry["kill"].get("checkpoint_epoch_at_kill"):
        entry.update(
            status="failed",
            error=f"resumed from epoch {entry.get('resumed_from_epoch')}, but the checkpoint at "
            f"the kill held epoch {entry['kill'].get('checkpoint_epoch_at_kill')}",
        )
    elif [row["epoch"] for row in history] != list(range(1, epochs + 1)):
        entry.update(status="failed", error=f"history epochs {[r['epoch'] for r in history]}")
    else:
        entry["status"] = "ok"
    return entry


# --------------------------------------------------------------------------------------------
# the markdown block for benchmarks/RESULTS.md
# --------------------------------------------------------------------------------------------


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def _num(x, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def markdown(r: dict) -> str:
    env = r["phases"].get("env", {})
    dat = r["phases"].get("data", {})
    lines = [
        f"## GPU check{' (DRY RUN on CPU: not a measurement)' if r.get('dry_run') else ''}: "
        f"{r.get('date', '?')}",
        "",
        f"- Command: `{r.get('command', '?')}` (budget {r.get('budget_s')} s, used "
        f"{r.get('elapsed_s')} s)",
        f"- Device: {env.get('device_name', '?')} ({env.get('device', '?')}), driver "
        f"{env.get('driver', '–')}, CUDA {env.get('torch_cuda', '–')}, cuDNN "
        f"{env.get('cudnn', '–')}, torch {env.get('torch', '?')}, Python {env.get('python', '?')}, "
        f"{env.get('cpu_cores', '?')} CPU cores; precision: {env.get('precision', '?')}",
        f"- Data: {dat.get('name', '?')} ({dat.get('root', '?')})"
        + (f"; {dat['note']}" if dat.get("note") else ""),
    ]
    for name in ("env", "data", "throughput", "recipe", "compiled"):
        phase = r["phases"].get(name)
        if phase and phase.get("status") not in (None, "ok"):
            error = str(phase.get("error", "")).splitlines()[0:1]
            lines.append(f"- Phase `{name}`: **{phase['status']}** {' '.join(error)}")
    tp = r["phases"].get("throughput", {})
    compiled = r["phases"].get("compiled", {})
    results = {**tp.get("results", {}), **compiled.get("results", {})}
    if results:
        base = results.get("dataloader", {}).get("images_per_s")
        lines += [
            "",
            f"Throughput, {tp.get('model') or compiled.get('model')}, batch "
            f"{tp.get('batch_size') or compiled.get('batch_size')}, {tp.get('n_images', '?'):,} "
            f"{tp.get('data', '?')} images, timed steps after warm-up "
            f"(`benchmarks/train_throughput.py`):",
            "",
            "| pipeline | precision | img/s | TFLOP/s | of bf16 peak | vs DataLoader | set-up + warm-up |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, res in results.items():
            frac = res.get("fraction_of_bf16_peak")
            ratio = f"{res['images_per_s'] / base:.2f}×" if base else "–"
            lines.append(
                f"| {name} | {res.get('precision')}"
                f"{', compile ' + str(res['compile']) if res.get('compile') else ''} | "
                f"{res['images_per_s']:,.0f} | {res.get('tflops', 0):.1f} | "
                f"{'–' if frac is None else f'{frac:.1%}'} | {ratio} | "
                f"{res.get('warmup_seconds', 0):.1f} s |"
            )
    rec = r["phases"].get("recipe", {})
    if rec.get("recipe"):
        lines += [
            "",
            f"Lesson 05's recipe through `course.train.fit`: `{rec['recipe']}`; ran "
            f"{rec.get('epochs')} of its {rec.get('recipe_epochs')} epochs"
            + (f" (shortened: {rec.get('plan')})" if rec.get("shortened") else "")
            + f", {rec.get('n_fit', 0):,} training / {rec.get('n_val', 0):,} validation images, "
            f"batch {rec.get('batch_size')}, ResNet-34 width {rec.get('width')}.",
        ]
        kill = rec.get("kill", {})
        if "signal" in kill:
            lines.append(
                f"The training process was killed ({kill['signal']}) mid-epoch, "
                f"{kill['seconds_after_checkpoint']} s after `last.pt` of epoch "
                f"{kill['checkpoint_epoch_at_kill']} was written; a new process resumed from "
                f"epoch {rec.get('resumed_from_epoch', '?')} ({rec.get('resume_seconds', '?')} s "
                "from its start to the resume)"
                + (" and finished the run." if rec.get("status") == "ok" else ".")
            )
        history = rec.get("history") or []
        if history:
            lines += [
                "",
                "| epoch | train loss | train acc | val loss | val acc | lr | s | img/s |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for row in history:
                lines.append(
                    f"| {row['epoch']} | {row['train_loss']:.4f} | {_pct(row['train_acc'])} | "
                    f"{_num(row['val_loss'], '.4f')} | "
                    f"{_pct(row['val_acc'])} | {row['lr']:.4g} | {row['seconds']:.1f} | "
                    f"{row['images_per_s']:,.0f} |"
                )
        es = rec.get("epoch_seconds")
        if es:
            lines.append(
                f"\nTime per epoch (training steps): median {es['median']:.1f} s, first "
                f"{es['first']:.1f} s; {es['total_training']:.0f} s of training in all."
            )
        test, score = rec.get("test"), rec.get("score")
        if test:
            lines.append(
                f"Test accuracy ({test['n']:,} {rec.get('dataset', '?')} test images): "
                f"{_pct(test['accuracy'])} as trained ({env.get('precision', '?')}), "
                f"{_pct(test['tta_accuracy'])} with flip TTA"
                + (
                    f"; the grader's measurement (`course.scoring.score_checkpoint`, fp32, "
                    f"{score['n']:,} images): {_pct(score['accuracy'])}."
                    if score and score.get("ok")
                    else f"; scoring failed: {score and score.get('message')}."
                )
            )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


class OutOfTime(Exception):
    """The backstop alarm: the budget is spent while the parent itself was busy."""


def _alarm(_signum, _frame):
    raise OutOfTime("the budget ran out (backstop alarm)")


def run_phase(report: Report, clock: Clock, name: str, fn, *args) -> dict:
    """Run one phase: marked ``running`` first (so a kill shows where), its result merged in;
    an exception fails this phase only, with the message."""
    report.phase(name, status="running", started_s=round(clock.elapsed(), 1))
    try:
        result = fn(*args) or {}
    except OutOfTime:
        raise
    except Exception as err:  # noqa: BLE001 - a broken phase must not lose the others' results
        import traceback

        traceback.print_exc()
        result = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    result.setdefault("status", "ok")
    result["seconds"] = round(clock.elapsed() - report.data["phases"][name]["started_s"], 1)
    return report.phase(name, **result)


def run_check(args) -> int:
    cfg = dict(DRY if args.dry_run else FULL)
    if args.budget:
        cfg["budget"] = args.budget
    if args.device:
        cfg["device"] = args.device
    if args.epochs:
        cfg["epochs"], cfg["epochs_why"] = args.epochs, f"--epochs {args.epochs}"
    if args.dry_run:
        os.environ.setdefault("COURSE_PRECISION", "bf16")  # the bf16 path, under CPU autocast
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    clock = Clock(cfg["budget"], cfg["end_margin"])
    out = Path(args.out)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg["work"] = str(work)
    report = Report(
        out, clock,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        command=" ".join(["python", "benchmarks/gpu_check.py", *sys.argv[1:]]),
        dry_run=args.dry_run, budget_s=cfg["budget"], work=str(work),
    )  # fmt: skip
    phases = report.data["phases"]
    # Backstop: every child has its own deadline; this catches the parent itself (CUDA
    # initialisation, the data search, a slow disk) half the end margin before the budget.
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(max(1, int(cfg["budget"] - clock.end_margin / 2)))
    say(clock, f"budget {cfg['budget']:.0f} s; results in {out}, work files in {work}")
    try:
        env = run_phase(report, clock, "env", phase_env, cfg)
        say(clock, f"env: {env.get('device_name')} ({env.get('device')}), torch "
                   f"{env.get('torch')}, driver {env.get('driver')}, {env.get('precision')}")  # fmt: skip
        dat = run_phase(report, clock, "data", phase_data, cfg, work, args.data, args.dry_run)
        if dat["status"] == "ok":
            say(clock, f"data: {dat['name']} at {dat['root']}")
            root = dat["root"]
            # read lesson 05's RECIPE (nbformat's import takes seconds) while the throughput runs
            recipe_future = ThreadPoolExecutor(max_workers=1).submit(lesson_recipe)
            deadline = time.monotonic() + min(cfg["throughput_cap"], clock.left() / 3)
            tp = run_phase(report, clock, "throughput", phase_throughput, cfg, root,
                           "dataloader,course", out, "throughput", deadline)  # fmt: skip
            ips = tp.get("results", {}).get("course", {}).get("images_per_s")
            if cfg["throughput"]["width"] != cfg["width"]:
                ips = None  # measured on another model: no basis for planning
            say(clock, "recipe: lesson 05's RECIPE through course.train.fit, killed and resumed")
            run_phase(
                report, clock, "recipe", phase_recipe, cfg, report, dat, ips, clock, recipe_future
            )
            if clock.left() < 20:
                report.phase("compiled", status="cut", error=f"{clock.left():.0f} s left")
            else:
                say(clock, "compiled: the course pipeline under torch.compile")
                run_phase(report, clock, "compiled", phase_throughput, cfg, root,
                          "course_compiled", out, "compiled", time.monotonic() + clock.left())  # fmt: skip
    except OutOfTime as err:
        running = [n for n, p in phases.items() if p.get("status") == "running"]
        for name in running or ["check"]:
            report.phase(name, status="cut", error=str(err))
    finally:
        signal.alarm(0)
        Child.kill_all()
        if not args.keep_work and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    report.save()
    expected = ("env", "data", "throughput", "recipe", "compiled")
    not_ok = {n: phases.get(n, {}).get("status", "not reached") for n in expected}
    not_ok = {n: s for n, s in not_ok.items() if s != "ok"}
    print("\n" + markdown(report.data), flush=True)
    say(clock, f"done in {clock.elapsed():.0f} s: {out / 'gpu_check.json'}, "
               f"{out / 'gpu_check.md'}; " + (f"NOT OK: {not_ok}" if not_ok else "all phases ok"))  # fmt: skip
    return 1 if not_ok else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gpu_check_out", help="where the JSON/markdown go")
    parser.add_argument("--work", default=None, help="checkpoints etc. (default: a temp dir)")
    parser.add_argument("--keep-work", action="store_true", help="keep the temp work dir")
    parser.add_argument("--data", default=None, help="a CIFAR-10 root to try first")
    parser.add_argument("--budget", type=float, default=None, help="seconds in all (default 480)")
    parser.add_argument("--device", default=None, help="default: cuda if available (dry run: cpu)")
    parser.add_argument("--dry-run", action="store_true", help="the same code, tiny, on CPU")
    parser.add_argument(
        "--epochs", type=int, default=None, help="train this many epochs (default: what fits)"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.budget is not None and args.budget < 3 * END_MARGIN_S:
        parser.error(f"--budget must be at least {3 * END_MARGIN_S:.0f} seconds")
    return run_check(args)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # `course` from this checkout when PYTHONPATH is unset
    sys.exit(main())
