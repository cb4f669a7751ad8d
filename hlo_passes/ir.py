"""The only door to jaxlib's MLIR bindings.

Everything else in hlo_passes imports MLIR through here (`from hlo_passes.ir import mlir, stablehlo`), so
that the private corners of jaxlib we rely on (the dialect registry hook, the bytecode layout of resource
blobs) sit in one file and a jaxlib upgrade is checked in one place.

What lives here and why:
- `make_context()`: a bare `Context()` knows only `builtin`; JAX's registry hook adds the rest.
- `load` / `save`: MLIR text, MLIR bytecode and VHLO portable artifacts (what `jax.export` writes), told
  apart by their first bytes. `save` never mutates the module it is given and writes files atomically.
- `to_numpy` / `from_numpy`: constants in both `dense<...>` and `dense_resource<...>` form. jaxlib has no
  reader for resource blobs, so we write the constant alone as bytecode (where the blob is stored raw)
  and take the bytes from its resource section: ~0.4 s for 256 MB, ten times faster than going via text.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from pathlib import Path

import ml_dtypes
import numpy as np
from jaxlib.mlir import ir as mlir
from jaxlib.mlir import passmanager
from jaxlib.mlir._mlir_libs import _jax_mlir_ext
from jaxlib.mlir._mlir_libs import _mlir as _mlir_bindings  # private: type casters
from jaxlib.mlir._mlir_libs._mlir import rewrite as _rewrite  # private: MLIR's greedy driver for Python
from jaxlib.mlir.dialects import arith, chlo, func, stablehlo

from . import files, resources, safe_parse
from .diagnostics import HloError, SourceLoc

__all__ = [
    "mlir", "stablehlo", "chlo", "func", "arith", "passmanager", "MLIRError",
    "make_context", "load", "parse", "save", "clone", "as_operation", "to_numpy", "from_numpy",
    "np_dtype", "element_type", "inline_resources", "error_from_mlir", "module_ops", "downcast",
    "apply_greedily", "NotConverged",
]

MLIRError = mlir.MLIRError
_BYTECODE_MAGIC = b"ML\xefR"
_PASSES_REGISTERED = False
FORMATS = ("text", "bytecode", "portable")


def make_context() -> mlir.Context:
    """A context that knows every dialect JAX and torch-mlir emit (stablehlo, chlo, sdy, func, arith...).

    Each loaded module gets its own context: MLIR renames a resource blob whose name is already taken in
    the context (`w` becomes `w_1`), so sharing one context would quietly rename weights.
    """
    global _PASSES_REGISTERED
    registry = mlir.DialectRegistry()
    _jax_mlir_ext.register_dialects(registry)
    ctx = mlir.Context()
    ctx.append_dialect_registry(registry)
    ctx.load_all_available_dialects()
    stablehlo.register_dialect(ctx)
    chlo.register_dialect(ctx)
    if not _PASSES_REGISTERED:  # process-global in MLIR: registering twice aborts
        stablehlo.register_stablehlo_passes()
        _PASSES_REGISTERED = True
    return ctx


# ----------------------------------------------------------------------------------------------- errors

class captured_stderr:
    """Capture what C++ writes to file descriptor 2 (MLIR's option parser reports there, not through
    diagnostics) so that it can become part of one clean error message instead of stray lines."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace").strip()
        self._file.close()
        return False


def error_from_mlir(err: Exception, filename: str | None = None, what: str | None = None) -> HloError:
    """Turn an `MLIRError` into one `HloError` located at its first diagnostic."""
    diags = list(getattr(err, "error_diagnostics", []) or [])
    if not diags:
        text = str(err).strip()
        return HloError(f"{what}: {text}" if what else text)
    first = diags[0]
    loc = SourceLoc.parse(str(first.location), filename)
    notes = []
    for d in [*first.notes, *diags[1:]]:
        dloc = SourceLoc.parse(str(d.location), filename)
        notes.append(f"{dloc}: {d.message}" if dloc else d.message)
    message = first.message if not what else f"{what}: {first.message}"
    return HloError(message, loc, tuple(notes))


# ------------------------------------------------------------------------------------------ load / save

def _portable_producer(data: bytes) -> bool:
    """True for bytecode written by StableHLO's portable-artifact serializer (producer `StableHLO_v...`)."""
    # header: magic, version (prefix varint, one byte for every version so far), NUL-terminated producer
    return data[:4] == _BYTECODE_MAGIC and data[5:16] == b"StableHLO_v"


def _embedded_artifact(data: bytes) -> bytes | None:
    """The VHLO artifact inside a serialized `jax.export.Exported` (a flatbuffer with no file identifier).

    Flatbuffer byte vectors are prefixed by their uint32 length, so the artifact is found by its magic and
    producer and cut out by that length; no need to import jax to read the wrapper.
    """
    if data[:4] == _BYTECODE_MAGIC:
        return None
    at = data.find(_BYTECODE_MAGIC)
    while at >= 4:
        size = int.from_bytes(data[at - 4:at], "little")
        if _portable_producer(data[at:at + 16]) and at + size <= len(data):
            return data[at:at + size]
        at = data.find(_BYTECODE_MAGIC, at + 1)
    return None


def is_binary(data: bytes) -> bool:
    """MLIR bytecode (portable artifacts included), as opposed to text."""
    return data[:4] == _BYTECODE_MAGIC


def parse(data: str | bytes, *, filename: str = "-", context: mlir.Context | None = None) -> mlir.Module:
    """Parse MLIR text, MLIR bytecode or a VHLO portable artifact held in memory (any bytes at all: see
    `checked_parse`)."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return checked_parse(raw, filename, context)


def checked_parse(raw: bytes, filename: str, context: mlir.Context | None = None,
                  path: str | None = None) -> mlir.Module:
    """Parse untrusted bytes so that no byte string can take the process down (see safe_parse.py): text
    is checked here first (UTF-8, strings, nesting) and parsed on a deep stack; binary inputs are read
    once in a forked child before they are read here. `path`: text whose file C++ reads again by name, so
    that locations carry the file's name."""
    if b"\0" in raw[:64]:  # a wrapper (flatbuffers start with offsets); text never has NULs up front
        raw = _embedded_artifact(raw) or raw
    if is_binary(raw):
        safe_parse.check_in_child(lambda: _check_binary(raw, filename), filename,
                                  spawn_args=[filename], data=raw)
        path = None
    else:
        safe_parse.check_text(raw, filename)
    module = _parse_checked(raw, filename, context or make_context(), path)
    if not is_binary(raw):
        resources.check_text(module, raw, filename)
    elif not _portable_producer(raw):
        sizes = resources.bytecode_blob_sizes(raw)
        if sizes:
            resources.check_module(module, sizes, filename)
    return module


def _check_binary(raw: bytes, filename: str) -> None:
    """What the child does with a binary input (also `safe_parse._child_main`'s work)."""
    ctx = make_context()
    ctx.enable_multithreading(False)  # a forked child has none of the parent's pool threads
    safe_parse.check_module(_parse_checked(raw, filename, ctx, None), filename)


def _deserialize(ctx: mlir.Context, raw: bytes, filename: str) -> mlir.Module:
    """A VHLO artifact's reader, whose reasons (`invalid section ID: 103`) go only to C++'s stderr: they
    become the one error message instead of stray `loc("-":0:0): error:` lines before it."""
    with captured_stderr() as cpp:
        try:
            return stablehlo.deserialize_portable_artifact(ctx, raw)
        except (MLIRError, ValueError, RuntimeError) as e:
            failure = str(e)
    reasons = [re.sub(r"^(loc\(.*?\):\s*)?error:\s*", "", line.strip()) for line in cpp.text.splitlines()]
    why = "; ".join(dict.fromkeys(r for r in reasons if r)) or failure
    raise HloError(f"cannot read portable artifact: {why}", SourceLoc(filename, 1, 1))


BACKEND_DIALECTS = ("tfl",)  # unregistered dialects our backends emit (legalize-tflite's ops)


def _allow_backend_ops(ctx: mlir.Context, raw: bytes) -> bool:
    """A legalized module holds `tfl.*` ops, a dialect jaxlib does not know: let the context take them (and
    only them: `_refuse_unknown_dialects` checks after the parse). A cheap byte search decides."""
    if any(name.encode() in raw for name in BACKEND_DIALECTS):
        ctx.allow_unregistered_dialects = True
        return True
    return False


def _refuse_unknown_dialects(module, filename: str) -> None:
    """With unregistered ops allowed, an op of any unknown dialect would parse: only ours may."""
    bad = []

    def visit(op):
        if not op.context.is_registered_operation(op.name) and op.name.split(".", 1)[0] not in BACKEND_DIALECTS:
            bad.append(op)
            return mlir.WalkResult.INTERRUPT
        return mlir.WalkResult.ADVANCE

    as_operation(module).walk(visit)
    if bad:
        op = bad[0]
        raise HloError(f"operation '{op.name}' is of an unknown dialect (this build knows stablehlo, chlo, func,"
                       f" arith, ... and the backends' {', '.join(BACKEND_DIALECTS)})",
                       SourceLoc.parse(str(op.location), filename))


def _parse_checked(raw: bytes, filename: str, ctx: mlir.Context, path: str | None) -> mlir.Module:
    """The bindings' reader, on bytes that passed `checked_parse`'s checks."""
    if _allow_backend_ops(ctx, raw):
        module = _parse_checked_inner(raw, filename, ctx, path)
        _refuse_unknown_dialects(module, filename)
        return module
    return _parse_checked_inner(raw, filename, ctx, path)


def _parse_checked_inner(raw: bytes, filename: str, ctx: mlir.Context, path: str | None) -> mlir.Module:
    try:
        if _portable_producer(raw):
            return _deserialize(ctx, raw, filename)
        if is_binary(raw):  # the bytecode reader needs no deep stack, and a corrupt file can make it recurse
            return mlir.Module.parse(raw, ctx)  # without end: that must overflow soon, in the child
        if path is not None:  # C++ reads the file: locations carry its name
            return safe_parse.deep_stack(lambda: mlir.Module.parseFile(path, ctx))
        return safe_parse.deep_stack(lambda: mlir.Module.parse(raw, ctx))
    except MLIRError as e:
        raise error_from_mlir(e, filename) from None
    except (ValueError, RuntimeError) as e:  # the artifact reader reports with plain exceptions
        raise HloError(f"cannot read portable artifact: {e}", SourceLoc(filename, 1, 1)) from None


file_error = files.file_error  # moved to files.py (no MLIR needed); kept here for old callers


def load(source: str | os.PathLike | bytes, *, context: mlir.Context | None = None) -> mlir.Module:
    """Load a module from a path (or from bytes already read): text, bytecode or portable artifact."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse(bytes(source), context=context)
    name = str(source)
    regular = files.regular_input(name)  # a FIFO or a device is read once, never again by name
    raw = files.read_input(name)
    return checked_parse(raw, name, context, name if regular else None)


def as_operation(module) -> mlir.Operation:
    """The `builtin.module` operation of a Module or of an Operation/OpView."""
    if isinstance(module, mlir.Module):
        return module.operation
    return getattr(module, "operation", module)


def clone(module) -> mlir.Operation:
    """A detached deep copy of a module (attributes, and so weights, are shared: they are immutable)."""
    return as_operation(module).clone(ip=False)


def module_ops(module) -> list[mlir.Operation]:
    """The operations at the top level of a module (functions, globals)."""
    return list(as_operation(module).regions[0].blocks[0].operations)


def to_text(module, *, debuginfo: bool = False, generic: bool = False, elide_above: int | None = None,
            verified: bool = False) -> str:
    return _print(module, debuginfo, generic, elide_above, verified).decode()


def _print(module, debuginfo: bool, generic: bool, elide_above: int | None, verified: bool) -> bytes:
    """Printed straight to bytes. `verified` skips the printer's own verifier run (a quarter of the time)
    for a module the caller has just verified; an unverified invalid module prints in generic form."""
    buf = io.BytesIO()
    as_operation(module).print(
        file=buf, binary=True, enable_debug_info=debuginfo, print_generic_op_form=generic,
        large_elements_limit=elide_above, assume_verified=verified)
    return buf.getvalue()


def to_bytecode(module) -> bytes:
    buf = io.BytesIO()
    as_operation(module).write_bytecode(buf)
    return buf.getvalue()


def _check_target_version(version: str) -> str:
    current, minimum = stablehlo.get_current_version(), stablehlo.get_minimum_version()
    if version in ("current", ""):
        return current
    if version == "minimum":
        return minimum
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise HloError(f"target version '{version}' is not of the form X.Y.Z (this build: {minimum} to {current})")

    def key(v):
        return tuple(int(p) for p in v.split("."))

    if not key(minimum) <= key(version) <= key(current):
        raise HloError(f"target version {version} is outside what this build can write ({minimum} to {current})")
    return version


def serialize(module, format: str = "text", *, target_version: str = "current",
              debuginfo: bool = False, generic: bool = False, verified: bool = False) -> bytes:
    """The module as bytes in `format`; the module itself is left as it was."""
    if format == "text":
        return _print(module, debuginfo, generic, None, verified)
    if format == "bytecode":
        return to_bytecode(module)
    if format == "portable":
        version = _check_target_version(target_version)
        module = _portable_copy(module)
        with captured_stderr() as cpp:  # the serializer reports why only on C++'s stderr
            try:  # the _str variant parses a copy; the Module variant would rewrite ours into VHLO in place
                return stablehlo.serialize_portable_artifact_str(to_bytecode(module), version)
            except (MLIRError, ValueError, RuntimeError) as e:
                failure = str(e)
        why = " ".join(cpp.text.replace('loc("-":0:0): ', "").split()) or failure
        m = re.search(r"dialect '([\w.]+)' is unknown", why)
        if m:  # the serializer's words are about contexts and command-line flags: say what it means here
            why = f"the module holds {m.group(1)} ops other than tensor constants"
        raise HloError(f"cannot write a portable artifact (VHLO has forms for stablehlo, chlo and func ops"
                       f" only): {why}")
    raise HloError(f"unknown output format '{format}' (expected one of {', '.join(FORMATS)})")


write_atomic = files.write_atomic  # moved to files.py (modes, symlinks, signals, protected inputs)


def save(module, path: str | os.PathLike | None = None, *, format: str = "text", target_version: str = "current",
         debuginfo: bool = False, generic: bool = False) -> bytes | None:
    """Save `module` to `path` atomically, or return its bytes when `path` is None."""
    data = serialize(module, format, target_version=target_version, debuginfo=debuginfo, generic=generic)
    if path is None:
        return data
    write_atomic(path, data)
    return None


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


def np_dtype(element_type) -> np.dtype:
    """numpy dtype of an MLIR element type (ml_dtypes for bf16, fp8 and int4)."""
    name = str(element_type)
    if name not in _DTYPES:
        raise HloError(f"element type {name} has no numpy counterpart")
    return np.dtype(_DTYPES[name])


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


def _resource_blob(attr) -> memoryview:
    """The raw bytes of a dense_resource attribute, read from the bytecode of a constant that holds it."""
    with attr.context, mlir.Location.unknown():
        op = mlir.Operation.create("stablehlo.constant", results=[attr.type], attributes={"value": attr},
                                    ip=False)  # never into a block that has an insertion point active
    buf = io.BytesIO()
    op.write_bytecode(buf)
    data = memoryview(buf.getbuffer())
    pos = 4
    _, pos = _varint(data, pos)  # version
    pos = bytes(data[pos:pos + 256]).index(b"\0", 0) + pos + 1  # producer string
    while pos < len(data):
        code = data[pos]
        pos += 1
        length, pos = _varint(data, pos)
        if code & 0x80:  # aligned section: alignment varint then 0xCB padding up to it
            align, pos = _varint(data, pos)
            while pos % align:
                pos += 1
        if code & 0x7F == _RESOURCE_SECTION:
            section = data[pos:pos + length]
            _, p = _varint(section, 0)  # blob alignment
            size, _ = _varint(section, p)
            if size == 0:
                break
            return section[length - size:]
        pos += length
    raise HloError(f"resource {str(attr)!r} has no data (its blob was elided or never attached)")


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
    (a C++ callback) it aborts the process. This one falls back to the generic DenseElementsAttr."""
    for cls in (mlir.DenseFPElementsAttr, mlir.DenseIntElementsAttr):
        try:
            return cls(attr)
        except ValueError:
            continue
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


def to_numpy(attr) -> np.ndarray:
    """The elements of a `dense<...>` or `dense_resource<...>` attribute as a numpy array.

    Resource data is copied out of MLIR (the bindings give no view of it); dense data of the common types
    comes through the buffer protocol.
    """
    attr = downcast(attr)
    stype = mlir.ShapedType(attr.type)
    shape, dtype = tuple(stype.shape), np_dtype(stype.element_type)
    if isinstance(attr, mlir.DenseResourceElementsAttr):
        raw = _resource_blob(attr)
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if raw.nbytes != need:  # a module built in memory: loading checks this with a location
            raise HloError(f"{str(attr).split(' : ')[0]} holds {raw.nbytes} bytes, but its type {stype} needs {need}")
        return np.frombuffer(raw, dtype if dtype != np.bool_ else np.uint8).astype(dtype, copy=False).reshape(shape)
    if not isinstance(attr, mlir.DenseElementsAttr):
        raise HloError(f"not a dense elements attribute: {attr}")
    if dtype in _BUFFER_DTYPES:
        return np.array(attr, dtype=dtype, copy=True).reshape(shape)
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
        return mlir.DenseResourceElementsAttr.get_from_buffer(buf, resource, ttype)
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

    as_operation(module).walk(visit)
    if not holders and not constants:
        return module
    copy = clone(module)
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

    as_operation(module).walk(visit)
    return count


# ------------------------------------------------------------------------------------- rewrite driver

class NotConverged(Exception):
    """MLIR's greedy driver gave up: rewrites were still happening after `max_iterations` sweeps."""


def apply_greedily(module, rules, *, max_iterations: int = 10, fold: bool = True, top_down: bool = True,
                   max_rewrites: int | None = None) -> None:
    """Apply `rules` (root op name, fn, benefit) to a fixpoint with MLIR's greedy driver.

    `fn(op)` only matches: it returns None when nothing applies, else a `rewrite()` thunk that runs with
    the insertion point before `op` and `op`'s location active and returns the values that replace
    `op`'s results. The driver owns the worklist, erases ops that become dead, folds ops with registered
    folders (`fold`) and dedups constants. It lives in jaxlib's private `_mlir.rewrite`; this function is
    the one place that knows that.

    Ops built from Python go straight back on the driver's worklist, so a pair of patterns that undo each
    other would loop forever inside one sweep: `max_rewrites` (default 16 per op, at least 10k) bounds
    the rewrites of one call, and both bounds end in `NotConverged`.
    """
    def wrap(fn):
        def callback(op, rewriter):
            rewrite = fn(op)
            if rewrite is None:
                return True  # "failure": the pattern did not apply
            with rewriter.ip, op.location:
                out = rewrite()
            rewriter.replace_op(op, list(out))
            return False
        return callback

    op = as_operation(module)
    if max_rewrites is None:
        count = [0]

        def visit(_):
            count[0] += 1
            return mlir.WalkResult.ADVANCE

        op.walk(visit)
        max_rewrites = max(10_000, 16 * count[0])
    with op.context:
        patterns = _rewrite.RewritePatternSet()
        for root, fn, benefit in rules:
            patterns.add(root, wrap(fn), benefit)
        config = _rewrite.GreedyRewriteConfig()
        config.max_iterations = max_iterations
        config.enable_folding = fold
        config.use_top_down_traversal = top_down
        config.max_num_rewrites = max_rewrites
        try:
            _rewrite.apply_patterns_and_fold_greedily(op, patterns.freeze(), config)
        except RuntimeError as e:
            if "converge" in str(e):
                raise NotConverged(str(e)) from None
            raise


# ------------------------------------------------------------------------------------------ guards

def _guarded_erase(self, _erase=mlir._OperationBase.erase):
    """`op.erase()` that refuses while a result of `op` still has uses.

    MLIR frees the op and leaves its users pointing at freed memory: the process dies later, at the next
    verify or print, far from the pass that did it (a SIGSEGV, no message). One bad line in a user's pass
    must end in an error that names the op, not in a dead `hlo-opt`.
    """
    for i, result in enumerate(self.results):
        users = [use.owner for use in result.uses]
        if users:
            first = users[0]
            first = getattr(first, "operation", first)
            raise RuntimeError(
                f"cannot erase {self.name} at {self.location}: its result #{i} still has {len(users)} use(s)"
                f" (first: {first.name}); replace its uses (value.replace_all_uses_with) before erasing it")
    _erase(self)


mlir._OperationBase.erase = _guarded_erase
