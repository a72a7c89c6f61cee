"""course.runtime: grading mode, quick mode, device and precision choice, seeding."""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize(
    ("env", "knob"),
    [("COURSE_QUICK_EPOCHS", runtime.quick_epochs), ("COURSE_QUICK_STEPS", runtime.quick_steps)],
)
def test_scale_knobs_cap_only_a_quick_run_outside_grading(env, knob, monkeypatch):
    """``$COURSE_QUICK_EPOCHS`` and ``$COURSE_QUICK_STEPS`` (the test suite's scale knobs) cap a
    quick run's epochs and steps per epoch; a full run, a graded run and an unset knob keep what
    was asked; a bad value says what to do."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.delenv(env, raising=False)
    assert knob(40) == 40
    monkeypatch.setenv(env, "2")
    assert (knob(40), knob(1)) == (2, 1)
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert knob(40) == 40
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert knob(40) == 40
    monkeypatch.delenv("NBGRADER_EXECUTION")
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv(env, bad)
        with pytest.raises(ValueError, match=f"{env}.*positive number"):
            knob(40)


def test_device_and_precision(monkeypatch):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    assert runtime.get_device("cpu").type == "cpu"
    assert runtime.precision("cpu") == "fp32" and runtime.precision("cuda") == "bf16"
    with runtime.autocast("cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    assert runtime.memory_format("cpu") == torch.contiguous_format
    assert runtime.memory_format("cuda") == torch.channels_last
    assert runtime.input_dtype("cpu") == torch.float32
    assert runtime.input_dtype("cuda") == torch.bfloat16
    assert "device:" in runtime.describe()


def test_bf16_on_cpu_on_request(monkeypatch):
    """COURSE_PRECISION=bf16: the GPU's bf16 path (autocast, channels_last, bf16 inputs) on CPU."""
    monkeypatch.setenv(runtime.PRECISION_ENV, "bf16")
    assert runtime.precision("cpu") == "bf16"
    with runtime.autocast("cpu"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert runtime.memory_format("cpu") == torch.channels_last
    assert runtime.input_dtype("cpu") == torch.bfloat16
    assert "bf16 autocast + channels_last" in runtime.describe()
    monkeypatch.setenv(runtime.PRECISION_ENV, "fp32")
    assert runtime.precision("cuda") == "fp32"  # and off on a GPU
    monkeypatch.setenv(runtime.PRECISION_ENV, " Auto ")
    assert runtime.precision("cpu") == "fp32"
    monkeypatch.setenv(runtime.PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match="COURSE_PRECISION='fp16': use 'bf16', 'fp32' or 'auto'"):
        runtime.precision("cpu")


def test_distributed_env_and_device(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert runtime.distributed_env() == (0, 1, 0)
    assert runtime.init_distributed() == (0, 1, 0)  # alone: no process group started
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert runtime.distributed_env() == (3, 4, 1)  # torchrun's env, before init_process_group
    expected = torch.device("cuda", 1) if torch.cuda.is_available() else torch.device("cpu")
    assert runtime.get_device() == expected


def test_seed_everything_reproducible():
    runtime.seed_everything(3)
    a = torch.rand(4)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.rand(4))


def test_runtime_never_exits_the_process():
    """Library code raises exceptions with a message; only a CLI handler turns one into an exit
    status. A SystemExit inside a notebook kernel would look like a crash to the student. Every
    module of the runtime layer (tests/test_tooling.py's list) is read."""
    import ast

    from test_tooling import runtime_files

    found = []
    modules = runtime_files()
    assert "course.experiments.variants" in modules and "course.data" in modules
    for mod, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and "SystemExit" in ast.unparse(node.exc or node):
                found.append(f"{mod}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "sys.exit",
                "exit",
                "quit",
            ):
                found.append(f"{mod}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found
