"""The student's side of a grading job: runs inside the sandbox, with the student's code.

    python -m course.grading.student IN_FD OUT_FD

Started by :mod:`course.grading.sandbox` in a bubblewrap sandbox that holds the Python
environment (read-only), the student's handed-in files and nothing else: no course checkout,
no tests, no expected values. The trusted grader (:mod:`course.grading.job`) sends requests over
a pipe, each one of the typed requests of :mod:`course.grading.wire` (answered by the method
:data:`HANDLERS` names for its kind); this process answers each with plain data:

* ``exec``: run one of the student's cells in an IPython shell (outputs captured);
* ``names``: the student's objects of the given names;
* ``call`` / ``lib``: call a student's function, class or method — or a library helper marked
  :func:`course.checks.runs_beside_student` — with the grader's arguments, under the grader's
  options (grad mode, :func:`course.checks.no_autograd`, :func:`course.checks.count_torch_calls`);
  in-place changes to tensor arguments are reported so the grader can mirror them;
* ``getattr`` / ``setattr`` / ``getitem`` / ``setitem`` / ``iter`` / ``len`` / ``repr`` /
  ``value`` / ``isinstance``: work on objects kept here, which the grader knows only by number;
* ``backward``: carry a gradient from the grader back through a call's outputs.

Nothing here is trusted: the student's code runs in this very process and may change any of
it. The grader treats every answer as the student's word (docs/GRADING.md).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import torch

from course.grading import wire

STRIP_FRAMES = 2  # traceback frames of this module above the student's code


class Server:
    def __init__(self, fd_in: int, fd_out: int):
        self.torch = torch
        self.wire = wire
        self.fd_in, self.fd_out = fd_in, fd_out
        self.objects: dict[int, object] = {}
        self.by_identity: dict[int, int] = {}
        self.links: dict[int, tuple[list, list]] = {}
        self.shell = self._shell()
        self.ns = self.shell.user_ns

    # ------------------------------------------------------------------ IPython
    def _shell(self):
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance(colors="NoColor", xmode="Minimal")
        if shell.history_manager is not None:
            shell.history_manager.enabled = False
        try:
            shell.enable_matplotlib("inline")
        except Exception:  # noqa: BLE001 - figures are a nicety in feedback
            pass
        return shell

    # ------------------------------------------------------------------ objects
    def describe(self, obj) -> dict:
        torch = self.torch
        if obj is None:
            return {}
        oid = self.by_identity.get(id(obj))
        if oid is None or self.objects.get(oid) is not obj:
            oid = len(self.objects) + 1
            self.objects[oid] = obj
            self.by_identity[id(obj)] = oid
        if isinstance(obj, torch.Tensor):
            kind = "tensor"
            info = {
                "shape": [int(s) for s in obj.shape],
                "dtype": str(obj.dtype).removeprefix("torch."),
                "requires_grad": bool(obj.requires_grad),
            }
        elif isinstance(obj, torch.nn.Module):
            kind, info = "module", {"training": bool(obj.training)}
        elif callable(obj):
            kind, info = "callable", {}
        else:
            kind, info = "object", {}
        mro = type(obj).__mro__ if not isinstance(obj, type) else (type,)
        types = [[str(c.__module__), str(c.__qualname__)] for c in mro][:40]
        return {"id": oid, "kind": kind, "types": types, "info": info}

    def encode(self, value, tensors_by_value: bool) -> tuple[Any, list[bytes]]:
        enc = _ReplyEncoder(self.describe, tensors_by_value)
        return enc.encode(value), enc.buffers

    def decode(self, header_value, buffers):
        torch = self.torch

        def refs(d):
            oid = d["id"]
            if oid not in self.objects:
                raise self.wire.WireError(f"no object {oid}")
            return self.objects[oid]

        def modules(blob: bytes, grads: dict):
            import io

            module = torch.load(io.BytesIO(blob), weights_only=False)
            named = dict(module.named_parameters())
            for name, g in grads.items():
                if name in named:
                    named[name].grad = g
            return module

        def callback(d):
            key = int(d["id"])
            server = self

            def call_grader(*args, **kwargs):
                return server.callback(key, args, kwargs)

            return call_grader

        def klass(d):
            module, qual = str(d["mod"]), str(d["qual"])
            if not (module == "builtins" or module == "torch" or module.startswith("torch.")):
                raise self.wire.WireError(f"class from {module}")
            obj = importlib.import_module(module)
            for part in qual.split("."):
                obj = getattr(obj, part)
            return obj

        return self.wire.decode(
            header_value, buffers, refs=refs, modules=modules,
            tags={"callback": callback, "class": klass},
        )  # fmt: skip

    # ------------------------------------------------------------------ requests
    def serve(self) -> None:
        while True:
            try:
                header, buffers = self.wire.read_frame(self.fd_in)
            except EOFError:
                return
            self.handle(header, buffers)

    def handle(self, header: dict, buffers: list) -> None:
        """Answer one request of the grader."""
        try:
            req = self.wire.parse_request(header)
            reply, out_buffers = HANDLERS[type(req)](self, req, buffers)
            reply = {"ok": True, **reply}
            self.wire.check_frame(reply, out_buffers)  # oversized: an error, not a broken wire
        except BaseException as exc:  # noqa: BLE001 - the student's errors go back as data
            reply, out_buffers = {"ok": False, "error": self.error(exc)}, []
        self.wire.write_frame(self.fd_out, reply, out_buffers)

    def callback(self, key: int, args: tuple, kwargs: dict):
        """Call a function of the grader's test (a hook the test registered on a student's
        module): send the arguments, serve the grader's requests meanwhile, return its answer."""
        value, buffers = self.encode([list(args), kwargs], tensors_by_value=True)
        self.wire.write_frame(
            self.fd_out, {"callback": key, "args": value[0], "kwargs": value[1]}, buffers
        )
        while True:
            header, in_buffers = self.wire.read_frame(self.fd_in)
            if header.get("callback_reply"):
                if not header.get("ok"):
                    err = header.get("error") or {}
                    raise RuntimeError(f"the test's callback failed: {err.get('message', '')}")
                return self.decode(header.get("value"), in_buffers)
            self.handle(header, in_buffers)

    @staticmethod
    def error(exc: BaseException) -> dict:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return {
            "type": type(exc).__name__,
            "message": str(exc)[:2000],
            "traceback": "".join(tb)[-4000:],
        }

    def op_exec(self, req: wire.Exec, _buffers):
        from IPython.utils.capture import capture_output

        code = req.code
        with capture_output(display=True) as captured:
            result = self.shell.run_cell(code, store_history=False, silent=False)
        outputs: list[dict] = []
        if captured.stdout:
            outputs.append({"name": "stdout", "text": captured.stdout[-200_000:]})
        if captured.stderr:
            outputs.append({"name": "stderr", "text": captured.stderr[-50_000:]})
        for rich in captured.outputs[:20]:
            data = {}
            for mime in ("image/png", "text/plain"):
                if mime in rich.data and isinstance(rich.data[mime], str):
                    data[mime] = rich.data[mime][:2_000_000]
            if data:
                outputs.append({"data": data})
        err = result.error_in_exec or result.error_before_exec
        reply: dict[str, object] = {"outputs": outputs}
        if err is not None:
            reply["error"] = self.error(err)
        return reply, []

    def op_names(self, req: wire.Names, _buffers):
        found = {name: self.ns[name] for name in req.names if name in self.ns}
        value, buffers = self.encode(found, tensors_by_value=True)
        return {"value": value}, buffers

    def _arguments(self, req: wire.Call | wire.Lib, buffers):
        return self.decode(req.args, buffers), self.decode(req.kwargs, buffers)

    def _tensors(self, value, path, found):
        torch = self.torch
        if isinstance(value, torch.Tensor) and value.device.type != "meta":
            grad = value.grad.detach().clone() if value.grad is not None else None
            found.append((path, value, value.detach().clone(), grad, bool(value.requires_grad)))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                self._tensors(v, [*path, i], found)
        elif isinstance(value, dict):
            for k, v in value.items():
                self._tensors(v, [*path, k], found)
        return found

    def _run(self, req: wire.Call | wire.Lib, func, args, kwargs):
        import contextlib

        from course import checks

        torch = self.torch
        opts = req.opts or {}
        watched = self._tensors([list(args), kwargs], [], [])
        counter = None
        seed = opts.get("seed")
        if type(seed) is int and seed >= 0:
            # torch only, as a test's torch.manual_seed would in a kernel: Python's and NumPy's
            # generators are the student's own (a kernel's manual_seed leaves them alone too)
            torch.manual_seed(seed)
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.set_grad_enabled(bool(opts.get("grad", True))))
            if opts.get("no_autograd"):
                stack.enter_context(checks.no_autograd(str(opts["no_autograd"])))
            if opts.get("count_calls"):
                counter = stack.enter_context(checks.count_torch_calls())
            result = func(*args, **kwargs)
        reply: dict[str, Any] = {}
        changed = self._changed(func, watched, result)
        if counter is not None:
            reply["calls"] = {
                "count": counter.count,
                "by_name": dict(list(counter.by_name.items())[:200]),
            }
        outputs = self._grad_outputs(result)
        if outputs and torch.is_grad_enabled() is not None and opts.get("grad", True):
            leaves = [t for _p, t, _b, _g, _r in watched if t.requires_grad]
            link = len(self.links) + 1
            self.links[link] = (outputs, leaves)
            reply["link"] = link
            reply["leaves"] = len(leaves)
        value, buffers = self.encode({"result": result, "changed": changed}, tensors_by_value=True)
        return {**reply, "value": value}, buffers

    def _changed(self, func, watched, result) -> list:
        """What the call changed in place in the grader's tensor arguments (values, shape,
        dtype, ``requires_grad``, ``.grad``), each with the parameter's name for the message.
        The grader fails the call unless the test declared the argument changeable
        (``checks.may_change``), and then mirrors exactly these changes back."""
        torch = self.torch
        changed = []
        returned = {id(t) for t in self._all_tensors(result)}
        for path, t, before, grad_before, rg_before in watched:
            what = []
            same = t.dtype == before.dtype and t.shape == before.shape
            if same:
                now = t.detach()
                same = bool(((now == before) | (now.isnan() & before.isnan())).all())
            if not same:
                what.append("values")
            if bool(t.requires_grad) != rg_before:
                what.append("requires_grad")
            g = t.grad
            if (g is None) != (grad_before is None) or (
                g is not None and not (g.shape == grad_before.shape and torch.equal(g, grad_before))
            ):
                what.append("grad")
            if what:
                changed.append({
                    "path": path, "what": what, "name": _param_name(func, path),
                    "returned": id(t) in returned,
                    "value": t.detach().clone(), "requires_grad": bool(t.requires_grad),
                    "grad": None if g is None else g.detach().clone(),
                })  # fmt: skip
        return changed

    def _grad_outputs(self, result) -> list:
        """The tensors of a call's result, in the order the grader will decode them."""
        found = self._all_tensors(result)
        return found if any(t.requires_grad for t in found) else []

    def _all_tensors(self, result) -> list:
        torch = self.torch
        found = []

        def walk(v):
            if isinstance(v, torch.Tensor):
                found.append(v)
            elif isinstance(v, list | tuple):
                for x in v:
                    walk(x)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)

        walk(result)
        return found

    def _target(self, req: wire.Call):
        target = req.target
        if isinstance(target, str):
            if target not in self.ns:
                raise NameError(f"name {target!r} is not defined")
            return self.ns[target]
        return self._object(int(target))

    def op_call(self, req: wire.Call, buffers):
        func = self._target(req)
        args, kwargs = self._arguments(req, buffers)
        return self._run(req, func, args, kwargs)

    def op_lib(self, req: wire.Lib, buffers):
        module = req.module
        if not module.startswith("course."):
            raise PermissionError(f"not a course module: {module}")
        func = getattr(importlib.import_module(module), req.name)
        if not getattr(func, "__course_beside_student__", False):
            raise PermissionError(f"{module}.{req.name} is not marked runs_beside_student")
        args, kwargs = self._arguments(req, buffers)
        return self._run(req, func.__wrapped__, args, kwargs)

    def _object(self, oid):
        if oid not in self.objects:
            raise self.wire.WireError(f"no object {oid}")
        return self.objects[oid]

    def _obj(self, req: wire.OnObject):
        return self._object(req.ref)

    def op_getattr(self, req: wire.GetAttr, _buffers):
        value, buffers = self.encode(getattr(self._obj(req), req.name), tensors_by_value=False)
        return {"value": value}, buffers

    def op_setattr(self, req: wire.SetAttr, buffers):
        value = self.decode(req.value, buffers)
        with self.torch.no_grad() if req.no_grad else _nothing():
            setattr(self._obj(req), req.name, value)
        return {}, []

    def op_getitem(self, req: wire.GetItem, buffers):
        key = self.decode(req.key, buffers)
        value, out = self.encode(self._obj(req)[key], tensors_by_value=False)
        return {"value": value}, out

    def op_setitem(self, req: wire.SetItem, buffers):
        key = self.decode(req.key, buffers)
        value = self.decode(req.value, buffers)
        with self.torch.set_grad_enabled(bool(req.grad)):
            self._obj(req)[key] = value
        return {}, []

    def op_iter(self, req: wire.Iter, _buffers):
        items = []
        for item in self._obj(req):
            items.append(item)
            if len(items) > 100_000:
                raise OverflowError("more than 100,000 items")
        value, buffers = self.encode(items, tensors_by_value=False)
        return {"value": value}, buffers

    def op_len(self, req: wire.Len, _buffers):
        return {"value": int(len(self._obj(req)))}, []

    def op_isinstance(self, req: wire.IsInstance, _buffers):
        return {"value": bool(isinstance(self._object(req.obj), self._obj(req)))}, []

    def op_repr(self, req: wire.Repr, _buffers):
        return {"value": repr(self._obj(req))[:2000]}, []

    def op_value(self, req: wire.Value, _buffers):
        value, buffers = self.encode(self._obj(req), tensors_by_value=True)
        return {"value": value}, buffers

    def op_backward(self, req: wire.Backward, buffers):
        torch = self.torch
        outputs, leaves = self.links[int(req.link)]
        grads = self.decode(req.grads, buffers)
        pairs = [(o, g) for o, g in zip(outputs, grads, strict=True) if g is not None]
        pairs = [(o, g) for o, g in pairs if o.requires_grad]
        for leaf in leaves:
            leaf.grad = None
        if pairs:
            torch.autograd.backward(
                [o for o, _ in pairs], [g.to(o.dtype) for o, g in pairs], retain_graph=True
            )
        out = [leaf.grad for leaf in leaves]
        for leaf in leaves:
            leaf.grad = None
        value, out_buffers = self.encode(out, tensors_by_value=True)
        return {"value": value}, out_buffers


# what answers each kind of request (course.grading.wire.REQUESTS)
HANDLERS: dict[type[wire.Request], Callable[[Server, Any, list], tuple[dict, list]]] = {
    wire.Exec: Server.op_exec,
    wire.Names: Server.op_names,
    wire.Call: Server.op_call,
    wire.Lib: Server.op_lib,
    wire.GetAttr: Server.op_getattr,
    wire.SetAttr: Server.op_setattr,
    wire.GetItem: Server.op_getitem,
    wire.SetItem: Server.op_setitem,
    wire.Iter: Server.op_iter,
    wire.Len: Server.op_len,
    wire.Repr: Server.op_repr,
    wire.Value: Server.op_value,
    wire.IsInstance: Server.op_isinstance,
    wire.Backward: Server.op_backward,
}


class _ReplyEncoder(wire.Encoder):
    """The student's values for the grader: tensors by value (a subclass as a plain copy) or,
    ``tensors_by_value=False``, as references; dict subclasses as dicts; any other object
    that is not plain data as a reference (``describe``)."""

    def __init__(self, describe: Callable[[object], dict], tensors_by_value: bool):
        super().__init__(ref=describe)
        self.describe = describe
        self.by_value = tensors_by_value

    def encode(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, torch.Tensor):
            if not self.by_value:
                return {"$": "ref", **self.describe(value)}
            if type(value) not in (torch.Tensor, torch.nn.Parameter):
                value = torch.Tensor._make_subclass(
                    torch.Tensor, value.detach(), value.requires_grad
                )
        elif isinstance(value, dict) and type(value) is not dict:
            value = dict(value)
        return super().encode(value, depth)


def _param_name(func, path) -> str:
    """The name of the parameter a tensor at ``path`` (in ``[args, kwargs]``) was passed as."""
    import inspect

    try:
        if path[0] == 1:
            return str(path[1])
        params = [
            p for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]  # fmt: skip
        return params[path[1]].name if path[1] < len(params) else f"argument {path[1] + 1}"
    except (TypeError, ValueError, IndexError):
        return ""


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fd_in, fd_out = int(argv[0]), int(argv[1])
    os.set_inheritable(fd_in, False)
    os.set_inheritable(fd_out, False)
    server = Server(fd_in, fd_out)
    # started with -P: the handed-in folder goes last, after the server's own modules loaded
    sys.path.append(os.getcwd())
    server.wire.write_frame(fd_out, {"ok": True, "ready": True})
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
