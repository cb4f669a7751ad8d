"""Writing `.tflite` models: subgraphs of tensors and operators, signatures, and weights stored once.

A `ModelWriter` collects what the legalization produces and packs it with LiteRT's own schema module
(object API + `flatbuffers`). Two things it does that a naive writer would not:

- Weights are deduplicated by content: the prefill and decode signatures of one model (two subgraphs)
  reference the same buffer for the same parameter, so the file holds each weight once.
- Weights above `external_threshold` bytes are not copied into the flatbuffer. They are written after it and
  referenced by `Buffer.offset/size` (absolute file offsets, 64-byte aligned), streamed from the numpy
  arrays that hold them: peak memory stays near the weight bytes themselves, and the flatbuffer stays far
  below its 2 GB limit whatever the model size.

The offsets depend on the flatbuffer's length, and the length does not depend on the offsets' values
(fixed-width fields, present either way), so the model is packed once with placeholders to measure it and
once with the real offsets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import flatbuffers
import numpy as np

from ..diagnostics import HloError
from . import schema
from .schema import fb

_ALIGN = 64  # external weights start on 64-byte boundaries (XNNPACK and mmap-friendly)
EXTERNAL_THRESHOLD = 1 << 16


@dataclass(frozen=True)
class Quantization:
    """Per-tensor (one scale) or per-axis quantization parameters of an int8/int4 tensor."""

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    def to_fb(self):
        q = fb.QuantizationParametersT()
        # numpy vectors, which the schema's Pack copies in one piece; Python lists cost a Prepend call per
        # element per pack (the int8 8x1024 write: 1.0-1.4 s with lists, 0.4 s with arrays)
        q.scale = np.ascontiguousarray(self.scale, np.dtype("<f4")).reshape(-1)
        q.zeroPoint = np.ascontiguousarray(self.zero_point, np.dtype("<i8")).reshape(-1)
        q.quantizedDimension = int(self.axis)
        return q


@dataclass(frozen=True)
class BlockwiseQuantization:
    """Block-wise parameters of an int4 weight: `scales` is the index of a float16 tensor holding one scale
    per `block` elements along the weight's last axis (LiteRT reads it that way: quantized dimension 0 are
    the output channels); no zero points (symmetric)."""

    scales: int
    block: int

    def to_fb(self):
        q = fb.QuantizationParametersT()
        d = fb.BlockwiseQuantizationT()
        d.scales, d.zeroPoints, d.blockSize = int(self.scales), -1, int(self.block)
        q.detailsType, q.details = fb.QuantizationDetails.BlockwiseQuantization, d
        q.quantizedDimension = 0
        return q


def pack_int4(array: np.ndarray) -> np.ndarray:
    """int4 values two to a byte, the first in the low nibble (TFLite's INT4 layout)."""
    flat = np.asarray(array).reshape(-1).astype(np.int8).view(np.uint8) & 0x0F
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


@dataclass
class _Buffer:
    array: np.ndarray | None  # C-contiguous; its bytes are the buffer (None: read again when written)
    external: bool
    nbytes: int
    load: Callable[[], np.ndarray] | None = None

    def data(self) -> np.ndarray:
        array = self.array if self.array is not None else np.ascontiguousarray(self.load())
        if array.nbytes != self.nbytes:
            raise HloError(f"internal: a weight read back with {array.nbytes} bytes, not {self.nbytes}")
        return array.view(np.uint8).reshape(-1) if array.size else np.zeros(0, np.uint8)


@dataclass
class Subgraph:
    """One subgraph under construction: tensors by index, operators in execution order."""

    writer: "ModelWriter"
    name: str
    index: int
    tensors: list = field(default_factory=list)
    operators: list = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def tensor(self, shape, dtype, name: str, *, buffer: int = 0, quantization: Quantization | None = None,
               variable: bool = False) -> int:
        t = fb.TensorT()
        t.shape = [int(d) for d in shape]
        t.type = schema.tensor_type(dtype)
        t.buffer = buffer
        t.name = self.writer.unique_name(name if self.index == 0 else f"{self.name}/{name}")
        t.hasRank = True
        t.isVariable = variable
        if quantization is not None:
            t.quantization = quantization.to_fb()
        self.tensors.append(t)
        return len(self.tensors) - 1

    def constant(self, array, name: str, *, quantization: Quantization | None = None,
                 reload: Callable[[], np.ndarray] | None = None) -> int:
        """A tensor holding `array` (its buffer shared with every identical array in the model). With
        `reload`, a large array is not kept: it is read again when the file is written."""
        array = np.asarray(array)
        if str(array.dtype) == "int4":  # stored packed; the tensor keeps its shape and type
            return self.tensor(array.shape, array.dtype, name, buffer=self.writer.buffer(pack_int4(array)),
                               quantization=quantization)
        return self.tensor(array.shape, array.dtype, name, buffer=self.writer.buffer(array, reload),
                           quantization=quantization)

    def constant_lazy(self, key, shape, dtype, nbytes: int, name: str, load: Callable[[], np.ndarray], *,
                      quantization: Quantization | BlockwiseQuantization | None = None) -> int:
        """A constant tensor whose bytes are read only when the file is written (`load()`), deduplicated by
        `key` instead of by content: a weight the module holds as a named resource is never copied twice."""
        return self.tensor(shape, dtype, name, buffer=self.writer.lazy_buffer(key, nbytes, load),
                           quantization=quantization)

    def op(self, name: str, inputs, outputs, *, options=None, custom: str | None = None,
           custom_options: bytes | None = None, version: int = 1) -> None:
        """Append an operator. `options` is `schema.options(...)`'s triple; `-1` in inputs = omitted."""
        o = fb.OperatorT()
        code = schema.builtin("CUSTOM") if custom is not None else schema.builtin(name)
        o.opcodeIndex = self.writer.opcode(code, custom, version)
        o.inputs = [int(i) for i in inputs]
        o.outputs = [int(i) for i in outputs]
        if options is not None:
            union_no, tag, obj = options
            if union_no == 1:
                o.builtinOptionsType, o.builtinOptions = tag, obj
            else:
                o.builtinOptions2Type, o.builtinOptions2 = tag, obj
        if custom_options is not None:
            o.customOptions = np.frombuffer(custom_options, np.uint8)
            o.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS
        self.operators.append(o)

    def to_fb(self):
        s = fb.SubGraphT()
        s.name = self.name
        s.tensors = self.tensors
        s.operators = self.operators
        s.inputs = list(self.inputs)
        s.outputs = list(self.outputs)
        return s


class ModelWriter:
    """Build a model: `sg = w.subgraph("main")`, tensors and ops on it, `w.signature(...)`, `w.write(path)`."""

    def __init__(self, description: str = "hlo_passes", external_threshold: int = EXTERNAL_THRESHOLD):
        self.description = description
        self.external_threshold = external_threshold
        self.subgraphs: list[Subgraph] = []
        self.buffers: list[_Buffer | None] = [None]  # buffer 0: the empty sentinel every schema reader expects
        self._by_content: dict[tuple, int] = {}
        self.opcodes: list = []
        self._opcode_index: dict[tuple, int] = {}
        self.signatures: list = []
        self._names: set[str] = set()

    # ---------------------------------------------------------------------------------------- building

    def subgraph(self, name: str) -> Subgraph:
        sg = Subgraph(self, name, len(self.subgraphs))
        self.subgraphs.append(sg)
        return sg

    def buffer(self, array, reload: Callable[[], np.ndarray] | None = None) -> int:
        """The index of a buffer holding `array`'s bytes; identical bytes get the same buffer. A large
        array with a `reload` is hashed now and read again at write time, so that the writer never holds
        all the weights at once (the module holds them already)."""
        array = np.ascontiguousarray(array)
        raw = array.view(np.uint8).reshape(-1) if array.size else np.zeros(0, np.uint8)
        key = (raw.size, hashlib.blake2b(raw.data, digest_size=16).digest())
        if key not in self._by_content:
            self._by_content[key] = len(self.buffers)
            external = raw.size >= self.external_threshold
            lazy = external and reload is not None
            self.buffers.append(_Buffer(None if lazy else array, external, raw.size, reload if lazy else None))
        return self._by_content[key]

    def unique_name(self, name: str) -> str:
        """Tensor names unique in the whole model (tools such as ai-edge-quantizer key tensors by name)."""
        candidate, k = name, 0
        while candidate in self._names:
            k += 1
            candidate = f"{name}_{k}"
        self._names.add(candidate)
        return candidate

    def lazy_buffer(self, key, nbytes: int, load: Callable[[], np.ndarray]) -> int:
        """A buffer read at write time, shared by everything with the same `key`."""
        key = ("lazy", key)
        if key not in self._by_content:
            self._by_content[key] = len(self.buffers)
            external = nbytes >= self.external_threshold
            self.buffers.append(_Buffer(None if external else np.ascontiguousarray(load()), external, nbytes,
                                        load if external else None))
        return self._by_content[key]

    def opcode(self, code: int, custom: str | None = None, version: int = 1) -> int:
        key = (code, custom, version)
        if key not in self._opcode_index:
            self._opcode_index[key] = len(self.opcodes)
            self.opcodes.append(schema.operator_code(code, custom, version))
        return self._opcode_index[key]

    def signature(self, key: str, subgraph: Subgraph, inputs: dict[str, int], outputs: dict[str, int]) -> None:
        """A named entry point: input and output names mapped to tensors of `subgraph`."""
        if any(s.signatureKey == key for s in self.signatures):
            raise HloError(f"two signatures named '{key}'")
        sig = fb.SignatureDefT()
        sig.signatureKey = key
        sig.subgraphIndex = subgraph.index
        sig.inputs = [_tensor_map(name, index) for name, index in inputs.items()]
        sig.outputs = [_tensor_map(name, index) for name, index in outputs.items()]
        self.signatures.append(sig)

    # ----------------------------------------------------------------------------------------- packing

    def _model(self, offsets: dict[int, int]):
        m = fb.ModelT()
        m.version = schema.SCHEMA_VERSION
        m.description = self.description
        m.operatorCodes = self.opcodes
        m.subgraphs = [sg.to_fb() for sg in self.subgraphs]
        m.signatureDefs = self.signatures
        m.buffers = []
        for i, buf in enumerate(self.buffers):
            b = fb.BufferT()
            if buf is not None:
                if buf.external:
                    b.offset, b.size = offsets.get(i, 1), buf.nbytes
                else:
                    b.data = buf.data()
            m.buffers.append(b)
        return m

    @staticmethod
    def _pack(model, size: int = 1024) -> memoryview:
        """The packed flatbuffer, a view into the builder's own buffer. Why not `bytes(builder.Output())`:
        `Output()` slices (a copy) and `bytes` copies again, and a builder started small doubles its way up
        (a copy per doubling): with the int8 8x1024 model's 3.4 MB of tables, quantization parameters and
        small weights, packing twice that way was ~10 MB of the write's transient peak."""
        builder = flatbuffers.Builder(size)
        builder.Finish(model.Pack(builder), file_identifier=schema.FILE_IDENTIFIER)
        return memoryview(builder.Bytes)[builder.Head():]

    def chunks(self) -> Iterator[bytes | memoryview]:
        """The file as a sequence of chunks: the flatbuffer, then each external weight (aligned)."""
        externals = [i for i, b in enumerate(self.buffers) if b is not None and b.external]
        head = self._pack(self._model({}))
        if not externals:
            yield head
            return
        length = len(head)
        del head  # (its builder goes with it before the second one is made)
        offsets, pos = {}, _aligned(length)
        for i in externals:
            offsets[i] = pos
            pos = _aligned(pos + self.buffers[i].nbytes)
        final = self._pack(self._model(offsets), size=length + 64)  # (room for it all: no doubling)
        if len(final) != length:  # cannot happen with fixed-width offsets; never write a wrong file
            raise HloError("internal: the flatbuffer changed length when its buffer offsets were filled in")
        yield final
        written = len(final)
        for i in externals:
            yield b"\0" * (offsets[i] - written)
            data = self.buffers[i].data()
            written = offsets[i] + data.size
            yield memoryview(data)
            del data  # one weight at a time

    def to_bytes(self) -> bytes:
        return b"".join(bytes(c) for c in self.chunks())

    def write(self, path) -> None:
        """Write atomically (a failed write leaves no file), streaming the external weights. The packed
        flatbuffer (built twice, copied out of the builder) is heap garbage afterwards: handed back
        (`heap.release_freed_heap`), not left under the next step's peak."""
        from .. import files
        from ..heap import release_freed_heap

        files.write_atomic(path, self.chunks())
        release_freed_heap()


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _tensor_map(name: str, index: int):
    t = fb.TensorMapT()
    t.name = name
    t.tensorIndex = int(index)
    return t
