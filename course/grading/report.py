"""What ``course grade`` reports: one :class:`Result` per (student, lesson), the summary table,
``grades.csv`` and the score-distribution plot.

Student ids and file names come from the class's folders: every one is shown through
:func:`display`, which escapes control characters, so a folder named ``"bob\nalice,10"`` cannot
forge a row of the table or the CSV.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

UNSAFE = (
    "UNSAFE: graded WITHOUT the OS sandbox (--unsafe-no-sandbox): the students' code ran with "
    "the grader's files and rights. Use these grades only for code you trust."
)


def display(text: str) -> str:
    """``text`` with control, format and other non-printable characters escaped (``\\x0a``)."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(text))


def path_name(student: str) -> str:
    """A folder name for ``student`` under OUT/ (the id itself when it is plain)."""
    plain = display(student)
    if plain == student and student not in (".", "..") and "/" not in student:
        return student
    return "student-" + hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Status(StrEnum):
    """How the grading of one (student, lesson) ended (``grades.csv``'s ``status``).

    ``graded``: the notebook ran (its points may still be partial: see ``reason``); the others
    score 0: no notebook, an unreadable one, a grading worker stopped at its time limit (the
    notebook's limit and :data:`course.grading.batch.GRACE_S`), or the grader failed."""

    GRADED = "graded"
    MISSING = "missing"
    UNREADABLE = "unreadable"
    TIMEOUT = "timeout"
    CRASHED = "crashed"


# each status's mark after a score in the summary table, and its words in the table's legend
MARKS: dict[Status, tuple[str, str]] = {
    Status.GRADED: ("", "graded"),
    Status.MISSING: ("-", "missing"),
    Status.UNREADABLE: ("U", "unreadable"),
    Status.TIMEOUT: ("T", "timed out"),
    Status.CRASHED: ("X", "grader crash"),
}
REVIEW_MARK = ("!", "flagged for review")


def legend() -> str:
    """The summary table's legend, from :data:`MARKS`: ``(- missing, U unreadable, ...)``."""
    marks = [*MARKS.values(), REVIEW_MARK]
    return "(" + ", ".join(f"{mark} {words}" for mark, words in marks if mark) + ")"


@dataclass
class Result:
    student: str
    lesson: str
    score: float = 0.0
    max_score: float = 0.0
    status: Status = Status.GRADED
    reason: str = ""  # why points were lost to the grader's limits (timeouts, memory, crash)
    flags: list[str] = field(default_factory=list)  # what a human should look at
    manual_max: float = 0.0  # points of written answers, left to the instructor
    seconds: float = 0.0
    tests: dict[str, float] = field(default_factory=dict)  # test grade id -> points earned
    unsafe: bool = False  # graded without the OS sandbox

    @property
    def review(self) -> bool:
        """Needs a human: flagged, or not graded for a reason other than a missing notebook."""
        return bool(self.flags) or self.status not in (Status.GRADED, Status.MISSING)

    def note(self, text: str) -> None:
        self.reason = f"{self.reason}; {text}" if self.reason else text


CSV_FIELDS = [
    "student",
    "lesson",
    "score",
    "max_score",
    "status",
    "review",
    "reason",
    "flags",
    "manual_max",
    "sandbox",
]


def write_csv(results: list[Result], path: Path) -> None:
    """One row per (student, lesson); ``flags`` joined with ``; ``."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_FIELDS)
        for r in results:
            w.writerow(
                [
                    display(r.student),
                    display(r.lesson),
                    f"{r.score:g}",
                    f"{r.max_score:g}",
                    r.status,
                    "yes" if r.review else "no",
                    display(r.reason),
                    display("; ".join(r.flags)),
                    f"{r.manual_max:g}",
                    "NONE (unsafe)" if r.unsafe else "bubblewrap",
                ]
            )


def _percent(score: float, top: float) -> float:
    return 100.0 * score / top if top else 0.0


def plot_scores(results: list[Result], lessons: list[str], path: Path) -> None:
    """Histogram of autograded scores (%) per lesson, plus the total when there are several."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*lessons, "total"] if len(lessons) > 1 else list(lessons)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.8), squeeze=False)
    students = sorted({r.student for r in results})
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "total":
            mine = [[r for r in results if r.student == s] for s in students]
            values = [
                _percent(sum(r.score for r in rs), sum(r.max_score for r in rs)) for rs in mine
            ]
        else:
            values = [_percent(r.score, r.max_score) for r in results if r.lesson == panel]
        ax.hist(values, bins=range(0, 101, 10), color="#4c72b0", edgecolor="white")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("autograded score (%)")
        ax.set_xlim(0, 100)
    axes[0][0].set_ylabel("students")
    fig.suptitle(f"Score distribution ({len(students)} students)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(results: list[Result], lessons: list[str]) -> str:
    """The student × lesson table, then what was not graded, what lost points to the grader's
    limits, and what is flagged for manual review (each with its reason)."""
    students = sorted({r.student for r in results})
    by = {(r.student, r.lesson): r for r in results}
    w = max([len("student"), *(len(display(s)) for s in students)])
    cols = [max(len(lesson), 9) for lesson in lessons]
    head = [f"{'student':<{w}}", *(f"{le:>{c}}" for le, c in zip(lessons, cols, strict=True))]
    lines = ["  ".join([*head, f"{'total':>9}"])]
    for s in students:
        cells, total, top = [], 0.0, 0.0
        for lesson, c in zip(lessons, cols, strict=True):
            r = by[(s, lesson)]
            mark = MARKS[r.status][0] + (REVIEW_MARK[0] if r.review else "")
            cells.append(f"{f'{r.score:g}/{r.max_score:g}{mark}':>{c}}")
            total, top = total + r.score, top + r.max_score
        lines.append("  ".join([f"{display(s):<{w}}", *cells, f"{f'{total:g}/{top:g}':>9}"]))
    lines.append(legend())
    sections = [
        ("Not graded (0 points):", [r for r in results if r.status != Status.GRADED]),
        (
            "Graded, with points lost to a limit or a dead kernel:",
            [r for r in results if r.status == Status.GRADED and r.reason],
        ),
    ]
    for title, rows in sections:
        if rows:
            lines += ["", title]
            lines += [
                f"  {display(r.student)} / {r.lesson}: {r.status}: {display(r.reason)}"
                for r in rows
            ]
    review = [r for r in results if r.flags]
    if review:
        lines += ["", "Flagged for manual review (the score above stands until you change it):"]
        for r in review:
            lines.append(f"  {display(r.student)} / {r.lesson}:")
            lines += [f"    - {display(f)}" for f in r.flags]
    manual = {r.lesson: r.manual_max for r in results if r.manual_max}
    if manual:
        per = ", ".join(f"{lesson} {pts:g}" for lesson, pts in manual.items())
        lines += ["", f"Not included above: written answers, graded by hand ({per} points)."]
    return "\n".join(lines)
