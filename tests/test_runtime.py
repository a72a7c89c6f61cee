"""course.runtime: grading mode, quick mode, device and precision choice, seeding."""

from __future__ import annotations

import torch

from course import runtime


def test_grading_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert runtime.grading_mode() is None and not runtime.is_grading()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.grading_mode() == "autograde" and runtime.is_grading()


def test_quick_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert not runtime.quick_mode()
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert runtime.quick_mode()
    monkeypatch.delenv("COURSE_QUICK")
    assert runtime.quick_mode() == (not torch.cuda.is_available())
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert runtime.quick_mode()


def test_device_and_precision():
    assert runtime.get_device("cpu").type == "cpu"
    with runtime.autocast("cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    assert runtime.memory_format("cpu") == torch.contiguous_format
    assert "device:" in runtime.describe()


def test_seed_everything_reproducible():
    runtime.seed_everything(3)
    a = torch.rand(4)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.rand(4))
