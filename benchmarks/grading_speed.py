"""What isolation costs: the same class graded by plain ``nbgrader autograde`` and by ``course grade``.

    python benchmarks/grading_speed.py                       # 3 students, every lesson
    python benchmarks/grading_speed.py --students 5 --lessons 01 03 --jobs 1
    python benchmarks/grading_speed.py --quick               # 1 student, lessons 01 and 03 (CI smoke)

Builds a throwaway nbgrader course folder, submits ``--students`` copies of the reference solution
per lesson, then, in one run and on the same machine:

1. ``nbgrader autograde LESSON --force`` for each lesson (nbgrader's own kernel per notebook,
   no isolation, verdicts decided inside the student's kernel);
2. ``course grade submitted/ LESSON ... --jobs J`` once for the whole class (every notebook in a
   bubblewrap sandbox, the tests in the grader, the reference check first).

Prints seconds per student-notebook per lesson for both — for ``course grade``, each notebook's
own job time plus its share of the run's fixed costs (preparing the lessons, the reference
check, staging) — the ratio, and the time one student's whole course takes; writes the numbers as JSON (``--json``) and a markdown
table to paste into benchmarks/GRADING_SPEED.md. nbgrader autograde grades one notebook at a
time; compare it with ``--jobs 1`` (the default here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from course import data
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.tools import execution


def build_class(course_dir: Path, lessons: list[str], students: int, checkout: Checkout):
    course = checkout.copy(course_dir, lessons)
    for lesson in lessons:
        course.generate_assignment(lesson)
        release = nbs.read(course.release(lesson))
        source = nbs.read(course.source(lesson))
        for i in range(students):
            folder = course_dir / "submitted" / f"student{i:02d}" / lesson
            shutil.copytree(course_dir / "notebooks" / lesson, folder, dirs_exist_ok=True)
            nbs.write(nbs.fill_release(release, source), folder / f"{lesson}.ipynb")


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=3)
    p.add_argument("--lessons", nargs="*", default=None, help="lesson ids or numbers (all)")
    p.add_argument("--jobs", type=int, default=1, help="course grade --jobs (1 = like nbgrader)")
    p.add_argument("--quick", action="store_true", help="1 student, lessons 01 and 03")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    p.add_argument(
        "--scaling", action="store_true",
        help="also grade the class on a local Dask cluster of 1 and of 2 workers",
    )  # fmt: skip
    p.add_argument(
        "--from", dest="checkout", type=Path, default=None,
        help="the course checkout whose lessons are graded (default: this one)",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.quick:
        args.students, args.lessons = 1, args.lessons or ["01", "03"]
    checkout = Checkout.find(args.checkout)
    lessons = checkout.resolve(args.lessons)
    work = Path(tempfile.mkdtemp(prefix="grading-speed-"))
    try:
        course_dir = work / "course"
        build_class(course_dir, lessons, args.students, checkout)
        data_dir = work / "data"
        data.make_fake_cifar10(data_dir, n_train=2000, n_test=500, seed=0)
        env = execution.execution_env(
            "autograde", {data.DATA_ENV: str(data_dir), "OMP_NUM_THREADS": "1"}
        )
        env.pop("NBGRADER_EXECUTION", None)  # nbgrader sets it in the kernels it starts
        plain = {}
        for lesson in lessons:
            plain[lesson] = timed(
                [sys.executable, "-m", "nbgrader", "autograde", lesson, "--force", "--create"],
                course_dir, env,
            )  # fmt: skip
            print(f"nbgrader autograde {lesson}: {plain[lesson]:.1f} s", flush=True)
        out = work / "grades"
        total = timed(
            [sys.executable, "-m", "course", "grade", str(course_dir / "submitted"), *lessons,
             "--course-dir", str(course_dir), "--jobs", str(args.jobs), "--out", str(out),
             "--data", str(data_dir)],
            course_dir, env,
        )  # fmt: skip
        jobs: dict[str, list[float]] = {lesson: [] for lesson in lessons}
        for path in (out / "results").glob("*.json"):
            record = json.loads(path.read_text())
            jobs[record["lesson"]].append(record["job"]["seconds"])
        n = args.students * len(lessons)
        overhead = total - sum(sum(v) for v in jobs.values()) / max(args.jobs, 1)
        rows = []
        for lesson in lessons:
            ours = sum(jobs[lesson]) / len(jobs[lesson]) + max(overhead, 0) / n
            rows.append(
                {
                    "lesson": lesson,
                    "notebooks": args.students,
                    "nbgrader_s_per_notebook": plain[lesson] / args.students,
                    "course_grade_job_s": sum(jobs[lesson]) / len(jobs[lesson]),
                    "course_grade_s_per_notebook": ours,
                    "ratio": ours / (plain[lesson] / args.students),
                }
            )
        print(f"course grade, {n} notebooks: {total:.1f} s (prepare, reference check and "
              f"staging: {overhead:.1f} s of it)", flush=True)  # fmt: skip
        scaling = {}
        for workers in (1, 2) if args.scaling else ():
            scaling[workers] = timed(
                [sys.executable, "-m", "course", "grade", str(course_dir / "submitted"), *lessons,
                 "--course-dir", str(course_dir), "--scheduler", f"local:{workers}",
                 "--out", str(work / f"dask{workers}"), "--data", str(data_dir)],
                course_dir, env,
            )  # fmt: skip
            print(f"course grade --scheduler local:{workers}: {scaling[workers]:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    whole = sum(r["course_grade_s_per_notebook"] for r in rows)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_average": os.getloadavg(),
        "command": "python benchmarks/grading_speed.py " + " ".join(argv or sys.argv[1:]),
        "students": args.students,
        "jobs": args.jobs,
        "rows": rows,
        "course_grade_one_student_all_lessons_s": whole,
        "course_grade_total_s": total,
        "dask_local_workers_s": scaling,
    }
    lines = [
        "| lesson | nbgrader autograde, s/notebook | course grade, s/notebook (job alone) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['lesson']} | {r['nbgrader_s_per_notebook']:.1f} | "
            f"{r['course_grade_s_per_notebook']:.1f} ({r['course_grade_job_s']:.1f}) | "
            f"{r['ratio']:.2f} |"
        )
    lines.append(f"\nOne student, every lesson listed, in course grade: {whole:.0f} s "
                 f"(each lesson's time includes its share of the reference check and start-up).")  # fmt: skip
    if scaling:
        lines += ["", "| Dask workers (local) | whole class, s | speed-up |", "|---:|---:|---:|"]
        lines += [f"| {w} | {t:.0f} | {scaling[1] / t:.2f} |" for w, t in scaling.items()]
    print("\n".join(lines))
    print(f"\n{result['date']}; {result['machine']}; load {result['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
