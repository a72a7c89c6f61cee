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


# --------------------------------------------------------------------------- every script runs
# Each script in benchmarks/ runs here once, as small as its options allow (seconds to a minute):
# a crash at start-up (an import or a signature that moved) fails CI, not the next measurement.
# gpu_check.py has its own tests (tests/test_gpu_check.py); measured_block.py is a helper.


def _script(name: str, *args: str, cwd, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "benchmarks" / name), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_every_script_has_a_smoke_run():
    here = (
        open(__file__, encoding="utf-8").read() + (ROOT / "tests" / "test_gpu_check.py").read_text()
    )
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py")} - {"measured_block.py"}
    missing = sorted(s for s in scripts if f'"{s}"' not in here)
    assert not missing, f"benchmarks without a smoke run in tests/test_benchmarks.py: {missing}"


@pytest.mark.slow
def test_gradient_norms_smoke(tmp_path):
    out = tmp_path / "norms.json"
    _script("gradient_norms.py", "--depths", "8", "--seeds", "0", "--batch-size", "4",
            "--json", str(out), cwd=tmp_path)  # fmt: skip
    record = json.loads(out.read_text())
    assert [r["label"] for r in record["runs"]] == ["plain-8", "ResNet-8"]
    for run in record["runs"]:
        assert len(run["norms"]) == len(run["layers"]) >= 7 and all(v > 0 for v in run["norms"])


@pytest.mark.slow
def test_degradation_robustness_smoke(tmp_path):
    out = tmp_path / "rows.json"
    proc = _script("degradation_robustness.py", "--seeds", "0", "--depths", "8", "14",
                   "--epochs", "1", "--json", str(out), cwd=tmp_path)  # fmt: skip
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and "python benchmarks/degradation_robustness.py" in proc.stdout


@pytest.mark.slow
def test_variants_robustness_smoke(tmp_path):
    out = tmp_path / "rows.json"
    proc = _script("variants_robustness.py", "--seeds", "0", "--units", "2", "--epochs", "1",
                   "--json", str(out), cwd=tmp_path)  # fmt: skip
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and "python benchmarks/variants_robustness.py" in proc.stdout


@pytest.mark.slow
def test_grading_speed_smoke(tmp_path):
    """On the one-notebook toy course of the hostile tests, one student: nbgrader autograde and
    course grade both run, and the table has the lesson's row."""
    from hostile import fixtures as fx

    course = fx.make_toy_course(tmp_path / "toy", ROOT)
    out = tmp_path / "speed.json"
    proc = _script("grading_speed.py", "--from", str(course), "--students", "1", "--lessons",
                   fx.LESSON, "--json", str(out), cwd=tmp_path)  # fmt: skip
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["lesson"] == fx.LESSON and row["ratio"] > 0
    assert "| lesson |" in proc.stdout
