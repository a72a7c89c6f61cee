"""Assertion helpers for exercise tests.

Every failure raises :class:`AssertionError` with a message written for a student: what was
expected, what came, and (when given) a hint about the likely mistake::

    check_shape(out, (4, 16, 8, 8), "ResidualBlock output",
                hint="did you forget the stride-2 shortcut?")
    # AssertionError: ResidualBlock output: expected shape (4, 16, 8, 8), got (4, 16, 16, 16).
    #   Hint: did you forget the stride-2 shortcut?

The helpers accept torch tensors, NumPy arrays and Python numbers. They keep private references
to the torch/NumPy functions they use, taken at import time, so a notebook that later replaces
``torch.allclose`` and friends does not change what these checks compute.

The same test code runs in the student's kernel and in the trusted grader (docs/TEST_FORM.md).
Checks about *how* the student computed something run beside the student's code in both places:
:func:`no_autograd`, :func:`count_torch_calls` and helpers marked :func:`runs_beside_student`.
In the grader, :data:`grading_hooks` (set by :mod:`course.grading`) routes them to the sandbox.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as _np
import torch as _torch

from course import progress as _progress

_as_message_only = _progress.as_message_only
# In a kernel: unanswered exercises read "not answered yet" in one line, and the notebook's last
# cell can show the progress table (course.progress). A no-op outside IPython.
_progress.install()

# Private references, taken once (see module docstring).
_as_tensor = _torch.as_tensor
_is_tensor = _torch.is_tensor
_isfinite = _torch.isfinite
_abs = _torch.abs
_float64 = _torch.float64
_AssertionError = AssertionError

__all__ = [
    "check",
    "call_keeping_inputs",
    "may_change",
    "behaves_like",
    "no_autograd",
    "count_torch_calls",
    "runs_beside_student",
    "check_shape",
    "check_dtype",
    "check_close",
    "check_equal",
    "check_type",
    "check_module_names",
    "check_param_count",
    "check_raises",
    "relative_error",
    "count_params",
]


# How many times each check (by its message) has failed in this process: a two-level hint
# shows its second level from the second failure on ("hidden until you have tried").
_failures: dict[str, int] = {}
Hint = str | tuple[str, str] | None


def _fail(name: str, what: str, hint: Hint) -> None:
    msg = f"{name}: {what}" if name else what
    levels = (hint,) if isinstance(hint, str) else tuple(h for h in hint or () if h)
    seen = _failures.get(msg, 0)
    _failures[msg] = seen + 1
    if levels:
        msg += f"\n  Hint: {levels[0]}"
    if len(levels) > 1:
        if seen and not (grading_hooks and grading_hooks.get("first_hint_only")):
            msg += f"\n  More: {levels[1]}"
        elif not grading_hooks:
            msg += "\n  (run the test again after your next attempt for a more specific hint)"
    # shown as "AssertionError: <message>" in a notebook, without the traceback of the test
    raise _as_message_only(_AssertionError(msg))


def _type_name(obj: Any) -> str:
    """The class name a message shows. Under ``course grade`` a student's object is a proxy whose
    own class says nothing; it reports the name of the student's real class instead."""
    try:
        name = object.__getattribute__(obj, "__course_type_name__")
    except AttributeError:
        return type(obj).__name__
    return name if isinstance(name, str) else type(obj).__name__


def _to_tensor(x: Any, name: str) -> _torch.Tensor:
    if _is_tensor(x):
        return x.detach().to("cpu")
    if isinstance(x, _np.ndarray | int | float | bool | list | tuple):
        try:
            return _as_tensor(_np.asarray(x))
        except (TypeError, ValueError):
            pass
    _fail(name, f"expected a tensor (or array/number), got {_type_name(x)}", None)
    raise AssertionError  # unreachable, keeps type checkers happy


def _shape_of(x: Any) -> tuple[int, ...] | None:
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else None


def check(condition: Any, message: str, hint: Hint = None) -> None:
    """Fail with ``message`` (and ``hint``) unless ``condition`` is truthy.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    if not bool(condition):
        _fail("", message, hint)


def check_type(obj: Any, expected: type | tuple[type, ...], name: str, hint: Hint = None):
    """``obj`` must be an instance of ``expected``.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    if obj is None:
        _fail(name, "got None: did the function forget to `return` its result?", hint)
    if not isinstance(obj, expected):
        exp = (
            " or ".join(t.__name__ for t in expected)
            if isinstance(expected, tuple)
            else expected.__name__
        )
        _fail(name, f"expected a {exp}, got {_type_name(obj)}", hint)


def check_shape(x: Any, expected: Sequence[int], name: str, hint: Hint = None) -> None:
    """``x.shape`` must equal ``expected``.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    if x is None:
        _fail(name, "got None: did the function forget to `return` its result?", hint)
    shape = _shape_of(x)
    if shape is None:
        _fail(name, f"expected an array of shape {tuple(expected)}, got {_type_name(x)}", hint)
    if shape != tuple(expected):
        _fail(name, f"expected shape {tuple(expected)}, got {shape}", hint)


def check_dtype(x: Any, expected: Any, name: str, hint: Hint = None) -> None:
    """``x.dtype`` must equal ``expected`` (a torch or NumPy dtype).

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    dtype = getattr(x, "dtype", None)
    if dtype != expected:
        _fail(name, f"expected dtype {expected}, got {dtype}", hint)


def relative_error(actual: Any, expected: Any) -> float:
    """``max|a - e| / max(max|e|, tiny)``, computed in float64.

    Lessons: 01_residual_block, 07_highway_densenet.
    """
    a = _to_tensor(actual, "actual").to(_float64)
    e = _to_tensor(expected, "expected").to(_float64)
    denom = max(float(_abs(e).max()) if e.numel() else 0.0, 1e-300)
    diff = float(_abs(a - e).max()) if a.numel() else 0.0
    return diff / denom


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def check_close(
    actual: Any,
    expected: Any,
    name: str,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    hint: Hint = None,
) -> None:
    """Values must match elementwise: ``|a - e| <= atol + rtol * |e|`` (as ``torch.allclose``).

    Checks type, shape and finiteness first so the message names the first thing that is wrong,
    then reports the worst element (index, got, expected) and the relative error.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    if actual is None:
        _fail(name, "got None: did the function forget to `return` its result?", hint)
    a = _to_tensor(actual, name)
    e = _to_tensor(expected, name)
    if tuple(a.shape) != tuple(e.shape):
        _fail(name, f"expected shape {tuple(e.shape)}, got {tuple(a.shape)}", hint)
    a64, e64 = a.to(_float64), e.to(_float64)
    if not bool(_isfinite(a64).all()):
        bad = int((~_isfinite(a64)).sum())
        _fail(name, f"{bad} value(s) are NaN or infinite", hint)
    err = _abs(a64 - e64)
    tol = atol + rtol * _abs(e64)
    over = err > tol
    if bool(over.any()):
        n_bad = int(over.sum())
        flat = int((err - tol).reshape(-1).argmax())
        idx = tuple(int(i) for i in _np.unravel_index(flat, tuple(e.shape))) if e.ndim else ()
        got = float(a64.reshape(-1)[flat])
        want = float(e64.reshape(-1)[flat])
        where = f" at index {idx}" if idx else ""
        _fail(
            name,
            f"{n_bad} of {e.numel()} value(s) differ{where}: got {_fmt(got)}, expected "
            f"{_fmt(want)} (relative error {relative_error(a64, e64):.2e})",
            hint,
        )


def check_equal(actual: Any, expected: Any, name: str, hint: Hint = None) -> None:
    """Exact equality for numbers, strings, tuples, dicts; elementwise for tensors/arrays.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    if actual is None and expected is not None:
        _fail(name, "got None: did the function forget to `return` its result?", hint)
    if _is_tensor(actual) or isinstance(actual, _np.ndarray):
        check_close(actual, expected, name, rtol=0.0, atol=0.0, hint=hint)
        return
    if isinstance(expected, float) and isinstance(actual, int | float):
        if not math.isclose(actual, expected, rel_tol=1e-12, abs_tol=0.0):
            _fail(name, f"expected {expected!r}, got {actual!r}", hint)
        return
    if (
        type(actual) is bool
        and type(expected) is int
        or type(expected) is bool
        and type(actual) is int
    ):
        _fail(name, f"expected {expected!r}, got {actual!r}", hint)
    if actual != expected:
        if isinstance(expected, int) and isinstance(actual, int):
            diff = actual - expected
            ratio = f", ratio {actual / expected:.4g}" if expected else ""
            _fail(name, f"expected {expected:,}, got {actual:,} (off by {diff:+,}{ratio})", hint)
        _fail(name, f"expected {expected!r}, got {actual!r}", hint)


def count_params(module: Any, trainable_only: bool = False) -> int:
    """Number of parameters (elements) of an ``nn.Module``.

    Lessons: 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def check_param_count(module: Any, expected: int, name: str, hint: Hint = None) -> None:
    """The module must have exactly ``expected`` parameters.

    Lessons: 01_residual_block, 02_plain_vs_residual, 04_inception, 05_resnet34_cifar10,
    06_residual_variants, 07_highway_densenet."""
    check_type(module, _torch.nn.Module, name)
    check_equal(count_params(module), expected, f"{name} parameter count", hint)


def check_module_names(module: Any, required: Iterable[str], name: str, hint: Hint = None) -> None:
    """``module`` must have each attribute in ``required`` (e.g. ``conv1``, ``bn1``).

    Lessons: 01_residual_block, 04_inception, 05_resnet34_cifar10, 06_residual_variants,
    07_highway_densenet."""
    missing = [n for n in required if not hasattr(module, n)]
    if missing:
        _fail(name, f"missing attribute(s) {missing}", hint)


def check_raises(
    func: Callable[[], Any], exc: type[BaseException], name: str, hint: Hint = None
) -> None:
    """Calling ``func()`` must raise ``exc``.

    Lessons: 03_one_by_one_convolutions, 06_residual_variants, 07_highway_densenet.
    """
    try:
        func()
    except exc:
        return
    except NotImplementedError as stub:
        if not stub.args:  # nbgrader's stub: reads "not answered yet: ..." (course.progress)
            raise
        _fail(name, f"expected {exc.__name__}, got NotImplementedError: {stub}", hint)
    except Exception as other:  # noqa: BLE001 - we report whatever came instead
        _fail(name, f"expected {exc.__name__}, got {_type_name(other)}: {other}", hint)
    _fail(name, f"expected {exc.__name__} to be raised, but nothing was raised", hint)


# --------------------------------------------------------------------------- side effects
def _tensors(value: Any, found: list) -> list:
    if _is_tensor(value):
        found.append(value)
    elif isinstance(value, list | tuple):
        for v in value:
            _tensors(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors(v, found)
    return found


def call_keeping_inputs(func: Callable, *args: Any, name: str, hint: Hint = None, **kwargs: Any):
    """Call ``func(*args, **kwargs)`` and fail if it changed any tensor argument in place
    (values, shape or dtype). Returns what ``func`` returned.

    In the trusted grader the call itself fails when the student's code changes a tensor
    argument in place — even one it returns (the test's tensors never change; see
    :func:`may_change`) — so this check fails there too.

    Lessons: 01_residual_block, 02_plain_vs_residual, 03_one_by_one_convolutions, 04_inception,
    05_resnet34_cifar10, 06_residual_variants, 07_highway_densenet.
    """
    inputs = _tensors(list(args) + list(kwargs.values()), [])
    before = [(t.detach().clone(), t.dtype, tuple(t.shape)) for t in inputs]
    if grading_hooks is not None:  # the grader: any in-place change to an argument fails the call
        with grading_hooks["call_options"](keep_inputs=True):
            result = func(*args, **kwargs)
    else:
        result = func(*args, **kwargs)
    for i, (t, (saved, dtype, shape)) in enumerate(zip(inputs, before, strict=True)):
        same = t.dtype == dtype and tuple(t.shape) == shape
        if same and t.device.type != "meta":
            now = t.detach()
            same = bool(((now == saved) | (now.isnan() & saved.isnan())).all())
        if not same:
            _fail(
                name,
                f"tensor argument {i + 1} was changed in place (the caller's data must stay "
                "as it was)",
                hint
                or "an in-place operation (x += ..., x.relu_(), out= or inplace=True) on an "
                "input changes the caller's tensor: compute a new tensor instead",
            )
    return result


# --------------------------------------------------------------------------- structure, by behaviour
def behaves_like(
    module: Any, reference: Any, inputs: Sequence[Any], name: str, *, rtol: float = 1e-4,
    atol: float = 1e-5, hint: Hint = None,
) -> None:  # fmt: skip
    """Establish what ``module`` *is* from what it does, never from what it says about itself:
    the grader-made weights of ``reference`` (a model the test built from ``torch.nn``, whose
    ``state_dict`` keys are the exercise's contract) are loaded into ``module`` by those keys
    (strictly), then both run on each of ``inputs`` in train and in eval mode and the outputs
    must match. A module that reports the right types, names or parameter counts while being
    something else fails here; after it passes, facts such as the parameter count are the
    *reference's* (``count_params(reference)``), which the test computed itself.

    Lessons: none directly (lessons 06 and 07 write the same check out with their own functional
    references, which torch.nn classes alone cannot build; the form is in docs/TEST_FORM.md).
    """
    import copy

    reference = copy.deepcopy(reference)
    with _torch.no_grad():
        for p in reference.parameters():  # weights the student's code has never seen
            p.copy_(_torch.randn(p.shape, dtype=p.dtype) * 0.5)
    weights = {k: v.detach().clone() for k, v in reference.state_dict().items()}
    try:
        module.load_state_dict(weights)
    except Exception as exc:  # noqa: BLE001 - reported as the check's failure
        _fail(name, f"loading weights by the expected names failed: {exc}".strip(), hint)
    for mode in ("train", "eval"):
        getattr(module, mode)()
        getattr(reference, mode)()
        for i, x in enumerate(inputs):
            with _torch.no_grad():
                expected = reference(x.detach().clone())
                got = module(x.detach().clone())
            check_close(got, expected, f"{name} ({mode} mode, input {i + 1}, the test's weights)",
                        rtol=rtol, atol=atol, hint=hint)  # fmt: skip


# --------------------------------------------------------------------------- how, not what
# Set by course.grading in the trusted grader: routes the checks below to the sandbox, where
# the student's code runs. ``None`` in a student's kernel.
grading_hooks: dict | None = None


@contextlib.contextmanager
def may_change(*tensors: Any):
    """Declare that calls inside the block may change ``tensors`` in place (an in-place update
    the exercise asks for). In a kernel nothing changes. In the trusted grader an in-place
    change to any *other* tensor argument fails the call ("your function changed its argument
    `x` in place"), and a change to one of ``tensors`` is copied back into it — values, shape,
    ``requires_grad`` and ``.grad`` — so the test sees what a kernel would show.

    Lessons: none yet (the form is in docs/TEST_FORM.md).
    """
    if grading_hooks is not None:
        with grading_hooks["call_options"](may_change=tuple(tensors)):
            yield
        return
    yield


class _AutogradBanned(RuntimeError):
    pass


@contextlib.contextmanager
def no_autograd(message: str = "compute this by hand with the chain rule, not with autograd"):
    """Inside the block, ``torch.autograd.grad``, ``torch.autograd.backward`` and
    ``Tensor.backward`` raise ``RuntimeError(message)``. Detectable, not enforceable: the code
    under test runs in the same process and could undo it (docs/TEST_FORM.md).

    Lessons: 01_residual_block, 07_highway_densenet (every call of residual_block_backward in its
    tests)."""
    if grading_hooks is not None:
        with grading_hooks["call_options"](no_autograd=message):
            yield
        return
    import torch.autograd as autograd

    def banned(*_args, **_kwargs):
        raise _AutogradBanned(message)

    saved = (autograd.grad, autograd.backward, _torch.Tensor.backward)
    autograd.grad = autograd.backward = _torch.Tensor.backward = banned
    try:
        yield
    finally:
        autograd.grad, autograd.backward, _torch.Tensor.backward = saved


class CallCount:
    """What :func:`count_torch_calls` counted: ``count`` and, per function, ``by_name``.

    Lessons: none yet (returned by :func:`count_torch_calls`).
    """

    def __init__(self) -> None:
        self.count = 0
        self.by_name: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        self.count += n
        self.by_name[name] = self.by_name.get(name, 0) + n

    def add_remote(self, calls: dict) -> None:
        """Add what the sandbox counted during one call (the grader; the student's word)."""
        by_name = calls.get("by_name")
        for name, n in (by_name if isinstance(by_name, dict) else {}).items():
            if type(n) is int and n >= 0:
                self.by_name[str(name)[:100]] = self.by_name.get(str(name)[:100], 0) + n
        n = calls.get("count")
        self.count += n if type(n) is int and n >= 0 else 0


@contextlib.contextmanager
def count_torch_calls():
    """Count the Python-level torch calls made inside the block (torch functions, tensor methods
    and operators), e.g. to tell a vectorised function from a per-sample loop. Detectable, not
    enforceable.

    Lessons: 01_residual_block (batchnorm_forward's tests: no normalisation routine may run),
    03_one_by_one_convolutions (conv1x1's tests: no convolution routine may run),
    05_resnet34_cifar10 (random_crop_flip's: as many calls for 64 images as for 4).
    """
    counter = CallCount()
    if grading_hooks is not None:
        with grading_hooks["call_options"](count_torch_calls=counter):
            yield counter
        return
    from torch.overrides import TorchFunctionMode

    class _Count(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            counter.add(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    with _Count():
        yield counter


def runs_beside_student(func: Callable) -> Callable:
    """Mark a library helper that must run next to the student's objects (it registers hooks on
    a student's module, say). In a kernel it is an ordinary call; in the trusted grader a call
    that receives a student's object runs in the sandbox and returns values and proxies.

    Lessons: none directly (marks helpers such as :func:`course.experiments.degradation.trace`).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if grading_hooks is not None:
            return grading_hooks["beside_student"](func, args, kwargs)
        return func(*args, **kwargs)

    wrapper.__course_beside_student__ = True
    return wrapper
