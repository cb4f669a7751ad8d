"""`hlo-opt --inspect MODEL.tflite`: what a `.tflite` holds, from any converter.

Signatures with their input/output tensors, per subgraph an op histogram, every composite with its
attributes and decomposition, quantized tensors with their parameters, and where the bytes go (weights,
buffers shared by several tensors or subgraphs, streamed buffers). Reads the flatbuffer with LiteRT's own
schema module; nothing is executed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..diagnostics import HloError
from . import schema


def _name(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _shape(tensor) -> str:
    dims = [int(d) for d in (tensor.shape if tensor.shape is not None else [])]
    return f"{schema.type_name(tensor.type).lower()}[{', '.join(map(str, dims))}]"


def _buffer_bytes(buf) -> int:
    if buf.data is not None:
        return len(buf.data)
    return int(buf.size or 0)


def load_model(path: str | Path):
    data = Path(path).read_bytes()
    if len(data) < 8 or data[4:8] != schema.FILE_IDENTIFIER:
        raise HloError(f"{path} is not a .tflite model (no TFL3 identifier)")
    try:
        return data, schema.model_from_bytes(data)
    except Exception as e:  # noqa: BLE001 -- a damaged flatbuffer raises anything from struct to IndexError
        raise HloError(f"{path}: damaged .tflite flatbuffer ({type(e).__name__}: {e})") from None


def inspect(path: str | Path) -> str:
    """A human-readable report of the model at `path`. A damaged file (indices that point nowhere, tables
    cut short) is an HloError, never a crash: this reads models from any converter."""
    data, model = load_model(path)
    try:
        return _report(path, data, model)
    except (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise HloError(f"{path}: damaged .tflite flatbuffer ({type(e).__name__}: {e})") from None


def _report(path, data: bytes, model) -> str:
    lines = [f"{path}: {len(data):,} bytes, schema version {model.version}, "
             f"{len(model.subgraphs or [])} subgraph(s), {len(model.buffers or [])} buffer(s)"]
    subgraphs = model.subgraphs or []
    codes = model.operatorCodes or []

    def opname(op) -> str:
        code = codes[op.opcodeIndex]
        name = schema.op_name(max(code.builtinCode, code.deprecatedBuiltinCode))
        return f"CUSTOM({_name(code.customCode)})" if name == "CUSTOM" else name

    lines.append("signatures:")
    for sig in model.signatureDefs or []:
        sg = subgraphs[sig.subgraphIndex]
        lines.append(f"  {_name(sig.signatureKey)} (subgraph {sig.subgraphIndex})")
        for kind, maps in (("in ", sig.inputs or []), ("out", sig.outputs or [])):
            for m in maps:
                lines.append(f"    {kind} {_name(m.name)}: {_shape(sg.tensors[m.tensorIndex])}")
    users: dict[int, set] = {}
    for s_index, sg in enumerate(subgraphs):
        hist = Counter(opname(op) for op in sg.operators or [])
        lines.append(f"subgraph {s_index} '{_name(sg.name)}': {sum(hist.values())} ops,"
                     f" {len(sg.tensors or [])} tensors")
        for name, count in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {count:5d}  {name}")
        for op in sg.operators or []:
            if opname(op) == "STABLEHLO_COMPOSITE" and op.builtinOptions2 is not None:
                opts = op.builtinOptions2
                attrs = schema.read_flexbuffer(np.asarray(opts.compositeAttributes, np.uint8).tobytes()) \
                    if opts.compositeAttributes is not None else {}
                lines.append(f"    composite {_name(opts.name)} {attrs} -> subgraph {opts.decompositionSubgraphIndex}")
        for t_index, t in enumerate(sg.tensors or []):
            if t.buffer:
                users.setdefault(t.buffer, set()).add((s_index, t_index))
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale):
                scale = np.asarray(q.scale)
                lines.append(f"    quantized {_name(t.name)}: {_shape(t)} scale {len(scale)} value(s)"
                             f" [{scale.min():.3g}..{scale.max():.3g}] axis {q.quantizedDimension}")
    buffers = model.buffers or []
    weights = sum(_buffer_bytes(b) for b in buffers)
    shared = [i for i, u in users.items() if len({s for s, _ in u}) > 1]
    streamed = sum(1 for b in buffers if b.data is None and (b.size or 0) > 0)
    lines.append(f"weights: {weights:,} bytes in {sum(1 for b in buffers if _buffer_bytes(b))} buffer(s); "
                 f"{len(shared)} shared by several subgraphs; {streamed} stored after the flatbuffer")
    return "\n".join(lines) + "\n"
