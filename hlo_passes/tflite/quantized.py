"""Quantized weights for LiteRT's hybrid kernels: the StableHLO forms `quantize-int8-dynamic` leaves become
`tfl.pseudo_qconst` weights (int8 per channel, or int4 in blocks) and hybrid EMBEDDING_LOOKUPs, before the
conversion rules run. Why before: the forms span several ops (constant, convert, reshape, broadcast,
multiply), which the one-op-at-a-time conversion would otherwise turn into float arithmetic on the weight.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..ir import mlir
from . import ops as T
from .legalize import _dtype, _ints, _one, _shape, _ttype, reshape


def fold_dequantize(module) -> int:
    """Marked dequantizations (quantize-int8-dynamic's convert * broadcast(scale)) of int8 constants that
    only weight dot_generals and convolutions -> `tfl.pseudo_qconst`, which the conversion rules hand to
    the hybrid kernels. Returns how many."""
    from ..patterns.quant import DEQUANTIZE_MARK

    count = 0
    for mul in [op for op in ir.ops_named(module, "stablehlo.multiply") if DEQUANTIZE_MARK in op.attributes]:
        parts, block, last = _dequantize_parts(mul), 0, mul
        if parts is None:
            parts, last = _blockwise_parts(mul), _only_user(mul)
            block = parts[3] if parts is not None else 0
        if parts is None or last is None:
            continue
        users = [getattr(u.owner, "operation", u.owner) for u in last.result.uses]
        if not users or any(u.name not in ("stablehlo.dot_general", "stablehlo.convolution") for u in users):
            continue
        values, scale, axis = parts[:3]
        with mlir.InsertionPoint(last), last.location:
            q = T.qconst(values, scale, axis, last.result.type, block)
        last.result.replace_all_uses_with(q)
        last.erase()
        if last is not mul:
            mul.erase()
        count += 1
    return count


def _only_user(op):
    users = [getattr(u.owner, "operation", u.owner) for u in op.result.uses]
    return users[0] if len(users) == 1 else None


def _blockwise_parts(mul):
    """(int4 values, block scales, blocked axis, block) of quantize-int8-dynamic's int4 form
    reshape(convert(Q) -> [.., K/B, B, ..] * broadcast(S)) -> [.., K, ..], all marked; or None."""
    from ..patterns.quant import DEQUANTIZE_MARK

    whole = _only_user(mul)
    if whole is None or whole.name != "stablehlo.reshape" or DEQUANTIZE_MARK not in whole.attributes:
        return None
    for a, b in ((0, 1), (1, 0)):
        blocks, bcast = T.producer(mul.operands[a]), T.producer(mul.operands[b])
        if blocks is None or bcast is None or blocks.name != "stablehlo.reshape" or \
                bcast.name != "stablehlo.broadcast_in_dim":
            continue
        conv = T.producer(blocks.operands[0])
        if conv is None or conv.name != "stablehlo.convert":
            continue
        q_op, s_op = T.producer(conv.operands[0]), T.producer(bcast.operands[0])
        if q_op is None or s_op is None or q_op.name != "stablehlo.constant" or s_op.name != "stablehlo.constant":
            continue
        if str(_dtype(q_op.result)) != "int4":
            continue
        scale = ir.to_numpy(s_op.attributes["value"])
        shape, split = _shape(q_op.result), _shape(blocks.result)
        if len(split) != len(shape) + 1 or scale.ndim != len(shape):
            continue
        axis = next((d for d in range(len(shape)) if split[d] != shape[d]), None)
        if axis is None or split[axis] * split[axis + 1] != shape[axis] or \
                list(scale.shape) != shape[:axis] + [split[axis]] + shape[axis + 1:] or \
                _ints(bcast.attributes["broadcast_dimensions"]) != \
                [d if d <= axis else d + 1 for d in range(len(shape))]:
            continue
        return q_op.attributes["value"], scale.astype(np.float32), axis, split[axis + 1]
    return None


def fold_embedding_lookups(module) -> int:
    """quantize-int8-dynamic's embedding form, `convert(gather(Q, ids)) * broadcast(gather(S, ids))` with Q an
    int8 [V, D] table and S its [V, 1] row scales -> one hybrid EMBEDDING_LOOKUP on Q with per-row scales (ids
    flattened to int32 and clamped, as XLA's gather clamps and the kernel refuses out-of-range rows). Why: it
    is one kernel instead of two gathers, a cast and a multiply. Returns how many."""
    count = 0
    for mul in ir.ops_named(module, "stablehlo.multiply"):
        parts = _embedding_parts(mul)
        if parts is None:
            continue
        table, scale, ids, dead = parts
        (rows, width), n = mlir.RankedTensorType(table.type).shape, math.prod(_shape(ids))
        with mlir.InsertionPoint(mul), mul.location:
            flat = reshape(ids, [n])
            if _dtype(flat) != np.int32:
                flat = _one("tfl.cast", [flat], mlir.RankedTensorType.get([n], mlir.IntegerType.get_signless(32)))
            flat = _one("tfl.maximum", [flat, T.const(np.zeros((), np.int32))], flat.type)
            flat = _one("tfl.minimum", [flat, T.const(np.asarray(rows - 1, np.int32))], flat.type)
            q = T.qconst(table, scale.reshape(-1), 0, _ttype([rows, width], mul.result))
            looked = _one("tfl.embedding_lookup", [flat, q], _ttype([n, width], mul.result))
            mul.result.replace_all_uses_with(reshape(looked, _shape(mul.result)))
        mul.erase()
        for op in dead:  # convert, broadcast, the two gathers, the two tables: producers after their users
            if not any(True for _ in op.result.uses):
                op.erase()
        count += 1
    return count


def _embedding_parts(mul):
    """(int8 table [V, D], f32 scales [V, 1], ids) of an int8 embedding lookup, or None."""
    def row_gather(v, dtype):
        op = T.producer(v)
        if op is None or op.name != "stablehlo.gather":
            return None
        table = T.producer(op.operands[0])
        if table is None or table.name != "stablehlo.constant" or _dtype(op.operands[0]) != dtype:
            return None
        dn = ir.stablehlo.GatherDimensionNumbers(op.attributes["dimension_numbers"])
        ids, xs = op.operands[1], _shape(op.operands[0])
        ishape, ivd = _shape(ids), int(dn.index_vector_dim)
        batch = ishape if ivd == len(ishape) else (ishape[:ivd] + ishape[ivd + 1:] if ishape[ivd] == 1 else None)
        if len(xs) != 2 or batch is None or list(dn.start_index_map) != [0] or \
                list(dn.collapsed_slice_dims) != [0] or list(dn.offset_dims) != [len(batch)] or \
                _ints(op.attributes["slice_sizes"]) != [1, xs[1]] or list(getattr(dn, "operand_batching_dims", [])):
            return None
        return table, ids, [op, table]

    for a, b in ((0, 1), (1, 0)):
        conv, bcast = T.producer(mul.operands[a]), T.producer(mul.operands[b])
        if conv is None or bcast is None or conv.name != "stablehlo.convert" or \
                bcast.name != "stablehlo.broadcast_in_dim":
            continue
        rows, scales = row_gather(conv.operands[0], np.int8), row_gather(bcast.operands[0], np.float32)
        if rows is None or scales is None or rows[1] != scales[1] or \
                _shape(scales[0].result) != [_shape(rows[0].result)[0], 1]:
            continue
        if _dtype(mul.result) != np.float32 or \
                _ints(bcast.attributes["broadcast_dimensions"]) != list(range(len(_shape(mul.result)))):
            continue
        # the int8 table as its attribute (never read: EMBEDDING_LOOKUP takes it as it is), the scales read
        return rows[0].attributes["value"], ir.to_numpy(scales[0].attributes["value"]), rows[1], \
            [conv, bcast, *rows[2], *scales[2]]
    return None


def _dequantize_parts(mul):
    def producer(v):
        owner = v.owner
        o = getattr(owner, "operation", owner)
        return o if isinstance(o, mlir.Operation) else None

    for a, b in ((0, 1), (1, 0)):
        conv, bcast = producer(mul.operands[a]), producer(mul.operands[b])
        if conv is None or bcast is None or conv.name != "stablehlo.convert" or \
                bcast.name != "stablehlo.broadcast_in_dim":
            continue
        q_op, s_op = producer(conv.operands[0]), producer(bcast.operands[0])
        if q_op is None or s_op is None or q_op.name != "stablehlo.constant" or s_op.name != "stablehlo.constant":
            continue
        if _dtype(q_op.result) != np.int8:
            continue
        dims = _ints(bcast.attributes["broadcast_dimensions"])
        scale = ir.to_numpy(s_op.attributes["value"])
        if len(dims) > 1 or scale.ndim != len(dims):
            continue
        return q_op.attributes["value"], scale.astype(np.float32), (dims[0] if dims else None)
    return None
