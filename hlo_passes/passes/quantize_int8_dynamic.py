"""`quantize-int8-dynamic`: int8 weights, float activations (dynamic-range quantization), as an IR rewrite.

Every `dot_general` and `convolution` whose weight is a constant with at least `min-elements` elements gets
an int8 copy of that weight and an explicit dequantization (see patterns/quant.py for the form). Run it
after `optimize`: the fusions see the float graph, and composites stay as they are. The TFLite backend
turns the dequantized weights into INT8 tensors with per-channel scales under FULLY_CONNECTED,
BATCH_MATMUL and CONV_2D (LiteRT's hybrid kernels); XLA CPU runs the module as it stands.

`dtype=int4` (litert-torch's `dynamic_int4_block32/128` recipes) writes 2-D dot_general weights as int4 in
blocks of `block-size` along the contracting axis, one scale per block: an eighth of the float bytes and a
smaller error than int4 per channel; LiteRT runs them as FULLY_CONNECTED with block-wise INT4 weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir import mlir, stablehlo
from ..pass_manager import Pass, option, register_pass
from ..patterns import values as vals
from ..patterns.outline import program_functions
from ..patterns.quant import DEQUANTIZE_MARK, quantize, quantize_blockwise, relative_error


def _weight_axes(op, index: int) -> tuple[list[int], list[int]] | None:
    """(batch + contracting dims, free dims) of operand `index` of a dot_general or convolution."""
    rank = len(vals.shape(op.operands[index]))
    if op.name == "stablehlo.dot_general":
        lb, rb, lc, rc = vals.dot_dims(op)
        used = (lb + lc) if index == 0 else (rb + rc)
        if (lb if index == 0 else rb):
            return None  # a batched weight (one per batch entry) is not a layer's weight
        return used, [d for d in range(rank) if d not in used]
    if index != 1:
        return None
    dn = stablehlo.ConvDimensionNumbers(op.attributes["dimension_numbers"])
    out = dn.kernel_output_feature_dimension
    return [d for d in range(rank) if d != out], [out]


def _weight(value):
    """(the ops holding a constant weight, last first; a function returning it as `value` sees it; a key that
    is equal for the same weight seen the same way), looking through a transpose that was too big to fold (an
    LM head's [vocab, d] table used as [d, vocab]), or (None, None, None)."""
    op = vals.defining_op(value)
    attr = vals.constant_attr(op)
    if attr is not None:
        return [op], lambda: ir.to_numpy(attr), (attr,)
    if op is not None and op.name == "stablehlo.transpose":
        inner = vals.defining_op(op.operands[0])
        inner_attr = vals.constant_attr(inner)
        if inner_attr is not None:
            perm = [int(p) for p in vals.attr_value(op.attributes["permutation"])]
            return [op, inner], lambda: np.ascontiguousarray(ir.to_numpy(inner_attr).transpose(perm)), \
                (inner_attr, tuple(perm))
    return None, None, None


def _label(op) -> str:
    """What `skip` matches: the op's location, its kind and its weight's shape, e.g.
    `loc("m.mlir":40:12) dot_general [512,8192]` (`skip='dot_general .*\\b8192\\b'` keeps an 8k-vocabulary LM
    head float). Why the shape: torch-mlir's locations are only lines of the text, so an LM head is best told by
    its vocabulary dimension; JAX's locations carry names (`.../lm_head/...`)."""
    index = 0 if op.name == "stablehlo.gather" else next(
        (i for i in (1, 0) if _weight(op.operands[i])[0] is not None), 1)
    shape = ",".join(str(d) for d in vals.shape(op.operands[index]))
    return f"{op.location} {op.name.removeprefix('stablehlo.')} [{shape}]"


@register_pass
@dataclass(frozen=True)
class QuantizeInt8Dynamic(Pass):
    """Quantizes constant weights of dot_general and convolution ops to int8 (symmetric, per output channel
    by default), leaving a dequantization XLA can run and the TFLite backend writes as INT8 tensors.

    Statistics: `weights quantized`, `weight bytes before` / `after`, `largest relative error` (of one
    weight, ||w - dequant(q)|| / ||w||)."""

    name = "quantize-int8-dynamic"
    summary = "int8 weights with float activations (dynamic-range quantization) for dot_general and convolution"
    min_elements: int = option(1024, "weights with fewer elements stay float")
    granularity: str = option("channel", "'channel' (one scale per output channel) or 'tensor'")
    skip: str = option("", "a regex over each weight's label '<location> <op> <shape>' (e.g. "
                            "'loc(\"m.mlir\":40:12) dot_general [512,8192]'): matching weights stay float")
    embeddings: bool = option(True, "also quantize embedding tables (gathers of rows from a constant), per row")
    dtype: str = option("int8", "'int8', or 'int4': 2-D dot_general weights in int4 blocks of block-size along the"
                                " contracting axis (float16 scales; convolutions and embeddings stay int8)")
    block_size: int = option(32, "int4 only: elements per scale along the contracting axis (32, 128, ...)")

    def __post_init__(self):
        if self.granularity not in ("channel", "tensor"):
            raise ValueError(f"granularity must be 'channel' or 'tensor', not '{self.granularity}'")
        if self.dtype not in ("int8", "int4"):
            raise ValueError(f"dtype must be 'int8' or 'int4', not '{self.dtype}'")
        if self.block_size <= 0:
            raise ValueError(f"block-size must be > 0, got {self.block_size}")
        if self.min_elements < 0:
            raise ValueError(f"min-elements must be >= 0, got {self.min_elements}")
        try:
            re.compile(self.skip)
        except re.error as e:
            raise ValueError(f"skip is not a valid regex: {e}") from None

    def run(self, module, ctx):
        skip = re.compile(self.skip) if self.skip else None
        targets = []

        def visit(op):
            if op.name in ("stablehlo.dot_general", "stablehlo.convolution") or \
                    (self.embeddings and op.name == "stablehlo.gather"):
                targets.append(op)
            return mlir.WalkResult.ADVANCE

        for fn in program_functions(module):
            fn.operation.walk(visit)
        # Largest operands first: a weight is read whole (its float copy lives while it is quantized), so the
        # LM head and the embedding table (131 MB each at 8x1024) go while few int8 weights exist yet; last,
        # they peaked on top of all the others' (the IR is the same in any order: each rewrite sits at its op).
        targets.sort(key=lambda op: -max((vals.num_elements(v) for v in op.operands), default=0))
        worst = 0.0
        # A weight seen again (the prefill and decode signatures each hold a constant of the same blob) reuses
        # what its first use made: it is read and quantized once, and its int8 attribute exists once.
        done: dict = {}
        for op in targets:
            if skip is not None and skip.search(_label(op)):
                ctx.count("weights skipped (skip regex)")
                continue
            if op.name == "stablehlo.gather":
                worst = max(worst, self._gather(op, ctx, done))
                continue
            for index in (1, 0):
                const, weight, key = _weight(op.operands[index])
                if const is None or vals.dtype(op.operands[index]) != np.float32:
                    continue
                if vals.num_elements(op.operands[index]) < max(self.min_elements, 1):
                    ctx.count("weights too small")
                    break
                axes = _weight_axes(op, index)
                if axes is None:
                    break
                free = axes[1]
                axis = free[0] if self.granularity == "channel" and len(free) == 1 else None
                shape = vals.shape(op.operands[index])
                blockwise = self.dtype == "int4" and op.name == "stablehlo.dot_general" and len(shape) == 2
                if blockwise and shape[axes[0][0]] % self.block_size:
                    ctx.count("weights kept int8 (contracting dim not a multiple of block-size)")
                    blockwise = False
                key = (*key, axis, blockwise, axes[0][0] if blockwise else None)
                if key[1:] == (0, False, None) and len(shape) == 2:  # one scale per row of a [V, D] table:
                    key = (key[0], "rows")  # what an embedding lookup of the same (tied) table makes too
                if key not in done:
                    with op.location:
                        done[key] = self._quantized(weight, axis, axes[0][0] if blockwise else None)
                made = done[key]
                if isinstance(made, str):
                    ctx.count(f"weights refused ({made})")
                    break
                values, scale, meta, error, before, after = made
                worst = max(worst, error)
                with mlir.InsertionPoint(op), op.location:
                    dequantized = self._blockwise(values, scale, meta, op.operands[index].type) if blockwise else \
                        self._dequantized(values, scale, meta, op.operands[index].type)
                    op.operands[index] = dequantized
                for dead in const:  # the float weight (and a transpose of it) go unless something still reads them
                    if not vals.has_uses(dead.results[0]):
                        dead.erase()
                ctx.count("weights quantized" if not blockwise else "weights quantized (int4 blocks)")
                ctx.count("weight bytes before", before)
                ctx.count("weight bytes after", after)
                break
        if worst:
            ctx.statistics["largest relative error"] = round(worst, 6)

    def _quantized(self, load, axis: int | None, block_axis: int | None):
        """(int8/int4 values attribute, scales attribute, axis or (block axis, block), relative error, bytes
        before, bytes after) of the weight `load()` reads, or the reason it is refused. Why a loader: the float
        copy is read here and dropped before the attributes are made (MLIR copies the int8 values in), so an LM
        head's float and int8 copies never meet its attribute's; what stays is one copy of the quantized bytes."""
        weight = load()
        try:
            q = quantize_blockwise(weight, block_axis, self.block_size) if block_axis is not None else \
                quantize(weight, axis)
        except ValueError as e:
            return str(e)
        error, before = relative_error(weight, q), weight.nbytes
        del weight
        if block_axis is not None:
            return (ir.from_numpy(q.values), ir.from_numpy(np.asarray(q.scale, np.float32)), (q.block_axis, q.block),
                    error, before, (q.values.size + 1) // 2 + q.scale.size * 2)
        scale = np.asarray(q.scale, np.float32)
        return (ir.from_numpy(q.values), ir.from_numpy(scale), q.axis, error, before, q.values.nbytes + q.scale.nbytes)

    def _gather(self, op, ctx, done: dict) -> float:
        """An embedding lookup (rows of a constant [V, D] table): int8 rows with one scale per row; the
        gather takes the int8 rows and their scales, and multiplies (exact: scales are per row)."""
        table = op.operands[0]
        const = vals.defining_op(table)
        attr = vals.constant_attr(const)
        if attr is None or vals.dtype(table) != np.float32 or len(vals.shape(table)) != 2:
            return 0.0
        dn = stablehlo.GatherDimensionNumbers(op.attributes["dimension_numbers"])
        sizes = [int(x) for x in op.attributes["slice_sizes"]]
        if list(dn.start_index_map) != [0] or list(dn.collapsed_slice_dims) != [0] or \
                sizes != [1, vals.shape(table)[1]] or vals.num_elements(table) < max(self.min_elements, 1):
            return 0.0
        key = (attr, "rows")  # (shared with a dot reading the same table, e.g. a tied LM head)
        if key not in done:
            with op.location:
                done[key] = self._quantized(lambda: ir.to_numpy(attr), 0, None)
        made = done[key]
        if isinstance(made, str):
            ctx.count(f"weights refused ({made})")
            return 0.0
        q_attr, s_attr, _, error, before, after = made
        with op.location:
            s_attr = ir.from_numpy(ir.to_numpy(s_attr).reshape(-1, 1))  # [V] scales, one per gathered row
        with mlir.InsertionPoint(op), op.location:
            out = mlir.RankedTensorType(op.result.type)
            out_i8 = mlir.RankedTensorType.get(list(out.shape), mlir.IntegerType.get_signless(8))
            offset = list(dn.offset_dims)
            scale_out = mlir.RankedTensorType.get([1 if d in offset else n for d, n in enumerate(out.shape)],
                                                  out.element_type)
            values = stablehlo.ConstantOp(q_attr).result
            scales = stablehlo.ConstantOp(s_attr).result
            attrs = {name: op.attributes[name] for name in op.attributes}
            rows = mlir.Operation.create("stablehlo.gather", results=[out_i8], operands=[values, op.operands[1]],
                                         attributes=attrs).result
            attrs["slice_sizes"] = mlir.DenseI64ArrayAttr.get([1, 1])
            row_scales = mlir.Operation.create("stablehlo.gather", results=[scale_out],
                                               operands=[scales, op.operands[1]], attributes=attrs).result
            spread = stablehlo.BroadcastInDimOp(out, row_scales,
                                                mlir.DenseI64ArrayAttr.get(list(range(len(out.shape))))).result
            result = stablehlo.MulOp(stablehlo.ConvertOp(out, rows).result, spread).result
        op.result.replace_all_uses_with(result)
        op.erase()
        if not vals.has_uses(const.results[0]):
            const.erase()
        ctx.count("embedding tables quantized")
        ctx.count("weight bytes before", before)
        ctx.count("weight bytes after", after)
        return error

    @staticmethod
    def _blockwise(values_attr, scale_attr, meta, ftype) -> mlir.Value:
        """convert(int4) -> reshape splitting the contracting axis into [blocks, block] -> times the scales
        broadcast over each block -> reshape back, every op marked as a dequantization."""
        ftype = mlir.RankedTensorType(ftype)
        (a, block), shape = meta, list(ftype.shape)
        split = shape[:a] + [shape[a] // block, block] + shape[a + 1:]
        split_type = mlir.RankedTensorType.get(split, ftype.element_type)
        values = stablehlo.ConstantOp(values_attr).result
        scale = stablehlo.ConstantOp(scale_attr).result
        as_float = stablehlo.ConvertOp(ftype, values)
        blocks = stablehlo.ReshapeOp(split_type, as_float.result)
        dims = [d if d <= a else d + 1 for d in range(len(shape))]  # every dim of the split shape but the block's
        spread = stablehlo.BroadcastInDimOp(split_type, scale, mlir.DenseI64ArrayAttr.get(dims))
        mul = stablehlo.MulOp(blocks.result, spread.result)
        whole = stablehlo.ReshapeOp(ftype, mul.result)
        for marked in (as_float, blocks, spread, mul, whole):
            marked.operation.attributes[DEQUANTIZE_MARK] = mlir.UnitAttr.get()
        return whole.result

    @staticmethod
    def _dequantized(values_attr, scale_attr, axis, ftype) -> mlir.Value:
        ftype = mlir.RankedTensorType(ftype)
        values = stablehlo.ConstantOp(values_attr).result
        scale = stablehlo.ConstantOp(scale_attr).result
        as_float = stablehlo.ConvertOp(ftype, values)
        dims = [axis] if axis is not None else []
        spread = stablehlo.BroadcastInDimOp(ftype, scale, mlir.DenseI64ArrayAttr.get(dims))
        mul = stablehlo.MulOp(as_float.result, spread.result)
        for marked in (as_float, spread, mul):  # fold-constants leaves marked ops alone
            marked.operation.attributes[DEQUANTIZE_MARK] = mlir.UnitAttr.get()
        return mul.result
