"""``course report GRADES``: what the class missed, on one offline page an instructor reads in
two minutes.

Reads what ``course grade`` wrote in GRADES (``grades.csv``: one row per student and lesson,
with status and flags; ``results/*.json``: every test's points and the check's message) and
writes, beside them:

* ``report.html`` — self-contained (styles inline, plots as ``data:`` images, no script, no
  outside request): per lesson the score distribution, median and the missing / unreadable /
  flagged counts; per test the pass rate and its discrimination; per test the most frequent
  failure messages grouped by template; the flags for manual review, each with what was seen;
* ``report_tests.csv`` (one row per test) and ``report_failures.csv`` (one row per failure
  template), the same numbers for a spreadsheet.

**Discrimination** is the point-biserial correlation between passing the test (0/1) and the
rest of the student's score on that lesson (the points of the *other* tests, so the test does
not correlate with itself), over the graded notebooks. It is the item-discrimination index of
classical test theory (Crocker & Algina 1986, *Introduction to Classical and Modern Test
Theory*, ch. 14). A test every strong student passes and weak ones fail scores near 1; near 0
it separates nothing; clearly below 0 (from -0.2) the strong students fail it more often than
the weak ones, which usually means the test (or its reference) is broken. It is undefined when everyone passed or
everyone failed, and noisy in a small class: the page says how many notebooks each number
rests on.

A failure **template** is the check's message with its numbers replaced by ``#`` (shapes,
values, tolerances): "expected shape (4, 16, 8, 8), got (4, 16, 16, 16)" and "expected shape
(2, 8, 4, 4), got (2, 8, 8, 8)" are one template, shown with its most frequent concrete
message. These are the ideas to teach again.

Every student id and message comes from the class and is escaped before it reaches the page.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from course.errors import CourseError
from course.grading.report import display

NUMBER = re.compile(r"(?<!\w)[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")  # not in a name
WEAK = 0.2  # discrimination below this (with enough students) is shown as weak
MIN_FOR_DISCRIMINATION = 5  # graded notebooks needed before a discrimination is shown
TOP_FAILURES = 3  # templates shown per test


# --------------------------------------------------------------------------- reading a class
@dataclass
class Row:
    """One (student, lesson) of grades.csv, with its tests from results/ when graded."""

    student: str  # as grades.csv shows it (escaped by course grade)
    lesson: str
    score: float
    max_score: float
    status: str
    review: bool
    reason: str
    flags: list[str]
    manual_max: float = 0.0  # written answers' points (graded by hand)
    tests: dict[str, tuple[float, float, str]] = field(
        default_factory=dict
    )  # id -> pts, earned, msg


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def load_class(grades: Path) -> list[Row]:
    """The class ``course grade`` wrote in ``grades`` (grades.csv and results/)."""
    grades = Path(grades)
    table = grades / "grades.csv"
    if not table.is_file():
        raise CourseError(f"no grades.csv in {grades}: give the folder `course grade --out` wrote")
    with open(table, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"student", "lesson", "score", "max_score", "status", "flags"}
        if not need <= set(reader.fieldnames or []):
            raise CourseError(f"{table} is not a course grade table (columns {sorted(need)})")
        rows = [
            Row(
                student=r["student"],
                lesson=r["lesson"],
                score=_float(r["score"]),
                max_score=_float(r["max_score"]),
                status=r["status"],
                review=r.get("review") == "yes",
                reason=r.get("reason", ""),
                flags=[f for f in r["flags"].split("; ") if f],
                manual_max=_float(r.get("manual_max", "0")),
            )
            for r in reader
        ]
    by = {(r.student, r.lesson): r for r in rows}
    for path in sorted((grades / "results").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            key = (display(data["student"]), display(data["lesson"]))
            tests = {
                str(t["grade_id"]): (
                    float(t["points"]),
                    float(t["earned"]),
                    str(t.get("message", "")),
                )
                for t in data["job"]["tests"]
            }
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a stale or foreign file: the table is what counts
        row = by.get(key)
        if row is not None and row.status == "graded":
            row.tests = tests
    return rows


# --------------------------------------------------------------------------- statistics
def template(message: str) -> str:
    """The message with its numbers replaced by ``#`` and its whitespace collapsed."""
    return " ".join(NUMBER.sub("#", message).split())


def point_biserial(passed: list[bool], rest: list[float]) -> float | None:
    """Pearson's r between a 0/1 variable and a score; None when either does not vary."""
    n = len(passed)
    if n < 2:
        return None
    x = [1.0 if p else 0.0 for p in passed]
    mx, my = sum(x) / n, sum(rest) / n
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in rest)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, rest, strict=True))
    return sxy / math.sqrt(sxx * syy)


@dataclass
class Failure:
    template: str
    count: int  # students whose message has this template
    example: str  # the most frequent concrete message of the template
    example_count: int


@dataclass
class TestStats:
    lesson: str
    test: str
    points: float
    graded: int  # notebooks with a verdict on this test
    passed: int
    discrimination: float | None
    failures: list[Failure]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0

    @property
    def verdict(self) -> str:
        d = self.discrimination
        if self.graded < MIN_FOR_DISCRIMINATION or d is None:
            return ""
        if d <= -WEAK:
            return "check this test: strong students fail it more often"
        if d < WEAK:
            return "weak: passing it says little about the rest"
        return ""


@dataclass
class LessonStats:
    lesson: str
    students: int
    percents: list[float]  # graded notebooks' autograded score, %
    counts: dict[str, int]  # status -> notebooks
    flagged: int

    @property
    def median(self) -> float | None:
        return statistics.median(self.percents) if self.percents else None


def lesson_stats(rows: list[Row]) -> list[LessonStats]:
    out = []
    for lesson in _lessons(rows):
        mine = [r for r in rows if r.lesson == lesson]
        out.append(
            LessonStats(
                lesson,
                len(mine),
                [100 * r.score / r.max_score for r in mine if r.status == "graded" and r.max_score],
                dict(Counter(r.status for r in mine)),
                sum(1 for r in mine if r.review),
            )
        )
    return out


def test_stats(rows: list[Row]) -> list[TestStats]:
    out = []
    for lesson in _lessons(rows):
        graded = [r for r in rows if r.lesson == lesson and r.tests]
        names: dict[str, float] = {}
        for r in graded:
            for gid, (points, _, _) in r.tests.items():
                names.setdefault(gid, points)
        for gid, points in names.items():
            have = [r for r in graded if gid in r.tests]
            passed = [r.tests[gid][1] >= r.tests[gid][0] for r in have]
            rest = [sum(e for g, (_, e, _) in r.tests.items() if g != gid) for r in have]
            groups: dict[str, Counter] = defaultdict(Counter)
            for r, ok in zip(have, passed, strict=True):
                if not ok:
                    message = r.tests[gid][2].strip() or "(no message)"
                    groups[template(message)][message] += 1
            failures = [
                Failure(t, sum(c.values()), *c.most_common(1)[0]) for t, c in groups.items()
            ]
            failures.sort(key=lambda f: (-f.count, f.template))
            out.append(
                TestStats(
                    lesson, gid, points, len(have), sum(passed),
                    point_biserial(passed, rest), failures,
                )
            )  # fmt: skip
    return out


def _lessons(rows: list[Row]) -> list[str]:
    return sorted({r.lesson for r in rows})


# --------------------------------------------------------------------------- the page
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plot_lesson(ls: LessonStats) -> str:
    """The lesson's score histogram as a data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    ax.hist(ls.percents, bins=range(0, 101, 10), color="#4c72b0", edgecolor="white")
    if ls.median is not None:
        ax.axvline(ls.median, color="#c44e52", lw=1.5, label=f"median {ls.median:.0f} %")
        ax.legend(fontsize=8, frameon=False)
    ax.set_xlim(0, 100)
    ax.set_xlabel("autograded score (%)", fontsize=8)
    ax.set_ylabel("notebooks", fontsize=8)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    uri = _png(fig)
    plt.close(fig)
    return uri


def plot_tests(tests: list[TestStats]) -> str:
    """Pass rate against discrimination, one point per test, as a data URI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    pts = [(t.pass_rate * 100, t.discrimination) for t in tests if t.discrimination is not None]
    if pts:
        ax.scatter([p for p, _ in pts], [d for _, d in pts], s=18, color="#4c72b0")
    ax.axhline(WEAK, color="#c44e52", lw=1, ls="--", label=f"weak below {WEAK:g}")
    ax.set_xlim(-2, 102)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("pass rate (%)", fontsize=8)
    ax.set_ylabel("discrimination", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    fig.tight_layout()
    uri = _png(fig)
    plt.close(fig)
    return uri


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:60rem;
padding:1rem;line-height:1.45;color:#222;overflow-wrap:anywhere}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1rem}img{max-width:100%;height:auto}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .45rem;text-align:left;vertical-align:top;
overflow-wrap:normal}td.warn{min-width:12rem}
td.n{text-align:right;white-space:nowrap}.warn{color:#a33}.muted{color:#666}
ul.fail{margin:.2rem 0 .2rem 1rem;padding:0}pre{white-space:pre-wrap;margin:0;font-size:.85rem}
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{flex:1 1 18rem;min-width:0}
"""


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def render(rows: list[Row], title: str = "Class report") -> str:
    """The report page (a complete HTML document)."""
    lessons, tests = lesson_stats(rows), test_stats(rows)
    e = html.escape
    students = len({r.student for r in rows})
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{students} student(s), {len(lessons)} lesson(s). Scores are the autograded points; "
        "written answers are graded by hand and not included. <a href='#tests'>Tests</a> · "
        "<a href='#failures'>What the class missed</a> · <a href='#flags'>Flags</a></p>",
        "<h2 id='lessons'>Lessons</h2><div class='cards'>",
    ]
    for ls in lessons:
        c = ls.counts
        not_run = c.get("timeout", 0) + c.get("crashed", 0)
        median = f"{ls.median:.0f} %" if ls.median is not None else "—"
        parts += [
            f"<div class='card'><h3>{e(ls.lesson)}</h3>",
            f"<img alt='score distribution of {e(ls.lesson)}' src='{plot_lesson(ls)}'>",
            "<div class='scroll'><table>",
            f"<tr><th>median</th><td class='n'>{median}</td></tr>",
            f"<tr><th>graded</th><td class='n'>{c.get('graded', 0)}</td></tr>",
            f"<tr><th>missing</th><td class='n'>{c.get('missing', 0)}</td></tr>",
            f"<tr><th>unreadable</th><td class='n'>{c.get('unreadable', 0)}</td></tr>",
            f"<tr><th>timed out / grader crash</th><td class='n'>{not_run}</td></tr>",
            f"<tr><th>flagged for review</th><td class='n'>{ls.flagged}</td></tr>",
            "</table></div></div>",
        ]
    parts += [
        "</div><h2 id='tests'>Tests: pass rate and discrimination</h2>",
        "<p>Discrimination: the correlation between passing the test and the rest of the "
        "lesson's score (point-biserial). Near 1 the test separates strong from weak "
        f"students; below {WEAK:g} it says little; at -{WEAK:g} or below look at the test itself. Shown from "
        f"{MIN_FOR_DISCRIMINATION} graded notebooks on.</p>",
        f"<img alt='pass rate against discrimination' src='{plot_tests(tests)}'>",
    ]
    for ls in lessons:
        parts += [
            f"<h3>{e(ls.lesson)}</h3><div class='scroll'><table><tr><th>test</th>"
            "<th>points</th><th>pass rate</th><th>discrimination</th><th>note</th></tr>"
        ]
        for t in (t for t in tests if t.lesson == ls.lesson):
            d = "—" if t.discrimination is None else f"{t.discrimination:+.2f}"
            parts.append(
                f"<tr><td>{e(t.test)}</td><td class='n'>{t.points:g}</td>"
                f"<td class='n'>{_pct(t.pass_rate)} of {t.graded}</td><td class='n'>{d}</td>"
                f"<td class='warn'>{e(t.verdict)}</td></tr>"
            )
        parts.append("</table></div>")
    parts += [
        "<h2 id='failures'>What the class missed</h2>",
        "<p>Per test, the most frequent failure messages, numbers left out to group them; "
        "each shown with its most frequent wording. These are the ideas to teach again.</p>",
    ]
    failing = [t for t in tests if t.failures]
    failing.sort(key=lambda t: (t.pass_rate, t.lesson, t.test))
    for t in failing:
        parts.append(
            f"<h3>{e(t.lesson)} · {e(t.test)} <span class='muted'>(failed by "
            f"{t.graded - t.passed} of {t.graded})</span></h3><ul class='fail'>"
        )
        for f in t.failures[:TOP_FAILURES]:
            parts.append(
                f"<li><b>{_pct(f.count / t.graded)} of the class</b> ({f.count}): "
                f"<pre>{e(f.example)}</pre></li>"
            )
        more = len(t.failures) - TOP_FAILURES
        if more > 0:
            parts.append(f"<li class='muted'>and {more} other message(s)</li>")
        parts.append("</ul>")
    if not failing:
        parts.append("<p>No test failed.</p>")
    flagged = [r for r in rows if r.review]
    parts.append(f"<h2 id='flags'>Flags for manual review ({len(flagged)})</h2>")
    if flagged:
        parts.append(
            "<p>The score stands until you change it (formgrader). Each line is what the "
            "grader saw.</p><div class='scroll'><table><tr><th>student</th><th>lesson</th>"
            "<th>status</th><th>what was seen</th></tr>"
        )
        for r in flagged:
            seen = [*r.flags, *([r.reason] if r.reason else [])]
            items = "".join(f"<li>{e(s)}</li>" for s in seen) or "<li>—</li>"
            parts.append(
                f"<tr><td>{e(r.student)}</td><td>{e(r.lesson)}</td><td>{e(r.status)}</td>"
                f"<td><ul class='fail'>{items}</ul></td></tr>"
            )
        parts.append("</table></div>")
    else:
        parts.append("<p>Nothing flagged.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_csvs(rows: list[Row], folder: Path) -> list[Path]:
    tests = test_stats(rows)
    a, b = folder / "report_tests.csv", folder / "report_failures.csv"
    with open(a, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["lesson", "test", "points", "graded", "passed", "pass_rate",
                    "discrimination", "verdict"])  # fmt: skip
        for t in tests:
            d = "" if t.discrimination is None else f"{t.discrimination:.3f}"
            w.writerow([t.lesson, t.test, f"{t.points:g}", t.graded, t.passed,
                        f"{t.pass_rate:.3f}", d, t.verdict])  # fmt: skip
    with open(b, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["lesson", "test", "students", "share", "template", "example"])
        for t in tests:
            for f in t.failures:
                share = f.count / t.graded if t.graded else 0.0
                w.writerow([t.lesson, t.test, f.count, f"{share:.3f}", f.template, f.example])
    return [a, b]


def build(grades: Path, out: Path | None = None) -> Path:
    """Write report.html and the CSVs for the class in ``grades``; returns the page's path."""
    rows = load_class(grades)
    if not rows:
        raise CourseError(f"{grades / 'grades.csv'} has no rows")
    out = Path(out) if out is not None else Path(grades)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "report.html"
    page.write_text(render(rows), encoding="utf-8")
    write_csvs(rows, out)
    return page


def run(args) -> int:
    page = build(args.grades, args.out)
    print(f"wrote {page}, report_tests.csv, report_failures.csv", file=sys.stderr)
    return 0
