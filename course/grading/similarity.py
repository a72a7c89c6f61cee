"""``course similarity GRADES``: answer cells compared pairwise, for a human to review.

For each exercise (an answer cell: grade id = the exercise's name), every student's answer is
compared with every other student's and with the **known sources**: the course's reference
solution (``solutions/``, published with the open repository: the likeliest copy of all) and
the plausible wrong answers of its catalogue (``tests/wrong_answers/``). Pairs at or above the
threshold are listed with both answers side by side. These are flags for a human: nothing here
changes a grade (docs/GRADING.md, "Similarity review").

How two answers are compared:

1. **Normalise** with Python's own tokenizer (:mod:`tokenize`): comments, docstrings and
   blank lines dropped; every identifier that is not a keyword, a builtin or an attribute
   (``torch.relu`` keeps ``relu``) becomes ``v``; whitespace goes. Renaming variables and adding
   comments then changes nothing.
2. **Fingerprint** with copydetect's implementation of winnowing (its ``winnow`` and
   ``compare_files``; the k-grams hashed with BLAKE2, see :func:`_kgram_hashes`) (Schleimer, Wilkerson & Aiken
   2003, "Winnowing: local algorithms for document fingerprinting", SIGMOD, §3), hashes of
   every k-gram of the normalised text, of which each window of w keeps its minimum. Any shared
   run of at least k + w - 1 characters is detected; shorter coincidences are noise. Reordered
   statements keep most of their k-grams.
3. The release's own stub (signature, docstring, ``raise NotImplementedError``) is
   **boilerplate**: its fingerprints are removed from every answer, so the text every student
   was given does not count.
4. The **similarity** of a pair is the larger of the two shares of each answer's normalised
   text covered by shared fingerprints (copydetect's measure): an answer pasted into a longer
   one still scores high. Answers shorter than :data:`MIN_CHARS` normalised characters once the
   stub is removed are not compared: a three-line exercise has too few ways to be written for
   agreement to mean anything.

Reads ``GRADES/autograded/<student>/<lesson>/<lesson>.ipynb`` (the notebooks ``course grade``
graded) or, given a ``submitted/`` folder, the hand-ins themselves. Writes
``similarity.html`` (self-contained, no script, no outside request) and ``similarity.csv``.
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import html
import io
import itertools
import keyword
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

from course.cells import grade_id, is_solution
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.errors import CourseError
from course.grading.report import display

THRESHOLD = 0.8  # similarity from which a pair is listed
NOISE = 12  # k: characters of normalised text per hashed k-gram
GUARANTEE = 20  # any shared run this long is detected (window w = GUARANTEE - NOISE + 1)
MIN_CHARS = 40  # normalised characters an answer adds to its stub, to be compared
REFERENCE = "reference solution (solutions/, published)"
CATALOGUE = "wrong-answer catalogue: "
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_KEEP = set(dir(builtins)) | {"self", "super", "torch", "nn", "F", "np", "math"}


# --------------------------------------------------------------------------- normalising
def normalise(code: str) -> str:
    """``code`` without comments, docstrings, whitespace and identifier names (see above).
    Keyword-argument names (``kernel_size=``) and attributes stay: they are the API, not a
    choice of the student. Code the tokenizer cannot read is compared as it is, with its
    whitespace collapsed."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "".join(code.split())
    significant = [t for t in tokens if t.type not in _SKIP]
    out: list[str] = []
    depth = 0
    statement_start = True
    for i, tok in enumerate(significant):
        kind, text = tok.type, tok.string
        following = significant[i + 1].string if i + 1 < len(significant) else ""
        if kind in (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE):
            out.append({tokenize.INDENT: "{", tokenize.DEDENT: "}"}.get(kind, ";"))
            statement_start = True
            continue
        if kind == tokenize.STRING and statement_start and following in ("", "\n"):
            continue  # a statement that is only a string: a docstring
        if kind == tokenize.OP:
            depth += text in "([{"
            depth -= text in ")]}"
        previous = out[-1] if out else ""
        if kind == tokenize.NAME and not keyword.iskeyword(text) and text not in _KEEP:
            kwarg = depth > 0 and following == "="
            if previous != "." and not kwarg:
                text = "v"
        if (
            previous
            and (previous[-1].isalnum() or previous[-1] == "_")
            and (text[0].isalnum() or text[0] == "_")
        ):
            out.append(" ")
        out.append(text)
        statement_start = False
    return re.sub(r";+", ";", "".join(out)).replace("{;", "{")


# --------------------------------------------------------------------------- fingerprints
@dataclass
class Fingerprint:
    """What copydetect's ``compare_files`` reads of a document (its ``CodeFingerprint``)."""

    filtered_code: str  # the normalised text
    hashes: set  # the winnowed fingerprints, stub removed
    hash_idx: dict  # fingerprint -> its positions in the text
    token_coverage: float  # characters of the text the fingerprints cover
    k: int = NOISE
    offsets: object = None  # no mapping back to the raw text (copydetect's highlighting)


def _kgram_hashes(text: str):
    """A 63-bit hash of every k-gram of ``text``. copydetect hashes with Python's ``hash()``,
    which is salted per process: its fingerprints, hence the scores near the threshold, would
    change from run to run. The same k-grams hashed with BLAKE2 are the same every time."""
    import numpy as np

    return np.array(
        [
            int.from_bytes(hashlib.blake2b(text[i : i + NOISE].encode(), digest_size=8).digest(),
                           "little") >> 1
            for i in range(len(text) - NOISE + 1)
        ],
        dtype=np.int64,
    )  # fmt: skip


def fingerprint(text: str, boilerplate=()) -> Fingerprint:
    """Winnowed fingerprints of normalised ``text`` (copydetect's ``winnow``, window
    ``GUARANTEE - NOISE + 1``), without those of ``boilerplate``."""
    import numpy as np
    from copydetect.utils import get_token_coverage, winnow

    hashes = _kgram_hashes(text)
    idx = np.array([], dtype=int)
    if len(hashes):
        hashes, idx = winnow(hashes, GUARANTEE - NOISE + 1, remove_duplicates=False)
    keep = ~np.isin(hashes, np.asarray(list(boilerplate), dtype=np.int64))
    positions: dict = {}
    for h, i in zip(hashes[keep].tolist(), idx[keep].tolist(), strict=True):
        positions.setdefault(h, []).append(i)
    coverage = get_token_coverage(positions, NOISE, len(text))
    return Fingerprint(text, set(positions), positions, coverage, offsets=np.array([]))


@dataclass
class Answer:
    who: str  # a student id (as shown), or a known source
    lesson: str
    exercise: str
    code: str  # the answer cell as handed in
    known: bool = False  # a known source (reference, catalogue), not a student

    def fingerprint(self, boilerplate=()) -> Fingerprint:
        self.fp = fingerprint(normalise(self.code), boilerplate)
        return self.fp


def boilerplate_hashes(stub: str) -> set:
    """The fingerprints of the release's stub (what every student was given)."""
    return fingerprint(normalise(stub)).hashes


def similarity(a: Answer, b: Answer) -> float:
    from copydetect.detector import compare_files

    _, (s1, s2), _ = compare_files(a.fp, b.fp)
    return float(max(s1, s2))


@dataclass
class Pair:
    lesson: str
    exercise: str
    a: Answer
    b: Answer
    score: float


def compare(
    answers: list[Answer], stub: str, threshold: float = THRESHOLD
) -> tuple[list[Pair], list[Answer]]:
    """The pairs of one exercise at or above ``threshold``, and the students' answers too
    short to compare. Students are compared with each other, and each with the known source
    closest to their answer (one line per student: the catalogue's wrong answers differ from
    the reference by a token or two, so a copy of the reference resembles them all)."""
    bp = boilerplate_hashes(stub) if stub else set()
    given = len(normalise(stub)) if stub else 0
    usable, short = [], []  # type: ignore[var-annotated]
    for ans in answers:
        ans.fingerprint(bp)
        enough = len(ans.fp.filtered_code) - given >= MIN_CHARS and ans.fp.hashes
        (usable if enough else short).append(ans)
    known = [a for a in usable if a.known]
    students = [a for a in usable if not a.known]
    pairs = []
    for a, b in itertools.combinations(students, 2):
        score = similarity(a, b)
        if score >= threshold:
            pairs.append(Pair(a.lesson, a.exercise, a, b, score))
    for student in students:
        scored = [(similarity(k, student), k) for k in known]
        if scored:
            score, source = max(scored, key=lambda x: (x[0], x[1].who == REFERENCE))
            if score >= threshold:
                pairs.append(Pair(student.lesson, student.exercise, source, student, score))
    pairs.sort(key=lambda p: (-p.score, not p.a.known, p.a.who, p.b.who))
    return pairs, [s for s in short if not s.known]


# --------------------------------------------------------------------------- the class
def class_folder(grades: Path) -> Path:
    """Where the notebooks are: GRADES/autograded/, or GRADES itself (a submitted/ folder)."""
    grades = Path(grades)
    if not grades.is_dir():
        raise CourseError(f"no folder {grades}")
    return grades / "autograded" if (grades / "autograded").is_dir() else grades


def student_answers(folder: Path, lesson: str) -> dict[str, dict[str, str]]:
    """student -> exercise -> answer cell source, for every readable notebook of ``lesson``."""

    out = {}
    for student in sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()):
        path = student / lesson / f"{lesson}.ipynb"
        try:
            nb = nbs.read(path)
        except Exception:  # noqa: BLE001 - missing or unreadable: course grade reports those
            continue
        out[display(student.name)] = {
            grade_id(c): c.source
            for c in nb.cells
            if c.cell_type == "code" and is_solution(c) and grade_id(c)
        }
    return out


def known_sources(lesson: str, checkout: Checkout) -> tuple[dict[str, dict], dict[str, str]]:
    """(source name -> exercise -> code, exercise -> release stub) for ``lesson``."""
    known: dict[str, dict] = {REFERENCE: nbs.answers(nbs.read(checkout.source(lesson)))}
    for wrong in checkout.wrong_answers(lesson):
        known.setdefault(CATALOGUE + wrong["name"], {})[wrong["exercise"]] = wrong["source"]
    stubs = {}
    release = checkout.release(lesson)
    if release.is_file():
        for c in nbs.read(release).cells:
            if c.cell_type == "code" and is_solution(c) and grade_id(c):
                stubs[grade_id(c)] = c.source
    return known, stubs


def review(
    grades: Path, lessons: list[str], checkout: Checkout, threshold: float = THRESHOLD
) -> tuple[list[Pair], dict[tuple[str, str], list[Answer]], dict[str, int]]:
    """All flagged pairs of the class, the answers too short to compare per (lesson,
    exercise), and how many students each lesson had."""
    folder = class_folder(grades)
    pairs, short, counts = [], {}, {}
    for lesson in lessons:
        students = student_answers(folder, lesson)
        counts[lesson] = len(students)
        if not students:
            continue
        known, stubs = known_sources(lesson, checkout)
        exercises = sorted({ex for answers in students.values() for ex in answers})
        for ex in exercises:
            answers = [Answer(s, lesson, ex, a[ex]) for s, a in students.items() if ex in a]
            answers += [
                Answer(name, lesson, ex, codes[ex], known=True)
                for name, codes in known.items()
                if ex in codes
            ]
            found, too_short = compare(answers, stubs.get(ex, ""), threshold)
            pairs += found
            if too_short:
                short[(lesson, ex)] = too_short
    return pairs, short, counts


# --------------------------------------------------------------------------- the page
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:70rem;
padding:1rem;line-height:1.45;color:#222;overflow-wrap:anywhere}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1rem}.side{display:flex;flex-wrap:wrap;gap:.75rem}.side>div{flex:1 1 20rem;
min-width:0}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5rem;font-size:.8rem;margin:0}
.known{color:#a33}.muted{color:#666}
"""


def render(pairs: list[Pair], short: dict, counts: dict[str, int], threshold: float) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">",
        f"<title>Similarity review</title><style>{CSS}</style></head><body>",
        "<h1>Similarity review</h1>",
        "<p><b>Flags for a human, never a verdict.</b> Answers were compared after removing "
        "comments, docstrings and names (winnowing, Schleimer et al. 2003); the text of the "
        "release's stub does not count. Similar answers to a short, tightly specified exercise "
        "are often independent: read both before asking the students. A match with the "
        "published reference solution is the likeliest copy of all (docs/GRADING.md).</p>",
        f"<p>{len(pairs)} pair(s) at or above {threshold:.0%} similarity; students per lesson: "
        + ", ".join(f"{e(le)} {n}" for le, n in counts.items())
        + ".</p>",
    ]
    by_ex: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        by_ex.setdefault((p.lesson, p.exercise), []).append(p)
    for (lesson, ex), group in sorted(by_ex.items()):
        parts.append(f"<h2>{e(lesson)} · {e(ex)} ({len(group)} pair(s))</h2>")
        for p in group:
            cls = " class='known'" if p.a.known else ""
            parts += [
                f"<h3><span{cls}>{e(p.a.who)}</span> and {e(p.b.who)}: {p.score:.0%}</h3>",
                "<div class='side'>",
                f"<div><p class='muted'>{e(p.a.who)}</p><pre>{e(p.a.code)}</pre></div>",
                f"<div><p class='muted'>{e(p.b.who)}</p><pre>{e(p.b.code)}</pre></div>",
                "</div>",
            ]
    if short:
        parts.append("<h2>Not compared (too short once the stub is removed)</h2><ul>")
        for (lesson, ex), answers in sorted(short.items()):
            parts.append(f"<li>{e(lesson)} · {e(ex)}: {len(answers)} answer(s)</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_csv(pairs: list[Pair], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["lesson", "exercise", "a", "b", "similarity", "known_source"])
        for p in pairs:
            w.writerow([p.lesson, p.exercise, p.a.who, p.b.who, f"{p.score:.3f}",
                        "yes" if p.a.known else "no"])  # fmt: skip


def run(args) -> int:

    checkout = Checkout.find(args.course_dir)
    lessons = checkout.resolve(args.lessons)
    threshold = THRESHOLD if args.threshold is None else args.threshold
    if not 0 < threshold <= 1:
        raise CourseError(f"--threshold must be in (0, 1], got {threshold:g}")
    pairs, short, counts = review(args.grades, lessons, checkout, threshold)
    out = Path(args.out) if args.out is not None else Path(args.grades)
    out.mkdir(parents=True, exist_ok=True)
    (out / "similarity.html").write_text(render(pairs, short, counts, threshold), "utf-8")
    write_csv(pairs, out / "similarity.csv")
    print(f"{len(pairs)} pair(s) at or above {threshold:.0%}; wrote "
          f"{out / 'similarity.html'}, similarity.csv", file=sys.stderr)  # fmt: skip
    return 0
