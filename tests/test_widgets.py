"""The lesson widgets (course.experiments.costs) build without a browser, follow their sliders, and compute
with the functions and classes they are handed (the student's), never with code of their own.

Lesson 03: ``cost_explorer(conv_mults, conv_params)``; lesson 04:
``branch_cost_explorer(InceptionModule, naive=NaiveInception)``. Expected numbers come from the
functions given (spies), from ``FlopCounterMode`` on modules built here, or from the lessons'
reference solutions.
"""

from __future__ import annotations

import ipywidgets as ipw
import pytest
import torch
from lesson_code import answers
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from course.experiments import costs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INCEPTION_3A = (192, 64, 96, 128, 16, 32, 32)


def png(ui) -> bytes:
    return bytes(ui.chart.value)


# --------------------------------------------------------------------------------------------
# lesson 03: cost_explorer
# --------------------------------------------------------------------------------------------


class Spy:
    """A stand-in for a student's function: records its calls, answers with ``fn``."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.fn(*args, **kwargs)


def student_mults(h_out, w_out, c_in, c_out, f):
    return h_out * w_out * c_out * f * f * c_in


def student_params(c_in, c_out, f, bias=True):
    return (f * f * c_in + (1 if bias else 0)) * c_out


def test_cost_explorer_builds_headless_with_the_lecture_example():
    ui = costs.cost_explorer(student_mults, student_params)
    assert isinstance(ui, ipw.VBox)
    assert set(ui.sliders) == {"h", "w", "c_in", "c_mid", "c_out", "f"}
    assert ui.error is None
    assert ui.result == {
        "direct_mults": 120_422_400,
        "reduce_mults": 2_408_448,
        "expand_mults": 10_035_200,
        "bottleneck_mults": 12_443_648,
        "direct_weights": 153_600,
        "bottleneck_weights": 15_872,
    }
    for figure in ("120,422,400", "12,443,648", "153,600", "15,872", "9.68×"):
        assert figure in ui.summary.value
    assert png(ui).startswith(PNG_MAGIC)


def test_cost_explorer_follows_its_sliders():
    ui = costs.cost_explorer(student_mults, student_params)
    html, chart = ui.summary.value, png(ui)
    ui.sliders["c_mid"].value = 64  # a wider bottleneck
    assert ui.result["reduce_mults"] == 28 * 28 * 64 * 192
    assert ui.result["expand_mults"] == 28 * 28 * 32 * 25 * 64
    assert ui.result["direct_mults"] == 120_422_400  # unchanged
    assert ui.summary.value != html and png(ui) != chart
    ui.sliders["f"].value = 3
    ui.sliders["h"].value = 14
    assert ui.result["direct_mults"] == 14 * 28 * 32 * 9 * 192
    assert ui.result["bottleneck_weights"] == 192 * 64 + 9 * 64 * 32


def test_cost_explorer_calls_the_functions_it_is_given():
    mults, params = Spy(student_mults), Spy(student_params)
    ui = costs.cost_explorer(mults, params)
    assert ((28, 28, 192, 32, 5), {}) in mults.calls
    assert ((28, 28, 192, 16, 1), {}) in mults.calls
    assert ((192, 32, 5), {"bias": False}) in params.calls
    mults.calls.clear()
    ui.sliders["w"].value = 7
    assert ((28, 7, 192, 32, 5), {}) in mults.calls
    # a wrong student formula is shown as it is: the widget does not fix it
    forgets_c_in = costs.cost_explorer(lambda h, w, ci, co, f: h * w * co * f * f, student_params)
    assert forgets_c_in.result["direct_mults"] == 28 * 28 * 32 * 25
    assert f"{28 * 28 * 32 * 25:,}" in forgets_c_in.summary.value


def test_cost_explorer_reports_an_unfinished_exercise_instead_of_crashing():
    def blank(*args, **kwargs):
        raise NotImplementedError()

    ui = costs.cost_explorer(blank, student_params)
    assert ui.result is None
    assert "not written yet" in ui.error and ui.summary.value == ui.error
    assert png(ui) == b""
    ui.sliders["c_out"].value = 64  # still alive
    assert ui.result is None

    def broken(h, w, ci, co, f):
        raise ValueError("negative size")

    ui = costs.cost_explorer(broken, student_params)
    assert "ValueError: negative size" in ui.error


def test_cost_explorer_with_the_lesson03_solution():
    ns = answers("03_one_by_one_convolutions", "conv_params", "conv_mults")
    ui = costs.cost_explorer(ns["conv_mults"], ns["conv_params"])
    assert ui.result["direct_mults"] == 120_422_400
    assert ui.result["bottleneck_mults"] == 12_443_648


# --------------------------------------------------------------------------------------------
# lesson 04: branch_cost_explorer and inception_branch_costs
# --------------------------------------------------------------------------------------------


def _conv_relu(c_in, c_out, k):
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2), nn.ReLU()]


class Inception(nn.Module):
    """A stand-in for the student's InceptionModule, written here with plain layers."""

    kernel5 = 5

    def __init__(self, in_ch, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        k5 = self.kernel5
        self.branch1 = nn.Sequential(*_conv_relu(in_ch, ch1x1, 1))
        self.branch2 = nn.Sequential(
            *_conv_relu(in_ch, ch3x3red, 1), *_conv_relu(ch3x3red, ch3x3, 3)
        )
        self.branch3 = nn.Sequential(
            *_conv_relu(in_ch, ch5x5red, 1), *_conv_relu(ch5x5red, ch5x5, k5)
        )
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *_conv_relu(in_ch, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class Naive(nn.Module):
    def __init__(self, in_ch, ch1x1, ch3x3, ch5x5):
        super().__init__()
        self.branch1 = nn.Sequential(*_conv_relu(in_ch, ch1x1, 1))
        self.branch2 = nn.Sequential(*_conv_relu(in_ch, ch3x3, 3))
        self.branch3 = nn.Sequential(*_conv_relu(in_ch, ch5x5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1))


def measured(module: nn.Module, in_ch: int, size: int) -> list[tuple[int, int]]:
    """(weights, mult-adds) per branch: parameters counted, FLOPs counted on a CPU run."""
    rows = []
    for i in range(1, 5):
        branch = getattr(module, f"branch{i}")
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            branch(torch.zeros(1, in_ch, size, size))
        weights = sum(p.numel() for p in branch.parameters() if p.dim() > 1)
        rows.append((weights, counter.get_total_flops() // 2))
    return rows


def _rows(result, kind="inception"):
    return [(r["weights"], r["mult_adds"]) for r in result[kind]]


def test_branch_explorer_builds_headless_for_inception_3a():
    ui = costs.branch_cost_explorer(Inception, naive=Naive)
    assert isinstance(ui, ipw.VBox)
    assert list(ui.sliders) == [
        "in_ch", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj", "size",
    ]  # fmt: skip
    assert ui.error is None
    rows = ui.result["inception"]
    assert [r["out_channels"] for r in rows] == [64, 128, 32, 32]
    assert all(r["out_size"] == (28, 28) for r in rows)
    assert _rows(ui.result) == measured(Inception(*INCEPTION_3A), 192, 28)
    assert sum(r["weights"] for r in rows) == 163_328
    assert sum(r["mult_adds"] for r in rows) == 128_049_152
    assert [r["out_channels"] for r in ui.result["naive"]] == [64, 128, 32, 192]
    assert _rows(ui.result, "naive") == measured(Naive(192, 64, 128, 32), 192, 28)
    for text in ("<b>256</b>", "163,328", "128,049,152", "<b>416</b>"):
        assert text in ui.summary.value
    assert png(ui).startswith(PNG_MAGIC)


def test_branch_explorer_follows_its_sliders():
    ui = costs.branch_cost_explorer(Inception, naive=Naive)
    html, chart = ui.summary.value, png(ui)
    ui.sliders["ch5x5red"].value = 192  # no reduction left in the 5×5 branch
    assert ui.result["inception"][2]["weights"] == 192 * 192 + 192 * 32 * 25
    assert ui.summary.value != html and png(ui) != chart
    ui.sliders["size"].value = 14
    assert _rows(ui.result) == measured(Inception(192, 64, 96, 128, 192, 32, 32), 192, 14)
    assert all(r["out_size"] == (14, 14) for r in ui.result["inception"])
    ui.sliders["ch3x3"].value = 200  # the naive module follows the shared widths
    assert ui.result["naive"][1]["out_channels"] == 200
    assert ui.result["inception"][1]["out_channels"] == 200


def test_branch_explorer_uses_the_classes_it_is_given():
    built = []

    class Recorded(Inception):
        def __init__(self, *args):
            built.append(args)
            super().__init__(*args)

    class ThreeByThree(Inception):  # torchvision's kept bug: a 3×3 kernel in the "5×5" branch
        kernel5 = 3

    costs.branch_cost_explorer(Recorded)
    assert built == [INCEPTION_3A]
    ui = costs.branch_cost_explorer(ThreeByThree)
    assert "naive" not in ui.result
    assert ui.result["inception"][2]["weights"] == 192 * 16 + 16 * 32 * 9
    # wide modules are built on the meta device: no memory, no arithmetic
    ui.sliders["in_ch"].value = 1024
    ui.sliders["size"].value = 64
    assert ui.error is None and ui.result["inception"][0]["weights"] == 1024 * 64


def test_branch_explorer_flags_a_branch_that_changes_the_size():
    class NoPadding(Inception):
        def __init__(self, *args):
            super().__init__(*args)
            self.branch4[0] = nn.MaxPool2d(3, stride=1)  # no padding: loses 2 pixels

    ui = costs.branch_cost_explorer(NoPadding)
    assert ui.result["inception"][3]["out_size"] == (26, 26)
    assert "cannot be concatenated" in ui.summary.value
    assert "cannot be concatenated" not in costs.branch_cost_explorer(Inception).summary.value


@pytest.mark.parametrize(
    "cls, message",
    [
        ("blank", "not written yet"),
        ("unnamed", "no attribute 'branch1'"),
    ],
)
def test_branch_explorer_reports_problems_instead_of_crashing(cls, message):
    class Blank(nn.Module):
        def __init__(self, *args):
            super().__init__()
            raise NotImplementedError()

    class Unnamed(nn.Module):
        def __init__(self, in_ch, *args):
            super().__init__()
            self.conv = nn.Conv2d(in_ch, 8, 1)

    ui = costs.branch_cost_explorer({"blank": Blank, "unnamed": Unnamed}[cls])
    assert ui.result is None and message in ui.error
    assert png(ui) == b""
    ui.sliders["size"].value = 10  # still alive
    assert ui.result is None


def test_inception_branch_costs_on_the_lesson04_solution():
    ns = answers("04_inception", "NaiveInception", "InceptionModule")
    module = ns["InceptionModule"](*INCEPTION_3A)
    rows = costs.inception_branch_costs(module, in_ch=192, size=28)
    plain = [
        [nn.Conv2d(192, 64, 1)],
        [nn.Conv2d(192, 96, 1), nn.Conv2d(96, 128, 3)],
        [nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5)],
        [nn.Conv2d(192, 32, 1)],
    ]
    for row, convs in zip(rows, plain, strict=True):
        assert row["weights"] == sum(c.weight.numel() for c in convs)
        assert row["params"] == sum(c.weight.numel() + c.bias.numel() for c in convs)
    assert [(r["weights"], r["mult_adds"]) for r in rows] == measured(module, 192, 28)
    ui = costs.branch_cost_explorer(ns["InceptionModule"], naive=ns["NaiveInception"])
    assert sum(r["mult_adds"] for r in ui.result["inception"]) == 128_049_152
