"""How-constraints of exercises, checked in the grader on the student's source.

Some exercises constrain *how* the answer computes, not only what it returns: "by hand" (no
autograd), "no convolution routine", "no Python loop", or tests that read what the student's
process reports about itself (lesson 02's forward trace). A check that runs next to the
student's code (:func:`course.checks.no_autograd`, :func:`course.checks.count_torch_calls`,
hooks) can be hidden by that code. So the grader, which holds the student's source, decides:

* :data:`CONSTRAINTS` is the one table: ``(lesson, exercise) -> rule``. Every test cell of the
  exercise (grade id ``<exercise>__...``) is subject to it; a new constrained exercise only
  needs an entry here (and its line in docs/CURRICULUM.md);
* :func:`analyse` reads the student's cells as data (``ast``, never run): the answer function
  and **everything it can reach** — the student's functions, classes and module-level
  assignments it names, transitively, and the modules they import. A forbidden use in there
  (``torch.autograd``, ``.backward``, ``torch.func``, ``F.conv2d``, ``nn.Conv2d``, a ``for``
  loop, a comprehension, ``map``...) is **enforced**: the exercise's tests earn 0, with the
  reason;
* what makes the reach unknowable — ``exec``/``eval``/``compile``, ``getattr`` with a name
  that is not a literal, ``__import__``/``importlib``, ``globals()``/``vars()``, dunder
  attributes, IPython magics, a module of the submission's own, replacing a library's
  attribute (``torch.Tensor.__matmul__ = ...``, ``F.conv2d = ...``) anywhere in the
  student's cells — cannot be verified: the exercise's tests earn 0 and the submission is
  **flagged for manual review** with what was seen (never credited silently).

The analysis is conservative: honest answers to these exercises use none of it (the reference
solutions are clean, tests/test_constraints.py), and an instructor can restore points after
review.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- the table
BY_HAND = "by_hand"
NO_CONV = "no_conv"
NO_NORM = "no_norm"
NO_LOOP = "no_loop"
UNTAMPERED = "untampered"  # tests that read hooks/traces in the student's process

RULES = {
    BY_HAND: "must be computed by hand with the chain rule: no autograd, no torch.func",
    NO_CONV: "must be written as a matrix product: no convolution routine or layer",
    NO_NORM: "must normalise by hand: no normalisation routine or layer of PyTorch",
    NO_LOOP: "must be vectorised: no Python loop (for, while, comprehension, map, recursion)",
    UNTAMPERED: "is checked by tracing your model's forward pass, which needs a notebook that "
    "does not replace library functions or run code built at run time",
}

CONSTRAINTS: dict[tuple[str, str], str] = {
    ("01_residual_block", "residual_block_backward"): BY_HAND,
    ("01_residual_block", "batchnorm_forward"): NO_NORM,
    ("01_residual_block", "batchnorm_backward"): BY_HAND,
    ("07_highway_densenet", "skip_net_updates"): BY_HAND,
    ("03_one_by_one_convolutions", "conv1x1"): NO_CONV,
    ("05_resnet34_cifar10", "random_crop_flip"): NO_LOOP,
    ("02_plain_vs_residual", "cifar_net"): UNTAMPERED,
}


def rule_of(lesson: str, exercise: str) -> str | None:
    return CONSTRAINTS.get((lesson, exercise))


# --------------------------------------------------------------------------- what is forbidden
_AUTOGRAD_NAMES = {
    "autograd", "backward", "grad", "grad_fn", "func", "functorch", "vjp", "jvp", "jacrev",
    "jacfwd", "jacobian", "hessian", "vmap", "enable_grad", "set_grad_enabled",
    "register_hook", "retain_grad", "_C", "_functorch",
}  # fmt: skip
_AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch", "torch._functorch", "torch._C")
_CONV_RE = re.compile(r"conv|correlat", re.IGNORECASE)
_CONV_MODULES = ("torch.nn.modules.conv", "scipy.signal", "scipy.ndimage")
_NORM_RE = re.compile(r"(batch|layer|group|instance|local_response)_?norm|normaliz", re.IGNORECASE)
_NORM_MODULES = ("torch.nn.modules.batchnorm", "torch.nn.modules.normalization")
_LOOP_CALLS = {
    "map", "filter", "reduce", "accumulate", "starmap", "vectorize", "apply_along_axis",
    "frompyfunc", "apply_", "map_", "map2_", "iter", "next",
}  # fmt: skip
_LOOP_MODULES = ("itertools",)

# tools that make what runs unknowable from the source
_DYNAMIC_CALLS = {
    "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "get_ipython",
    "delattr", "breakpoint",
}  # fmt: skip
_DANGEROUS_MODULES = {
    "importlib", "ctypes", "cffi", "builtins", "inspect", "gc", "types", "code", "codeop",
    "runpy", "pickle", "marshal", "dis", "subprocess", "multiprocessing", "threading",
    "signal", "operator", "sys", "IPython", "ipykernel", "dill", "cloudpickle", "torch.overrides",
    "torch.utils._python_dispatch", "torch.library", "torch.ops", "torch._dynamo",
    "torch.compiler", "linecache", "traceback", "weakref", "copyreg", "shutil", "tempfile",
}  # fmt: skip
_DANGEROUS_ATTRS = {
    "__torch_function__", "__torch_dispatch__", "TorchFunctionMode", "TorchDispatchMode",
    "ops", "library", "_dynamo", "compile", "setattr", "getattr", "modules", "_getframe",
    "settrace", "setprofile", "import_module", "attrgetter", "methodcaller", "system",
    "popen", "exec", "eval",
}  # fmt: skip
# methods through which an object answers questions about itself (what hooks see, which
# modules and parameters it has, what it is an instance of): overriding them in a class of
# the student's makes an in-sandbox trace or description the student's word
_SELF_DESCRIPTION = {
    "__getattribute__", "__getattr__", "__setattr__", "__delattr__", "__instancecheck__",
    "__subclasscheck__", "__torch_function__", "__torch_dispatch__", "__call__", "_call_impl",
    "_wrapped_call_impl", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "named_modules", "modules", "children", "named_children",
    "parameters", "named_parameters", "buffers", "named_buffers", "state_dict", "__dir__",
    "_apply", "__class_getitem__", "__init_subclass__", "__new__",
}  # fmt: skip
_ALLOWED_DUNDERS = {"__init__", "__name__", "__class__", "__len__", "__call__", "__doc__"}
_KNOWN_TOP = {
    "torch", "torchvision", "numpy", "matplotlib", "course", "PIL", "tqdm", "scipy",
    "pandas", "math", "random", "collections", "itertools", "functools", "typing", "dataclasses",
    "time", "os", "pathlib", "json", "statistics", "string", "re", "copy", "warnings", "abc",
    "enum", "fractions", "decimal", "numbers", "textwrap", "pprint", "contextlib", "datetime",
    "hashlib", "heapq", "bisect", "array", "csv", "io", "operator", "sys", "importlib",
    "IPython",
}  # fmt: skip


@dataclass
class Verdict:
    """What :func:`analyse` found: ``forbidden`` (enforced: 0 points) and ``unverifiable``
    (0 points and a flag for review), each a list of ``"what (cell N, line L)"``."""

    rule: str
    forbidden: list[str] = field(default_factory=list)
    unverifiable: list[str] = field(default_factory=list)
    missing: bool = False  # the exercise's function is not defined in the student's cells

    @property
    def clean(self) -> bool:
        return not (self.forbidden or self.unverifiable)

    def message(self, exercise: str) -> str:
        """The one-line reason a student reads (empty when clean)."""
        rule = RULES[self.rule]
        if self.forbidden:
            seen = "; ".join(self.forbidden[:3])
            return f"{exercise} {rule}. Your code uses {seen}: 0 points for this exercise."
        if self.unverifiable:
            seen = "; ".join(self.unverifiable[:3])
            return (
                f"{exercise} {rule}, and your code uses what the grader cannot check ({seen}): "
                "0 points until an instructor has reviewed it."
            )
        return ""

    def flag(self, exercise: str) -> str:
        """The line for the instructor's review list (empty unless unverifiable)."""
        if not self.unverifiable or self.forbidden:
            return ""
        seen = "; ".join(self.unverifiable[:5])
        return f"{exercise}: rule '{self.rule}' not verifiable, points withheld: {seen}"


# --------------------------------------------------------------------------- reading the cells
def to_python(source: str) -> str:
    """A cell's text as the Python IPython runs (magics become ``get_ipython()`` calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - unparsable text: analysed as is (and fails to parse)
        return source


@dataclass
class _Cell:
    number: int  # 1-based position among the cells analysed (for messages)
    tree: ast.Module
    editable: bool


def _parse(cells: list[tuple[str, bool]]) -> list[_Cell]:
    out = []
    for i, (source, editable) in enumerate(cells, 1):
        try:
            tree = ast.parse(to_python(source))
        except (SyntaxError, ValueError, RecursionError):
            continue  # it could not run either: it defines nothing
        out.append(_Cell(i, tree, editable))
    return out


def _module_of(node: ast.AST, alias: ast.alias) -> str:
    if isinstance(node, ast.ImportFrom):
        return f"{'.' * node.level}{node.module or ''}.{alias.name}".lstrip(".")
    return alias.name


def _bindings(cells: list[_Cell]) -> dict[str, list[tuple[_Cell, ast.AST]]]:
    """Module-level name -> the statements that bind it (every cell, in order)."""
    found: dict[str, list] = {}

    def bind(name, cell, node):
        found.setdefault(name, []).append((cell, node))

    def visit(stmts, cell):
        for st in stmts:
            if isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bind(st.name, cell, st)
                continue
            for node in ast.walk(st):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                    bind(node.id, cell, st)
                elif isinstance(node, ast.alias):
                    bind((node.asname or node.name).split(".")[0], cell, st)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    bind(node.name, cell, node)
                elif isinstance(node, ast.Global | ast.Nonlocal):
                    for name in node.names:
                        bind(name, cell, st)

    for cell in cells:
        visit(cell.tree.body, cell)
    return found


def _globals_written(cells: list[_Cell]) -> dict[str, list]:
    """Names a function writes with ``global`` (its whole body binds them)."""
    found: dict[str, list] = {}
    for cell in cells:
        for node in ast.walk(cell.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Global):
                        for name in inner.names:
                            found.setdefault(name, []).append((cell, node))
    return found


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


# --------------------------------------------------------------------------- the analysis
class _Analysis:
    def __init__(self, cells: list[_Cell], rule: str):
        self.cells, self.rule = cells, rule
        self.bindings = _bindings(cells)
        for name, nodes in _globals_written(cells).items():
            self.bindings.setdefault(name, []).extend(nodes)
        self.imported = {
            name
            for name, nodes in self.bindings.items()
            if any(isinstance(n, ast.Import | ast.ImportFrom) for _, n in nodes)
        }
        self.verdict = Verdict(rule)

    def where(self, cell: _Cell, node: ast.AST) -> str:
        return f"cell {cell.number}, line {getattr(node, 'lineno', '?')}"

    def forbid(self, what: str, cell: _Cell, node: ast.AST) -> None:
        self.verdict.forbidden.append(f"{what} ({self.where(cell, node)})")

    def unknowable(self, what: str, cell: _Cell, node: ast.AST) -> None:
        self.verdict.unverifiable.append(f"{what} ({self.where(cell, node)})")

    # ------------------------------------------------------------------ forbidden uses
    def check_name(self, name: str, cell: _Cell, node: ast.AST, *, attribute: bool) -> None:
        """A name or attribute the reached code uses, against the rule."""
        if self.rule == BY_HAND and name in _AUTOGRAD_NAMES:
            if attribute or name not in ("grad", "func"):
                self.forbid(f"`{name}` (autograd)", cell, node)
        elif self.rule == NO_CONV and attribute and _CONV_RE.search(name):
            self.forbid(f"`{name}` (a convolution routine)", cell, node)
        elif self.rule == NO_NORM and attribute and _NORM_RE.search(name):
            self.forbid(f"`{name}` (a normalisation routine)", cell, node)
        elif self.rule == NO_LOOP and name in _LOOP_CALLS and not attribute:
            self.forbid(f"`{name}` (a loop in disguise)", cell, node)
        elif self.rule == NO_LOOP and attribute and name in ("apply_", "map_", "map2_"):
            self.forbid(f"`{name}` (a per-element Python call)", cell, node)

    def check_module(self, module: str, cell: _Cell, node: ast.AST) -> None:
        """An import the reached code depends on."""
        top = module.split(".")[0]
        if self.rule == BY_HAND and module.startswith(_AUTOGRAD_MODULES):
            self.forbid(f"`{module}` (autograd)", cell, node)
        if self.rule == NO_CONV and (module.startswith(_CONV_MODULES) or _CONV_RE.search(module)):
            self.forbid(f"`{module}` (a convolution routine)", cell, node)
        if self.rule == NO_NORM and (module.startswith(_NORM_MODULES) or _NORM_RE.search(module)):
            self.forbid(f"`{module}` (a normalisation routine)", cell, node)
        if self.rule == NO_LOOP and module.startswith(_LOOP_MODULES):
            self.forbid(f"`{module}` (loops)", cell, node)
        if any(module == m or module.startswith(m + ".") for m in _DANGEROUS_MODULES):
            if module not in ("IPython.display",) and not self.verdict.forbidden:
                self.unknowable(f"import of `{module}`", cell, node)
        elif top not in _KNOWN_TOP and top not in sys.stdlib_module_names:
            self.unknowable(f"import of `{module}` (code the grader does not have)", cell, node)

    def check_node(self, node: ast.AST, cell: _Cell) -> None:
        """One node of reached code: the rule's forbidden uses and the dynamic escapes."""
        if isinstance(node, ast.Attribute):
            self.check_name(node.attr, cell, node, attribute=True)
            if node.attr.startswith("__") and node.attr.endswith("__"):
                if node.attr not in _ALLOWED_DUNDERS or not isinstance(node.ctx, ast.Load):
                    self.unknowable(f"`.{node.attr}`", cell, node)
            elif node.attr in _DANGEROUS_ATTRS:
                self.unknowable(f"`{_dotted(node) or node.attr}`", cell, node)
        elif isinstance(node, ast.Name):
            self.check_name(node.id, cell, node, attribute=False)
            if node.id in _DYNAMIC_CALLS or node.id in ("__builtins__", "setattr"):
                self.unknowable(f"`{node.id}`", cell, node)
            if node.id == "getattr":
                pass  # judged at the call (a literal name is fine)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                module = _module_of(node, alias)
                self.check_module(module, cell, node)
                self.check_name(alias.name.split(".")[-1], cell, node, attribute=True)
        elif isinstance(node, ast.Call):
            self.check_call(node, cell)
        elif self.rule == NO_LOOP and isinstance(
            node, ast.For | ast.AsyncFor | ast.While | ast.comprehension
        ):
            kind = "a comprehension" if isinstance(node, ast.comprehension) else "a loop"
            self.forbid(kind, cell, node.iter if isinstance(node, ast.comprehension) else node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "/proc" in node.value:
                self.unknowable("a path under /proc", cell, node)

    def check_call(self, node: ast.Call, cell: _Cell) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "getattr":
            name = node.args[1] if len(node.args) > 1 else None
            base = node.args[0] if node.args else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                if not (isinstance(base, ast.Name) and base.id == "self"):
                    self.unknowable("`getattr` with a name built at run time", cell, node)
            else:
                self.check_name(name.value, cell, node, attribute=True)
                if name.value.startswith("__") or name.value in _DANGEROUS_ATTRS:
                    self.unknowable(f"`getattr(..., {name.value!r})`", cell, node)

    # ------------------------------------------------------------------ reach
    def reach(self, function: str) -> None:
        """Walk the function and everything it names, transitively (Python's scoping: a name
        local to the function, a comprehension or a lambda is not the module's)."""
        todo = list(self.bindings.get(function, []))
        if not todo:
            self.verdict.missing = True
            return
        seen: set[int] = set()
        while todo:
            cell, top = todo.pop()
            if id(top) in seen:
                continue
            seen.add(id(top))
            for node in ast.walk(top):
                self.check_node(node, cell)
            for name, node in _free_loads(top):
                if self.rule == NO_LOOP and name == getattr(top, "name", None):
                    self.forbid("recursion", cell, node)
                found = self.bindings.get(name, [])
                if not found and _IPYTHON_CACHE.fullmatch(name):
                    self.unknowable(f"`{name}` (IPython's output history)", cell, node)
                for binding in found:
                    b_cell, b_node = binding
                    if isinstance(b_node, ast.Import | ast.ImportFrom):
                        self.check_import_use(name, b_node, cell, node)
                    if id(b_node) not in seen:
                        todo.append(binding)

    def check_import_use(self, name, imp, cell, node) -> None:
        """The reached code uses a name a (possibly the course's) import bound."""
        for alias in imp.names:
            if (alias.asname or alias.name).split(".")[0] != name:
                continue
            module = _module_of(imp, alias)
            if module.startswith("course") and module not in ("course.checks", "course"):
                self.unknowable(f"`{module}` (course code inside the answer)", cell, node)
            elif module.split(".")[0] in _DANGEROUS_MODULES or module in _DANGEROUS_MODULES:
                self.unknowable(f"`{module}`", cell, node)

    def tampering(self) -> None:
        """Anywhere in the student's editable cells: what replaces library code or runs code
        the source does not show."""
        for cell in self.cells:
            if not cell.editable:
                continue
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
                    targets = (
                        node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                    )
                    for target in targets:
                        self.check_target(target, cell)
                elif isinstance(node, ast.Call):
                    func = node.func
                    if isinstance(func, ast.Name) and func.id in _DYNAMIC_CALLS | {"setattr"}:
                        base = node.args[0] if node.args else None
                        if (
                            func.id == "setattr"
                            and isinstance(base, ast.Name)
                            and base.id == "self"
                        ):
                            continue
                        self.unknowable(f"`{func.id}(...)`", cell, node)
                elif isinstance(node, ast.Import | ast.ImportFrom):
                    for alias in node.names:
                        module = _module_of(node, alias)
                        top = module.split(".")[0]
                        if any(module == m or module.startswith(m + ".") for m in
                               ("importlib", "ctypes", "cffi", "builtins", "gc", "inspect",
                                "torch.overrides", "torch.utils._python_dispatch",
                                "torch.library")):  # fmt: skip
                            self.unknowable(f"import of `{module}`", cell, node)
                        elif top not in _KNOWN_TOP and top not in sys.stdlib_module_names:
                            self.unknowable(
                                f"import of `{module}` (code the grader does not have)", cell, node
                            )
                elif isinstance(node, ast.Attribute):
                    if node.attr in ("__dict__", "__globals__", "__code__", "__builtins__",
                                     "__torch_function__", "__torch_dispatch__",
                                     "__class__", "__bases__", "__wrapped__", "modules"):  # fmt: skip
                        if node.attr == "__class__" and isinstance(node.ctx, ast.Load):
                            continue
                        if node.attr == "modules" and _dotted(node) != "sys.modules":
                            continue
                        self.unknowable(f"`{_dotted(node) or node.attr}`", cell, node)
                elif isinstance(node, ast.Name) and node.id in ("get_ipython", "__builtins__"):
                    self.unknowable(f"`{node.id}` (IPython magic or machinery)", cell, node)
                elif isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                            item.name in _SELF_DESCRIPTION
                        ):
                            self.unknowable(
                                f"`{node.name}.{item.name}` (an object that describes itself)",
                                cell, item,
                            )  # fmt: skip

    def check_target(self, target: ast.AST, cell: _Cell) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            for t in target.elts:
                self.check_target(t, cell)
            return
        if not isinstance(target, ast.Attribute | ast.Subscript):
            return
        root = _root(target)
        if isinstance(target, ast.Attribute) and target.attr.startswith("__"):
            self.unknowable(f"assignment to `{_dotted(target) or target.attr}`", cell, target)
        elif isinstance(root, ast.Name) and root.id in self.imported:
            self.unknowable(
                f"a library's attribute replaced (`{_dotted(target) or root.id}`)", cell, target
            )


_IPYTHON_CACHE = re.compile(r"_+|_\d+|_i+\d*|_[oid]h|In|Out|_ii+|_iii")


def _scope_locals(node: ast.AST) -> set[str]:
    """Names local to the scope ``node`` opens (a function, a lambda, a comprehension)."""
    names: set[str] = set()
    declared_global: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is not None:
                names.add(arg.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
    else:  # a comprehension: its targets
        for gen in node.generators:  # type: ignore[attr-defined]
            for t in ast.walk(gen.target):
                if isinstance(t, ast.Name):
                    names.add(t.id)
        return names

    def visit(n):
        for child in ast.iter_child_nodes(n):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(child.name)
                for d in child.decorator_list:
                    visit(d)
                continue
            if isinstance(child, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp
                          | ast.GeneratorExp):  # fmt: skip
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store | ast.Del):
                names.add(child.id)
            elif isinstance(child, ast.alias):
                names.add((child.asname or child.name).split(".")[0])
            elif isinstance(child, ast.ExceptHandler) and child.name:
                names.add(child.name)
            elif isinstance(child, ast.Global):
                declared_global.update(child.names)
            visit(child)

    for st in body:
        if isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(st.name)
        if not isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            visit(st)
    return names - declared_global


def _free_loads(top: ast.AST) -> list[tuple[str, ast.AST]]:
    """``(name, node)`` for every name ``top`` reads from the module's namespace."""
    out: list = []

    def walk(node, scopes):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for d in getattr(node, "decorator_list", []):
                walk(d, scopes)
            for d in [*node.args.defaults, *[k for k in node.args.kw_defaults if k]]:
                walk(d, scopes)
            inner = [*scopes, _scope_locals(node)]
            for child in node.body if isinstance(node.body, list) else [node.body]:
                walk(child, inner)
            return
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            walk(node.generators[0].iter, scopes)
            inner = [*scopes, _scope_locals(node)]
            for i, gen in enumerate(node.generators):
                if i:
                    walk(gen.iter, inner)
                for cond in gen.ifs:
                    walk(cond, inner)
            for part in ("elt", "key", "value"):
                if hasattr(node, part):
                    walk(getattr(node, part), inner)
            return
        if isinstance(node, ast.ClassDef):
            for d in [*node.decorator_list, *node.bases, *[k.value for k in node.keywords]]:
                walk(d, scopes)
            for child in node.body:  # class-level names: read as the module's (conservative)
                walk(child, scopes)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if not any(node.id in s for s in scopes):
                out.append((node.id, node))
            return
        for child in ast.iter_child_nodes(node):  # type: ignore[assignment]
            walk(child, scopes)

    walk(top, [])
    return out


def analyse(cells: list[tuple[str, bool]], function: str, rule: str) -> Verdict:
    """Check ``function`` in the student's ``cells`` (``(source, editable)`` in notebook order:
    editable False for the course's own locked cells) against ``rule``."""
    analysis = _Analysis(_parse(cells), rule)
    if rule != UNTAMPERED:
        analysis.reach(function)
    analysis.tampering()
    v = analysis.verdict
    v.forbidden = list(dict.fromkeys(v.forbidden))
    v.unverifiable = list(dict.fromkeys(v.unverifiable))
    return v
