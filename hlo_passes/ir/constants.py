"""Element types and constants <-> numpy: the half of the MLIR door that reads and writes tensor data.

Kept apart from `ir/__init__.py` (contexts, parsing, printing, the rewrite driver) so that each file stays
readable; `hlo_passes.ir` re-exports everything here, and nothing outside the `ir` package imports jaxlib.
- `np_dtype` / `element_type`: MLIR element types <-> numpy dtypes (ml_dtypes for bf16, fp8, int4 ...).
- `to_numpy` / `from_numpy` / `splat`: `dense<...>` and `dense_resource<...>` attributes. jaxlib has no reader
  for resource blobs, so a constant holding one is written as bytecode (where the blob is stored raw) and
  the bytes are taken from its resource section.
- `inline_resources` / `_portable_copy`: what XLA and VHLO need (dense constants only).
"""

from __future__ import annotations

import bisect
import re
import weakref

import ml_dtypes
import numpy as np
from jaxlib.mlir import ir as mlir
from jaxlib.mlir._mlir_libs import _mlir as _mlir_bindings  # private: type casters
from jaxlib.mlir.dialects import stablehlo

from ..diagnostics import HloError


def _op(module) -> mlir.Operation:
    if isinstance(module, mlir.Module):
        return module.operation
    return getattr(module, "operation", module)


# ------------------------------------------------------------------------------------ types and dtypes

_DTYPES = {
    "f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
    "f8E4M3FN": ml_dtypes.float8_e4m3fn, "f8E5M2": ml_dtypes.float8_e5m2,
    "f8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz, "f8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "f8E4M3B11FNUZ": ml_dtypes.float8_e4m3b11fnuz, "f8E4M3": ml_dtypes.float8_e4m3,
    "f8E3M4": ml_dtypes.float8_e3m4, "f8E8M0FNU": ml_dtypes.float8_e8m0fnu, "f4E2M1FN": ml_dtypes.float4_e2m1fn,
    "f6E2M3FN": ml_dtypes.float6_e2m3fn, "f6E3M2FN": ml_dtypes.float6_e3m2fn,
    "i2": ml_dtypes.int2, "ui2": ml_dtypes.uint2,
    "i1": np.bool_, "i4": ml_dtypes.int4, "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
    "ui4": ml_dtypes.uint4, "ui8": np.uint8, "ui16": np.uint16, "ui32": np.uint32, "ui64": np.uint64,
    "complex<f32>": np.complex64, "complex<f64>": np.complex128,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
# dtypes the bindings read and write through the buffer protocol; the rest go via text or raw bits
_BUFFER_DTYPES = {np.dtype(t) for t in (np.bool_, np.float16, np.float32, np.float64, np.int8, np.int16,
                                        np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)}


_BY_KIND: dict = {}  # TypeID, or integer (width, signed, unsigned) -> dtype or None: see known_dtype


def known_dtype(element_type) -> np.dtype | None:
    """numpy dtype of an MLIR element type (ml_dtypes for bf16, fp8 and int4), or None if it has none.

    Remembered by kind of type, not found by printing the type each time (printing costs more than what
    most callers then do with the dtype), nor by the type itself (a cached Type would keep its context, and
    every weight uniqued in it, alive): a TypeID names one float type, integers add width and signedness.
    Complex types share a TypeID across element types, so they are printed."""
    t = element_type.maybe_downcast() if hasattr(element_type, "maybe_downcast") else element_type
    if isinstance(t, mlir.IntegerType):
        key = (t.width, t.is_signed, t.is_unsigned)
    elif isinstance(t, mlir.ComplexType):
        key = None
    else:
        key = getattr(t, "typeid", None)
    if key is not None and key in _BY_KIND:
        return _BY_KIND[key]
    found = _DTYPES.get(str(element_type))
    found = None if found is None else np.dtype(found)
    if key is not None:
        _BY_KIND[key] = found
    return found


def np_dtype(element_type) -> np.dtype:
    """numpy dtype of an MLIR element type (ml_dtypes for bf16, fp8 and int4); an error if it has none."""
    found = known_dtype(element_type)
    if found is None:
        raise HloError(f"element type {element_type} has no numpy counterpart")
    return found


def element_type(dtype) -> mlir.Type:
    """MLIR element type of a numpy dtype (needs an active context)."""
    dtype = np.dtype(dtype)
    if dtype not in _NAMES:
        raise HloError(f"numpy dtype {dtype} has no MLIR counterpart")
    return mlir.Type.parse(_NAMES[dtype])


def tensor_type(shape, dtype) -> mlir.RankedTensorType:
    return mlir.RankedTensorType.get(list(shape), element_type(dtype))


# ----------------------------------------------------------------------------------- constants <-> numpy

def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """MLIR bytecode's prefix varint: trailing zeros of the first byte + 1 give the length in bytes."""
    first = data[pos]
    if first == 0:
        return int.from_bytes(data[pos + 1:pos + 9], "little"), pos + 9
    n = (first & -first).bit_length()
    return int.from_bytes(data[pos:pos + n], "little") >> n, pos + n


_RESOURCE_SECTION = 5


class _Chunks:
    """A write sink that keeps the chunks it is handed as they are, readable as one byte string. Why: the
    bytecode writer hands a blob over as one `bytes` chunk of exactly its size; a BytesIO copied it again
    (two copies of the weight at once, 262 MB of peak for the 8x1024 LM head); this keeps the one copy."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.starts: list[int] = []
        self.size = 0

    def write(self, chunk) -> int:
        self.starts.append(self.size)
        self.parts.append(chunk)
        self.size += len(chunk)
        return len(chunk)

    def __len__(self) -> int:
        return self.size

    def view(self, start: int, stop: int) -> memoryview:
        """Bytes [start, stop): a view into one chunk when they lie in one (the blob), else a joined copy."""
        i = bisect.bisect_right(self.starts, start) - 1
        base = self.starts[i]
        if stop - base <= len(self.parts[i]):
            return memoryview(self.parts[i])[start - base:stop - base]
        out, pos = bytearray(), start
        while pos < stop:
            i = bisect.bisect_right(self.starts, pos) - 1
            part, base = self.parts[i], self.starts[i]
            piece = part[pos - base:min(len(part), stop - base)]
            out += piece
            pos += len(piece)
        return memoryview(bytes(out))

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self.view(key.start, min(key.stop, self.size)).tobytes()
        return self.view(key, key + 1)[0]


def _resource_blob(attr) -> memoryview:
    """The raw bytes of a dense_resource attribute, read from the bytecode of a constant that holds it (one
    copy of the blob, the chunk the writer hands over: `_Chunks`)."""
    with attr.context, mlir.Location.unknown():
        op = mlir.Operation.create("stablehlo.constant", results=[attr.type], attributes={"value": attr},
                                    ip=False)  # never into a block that has an insertion point active
    data = _Chunks()
    op.write_bytecode(data)
    pos = 4
    _, pos = _varint(data, pos)  # version
    pos = data[pos:pos + 256].index(b"\0", 0) + pos + 1  # producer string
    while pos < len(data):
        code = data[pos]
        pos += 1
        length, pos = _varint(data, pos)
        if code & 0x80:  # aligned section: alignment varint then 0xCB padding up to it
            align, pos = _varint(data, pos)
            while pos % align:
                pos += 1
        if code & 0x7F == _RESOURCE_SECTION:
            _, p = _varint(data, pos)  # blob alignment
            size, _ = _varint(data, p)
            if size == 0:
                break
            return data.view(pos + length - size, pos + length)
        pos += length
    raise HloError(f"resource {str(attr)!r} has no data (its blob was elided or never attached)")


# context -> {blob key: the array a blob made by `from_numpy(resource=...)` is over}. Why: the bindings give no
# view of a blob, so reading one back copies it out through bytecode (the 8x1024 LM head: 131 MB of transient
# peak in the writer, and again in quantize); a blob made here IS that array's memory, so reading it is a view.
# Keyed weakly by the context, which owns its blobs until it dies: the arrays live no longer than they would.
_BACKING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _blob_key(attr) -> str:
    return str(attr).split(" : ")[0]  # `dense_resource<NAME>`: MLIR makes NAME unique in its context


def _backing_array(attr, shape, dtype) -> np.ndarray | None:
    """A read-only view of the array under a blob made in this process, if it was made here."""
    array = _BACKING.get(attr.context, {}).get(_blob_key(attr))
    if array is None or array.shape != shape or array.dtype != dtype:
        return None
    view = array.view()
    view.flags.writeable = False
    return view


def _shaped(flat: np.ndarray, shape) -> np.ndarray:
    """A splat (one element) expands to the shape; anything else is reshaped."""
    return np.full(shape, flat[0], flat.dtype) if flat.size == 1 else flat.reshape(shape)


def _parse_dense_text(attr, dtype: np.dtype, shape) -> np.ndarray:
    """Elements of a dense attr whose type has no buffer form in the bindings (bf16, fp8, int4, complex)."""
    body = str(attr)
    body = body[body.index("<") + 1:body.rindex(" : ")].strip()[:-1]  # dense<BODY> : tensor<...>
    if body.startswith('"0x'):  # raw little-endian storage, as MLIR prints large attributes
        raw = bytes.fromhex(body[3:-1])
        storage = np.dtype(f"u{dtype.itemsize}") if dtype.kind != "c" else dtype
        flat = np.frombuffer(raw, storage)
        flat = flat.view(dtype) if storage != dtype else flat
        return _shaped(flat, shape)
    def scalar(token: str, dt: np.dtype):
        if token.startswith("0x"):  # NaN, inf and non-round-trippable values print as their bits
            return np.array(int(token, 16), np.dtype(f"u{dt.itemsize}")).view(dt)
        return np.array(int(token) if token.lstrip("-").isdigit() else float(token)).astype(dt)

    if dtype.kind == "c":
        part = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
        pairs = re.findall(r"\(([^,()]+),([^,()]+)\)", body)
        parts = [scalar(t.strip(), part) for pair in pairs for t in pair]  # bit-exact: no Python complex
        flat = np.array(parts, part).view(dtype)
    else:
        flat = np.array([scalar(t, dtype) for t in re.split(r"[\[\],\s]+", body) if t], dtype).reshape(-1)
    return _shaped(flat, shape)


def _dense_caster(attr):
    """The bindings' own caster for dense attributes raises TypeError for element types it has no class
    for (complex): from `op.attributes[name]` that is a bare exception, and from `NamedAttribute.attr`
    (a C++ callback) it aborts the process. This one falls back to the generic DenseElementsAttr.
    It picks the class by element type instead of trying each: a failed cast's ValueError prints the whole
    attribute into its message (33 MB for a 16 MB int8 weight; 3.5 s per walk over an int8 8x1024 model)."""
    element = mlir.ShapedType(attr.type).element_type
    if isinstance(element, mlir.FloatType):
        return mlir.DenseFPElementsAttr(attr)
    if isinstance(element, (mlir.IntegerType, mlir.IndexType)):
        return mlir.DenseIntElementsAttr(attr)
    return mlir.DenseElementsAttr(attr)


def _register_dense_caster() -> None:
    with mlir.Context() as ctx:  # builtin alone knows dense attributes; only the TypeID is wanted
        typeid = mlir.Attribute.parse("dense<0> : tensor<i32>", ctx).typeid
    _mlir_bindings.register_type_caster(typeid, replace=True)(_dense_caster)


_register_dense_caster()


def downcast(attr):
    """The most specific attribute class. `maybe_downcast` does not know resource attributes, nor dense
    attributes of element types the bindings have no class for (complex), so try those by hand."""
    try:
        attr = attr.maybe_downcast()
    except TypeError:
        pass
    if type(attr) is mlir.Attribute:
        for cls in (mlir.DenseResourceElementsAttr, mlir.DenseElementsAttr):
            try:
                return cls(attr)
            except ValueError:
                continue
    return attr


def to_numpy(attr, *, copy: bool = True) -> np.ndarray:
    """The elements of a `dense<...>` or `dense_resource<...>` attribute as a numpy array.

    Resource data comes back read-only either way: a blob `from_numpy(resource=...)` made over an array is a
    view of that array (the blob is that memory; a copy would only snapshot what the module shares anyway),
    any other is copied out of MLIR once (the bindings give no view of it). Dense data of the common types
    comes through the buffer protocol, copied unless `copy=False`, which gives a read-only view of the
    attribute's own storage (what a writer streaming it to a file wants: no second copy of a weight).
    """
    attr = downcast(attr)
    stype = mlir.ShapedType(attr.type)
    shape, dtype = tuple(stype.shape), np_dtype(stype.element_type)
    if isinstance(attr, mlir.DenseResourceElementsAttr):
        backing = _backing_array(attr, shape, dtype)
        if backing is not None:
            return backing
        raw = _resource_blob(attr)
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if raw.nbytes != need:  # a module built in memory: loading checks this with a location
            raise HloError(f"{str(attr).split(' : ')[0]} holds {raw.nbytes} bytes, but its type {stype} needs {need}")
        return np.frombuffer(raw, dtype if dtype != np.bool_ else np.uint8).astype(dtype, copy=False).reshape(shape)
    if not isinstance(attr, mlir.DenseElementsAttr):
        raise HloError(f"not a dense elements attribute: {attr}")
    if dtype in _BUFFER_DTYPES:
        return np.array(attr, dtype=dtype, copy=True if copy else None).reshape(shape)
    return _parse_dense_text(attr, dtype, shape)


def from_numpy(array, *, type=None, resource: str | None = None) -> mlir.Attribute:
    """An elements attribute holding `array` (needs an active context).

    With `resource=NAME` the result is a `dense_resource` that references the array's memory without a
    copy (MLIR keeps the array alive): the way to attach hundreds of MB of weights cheaply.
    """
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # (np.ascontiguousarray would also turn rank 0 into rank 1)
        array = array.copy(order="C")
    ttype = type or tensor_type(array.shape, array.dtype)
    if type is not None:  # the bytes are laid out from the array: a different shape or dtype is garbage
        shaped = mlir.ShapedType(type)
        given = str(shaped.element_type)
        if (given in _DTYPES and np_dtype(shaped.element_type) != array.dtype) or \
                (shaped.has_rank and tuple(shaped.shape) != array.shape):
            raise HloError(f"from_numpy: type {type} does not fit a {array.dtype.name} array of shape "
                           f"{list(array.shape)}")
    if resource is not None:
        buf = array.view(np.uint8) if array.dtype == np.bool_ else array
        attr = mlir.DenseResourceElementsAttr.get_from_buffer(buf, resource, ttype)
        element = mlir.ShapedType(ttype).element_type
        if known_dtype(element) == array.dtype:  # (else bytes of another type)
            _BACKING.setdefault(attr.context, {})[_blob_key(attr)] = array
        return attr
    if array.ndim == 0:  # the buffer route cannot say "rank 0" (an empty shape means "no override")
        raw = array.astype(np.uint8) if array.dtype == np.bool_ else array
        return mlir.Attribute.parse(f'dense<"0x{raw.tobytes().hex().upper()}"> : {ttype}')
    if array.dtype in _BUFFER_DTYPES:
        return mlir.DenseElementsAttr.get(array, type=ttype.element_type, shape=list(array.shape))
    bits = array.view(np.dtype(f"u{array.dtype.itemsize}")) if array.dtype.kind != "c" else array
    return mlir.DenseElementsAttr.get(bits, type=ttype.element_type, shape=list(array.shape))


def splat(value, type) -> mlir.Attribute:
    """A splat elements attribute of tensor `type` holding the scalar `value`, nothing materialized."""
    ttype = mlir.RankedTensorType(type)
    et = ttype.element_type
    dtype = np_dtype(et)
    if dtype == np.bool_:
        element = mlir.BoolAttr.get(bool(value))
    elif dtype.kind in "iu" or dtype in (np.dtype(ml_dtypes.int4), np.dtype(ml_dtypes.uint4)):
        element = mlir.IntegerAttr.get(et, int(value))
    elif dtype.kind == "c":
        return from_numpy(np.full(ttype.shape, value, dtype), type=ttype)
    else:
        element = mlir.FloatAttr.get(et, float(value))
    return mlir.DenseElementsAttr.get_splat(ttype, element)


def _tensor_constant(op) -> bool:
    return op.name == "arith.constant" and isinstance(op.results[0].type, mlir.RankedTensorType)


def _portable_copy(module):
    """`module`, or a copy of it in the form VHLO can hold: `dense_resource` weights inline (VHLO has no
    resources) and tensor `arith.constant`s (torch-mlir mixes them in) as `stablehlo.constant`s. One walk
    decides; the caller's module is never changed."""
    holders, constants = [], []

    def visit(op):
        if _tensor_constant(op):
            constants.append(op)
        attrs = op.attributes
        if any(isinstance(downcast(attrs[i].attr), mlir.DenseResourceElementsAttr) for i in range(len(attrs))):
            holders.append(op)
        return mlir.WalkResult.ADVANCE

    _op(module).walk(visit)
    if not holders and not constants:
        return module
    copy = _op(module).clone(ip=False)
    inline_resources(copy)
    if constants:
        found = []
        copy.walk(lambda op: (found.append(op) if _tensor_constant(op) else None) or mlir.WalkResult.ADVANCE)
        for op in found:
            with mlir.InsertionPoint(op), op.location:
                new = stablehlo.ConstantOp(op.attributes["value"])
            op.results[0].replace_all_uses_with(new.result)
            op.erase()
    return copy


def inline_resources(module) -> int:
    """Replace every `dense_resource` attribute of the module's ops by a `dense` one (XLA accepts only
    those). Mutates `module`; returns how many were replaced."""
    count = 0

    def visit(op):
        nonlocal count
        attrs = op.attributes
        for name in list(attrs):  # iterating an attribute map yields the names
            attr = attrs[name]
            if isinstance(downcast(attr), mlir.DenseResourceElementsAttr):
                with op.context:
                    attrs[name] = from_numpy(to_numpy(attr), type=attr.type)
                count += 1
        return mlir.WalkResult.ADVANCE

    _op(module).walk(visit)
    return count


