"""course.experiments.variants (lesson 06): networks of the student's units, gradient profiles, runs, plots,
the control panel.

The graded exercises of lesson 06 (PreActBlock, block_variant, ...) are not in the library; these
tests drive it with a stand-in ``block_variant`` made of plain torch.nn layers, and once with the
lesson's reference solution.
"""

from __future__ import annotations

import inspect
from dataclasses import replace

import matplotlib
import pytest
import torch
from lesson_code import answers
from torch import nn

from course.experiments import variants

matplotlib.use("Agg")

# A budget small enough for a test: 32 images of 8x8, 2 epochs of 4 steps, 2 units of width 4.
TINY = replace(
    variants.QUICK, name="tiny", n_images=32, epochs=2, batch_size=8, stages=(2,), widths=(4,)
)


pytestmark = pytest.mark.usefixtures("one_thread_not_grading")


class Residual(nn.Module):
    """x + scale * branch(x): a stand-in unit (scale 0: the identity)."""

    def __init__(self, channels: int, scale: float = 1.0):
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1)
        )
        self.scale = scale

    def forward(self, x):
        return x + self.scale * self.branch(x)


class Doubler(nn.Module):
    def forward(self, x):
        return 2 * x


def stand_in(kind: str, channels: int) -> nn.Module:
    """Stands in for the student's block_variant: a different toy unit per kind."""
    if kind == "full_preact":
        return Residual(channels, scale=0.0)
    if kind == "bn_after_add":
        return Doubler()
    return Residual(channels)


@pytest.fixture(scope="module")
def task():
    return variants.degradation.make_task(TINY, seed=0)


# ----------------------------------------------------------------------------- library scope


def test_library_does_not_implement_the_exercises():
    exercises = (
        "PreActBlock",
        "block_variant",
        "input_gradient",
        "ResidualUnit",
        "plain_equivalent",
        "Shortcut",
        "shortcut_params",
        "Bottleneck",
        "ResNet50",
        "conv_params",
        "conv_mults",
        "two_conv_cost",
        "bottleneck_cost",
        "VariantUnit",
    )
    for name in exercises:
        assert not hasattr(variants, name), f"course.experiments.variants must not define {name}"
    source = inspect.getsource(variants)
    assert "autograd.grad" not in source  # input_gradient is the student's


def test_reference_figures_are_the_papers():
    assert variants.KINDS == tuple(variants.TABLE2_RESNET110)
    assert variants.TABLE2_RESNET110 == {
        "original": 6.61,
        "bn_after_add": 8.17,
        "relu_before_add": 7.84,
        "relu_only_preact": 6.71,
        "full_preact": 6.37,
    }
    assert variants.TABLE3_RESNET34 == {
        "plain-34": (28.54, 10.02),
        "A": (25.03, 7.76),
        "B": (24.52, 7.46),
        "C": (24.19, 7.40),
    }
    assert sum(n for n, _ in variants.RESNET34_STAGES) == 16


def test_budgets_and_layer_counts():
    q, f = variants.QUICK, variants.FULL
    assert (q.layers, f.layers) == (56, 112)  # 2 * 27 + 2; 2 * 54 + 2 joins + 2
    assert q.random_labels and not f.random_labels and f.augment and f.n_images is None
    assert q.steps == 320


def test_default_config_follows_quick_mode(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert variants.default_config() is variants.QUICK
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert variants.default_config() is variants.FULL


# ----------------------------------------------------------------------------- networks


def test_variant_net_builds_from_the_units_it_is_given():
    calls = []

    def factory(kind, channels):
        calls.append((kind, channels))
        return Residual(channels)

    net = variants.variant_net(factory, "original", stages=(2, 3), widths=(4, 8))
    assert calls == [("original", 4)] * 2 + [("original", 8)] * 3
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    strided = [c for c in convs if c.stride == (2, 2)]
    assert len(strided) == 1 and strided[0].in_channels == 4 and strided[0].out_channels == 8
    # the head normalises and activates the last sum, whatever the unit ends with
    assert isinstance(net[-5], nn.BatchNorm2d) and isinstance(net[-4], nn.ReLU)


def test_variant_net_initialises_convolutions_like_he_et_al():
    torch.manual_seed(0)
    net = variants.variant_net(lambda k, c: Residual(c), "original", stages=(1,), widths=(64,))
    conv = net[3].branch[2]
    std = conv.weight.std().item()
    assert abs(std - (2 / (64 * 9)) ** 0.5) < 0.01  # Kaiming normal, fan_in, ReLU gain


def test_variant_net_needs_one_width_per_stage():
    with pytest.raises(ValueError, match="one width per stage"):
        variants.variant_net(stand_in, "original", stages=(1, 2), widths=(4,))


# ----------------------------------------------------------------------------- gradients


def test_gradient_profile_of_identity_units_is_flat():
    """Units that are exactly the identity pass the top gradient to every input unchanged."""
    prof = variants.gradient_profiles(stand_in, ["full_preact"], units=6, width=3)
    assert prof["full_preact"] == pytest.approx([1.0] * 6, abs=1e-6)


def test_gradient_profile_counts_from_the_input():
    """A stack of L doublers: the input of unit l (1 = next to the input) receives 2^(L - l + 1)
    times the gradient sent into the top."""
    prof = variants.gradient_profiles(stand_in, ["bn_after_add"], units=5, width=2)
    assert prof["bn_after_add"] == pytest.approx([2.0**k for k in (5, 4, 3, 2, 1)])


def test_gradient_growth_is_the_first_entry_of_each_profile():
    growth = variants.gradient_growth(stand_in, ["original"], depths=(1, 3), width=4)
    for depth in (1, 3):
        prof = variants.gradient_profiles(stand_in, ["original"], units=depth, width=4)
        assert growth["original"][depth] == pytest.approx(prof["original"][0])


def test_gradient_profiles_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    variants.gradient_profiles(stand_in, ["original"], units=2, width=2)
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------- runs


def test_run_rows_and_reproducibility(task):
    rows = variants.run(
        stand_in, ["original", "full_preact"], TINY, task, seed=0, log=lambda _m: None
    )
    assert [r["kind"] for r in rows] == ["original", "full_preact"]
    for r in rows:
        assert r["layers"] == TINY.layers and r["config"]["name"] == "tiny"
        assert len(r["history"]) == TINY.epochs and 0 <= r["final_error"] <= 1
        assert r["test_error"] is None  # random labels: no test error
        assert "RANDOM labels" in r["task"]
    again = variants.run(stand_in, ["original"], TINY, task, seed=0, log=lambda _m: None)
    assert again[0]["final_loss"] == pytest.approx(rows[0]["final_loss"], rel=1e-5)


def test_run_under_grading_takes_one_token_step(task, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    lines = []
    rows = variants.run(stand_in, variants.KINDS, TINY, task, log=lines.append)
    assert len(rows) == 5 and all("grading" in line for line in lines)
    assert all(r["history"][-1]["step"] == 1 for r in rows)


# ----------------------------------------------------------------------------- figures


def test_plots_return_labelled_figures(task):
    rows = variants.run(stand_in, variants.KINDS, TINY, task, log=lambda _m: None)
    fig = variants.plot_summary(rows)
    left, right = fig.axes
    assert "Table 2" in left.get_title() and "tiny" in right.get_title()
    assert [t.get_text() for t in left.get_yticklabels()] == [
        variants.LABELS[k] for k in variants.KINDS
    ]
    assert "memorisation" in fig._suptitle.get_text()
    fig = variants.plot_curves(rows)
    assert len(fig.axes[0].lines) == 5 and len(fig.axes[1].lines) == 5
    fig = variants.plot_units()
    assert "Fig. 4" in fig.axes[0].get_title()
    fig = variants.plot_gradients({"original": [3.0, 2.0, 1.0]}, {"original": {1: 1.5, 2: 3.0}})
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    x = torch.randn(10)
    fig = variants.plot_plus_one({"same": (x, x), "half": (x, x * (x > 0))})
    assert "100%" in fig.axes[0].get_title()
    fig = variants.plot_table3({"A": 0, "B": 173_824, "C": 1_092_992})
    assert "Table 3" in fig.axes[0].get_title()
    fig = variants.plot_block_costs(
        {"a": {"params": 10, "mults": 100}, "b": {"params": 20, "mults": 50}}
    )
    assert len(fig.axes) == 2


# ----------------------------------------------------------------------------- widget


def test_control_draws_gradients_and_runs_the_chosen_units(task):
    box = variants.control(stand_in, config=TINY, task=task)
    assert box.error is None and len(box.children[2].value) > 1000  # the gradient PNG
    box.kinds.value = ("original", "full_preact")
    box.units.value = 3
    rows = box.run()
    assert [r["kind"] for r in rows] == ["original", "full_preact"] and box.results is rows
    assert rows[0]["layers"] == 2 * 3 + 2


def test_control_shows_errors_of_the_students_code(task):
    def unfinished(kind, channels):
        raise NotImplementedError

    box = variants.control(unfinished, config=TINY, task=task)
    assert "NotImplementedError" in box.error
    assert box.run() is None and "NotImplementedError" in box.error


def test_control_skips_drawing_while_grading(task, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    box = variants.control(stand_in, config=TINY, task=task)
    assert box.children[2].value == b"" and box.error is None


# ----------------------------------------------------------------------------- the lesson's units


def test_reference_units_in_the_library():
    """The lesson's reference block_variant runs through every library path."""
    bv = answers("06_residual_variants", "PreActBlock", "block_variant")["block_variant"]
    prof = variants.gradient_profiles(bv, variants.KINDS, units=8)
    assert set(prof) == set(variants.KINDS)
    assert all(len(v) == 8 and min(v) > 0 for v in prof.values())
    net = variants.variant_net(bv, "full_preact", stages=(2, 2), widths=(4, 8))
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
