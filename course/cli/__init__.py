"""The ``course`` command: one thin entry point for students, instructors and CI.

    course release [LESSON ...]          regenerate notebooks/ from solutions/ (deterministic)
    course check NOTEBOOK                run a notebook's tests, print a per-exercise table
    course lab [LAB_OPTIONS ...]         JupyterLab with the course's settings (self-study)
    course demo [LESSON ...]             a throwaway class: release, submit, grade, feedback
    course grade SUBMISSIONS [LESSON ...] grade a class in OS sandboxes, verdicts outside them
    course score-checkpoints SUBMISSIONS re-evaluate lesson 05's trained models (trusted path)
    course report GRADES                 what the class missed: one offline HTML page (+ CSV)
    course similarity GRADES             answer cells compared pairwise, and with known sources
    course export GRADES --canvas        grades for an LMS (Canvas gradebook CSV) or a plain CSV
    course site [LESSON ...]             build the course web site with pandoc
    course data download|fake            get CIFAR-10, or write a small synthetic stand-in

This module only builds the argument parser: it imports nothing heavier than :mod:`argparse`,
so ``course --help`` and argument errors answer at once. Each subcommand names its handler as
``"module:function"``; the module is imported only when that subcommand runs. One vocabulary
across subcommands: lessons are positional (ids or numbers: ``01`` or ``01_residual_block``),
``--data DIR`` is always the folder holding CIFAR-10, ``--out DIR`` where results go,
``--course-dir DIR`` the course checkout.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from course import __version__
from course.errors import CourseError


# --------------------------------------------------------------------------- value types
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def count_or_all(text: str) -> int | str:
    """A positive number of images, or ``"all"``."""
    if text.strip().lower() in {"all", "0"}:
        return "all"
    return positive_int(text)


# --------------------------------------------------------------------------- shared options
def _lessons(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "lessons", nargs="*", metavar="LESSON", help="lesson ids or numbers (default: all)"
    )


def _data(p: argparse.ArgumentParser, help_default: str) -> None:
    p.add_argument(
        "--data", type=Path, default=None, help=f"folder holding CIFAR-10 (default: {help_default})"
    )


def _course_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--course-dir", type=Path, default=None, help="course checkout (default: this one)"
    )


# --------------------------------------------------------------------------- subcommands
def _add_release(sub) -> None:
    p = sub.add_parser(
        "release",
        help="regenerate notebooks/ from solutions/ (deterministic, via nbgrader generate_assignment)",
        description="Regenerate student notebooks from the nbgrader sources in solutions/. Runs "
        "nbgrader generate_assignment in a throwaway course folder and writes canonical, "
        "byte-stable notebooks (stable cell ids, no outputs, no timestamps).",
    )
    _lessons(p)
    p.add_argument("--out", type=Path, default=None, help="output folder (default: notebooks/)")
    _course_dir(p)
    p.set_defaults(handler="course.tools.releases:release_command")


def _add_check(sub) -> None:
    p = sub.add_parser(
        "check",
        help="run a notebook's tests without nbgrader and print a per-exercise table",
        description="Run a notebook top to bottom in a fresh kernel (quick mode) and print one "
        "row per exercise: points, passed/failed and the check's message. On a student "
        "notebook only the visible tests exist: a pass is necessary, not sufficient.",
    )
    p.add_argument("notebook", type=Path)
    p.add_argument(
        "--timeout", type=positive_int, default=120, help="seconds per cell (default 120)"
    )
    p.set_defaults(handler="course.tools.selfcheck:run")


def _add_lab(sub) -> None:
    p = sub.add_parser(
        "lab",
        help="start JupyterLab with the course's settings (self-study)",
        description="Start JupyterLab in the course checkout with the course's settings: "
        "nbgrader's exchange-based Assignment List and Courses off (self-study needs no "
        "exchange; Validate and the formgrader stay), and this environment's commands "
        "(`course`) on PATH in notebooks (`!course check ...`) and terminals. Any other "
        "option goes to `jupyter lab` (e.g. course lab --no-browser --port 8889).",
    )
    _course_dir(p)
    # every other option goes to `jupyter lab` (main() collects them into args.jupyter_args)
    p.set_defaults(handler="course.tools.lab:run", jupyter_args=[], passes_unknown_options=True)


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="grade a throwaway class of sample students and print the gradebook",
        description="Build a throwaway nbgrader course folder, release every lesson, submit "
        "three sample students per lesson (solution, blank, partial), grade them with "
        "`course grade`, record the scores in the folder's nbgrader gradebook and print it.",
    )
    _lessons(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="course folder to create (default: a new temporary one)",
    )
    p.set_defaults(handler="course.cli.demo:run")


def _add_grade(sub) -> None:
    p = sub.add_parser(
        "grade",
        help="grade a class: every notebook in an OS sandbox, verdicts decided outside it",
        description="Grade nbgrader's submitted/ layout (<student>/<lesson>/<lesson>.ipynb). "
        "Every notebook runs in a bubblewrap sandbox (no checkout, no network, no other "
        "student, its own PID namespace, resource limits); the tests run in the grader's own "
        "process against the reference it alone holds. Results are written as each notebook "
        "finishes; a rerun resumes. Exit 0 once the class is graded, 2 for instructor "
        "errors. See docs/GRADING.md.",
    )
    p.add_argument("submissions", type=Path, help="nbgrader submitted/ folder: <student>/<lesson>/")
    _lessons(p)
    p.add_argument("--students", nargs="+", default=None, help="only these students")
    p.add_argument(
        "--jobs", "-j", type=positive_int, default=None,
        help="notebooks graded at once (default: half the CPU cores)",
    )  # fmt: skip
    p.add_argument(
        "--timeout", type=positive_float, default=1200,
        help="wall-clock seconds per notebook (default 1200)",
    )  # fmt: skip
    p.add_argument(
        "--cell-timeout", type=positive_int, default=None,
        help="seconds per cell (default: the course's nbgrader_config.py)",
    )  # fmt: skip
    p.add_argument(
        "--memory", type=non_negative_int, default=4096,
        help="MB a notebook may use on top of its start-up (default 4096; 0: no limit)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("grades"), help="output folder (./grades)")
    p.add_argument("--feedback", action="store_true", help="also write feedback HTML")
    _course_dir(p)
    _data(p, "$COURSE_DATA, ./data, ~/.cache/course")
    p.add_argument(
        "--gradebook", type=Path, default=None,
        help="also record the scores in this nbgrader gradebook.db (its folder gets autograded/)",
    )  # fmt: skip
    p.add_argument(
        "--work-dir", type=Path, default=None,
        help="scratch folder for staged copies (default: the system's temporary one)",
    )  # fmt: skip
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help="hand the notebooks to a Dask cluster: tcp://HOST:PORT, or local:N for N local "
        "worker processes (each worker needs bubblewrap and the course installed)",
    )  # fmt: skip
    p.add_argument(
        "--unsafe-no-sandbox", action="store_true",
        help="run student code WITHOUT the OS sandbox (bubblewrap missing); every report says so",
    )  # fmt: skip
    p.set_defaults(handler="course.grading.batch:run")


def _add_score_checkpoints(sub) -> None:
    p = sub.add_parser(
        "score-checkpoints",
        help="re-evaluate every student's trained ResNet-34 checkpoint (lesson 05)",
        description="Load each <student>/<lesson>/checkpoints/resnet34_cifar10.pt (weights "
        "only) into the instructor's ResNet34 and recompute its CIFAR-10 test accuracy; the "
        "student's own code never runs.",
    )
    p.add_argument("submissions", type=Path, help="nbgrader submitted/ folder (or its course dir)")
    p.add_argument(
        "--reference", type=Path, default=None,
        help="the instructor's ResNet34: a .py file or the solution notebook "
        "(default: this checkout's solution)",
    )  # fmt: skip
    _data(p, "$COURSE_DATA, ./data, ~/.cache/course")
    p.add_argument(
        "--n", type=count_or_all, default=None,
        help="test images to score, or 'all' (default: $COURSE_SCORE_N or 1000)",
    )  # fmt: skip
    p.add_argument(
        "--allow-synthetic", action="store_true",
        help="score on the synthetic stand-in (for testing the pipeline; not a grade)",
    )  # fmt: skip
    p.set_defaults(handler="course.grading.checkpoints:run")


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="what the class missed: one offline HTML page (+ CSV) from course grade's results",
        description="From the folder `course grade --out` wrote (grades.csv, results/): per "
        "lesson the score distribution and missing/unreadable/flagged counts, per test the "
        "pass rate, its discrimination and the most frequent failure messages, and the flags "
        "for manual review. Writes report.html, report_tests.csv, report_failures.csv.",
    )
    p.add_argument("grades", type=Path, help="the folder course grade wrote (./grades)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: GRADES)")
    p.set_defaults(handler="course.grading.class_report:run")


def _add_similarity(sub) -> None:
    p = sub.add_parser(
        "similarity",
        help="compare the students' answer cells pairwise and with the published solution",
        description="For each exercise, fingerprint every student's answer cell (winnowing, "
        "names and comments normalised) and list the pairs above a threshold side by side, "
        "the course's reference solution and wrong-answer catalogue included as known "
        "sources. Flags for a human only: nothing changes a grade. Writes similarity.html "
        "and similarity.csv.",
    )
    p.add_argument(
        "grades", type=Path,
        help="the folder course grade wrote (its autograded/), or a submitted/ folder",
    )  # fmt: skip
    _lessons(p)
    p.add_argument(
        "--threshold", type=positive_float, default=None,
        help="similarity (0-1) from which a pair is listed (default 0.8)",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="output folder (default: GRADES)")
    _course_dir(p)
    p.set_defaults(handler="course.grading.similarity:run")


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="grades for an LMS: Canvas's gradebook CSV, or a plain per-student CSV",
        description="From the folder `course grade --out` wrote (grades.csv), one row per "
        "student and one column per lesson: the autograded points plus, with --gradebook, the "
        "written answers graded by hand in nbgrader's formgrader.",
    )
    p.add_argument("grades", type=Path, help="the folder course grade wrote (./grades)")
    p.add_argument(
        "--canvas", action="store_true",
        help="Canvas's gradebook import layout (Student, ID, SIS User ID, SIS Login ID, "
        "Section, one column per lesson, a Points Possible row)",
    )  # fmt: skip
    p.add_argument(
        "--gradebook", type=Path, default=None,
        help="nbgrader gradebook.db holding manual grades (default: none)",
    )  # fmt: skip
    p.add_argument(
        "--roster", type=Path, default=None,
        help="(--canvas) a gradebook CSV exported from Canvas: its Student, ID, SIS User ID "
        "and Section are copied for each student whose SIS Login ID is the student's folder",
    )  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="CSV to write (default: in GRADES)")
    _course_dir(p)
    p.set_defaults(handler="course.grading.export:run")


def _add_site(sub) -> None:
    p = sub.add_parser(
        "site",
        help="build the course web site (pandoc) from the released lessons",
        description="Build a static site from the released notebooks (never the solutions): "
        "one article per lesson and an index, math as MathML, citations, interactive figures. "
        "Works offline and from file://.",
    )
    _lessons(p)
    p.add_argument("--out", type=Path, default=Path("site"), help="output folder (./site)")
    _course_dir(p)
    p.set_defaults(handler="course.tools.site:run")


def _add_data(sub) -> None:
    p = sub.add_parser(
        "data",
        help="get CIFAR-10, or write a small synthetic stand-in",
        description="Get CIFAR-10 (download + md5 + safe extract), or write a small synthetic "
        "stand-in in the same format for machines without internet.",
    )
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    dl = actions.add_parser(
        "download",
        help="download, verify and extract CIFAR-10",
        description="Download cifar-10-python.tar.gz, verify its md5 and extract it into "
        "DATA/cifar-10-batches-py. Without internet: copy the archive into DATA by hand and "
        "run this again.",
    )
    dl.add_argument("--data", type=Path, default=Path("data"), help="data folder (./data)")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(handler="course.data:download_command")
    fake = actions.add_parser(
        "fake",
        help="write a small SYNTHETIC stand-in in the CIFAR-10 format",
        description="Write DATA/cifar-10-python.tar.gz with generated, learnable images in "
        "exactly the CIFAR-10 python format (labelled synthetic), and extract it.",
    )
    fake.add_argument("--data", type=Path, default=Path("data"), help="data folder (./data)")
    fake.add_argument("--n-train", type=positive_int, default=1000, help="training images (1000)")
    fake.add_argument("--n-test", type=positive_int, default=200, help="test images (200)")
    fake.add_argument("--seed", type=non_negative_int, default=0, help="generator seed (0)")
    fake.set_defaults(handler="course.data:fake_command")


SUBCOMMANDS = [
    _add_release,
    _add_check,
    _add_lab,
    _add_demo,
    _add_grade,
    _add_score_checkpoints,
    _add_report,
    _add_similarity,
    _add_export,
    _add_site,
    _add_data,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course",
        description="Residual Networks, hands-on: release, check, demo and grade the notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"course {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def handler(args: argparse.Namespace):
    """The function that runs ``args``' subcommand (its module imported now)."""
    module, _, name = args.handler.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if not getattr(args, "passes_unknown_options", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.jupyter_args = [*args.jupyter_args, *unknown]
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(handler(args)(args) or 0)
    except KeyboardInterrupt:
        print("course: interrupted", file=sys.stderr)
        return 130
    except CourseError as exc:
        print(f"course {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
