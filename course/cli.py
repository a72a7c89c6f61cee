"""The ``course`` command: one tool for instructors, students and CI.

    course release [LESSON ...]   regenerate notebooks/ from solutions/ (deterministic)
    course check NOTEBOOK         run a notebook's tests without nbgrader, print a table
    course demo                   a throwaway class: release, submit, autograde, feedback, grades
    course grade SUBMISSIONS      autograde a whole class robustly (timeouts, memory limits)
    course data download|fake     get CIFAR-10, or write a small synthetic stand-in

Each subcommand lives in its own module exposing ``add_parser(subparsers)``; the parser sets
``func(args) -> int`` (the exit code). Modules are imported lazily, so ``course --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (module, subcommand names it registers); a module that is missing is skipped with a note.
SUBCOMMANDS = [
    "course.cli_release",
    "course.selfcheck",
    "course.demo",
    "course.grade",
    "course.data_cli",
    "course.scoring_cli",
]


def build_parser() -> argparse.ArgumentParser:
    from course import __version__

    parser = argparse.ArgumentParser(
        prog="course",
        description="Residual Networks, hands-on: release, check, demo and grade the notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"course {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
