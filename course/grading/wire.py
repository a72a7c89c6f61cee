"""The wire between the trusted grader and a student's sandbox: frames of plain data.

A frame is a JSON header plus raw byte buffers (tensors travel as their bytes, never pickled)::

    [4 bytes: header length, big-endian][header: UTF-8 JSON][buffer 0][buffer 1]...

The header says how long each buffer is. Values are encoded as JSON with tagged objects for
what JSON lacks (tuples, tensors, dtypes, references to objects that stay in the sandbox).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

HEADER = struct.Struct(">I")
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
    head = bytes(_read_exact(fd, size, wait))
    tokens = sum(head.count(c) for c in b",[{:")
    if tokens > caps.header_tokens:
        raise WireError(f"header of {tokens:,} JSON values (cap {caps.header_tokens:,})")
    try:
        header = json.loads(head.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"unreadable header: {str(exc)[:100]}") from None
    del head
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    sizes = header.pop("buffers", [])
    if not isinstance(sizes, list) or not all(type(n) is int and n >= 0 for n in sizes):
        raise WireError("bad buffer sizes")
    if size + sum(sizes) > caps.frame_bytes:
        raise WireError(f"frame of {size + sum(sizes):,} bytes (cap {caps.frame_bytes:,})")
    return header, [_read_exact(fd, n, wait) for n in sizes]


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
    side passes ``ref=None`` and gets a :class:`TypeError` for anything it must not send."""

    def __init__(self, ref=None, module=None, caps: Caps = CAPS):
        self.buffers: list[bytes] = []
        self._ref = ref
        self._module = module
        self.caps = caps

    def tensor(self, t: torch.Tensor, tag: str = "tensor") -> dict:
        t = t.detach()
        dtype = str(t.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            raise TypeError(f"tensors of dtype {t.dtype} cannot be sent")
        if t.numel() > self.caps.tensor_elements:
            raise TooLarge(
                f"a tensor of {t.numel():,} elements (the limit is {self.caps.tensor_elements:,})"
            )
        out = {"$": tag, "dtype": dtype, "shape": list(t.shape), "dev": t.device.type}
        if t.device.type != "meta":
            data = t.to("cpu").contiguous()
            if data.dtype == torch.bfloat16:
                raw = data.view(torch.int16).numpy().tobytes()
            else:
                raw = data.numpy().tobytes() if data.numel() else b""
            out["buf"] = len(self.buffers)  # type: ignore[assignment]
            self.buffers.append(raw)
        return out

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > 60:
            raise TypeError("value nested too deeply")
        if type(value) is str and len(value) > self.caps.string_chars:
            raise TooLarge(
                f"a string of {len(value):,} characters (the limit is {self.caps.string_chars:,})"
            )
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if isinstance(value, Ref):
            return {"$": "ref", "id": value.id}
        if isinstance(value, Blob):
            out = {"$": "module", "buf": len(self.buffers)}
            self.buffers.append(value.data)
            out["grads"] = {k: self.tensor(g) for k, g in value.grads.items()}
            return out
        if type(value) is torch.Tensor or type(value) is torch.nn.Parameter:
            out = self.tensor(value)
            out["rg"] = bool(value.requires_grad)
            return out
        if type(value) is np.ndarray:
            return self.tensor(torch.from_numpy(np.ascontiguousarray(value)), tag="ndarray")
        if isinstance(value, np.generic) and type(value.item()) in (bool, int, float):
            return self.encode(value.item(), depth + 1)
        if type(value) is torch.dtype:
            return {"$": "dtype", "v": str(value).removeprefix("torch.")}
        if type(value) is torch.device:
            return {"$": "device", "v": str(value)}
        if type(value) is torch.Size:
            return {"$": "size", "v": [int(v) for v in value]}
        if type(value) is slice:
            return {
                "$": "slice",
                "v": [self.encode(p, depth + 1) for p in (value.start, value.stop, value.step)],
            }
        if value is Ellipsis:
            return {"$": "ellipsis"}
        if type(value) is tuple:
            return {"$": "tuple", "v": [self.encode(v, depth + 1) for v in value]}
        if type(value) is list:
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, dict) and type(value) in (dict, OrderedDict):
            value = dict(value)
        if type(value) is dict and all(type(k) in (str, int) for k in value):
            return {
                "$": "dict",
                "k": [self.encode(k) for k in value],
                "v": [self.encode(v, depth + 1) for v in value.values()],
            }
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

    ``refs`` turns ``{"$": "ref", "id": n}`` into an object (the sandbox: its registered
    object; the trusted side: a proxy); ``modules`` does the same for module blobs (sandbox
    only; ``None`` refuses them)."""

    def __init__(self, buffers: list[bytes], caps: Caps = CAPS, refs=None, modules=None, tags=None):
        self.buffers = buffers
        self._used: set[int] = set()
        self.caps = caps
        self.refs = refs
        self.modules = modules
        self.tags = tags or {}  # more tags this side accepts (the sandbox: callbacks, classes)
        self.items = 0

    def _count(self, n: int = 1) -> None:
        self.items += n
        if self.items > self.caps.items:
            raise WireError(f"more than {self.caps.items} values in one frame")

    def tensor(self, d: dict) -> torch.Tensor:
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
        if d.get("dev") == "meta":
            return torch.empty(shape, dtype=dtype, device="meta")
        i = d.get("buf")
        if type(i) is not int or not 0 <= i < len(self.buffers):
            raise WireError("bad tensor buffer index")
        raw = self.buffers[i]
        item = torch.empty((), dtype=dtype).element_size()
        if len(raw) != numel * item:
            raise WireError(f"tensor buffer of {len(raw)} bytes for {numel} x {item}")
        # the tensor takes over its buffer (no copy); a buffer named twice is copied the second
        # time, so that no two tensors share memory
        first = i not in self._used and isinstance(raw, bytearray)
        self._used.add(i)
        data = raw if first else bytearray(raw)
        if not numel:
            return torch.empty(shape, dtype=dtype)
        if dtype == torch.bfloat16:
            flat = torch.frombuffer(data, dtype=torch.int16).view(torch.bfloat16)
        else:
            flat = torch.frombuffer(data, dtype=dtype)
        return flat.reshape(shape)

    def decode(self, v: Any, depth: int = 0) -> Any:
        self._count()
        if depth > self.caps.depth:
            raise WireError("value nested too deeply")
        if v is None or type(v) in (bool, int, float):
            return v
        if type(v) is str:
            if len(v) > self.caps.string_chars:
                raise TooLarge(
                    f"a string of {len(v):,} characters (the limit is {self.caps.string_chars:,})"
                )
            return v
        if type(v) is list:
            return [self.decode(x, depth + 1) for x in v]
        if type(v) is not dict:
            raise WireError(f"unexpected {type(v).__name__}")
        tag = v.get("$")
        if tag == "float":
            text = v.get("v")
            if text not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(text)
        if tag == "tensor":
            t = self.tensor(v)
            if v.get("rg") is True and t.is_floating_point():
                t.requires_grad_(True)
            return t
        if tag == "ndarray":
            t = self.tensor(v)
            if t.device.type == "meta" or t.dtype == torch.bfloat16:
                raise WireError("bad ndarray")
            return t.numpy()
        if tag == "tuple":
            return tuple(self.decode(x, depth + 1) for x in self._list(v))
        if tag == "dict":
            keys, values = self._list(v, "k"), self._list(v)
            if len(keys) != len(values):
                raise WireError("bad dict")
            out = {}
            for k, x in zip(keys, values, strict=True):
                if type(k) not in (str, int):
                    raise WireError("bad dict key")
                out[k] = self.decode(x, depth + 1)
            return out
        if tag == "dtype":
            dtype = DTYPES.get(v.get("v") or "")
            if dtype is None:
                raise WireError("bad dtype")
            return dtype
        if tag == "device":
            text = v.get("v")
            if type(text) is not str or len(text) > 20:
                raise WireError("bad device")
            try:
                return torch.device(text)
            except RuntimeError:
                raise WireError("bad device") from None
        if tag == "size":
            return torch.Size(int(x) for x in self._ints(v))
        if tag == "slice":
            parts = self._list(v)
            if len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
                raise WireError("bad slice")
            return slice(*parts)
        if tag == "ellipsis":
            return Ellipsis
        if tag == "ref":
            if self.refs is None or type(v.get("id")) is not int:
                raise WireError("unexpected reference")
            return self.refs(v)
        if tag == "module":
            if self.modules is None:
                raise WireError("unexpected module")
            i = v.get("buf")
            if type(i) is not int or not 0 <= i < len(self.buffers):
                raise WireError("bad module buffer")
            grads = {k: self.tensor(g) for k, g in (v.get("grads") or {}).items()}
            return self.modules(self.buffers[i], grads)
        if tag in self.tags:
            return self.tags[tag](v)
        raise WireError(f"unknown tag {tag!r}")

    def _list(self, v: dict, key: str = "v") -> list:
        items = v.get(key)
        if type(items) is not list:
            raise WireError("bad list")
        return items

    def _ints(self, v: dict) -> list[int]:
        items = self._list(v)
        if not all(type(x) is int for x in items):
            raise WireError("bad integers")
        return items


def decode(
    data: Any, buffers: list[bytes], caps: Caps = CAPS, refs=None, modules=None, tags=None
) -> Any:
    return Decoder(buffers, caps, refs, modules, tags).decode(data)
