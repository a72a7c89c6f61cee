"""``course release``: regenerate the student notebooks from the nbgrader sources."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "release",
        help="regenerate notebooks/ from solutions/ (deterministic, via nbgrader generate_assignment)",
        description=(
            "Regenerate student notebooks from the nbgrader sources in solutions/. Runs "
            "nbgrader generate_assignment in a throwaway course folder and writes canonical, "
            "byte-stable notebooks (stable cell ids, no outputs, no timestamps)."
        ),
    )
    p.add_argument("lessons", nargs="*", help="lesson ids or numbers (default: all)")
    p.add_argument("--dest", type=Path, default=None, help="output folder (default: notebooks/)")
    p.set_defaults(func=run)


def run(args) -> int:
    from course.notebooks import release

    release(args.lessons, dest=args.dest)
    return 0
