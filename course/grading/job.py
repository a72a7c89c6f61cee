"""Grade one notebook: the student's cells in a sandbox, the tests here, verdicts here.

:func:`run_job` walks the staged notebook in order, as a kernel would:

* the student's code cells (answers, their own cells, demos) run in the sandbox
  (:mod:`course.grading.sandbox`), each under the cell timeout;
* the course's **setup cell** (the source's first code cell) runs here first; **helper
  cells** (locked cells whose grade id ends in ``helpers``) run in the sandbox and here. What
  runs here is always the course source's text, never the submission's;
* **test cells** run only here, from the course source (hidden tests included), in a namespace
  whose missing names resolve to the student's objects as proxies (:mod:`course.grading.proxy`,
  docs/TEST_FORM.md). A test passes when it runs to the end; its points are nbgrader's.

If the sandbox dies or times out, it is replaced and the student's cells that ran so far are
run again (the cell that broke it is left out), at most :data:`MAX_STARTS` times.

The job reports a :class:`JobResult` (a typed record with a JSON round trip): points per test,
the outcome of every cell, and the outputs of the student's own cells for the instructor's copy
and the feedback page. Nothing the student's process sent is trusted beyond being plain data.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import os
import time
import traceback
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from course.grading.report import Status

if TYPE_CHECKING:
    from course.grading.proxy import Session
    from course.grading.sandbox import Limits

MAX_STARTS = 4  # sandbox starts per notebook (the first, then replacements)
MESSAGE_CHARS = 600


# --------------------------------------------------------------------------- contracts
CellKind = Literal["markdown", "student", "helper", "test"]
# how a student's or helper cell ended: ran, raised, timed out, its process died or ran out of
# memory, or never ran (the sandbox was given up)
CellStatus = Literal["ok", "error", "timeout", "died", "memory", "not run"]


@dataclass
class CellSpec:
    """One cell of the staged notebook, as the job runs it."""

    index: int
    kind: CellKind
    source: str  # what runs in the sandbox (student and helper cells) or is shown
    grade_id: str | None = None
    points: float = 0.0
    trusted: str | None = None  # what runs here (helper, test): the course's text


@dataclass
class JobSpec:
    """Everything one job needs; built by :mod:`course.grading.batch` (the parent)."""

    student: str
    lesson: str
    cells: list[CellSpec]
    setup: str  # the course source's first code cell (imports), run here first
    files: dict[str, str]  # handed-in files: path in the lesson folder -> staged copy
    data: str | None  # the CIFAR-10 folder (read-only in the sandbox)
    cell_timeout: float
    timeout: float
    limits: Limits  # of the notebook's sandbox
    source: str  # the course source notebook (for lesson 05's reference model)
    unsafe: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        from course.grading.sandbox import Limits

        d = json.loads(text)
        d["cells"] = [CellSpec(**c) for c in d["cells"]]
        d["limits"] = Limits(**d["limits"])
        return cls(**d)


@dataclass
class TestOutcome:
    grade_id: str
    points: float
    earned: float
    message: str = ""  # the check's message when it failed ("" when passed)

    @property
    def passed(self) -> bool:
        return self.earned >= self.points


@dataclass
class CellOutcome:
    index: int
    status: CellStatus
    error: str = ""  # "ValueError: ..." (the student's own cell)
    outputs: list = field(default_factory=list)  # nbformat outputs (text and PNG only)


@dataclass
class JobResult:
    student: str
    lesson: str
    status: Status = Status.GRADED  # CRASHED: the grader failed; TIMEOUT: its worker overran
    tests: list[TestOutcome] = field(default_factory=list)
    cells: list[CellOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # points lost to limits, restarts
    flags: list[str] = field(default_factory=list)  # for manual review (course.grading.constraints)
    authoring: list[str] = field(default_factory=list)  # problems of the course's own tests
    seconds: float = 0.0
    sandbox_starts: int = 0
    unsafe: bool = False

    @property
    def score(self) -> float:
        return sum(t.earned for t in self.tests)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobResult:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("not a job result")
        d["tests"] = [TestOutcome(**t) for t in d.get("tests", [])]
        d["cells"] = [CellOutcome(**c) for c in d.get("cells", [])]
        d["status"] = Status(d.get("status", Status.GRADED))
        return cls(**d)


# --------------------------------------------------------------------------- messages
def clean_text(text: str, limit: int = MESSAGE_CHARS) -> str:
    """Text safe to show in a report or a feedback page: control and format characters
    (zero-width and bidi marks included) removed, NFKC-normalised, length capped."""
    text = unicodedata.normalize("NFKC", str(text))
    text = "".join(
        ch
        for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_message(exc: BaseException, timeout: float) -> str:
    from course.grading import proxy, wire

    if isinstance(exc, proxy.SandboxTimeout):
        return f"the student's code did not finish within {timeout:g} s"
    if isinstance(exc, wire.TooLarge):
        return clean_text(f"what your code returned is too large to grade: {exc}")
    if isinstance(exc, proxy.SandboxError):
        return f"the notebook's process stopped: {exc}"
    name = type(exc).__name__
    message = str(exc).strip()
    if name == "NotImplementedError" and not message:
        return "not answered yet (the answer cell still raises NotImplementedError)"
    if isinstance(exc, AssertionError):
        return clean_text(message or "AssertionError")
    if isinstance(exc, proxy.StudentError):
        return clean_text(f"your code raised {name}: {message}")
    return clean_text(f"{name}: {message}")


# --------------------------------------------------------------------------- the job
class Job:
    def __init__(self, spec: JobSpec, workdir: Path):
        from course.grading.sandbox import Sandbox

        self.spec = spec
        self.result = JobResult(spec.student, spec.lesson, unsafe=spec.unsafe)
        self.started = time.monotonic()
        self.cell_deadline = self.started + spec.cell_timeout
        self.sandbox = Sandbox(
            spec.lesson,
            {rel: Path(p) for rel, p in spec.files.items()},
            Path(spec.data) if spec.data else None,
            spec.limits,
            workdir / "sandbox.log",
            self.deadline,
            unsafe=spec.unsafe,
        )
        self.session: Session | None = None
        self.replay: list[CellSpec] = []  # student cells that ran (to replay after a restart)
        self.given_up = False
        self.ns: dict = {}
        self.injected: set[str] = set()
        self.sticky: set[str] = set()
        self.ran: dict[int, CellSpec] = {}  # the latest code that ran in the sandbox, per cell
        self._verdicts: dict = {}
        self._course_locked: set[str] | None = None

    def deadline(self) -> float:
        return min(self.cell_deadline, self.started + self.spec.timeout)

    def _arm(self) -> None:
        self.cell_deadline = time.monotonic() + self.spec.cell_timeout

    # ------------------------------------------------------------------ sandbox
    @property
    def live(self) -> Session:
        """The session, once :meth:`_ensure_sandbox` has said True."""
        assert self.session is not None, "no live session: call _ensure_sandbox first"
        return self.session

    def _ensure_sandbox(self) -> bool:
        """A live session, replaying the student's cells after a restart; False: given up."""
        from course.grading import proxy, wire

        if self.session is not None and self.session.alive and not self.sandbox.dead():
            return True
        if self.given_up:
            return False
        while self.sandbox.report.starts < MAX_STARTS:
            if time.monotonic() > self.started + self.spec.timeout:
                break
            if self.sandbox.report.starts:
                self.result.notes.append("the notebook's process was restarted")
            self._arm()
            self.cell_deadline += 60  # start-up: importing torch can be slow on a busy machine
            try:
                self.session = self.sandbox.start()
            except proxy.SandboxError as exc:
                self.result.notes.append(f"the sandbox did not start: {exc}")
                continue
            ok = True
            for cell in list(self.replay):
                self._arm()
                try:
                    self.session.request(wire.Exec(cell.source))
                except (proxy.SandboxError, proxy.StudentError):
                    self.replay.remove(cell)  # it breaks the process: leave it out
                    ok = False
                    break
            if ok:
                return True
        self.given_up = True
        self.result.notes.append(
            f"gave up after {self.sandbox.report.starts} starts of the notebook's process"
        )
        return False

    def _lost(self, what: str) -> str:
        """Why the sandbox went away (memory, timeout, death), and replace it next time."""
        mem = self.sandbox.report.memory_killed_mb
        self.sandbox.stop()
        self.session = None
        if mem:
            self.sandbox.report.memory_killed_mb = None
            limit = self.sandbox.limits.memory_mb
            return f"{what} ran out of memory ({mem:.0f} MB resident; the limit is {limit} MB)"
        return what

    # ------------------------------------------------------------------ cells
    def run_student_cell(self, cell: CellSpec) -> CellOutcome:
        from course.grading import proxy, wire

        out = CellOutcome(cell.index, "ok")
        if not self._ensure_sandbox():
            out.status = "not run"
            return out
        self._arm()
        try:
            reply, _ = self.live.request(wire.Exec(cell.source))
        except proxy.SandboxTimeout:
            out.status, out.error = (
                "timeout",
                self._lost(f"timed out after {self.spec.cell_timeout:g} s"),
            )
            self.result.notes.append(f"cell {cell.index + 1} {out.error}")
            return out
        except proxy.SandboxError as exc:
            why = self._lost(f"the process died ({exc})")
            out.status, out.error = ("memory" if "memory" in why else "died"), why
            self.result.notes.append(f"cell {cell.index + 1}: {why}")
            return out
        self.replay.append(cell)
        self.ran[cell.index] = cell
        out.outputs = _outputs(reply.get("outputs"))
        err = reply.get("error")
        if isinstance(err, dict):
            out.status = "error"
            out.error = clean_text(f"{err.get('type', 'Error')}: {err.get('message', '')}", 400)
        return out

    def run_trusted(self, code: str, name: str) -> None:
        """Run the course's own code (setup, helper, test) here, in the test namespace."""
        self._inject(code)
        compiled = compile(code, f"<{name}>", "exec")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compiled, self.ns)  # noqa: S102 - the course's own test code

    def _inject(self, code: str) -> None:
        """Give the test the student's objects for the names it uses and does not define."""
        from course.grading import wire

        for name in self.injected:
            self.ns.pop(name, None)
        self.injected = set()
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return
        free = _free_names(tree)
        # names read by functions of earlier trusted cells (a helper that calls the student's
        # function) resolve at call time: keep providing them
        self.sticky |= free
        wanted = sorted((free | self.sticky) - set(self.ns) - set(dir(builtins)))
        if not wanted or not self._ensure_sandbox():
            return
        self._arm()
        reply, buffers = self.live.request(wire.Names(wanted))
        found = self.live.decode(reply.get("value"), buffers)
        for name, value in (found if isinstance(found, dict) else {}).items():
            if name in wanted:
                self.ns[name] = value
                self.injected.add(name)

    # ------------------------------------------------------------------ how-constraints
    def _locked_ids(self) -> set[str]:
        """Grade ids of the course's locked cells (their text in the staged notebook is the
        course's, not the student's)."""
        if self._course_locked is None:
            from course import cells as nbcells
            from course.checkout import notebooks as nbs

            try:
                source = nbs.read(Path(self.spec.source))
                self._course_locked = {
                    nbcells.grade_id(c) for c in source.cells
                    if c.cell_type == "code" and nbcells.is_locked(c)
                    and not nbcells.is_solution(c) and nbcells.grade_id(c)
                }  # fmt: skip
            except (OSError, ValueError):
                self._course_locked = set()
        return self._course_locked

    def constraint(self, grade_id: str):
        """The verdict of :mod:`course.grading.constraints` on the exercise of ``grade_id``
        (None: the exercise has no how-constraint), from the student's code that ran so far."""
        from course import cells as nbcells
        from course.grading import constraints

        exercise = nbcells.exercise_of(grade_id)
        rule = constraints.rule_of(self.spec.lesson, exercise)
        if rule is None:
            return None, exercise
        locked = self._locked_ids()
        cells = [
            (c.source, c.kind == "student" and c.grade_id not in locked)
            for _, c in sorted(self.ran.items())
        ]
        key = (exercise, tuple(cells))
        if key not in self._verdicts:
            self._verdicts[key] = constraints.analyse(cells, exercise, rule)
        return self._verdicts[key], exercise

    def run_test(self, cell: CellSpec) -> TestOutcome:
        from course.grading import constraints, proxy

        outcome = TestOutcome(cell.grade_id, cell.points, 0.0)  # type: ignore[arg-type]
        verdict, exercise = self.constraint(cell.grade_id)  # type: ignore[arg-type]
        if verdict is not None and not verdict.clean:
            outcome.message = clean_text(verdict.message(exercise))
            flag = verdict.flag(exercise)
            if flag and clean_text(flag) not in self.result.flags:
                self.result.flags.append(clean_text(flag))
            return outcome
        guard = contextlib.nullcontext()
        if verdict is not None and verdict.rule == constraints.BY_HAND:
            guard = self._call_options(no_autograd=f"{exercise} {constraints.RULES['by_hand']}")  # type: ignore[assignment]
        self._arm()
        try:
            with guard:
                self.run_trusted(cell.trusted, cell.grade_id)  # type: ignore[arg-type]
            outcome.earned = cell.points
        except proxy.AuthoringError as exc:
            outcome.message = clean_text(f"grader error in this test: {exc}")
            self.result.authoring.append(f"{cell.grade_id}: {exc}")
        except (proxy.SandboxTimeout, proxy.SandboxError) as exc:
            outcome.message = self._lost(failure_message(exc, self.spec.cell_timeout))
            self.result.notes.append(f"{cell.grade_id}: {outcome.message}")
        except Exception as exc:  # noqa: BLE001 - a failing test, whatever it raised
            outcome.message = failure_message(exc, self.spec.cell_timeout)
            if _raised_by_grader(exc):
                self.result.authoring.append(
                    f"{cell.grade_id}: the test raised {type(exc).__name__} in the grader: "
                    f"{clean_text(str(exc), 200)}"
                )
        return outcome

    # ------------------------------------------------------------------ whole notebook
    @contextlib.contextmanager
    def hooks(self):
        """While active, ``course.checks`` routes how-checks, helpers marked
        ``runs_beside_student`` and lesson 05's checkpoint scoring through this job."""
        import torch

        from course import checks

        saved = checks.grading_hooks
        checks.grading_hooks = {
            "call_options": self._call_options,
            "beside_student": self._beside_student,
            "first_hint_only": True,
            "score_checkpoint": self._score_checkpoint,
        }
        # a test that reseeds torch reseeds the student's code too (see proxy.Session._seed)
        seeding = {"manual_seed": torch.manual_seed, "set_rng_state": torch.set_rng_state}

        def wrap(func):
            def reseed(*args, **kwargs):
                if self.session is not None:
                    self.session.reseeded()
                return func(*args, **kwargs)

            return reseed

        for name, func in seeding.items():
            setattr(torch, name, wrap(func))
        try:
            yield self
        finally:
            checks.grading_hooks = saved
            for name, func in seeding.items():
                setattr(torch, name, func)

    def open(self) -> None:
        """Run the course's setup cell here (call inside :meth:`hooks`)."""
        self.ns = {"__name__": "__grader__", "__builtins__": builtins}
        self.run_trusted(self.spec.setup, "setup")

    def close(self) -> JobResult:
        from course import scoring

        scoring._CACHE.clear()
        self.sandbox.stop()
        self.result.sandbox_starts = self.sandbox.report.starts
        self.result.seconds = round(time.monotonic() - self.started, 2)
        return self.result

    def run_cell(self, cell: CellSpec) -> None:
        if cell.kind == "test":
            self.result.tests.append(self.run_test(cell))
        elif cell.kind in ("student", "helper"):
            self.result.cells.append(self.run_student_cell(cell))
            if cell.kind == "helper" and cell.trusted:
                self.run_trusted(cell.trusted, cell.grade_id or "helpers")

    def run(self) -> JobResult:
        """Grade the whole notebook (see the module docstring)."""
        try:
            with self.hooks():
                self._run_all()
        finally:
            self.close()
        return self.result

    def _run_all(self) -> None:
        self.open()
        for cell in self.spec.cells:
            if time.monotonic() > self.started + self.spec.timeout:
                self.result.notes.append(
                    f"the whole notebook hit its {self.spec.timeout:g} s limit"
                )
                break
            self.run_cell(cell)
        done = {t.grade_id for t in self.result.tests}
        for cell in self.spec.cells:  # tests never reached (the whole-notebook limit)
            if cell.kind == "test" and cell.grade_id not in done:
                self.result.tests.append(
                    TestOutcome(cell.grade_id or "", cell.points, 0.0, "not run: time limit")
                )

    # ------------------------------------------------------------------ hooks (course.checks)
    @contextlib.contextmanager
    def _call_options(self, **options):
        if not self._ensure_sandbox():
            yield
            return
        with self.live.call_options(**options):
            yield

    def _beside_student(self, func, args, kwargs):
        from course.grading import proxy

        if not proxy.has_proxy([list(args), kwargs]):
            return func(*args, **kwargs)
        if not self._ensure_sandbox():
            raise proxy.SandboxError("the notebook's process is gone")
        return self.live.call(None, args, kwargs, lib=(func.__module__, func.__name__))

    def _score_checkpoint(self, path, **kwargs):
        """Lesson 05's bands: the handed-in file (as staged, before any code ran) loaded with
        ``weights_only`` into the *course's* ResNet34; the student's class never runs."""
        from course import checks, scoring
        from course.grading import checkpoints

        if not isinstance(path, str | os.PathLike):  # the student's own variable: their word
            path = scoring.CHECKPOINT_PATH
        rel = Path(path).as_posix()
        staged = self.spec.files.get(rel)
        if staged is None:
            return scoring.Score(
                False,
                message=f"No checkpoint handed in: {rel} was not in the submission. Train the "
                "model, save it there and hand it in with the notebook.",
                path=rel,
            )
        if not hasattr(self, "_reference_class"):
            self._reference_class = checkpoints.load_reference(self.spec.source)
        hooks = checks.grading_hooks
        checks.grading_hooks = None
        try:
            kwargs.setdefault("root", self.spec.data)
            return scoring.score_checkpoint(self._reference_class, staged, **kwargs)
        finally:
            checks.grading_hooks = hooks


def _free_names(tree: ast.AST) -> set[str]:
    """Names a cell reads and never binds (a test's own ``x = ...`` needs no student ``x``)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound


def _raised_by_grader(exc: BaseException) -> bool:
    """True for an exception that is neither a check's verdict nor the student's error, raised
    by the course's own code (e.g. a test that sends what cannot be sent)."""
    from course.grading import proxy, wire

    if isinstance(exc, AssertionError | proxy.StudentError | proxy.SandboxError | wire.TooLarge):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.endswith(("proxy.py", "wire.py"))


def _outputs(raw) -> list:
    """The student's cell outputs as nbformat outputs: text and PNG only, capped."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        if item.get("name") in ("stdout", "stderr") and isinstance(item.get("text"), str):
            out.append(
                {
                    "output_type": "stream",
                    "name": item["name"],
                    "text": clean_text(item["text"], 20_000),
                }
            )
        elif isinstance(item.get("data"), dict):
            data = {}
            png = item["data"].get("image/png")
            if isinstance(png, str) and len(png) < 2_000_000 and _base64(png):
                data["image/png"] = png
            text = item["data"].get("text/plain")
            if isinstance(text, str):
                data["text/plain"] = clean_text(text, 5_000)
            if data:
                out.append({"output_type": "display_data", "data": data, "metadata": {}})
        if len(out) >= 20:
            break
    return out


def _base64(text: str) -> bool:
    import base64
    import binascii

    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def run_job(spec_json: str, workdir: str) -> str:
    """Entry point in a grading worker process: the JSON of the :class:`JobResult`."""
    spec = JobSpec.from_json(spec_json)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = str(spec.limits.threads)
    try:
        import torch

        torch.set_num_threads(spec.limits.threads)
        result = Job(spec, work).run()
    except Exception as exc:  # noqa: BLE001 - a bug of ours: this notebook, not the class
        result = JobResult(spec.student, spec.lesson, status=Status.CRASHED, unsafe=spec.unsafe)
        result.notes.append(f"grader error: {type(exc).__name__}: {exc}")
        result.authoring.append(traceback.format_exc()[-2000:])
    return result.to_json()


def main(argv: list[str] | None = None) -> int:
    """``python -m course.grading.job SPEC.json WORKDIR``: grade one notebook in this process
    and write ``WORKDIR/result.json`` (how a cluster worker runs a job: see
    :mod:`course.grading.batch`)."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    spec_path, workdir = Path(argv[0]), Path(argv[1])
    text = run_job(spec_path.read_text(encoding="utf-8"), str(workdir))
    tmp = workdir / "result.json.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, workdir / "result.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
