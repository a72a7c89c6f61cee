"""A student's submission before any of its code runs: find it, repair it, scan it, take it in.

Everything here reads the student's files as data (JSON), never as code. It still runs in a
separate, resource-limited process (:func:`stage_student`, ``python -m course.grading.staging``):
a hostile notebook (a million tiny cells, deep nesting, a huge file) costs that process, not the
grader, and caps on file size, cell count and cell size reject it early with a clear reason.

* :func:`find_notebook` picks the notebook to grade in ``submitted/<student>/<lesson>/`` (a
  renamed copy is graded and flagged);
* :func:`sanitize` rebuilds the notebook against the course source: locked and test cells come
  from the source (edits, deletions, copies and changed points undone), answer cells keep the
  student's text, duplicated grade ids (nbgrader #1083) no longer make the notebook ungradable;
* :func:`scan` flags code in the cells a student can edit that uses the tools of cheating
  (monkeypatching, frame tricks, the file system, processes). A flag costs no points: it sends
  the submission to a human;
* :func:`stage` does all of that for one submission before any student's code runs, keeps the
  repaired notebook in memory and copies the other files with their digests, so that
  :func:`changed_files` can tell afterwards whether anything rewrote them.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from course import cells
from course.checkout import notebooks as nbs
from course.grading.report import Status

if TYPE_CHECKING:
    from nbformat import NotebookNode

import nbformat

HUGE_OUTPUT_MB = 1.0  # stripped outputs larger than this are flagged
MAX_NOTEBOOK_MB = 50  # larger notebooks are not parsed at all
MAX_CELLS = 3000  # notebooks with more cells are not graded
MAX_CELL_CHARS = 1_000_000  # a cell's source longer than this is not graded
STAGING_MEMORY_MB = 3072  # address space of the staging process
STAGING_TIMEOUT_S = 300  # one student, every lesson
MAX_EXTRA_FILE_MB = 200  # other files of a submission (checkpoints, data) larger are left out
MAX_STAGED_MB = 500  # other files of a submission together: the rest is left out
MAX_EXTRA_FILES = 1000  # other files of a submission beyond this number are left out


# --------------------------------------------------------------------------- finding it
def find_notebook(folder: Path, lesson: str) -> tuple[Path | None, list[str], str]:
    """The notebook to grade in a student's lesson folder: ``(path, flags, reason if none)``."""
    if folder.is_symlink():
        return (
            None,
            ["the lesson folder is a symbolic link"],
            "the lesson folder is a symbolic link",
        )
    if not folder.is_dir():
        return None, [], "no submission"
    exact = folder / f"{lesson}.ipynb"
    if exact.is_symlink():
        return None, ["the notebook is a symbolic link"], f"{lesson}.ipynb is a symbolic link"
    if exact.is_file():
        return exact, [], ""
    others = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())
    if len(others) == 1:
        return others[0], [f"renamed notebook {others[0].name!r} graded"], ""
    if others:
        names = ", ".join(p.name for p in others)
        return (
            None,
            [f"{len(others)} notebooks, none named {lesson}.ipynb: {names}"],
            f"no {lesson}.ipynb and several other notebooks",
        )
    return None, [], f"no {lesson}.ipynb in the submission"


# --------------------------------------------------------------------------- repairing it
def _nbmeta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _text(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _plain(cell):
    """The cell without nbgrader metadata: nbgrader treats it as ordinary lesson code/text."""
    cell = copy.deepcopy(cell)
    for key in ("nbgrader", "editable", "deletable"):
        cell.get("metadata", {}).pop(key, None)
    return cell


def _strip(cell) -> int:
    """Remove outputs and execution count in place; returns the JSON size of what went."""
    if cell.get("cell_type") != "code":
        return 0
    size = len(json.dumps(cell.get("outputs", []), default=str))
    cell["outputs"], cell["execution_count"] = [], None
    return size


def _fresh(cell):
    cell = copy.deepcopy(cell)
    _strip(cell)
    return cell


def _as_type(cell, cell_type: str):
    """The student's text in a cell of ``cell_type`` (a student may change an answer's type)."""
    new = {"cell_type": cell_type, "metadata": cell.get("metadata", {}), "source": _text(cell)}
    if cell_type == "code":
        new.update(outputs=[], execution_count=None)
    return new


def _chosen(subcells, src: dict, rel: dict) -> dict[str, int]:
    """For each known grade id, the index of the submitted cell that counts.

    Normally the only one. With copies (JupyterLab copy-paste keeps the metadata): for an
    answer, the first copy the student changed from the release; otherwise the first copy.
    """
    where: dict[str, list[int]] = {}
    for i, cell in enumerate(subcells):
        gid = _nbmeta(cell).get("grade_id") if isinstance(cell, dict) else None
        if isinstance(gid, str) and gid in src:
            where.setdefault(gid, []).append(i)
    chosen = {}
    for gid, idx in where.items():
        blank = _text(rel[gid]).strip() if gid in rel else None
        changed = [i for i in idx if _text(subcells[i]).strip() != blank]
        answer = cells.is_solution(src[gid])
        chosen[gid] = changed[0] if answer and changed else idx[0]
    return chosen


def sanitize(sub, source, release) -> tuple[nbformat.NotebookNode, list[str]]:
    """Rebuild a student's notebook ``sub`` against the course ``source`` (hidden tests
    included) and its ``release``; returns the notebook to grade and the flags raised.

    * locked and test cells are the source's (edits and changed points are undone, flagged);
    * answer cells keep the student's text under the source's metadata and cell type;
    * a grade id the course does not have loses its nbgrader metadata (flagged);
    * a duplicated grade id keeps one cell (see :func:`_chosen`); other copies of an answer
      stay as plain code, so what the student wrote still runs; other copies of a locked or
      test cell are dropped;
    * a deleted answer, locked or test cell is put back after the cell that precedes it in
      the source (an answer as released, blank);
    * outputs are stripped, cell ids renumbered, the kernelspec reset to the course's.
    """
    flags: list[str] = []
    src = {cells.grade_id(c): c for c in source.cells if cells.grade_id(c)}
    rel = {cells.grade_id(c): c for c in release.cells if cells.grade_id(c)}
    subcells = list(sub.get("cells", []))
    chosen = _chosen(subcells, src, rel)
    out, stripped = [], 0
    for i, cell in enumerate(subcells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            flags.append("malformed cell dropped")
            continue
        cell = copy.deepcopy(cell)
        stripped += _strip(cell)
        kept = _rebuild(cell, i, src, rel, chosen, flags)
        if kept is not None:
            out.append(kept)
    _reinsert_deleted(out, src, rel, flags)
    graded = [cells.grade_id(c) for c in out if cells.grade_id(c) in src]
    if graded != [g for g in src if g in graded]:
        flags.append("graded cells reordered")
    if stripped > HUGE_OUTPUT_MB * 1e6:
        flags.append(f"huge outputs ({stripped / 1e6:.0f} MB) stripped")
    return _assemble(out, sub, source, flags), flags


def _rebuild(cell: dict, i: int, src: dict, rel: dict, chosen: dict, flags: list[str]):
    """One submitted cell as it will be graded, or ``None`` to drop it (see :func:`sanitize`)."""
    raw = cell.get("metadata", {}).get("nbgrader")
    meta = _nbmeta(cell)
    gid = meta.get("grade_id")
    if raw is not None and not isinstance(raw, dict):
        flags.append("malformed nbgrader metadata removed")
        return _plain(cell)
    if not isinstance(gid, str) or not gid:
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            flags.append("nbgrader cell without grade id made ordinary")
        return _plain(cell) if raw is not None else cell
    if gid not in src:
        flags.append(f"unknown grade id {gid} made ordinary")
        return _plain(cell)
    if chosen[gid] != i:
        ref = src[gid]
        flags.append(f"duplicate grade id {gid} (one copy graded)")
        if cells.is_solution(ref) and cell["cell_type"] == "code" == ref.cell_type:
            return _plain(cell)  # the student's copy still runs, ungraded
        return None
    return _restore(cell, meta, src[gid], rel.get(gid, src[gid]), flags)


def _reinsert_deleted(out: list, src: dict, rel: dict, flags: list[str]) -> None:
    """Put every graded cell the student deleted back after its predecessor in the source."""
    order = list(src)
    present = {cells.grade_id(c) for c in out if cells.grade_id(c)}
    for k, gid in enumerate(order):
        if gid in present:
            continue
        ref = src[gid]
        if cells.is_solution(ref):
            new = _fresh(rel.get(gid, ref))
            flags.append(f"answer cell {gid} deleted (blank one re-inserted)")
        else:
            new = _fresh(ref)
            flags.append(
                f"{'test' if cells.is_test(ref) else 'locked'} cell {gid} deleted (re-inserted)"
            )
        where = {cells.grade_id(c): j for j, c in enumerate(out) if cells.grade_id(c)}
        before = [where[g] for g in order[:k] if g in where]
        after = [where[g] for g in order[k + 1 :] if g in where]
        out.insert(max(before) + 1 if before else min(after, default=len(out)), new)
        present.add(gid)


def _assemble(out: list, sub, source, flags: list[str]):
    """The notebook to grade: the course's metadata and kernel, renumbered cell ids."""
    kernel = source.metadata["kernelspec"]["name"]
    ks = (sub.get("metadata") or {}).get("kernelspec") or {}
    if isinstance(ks, dict) and ks.get("name") not in (None, kernel):
        flags.append(f"kernel {ks.get('name')!r} replaced by {kernel}")
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(source.metadata))
    for k, cell in enumerate(out):
        cell["id"] = f"cell-{k}"
        cell["source"] = _text(cell)
        if cell["cell_type"] == "code":
            cell.pop("attachments", None)
    nb.cells = [nbformat.from_dict(c) for c in out]
    return nb


def _restore(cell, meta: dict, ref, shown, flags: list[str]):
    """The graded cell ``cell`` as it must be graded: see :func:`sanitize`."""
    gid = cells.grade_id(ref)
    points = ref.metadata["nbgrader"].get("points")
    if (cells.is_test(ref) or cells.is_manual(ref)) and meta.get("points") != points:
        flags.append(f"points of {gid} changed (restored)")
    if not cells.is_solution(ref):
        if _text(cell).rstrip() != shown.source.rstrip():
            flags.append(f"locked cell {gid} edited (restored)")
        return _fresh(ref)
    if cell["cell_type"] != ref.cell_type:
        flags.append(f"cell type of {gid} changed back to {ref.cell_type}")
        cell = _as_type(cell, ref.cell_type)
    cell.setdefault("metadata", {})["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
    return cell


# --------------------------------------------------------------------------- scanning it
# (pattern, what it means); matched against the code of cells a student can edit, comments
# removed. Each is a tool of a cheat that the kernel guard may not see, or a sign of one.
SUSPICIOUS = [
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (
        r"get_ipython|InteractiveShell|ipykernel|set_custom_exc|run_cell|showtraceback|excepthook",
        "touches the IPython machinery",
    ),
    (
        r"settrace|setprofile|_getframe|\.f_(back|globals|locals|code|lineno|trace)\b|linecache",
        "frame tricks",
    ),
    (r"os\._exit|sys\.exit|(?<![\w.])(exit|quit)\(|os\.kill|\bsignal\.", "exits or signals"),
    (r"\bctypes\b|\bcffi\b", "ctypes"),
    (
        r"(?<![\w.])(exec|eval|compile)\s*\(|__import__|importlib|\bmarshal\b|\bbase64\b|"
        r"\bcodecs\b|pickle\.loads",
        "dynamic code",
    ),
    (
        r"\b(torch|np|numpy|math|checks|nn|F|testing|Tensor)(\.\w+)+\s*=(?!=)|"
        r"(?<![\w.])setattr\(\s*(?!self\b)|(?<![\w.])delattr\(",
        "replaces a library attribute",
    ),
    (
        r"__class__\s*=|__dict__|__globals__|__closure__|__code__|__subclasses__|\bgc\.|"
        r"\binspect\b|sys\.modules",
        "introspection",
    ),
    (
        r"\bcheck(_\w+)?\s*=(?!=)|\bdef\s+check(_\w+)?\s*\(|\bAssertionError\s*=(?!=)|"
        r"\bclass\s+AssertionError\b",
        "redefines a test helper",
    ),
    (
        r"gradebook|sqlite|nbgrader|\.\./|os\.walk|listdir|scandir|\bglob\b|rglob|shutil|"
        r"subprocess|os\.system|Popen|\bfork\b|os\.(remove|unlink|rename|replace|chmod)",
        "file system or processes",
    ),
    (r"\bthreading\b|multiprocessing|_thread\b", "threads"),
]


def _code(source: str) -> str:
    """``source`` without its comments (tokenised; IPython syntax falls back to whole lines)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith("#"))
    lines = source.split("\n")
    for t in tokens:
        if t.type == tokenize.COMMENT:
            row, col = t.start
            lines[row - 1] = lines[row - 1][:col]
    return "\n".join(lines)


def scan(nb, release=None) -> list[str]:
    """Flags for suspicious code in the cells a student can edit (answers, unlocked cells),
    leaving out cells exactly as the ``release`` has them (the course's own code)."""
    as_released = {c.source.strip() for c in release.cells} if release is not None else set()
    found: list[str] = []
    for cell in nb.cells:
        meta = _nbmeta(cell)
        if cell.cell_type != "code" or (meta.get("locked") and not meta.get("solution")):
            continue
        if cell.source.strip() in as_released:
            continue
        code = _code(cell.source)
        where = meta.get("grade_id") or "an unlocked cell"
        for pattern, label in SUSPICIOUS:
            if re.search(pattern, code):
                found.append(f"code {label} ({where})")
    return list(dict.fromkeys(found))


@dataclass
class Staged:
    """A submission copied before grading: its notebook and extra files, with their digests."""

    student: str
    lesson: str
    origin: Path  # submitted/<student>/<lesson>
    folder: Path  # the copy
    notebook: str | None = None  # file name of the notebook graded (in ``origin``)
    nb: NotebookNode | None = None  # the sanitised notebook, in memory (nothing can rewrite it)
    digests: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    flags: list[str] = field(default_factory=list)
    reason: str = ""  # why there is nothing to grade
    status: Status = Status.GRADED  # or MISSING, UNREADABLE


# --------------------------------------------------------------------------- taking it in
def _copy_hashed(src: Path, dest: Path) -> str:
    """Copy ``src`` to ``dest`` reading it once; returns the sha256 of what was copied."""
    h = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while chunk := fin.read(1 << 20):
            h.update(chunk)
            fout.write(chunk)
    # readable by the sandbox's uid (another uid than the grader's under root): the sandbox
    # binds the file itself, its folders stay the grader's alone
    os.chmod(dest, 0o644)
    return h.hexdigest()


def sha256(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def stage(submissions: Path, student: str, lesson: str, dest: Path, source, release) -> Staged:
    """Take a submission in before any student's code runs: the notebook is read, sanitised
    against ``source``/``release`` and scanned (kept in memory), the other regular files are
    copied to ``dest`` with their digests (no links, no other notebooks, at most
    :data:`MAX_EXTRA_FILES`, none over :data:`MAX_EXTRA_FILE_MB`)."""
    origin = submissions / student / lesson
    st = Staged(student, lesson, origin, dest)
    path, flags, why = find_notebook(origin, lesson)
    st.flags += flags
    if path is None:
        st.status, st.reason = Status.MISSING, why
        return st
    st.notebook = path.name
    data = path.read_bytes() if path.stat().st_size <= MAX_NOTEBOOK_MB * 1e6 else None
    if data is None:
        st.status, st.reason = Status.UNREADABLE, f"notebook over {MAX_NOTEBOOK_MB} MB"
        return st
    st.digests[path.name] = hashlib.sha256(data).hexdigest()
    try:
        raw = json.loads(data.decode("utf-8"))
        cells = raw.get("cells") if isinstance(raw, dict) else None
        if not isinstance(cells, list):
            raise ValueError("no list of cells")
        if len(cells) > MAX_CELLS:
            st.status = Status.UNREADABLE
            st.reason = f"{len(cells):,} cells (the limit is {MAX_CELLS:,}): not graded"
            return st
        for cell in cells:
            src = cell.get("source", "") if isinstance(cell, dict) else ""
            size = len(src) if isinstance(src, str) else sum(len(str(x)) for x in src)
            if size > MAX_CELL_CHARS:
                st.status = Status.UNREADABLE
                st.reason = f"a cell of {size:,} characters (limit {MAX_CELL_CHARS:,}): not graded"
                return st
        sub = nbformat.reads(data.decode("utf-8"), as_version=nbs.NB_VERSION)
    except Exception as exc:  # noqa: BLE001 - JSON, encoding, schema errors alike
        st.status = Status.UNREADABLE
        st.reason = f"unreadable notebook ({type(exc).__name__}: {str(exc)[:120]})"
        return st
    try:
        st.nb, flags = sanitize(sub, source, release)
    except Exception as exc:  # noqa: BLE001 - a structure sanitize did not foresee
        st.status, st.reason = Status.UNREADABLE, f"notebook structure not understood ({exc!r})"
        return st
    st.flags += flags + scan(st.nb, release)
    staged = 0  # bytes of handed-in files copied so far
    for extra in sorted(origin.rglob("*")):
        rel = extra.relative_to(origin)
        if ".ipynb_checkpoints" in rel.parts or extra.suffix == ".ipynb":
            continue
        if len(st.digests) > MAX_EXTRA_FILES:
            st.flags.append(f"more than {MAX_EXTRA_FILES} files: the rest left out")
            break
        if extra.is_symlink():
            st.flags.append(f"symbolic link {rel} left out")
        elif extra.is_file():
            size = extra.stat().st_size
            if size > MAX_EXTRA_FILE_MB * 1e6:
                st.flags.append(f"file {rel} larger than {MAX_EXTRA_FILE_MB} MB left out")
            elif staged + size > MAX_STAGED_MB * 2**20:
                st.flags.append(f"file {rel} left out: the files together pass {MAX_STAGED_MB} MB")
            else:
                staged += size
                st.digests[str(rel)] = _copy_hashed(extra, dest / rel)
                if extra.suffix in (".py", ".pyc", ".so", ".pth"):
                    st.flags.append(
                        f"handed-in code {rel} (it can run only inside this student's sandbox: "
                        "look at what it does)"
                    )
    return st


def changed_files(folder: Path, digests: dict[str, str]) -> list[str]:
    """Files of ``folder`` whose content is no longer what ``digests`` recorded."""
    return [rel for rel, d in digests.items() if sha256(folder / rel) != d]


def timestamp_ok(path: Path) -> bool:
    """Whether nbgrader can read the timestamp in ``path``."""
    from nbgrader.utils import parse_utc

    try:
        parse_utc(path.read_text(encoding="utf-8", errors="replace").strip())
    except Exception:  # noqa: BLE001 - any unparsable timestamp
        return False
    return True


# --------------------------------------------------------------------------- in a subprocess
def _staged_to_dict(st: Staged) -> dict:
    return {
        "student": st.student,
        "lesson": st.lesson,
        "origin": str(st.origin),
        "folder": str(st.folder),
        "notebook": st.notebook,
        "nb": nbformat.writes(st.nb) if st.nb is not None else None,
        "digests": st.digests,
        "flags": st.flags,
        "reason": st.reason,
        "status": st.status,
    }


def _staged_from_dict(d: dict) -> Staged:
    st = Staged(d["student"], d["lesson"], Path(d["origin"]), Path(d["folder"]))
    st.notebook = d["notebook"]
    st.nb = nbformat.reads(d["nb"], as_version=nbs.NB_VERSION) if d["nb"] else None
    st.digests, st.flags = dict(d["digests"]), list(d["flags"])
    st.reason, st.status = d["reason"], Status(d["status"])
    return st


def _limit_staging() -> None:
    import resource

    cap = STAGING_MEMORY_MB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (STAGING_TIMEOUT_S, STAGING_TIMEOUT_S + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def stage_student(
    submissions: Path, student: str, lessons: list[str], dest: Path, sources: dict, releases: dict
) -> list[Staged]:
    """:func:`stage` every lesson of one student in a limited subprocess. ``sources`` and
    ``releases`` map a lesson to its notebook *file* (the grader wrote them). A student whose
    staging fails or runs out of memory or time gets every lesson "unreadable", with why."""
    import subprocess
    import sys

    request = {
        "submissions": str(submissions),
        "student": student,
        "lessons": lessons,
        "dest": str(dest),
        "sources": {k: str(v) for k, v in sources.items()},
        "releases": {k: str(v) for k, v in releases.items()},
    }
    why = ""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "course.grading.staging"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=STAGING_TIMEOUT_S,
            preexec_fn=_limit_staging,
        )
        if proc.returncode == 0:
            return [_staged_from_dict(d) for d in json.loads(proc.stdout)]
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1][:200]
        why = f"staging failed ({last})"
    except subprocess.TimeoutExpired:
        why = f"staging took longer than {STAGING_TIMEOUT_S} s"
    out = []
    for lesson in lessons:
        st = Staged(student, lesson, submissions / student / lesson, dest / lesson)
        st.status, st.reason = Status.UNREADABLE, why
        out.append(st)
    return out


def main() -> int:
    import sys

    req = json.loads(sys.stdin.read())
    result = []
    for lesson in req["lessons"]:
        source = nbs.read(req["sources"][lesson])
        release = nbs.read(req["releases"][lesson])
        st = stage(
            Path(req["submissions"]),
            req["student"],
            lesson,
            Path(req["dest"]) / lesson,
            source,
            release,
        )
        result.append(_staged_to_dict(st))
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
