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
