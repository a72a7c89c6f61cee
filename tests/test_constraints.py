"""How-constraints read from the student's source (course.grading.constraints): what is
forbidden is found wherever the answer can reach it, what cannot be verified is reported, and
the reference solutions (with every demo cell of their notebooks) are clean.

Graded end to end by the wrong-answer catalogues (entries with ``earns_nothing``) in the
lessons' shared jobs (tests/test_wrong_answers.py); these are the fast unit checks."""

from __future__ import annotations

import pytest
from conftest import ROOT

from course import cells
from course.checkout import Checkout
from course.checkout import notebooks as nbs
from course.grading import constraints as cs

SETUP = (
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
    "from course import checks\nimport numpy as np",
    False,
)
BACKWARD = (
    "def residual_block_backward(a, W1, b1, W2, b2, da_out):\n"
    "    z1 = W1 @ a + b1\n"
    "    {line}\n"
    "    return {{'da': z1}}\n"
)


def verdict(answer: str, function="residual_block_backward", rule=cs.BY_HAND, before=""):
    return cs.analyse([SETUP, (before + answer, True)], function, rule)


def backward(line: str, before: str = ""):
    return verdict(BACKWARD.format(line=line), before=before)


@pytest.mark.parametrize("lesson, exercise", sorted(cs.CONSTRAINTS))
def test_reference_solutions_and_releases_are_clean(lesson, exercise):
    """Every code cell a student runs (demo cells included), as the solution and the release
    have them: nothing forbidden, nothing flagged."""
    for path in (Checkout(ROOT).source(lesson), Checkout(ROOT).release(lesson)):
        nb = nbs.read(path)
        code = [
            (c.source, not cells.is_locked(c) or cells.is_solution(c))
            for c in nb.cells
            if c.cell_type == "code" and not cells.is_test(c)
        ]
        v = cs.analyse(code, exercise, cs.CONSTRAINTS[(lesson, exercise)])
        assert v.clean and not v.missing, (path.name, v)


@pytest.mark.parametrize(
    "line, before",
    [
        ("z1.sum().backward()", ""),
        ("g = torch.autograd.grad(z1.sum(), a)", ""),
        ("g = _g(z1.sum(), a)", "_g = torch.autograd.grad\n"),  # bound before the guard
        ("g = _g(z1.sum(), a)", "from torch.autograd import grad as _g\n"),
        ("g = vjp(f, a)", "from torch.func import vjp\n"),
        ("g = helper(z1)", "def helper(x):\n    return torch.func.grad(x)\n"),
        ("g = Helper().run(z1)", "class Helper:\n    def run(self, x):\n        x.backward()\n"),
        ("g = z1.grad_fn", ""),
        ("g = (lambda t: t.backward())(z1)", ""),
        ("g = k(z1)", "k = lambda t: torch.autograd.backward(t)\n"),
        # a local of a nested scope does not hide the module's name
        ("[g for g in ()]\n    g(z1)", "g = torch.autograd.grad\n"),
        ("(lambda g: g)(1)\n    g(z1)", "g = torch.autograd.grad\n"),
    ],
)
def test_autograd_is_found_wherever_the_answer_reaches_it(line, before):
    v = backward(line, before)
    assert v.forbidden, v
    assert "by hand" in v.message("residual_block_backward")


@pytest.mark.parametrize(
    "line, before",
    [
        ("g = getattr(z1, 'back' + 'ward')()", ""),
        ("g = eval('z1.backward()')", ""),
        ("g = globals()['h'](z1)", ""),
        ("g = __import__('torch').sum(z1)", ""),
        ("g = _(z1)", ""),  # IPython's output history
        ("g = mine.f(z1)", "import mine\n"),  # a module handed in beside the notebook
        ("g = z1", "torch.Tensor.__matmul__ = lambda a, b: a\n"),  # library patched
        ("g = z1", "checks.no_autograd = lambda *a: None\n"),  # the guard replaced
        ("g = z1", "%time x = 1\n"),  # a magic
        ("g = z1", "import torch.autograd as A\nsetattr(A, 'grad', None)\n"),
    ],
)
def test_what_cannot_be_verified_is_flagged(line, before):
    v = backward(line, before)
    assert v.unverifiable and not v.forbidden, v
    assert v.flag("residual_block_backward") and "0 points until" in v.message("x")


def test_no_conv_and_no_loop():
    def conv(body, before=""):
        return verdict(f"def conv1x1(x, weight, bias=None):\n{body}", "conv1x1", cs.NO_CONV, before)

    assert conv("    conv_out = torch.einsum('nchw,oc->nohw', x, weight[:, :, 0, 0])\n"
                "    return conv_out").clean  # fmt: skip
    assert conv("    return c(x, weight)", "c = F.conv2d\n").forbidden
    assert conv("    return nn.Conv2d(3, 4, 1)(x)").forbidden
    assert conv("    return torch.ops.aten.convolution(x)").forbidden

    def loop(body, before=""):
        src = f"def random_crop_flip(batch, padding=4):\n{body}"
        return verdict(src, "random_crop_flip", cs.NO_LOOP, before)

    assert loop("    return batch.flip(-1)", "for batch in range(3):\n    pass\n").clean
    for body, before in [
        ("    return torch.stack([b for b in batch])", ""),
        ("    return torch.stack(list(map(h, batch)))", "def h(b):\n    return b\n"),
        ("    return h(batch)", "def h(b):\n    while b.ndim:\n        b = b[0]\n    return b\n"),
        ("    return random_crop_flip(batch[1:])", ""),
    ]:
        assert loop(body, before).forbidden, body


def test_untampered_rule_reads_every_editable_cell():
    patched = [SETUP, ("def cifar_net():\n    return 1", True),
               ("nn.Module.register_forward_hook = lambda *a: None", True)]  # fmt: skip
    assert cs.analyse(patched, "cifar_net", cs.UNTAMPERED).unverifiable
    describes_itself = [
        SETUP,
        (
            "class Net(nn.Module):\n    def named_modules(self):\n"
            "        return iter(())\ndef cifar_net():\n    return Net()",
            True,
        ),
    ]
    assert cs.analyse(describes_itself, "cifar_net", cs.UNTAMPERED).unverifiable
    course_cell = [SETUP, ("import importlib\nimportlib.import_module('os')", False)]
    assert cs.analyse(course_cell, "cifar_net", cs.UNTAMPERED).clean


def test_no_norm():
    def forward(body, before=""):
        src = f"def batchnorm_forward(x, gamma, beta, eps=1e-5):\n{body}"
        return verdict(src, "batchnorm_forward", cs.NO_NORM, before)

    assert forward(
        "    mu = x.mean(dim=1, keepdim=True)\n"
        "    var = x.var(dim=1, unbiased=False, keepdim=True)\n"
        "    x_norm = (x - mu) / torch.sqrt(var + eps)\n"
        "    return gamma[:, None] * x_norm + beta[:, None], (x_norm, var)"
    ).clean  # a variable named x_norm is no routine
    assert forward(
        "    return F.batch_norm(x.T, None, None, gamma, beta, True, 0.0, eps).T"
    ).forbidden
    assert forward("    return bn(x.T).T", "bn = nn.BatchNorm1d(3)\n").forbidden
    assert forward(
        "    return f(x)", "def f(x):\n    return F.layer_norm(x, x.shape[1:])\n"
    ).forbidden
