"""What a student sees in the notebook: one-line errors for unanswered exercises and the
progress table of the last cell.

``course.checks`` calls :func:`install` when it is imported in an IPython kernel (every lesson's
first code cell imports it), so in JupyterLab, Colab, VS Code, ``course check`` and nbgrader's
Validate alike:

* an exercise whose answer cell still holds nbgrader's stub (a bare ``NotImplementedError``)
  reads, in one line, ``NotImplementedError: not answered yet: `residual_block` still raises
  NotImplementedError ...`` instead of a traceback through the test;
* a failing check shows its message only (``course.checks`` attaches the rendering; see
  :func:`render_message`), while every other error keeps its full traceback: a student
  debugging their own code needs to see which of their lines failed;
* every cell's result is recorded (by its source), so :func:`show`, the notebook's last cell,
  prints one row per exercise with its points and what its visible tests said when the
  student last ran them.

``course check`` (:mod:`course.tools.selfcheck`) prints the same table from a fresh kernel.

Lessons: every lesson, through its generated last cell (``progress.show()``,
:mod:`course.tools.course_cells`) and through ``course.checks``; no lesson's own code calls it.
"""

from __future__ import annotations

import ast
import hashlib
import html
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from course import cells, runtime

__all__ = [
    "ExerciseRow",
    "install",
    "show",
    "table_rows",
    "format_table",
    "render_message",
    "unanswered_message",
    "error_line",
    "outcome",
    "NOT_EARNED",
]

_RED, _RESET = "\x1b[0;31m", "\x1b[0m"
# How a cell that has not earned its points *yet* says so on stderr, followed by what to do
# (lesson 05's accuracy bands without a checkpoint): the table shows that line as the message.
NOT_EARNED = "not earned yet"


# --------------------------------------------------------------------------- one-line errors
def render_message(ename: str, message: str) -> list[str]:
    """A traceback that is just ``ename: message`` (IPython's ``_render_traceback_`` protocol)."""
    return [f"{_RED}{ename}{_RESET}: {message}"]


class _Rendered:
    """Picklable ``_render_traceback_`` for an exception that should show as its message."""

    def __init__(self, ename: str, message: str) -> None:
        self.ename, self.message = ename, message

    def __call__(self) -> list[str]:
        return render_message(self.ename, self.message)


def as_message_only(exc: BaseException) -> BaseException:
    """Make IPython show ``exc`` as ``Type: message``, without the traceback; returns ``exc``."""
    exc._render_traceback_ = _Rendered(type(exc).__name__, str(exc))  # type: ignore[attr-defined]
    return exc


def unanswered_message(tb) -> str:
    """``not answered yet: ...`` naming the stub that raised, from the traceback ``tb``."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    name = getattr(code, "co_qualname", None) or getattr(code, "co_name", "")
    name = name.replace(".<locals>", "").removesuffix(".__init__")
    if not name or name == "<module>":
        return (
            f"{cells.NOT_ANSWERED}: this answer cell still raises NotImplementedError "
            "(replace `# YOUR CODE HERE` and `raise NotImplementedError()` with your answer)"
        )
    return (
        f"{cells.NOT_ANSWERED}: `{name}` still raises NotImplementedError (write your answer "
        "in its cell and run that cell first)"
    )


def error_line(ename: str, evalue: str) -> str:
    """The first line of an error as the progress table shows it."""
    evalue = (evalue or "").strip()
    if ename == "NotImplementedError" and (not evalue or evalue.startswith(cells.NOT_ANSWERED)):
        return cells.NOT_ANSWERED
    text = f"{ename}: {evalue}".strip().rstrip(":")
    return _shorten(text.split("\n", 1)[0])


def _shorten(line: str, limit: int = 400) -> str:
    """``line``, cut at a word (never inside one) when longer than ``limit``."""
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0] + " …"


def _show_not_implemented(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler for NotImplementedError and NameError (see
    :func:`install`)."""
    if isinstance(value, NotImplementedError) and not getattr(value, "args", True):
        value.args = (unanswered_message(tb),)  # nbgrader's stub: raise NotImplementedError()
        as_message_only(value)
    elif isinstance(value, NameError) and getattr(value, "name", None) in _stopped:
        value.args = (undefined_message(value.name, _stopped[value.name]),)
        as_message_only(value)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)


# names that a cell of this session would have set, had it not stopped with an error: name ->
# that cell's error (one line). A later NameError for one of them says which exercise to finish.
_stopped: dict[str, str] = {}


def undefined_message(name: str, error: str) -> str:
    """Why ``name`` is undefined: the cell that sets it stopped with ``error`` (one line)."""
    stub = re.search(r"`([^`]+)` still raises NotImplementedError", error)
    if stub or error.startswith(cells.NOT_ANSWERED):
        what = f"`{stub.group(1)}`" if stub else "the exercise above it"
        return (
            f"`{name}` is not defined yet: the cell that sets it stopped because {what} is not "
            f"answered yet. Finish {what} first, then run the cells from there down."
        )
    return (
        f"`{name}` is not defined yet: the cell that sets it stopped with {error}. Fix that "
        "cell first, then run the cells from there down."
    )


def _names_set_by(source: str) -> set[str]:
    """Top-level names a cell's code assigns (``x = ...``, ``def f``, ``import m``, ``for i``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For | ast.AsyncFor):
                targets = [node.target]
            elif isinstance(node, ast.With | ast.AsyncWith):
                targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


# --------------------------------------------------------------------------- recording results
@dataclass
class Outcome:
    ok: bool
    message: str  # error_line(...), "" when ok


_results: dict[str, Outcome] = {}
_installed_on: int | None = None


def _key(source: str) -> str:
    text = "\n".join(line.rstrip() for line in (source or "").strip().splitlines())
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def outcome(error: BaseException | None, stderr: str | None) -> Outcome:
    """Whether a cell earned its points: nbgrader's rule (``nbgrader.utils.determine_grade``),
    the one rule of the progress table, Validate, ``course check`` and the grader: a cell that
    raised *or wrote to stderr* earns nothing. ``stderr`` is what the cell wrote there (``None``:
    nothing)."""
    if error is not None:
        return Outcome(False, error_line(type(error).__name__, str(error)))
    if stderr is not None:
        return Outcome(False, stderr_line(stderr))
    return Outcome(True, "")


def stderr_line(text: str) -> str:
    """The message of a cell that wrote ``text`` to stderr (and so earns no points)."""
    first = _shorten(next((line.strip() for line in str(text).splitlines() if line.strip()), ""))
    if first.startswith(NOT_EARNED):
        return first  # a course message that says what to do (e.g. lesson 05's band cells)
    return f"the cell wrote to stderr, which the grader counts as a failure: {first}"


class _StderrWatch:
    """What the running cell writes to ``sys.stderr`` (:func:`install` resets it per cell)."""

    def __init__(self) -> None:
        self.text: str | None = None

    def reset(self, *_args) -> None:
        """``pre_run_cell``: forget the last cell's text and watch ``sys.stderr.write``.

        IPython itself swaps ``write`` for each cell (its ``_tee``, restored after the cell), so
        the watch is put on again before every cell, on top of whatever ``write`` is then."""
        self.text = None
        stream = sys.stderr
        write = getattr(stream, "write", None)
        if write is None or getattr(write, "_course_watch", False):
            return

        def watched(s, *args, **kwargs):
            if s:
                self.text = (self.text or "") + str(s)
            return write(s, *args, **kwargs)

        watched._course_watch = True  # type: ignore[attr-defined]
        try:
            stream.write = watched
        except (AttributeError, TypeError):  # a stream that takes no attributes: not watched
            pass


_stderr = _StderrWatch()


def _record(result) -> None:
    info = getattr(result, "info", None)
    source = getattr(info, "raw_cell", None)
    if not source:
        return
    err = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
    _results[_key(source)] = outcome(err, _stderr.text)
    names = _names_set_by(source)
    if err is None or isinstance(err, SyntaxError):
        for name in names:
            _stopped.pop(name, None)
    else:
        reason = str(err).split("\n", 1)[0] if isinstance(err, NotImplementedError) else None
        reason = reason or error_line(type(err).__name__, str(err))
        for name in names:  # those it did set before stopping never raise a NameError
            _stopped[name] = reason


def install(shell=None) -> bool:
    """In an IPython shell (a kernel): one-line stubs, and record every cell's result.

    Idempotent; a no-op outside IPython (the trusted grader, plain Python). Leaves an existing
    custom exception handler of someone else in place. Returns whether it is installed.
    """
    global _installed_on
    if shell is None:
        ipython = sys.modules.get("IPython")  # not imported: not an IPython kernel
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "events"):
        return False
    if _installed_on == id(shell):
        return True
    shell.events.register("pre_run_cell", _stderr.reset)
    shell.events.register("post_run_cell", _record)
    if not getattr(shell, "custom_exceptions", ()):
        shell.set_custom_exc((NotImplementedError, NameError), _show_not_implemented)
    _installed_on = id(shell)
    return True


# --------------------------------------------------------------------------- the table
@dataclass
class ExerciseRow:
    exercise: str
    points: float
    earned: float
    status: str  # "passed", "failed", "not run" or "manual"
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def manual(self) -> bool:
        return self.status == "manual"


def table_rows(nb_cells, outcome_of) -> list[ExerciseRow]:
    """One row per exercise, in notebook order; ``outcome_of(test_cell)`` is an
    :class:`Outcome` or ``None`` (not run). Written answers are listed as ``manual``."""
    rows: dict[str, ExerciseRow] = {}
    tests: dict[str, list[tuple[str, float, Outcome | None]]] = {}
    for cell in nb_cells:
        gid = cells.grade_id(cell)
        if not gid:
            continue
        if cells.is_manual(cell):
            rows[gid] = ExerciseRow(
                gid, cells.points(cell), 0.0, "manual", "written answer: graded by your instructor"
            )
        elif cells.is_solution(cell):
            rows.setdefault(gid, ExerciseRow(gid, 0.0, 0.0, "not run"))
        elif cells.is_test(cell):
            ex = cells.exercise_of(gid)
            rows.setdefault(ex, ExerciseRow(ex, 0.0, 0.0, "not run"))
            tests.setdefault(ex, []).append((gid, cells.points(cell), outcome_of(cell)))
    for ex, seen in tests.items():
        row = rows[ex]
        row.points = sum(pts for _, pts, _ in seen)
        row.earned = sum(pts for _, pts, out in seen if out is not None and out.ok)
        failed = [(gid, out) for gid, _, out in seen if out is not None and not out.ok]
        ran = sum(out is not None for _, _, out in seen)
        if failed:
            gid, out = failed[0]
            row.status = "failed"
            row.message = (
                out.message if out.message == cells.NOT_ANSWERED else f"[{gid}] {out.message}"
            )
        elif ran == len(seen):
            row.status = "passed"
        else:
            row.message = f"{ran} of {len(seen)} test cells run" if ran else ""
    return list(rows.values())


_STATUS = {"passed": "passed", "failed": "FAILED", "not run": "not run", "manual": "manual"}


def format_table(rows: list[ExerciseRow], width: int = 100) -> str:
    """The table as text, ``width`` characters wide: messages wrap at words under their column
    (never cut)."""
    w = max([len("exercise"), len("total (auto-graded)"), *(len(r.exercise) for r in rows)])
    lines = [f"{'exercise':<{w}}  {'points':>9}  {'result':<7}  message", "-" * (w + 40)]
    indent = w + 2 + 9 + 2 + 7 + 2
    wrap = textwrap.TextWrapper(
        width=max(width - indent, 30), break_long_words=False, break_on_hyphens=False
    )
    for r in rows:
        pts = f"?/{r.points:g}" if r.manual else f"{r.earned:g}/{r.points:g}"
        message = wrap.wrap(r.message) or [""]
        lines.append(f"{r.exercise:<{w}}  {pts:>9}  {_STATUS[r.status]:<7}  {message[0]}".rstrip())
        lines.extend(" " * indent + more for more in message[1:])
    auto = [r for r in rows if not r.manual]
    lines.append("-" * (w + 40))
    total, earned = sum(r.points for r in auto), sum(r.earned for r in auto)
    lines.append(f"{'total (auto-graded)':<{w}}  {f'{earned:g}/{total:g}':>9}")
    return "\n".join(lines)


_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "not run": "#6e7781", "manual": "#6e7781"}


class ProgressTable:
    """The table, as text (``print``) and as HTML (JupyterLab, Colab)."""

    def __init__(self, rows: list[ExerciseRow], note: str = "") -> None:
        self.rows, self.note = rows, note

    def __str__(self) -> str:
        return format_table(self.rows) + (f"\n{self.note}" if self.note else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cell = 'style="text-align:{};padding:2px 10px"'
        out = [
            "<table class='course-progress' style='border-collapse:collapse'>",
            f"<tr><th {cell.format('left')}>exercise</th><th {cell.format('right')}>points</th>"
            f"<th {cell.format('left')}>result</th><th {cell.format('left')}>message</th></tr>",
        ]
        for r in self.rows:
            pts = f"?/{r.points:g}" if r.manual else f"{r.earned:g}/{r.points:g}"
            out.append(
                f"<tr><td {cell.format('left')}><code>{html.escape(r.exercise)}</code></td>"
                f"<td {cell.format('right')}>{pts}</td>"
                f"<td {cell.format('left')}><b style='color:{_COLOURS[r.status]}'>"
                f"{_STATUS[r.status]}</b></td>"
                f"<td {cell.format('left')}>{html.escape(r.message)}</td></tr>"
            )
        auto = [r for r in self.rows if not r.manual]
        total, earned = sum(r.points for r in auto), sum(r.earned for r in auto)
        out.append(
            f"<tr style='border-top:1px solid #888'><td {cell.format('left')}><b>total "
            f"(auto-graded)</b></td><td {cell.format('right')}><b>{earned:g}/{total:g}</b></td>"
            "<td></td><td></td></tr></table>"
        )
        if self.note:
            out.append(f"<p style='margin-top:4px'>{html.escape(self.note)}</p>")
        return "\n".join(out)


# --------------------------------------------------------------------------- finding the notebook
def _colab_notebook() -> dict | None:
    try:
        from google.colab import _message  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return _message.blocking_request("get_ipynb", timeout_sec=10)["ipynb"]
    except Exception:  # noqa: BLE001 - best effort: the table says how to get it otherwise
        return None


def find_notebook(user_ns: dict | None = None) -> Path | dict | None:
    """This notebook: its file (JupyterLab, JupyterHub, VS Code, nbclient) or, on Colab, its JSON."""
    user_ns = user_ns or {}
    for name in (os.environ.get("JPY_SESSION_NAME"), user_ns.get("__vsc_ipynb_file__")):
        if name and Path(name).suffix == ".ipynb" and Path(name).is_file():
            return Path(name)
    here = sorted(Path.cwd().glob("*.ipynb"))
    if len(here) == 1:  # a lesson folder holds one notebook; nbclient and Validate run there
        return here[0]
    return _colab_notebook()


def show(notebook: str | os.PathLike | dict | None = None) -> None:
    """Print the progress table for this notebook (the last cell of every lesson).

    Silent while nbgrader autogrades (the feedback has the real scores). Visible tests only: the
    hidden tests run when the notebook is graded.
    """
    if runtime.grading_mode() == "autograde":
        return None
    user_ns = {}
    try:
        from IPython import get_ipython

        shell = get_ipython()
        user_ns = shell.user_ns if shell is not None else {}
    except ImportError:
        shell = None
    found = notebook if notebook is not None else find_notebook(user_ns)
    if found is None:
        print(
            "progress: could not find this notebook's file; from a terminal run "
            "`course check <notebook>` for the table."
        )
        return None
    nb = found if isinstance(found, dict) else json.loads(Path(found).read_text(encoding="utf-8"))
    rows = table_rows(nb.get("cells", []), lambda c: _results.get(_key(cells.source(c))))
    note = (
        "Visible tests as you last ran them in this session (hidden tests run only when your "
        "notebook is graded: passing here is necessary, not sufficient)."
    )
    if any(r.status == "not run" for r in rows):
        note += " 'not run': run its test cells (or Run All)."
    table = ProgressTable(rows, note)
    if shell is not None:
        from IPython.display import display

        display(table)
    else:
        print(table)
    return None
