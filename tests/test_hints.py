"""No text a student can see gives an answer away (issue 14).

A line of solution code must not appear in anything visible: the lesson text, a stub's signature
and docstring, a visible test line, a helper cell, or a hint (hints of hidden tests included: the
grader's feedback shows them). Lines are compared after normalisation (comments, whitespace and
``self.`` removed), both whole and by their right-hand side (``x = EXPR``, ``return EXPR``), so
``dW2 = delta2 @ a1.T`` is found in a hint that says ``delta2@a1.T``. Trivial fragments (short, or
without an operator or a call) are not compared: ``identity = x`` gives nothing away.

Formulas that are the lesson's content belong in its text *before* the exercise, written as math
($\\delta_2 a_1^\\top$), not as the code that answers it; this test reads code, not LaTeX.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

import pytest
from conftest import ROOT, all_lessons

from course.cells import grade_id, is_manual, is_solution, is_test
from course.checkout import Checkout, notebooks

LESSONS = all_lessons()
pytestmark = pytest.mark.skipif(not LESSONS, reason="no lessons in solutions/ yet")

MIN_CHARS = 8  # normalised fragments shorter than this are too generic to give anything away
_OPERATOR = re.compile(r"[@*/+\-(\[%]")
# nn.ReLU(), super().__init__(): nothing to give away
_BARE_CALL = re.compile(r"^[\w.]+\(\)(?:\.\w+\(\))*$")
# The skeleton of a fragment: its names and numbers in order, operators dropped, so that
# "floor((n + 2*padding - f) / stride) + 1" in a docstring is found for "(n + 2 * padding - f) // stride + 1".
MIN_SKELETON = 5  # tokens, at least two of them names
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?")
# Lessons another engineer is rewriting under the same issue: expected to fail until that lands.
# An xfail that starts passing fails the run (strict), so the marker cannot outlive the fix.
XFAIL: dict[str, str] = {}


def normalise(text: str) -> str:
    """Whitespace, ``self.`` and markdown backticks removed: the form fragments are compared in."""
    text = text.replace("`", "").replace("self.", "")
    return re.sub(r"\s+", "", text)


def _without_comments(source: str) -> str:
    """``source`` with every comment removed (strings that contain ``#`` are kept)."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                out.append(tok)
        return tokenize.untokenize(out)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(line.split("#", 1)[0] for line in source.split("\n"))


def _solution_lines(source: str) -> set[int]:
    """1-based line numbers strictly between the solution markers."""
    lines, inside = set(), False
    for i, line in enumerate(source.split("\n"), 1):
        if notebooks.SOLUTION_BEGIN in line:
            inside = True
        elif notebooks.SOLUTION_END in line:
            inside = False
        elif inside:
            lines.add(i)
    return lines


def skeleton(text: str) -> tuple[str, ...]:
    """The names and numbers of ``text``, in order (``self`` dropped)."""
    return tuple(t for t in _TOKEN.findall(text.replace("`", "")) if t != "self")


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def solution_fragments(source: str) -> set[str]:
    """Normalised, non-trivial pieces of the answer code in one solution cell."""
    fragments = set()
    for piece in _pieces(source):
        frag = normalise(_without_comments(piece))
        if len(frag) >= MIN_CHARS and _OPERATOR.search(frag) and not _BARE_CALL.match(frag):
            fragments.add(frag)
    return fragments


def _pieces(source: str) -> set[str]:
    """Source of each simple statement of the answer, and of its right-hand side."""
    inside = _solution_lines(source)
    tree = ast.parse(source)
    pieces: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.lineno not in inside:
            continue
        if isinstance(
            node, ast.FunctionDef | ast.ClassDef | ast.If | ast.For | ast.While | ast.With
        ):
            continue  # compound statements: their simple statements are visited on their own
        whole = ast.get_source_segment(source, node) or ""
        pieces.add(whole)
        value = getattr(node, "value", None)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Return) and value:
            pieces.add(ast.get_source_segment(source, value) or "")
    return pieces


def solution_skeletons(source: str) -> set[tuple[str, ...]]:
    """Skeletons of the answer's fragments that are long enough to identify it."""
    out = set()
    for piece in _pieces(source):
        sk = skeleton(_without_comments(piece))
        names = {t for t in sk if not t[0].isdigit()}
        if len(sk) >= MIN_SKELETON and len(names) >= 2:
            out.add(sk)
    return out


def _strings(node: ast.AST) -> list[str]:
    """The literal text of a hint argument: a string, an f-string's literal parts, a tuple of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value for v in node.values if isinstance(v, ast.Constant))]
    if isinstance(node, ast.Tuple | ast.List):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def hints(source: str) -> list[str]:
    """Every literal hint in a test cell, hidden parts included (feedback shows them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "hint":
                    found += _strings(kw.value)
            if getattr(node.func, "attr", "") == "check" and len(node.args) >= 3:
                found += _strings(node.args[2])  # checks.check(condition, message, hint)
    return found


def _outside(source: str, begin: str, end: str) -> str:
    out, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def visible_texts(nb) -> list[tuple[str, str]]:
    """(where, text) for everything a student or the grader's feedback shows."""
    out = []
    for i, cell in enumerate(nb.cells):
        gid = grade_id(cell) or f"cell {i}"
        if is_manual(cell):
            continue  # the model answer is replaced by the stub on release
        if is_solution(cell):
            out.append(
                (
                    f"{gid}: stub (signature, docstring)",
                    _outside(cell.source, notebooks.SOLUTION_BEGIN, notebooks.SOLUTION_END),
                )
            )
        elif is_test(cell):
            out.append(
                (
                    f"{gid}: visible test",
                    _without_comments(
                        _outside(cell.source, notebooks.HIDDEN_BEGIN, notebooks.HIDDEN_END)
                    ),
                )
            )
            out += [(f"{gid}: hint", h) for h in hints(cell.source)]
        elif cell.cell_type == "code":
            out.append((f"{gid}: code", _without_comments(cell.source)))
        else:
            out.append((f"{gid}: text", cell.source))
    return out


def leaks(lesson: str) -> list[str]:
    nb = notebooks.read(Checkout(ROOT).source(lesson))
    fragments: dict[str, str] = {}
    skeletons: dict[tuple[str, ...], str] = {}
    for cell in nb.cells:
        if is_solution(cell) and cell.cell_type == "code":
            for frag in solution_fragments(cell.source):
                fragments.setdefault(frag, grade_id(cell))
            for sk in solution_skeletons(cell.source):
                skeletons.setdefault(sk, grade_id(cell))
    found = []
    for where, text in visible_texts(nb):
        norm, tokens = normalise(text), skeleton(text)
        for frag, exercise in sorted(fragments.items()):
            if frag in norm:
                found.append(f"{where} contains answer code of {exercise!r}: {frag}")
        for sk, exercise in sorted(skeletons.items()):
            if _contains(tokens, sk):
                found.append(f"{where} spells out answer code of {exercise!r}: {' '.join(sk)}")
    return sorted(set(found))


def test_normalise_and_fragments():
    src = (
        "def f(a, W2, delta2, a1):\n"
        "    ### BEGIN SOLUTION\n"
        "    identity = a  # too short to give anything away\n"
        "    dW2 = delta2 @ a1.T  # the weight gradient\n"
        "    return self.relu(dW2 + identity)\n"
        "    ### END SOLUTION\n"
    )
    frags = solution_fragments(src)
    assert "delta2@a1.T" in frags and "dW2=delta2@a1.T" in frags
    assert "relu(dW2+identity)" in frags
    assert not any("identity=a" == f for f in frags)
    assert ("n", "2", "padding", "f", "stride", "1") in solution_skeletons(
        "def g(n, f, padding, stride):\n    ### BEGIN SOLUTION\n"
        "    return (n + 2 * padding - f) // stride + 1\n    ### END SOLUTION\n"
    )
    assert _contains(
        skeleton("floor((n + 2*padding - f) / stride) + 1"),
        ("n", "2", "padding", "f", "stride", "1"),
    )
    assert hints("checks.check_close(x, y, 'n', hint=('use dW2 = delta2 @ a1.T', 'more'))") == [
        "use dW2 = delta2 @ a1.T",
        "more",
    ]


@pytest.mark.parametrize(
    "lesson",
    [
        pytest.param(lesson, marks=pytest.mark.xfail(reason=XFAIL[lesson], strict=True))
        if lesson in XFAIL
        else lesson
        for lesson in LESSONS
    ],
)
def test_no_visible_text_contains_answer_code(lesson):
    found = leaks(lesson)
    assert not found, "answer code in visible text:\n" + "\n".join(found)
