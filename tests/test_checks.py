"""course.checks: failures say what was expected, what came, and the hint; passes stay silent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course import checks


def _msg(fn, *args, **kw) -> str:
    with pytest.raises(AssertionError) as err:
        fn(*args, **kw)
    return str(err.value)


def test_check_shape_message_names_both_shapes_and_hint():
    x = torch.zeros(4, 16, 16, 16)
    msg = _msg(
        checks.check_shape,
        x,
        (4, 16, 8, 8),
        "ResidualBlock output",
        hint="did you forget the stride-2 shortcut?",
    )
    assert "expected shape (4, 16, 8, 8), got (4, 16, 16, 16)" in msg
    assert msg.startswith("ResidualBlock output")
    assert "Hint: did you forget the stride-2 shortcut?" in msg
    checks.check_shape(x, (4, 16, 16, 16), "ok")


def test_none_means_missing_return():
    assert "forget to `return`" in _msg(checks.check_shape, None, (1,), "f(x)")
    assert "forget to `return`" in _msg(checks.check_close, None, torch.ones(1), "f(x)")


def test_check_close_reports_worst_element():
    exp = torch.arange(6.0).reshape(2, 3)
    got = exp.clone()
    got[1, 2] += 1.0
    msg = _msg(checks.check_close, got, exp, "out")
    assert "1 of 6 value(s) differ at index (1, 2)" in msg
    assert "got 6, expected 5" in msg
    checks.check_close(exp + 1e-9, exp, "out")
    checks.check_close(np.ones(3), torch.ones(3, dtype=torch.float64), "mixed types")


def test_check_close_nan_and_shape():
    assert "NaN" in _msg(checks.check_close, torch.tensor([float("nan")]), torch.zeros(1), "x")
    assert "expected shape (3,)" in _msg(checks.check_close, torch.zeros(2), torch.zeros(3), "x")


def test_check_equal_integers_show_difference():
    msg = _msg(checks.check_equal, 120_422_401, 120_422_400, "mults")
    assert "expected 120,422,400, got 120,422,401 (off by +1" in msg
    checks.check_equal(3, 3, "n")
    assert "expected" in _msg(checks.check_equal, True, 1, "bool is not an int here")


def test_check_type_and_param_count():
    assert "expected a Module, got int" in _msg(checks.check_type, 3, torch.nn.Module, "block")
    lin = torch.nn.Linear(3, 2)
    checks.check_param_count(lin, 8, "Linear(3, 2)")
    assert "expected 9, got 8" in _msg(checks.check_param_count, lin, 9, "Linear(3, 2)")


def test_messages_name_the_students_real_class_under_the_grader():
    """Under course grade a student's object is a proxy: a message names the student's class."""
    from course.grading import proxy, wire

    pool = proxy.StudentObject(
        None,
        wire.Ref(1, "module", (("torch.nn.modules.pooling", "MaxPool2d"), ("builtins", "object"))),
    )
    assert "expected a AvgPool2d, got MaxPool2d" in _msg(
        checks.check_type, pool, torch.nn.AvgPool2d, "pool"
    )
    mine = proxy.StudentObject(
        None,
        wire.Ref(2, "module", (("__main__", "MyBlock"), ("torch.nn.modules.module", "Module"))),
    )
    assert "got MyBlock" in _msg(checks.check_type, mine, torch.nn.Conv2d, "conv1")
    assert "got MyBlock" in _msg(checks.check_shape, mine, (1, 2), "out")


def test_check_module_names_and_raises():
    assert "missing attribute(s) ['bn2']" in _msg(
        checks.check_module_names, torch.nn.Module(), ["bn2"], "block"
    )
    checks.check_raises(lambda: 1 / 0, ZeroDivisionError, "div")
    assert "nothing was raised" in _msg(checks.check_raises, lambda: 1, ValueError, "f")


def test_relative_error():
    assert checks.relative_error(torch.ones(3), torch.ones(3)) == 0
    assert checks.relative_error(torch.tensor([1.1]), torch.tensor([1.0])) == pytest.approx(0.1)


def test_checks_survive_monkeypatched_torch(monkeypatch):
    """A notebook that replaces torch.allclose/abs cannot make a wrong answer pass."""
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "abs", lambda x: x * 0)
    with pytest.raises(AssertionError):
        checks.check_close(torch.ones(2), torch.zeros(2), "patched")
