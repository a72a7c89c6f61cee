"""A toy course and the hostile/broken submissions ``tests/test_grade.py`` grades.

The toy lesson is built with :mod:`course.tools.authoring`, so the grader's tests do not depend on the
real lessons. Two exercises, ``double`` (3 points over two tests) and ``square`` (3 points), plus a
written answer. Each entry of :data:`CASES` is one student: how the submission is produced from the
release, and the points it must get (``None``: anything, the test checks something else).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from course.tools import notebooks as nbs
from course.tools.authoring import code, md, notebook, solution, tests, written

LESSON = "toy"
HIDDEN_MARK = "secret_hidden"  # appears only in the source of the toy lesson's hidden tests
DOUBLE = "def double(x):\n    return 2 * x"
SQUARE = "def square(x):\n    return x * x"
MAX = 6.0


def toy_source():
    """The nbgrader source of the toy lesson (solutions + hidden tests)."""
    return notebook(
        [
            md("# Toy lesson\nTwo tiny exercises for testing the grader."),
            code(
                "import numpy as np\nimport torch\n\nfrom course.checks import check_close, check_shape",
                locked=True,
                grade_id="imports",
            ),
            md("**Exercise 1 (3 points).** Write `double(x)`, returning `2 * x`."),
            solution(
                "double",
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            ),
            code("double(torch.ones(2))"),
            tests(
                "double__values",
                2,
                "x = torch.arange(3.0)\ncheck_close(double(x), x + x, 'double(x)')\n"
                "### BEGIN HIDDEN TESTS\n"
                f"{HIDDEN_MARK}_y = torch.randn(4, 5)\n"
                f"check_close(double({HIDDEN_MARK}_y), {HIDDEN_MARK}_y * 2, 'double(y)')\n"
                "### END HIDDEN TESTS",
            ),
            tests(
                "double__shape",
                1,
                "check_shape(double(torch.ones(2, 3)), (2, 3), 'double(ones(2, 3))')",
            ),
            md("**Exercise 2 (3 points).** Write `square(x)`, returning `x * x`."),
            solution(
                "square",
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
            ),
            tests(
                "square__values",
                3,
                "x = torch.arange(4.0)\nassert torch.allclose(square(x), x ** 2), 'square(x) is wrong'\n"
                "### BEGIN HIDDEN TESTS\nz = np.arange(5.0) - 2\n"
                f"np.testing.assert_allclose(square(z), z * z, err_msg='square(z)')  # {HIDDEN_MARK}\n"
                "### END HIDDEN TESTS",
            ),
            written("why_square", 2),
        ]
    )


def make_toy_course(dest: Path, repo_root: Path) -> Path:
    """A course checkout at ``dest``: the repo's nbgrader_config.py and solutions/toy/."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo_root / "nbgrader_config.py", dest / "nbgrader_config.py")
    nbs.write(nbs.normalize(toy_source()), dest / "solutions" / LESSON / f"{LESSON}.ipynb")
    (dest / "solutions" / LESSON / "notes.txt").write_text("a file released with the lesson\n")
    return dest


# --------------------------------------------------------------------------- submissions
def answered(release, **answers: str):
    """The release with answer cells replaced (``double=..., square=...``)."""
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    return nb


def correct(release):
    return answered(release, double=DOUBLE, square=SQUARE)


def _cells(nb, gid):
    return [
        c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid
    ]


def _index(nb, gid):
    return next(
        i
        for i, c in enumerate(nb["cells"])
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid
    )


@dataclass
class Case:
    """One student of the hostile class and what ``course grade`` must make of it."""

    student: str
    make: Callable  # release dict -> notebook dict, str (written as is) or None (no file)
    points: float  # the autograded points it must get
    status: str = "graded"
    flags: list[str] = field(default_factory=list)  # substrings each expected among the flags
    reason: str = ""  # substring expected in the reason
    filename: str = f"{LESSON}.ipynb"
    extra: dict[str, str] = field(default_factory=dict)  # other files handed in

    def expected_review(self) -> bool:
        return bool(self.flags) or self.status not in ("graded", "missing")


WRONG_SQUARE = "def square(x):\n    return x"


def _wrong_square_with(prefix: str):
    """``square`` wrong (returns ``x``) after ``prefix`` ran in its answer cell: 3 points at
    most, whatever ``prefix`` does to the tests."""
    return lambda rel: answered(rel, double=DOUBLE, square=prefix + "\n" + WRONG_SQUARE)


def _before_double(prefix: str, square: str = SQUARE):
    """``double`` defined right after ``prefix`` ran in its answer cell; ``square`` as given."""
    return lambda rel: answered(rel, double=prefix.rstrip("\n") + "\n" + DOUBLE, square=square)


def _edit_test(rel):
    nb = answered(rel, double=DOUBLE, square=WRONG_SQUARE)
    _cells(nb, "square__values")[0]["source"] = "pass  # test removed by the student"
    return nb


def _delete_test(rel):
    nb = answered(rel, double=DOUBLE, square=WRONG_SQUARE)
    del nb["cells"][_index(nb, "square__values")]
    return nb


def _copy_cell(nb, gid, **changes):
    i = _index(nb, gid)
    copy = json.loads(json.dumps(nb["cells"][i]))
    copy.update(id=f"copied-{gid}", **changes)
    nb["cells"].insert(i + 1, copy)
    return nb


def _duplicate_test(rel):
    """A copied test cell: its duplicate grade id made nbgrader fail the notebook (#1083)."""
    return _copy_cell(correct(rel), "double__values")


def _duplicate_answer(rel):
    """JupyterLab copy-paste of the answer cell, the answer written in the copy."""
    return _copy_cell(answered(rel, double=DOUBLE), "square", source=SQUARE)


def _points(rel):
    nb = answered(rel, double=DOUBLE, square=WRONG_SQUARE)
    _cells(nb, "double__values")[0]["metadata"]["nbgrader"]["points"] = 100
    _cells(nb, "square__values")[0]["metadata"]["nbgrader"]["points"] = 100
    return nb


def _huge_outputs(rel):
    nb = correct(rel)
    blob = "x" * 1_000_000
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": blob}] * 3
    return nb


def _fake_test_cell(rel):
    """A cell of the student's own claiming to be a 100-point test that passes."""
    nb = answered(rel, double=DOUBLE, square=WRONG_SQUARE)
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "fake",
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "square__bonus",
                    "locked": True,
                    "points": 100,
                    "schema_version": 3,
                    "solution": False,
                }
            },
            "source": "pass",
            "outputs": [],
            "execution_count": None,
        }
    )
    return nb


# Attack code that knows where things are: @@SUBMISSIONS@@, @@WORK@@ and @@OUT@@ are replaced by
# the paths of the test's submitted/ folder, --work-dir and --out (see write_submissions).
OVERWRITE_CLASSMATE = """import glob, pathlib
for p in glob.glob('@@SUBMISSIONS@@/victim/toy/*') + glob.glob('@@WORK@@/*/staged/victim/toy/*'):
    pathlib.Path(p).write_text('{}')
pathlib.Path('@@OUT@@/grades.csv').write_text('student,score\\nattacker,1000\\n')
"""

LEAK_HIDDEN = """import linecache, sys
def square(x):
    caller = sys._getframe(1).f_code.co_filename
    print(''.join(linecache.getlines(caller)))  # the test cell's source, hidden lines too
    return x * x"""

CASES = [
    Case("ok_full", correct, MAX),
    Case("ok_blank", lambda rel: rel, 0.0),
    Case("ok_half", lambda rel: answered(rel, double=DOUBLE), 3.0),
    Case(
        "invalid_json",
        lambda rel: '{"cells": [ this is not json',
        0.0,
        "unreadable",
        reason="unreadable notebook",
    ),
    Case("renamed", correct, MAX, flags=["renamed notebook"], filename="toy (1).ipynb"),
    Case("missing", lambda rel: None, 0.0, "missing", reason="no toy.ipynb"),
    # infinite loops, exits, crashes, memory
    Case(
        "infinite_loop",
        lambda rel: answered(rel, double="while True:\n    pass", square=SQUARE),
        3.0,
        reason="double timed out",
    ),
    Case(
        "sigint_ignored",
        lambda rel: answered(
            rel,
            double=DOUBLE,
            square="import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        ),
        3.0,
        reason="ignored the interrupt",
        flags=["exits or signals"],
    ),
    Case(
        "sys_exit",
        lambda rel: answered(rel, double="import sys\nsys.exit(1)", square=SQUARE),
        3.0,
        flags=["exits or signals"],
    ),
    Case(
        "os_exit",
        lambda rel: answered(
            rel, double=DOUBLE, square="import os\ndef square(x):\n    os._exit(0)"
        ),
        3.0,
        flags=["exits or signals"],
        reason="kernel died while running square__values",
    ),
    Case(
        "segfault",
        lambda rel: answered(
            rel, double=DOUBLE, square="import ctypes\nctypes.string_at(0)\n" + SQUARE
        ),
        3.0,
        flags=["ctypes"],
        reason="kernel died while running square",
    ),
    Case(
        "memory_bomb",
        # address space grabbed fast (untouched pages); the resident-memory watchdog for
        # touched pages is tested on its own (tests/test_grade.py, sandbox tests)
        _before_double(
            "import numpy as np\nhoard = []\nwhile True:\n"
            "    hoard.append(np.empty(2**28, dtype=np.uint8))"
        ),
        3.0,
        reason="double ran out of memory",
    ),
    # monkeypatching what the tests rely on
    Case(
        "patch_allclose",
        _wrong_square_with(
            "import torch, numpy\ntorch.allclose = lambda *a, **k: True\n"
            "numpy.testing.assert_allclose = lambda *a, **k: None"
        ),
        3.0,
        flags=["torch.allclose replaced", "numpy.testing.assert_allclose replaced"],
    ),
    Case(
        "patch_assertion_error",
        _wrong_square_with(
            "import builtins\nclass Quiet(Exception):\n    pass\n"
            "builtins.AssertionError = Quiet\nAssertionError = Quiet"
        ),
        3.0,
        flags=["builtins.AssertionError replaced"],
    ),
    Case(
        "patch_import",
        _wrong_square_with(
            "import builtins\n_real = builtins.__import__\n"
            "builtins.__import__ = lambda *a, **k: _real(*a, **k)"
        ),
        3.0,
        flags=["builtins.__import__ replaced"],
    ),
    Case(
        "patch_checks",
        lambda rel: answered(
            rel,
            double="import course.checks\ncourse.checks.check_close = lambda *a, **k: None\n"
            "check_close = lambda *a, **k: None\ndef double(x):\n    return x",
            square=SQUARE,
        ),
        4.0,  # double__shape (1 point) passes: double(x) = x has the right shape
        flags=["course.checks.check_close replaced"],
    ),
    Case(
        "custom_exc",
        _wrong_square_with("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
        3.0,
        flags=["custom exception handler"],
    ),
    Case(
        "patch_run_cell",
        _wrong_square_with(
            "ip = get_ipython()\n_rc = ip.run_cell\n"
            "ip.run_cell = lambda cell, *a, **k: _rc('pass' if 'square' in cell else cell, *a, **k)"
        ),
        3.0,
        flags=["run_cell overridden"],
    ),
    Case(
        "settrace_in_test",
        lambda rel: answered(
            rel,
            double=DOUBLE,
            square="import sys\ndef square(x):\n    sys.settrace(lambda *a: None)\n    return x * x",
        ),
        3.0,  # square is right, but it installed a tracer while the test ran: the test is void
        flags=["sys.settrace active"],
    ),
    Case(
        "patch_during_test",
        lambda rel: answered(
            rel,
            double=DOUBLE,
            square="import torch\ndef square(x):\n    torch.allclose = lambda *a, **k: True\n"
            "    return x",
        ),
        3.0,
        flags=["changed while the test ran"],
    ),
    # editing the notebook's structure
    Case("edit_test", _edit_test, 3.0, flags=["locked cell square__values edited"]),
    Case("delete_test", _delete_test, 3.0, flags=["test cell square__values deleted"]),
    Case("duplicate_test", _duplicate_test, MAX, flags=["duplicate grade id double__values"]),
    Case("duplicate_answer", _duplicate_answer, MAX, flags=["duplicate grade id square"]),
    Case("change_points", _points, 3.0, flags=["points of double__values changed"]),
    Case("fake_test_cell", _fake_test_cell, 3.0, flags=["unknown grade id square__bonus"]),
    Case("huge_outputs", _huge_outputs, MAX, flags=["huge outputs"]),
    # the file system and other processes
    Case(
        "write_gradebook",
        _before_double(
            "import glob, sqlite3\nfor db in glob.glob('../../../*.db'):\n"
            "    con = sqlite3.connect(db)\n"
            "    con.execute('UPDATE grade_cells SET max_score = 1000')\n    con.commit()",
            square=WRONG_SQUARE,
        ),
        3.0,
        flags=["file system"],
    ),
    Case(
        "write_private_folder",
        _before_double(
            "import pathlib\nfor p in pathlib.Path('../..').rglob('*.ipynb'):\n"
            "    p.write_text('{}')"
        ),
        MAX,
        flags=["file system"],
    ),
    Case(
        "attacker",
        _before_double(OVERWRITE_CLASSMATE),
        MAX,
        flags=["file system"],
    ),
    Case(
        "victim",
        correct,
        MAX,
        flags=["submitted files changed while the class was graded"],
        extra={"weights.txt": "the victim's own file\n"},
    ),
    Case(
        "env_thief",
        _before_double("import os\nprint(sorted(os.environ.items()))"),
        MAX,
    ),
    Case(
        "daemon",
        _before_double(
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
            "    time.sleep(600)\n    os._exit(0)"
        ),
        MAX,
        flags=["process(es) started by the notebook were still running; killed"],
    ),
    Case(
        "leak_hidden",
        lambda rel: answered(rel, double=DOUBLE, square=LEAK_HIDDEN),
        MAX,
        flags=["hidden-test lines"],
    ),
]


def write_submissions(subdir: Path, release, paths: dict[str, Path], cases=CASES) -> None:
    """``subdir/<student>/toy/<file>`` for every case (nbgrader's submitted/ layout);
    ``paths`` fills the ``@@NAME@@`` placeholders of attack code."""
    for case in cases:
        folder = subdir / case.student / LESSON
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in case.extra.items():
            (folder / name).write_text(text, encoding="utf-8")
        content = case.make(json.loads(json.dumps(release)))
        if content is None:
            continue
        if isinstance(content, dict):
            content = json.dumps(content, indent=1)
        for name, path in paths.items():
            content = content.replace(f"@@{name}@@", str(path))
        (folder / case.filename).write_text(content, encoding="utf-8")
