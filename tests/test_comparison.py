"""course.experiments.comparison: the measurements, the comparison runner and its table and figure.

The graded exercises of lesson 07 (ConvHighwayUnit, DenseNet, ...) are not in the library; these
tests drive it with small stand-ins built from torch.nn.
"""

from __future__ import annotations

import re
from dataclasses import replace

import matplotlib
import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT
from torch import nn

from course.checkout import Checkout, notebooks
from course.experiments import comparison, degradation

matplotlib.use("Agg")

TINY = replace(comparison.QUICK, name="tiny", n_images=32, image_size=8, epochs=2, batch_size=8)


pytestmark = pytest.mark.usefixtures("one_thread_not_grading")


class TinyUnit(nn.Module):
    """Stands in for the lesson's ConvHighwayUnit(channels, gate_bias, gated)."""

    def __init__(self, channels, gate_bias=-2.0, gated=True):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.gate = nn.Conv2d(channels, channels, 1) if gated else None

    def forward(self, x):
        h = self.conv(x)
        if self.gate is None:
            return F.relu(h + x)
        t = torch.sigmoid(self.gate(x))
        return F.relu(h * t + x * (1 - t))


def tiny_densenet(**kwargs):
    """Stands in for the lesson's DenseNet(**DENSENET_CONFIG, num_classes)."""
    tiny_densenet.seen = kwargs
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)
    )


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------


def test_stack_units_shapes_names_and_count():
    model = comparison.stack_units(TinyUnit, widths=(4, 8), units_per_stage=2, gated=False)
    names = [n for n, _ in model.named_children()]
    assert names == ["stem", "stage1", "down2", "stage2", "pool", "flatten", "fc"]
    assert model(torch.randn(3, 3, 8, 8)).shape == (3, 10)
    expected = (3 * 4 * 9 + 2 * 4) + 2 * (4 * 4 * 9) + (4 * 8 * 9 + 2 * 8) + 2 * (8 * 8 * 9)
    assert sum(p.numel() for p in model.parameters()) == expected + 8 * 10 + 10
    gated = comparison.stack_units(TinyUnit, widths=(4, 8), units_per_stage=2, gated=True)
    extra = 2 * (4 * 4 + 4) + 2 * (8 * 8 + 8)
    assert sum(p.numel() for p in gated.parameters()) == expected + 90 + extra


def test_matched_networks_pass_the_configuration():
    nets = comparison.matched_networks(TinyUnit, tiny_densenet, num_classes=7)
    assert list(nets) == ["ResNet", "Highway", "DenseNet"]
    assert nets["ResNet"]().stage1[0].gate is None
    assert nets["Highway"]().stage1[0].gate is not None
    nets["DenseNet"]()
    assert tiny_densenet.seen == {**comparison.DENSENET_CONFIG, "num_classes": 7}


# --------------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------------


def test_multiply_adds_counts_convs_and_linears_per_image_and_leaves_the_model():
    model = nn.Sequential(
        nn.Conv2d(3, 5, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 2),
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    macs = comparison.multiply_adds(model, (4, 3, 6, 7))
    assert macs == 6 * 7 * 5 * 3 * 9 + 5 * 2
    assert next(model.parameters()).device.type == "cpu"
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_activation_bytes_counts_saved_tensors_once_without_weights():
    X = torch.randn(4, 6)
    # Linear saves its input X; ReLU saves its output (4x5): weights are not counted
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU())
    assert comparison.activation_bytes(model, X) == X.nbytes + 4 * 5 * 4
    # an in-place ReLU shares the storage of the Linear's output: still counted once
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(inplace=True), nn.Linear(5, 3))
    assert comparison.activation_bytes(model, X) == X.nbytes + 4 * 5 * 4


def test_activation_bytes_of_a_concatenation_grows_with_the_copies():
    class Concat(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4, bias=False)

        def forward(self, x):  # each step saves a bigger concatenated input
            feats = [x]
            for _ in range(3):
                feats.append(self.lin(feats[-1]))
                torch.cat(feats, 1).relu()
            return feats[-1]

    X = torch.randn(2, 4)
    saved = comparison.activation_bytes(Concat(), X)
    # three linear inputs (2x4 each, the first is X) + three ReLU outputs of 8, 12 and 16 columns
    assert saved == 3 * 2 * 4 * 4 + (8 + 12 + 16) * 2 * 4


def test_activation_bytes_leaves_batch_norm_statistics_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model.eval()
    before = model[1].running_mean.clone()
    comparison.activation_bytes(model, torch.randn(2, 3, 5, 5) + 3)
    assert torch.equal(model[1].running_mean, before)
    assert not model.training  # the copy was put in training mode, not the model


def test_seconds_per_step_is_positive_and_trains_a_copy():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    before = model[1].weight.clone()
    s = comparison.seconds_per_step(model, torch.randn(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]))
    assert s > 0
    assert torch.equal(model[1].weight, before)


def test_depth_profile_of_identity_and_scaling_layers():
    X = torch.randn(8, 3)
    prof = comparison.depth_profile([nn.Identity() for _ in range(4)], X)
    assert prof["change"] == [0.0] * 5
    assert prof["norm"] == pytest.approx([1.0] * 5)
    assert prof["grad"] == pytest.approx([1.0] * 5)
    half = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        half.weight.copy_(0.5 * torch.eye(3))
    prof = comparison.depth_profile([half] * 3, X)
    assert prof["norm"] == pytest.approx([1.0, 0.5, 0.25, 0.125])
    assert prof["change"] == pytest.approx([0.0, 0.5, 0.75, 0.875])
    assert prof["grad"] == pytest.approx([1.0, 0.5, 0.25, 0.125])
    assert half.weight.grad is None  # nothing was accumulated into the layers


# --------------------------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------------------------


def _builders():
    return {
        "ResNet": lambda: comparison.stack_units(TinyUnit, widths=(4, 8), gated=False),
        "Highway": lambda: comparison.stack_units(TinyUnit, widths=(4, 8), gated=True),
    }


def test_compare_rows_table_and_figure():
    logs = []
    rows = comparison.compare(_builders(), config=TINY, seeds=(0, 1), log=logs.append)
    assert [(r["name"], r["seed"]) for r in rows] == [
        ("ResNet", 0),
        ("Highway", 0),
        ("ResNet", 1),
        ("Highway", 1),
    ]
    for r in rows:
        assert r["params"] > 0 and r["macs"] > 0 and r["activation_bytes"] > 0
        assert r["seconds_per_step"] > 0 and 0 <= r["final_error"] <= 1
        assert len(r["curve"]) == TINY.epochs
        assert "RANDOM labels" in r["task"]
    assert rows[0]["macs"] == rows[2]["macs"]  # measured once per network
    assert len(logs) == 4
    summary = comparison.summarize(rows)
    assert summary["Highway"]["params"] > summary["ResNet"]["params"]
    assert summary["ResNet"]["errors"] == [rows[0]["final_error"], rows[2]["final_error"]]
    text = comparison.format_table(rows)
    assert "ResNet" in text and "Highway" in text and "(1.00×)" in text and "2 seeds" in text
    md = comparison.format_table(rows, markdown=True)
    assert md.startswith("| network |") and md.count("\n") == 3
    fig = comparison.plot(rows)
    assert len(fig.axes) == 6


def test_compare_while_grading_takes_one_token_step(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    logs = []
    rows = comparison.compare(_builders(), config=TINY, seeds=(0,), log=logs.append)
    assert all(r["config"]["batch_size"] == degradation.GRADING_IMAGES for r in rows)
    assert all(len(r["curve"]) == 1 for r in rows)
    assert all("token step" in line for line in logs)


def test_token_budget_cuts_the_task():
    task = degradation.make_task(TINY)
    config, small = degradation.token_budget(TINY, task)
    assert config.batch_size == len(small.images) == degradation.GRADING_IMAGES
    assert small.description == task.description


def test_default_config_follows_quick_mode(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert comparison.default_config() is comparison.QUICK
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert comparison.default_config() is comparison.FULL


# --------------------------------------------------------------------------------------------
# lesson 07's measured table and the figures its prose quotes (benchmarks/ARCHITECTURES.md)
# --------------------------------------------------------------------------------------------
REPORT = ROOT / "benchmarks" / "ARCHITECTURES.md"
TABLE_BEGIN, TABLE_END = "<!-- measured-table:begin -->", "<!-- measured-table:end -->"


def _lesson07_section5() -> tuple[str, str]:
    """Lesson 07's measured table and the prose of its cell (the table left out)."""
    nb = notebooks.read(Checkout(ROOT).source("07_highway_densenet"))
    cell = next(c for c in nb.cells if TABLE_BEGIN in c.source)
    head, rest = cell.source.split(TABLE_BEGIN, 1)
    table, tail = rest.split(TABLE_END, 1)
    return table.strip(), head + tail


def _claims() -> tuple[list[str], dict, dict]:
    """Every figure lesson 07's section 5 quotes, written from the measurement, and the two blocks."""
    text = REPORT.read_text(encoding="utf-8")
    q, f = comparison.read_measured(text), comparison.read_measured(text, "lr0.025")
    dense_fast = f["DenseNet"]["seed_errors"]
    claims = [
        f"gates add {round(100 * (float(q['Highway']['params_ratio']) - 1))} %",
        f"the DenseNet computes {q['DenseNet']['macs_ratio']}× as much",
        f"{q['DenseNet']['memory_ratio']}× the ResNet's for the DenseNet",
        f"outputs too: {q['Highway']['memory_ratio']}× the ResNet's",
        f"the DenseNet is {q['DenseNet']['time_ratio']}× slower",
        f"{len(q['ResNet']['seed_errors'])} seeds",
        f"every\n  seed ({q['ResNet']['error']} % ± {q['ResNet']['error_sd']})",
        f"a few unlearned ({q['Highway']['error']} % ± {q['Highway']['error_sd']})",
        f"between seeds ({q['DenseNet']['error']} % ± {q['DenseNet']['error_sd']})",
        f"at a peak of 0.025 ({len(dense_fast)} seeds)",
        f"({f['DenseNet']['error']} % error on\n  average, {min(dense_fast):.1f} % to {max(dense_fast):.1f} % by seed)",
    ]
    return claims, q, f


def test_read_measured_reads_back_what_format_table_writes():
    rows = [
        {"name": n, "seed": s, "params": p, "macs": 2e6 * p, "activation_bytes": 1e3 * p,
         "seconds_per_step": 0.01 * p, "final_error": e}
        for s in (0, 1)
        for n, p, e in [("A", 10, 0.1 * s), ("B", 15, 0.25 + 0.1 * s)]
    ]  # fmt: skip
    report = (
        "<!-- measured:quick:begin -->\n" + comparison.format_table(rows, markdown=True)
        + "\n\n| seed | A | B |\n|---|---|---|\n| 0 | 0.0 | 25.0 |\n| 1 | 10.0 | 35.0 |\n"
        + "<!-- measured:quick:end -->"
    )  # fmt: skip
    got = comparison.read_measured(report)
    assert list(got) == ["A", "B"]
    assert got["B"]["params"] == "15" and got["B"]["params_ratio"] == "1.50"
    assert got["B"]["error"] == "30.0" and got["B"]["error_sd"] == "7.1"
    assert got["A"]["seed_errors"] == [0.0, 10.0]
    table = comparison.lesson_table(got)
    assert table.splitlines()[0].startswith("| network |") and "| 25.0, 35.0 |" in table
    with pytest.raises(ValueError, match="no measured block"):
        comparison.read_measured(report, "other")


def test_lesson07_table_is_generated_from_the_measurement():
    table, _ = _lesson07_section5()
    assert table, "lesson 07's measured table is empty"
    want = comparison.lesson_table(comparison.read_measured(REPORT.read_text(encoding="utf-8")))
    assert table == want, (
        "lesson 07's table differs from benchmarks/ARCHITECTURES.md: run "
        "`python benchmarks/architecture_comparison.py --lesson-only` and `course release 07_highway_densenet`"
    )


def test_lesson07_prose_quotes_the_measured_figures():
    _, prose = _lesson07_section5()
    claims, q, f = _claims()
    missing = [c for c in claims if c not in prose]
    assert not missing, f"lesson 07 §5 no longer states the measured figure(s) {missing}"
    # every percentage and ratio the prose states is one of the measured claims above
    quoted = set(re.findall(r"\d+(?:\.\d+)?(?: %|×)", prose))
    measured = set(re.findall(r"\d+(?:\.\d+)?(?: %|×)", "\n".join(claims)))
    assert quoted <= measured, (
        f"lesson 07 §5 states figures nobody measured: {sorted(quoted - measured)}"
    )
    # and what the words say about them holds
    assert all(e == 0 for e in q["ResNet"]["seed_errors"]), (
        "'only the ResNet fit all 256 labels in every seed'"
    )
    assert float(q["Highway"]["error"]) > 0 and float(q["DenseNet"]["error"]) > float(
        q["Highway"]["error"]
    )
    assert all(e == 0 for n in ("ResNet", "Highway") for e in f[n]["seed_errors"]), (
        "'fit every label' at 0.025"
    )
    assert 40 <= float(f["DenseNet"]["error"]) <= 60, "'about half of them unlearned' at 0.025"
