"""The wire between the trusted grader and a student's sandbox: frames of plain data.

A frame is a JSON header plus raw byte buffers (tensors travel as their bytes, never pickled)::

    [4 bytes: header length, big-endian][header: UTF-8 JSON][buffer 0][buffer 1]...

The header says how long each buffer is. Values are encoded as JSON with tagged objects for
what JSON lacks (tuples, tensors, dtypes, references to objects that stay in the sandbox): each
kind of value is one :class:`ValueKind` of the table :data:`KINDS` (its types, its tag, how it is
written and read). What the grader asks of the sandbox is one typed record per kind of request
(:class:`Exec`, :class:`Call`, :class:`GetAttr`, ...: the table :data:`REQUESTS`).

:func:`decode` is the trust boundary: it turns what the sandbox sent into fresh Python values
(``dict``, ``list``, ``int``, a new ``torch.Tensor`` built from bytes) or :class:`Ref` markers,
checks every size against :class:`Caps`, and never executes or unpickles anything. Whatever a
student's code did to its own objects (a tensor subclass that lies in ``__eq__``, an ``int``
subclass equal to everything), what arrives here is plain data.

Only the trusted side may send ``module`` blobs (a ``torch.save`` of a module built from
``torch.nn`` classes, loaded in the sandbox); :func:`decode` on the trusted side refuses them.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

HEADER = struct.Struct(">I")
Buffer = bytes | bytearray  # a frame's raw buffer (read into a bytearray, sent from bytes)
DTYPES = {
    str(d).removeprefix("torch."): d
    for d in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.complex64,
        torch.complex128,
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
    )
}


class WireError(Exception):
    """A frame that breaks the protocol or a cap: the other side is broken or hostile."""


class TooLarge(WireError):
    """A value over a cap, refused before it was built (the frame itself was well formed and
    read whole, so the connection is still in step): the student's failure, not a crash."""


PROTOCOL = "broke the wire protocol"  # in every note of a malformed frame (flagged for review)


@dataclass(frozen=True)
class Caps:
    """Limits on what one frame may carry (defaults fit every lesson with a wide margin: the
    largest value a test fetches is a ResNet-34 state_dict, 87 MB)."""

    frame_bytes: int = 256 * 2**20  # header + buffers
    header_bytes: int = 16 * 2**20
    tensor_elements: int = 64 * 2**20
    items: int = 200_000  # values in one frame (list entries, dict items, ...)
    depth: int = 64
    string_chars: int = 1_000_000
    # JSON punctuation (``,[{:``) in a header: bounds the objects ``json.loads`` builds before
    # ``items`` can be counted (16 MB of ``[],`` would be 8 M lists, ~450 MB)
    header_tokens: int = 1_000_000

    def host_mb(self) -> int:
        """The most one frame makes the reading process hold (MB): its buffers read once into
        place, the header's bytes, and what ``json.loads`` builds from them (measured: at most
        ~6 bytes per header byte under ``header_tokens``)."""
        return (self.frame_bytes + 7 * self.header_bytes) // 2**20


CAPS = Caps()


@dataclass(frozen=True)
class Ref:
    """An object that stays in the sandbox: its id there, and what the sandbox says it is.

    ``kind`` is ``"tensor"``, ``"module"``, ``"callable"`` or ``"object"``; ``types`` the
    ``(module, qualname)`` pairs of its class's MRO; ``info`` a small dict (a tensor's shape
    and dtype, say). All of it is the student's word, used only for convenience (isinstance on
    a proxy), never for a verdict on values.
    """

    id: int
    kind: str = "object"
    types: tuple = ()
    info: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Blob:
    """A ``torch.save`` of a torch.nn module (trusted side to sandbox only)."""

    data: bytes
    grads: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- framing
def write_frame(
    fd: int, header: dict, buffers: Sequence[bytes | memoryview] = (), wait=None
) -> None:
    """Send one frame. With ``wait`` (``fd`` non-blocking), ``wait()`` runs whenever the pipe
    is full: it returns once ``fd`` is writable and raises past the caller's deadline (a reader
    that stops reading cannot block the writer)."""
    header = dict(header, buffers=[len(b) for b in buffers])
    head = json.dumps(header, allow_nan=True, separators=(",", ":")).encode("utf-8")
    parts = [HEADER.pack(len(head)), head, *buffers]
    for part in parts:
        view = memoryview(part).cast("B")
        while view:
            try:
                n = os.write(fd, view[: 1 << 20])
            except BlockingIOError:
                n = 0
            if not n and wait is not None:
                wait()
            view = view[n:]


def _read_into(fd: int, buf: bytearray | memoryview, wait=None) -> None:
    """Fill ``buf`` from ``fd``. ``wait()`` runs before every read: it returns once ``fd`` is
    readable and raises when the caller's deadline has passed (a frame sent in part and never
    finished times out like a cell, instead of blocking the grader)."""
    view = memoryview(buf).cast("B")
    got = 0
    while got < len(view):
        if wait is not None:
            wait()
        try:
            n = os.readv(fd, [view[got : got + (1 << 20)]])
        except BlockingIOError:
            continue
        if not n:
            raise EOFError("the other side closed the connection")
        got += n


def _read_exact(fd: int, n: int, wait=None) -> bytearray:
    buf = bytearray(n)  # n was checked against a cap before this allocation
    _read_into(fd, buf, wait)
    return buf


def read_frame(fd: int, caps: Caps = CAPS, wait=None) -> tuple[dict, list[bytearray]]:
    """One frame, every size checked against ``caps`` from the header before anything of that
    size is allocated; each buffer read once, into its own ``bytearray``. ``wait``: see
    :func:`_read_into`."""
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, wait))
    if size > caps.header_bytes:
        raise WireError(f"header of {size:,} bytes (cap {caps.header_bytes:,})")
    header = _parse_header(bytes(_read_exact(fd, size, wait)), caps)
    sizes = header.pop("buffers", [])
    if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes):
        raise WireError("bad buffer sizes")
    if size + sum(sizes) > caps.frame_bytes:
        raise WireError(f"frame of {size + sum(sizes):,} bytes (cap {caps.frame_bytes:,})")
    return header, [_read_exact(fd, n, wait) for n in sizes]


def _parse_header(head: bytes, caps: Caps) -> dict:
    tokens = sum(head.count(c) for c in b",[{:")
    if tokens > caps.header_tokens:
        raise WireError(f"header of {tokens:,} JSON values (cap {caps.header_tokens:,})")
    try:
        header = json.loads(head.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable header: {str(exc)[:100]}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    return header


def check_frame(header: dict, buffers, caps: Caps = CAPS) -> None:
    """Raise :class:`TooLarge` for a frame the other side would refuse (the sandbox checks its
    replies with it, so an honest oversized value fails as an error, not as a broken wire)."""
    total = sum(len(memoryview(b).cast("B")) for b in buffers)
    if total > caps.frame_bytes:
        raise TooLarge(
            f"{total / 2**20:,.0f} MB of tensors in one value (the limit is "
            f"{caps.frame_bytes / 2**20:,.0f} MB)"
        )


# --------------------------------------------------------------------------- encoding
class Encoder:
    """Turns a value into JSON-able data plus buffers. ``ref`` decides what an object that is
    not plain data becomes (the sandbox registers it and returns a :class:`Ref`); the trusted
    side passes ``ref=None`` and gets a :class:`TypeError` for anything it must not send.

    What each type becomes is the table :data:`KINDS` (exact types: a subclass of a plain type
    is not plain data). A side that sends more (proxies, callbacks, classes) subclasses this and
    handles its own values in :meth:`encode` before calling this one."""

    def __init__(self, ref=None, module=None, caps: Caps = CAPS):
        self.buffers: list[bytes] = []
        self._ref = ref
        self._module = module
        self.caps = caps

    def tensor(self, t: torch.Tensor, tag: str = "tensor") -> dict[str, Any]:
        t = t.detach()
        dtype = str(t.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            raise TypeError(f"tensors of dtype {t.dtype} cannot be sent")
        if t.numel() > self.caps.tensor_elements:
            raise TooLarge(
                f"a tensor of {t.numel():,} elements (the limit is {self.caps.tensor_elements:,})"
            )
        out: dict[str, Any] = {"$": tag, "dtype": dtype, "shape": list(t.shape)}
        out["dev"] = t.device.type
        if t.device.type != "meta":
            data = t.to("cpu").contiguous()
            if data.dtype == torch.bfloat16:
                raw = data.view(torch.int16).numpy().tobytes()
            else:
                raw = data.numpy().tobytes() if data.numel() else b""
            out["buf"] = self.buffer(raw)
        return out

    def buffer(self, raw: bytes) -> int:
        """Send ``raw`` beside the header; its index among the frame's buffers."""
        self.buffers.append(raw)
        return len(self.buffers) - 1

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > 60:
            raise TypeError("value nested too deeply")
        kind = ENCODE.get(type(value))
        if kind is None:
            return self.other(value, depth)
        return kind(self, value, depth)

    def other(self, value: Any, depth: int) -> Any:
        """A value of no type in :data:`KINDS`: a NumPy scalar is sent as its number, a module as
        a blob (the trusted side's ``module``), anything else as a reference (the sandbox's
        ``ref``) or not at all."""
        if isinstance(value, np.generic) and type(value.item()) in (bool, int, float):
            return self.encode(value.item(), depth + 1)
        if self._module is not None and isinstance(value, torch.nn.Module):
            blob = self._module(value)
            if blob is not None:
                return self.encode(blob, depth)
        if self._ref is not None:
            return {"$": "ref", **self._ref(value)}
        raise TypeError(f"a {type(value).__name__} cannot be sent to the student's code")


def encode(value: Any, ref=None, module=None) -> tuple[Any, list[bytes]]:
    enc = Encoder(ref, module)
    return enc.encode(value), enc.buffers


# --------------------------------------------------------------------------- decoding
class Decoder:
    """Rebuilds plain values from what :class:`Encoder` wrote, checking every cap.

    JSON's own values are read by their JSON type, tagged objects (``{"$": tag, ...}``) by the
    table :data:`KINDS`. ``refs`` turns ``{"$": "ref", "id": n}`` into an object (the sandbox:
    its registered object; the trusted side: a proxy); ``modules`` does the same for module
    blobs (sandbox only; ``None`` refuses them); ``tags`` are the tags only this side reads
    (the sandbox: the test's callbacks and classes)."""

    def __init__(
        self, buffers: Sequence[Buffer], caps: Caps = CAPS, refs=None, modules=None, tags=None
    ):
        self.buffers = buffers
        self._used: set[int] = set()
        self.caps = caps
        self.refs = refs
        self.modules = modules
        self.tags = tags or {}
        self.items = 0

    def _count(self, n: int = 1) -> None:
        self.items += n
        if self.items > self.caps.items:
            raise WireError(f"more than {self.caps.items} values in one frame")

    def buffer(self, d: dict, what: str = "tensor") -> Buffer:
        i = d.get("buf")
        if type(i) is not int or not 0 <= i < len(self.buffers):
            raise WireError(f"bad {what} buffer index")
        return self.buffers[i]

    def tensor(self, d: dict) -> torch.Tensor:
        dtype, shape, numel = self._tensor_header(d)
        if d.get("dev") == "meta":
            return torch.empty(shape, dtype=dtype, device="meta")
        raw = self.buffer(d)
        item = torch.empty((), dtype=dtype).element_size()
        if len(raw) != numel * item:
            raise WireError(f"tensor buffer of {len(raw)} bytes for {numel} x {item}")
        # the tensor takes over its buffer (no copy); a buffer named twice is copied the second
        # time, so that no two tensors share memory
        first = id(raw) not in self._used and isinstance(raw, bytearray)
        self._used.add(id(raw))
        data = raw if first else bytearray(raw)
        if not numel:
            return torch.empty(shape, dtype=dtype)
        if dtype == torch.bfloat16:
            flat = torch.frombuffer(data, dtype=torch.int16).view(torch.bfloat16)
        else:
            flat = torch.frombuffer(data, dtype=dtype)
        return flat.reshape(shape)

    def _tensor_header(self, d: dict) -> tuple[torch.dtype, list[int], int]:
        dtype = DTYPES.get(d.get("dtype") or "")
        shape = d.get("shape")
        if (
            dtype is None
            or not isinstance(shape, list)
            or not all(type(s) is int and s >= 0 for s in shape)
        ):
            raise WireError("bad tensor header")
        numel = math.prod(shape)
        if numel > self.caps.tensor_elements:
            raise TooLarge(
                f"a tensor of {numel:,} elements (the limit is {self.caps.tensor_elements:,})"
            )
        return dtype, shape, numel

    def decode(self, v: Any, depth: int = 0) -> Any:
        self._count()
        if depth > self.caps.depth:
            raise WireError("value nested too deeply")
        if type(v) is dict:
            return self._tagged(v, depth)
        read = JSON_VALUES.get(type(v))
        if read is None:
            raise WireError(f"unexpected {type(v).__name__}")
        return read(self, v, depth)

    def _tagged(self, v: dict, depth: int) -> Any:
        tag = v.get("$")
        if type(tag) is not str:
            raise WireError("untagged object")
        kind = DECODE.get(tag)
        if kind is not None:
            return kind(self, v, depth)
        if tag in self.tags:
            return self.tags[tag](v)
        raise WireError(f"unknown tag {tag!r}")

    def string(self, v: str) -> str:
        if len(v) > self.caps.string_chars:
            raise TooLarge(
                f"a string of {len(v):,} characters (the limit is {self.caps.string_chars:,})"
            )
        return v

    def items_of(self, v: dict, key: str = "v") -> list:
        items = v.get(key)
        if type(items) is not list:
            raise WireError("bad list")
        return items

    def ints(self, v: dict) -> list[int]:
        items = self.items_of(v)
        if not all(type(x) is int for x in items):
            raise WireError("bad integers")
        return items


def decode(
    data: Any, buffers: Sequence[Buffer], caps: Caps = CAPS, refs=None, modules=None, tags=None
) -> Any:
    return Decoder(buffers, caps, refs, modules, tags).decode(data)


# --------------------------------------------------------------------------- the value kinds
# How each kind of value is written (``encode(encoder, value, depth)``) and read back
# (``decode(decoder, tagged_object, depth)``); every read checks what it was sent.
def _same(_coder: Any, value: Any, _depth: int) -> Any:
    return value


def _write_str(enc: Encoder, value: str, _depth: int) -> str:
    if len(value) > enc.caps.string_chars:
        raise TooLarge(
            f"a string of {len(value):,} characters (the limit is {enc.caps.string_chars:,})"
        )
    return value


def _write_float(_enc: Encoder, value: float, _depth: int) -> Any:
    return value if math.isfinite(value) else {"$": "float", "v": repr(value)}


def _read_float(_dec: Decoder, v: dict, _depth: int) -> float:
    text = v.get("v")
    if text not in ("nan", "inf", "-inf"):
        raise WireError("bad float")
    return float(text)


def _write_ref(_enc: Encoder, value: Ref, _depth: int) -> dict:
    return {"$": "ref", "id": value.id}


def _read_ref(dec: Decoder, v: dict, _depth: int) -> Any:
    if dec.refs is None or type(v.get("id")) is not int:
        raise WireError("unexpected reference")
    return dec.refs(v)


def _write_module(enc: Encoder, value: Blob, _depth: int) -> dict:
    out: dict[str, Any] = {"$": "module", "buf": enc.buffer(value.data)}
    out["grads"] = {k: enc.tensor(g) for k, g in value.grads.items()}
    return out


def _read_module(dec: Decoder, v: dict, _depth: int) -> Any:
    if dec.modules is None:
        raise WireError("unexpected module")
    blob = dec.buffer(v, "module")
    grads = {k: dec.tensor(g) for k, g in (v.get("grads") or {}).items()}
    return dec.modules(blob, grads)


def _write_tensor(enc: Encoder, value: torch.Tensor, _depth: int) -> dict:
    return {**enc.tensor(value), "rg": bool(value.requires_grad)}


def _read_tensor(dec: Decoder, v: dict, _depth: int) -> torch.Tensor:
    t = dec.tensor(v)
    if v.get("rg") is True and t.is_floating_point():
        t.requires_grad_(True)
    return t


def _write_ndarray(enc: Encoder, value: np.ndarray, _depth: int) -> dict:
    return enc.tensor(torch.from_numpy(np.ascontiguousarray(value)), tag="ndarray")


def _read_ndarray(dec: Decoder, v: dict, _depth: int) -> np.ndarray:
    t = dec.tensor(v)
    if t.device.type == "meta" or t.dtype == torch.bfloat16:
        raise WireError("bad ndarray")
    return t.numpy()


def _write_dtype(_enc: Encoder, value: torch.dtype, _depth: int) -> dict:
    return {"$": "dtype", "v": str(value).removeprefix("torch.")}


def _read_dtype(_dec: Decoder, v: dict, _depth: int) -> torch.dtype:
    dtype = DTYPES.get(v.get("v") or "")
    if dtype is None:
        raise WireError("bad dtype")
    return dtype


def _write_device(_enc: Encoder, value: torch.device, _depth: int) -> dict:
    return {"$": "device", "v": str(value)}


def _read_device(_dec: Decoder, v: dict, _depth: int) -> torch.device:
    text = v.get("v")
    if type(text) is not str or len(text) > 20:
        raise WireError("bad device")
    try:
        return torch.device(text)
    except RuntimeError:
        raise WireError("bad device") from None


def _write_size(_enc: Encoder, value: torch.Size, _depth: int) -> dict:
    return {"$": "size", "v": [int(v) for v in value]}


def _read_size(dec: Decoder, v: dict, _depth: int) -> torch.Size:
    return torch.Size(int(x) for x in dec.ints(v))


def _write_slice(enc: Encoder, value: slice, depth: int) -> dict:
    parts = (value.start, value.stop, value.step)
    return {"$": "slice", "v": [enc.encode(p, depth + 1) for p in parts]}


def _read_slice(dec: Decoder, v: dict, _depth: int) -> slice:
    parts = dec.items_of(v)
    if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
        raise WireError("bad slice")
    return slice(*parts)


def _write_ellipsis(_enc: Encoder, _value: Any, _depth: int) -> dict:
    return {"$": "ellipsis"}


def _read_ellipsis(_dec: Decoder, _v: dict, _depth: int) -> Any:
    return Ellipsis


def _write_tuple(enc: Encoder, value: tuple, depth: int) -> dict:
    return {"$": "tuple", "v": [enc.encode(v, depth + 1) for v in value]}


def _read_tuple(dec: Decoder, v: dict, depth: int) -> tuple:
    return tuple(dec.decode(x, depth + 1) for x in dec.items_of(v))


def _write_list(enc: Encoder, value: list, depth: int) -> list:
    return [enc.encode(v, depth + 1) for v in value]


def _read_list(dec: Decoder, value: list, depth: int) -> list:
    return [dec.decode(x, depth + 1) for x in value]


def _write_dict(enc: Encoder, value: dict, depth: int) -> Any:
    if type(value) is not dict:
        value = dict(value)  # an OrderedDict
    if not all(type(k) in (str, int) for k in value):
        return enc.other(value, depth)
    keys = [enc.encode(k) for k in value]
    return {"$": "dict", "k": keys, "v": [enc.encode(v, depth + 1) for v in value.values()]}


def _read_dict(dec: Decoder, v: dict, depth: int) -> dict:
    keys, values = dec.items_of(v, "k"), dec.items_of(v)
    if len(keys) != len(values):
        raise WireError("bad dict")
    out = {}
    for k, x in zip(keys, values, strict=True):
        if type(k) not in (str, int):
            raise WireError("bad dict key")
        out[k] = dec.decode(x, depth + 1)
    return out


@dataclass(frozen=True)
class ValueKind:
    """One kind of value on the wire: the Python types written this way (exact types), its tag
    (``None``: JSON's own value, read by its JSON type), how it is written and read."""

    tag: str | None
    types: tuple[type, ...]
    encode: Callable[[Encoder, Any, int], Any]
    decode: Callable[[Decoder, Any, int], Any] | None = None


KINDS = (
    ValueKind(None, (type(None), bool, int), _same, _same),
    ValueKind(None, (str,), _write_str, lambda dec, v, _depth: dec.string(v)),
    ValueKind("float", (float,), _write_float, _read_float),  # JSON's float, or nan / inf
    ValueKind(None, (list,), _write_list, _read_list),
    ValueKind("tuple", (tuple,), _write_tuple, _read_tuple),
    ValueKind("dict", (dict, OrderedDict), _write_dict, _read_dict),  # str and int keys only
    ValueKind("tensor", (torch.Tensor, torch.nn.Parameter), _write_tensor, _read_tensor),
    ValueKind("ndarray", (np.ndarray,), _write_ndarray, _read_ndarray),
    ValueKind("dtype", (torch.dtype,), _write_dtype, _read_dtype),
    ValueKind("device", (torch.device,), _write_device, _read_device),
    ValueKind("size", (torch.Size,), _write_size, _read_size),
    ValueKind("slice", (slice,), _write_slice, _read_slice),
    ValueKind("ellipsis", (type(Ellipsis),), _write_ellipsis, _read_ellipsis),
    ValueKind("ref", (Ref,), _write_ref, _read_ref),  # read only where ``refs`` is given
    ValueKind("module", (Blob,), _write_module, _read_module),  # read only by the sandbox
)
ENCODE = {t: kind.encode for kind in KINDS for t in kind.types}
DECODE = {kind.tag: kind.decode for kind in KINDS if kind.tag and kind.decode}
# JSON's own values, read by their JSON type (a float tag is read by DECODE)
JSON_VALUES = {
    t: kind.decode for kind in KINDS if kind.tag is None and kind.decode for t in kind.types
}
JSON_VALUES[float] = _same  # a finite float is JSON's own


# --------------------------------------------------------------------------- requests
# What the grader asks of the sandbox (course.grading.proxy and .job send, course.grading.student
# answers): one typed record per kind, its ``op`` the kind's name on the wire. Fields that hold
# values (arguments, keys, gradients) hold them encoded (:class:`Encoder`).
def _no_kwargs() -> dict:
    return {"$": "dict", "k": [], "v": []}


@dataclass(frozen=True)
class Request:
    op: ClassVar[str]

    def header(self) -> dict[str, Any]:
        """The frame's header: ``op`` and the fields (their values, not copies)."""
        return {"op": self.op, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class Exec(Request):
    """Run one of the student's cells (outputs captured)."""

    op: ClassVar[str] = "exec"
    code: str


@dataclass(frozen=True)
class Names(Request):
    """The student's objects of these names (a test reads them)."""

    op: ClassVar[str] = "names"
    names: list[str]


@dataclass(frozen=True, kw_only=True)
class _Run(Request):
    """A call under the grader's options (grad mode, seed, ``checks.no_autograd``, counting)."""

    args: Any = field(default_factory=list)  # encoded list
    kwargs: Any = field(default_factory=_no_kwargs)  # encoded dict
    opts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call(_Run):
    """Call a student's object: its id here, or a name in the student's namespace."""

    op: ClassVar[str] = "call"
    target: int | str


@dataclass(frozen=True)
class Lib(_Run):
    """Call a course helper marked ``checks.runs_beside_student`` beside the student's objects."""

    op: ClassVar[str] = "lib"
    module: str
    name: str


@dataclass(frozen=True)
class OnObject(Request):
    """A request about one object kept in the sandbox, known here by its id."""

    ref: int


@dataclass(frozen=True)
class GetAttr(OnObject):
    op: ClassVar[str] = "getattr"
    name: str


@dataclass(frozen=True)
class SetAttr(OnObject):
    op: ClassVar[str] = "setattr"
    name: str
    value: Any
    no_grad: bool = False


@dataclass(frozen=True)
class GetItem(OnObject):
    op: ClassVar[str] = "getitem"
    key: Any


@dataclass(frozen=True)
class SetItem(OnObject):
    op: ClassVar[str] = "setitem"
    key: Any
    value: Any
    grad: bool = True


@dataclass(frozen=True)
class Iter(OnObject):
    op: ClassVar[str] = "iter"


@dataclass(frozen=True)
class Len(OnObject):
    op: ClassVar[str] = "len"


@dataclass(frozen=True)
class Repr(OnObject):
    op: ClassVar[str] = "repr"


@dataclass(frozen=True)
class Value(OnObject):
    """A tensor kept in the sandbox, by value."""

    op: ClassVar[str] = "value"


@dataclass(frozen=True)
class IsInstance(OnObject):
    """``isinstance(obj, ref)``: both the sandbox's objects (``ref`` a student's class)."""

    op: ClassVar[str] = "isinstance"
    obj: int


@dataclass(frozen=True)
class Backward(Request):
    """Carry the gradients ``grads`` (encoded) back through the outputs of call ``link``."""

    op: ClassVar[str] = "backward"
    link: int
    grads: Any


REQUESTS: dict[str, type[Request]] = {
    kind.op: kind
    for kind in (Exec, Names, Call, Lib, GetAttr, SetAttr, GetItem, SetItem, Iter, Len, Repr)
    + (Value, IsInstance, Backward)
}


def parse_request(header: dict) -> Request:
    """The request a frame's header carries (the sandbox's side); :class:`WireError` if it is
    none of :data:`REQUESTS` or lacks a field."""
    op = header.get("op")
    kind = REQUESTS.get(op) if type(op) is str else None
    if kind is None:
        raise WireError(f"unknown request {str(op)[:40]!r}")
    names = {f.name for f in fields(kind)}
    try:
        return kind(**{k: v for k, v in header.items() if k in names})
    except TypeError:
        raise WireError(f"a malformed {op!r} request") from None
