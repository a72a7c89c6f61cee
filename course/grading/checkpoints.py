"""``course score-checkpoints``: score every student's trained ResNet-34 with the instructor's class.

    course score-checkpoints SUBMISSIONS --reference solutions/05_resnet34_cifar10/05_resnet34_cifar10.ipynb
    course score-checkpoints submitted/ --reference my_resnet.py --data /srv/cifar --n all

SUBMISSIONS is nbgrader's ``submitted/`` (or ``autograded/``) folder, or a course folder holding
one: each ``<student>/<lesson>/checkpoints/resnet34_cifar10.pt`` is loaded into the *reference*
``ResNet34`` and re-evaluated on CIFAR-10 test images (``course.scoring``: ``weights_only`` loads,
the accuracy recomputed, never read from the file). The library holds no ResNet-34: the class comes
from ``--reference``, either a ``.py`` file defining ``ResNet34`` or the solution notebook (its
``BasicBlock`` and ``ResNet34`` answer cells are executed). Prints one row per student, sorted by
name; a student without a checkpoint, or with one that does not fit, gets 0 bands and the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course.checkout import Checkout, notebooks

LESSON = "05_resnet34_cifar10"


class ReferenceError_(Exception):  # noqa: N801 - not the builtin ReferenceError
    """The reference model cannot be loaded (an instructor error)."""


def load_reference(path: str | Path, class_name: str = "ResNet34"):
    """The class ``class_name`` from a ``.py`` file or from a notebook's answer cells.

    For a notebook, its solution cells named ``BasicBlock`` and ``ResNet34`` run after
    ``import torch, torch.nn as nn, torch.nn.functional as F``
    (:func:`course.checkout.notebooks.answer_namespace`). Raises :class:`ReferenceError_` with a
    message when the class is missing or the notebook is a student release.
    """

    path = Path(path)
    if not path.is_file():
        raise ReferenceError_(f"reference {path} not found")
    if path.suffix == ".ipynb":
        try:
            cells = notebooks.answers(notebooks.read(path), ("BasicBlock", class_name))
        except KeyError as exc:
            raise ReferenceError_(f"{path}: {exc.args[0]}; is it the solution notebook?") from None
        if any("raise NotImplementedError" in c for c in cells.values()):
            raise ReferenceError_(
                f"{path} is a student release (answers blank); pass the solution."
            )
        namespace = notebooks.answer_namespace(path, cells, f"course_reference_{path.stem}")
    else:
        namespace = {"__name__": f"course_reference_{path.stem}"}
        source = path.read_text(encoding="utf-8")
        exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the instructor's file
    cls = namespace.get(class_name)
    if cls is None:
        raise ReferenceError_(f"{path} defines no {class_name}")
    return cls


def find_checkpoints(submissions: Path, lesson: str = LESSON) -> dict[str, Path]:
    """student -> expected checkpoint path (which may not exist), from an nbgrader layout."""
    from course.scoring import CHECKPOINT_PATH

    base = submissions
    if not any((d / lesson).is_dir() for d in base.iterdir() if d.is_dir()):
        if (base / "submitted").is_dir():
            base = base / "submitted"
        else:
            raise ReferenceError_(
                f"no <student>/{lesson}/ folders in {submissions} (expected nbgrader's "
                "submitted/ or autograded/ folder)"
            )
    students = sorted(d for d in base.iterdir() if d.is_dir() and (d / lesson).is_dir())
    return {d.name: d / lesson / CHECKPOINT_PATH for d in students}


def score_all(model_class, checkpoints: dict[str, Path], root: Path, n, log=print) -> list[dict]:
    from course import scoring

    rows = []
    for student, path in checkpoints.items():
        log(f"scoring {student} ...")
        score = scoring.score_checkpoint(model_class, path, root=root, n=n, use_cache=False)
        rows.append(
            {
                "student": student,
                "ok": score.ok,
                "accuracy": score.accuracy if score.ok else None,
                "reported": score.reported_val_accuracy,
                "bands": scoring.band_points(score.accuracy if score.ok else None),
                "n": score.n,
                "dataset": score.dataset,
                "message": score.message,
            }
        )
    return rows


def format_rows(rows: list[dict]) -> str:
    from course.scoring import BANDS

    w = max([len("student"), *(len(r["student"]) for r in rows)])
    head = f"{'student':<{w}}  {'test acc':>8}  {'reported val':>12}  {'bands':>5}  note"
    lines = [head, "-" * (len(head) + 20)]
    for r in rows:
        acc = f"{r['accuracy']:.2%}" if r["accuracy"] is not None else "-"
        rep = f"{r['reported']:.2%}" if r["reported"] is not None else "-"
        note = r["message"][:120] if not r["ok"] else ""
        lines.append(
            f"{r['student']:<{w}}  {acc:>8}  {rep:>12}  {r['bands']:>2}/{len(BANDS)}  {note}"
        )
    scored = [r for r in rows if r["ok"]]
    if scored:
        n, dataset = scored[0]["n"], scored[0]["dataset"]
        lines.append("-" * (len(head) + 20))
        lines.append(
            f"{len(scored)} of {len(rows)} scored on {n:,} {dataset} test images; bands: "
            + ", ".join(f"{k} >= {v:.0%}" for k, v in BANDS.items())
            + ". 'reported val' is what the checkpoint claims (never used)."
        )
    return "\n".join(lines)


def run(args) -> int:
    from course import data, scoring

    root = args.data if args.data is not None else scoring.data_root()
    if args.n is None:
        n = scoring.score_n()
    else:
        n = None if args.n == "all" else args.n  # None: every test image
    try:
        synthetic = data.is_synthetic(root)
    except data.DataError as err:
        print(f"error: no CIFAR-10 at {root}: {err}", file=sys.stderr)
        return 2
    if synthetic and not args.allow_synthetic:
        print(
            f"error: {root} holds the {data.SYNTHETIC_NAME}: scores on it are not grades. "
            "Point --data (or $COURSE_DATA) at real CIFAR-10, or pass --allow-synthetic.",
            file=sys.stderr,
        )
        return 2
    reference = args.reference
    if reference is None:
        reference = Checkout.find().source(LESSON)
    try:
        model_class = load_reference(reference)
        checkpoints = find_checkpoints(args.submissions, LESSON)
    except ReferenceError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not checkpoints:
        print(f"no submissions of {LESSON} in {args.submissions}", file=sys.stderr)
        return 1
    rows = score_all(
        model_class, checkpoints, Path(root), n, log=lambda m: print(m, file=sys.stderr)
    )
    print(format_rows(rows))
    return 0
