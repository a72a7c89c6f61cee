"""A toy course and the hostile/broken submissions ``tests/test_grading.py`` grades.

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

from course.checkout import notebooks as nbs
from course.tools import releases
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
    nbs.write(releases.normalize(toy_source()), dest / "solutions" / LESSON / f"{LESSON}.ipynb")
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
    """One student of the hostile class and what ``course grade`` must make of it.

    ``points`` is what the same notebook earns *without* its attack: an attack must never earn
    more (``exact``: and exactly that, when the outcome is deterministic)."""

    student: str
    make: Callable  # release dict -> notebook dict, str (written as is) or None (no file)
    points: float
    status: str = "graded"
    flags: list[str] = field(default_factory=list)  # substrings each expected among the flags
    reason: str = ""  # substring expected in the reason
    filename: str = f"{LESSON}.ipynb"
    extra: dict[str, str] = field(default_factory=dict)  # other files handed in
    exact: bool = True
    links: dict[str, str] = field(default_factory=dict)  # symlinks handed in: name -> target


WRONG_SQUARE = "def square(x):\n    return x"


def _wrong_square_with(prefix: str):
    """``square`` wrong (returns ``x``) after ``prefix`` ran in its answer cell: 3 points at
    most, whatever ``prefix`` does."""
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


def _many_cells(rel):
    """A valid notebook of 200,000 tiny cells (~20 MB): rejected by the cell cap, in the
    staging subprocess, before anything is built from it."""
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": "1",
        "outputs": [],
        "execution_count": None,
    }
    nb = correct(rel)
    nb["cells"] = nb["cells"] + [dict(cell, id=f"c{i}") for i in range(200_000)]
    return json.dumps(nb)


def _oversized(rel):
    nb = correct(rel)
    nb["cells"][0]["source"] = "# " + "x" * (60 * 2**20)
    return json.dumps(nb)


# Attack code. @@SUBMISSIONS@@, @@WORK@@, @@OUT@@ and @@ROOT@@ are replaced by the paths of the
# test's submitted/ folder, --work-dir, --out and the course checkout (see write_submissions).
OVERWRITE_CLASSMATE = """import glob, pathlib
for p in glob.glob('@@SUBMISSIONS@@/victim/toy/*') + glob.glob('@@WORK@@/**/victim*', recursive=True):
    pathlib.Path(p).write_text('{}')
try:
    pathlib.Path('@@OUT@@/grades.csv').write_text('student,score\\nattacker,1000\\n')
except OSError as exc:
    print('refused:', exc)
"""

READ_SOLUTIONS = """import glob, json, pathlib, sys
import course
found = []
for root in {str(pathlib.Path(course.__file__).resolve().parents[1]), '@@ROOT@@', '@@WORK@@',
             '/home', '/tmp', '/work'}:
    found += glob.glob(root + '/**/solutions/toy/toy.ipynb', recursive=True)
    found += glob.glob(root + '/**/*.db', recursive=True)
# the Python environment is bound read-only on purpose; what it ships (nbgrader's own test
# gradebook, site-packages/nbgrader/tests/.../gradebook.db) is public, not the course's
found = sorted(p for p in set(found) if not p.startswith(sys.prefix + '/'))
for path in found:
    try:
        cells = json.loads(pathlib.Path(path).read_text()).get('cells', [])
    except (OSError, ValueError):
        continue
    for cell in cells:
        if 'def square' in ''.join(cell['source']):
            exec(''.join(cell['source']).replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))
print('found', found)
"""

LYING_TENSOR = """import torch
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        out = super().__torch_function__(func, types, args, kwargs)
        if getattr(func, '__name__', '') in ('allclose', 'equal', '__eq__', 'isclose'):
            return True
        return out
    def __eq__(self, other):
        return True
def double(x):
    return torch.zeros_like(x).as_subclass(Liar)
"""

INT_EQUALS_ALL = """class Everything(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def square(x):
    return Everything(0)
"""

# the live server runs as __main__ (``import course.grading.student`` would be another copy):
# found among live objects, its table of request handlers (student.HANDLERS) rewritten
FORGE_REPLIES = """import gc
live = next(o for o in gc.get_objects() if type(o).__name__ == 'Server' and hasattr(o, 'fd_out'))
handlers = type(live).handle.__globals__['HANDLERS']
kinds = {kind.__name__: kind for kind in handlers}
def forged(self, req, buffers):
    return {"value": {"$": "dict", "k": ["result", "changed"], "v": [True, []]}}, []
handlers[kinds['Call']] = forged
handlers[kinds['Names']] = lambda self, req, b: ({"value": "ok"}, [])
"""

KILL_EVERYTHING = """import os, signal
for pid in os.listdir('/proc'):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
"""

POISON_SHARED = """import os, pathlib, site, sys
targets = [pathlib.Path.home() / '.ipython/profile_default/startup/00-evil.py',
           pathlib.Path('/tmp/evil.py'), pathlib.Path(sys.prefix) / 'evil.pth',
           pathlib.Path(site.getsitepackages()[0]) / 'evil.pth',
           pathlib.Path('@@ROOT@@') / 'nbgrader_config.py',
           pathlib.Path('@@WORK@@') / 'evil.py']
for t in targets:
    try:
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_text("import builtins; builtins.__dict__['square'] = lambda x: x\\n")
    except OSError as exc:
        print('refused:', t, exc)
"""

LEAK_TESTS = """import sys
def square(x):
    frames = []
    f = sys._getframe(1)
    while f is not None:
        frames.append(f.f_code.co_filename)
        f = f.f_back
    ip = get_ipython()
    print('IN', ip.user_ns.get('In'), frames)
    return x * x
"""

SHADOW_CHECKS = {
    "course/__init__.py": "",
    "course/checks.py": "def check_close(*a, **k):\n    pass\n\ndef check_shape(*a, **k):\n    pass\n",
    "helper.py": "import torch\ntorch.allclose = lambda *a, **k: True\n",
    # the server's own module and a library, replaced: the sandbox must still start its own
    "course/grading/__init__.py": "",
    "course/grading/student.py": "raise SystemExit('the handed-in server ran')\n",
    "torch.py": "raise SystemExit('the handed-in torch ran')\n",
}

CASES = [
    Case("ok_full", correct, MAX),
    Case("ok_blank", lambda rel: rel, 0.0),
    Case("ok_half", lambda rel: answered(rel, double=DOUBLE), 3.0),
    Case("invalid_json", lambda rel: '{"cells": [ this is not json', 0.0, "unreadable",
         reason="unreadable notebook"),
    Case("renamed", correct, MAX, flags=["renamed notebook"], filename="toy (1).ipynb"),
    Case("missing", lambda rel: None, 0.0, "missing", reason="no toy.ipynb"),
    Case("many_cells", _many_cells, 0.0, "unreadable", reason="cells (the limit is"),
    Case("oversized", _oversized, 0.0, "unreadable", reason="over 50 MB"),
    # infinite loops, exits, crashes, memory, processes
    Case("infinite_loop", lambda rel: answered(rel, double="while True:\n    pass", square=SQUARE),
         3.0, reason="timed out"),
    Case("sigint_ignored", lambda rel: answered(rel, double=DOUBLE, square="import signal\n"
         "signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"), 3.0,
         reason="timed out"),
    Case("sys_exit", lambda rel: answered(rel, double="import sys\nsys.exit(1)", square=SQUARE), 3.0),
    Case("os_exit", lambda rel: answered(rel, double=DOUBLE,
         square="import os\ndef square(x):\n    os._exit(0)"), 3.0, reason="process stopped"),
    Case("segfault", lambda rel: answered(rel, double=DOUBLE,
         square="import ctypes\nctypes.string_at(0)\n" + SQUARE), 3.0, reason="died"),
    Case("memory_bomb", _before_double("import numpy as np\nhoard = []\nwhile True:\n"
         "    hoard.append(np.ones(2**27, dtype=np.uint8))"), 3.0),  # killed (memory) or timed out
    Case("fork_bomb", _before_double("import os\nwhile True:\n    os.fork()"), 3.0, exact=False),
    Case("daemon", _before_double("import os, time\nif os.fork() == 0:\n    os.setsid()\n"
         "    time.sleep(600)\n    os._exit(0)"), MAX),
    # lying objects and forged answers
    Case("lying_tensor", lambda rel: answered(rel, double=LYING_TENSOR, square=SQUARE), 4.0),
    Case("int_equals_all", lambda rel: answered(rel, double=DOUBLE, square=INT_EQUALS_ALL), 3.0),
    Case("forged_replies", lambda rel: answered(rel, double=FORGE_REPLIES + WRONG_SQUARE.replace(
         "square", "double"), square=SQUARE), 4.0, exact=False),
    # patching what the tests rely on (it all lives in the grader, out of reach)
    Case("patch_allclose", _wrong_square_with("import torch, numpy\n"
         "torch.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None"),
         3.0),
    Case("patch_assertion_error", _wrong_square_with("import builtins\nclass Quiet(Exception):\n"
         "    pass\nbuiltins.AssertionError = Quiet\nAssertionError = Quiet"), 3.0),
    Case("patch_checks", lambda rel: answered(rel, double="import course.checks\n"
         "course.checks.check_close = lambda *a, **k: None\ncheck_close = lambda *a, **k: None\n"
         "def double(x):\n    return x", square=SQUARE), 4.0),
    Case("patch_checks_code", _wrong_square_with("import course.checks as c\n"
         "c.check_close.__code__ = (lambda *a, **k: None).__code__\n"
         "c.check_shape.__code__ = (lambda *a, **k: None).__code__"), 3.0),
    Case("shadow_modules", _wrong_square_with("import helper, course.checks"), 3.0,
         extra=SHADOW_CHECKS, flags=["handed-in code helper.py"]),
    Case("split_keywords", _wrong_square_with("g = globals()['__buil' + 'tins__']\n"
         "getattr(g, 'set' + 'attr')(__import__('tor' + 'ch'), 'allc' + 'lose', lambda *a, **k: True)"),
         3.0),
    # reading what it should not, leaking the tests
    Case("read_solutions", _wrong_square_with(READ_SOLUTIONS), 3.0),
    Case("leak_tests", lambda rel: answered(rel, double=DOUBLE, square=LEAK_TESTS), MAX),
    Case("env_thief", _before_double("import os\nprint(sorted(os.environ.items()))"), MAX),
    # the file system, classmates and the grader itself
    Case("attacker", _before_double(OVERWRITE_CLASSMATE), MAX),
    Case("victim", correct, MAX, extra={"weights.txt": "the victim's own file\n"}),
    Case("poison_shared", _before_double(POISON_SHARED), MAX),
    Case("kill_grader", _wrong_square_with(KILL_EVERYTHING), 3.0, exact=False),
    Case("symlinks", correct, MAX, flags=["symbolic link leak.txt left out"],
         links={"leak.txt": "/etc/hostname"}),
    Case("bob\nmallory,6,6,graded", correct, MAX),
    Case("\x1b[31mred\x07", lambda rel: answered(rel, double=DOUBLE), 3.0),
    # editing the notebook's structure
    Case("edit_test", _edit_test, 3.0, flags=["locked cell square__values edited"]),
    Case("delete_test", _delete_test, 3.0, flags=["test cell square__values deleted"]),
    Case("duplicate_test", _duplicate_test, MAX, flags=["duplicate grade id double__values"]),
    Case("duplicate_answer", _duplicate_answer, MAX, flags=["duplicate grade id square"]),
    Case("change_points", _points, 3.0, flags=["points of double__values changed"]),
    Case("fake_test_cell", _fake_test_cell, 3.0, flags=["unknown grade id square__bonus"]),
    Case("huge_outputs", _huge_outputs, MAX, flags=["huge outputs"]),
    # in-place changes to the test's tensors: the tests compute their expected values from
    # their own inputs after the call, so a mirrored change would make a wrong answer "right"
    # (issue 20.2). Without the attack each of these earns 4 (double__shape and square).
    Case("mutates_its_input", lambda rel: answered(
        rel, double="def double(x):\n    x.zero_()\n    return torch.zeros_like(x)",
        square=SQUARE), 4.0, exact=False),
    Case("halves_its_input", lambda rel: answered(
        rel, double="def double(x):\n    out = x.clone()\n    x.mul_(0.5)\n    return out",
        square=SQUARE),
        4.0, exact=False),
    Case("replaces_data", lambda rel: answered(
        rel, double="def double(x):\n    x.data = torch.zeros_like(x)\n    x.requires_grad_()\n"
        "    return torch.zeros_like(x)", square=SQUARE), 4.0, exact=False),
]  # fmt: skip


def write_submissions(subdir: Path, release, paths: dict[str, Path], cases=CASES) -> None:
    """``subdir/<student>/toy/<file>`` for every case (nbgrader's submitted/ layout);
    ``paths`` fills the ``@@NAME@@`` placeholders of attack code."""
    for case in cases:
        folder = subdir / case.student / LESSON
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in case.extra.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
        for name, target in case.links.items():
            (folder / name).symlink_to(target)
        content = case.make(json.loads(json.dumps(release)))
        if content is None:
            continue
        if isinstance(content, dict):
            content = json.dumps(content, indent=1)
        for name, path in paths.items():
            content = content.replace(f"@@{name}@@", str(path))
        (folder / case.filename).write_text(content, encoding="utf-8")


# attacks on the machine and the wire (issue 20): their own module, graded in the same batch
from hostile import system_attacks  # noqa: E402 - it builds on the helpers above

CASES += system_attacks.CASES
