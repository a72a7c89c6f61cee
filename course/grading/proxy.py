"""The grader's side of the wire: proxies for the student's objects, and the session they use.

A test cell runs in the trusted grader (:mod:`course.grading.job`). Names it does not define
resolve to the student's objects, which live in the sandbox (:mod:`course.grading.student`);
here they are *proxies*:

* :class:`StudentObject` — call it, read/set attributes, index, iterate, ``len``, ``repr``;
  ``isinstance(p, nn.Conv2d)`` answers from the class names the sandbox reported (its word,
  used for convenience, never for a verdict on values); ``isinstance(x, p)`` asks the sandbox
  when ``p`` is a student's class;
* :class:`StudentTensor` — a tensor that stays in the sandbox (``block.bn2.weight``): in-place
  methods (``zero_``, ``normal_``, ...) act on it there; anything else (arithmetic, torch
  functions, ``checks``) first turns it into a value here (``__torch_function__``).

Results of calls come back as values: fresh tensors built from bytes, Python numbers, tuples,
lists and dicts — so every comparison a test makes runs on the grader's own objects. When a
call's inputs or the student's parameters need gradients, :class:`_Bridge` keeps the result
connected: ``out.sum().backward()`` here sends the gradient to the sandbox and brings back the
gradients of the test's tensors. The test's tensors never change under the student's code: an
in-place change to a tensor argument fails the call (:class:`InPlaceChange`), unless the test
declared that argument changeable (``checks.may_change``); then exactly that change is copied
back, as a kernel would show it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import operator
import os
import select
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from course.grading import wire


class SandboxError(Exception):
    """The sandbox stopped answering (timed out, died, or broke the protocol)."""


class SandboxTimeout(SandboxError):
    pass


class StudentError(Exception):
    """An exception raised by the student's code. Raised here as a subclass of the builtin of
    the same name when there is one (``except ValueError`` in a test still works)."""

    traceback_text = ""


_ERRORS: dict[str, type] = {}
_BUILTIN_ERRORS = {
    name: obj
    for name, obj in vars(__import__("builtins")).items()
    if isinstance(obj, type) and issubclass(obj, Exception) and obj is not StopIteration
}


def student_error(info: dict) -> StudentError | wire.TooLarge:
    """The exception to raise for the student's error ``info`` (type name, message)."""
    name = str(info.get("type", "Exception"))[:100]
    message = str(info.get("message", ""))[:2000]
    if name == "TooLarge":  # the sandbox refused to send an oversized value (wire.Encoder)
        return wire.TooLarge(message[:300])
    base = _BUILTIN_ERRORS.get(name, Exception)
    cls = _ERRORS.get(name)
    if cls is None:
        cls = type(name if name.isidentifier() else "StudentException", (StudentError, base), {})
        _ERRORS[name] = cls
    exc = cls(message)
    exc.traceback_text = str(info.get("traceback", ""))[-4000:]
    return exc


# --------------------------------------------------------------------------- the session
class Session:
    """One live connection to a sandboxed student process (see :mod:`course.grading.sandbox`).

    ``deadline()`` returns the monotonic time by which the current answer must arrive (the
    job sets it per cell); a late answer raises :class:`SandboxTimeout` and the job replaces
    the sandbox.
    """

    def __init__(self, fd_out: int, fd_in: int, deadline: Callable[[], float]):
        self.fd_out, self.fd_in = fd_out, fd_in
        os.set_blocking(fd_out, False)  # writes wait under the deadline (wire.write_frame)
        self.deadline = deadline
        self.options: list[dict] = []
        self.counters: list = []
        self.alive = True
        self.calls = 0
        self.callbacks: dict[int, Callable] = {}
        self._rng_digest, self._rng_uses = b"", 0
        self.changeable: list = []  # tensors a test declared changeable (checks.may_change)
        self.strict = 0  # > 0 inside checks.call_keeping_inputs: no in-place change tolerated

    # ------------------------------------------------------------------ raw requests
    def request(
        self, req: wire.Request, buffers: Sequence[bytes] = ()
    ) -> tuple[dict, list[bytearray]]:
        """Send ``req`` and return the sandbox's reply (header, buffers); a reply that reports
        the student's error raises it (:func:`student_error`)."""
        if not self.alive:
            raise SandboxError("the student's process is gone (an earlier timeout or crash)")
        self.calls += 1
        try:
            wire.write_frame(self.fd_out, req.header(), buffers, wait=self._wait_write)
            while True:
                reply, out = wire.read_frame(self.fd_in, wait=self._wait)
                if "callback" not in reply:
                    break
                self._callback(reply, out)  # the student's code called a test's function
        except SandboxTimeout:
            self.alive = False
            raise
        except wire.WireError as exc:
            self.alive = False
            raise SandboxError(f"the student's process {wire.PROTOCOL} ({exc})") from None
        except (OSError, EOFError) as exc:
            self.alive = False
            raise SandboxError(f"the student's process stopped answering ({exc})") from None
        if not reply.get("ok"):
            err = reply.get("error")
            raise student_error(err if isinstance(err, dict) else {})
        return reply, out

    def _callback(self, frame: dict, buffers: Sequence[wire.Buffer]) -> None:
        """Run a test's function (a forward hook, say) that the student's code called, with
        the arguments it chose (the student's word), and send back what it returned."""
        func = self.callbacks.get(frame.get("callback", 0))
        try:
            if func is None:
                raise wire.WireError("no such callback")
            args = self.decode(frame.get("args", []), buffers)
            kwargs = self.decode(frame.get("kwargs", {"$": "dict", "k": [], "v": []}), buffers)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise wire.WireError("bad callback arguments")
            value, out = self.encode(func(*args, **kwargs))
            reply = {"callback_reply": True, "ok": True, "value": value}
            wire.write_frame(self.fd_out, reply, out, wait=self._wait_write)
        except (SandboxError, wire.WireError):
            raise
        except Exception as exc:  # noqa: BLE001 - the test's function failed: tell the caller
            reply = {"callback_reply": True, "ok": False}
            reply["error"] = {"type": type(exc).__name__, "message": str(exc)[:500]}
            wire.write_frame(self.fd_out, reply, [], wait=self._wait_write)

    def ready(self) -> None:
        """Wait for the student process's first frame (it has imported torch and IPython)."""
        try:
            hello, _ = wire.read_frame(self.fd_in, wait=self._wait)
        except SandboxTimeout:
            self.alive = False
            raise
        except (OSError, EOFError, wire.WireError) as exc:
            self.alive = False
            raise SandboxError(f"the student's process did not start ({exc})") from None
        if not hello.get("ready"):
            self.alive = False
            raise SandboxError("the student's process did not start")

    def _wait(self, write: bool = False) -> None:
        """Return once the sandbox's pipe is readable (``write``: writable); past the
        deadline raise :class:`SandboxTimeout` (every read and write of a frame waits here)."""
        fds = ([], [self.fd_out]) if write else ([self.fd_in], [])
        while True:
            left = self.deadline() - time.monotonic()
            if left <= 0:
                raise SandboxTimeout("timed out waiting for the student's code")
            readable, writable, _ = select.select(*fds, [], min(left, 1.0))
            if readable or writable:
                return

    def _wait_write(self) -> None:
        self._wait(write=True)

    def decode(self, value: Any, buffers: Sequence[wire.Buffer]) -> Any:
        """Plain values from a reply; a value over a cap raises :class:`wire.TooLarge` (the
        test fails, the sandbox goes on); a malformed one breaks the session."""
        try:
            return wire.decode(value, buffers, refs=self.proxy)
        except wire.TooLarge:
            raise
        except wire.WireError as exc:
            self.alive = False
            raise SandboxError(f"the student's process {wire.PROTOCOL} ({exc})") from None

    def proxy(self, ref: dict):
        kind = ref.get("kind")
        types = ref.get("types")
        info = ref.get("info")
        types = tuple(
            (str(t[0])[:200], str(t[1])[:200])
            for t in (types if isinstance(types, list) else [])[:40]
            if isinstance(t, list) and len(t) == 2
        )
        r = wire.Ref(int(ref["id"]), str(kind), types, info if isinstance(info, dict) else {})
        return (StudentTensor if kind == "tensor" else StudentObject)(self, r)

    # ------------------------------------------------------------------ encoding arguments
    def encode(self, value: Any) -> tuple[Any, list[bytes]]:
        """A test's value for the student's code (:class:`_TestEncoder`); what cannot be sent
        is the test's fault (:class:`AuthoringError`)."""
        enc = _TestEncoder(self)
        try:
            return enc.encode(value), enc.buffers
        except TypeError as exc:
            raise AuthoringError(str(exc)) from None

    # ------------------------------------------------------------------ calls
    def call(self, target, args: tuple, kwargs: dict, *, lib: tuple[str, str] | None = None):
        data, buffers = self.encode([list(args), kwargs])
        run = {"args": data[0], "kwargs": data[1], "opts": self._options()}
        req = wire.Lib(*lib, **run) if lib else wire.Call(target, **run)
        reply, out = self.request(req, buffers)
        value = self.decode(reply.get("value"), out)
        if not isinstance(value, dict) or "result" not in value:
            raise SandboxError("malformed reply to a call")
        self._check_changes(args, kwargs, value.get("changed") or [])
        calls = reply.get("calls")
        if isinstance(calls, dict):
            for counter in self.counters:
                counter.add_remote(calls)
        result = value["result"]
        link = reply.get("link")
        if type(link) is int and torch.is_grad_enabled():
            result = _bridge(self, link, int(reply.get("leaves") or 0), args, kwargs, result)
        return result

    def _seed(self) -> int:
        """The seed the student's code runs under for the next call: a function of the test's
        global torch RNG state (the same ``torch.manual_seed`` before a call gives the same
        randomness there) and of how many calls that state has already seeded (two calls in a
        row get different randomness; :meth:`reseeded` starts the count again). The test's
        generator is never advanced, and nothing the student's process sends can set it."""
        digest = hashlib.sha256(torch.get_rng_state().numpy().tobytes()).digest()
        if digest == self._rng_digest:
            self._rng_uses += 1
        else:
            self._rng_digest, self._rng_uses = digest, 0
        mixed = hashlib.sha256(digest + self._rng_uses.to_bytes(8, "little")).digest()
        return int.from_bytes(mixed[:8], "little") >> 1

    def reseeded(self) -> None:
        """The test called ``torch.manual_seed``: the next call starts a fresh count."""
        self._rng_digest, self._rng_uses = b"", 0

    def _options(self) -> dict:
        opts = {"grad": torch.is_grad_enabled(), "seed": self._seed()}
        for layer in self.options:
            opts.update(layer)
        if self.counters:
            opts["count_calls"] = True
        return opts

    @contextlib.contextmanager
    def call_options(self, **options):
        counter = options.pop("count_torch_calls", None)
        changeable = options.pop("may_change", None)
        strict = options.pop("keep_inputs", False)
        self.strict += int(bool(strict))
        self.options.append(options)
        if counter is not None:
            self.counters.append(counter)
        if changeable is not None:
            self.changeable.append(changeable)
        try:
            yield
        finally:
            self.strict -= int(bool(strict))
            self.options.pop()
            if counter is not None:
                self.counters.remove(counter)
            if changeable is not None:
                self.changeable.remove(changeable)

    def _may_change(self, tensor) -> bool:
        return any(tensor is t for layer in self.changeable for t in layer)

    def _check_changes(self, args, kwargs, changed: list) -> None:
        """The student's code changed some of the test's tensor arguments in place (in the
        sandbox's copies; the test's own tensors are untouched). A change to an argument the
        test declared changeable (``checks.may_change``) is copied back into it — values,
        shape, ``requires_grad`` and ``.grad``, as a kernel would see them. A change to an
        argument the call also *returned* (an in-place layer, ``return x.relu_()``) leaves the
        test's tensor as it was and the result stands, except inside
        ``checks.call_keeping_inputs``; any other change fails the call, as a kernel's "inputs
        unchanged" check would fail."""
        root = [list(args), kwargs]
        refused = []
        for entry in changed:
            if not isinstance(entry, dict):
                continue
            path = entry.get("path")
            target = _at(root, path)
            if not isinstance(target, torch.Tensor) or isinstance(target, StudentObject):
                continue
            if self._may_change(target):
                _mirror(target, entry)
            elif entry.get("returned") is True and not self.strict:
                continue  # an in-place layer's idiom (x.relu_() returned): the result is the value
            else:
                refused.append(_argument_name(entry.get("name"), path))
        if refused:
            names = ", ".join(
                n if n.startswith("argument") else f"`{n}`" for n in dict.fromkeys(refused)
            )
            raise InPlaceChange(
                f"your function changed its argument {names} in place: the caller's tensors "
                "must stay as they were (compute new tensors instead of x += ..., x.relu_(), "
                "out=..., requires_grad_() or .backward() on an input)"
            )

    def backward(self, link: int, grads) -> list:
        data, buffers = self.encode(list(grads))
        reply, out = self.request(wire.Backward(link, data), buffers)
        value = self.decode(reply.get("value"), out)
        return value if isinstance(value, list) else []


class _TestEncoder(wire.Encoder):
    """A test's values for the student's code: proxies go back as references to their objects
    in the sandbox, classes by name (:func:`_class_ref`), the test's functions as callbacks
    (the student's code calls them back), modules built from torch.nn as blobs."""

    def __init__(self, session: Session):
        super().__init__(module=_module_blob)
        self.session = session

    def encode(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, StudentObject):
            if object.__getattribute__(value, "_session") is not self.session:
                raise SandboxError("an object of an earlier (replaced) sandbox")
            return {"$": "ref", "id": object.__getattribute__(value, "_ref").id}
        if isinstance(value, type):
            return _class_ref(value)
        if callable(value) and not isinstance(value, torch.nn.Module):
            key = len(self.session.callbacks) + 1
            self.session.callbacks[key] = value
            return {"$": "callback", "id": key}
        return super().encode(value, depth)


class InPlaceChange(AssertionError):
    """The student's function changed a tensor the test handed it, which it must not."""


def _argument_name(name, path) -> str:
    """The parameter's name as the sandbox reported it (for the message only), or its position."""
    if isinstance(name, str) and name.isidentifier() and len(name) <= 40:
        return name
    if isinstance(path, list) and len(path) > 1 and type(path[1]) is int and path[0] == 0:
        return f"argument {path[1] + 1}"
    return "argument"


def _mirror(target: torch.Tensor, entry: dict) -> None:
    """Copy a declared in-place change back into the test's tensor ``target``."""
    what: list = entry["what"] if isinstance(entry.get("what"), list) else []
    new = entry.get("value")
    if "values" in what and isinstance(new, torch.Tensor) and new.dtype == target.dtype:
        with torch.no_grad():
            if new.shape == target.shape:
                target.copy_(new)
            else:
                target.set_(new.clone())  # type: ignore[call-overload]
    if "requires_grad" in what and target.is_leaf and type(entry.get("requires_grad")) is bool:
        target.requires_grad_(entry["requires_grad"])
    grad = entry.get("grad")
    if "grad" in what and target.is_leaf:
        if grad is None:
            target.grad = None
        elif isinstance(grad, torch.Tensor) and grad.shape == target.shape:
            target.grad = grad.to(target.dtype)


class AuthoringError(Exception):
    """A test sends the student's code something that cannot cross into the sandbox."""


def _class_ref(cls: type) -> dict:
    """A class sent by name: only torch's and Python's own (the sandbox imports them)."""
    module = getattr(cls, "__module__", "")
    if not (module == "builtins" or module == "torch" or module.startswith("torch.")):
        raise AuthoringError(
            f"the class {cls.__qualname__} (defined in {module}) cannot be sent to the student's "
            "code: only classes of torch and builtins can (docs/TEST_FORM.md)"
        )
    return {"$": "class", "mod": module, "qual": cls.__qualname__}


def _module_blob(module: torch.nn.Module):
    """A module the test built from torch.nn classes, copied into the sandbox."""
    for m in module.modules():
        if not type(m).__module__.startswith("torch."):
            raise AuthoringError(
                f"a {type(m).__name__} (defined in {type(m).__module__}) cannot be sent to the "
                "student's code: build test models from torch.nn classes only (docs/TEST_FORM.md)"
            )
    buf = io.BytesIO()
    torch.save(module, buf)
    grads = {n: p.grad.detach() for n, p in module.named_parameters() if p.grad is not None}
    return wire.Blob(buf.getvalue(), grads)


def _at(root, path):
    node = root
    for key in path if isinstance(path, list) else []:
        try:
            node = node[key]
        except (IndexError, KeyError, TypeError):
            return None
    return node


# --------------------------------------------------------------------------- autograd bridge
_ANCHOR = torch.zeros(
    (), requires_grad=True
)  # makes results of parameter-only graphs differentiable


class _Bridge(torch.autograd.Function):
    @staticmethod
    def forward(ctx, session, link, n_leaves, n_out, anchor, *tensors):
        ctx.session, ctx.link, ctx.n_leaves = session, link, n_leaves
        outs = tensors[n_leaves:]
        results = tuple(o.clone() for o in outs)
        for r in results:
            if not (r.is_floating_point() or r.is_complex()):
                ctx.mark_non_differentiable(r)
        return results if n_out != 1 else results[0]

    @staticmethod
    def backward(ctx, *grad_outs):
        grads = ctx.session.backward(ctx.link, grad_outs)
        leaf_grads = list(grads)[: ctx.n_leaves]
        leaf_grads += [None] * (ctx.n_leaves - len(leaf_grads))
        return (None, None, None, None, None, *leaf_grads, *[None] * len(grad_outs))


def _tensors_in(value, found: list) -> list:
    if isinstance(value, torch.Tensor) and not isinstance(value, StudentObject):
        found.append(value)
    elif isinstance(value, list | tuple):
        for v in value:
            _tensors_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors_in(v, found)
    return found


def _replace_tensors(value, new: list):
    if isinstance(value, torch.Tensor) and not isinstance(value, StudentObject):
        return new.pop(0)
    if type(value) is list:
        return [_replace_tensors(v, new) for v in value]
    if type(value) is tuple:
        return tuple(_replace_tensors(v, new) for v in value)
    if type(value) is dict:
        return {k: _replace_tensors(v, new) for k, v in value.items()}
    return value


def _bridge(session: Session, link: int, n_leaves: int, args, kwargs, result):
    leaves = [
        t
        for t in _tensors_in([list(args), kwargs], [])
        if t.requires_grad and t.device.type != "meta"
    ]
    if len(leaves) != n_leaves:
        return result  # the sandbox's count disagrees: leave the result unconnected
    outs = _tensors_in(result, [])
    if not outs:
        return result
    connected = _Bridge.apply(session, link, n_leaves, len(outs), _ANCHOR, *leaves, *outs)
    connected = [connected] if len(outs) == 1 else list(connected)
    return _replace_tensors(result, connected)


# --------------------------------------------------------------------------- proxies
def _torch_class(types: tuple):
    """The first class of ``types`` (an MRO as (module, qualname) pairs) that torch defines."""
    import importlib

    for module, qualname in types:
        if not (module == "torch" or module.startswith("torch.")):
            continue
        try:
            obj: object = importlib.import_module(module)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            continue
        if isinstance(obj, type):
            return obj
    return None


class StudentObject:
    """An object in the student's sandbox, known here by number."""

    __slots__ = ("_session", "_ref", "__weakref__")

    def __init__(self, session: Session, ref: wire.Ref):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_ref", ref)

    def _ask(self, kind: type[wire.OnObject], *fields, buffers: Sequence[bytes] = ()):
        """Send a request of ``kind`` about this object; the value of the reply."""
        session = object.__getattribute__(self, "_session")
        ref = object.__getattribute__(self, "_ref")
        reply, out = session.request(kind(ref.id, *fields), buffers)
        return session.decode(reply.get("value"), out)

    @property  # type: ignore[misc]  # the proxy answers isinstance() as its object would
    def __class__(self):
        ref = object.__getattribute__(self, "_ref")
        return _torch_class(ref.types) or type(self)

    @property
    def __course_type_name__(self) -> str:
        """The name of the object's class in the sandbox, for messages only (the student's word)."""
        ref = object.__getattribute__(self, "_ref")
        return str(ref.types[0][1]).rsplit(".", 1)[-1] if ref.types else "object"

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask(wire.GetAttr, name)

    def __setattr__(self, name: str, value) -> None:
        session = object.__getattribute__(self, "_session")
        data, buffers = session.encode(value)
        self._ask(wire.SetAttr, name, data, not torch.is_grad_enabled(), buffers=buffers)

    def __call__(self, *args, **kwargs):
        session = object.__getattribute__(self, "_session")
        ref = object.__getattribute__(self, "_ref")
        return session.call(ref.id, args, kwargs)

    def __getitem__(self, key):
        session = object.__getattribute__(self, "_session")
        data, buffers = session.encode(key)
        return self._ask(wire.GetItem, data, buffers=buffers)

    def __setitem__(self, key, value) -> None:
        session = object.__getattribute__(self, "_session")
        (key, value), buffers = session.encode([key, value])
        self._ask(wire.SetItem, key, value, torch.is_grad_enabled(), buffers=buffers)

    def __iter__(self):
        items = self._ask(wire.Iter)
        return iter(items if isinstance(items, list) else [])

    def __len__(self) -> int:
        n = self._ask(wire.Len)
        if type(n) is not int or n < 0:
            raise TypeError("len() of the student's object is not a count")
        return n

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        try:
            text = self._ask(wire.Repr)
        except (SandboxError, StudentError):
            text = "?"
        ref = object.__getattribute__(self, "_ref")
        name = ref.types[0][1] if ref.types else "object"
        return f"<student's {name}: {str(text)[:200]}>"

    def __instancecheck__(self, instance) -> bool:
        """``isinstance(x, StudentClass)``: asked of the sandbox (both must be its objects)."""
        if not isinstance(instance, StudentObject):
            return False
        return self._ask(wire.IsInstance, object.__getattribute__(instance, "_ref").id) is True

    def __reduce__(self):
        raise TypeError("the student's objects cannot be pickled")


class StudentTensor(StudentObject):
    """A tensor that lives in the sandbox (a parameter, a buffer, a ``.grad``)."""

    __slots__ = ()

    @property  # type: ignore[misc]  # the proxy answers isinstance() as its object would
    def __class__(self):
        ref = object.__getattribute__(self, "_ref")
        return _torch_class(ref.types) or torch.Tensor

    def value(self) -> torch.Tensor:
        got = self._ask(wire.Value)
        if not isinstance(got, torch.Tensor):
            raise SandboxError("the student's tensor came back as something else")
        return got

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        attr = getattr(torch.Tensor, name, None)
        if callable(attr):
            if name.endswith("_") and not name.startswith("_"):
                method = StudentObject.__getattr__(self, name)  # the student's bound method
                return method
            return getattr(self.value(), name)
        return StudentObject.__getattr__(self, name)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        args = _materialise(args)
        kwargs = _materialise(kwargs or {})
        return func(*args, **kwargs)

    def __iter__(self):
        return iter(self.value())

    def __len__(self) -> int:
        return len(self.value())

    def __bool__(self) -> bool:
        return bool(self.value())

    def __getitem__(self, key):
        return self.value()[_materialise(key)]

    def __array__(self, dtype=None):
        arr = self.value().detach().numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        return f"<student's tensor: {self.value()!r}>"

    def __format__(self, spec: str) -> str:
        return format(self.value(), spec)

    def __float__(self) -> float:
        return float(self.value())

    def __int__(self) -> int:
        return int(self.value())

    def __index__(self) -> int:
        return operator.index(self.value())

    def __hash__(self) -> int:
        return id(self)


def _binary(name: str):
    def method(self, other):
        return getattr(self.value(), name)(_materialise(other))

    method.__name__ = name
    return method


for _name in (
    "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ "
    "__floordiv__ __rfloordiv__ __mod__ __pow__ __rpow__ __matmul__ __rmatmul__ __and__ "
    "__or__ __xor__ __lt__ __le__ __gt__ __ge__ __eq__ __ne__"
).split():
    setattr(StudentTensor, _name, _binary(_name))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(StudentTensor, _name, (lambda n: lambda self: getattr(self.value(), n)())(_name))


def _materialise(value):
    """``value`` with every :class:`StudentTensor` in it turned into a tensor here."""
    if isinstance(value, StudentTensor):
        return value.value()
    if type(value) is list:
        return [_materialise(v) for v in value]
    if type(value) is tuple:
        return tuple(_materialise(v) for v in value)
    if type(value) is dict:
        return {k: _materialise(v) for k, v in value.items()}
    return value


def materialise(value):
    """Public: what a check sees of a proxy (a tensor proxy becomes its value)."""
    return _materialise(value)


def has_proxy(value, depth: int = 0) -> bool:
    if isinstance(value, StudentObject):
        return True
    if depth > 20:
        return False
    if isinstance(value, list | tuple):
        return any(has_proxy(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(has_proxy(v, depth + 1) for v in value.values())
    return False
