"""The throughput benchmark runs end to end (CPU quick mode) and reports both pipelines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_train_throughput_quick(tmp_path):
    out = tmp_path / "result.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--quick"]
    cmd += ["--steps", "2", "--warmup", "1", "--n-images", "256", "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"dataloader", "course"}
    for name, r in report["results"].items():
        assert r["images_per_s"] > 0, name
    ratio = (
        report["results"]["course"]["images_per_s"]
        / report["results"]["dataloader"]["images_per_s"]
    )
    assert report["speedup"] == pytest.approx(ratio)
    assert report["data"].startswith("SYNTHETIC"), "fake data must be labelled as such"
    assert "speed-up" in proc.stdout


@pytest.mark.slow
def test_architecture_comparison_quick(tmp_path):
    """Lesson 07's comparison runs from the reference solution and reports all three networks."""
    out, fig = tmp_path / "rows.json", tmp_path / "comparison.png"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "architecture_comparison.py")]
    cmd += ["--seeds", "0", "--epochs", "1", "--n-images", "32", "--json", str(out)]
    cmd += ["--figure", str(fig)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())
    assert [r["name"] for r in rows] == ["ResNet", "Highway", "DenseNet"]
    assert [r["params"] for r in rows] == [218_778, 229_754, 218_470]
    assert all(r["macs"] > 0 and r["activation_bytes"] > 0 for r in rows)
    assert rows[0]["task"].startswith("RANDOM labels") and "SYNTHETIC" in rows[0]["task"]
    assert fig.stat().st_size > 10_000
    for words in (
        "| network |",
        "Command: `python benchmarks/architecture_comparison.py",
        "load average",
    ):
        assert words in proc.stdout


@pytest.mark.slow
def test_highway_depth_lr_runs_the_lessons_code(tmp_path):
    """Lesson 07 §1's 50-layer run by learning rate: the lesson's own functions, a table per lr."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "highway_depth_lr.py")]
    cmd += ["--lrs", "0.05", "--seeds", "0", "--steps", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| lr | highway, b_T = -2 | highway, b_T = -6 | plain (He init) |" in proc.stdout
    assert (
        "| 0.05 | " in proc.stdout
        and "Command: `python benchmarks/highway_depth_lr.py" in proc.stdout
    )


def test_lesson07_table_copy_is_current(tmp_path):
    """`architecture_comparison.py --lesson-only` finds lesson 07's table equal to the report's."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "architecture_comparison.py"), "--lesson-only"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is current" in proc.stdout
