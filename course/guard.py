"""Tamper checks inside the grading kernel: a drop-in replacement for nbgrader's ``Execute``.

The tests that grade a notebook live in locked cells, but the student's code runs earlier in the
same Python process, so it can replace what the tests rely on (``torch.allclose``,
``course.checks.check_close``, ``builtins.AssertionError``, IPython's exception display, ...).
:class:`GuardedExecute` runs the notebook as nbgrader's ``Execute`` does, and additionally

1. installs a guard in the kernel before the first cell: it snapshots ``builtins``, ``torch``,
   ``torch.testing``, ``torch.nn(.functional)``, ``torch.Tensor``, ``numpy``, ``numpy.testing``,
   ``math``, ``course.checks``, the relevant ``sys`` hooks, the SIGINT handler, and the IPython
   shell/kernel machinery (class dictionaries, instance overrides, AST/input transformers, event
   callbacks, custom exception handlers);
2. before each test cell verifies all of it by identity and restores whatever changed (flag
   ``tamper``), including names a locked cell bound in the user namespace (``check_close`` ...);
3. arms an IPython AST transformer with a fresh random token before each test cell: it appends
   a completion call to that cell's code (the text stays the original, and a final expression
   stays the cell's value); a test that shows no error but never reached its end had its
   exception swallowed (flag, 0 points);
4. checks again after each test cell: a change made *while the test ran* (the student's function
   patched something when called) voids that test (flag, 0 points);
5. survives the kernel: a dead kernel (``os._exit``, a segfault, the memory limit) or a kernel
   that stays busy after a timed-out cell scores the rest of the tests 0 with the reason, and
   keeps the points already earned;
6. kills every process the kernel left behind before nbgrader writes anything, then writes a
   JSON report (``COURSE_GUARD_REPORT``) that ``course grade`` reads.

Every check runs inside the student's process, so a determined student who reads this file can
still defeat it; what it buys is that the obvious cheats fail and the rest are *detected* and sent
to a human. ``course grade`` adds a static scan of the answer cells (outside the kernel) on top.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import secrets

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import Execute
from traitlets import Integer

REPORT_ENV = "COURSE_GUARD_REPORT"
MINIMAL_TRACEBACKS = "--InteractiveShell.xmode=Minimal"
MARK = "<<course-guard "

# Source executed in the kernel once, before any notebook cell. ``__cg_install`` builds the guard
# as a closure (its snapshots are local variables, not attributes a student can list) and binds
# it in the user namespace under a random name, hidden from %who.
KERNEL_GUARD = r"""
def __cg_install(name, out_mark):
    import builtins, math, signal, sys
    import numpy, numpy.testing
    import torch, torch.nn, torch.nn.functional, torch.testing
    try:
        import course.checks as checks
    except Exception:  # noqa: BLE001 - a course without the package still gets the rest
        checks = None
    ip = get_ipython()
    import ast as _ast

    armed = []  # the completion token for the next cell, set by op "pre"

    class _Completion(_ast.NodeTransformer):
        # Appends guard("done", token) to the armed cell; a final expression stays the cell
        # value (guard returns it: nbgrader reads a number there as partial credit). Works on
        # the AST, so the text of the cell, and any copy the code makes of it, is unchanged.

        def visit_Module(self, node):
            if not armed:
                return node
            token = armed.pop()
            args = [_ast.Constant("done"), _ast.Constant(token)]
            last = node.body[-1] if node.body else None
            if isinstance(last, _ast.Expr):
                args.append(last.value)
                node.body[-1] = _ast.Expr(_ast.Call(_ast.Name(name, _ast.Load()), args, []))
            else:
                node.body.append(_ast.Expr(_ast.Call(_ast.Name(name, _ast.Load()), args, [])))
            return _ast.fix_missing_locations(node)

    ip.ast_transformers.append(_Completion())
    kernel = getattr(ip, "kernel", None)
    _id, _vars, _dict, _list, _set = id, vars, dict, list, set
    _setattr, _delattr, _getattr, _isinstance, _callable = setattr, delattr, getattr, isinstance, callable
    _repr, _sorted, _len, _type = repr, sorted, len, type
    _ModuleType = _type(sys)
    _gettrace, _settrace, _getprofile, _setprofile = sys.gettrace, sys.settrace, sys.getprofile, sys.setprofile
    _getsignal, _signal, _SIGINT = signal.getsignal, signal.signal, signal.SIGINT
    stdout = sys.stdout
    missing = object()
    # names IPython itself rebinds between cells
    volatile = {"_", "__", "___", "_i", "_ii", "_iii", "_oh", "_ih", "_dh", "Out", "In", "exit", "quit",
                "get_ipython", "display", "__IPYTHON__", "_exit_code", "__builtins__", "__name__",
                "__doc__", "__spec__", "__loader__", "__package__", "input", "raw_input"}
    spaces = []  # (label, object, snapshot of its __dict__, is_class)

    def watch(label, obj, is_class=False):
        spaces.append((label, obj, _dict(_vars(obj)), is_class))

    for label, mod in [("builtins", builtins), ("torch", torch), ("torch.testing", torch.testing),
                       ("torch.nn", torch.nn), ("torch.nn.functional", torch.nn.functional),
                       ("numpy", numpy), ("numpy.testing", numpy.testing), ("math", math),
                       ("signal", signal)]:
        watch(label, mod)
    if checks is not None:
        watch("course.checks", checks)
    classes = [torch.Tensor, torch._C.TensorBase, torch.nn.Module]
    for obj in [ip, kernel, stdout, getattr(ip, "displayhook", None), getattr(ip, "display_pub", None)]:
        if obj is None:
            continue
        for cls in _type(obj).__mro__:
            if _getattr(cls, "__module__", "").split(".")[0] in ("IPython", "ipykernel", "traitlets") and cls not in classes:
                classes.append(cls)
    for cls in classes:
        watch(cls.__module__ + "." + cls.__qualname__, cls, True)
    sys_names = ["displayhook", "stdout", "stderr", "breakpointhook", "unraisablehook"]
    sys_snap = {k: _getattr(sys, k, missing) for k in sys_names}
    sigint = _getsignal(_SIGINT)
    instances = [("shell", ip, _set(_vars(ip)))] + ([("kernel", kernel, _set(_vars(kernel)))] if kernel is not None else [])
    list_attrs = [(ip, "ast_transformers"), (ip, "input_transformers_cleanup"), (ip, "input_transformers_post")]
    itm = _getattr(ip, "input_transformer_manager", None)
    if itm is not None:
        list_attrs += [(itm, "cleanup_transforms"), (itm, "line_transforms"), (itm, "token_transformers")]
    list_snap = [(o, a, _list(_getattr(o, a))) for o, a in list_attrs if _isinstance(_getattr(o, a, None), list)]
    events = {k: _list(v) for k, v in ip.events.callbacks.items()}
    custom = (ip.custom_exceptions, ip.CustomTB)
    handlers = _dict(kernel.shell_handlers) if kernel is not None and _isinstance(_getattr(kernel, "shell_handlers", None), dict) else None
    canonical = {"torch": torch, "np": numpy, "numpy": numpy, "nn": torch.nn, "F": torch.nn.functional, "math": math}
    helpers = {}
    if checks is not None:
        helpers["checks"] = checks
        for n in _getattr(checks, "__all__", []):
            helpers[n] = _getattr(checks, n)
    ns = ip.user_ns
    seen_canonical = _set()
    protected = {}  # user-namespace names bound by locked cells -> object
    before = {}
    done = _set()

    import os.path as _osp
    import sysconfig

    _realpath, _sep = _osp.realpath, _osp.sep
    libs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    if checks is not None:
        libs.add(_osp.dirname(checks.__file__))
    libs = tuple(_realpath(d) + _sep for d in libs)

    def from_library(fn):
        # Defined in an installed package (torch, matplotlib, ...) or the course's own, not in
        # the notebook or a file handed in with it.
        try:
            fn = _getattr(fn, "__func__", fn)
            code = _getattr(fn, "__code__", None)
            return code is not None and _realpath(code.co_filename).startswith(libs)
        except Exception:  # noqa: BLE001
            return False

    def library_wrapper(new, old):
        # torch wraps some of its functions the first time torch._dynamo loads (an optimizer
        # does that): a wrapper of the original, made by a library, is the new baseline.
        try:
            return _getattr(new, "__wrapped__", None) is old and from_library(new)
        except Exception:  # noqa: BLE001
            return False

    def verify():
        problems = []
        for label, obj, snap, is_class in spaces:
            cur = _vars(obj)
            for k, v in _list(snap.items()):
                now = cur.get(k, missing)
                if now is not v and now is not missing and library_wrapper(now, v):
                    snap[k] = now
                elif now is not v and not (label == "builtins" and k in volatile):
                    problems.append(label + "." + k + (" deleted" if now is missing else " replaced"))
                    try:
                        _setattr(obj, k, v)
                    except Exception:  # noqa: BLE001
                        problems.append("could not restore " + label + "." + k)
            if is_class:
                for k in _list(cur):
                    if k not in snap:
                        problems.append(label + "." + k + " added")
                        try:
                            _delattr(obj, k)
                        except Exception:  # noqa: BLE001
                            problems.append("could not remove " + label + "." + k)
        for k, v in sys_snap.items():
            if _getattr(sys, k, missing) is not v:
                problems.append("sys." + k + " replaced")
                _setattr(sys, k, v)
        if _gettrace() is not None:
            problems.append("sys.settrace active")
            _settrace(None)
        if _getprofile() is not None:
            problems.append("sys.setprofile active")
            _setprofile(None)
        if _getsignal(_SIGINT) is not sigint:
            problems.append("SIGINT handler replaced")
            _signal(_SIGINT, sigint)
        for label, obj, keys in instances:
            cls_dict = _dict()
            for cls in _type(obj).__mro__:
                for k in _vars(cls):
                    cls_dict.setdefault(k, True)
            for k in _list(_vars(obj)):
                if k not in keys and k in cls_dict:
                    problems.append(label + "." + k + " overridden on the instance")
                    _delattr(obj, k)
        for o, a, snap in list_snap:
            if _getattr(o, a) != snap:
                problems.append(_type(o).__name__ + "." + a + " changed")
                _setattr(o, a, _list(snap))
        cur_events = ip.events.callbacks
        for k in _list(cur_events):
            now, was = cur_events[k], events.get(k, [])
            if now == was:
                continue
            added = now[_len(was) :]
            if now[: _len(was)] == was and all(from_library(f) for f in added):
                events[k] = _list(now)  # e.g. matplotlib's inline backend flushing figures
            else:
                problems.append("IPython event callbacks for " + k + " changed")
                now[:] = was
        if (ip.custom_exceptions, ip.CustomTB) != custom:
            problems.append("IPython custom exception handler installed")
            ip.custom_exceptions, ip.CustomTB = custom
        if handlers is not None and kernel.shell_handlers != handlers:
            problems.append("kernel message handlers changed")
            kernel.shell_handlers.clear()
            kernel.shell_handlers.update(handlers)
        for n, obj in helpers.items():
            if n in ns and ns[n] is not obj:
                problems.append("course.checks name " + n + " rebound in the notebook")
                ns[n] = obj
        for n, obj in canonical.items():
            cur = ns.get(n, missing)
            if cur is obj:
                seen_canonical.add(n)
            elif n in seen_canonical and cur is not missing:
                problems.append(n + " rebound in the notebook")
                ns[n] = obj
        for n, obj in protected.items():
            if ns.get(n, missing) is not obj:
                problems.append(n + " (defined by a locked cell) rebound")
                ns[n] = obj
        return problems

    def report(nonce, payload):
        stdout.write(out_mark + nonce + " " + _repr(payload) + ">>\n")
        stdout.flush()

    def guard(op, nonce, *value):
        if op == "done":
            done.add(nonce)
            return value[0] if value else None
        if op == "before_locked":
            before.clear()
            before.update({k: _id(v) for k, v in ns.items()})
            report(nonce, [])
            return None
        problems = verify()
        if op == "after_locked":
            for k, v in _list(ns.items()):
                if k.startswith("_") or k in volatile:
                    continue
                if before.get(k) != _id(v) and (_callable(v) or _isinstance(v, _ModuleType)):
                    protected[k] = v
        completed = None
        if op == "pre":
            armed[:] = [value[0]]
        elif op == "post":
            armed.clear()  # a cell that did not compile never consumed it
            completed = value[0] in done
        report(nonce, [problems, completed])
        return None

    ns[name] = guard
    ip.user_ns_hidden[name] = guard
    verify()  # records the names already bound to the canonical modules


"""


def _write_new(path: str, text: str) -> None:
    """Write ``text`` to a new file at ``path`` (never through a link planted there)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _parse(cell, nonce: str):
    """The payload the kernel guard printed for ``nonce`` (None when it did not answer)."""
    prefix = MARK + nonce + " "
    for out in cell.get("outputs", []):
        if out.get("output_type") != "stream":
            continue
        for line in out.get("text", "").splitlines():
            if line.startswith(prefix) and line.endswith(">>"):
                try:
                    return ast.literal_eval(line[len(prefix) : -2])
                except (ValueError, SyntaxError):
                    return None
    return None


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def _is_locked_code(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("locked")) and not m.get("grade")


class GuardedExecute(Execute):
    """nbgrader's ``Execute`` with the tamper guard (see the module docstring).

    Enable it in ``nbgrader_config.py`` (``course grade`` writes this into its per-student
    course folders)::

        c.Autograde.autograde_preprocessors = ["course.guard.GuardedExecute", ...]
    """

    guard_timeout = Integer(20, help="seconds for one guard call; a slower kernel is stuck").tag(
        config=True
    )
    memory_mb = Integer(
        None,
        allow_none=True,
        help="MB of address space the kernel may add after start-up (None: no cap); an "
        "allocation beyond raises MemoryError in the cell that made it",
    ).tag(config=True)

    last_report: dict | None = None  # the report of the latest run in this process

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        from course.sandbox import _become_subreaper, kill_descendants

        report_path = os.environ.pop(REPORT_ENV, None)  # the kernel does not see where it goes
        self.report = {"tamper": [], "cells": {}, "kernel": None, "notes": []}
        type(self).last_report = self.report
        _become_subreaper()  # processes the kernel leaves behind stay ours, to be killed below
        if MINIMAL_TRACEBACKS not in self.extra_arguments:
            # tracebacks would echo the lines of hidden tests into the feedback
            self.extra_arguments = [*self.extra_arguments, MINIMAL_TRACEBACKS]
        NotebookClient.__init__(self, nb, km)
        self.shutdown_kernel = "immediate"  # no grace: every process of it is killed anyway
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._name = "_cg_" + secrets.token_hex(8)
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                if self.nb.cells:
                    self._install()
                self._cap_memory()
                dead = None
                for index, cell in enumerate(self.nb.cells):
                    if dead is not None:
                        if _is_test(cell):
                            cell.outputs = [_error("KernelDied", f"not run: {dead}")]
                        continue
                    try:
                        dead = self._run(cell, resources, index)
                    except (DeadKernelError, CellTimeoutError) as exc:
                        dead = self._died(cell, index, exc)
        except DeadKernelError:  # died during shutdown: nothing left to grade
            pass
        finally:
            left = kill_descendants(os.getpid())
            if left:
                self.report["tamper"].append(
                    f"{left} process(es) started by the notebook were still running; killed"
                )
            self._remove_links(resources)
            if report_path:
                _write_new(report_path, json.dumps(self.report, indent=1))
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _remove_links(self, resources) -> None:
        """Symbolic links the notebook left where nbgrader is about to write (nbgrader would
        write the autograded notebook through them, onto any file of this user)."""
        folder = ((resources or {}).get("metadata") or {}).get("path")
        if not folder or not os.path.isdir(folder):
            return
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = os.path.join(root, name)
                if os.path.islink(path):
                    os.unlink(path)
                    rel = os.path.relpath(path, folder)
                    self.report["tamper"].append(
                        f"symbolic link {rel} left by the notebook removed"
                    )

    # ----------------------------------------------------------------------------- helpers
    def _died(self, cell, index: int, exc: Exception) -> str:
        gid = _meta(cell).get("grade_id") or f"cell {index + 1}"
        if isinstance(exc, DeadKernelError):
            why = f"the kernel died while running {gid} (os._exit, a crash, or the memory limit)"
        else:
            why = f"the kernel stopped answering while running {gid} (it ignored the interrupt)"
        self.report["kernel"] = why
        cell.outputs = list(cell.get("outputs", [])) + [_error("KernelDied", why)]
        return why

    def _hidden(self, source: str, index: int, timeout: int | None = None):
        """Execute ``source`` in the kernel without touching the notebook; returns the cell."""
        tmp = new_code_cell(source)
        saved_cell, saved_timeout = self.nb.cells[index], self.timeout
        if timeout is not None:
            self.timeout = timeout
        try:
            self.execute_cell(tmp, index, store_history=False)
        finally:
            # nbclient stores the executed cell at nb.cells[index]: put the real one back
            self.nb.cells[index], self.timeout = saved_cell, saved_timeout
        return tmp

    def _call(self, op: str, index: int, *args: str):
        """Run one guard operation in the kernel; returns its payload or None."""
        nonce = secrets.token_hex(8)
        call = ", ".join(repr(a) for a in (op, nonce, *args))
        tmp = self._hidden(f"{self._name}({call})", index, self.guard_timeout)
        return _parse(tmp, nonce)

    def _install(self) -> None:
        # no student code has run yet: importing torch may take its time on a busy machine
        tmp = self._hidden(
            KERNEL_GUARD + f"__cg_install({self._name!r}, {MARK!r})\ndel __cg_install\n",
            0,
            max(self.timeout or 0, 120),
        )
        errors = [o for o in tmp.outputs if o.get("output_type") == "error"]
        if errors:
            self.report["tamper"].append(
                "guard could not be installed: " + f"{errors[0].ename}: {errors[0].evalue}"
            )
            self._name = None

    def _cap_memory(self) -> None:
        """Cap the kernel's address space at its present size + ``memory_mb`` (soft and hard
        limit alike, so the student's code cannot raise it again). Runs after the guard has
        imported torch, whose mappings are most of that present size."""
        if not self.memory_mb:
            return
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                vm = next(int(ln.split()[1]) for ln in fh if ln.startswith("VmSize:"))
            cap = vm * 1024 + self.memory_mb * 2**20
            resource.prlimit(pid, resource.RLIMIT_AS, (cap, cap))
        except (OSError, TypeError, ValueError, StopIteration) as exc:
            self.report["notes"].append(f"memory cap not applied to the kernel ({exc})")
            return
        self.report["memory_cap_mb"] = round(cap / 2**20)

    def _timed_out(self, cell) -> bool:
        return any(
            o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
            for o in cell.get("outputs", [])
        )

    def _note(self, gid: str, msg: str) -> None:
        self.report["cells"].setdefault(gid, []).append(msg)

    def _run(self, cell, resources, index: int) -> str | None:
        """Execute one cell with the guard around it; returns a reason when the kernel is lost."""
        if cell.cell_type != "code" or not cell.source.strip() or self._name is None:
            self.preprocess_cell(cell, resources, index)
            return self._after_timeout(cell) if self._timed_out(cell) else None
        gid = _meta(cell).get("grade_id") or f"cell {index + 1}"
        if _is_test(cell):
            token = secrets.token_hex(8)
            pre = self._call("pre", index, token)
            if pre is None:
                self._note(gid, "guard did not answer before the test")
                self.report["tamper"].append(f"{gid}: guard did not answer before the test")
            elif pre[0]:
                self.report["tamper"].append(f"before {gid}: " + "; ".join(pre[0]))
            self.preprocess_cell(cell, resources, index)
            if self._timed_out(cell):
                return self._after_timeout(cell)
            post = self._call("post", index, token)
            failed = any(o.get("output_type") == "error" for o in cell.outputs)
            void = None
            if post is None:
                void = "the grading guard did not answer after this test"
            elif post[0]:
                void = "changed while the test ran: " + "; ".join(post[0])
            elif not post[1] and not failed:
                void = "the test did not run to its end but shows no error (exception swallowed)"
            if void:
                self._note(gid, void)
                self.report["tamper"].append(f"{gid}: {void}")
                if not failed:
                    cell.outputs.append(_error("GradingIntegrityError", void))
            return None
        locked = _is_locked_code(cell)
        if locked:
            self._call("before_locked", index)
        self.preprocess_cell(cell, resources, index)
        if self._timed_out(cell):
            return self._after_timeout(cell)
        if not _meta(cell).get("solution"):
            res = self._call("after_locked" if locked else "observe", index)
            if res and res[0]:
                self.report["tamper"].append(f"after {gid}: " + "; ".join(res[0]))
        return None

    def _after_timeout(self, cell) -> str | None:
        """After a timed-out cell: is the kernel back (the interrupt worked) or still stuck?"""
        nonce = secrets.token_hex(8)
        ping = self._hidden(f"print({MARK + nonce!r})", 0, self.guard_timeout)
        text = "".join(o.get("text", "") for o in ping.outputs if o.get("output_type") == "stream")
        if MARK + nonce in text:
            return None
        why = "the kernel stayed busy after a cell timed out (it ignored the interrupt)"
        self.report["kernel"] = why
        return why
