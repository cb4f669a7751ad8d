"""`fuse-parallel-dots`: dot_generals that read the same activation with constant weights become one dot
against the weights concatenated along their output axis, and a slice per original result.

Why: a decoder layer projects its normed input three times (q, k, v) and its MLP input twice (SwiGLU's
gate and up). litert-torch's loader fuses q/k/v into one weight, so its decode step runs 41
FULLY_CONNECTED ops at 8 layers where ours runs 57 (33 after this pass). One larger matmul reads the same
weight bytes; what goes is the per-op dispatch and the re-reads of the activation. Measured in LiteRT
(XNNPACK, 1 thread) on the example LLM, that is lost in the noise: 8x1024 f32 decode 1.8% faster, int8 2.5%
slower, tiny the same to the microsecond. So the pass is opt-in, not part of `optimize` (README, Passes).

Run it after `optimize`: the slices then sit between the matmul and the reshapes that the composites read,
so every SDPA, RMSNorm and KV-cache write was already found, and composites (and their decompositions) are
left alone. Before `quantize-int8-dynamic` the fused weight is one float constant with one output channel
per original output channel, so the per-channel int8 scales are exactly those of each projection.

What is fused: dot_generals in the same function body, with the same lhs value, a rank-2 constant rhs with
one contracting and one free dim, no batching dims, and the same attributes and result element type. The
weights are concatenated once even when a merged module's prefill and decode both fuse them (one constant,
shared, as before).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir import mlir, stablehlo
from ..pass_manager import Pass, register_pass
from ..patterns import values as vals
from ..patterns.outline import program_functions

_NAMES = itertools.count()


def _candidate(op):
    """(group key, rhs attribute, rhs free axis) of a dot that may join a group, or None."""
    if op.name != "stablehlo.dot_general" or len(op.operands) != 2:
        return None
    rhs_op = vals.defining_op(op.operands[1])
    attr = vals.constant_attr(rhs_op)
    if attr is None or vals.is_splat(attr) or len(vals.shape(op.operands[1])) != 2:
        return None
    if not mlir.RankedTensorType(op.result.type).has_static_shape:  # (the slices need every size)
        return None
    lb, rb, lc, rc = vals.dot_dims(op)
    if lb or rb or len(rc) != 1:
        return None
    free = 1 - rc[0]
    attrs = tuple(sorted((name, str(op.attributes[name])) for name in op.attributes))
    key = (op.operands[0], attrs, str(vals.element_type(op.result)), str(vals.element_type(op.operands[1])),
           rc[0])
    return key, attr, free


@register_pass
@dataclass(frozen=True)
class FuseParallelDots(Pass):
    """Merges the q/k/v projections (and gate/up) of each layer into one dot_general against a concatenated
    constant weight, followed by one slice per projection."""

    name = "fuse-parallel-dots"
    summary = "dots of one activation against constant weights -> one dot on the concatenated weight + slices"

    def run(self, module, ctx):
        functions = program_functions(module)
        made: dict = {}  # (weights..., axis) or content -> the concatenated attribute: signatures share it
        for fn in functions:
            fn = getattr(fn, "operation", fn)
            for block in fn.regions[0].blocks:
                self._fuse_block(block, made, ctx)

    def _fuse_block(self, block, made: dict, ctx) -> None:
        groups: dict = {}
        for op in block.operations:
            op = op.operation
            found = _candidate(op)
            if found is not None:
                groups.setdefault(found[0], []).append((op, found[1], found[2]))
        for members in groups.values():
            if len(members) < 2:
                continue
            free = members[0][2]  # (one contracting dim in the key, so one free axis for the whole group)
            widths = [vals.shape(op.operands[1])[free] for op, _, _ in members]
            key = (*(attr for _, attr, _ in members), free)
            first = members[0][0]
            if key not in made:
                fused = np.ascontiguousarray(np.concatenate([ir.to_numpy(attr) for _, attr, _ in members], axis=free))
                digest = (fused.shape, str(fused.dtype), hashlib.blake2b(fused.data, digest_size=16).digest())
                if digest not in made:  # (fold-constants gives prefill and decode equal weights under two names)
                    resource = f"fused_dots_{next(_NAMES)}" if fused.size > vals.SMALL else None  # (small: readable)
                    with first.location:
                        made[digest] = ir.from_numpy(fused, resource=resource)
                made[key] = made[digest]
            self._rewrite(members, made[key], widths, 1 - free)
            ctx.count("dots fused", len(members))
            ctx.count("fused dots made")

    @staticmethod
    def _rewrite(members, weight, widths, contract) -> None:
        first = members[0][0]
        out_type = mlir.RankedTensorType(first.result.type)
        lead = list(out_type.shape[:-1])
        total = sum(widths)
        with mlir.InsertionPoint(first), first.location:
            const = stablehlo.ConstantOp(weight).result
            dims = stablehlo.DotDimensionNumbers.get(lhs_batching_dimensions=[], rhs_batching_dimensions=[],
                                                     lhs_contracting_dimensions=vals.dot_dims(first)[2],
                                                     rhs_contracting_dimensions=[contract])
            attrs = {name: first.attributes[name] for name in first.attributes}
            attrs["dot_dimension_numbers"] = dims
            fused_type = mlir.RankedTensorType.get(lead + [total], out_type.element_type)
            fused = mlir.Operation.create("stablehlo.dot_general", results=[fused_type],
                                          operands=[first.operands[0], const], attributes=attrs).result
        start = 0
        for (op, _, _), width in zip(members, widths):
            with mlir.InsertionPoint(first), op.location:
                rank = len(lead) + 1
                piece = stablehlo.SliceOp(fused, mlir.DenseI64ArrayAttr.get([0] * (rank - 1) + [start]),
                                          mlir.DenseI64ArrayAttr.get(lead + [start + width]),
                                          mlir.DenseI64ArrayAttr.get([1] * rank)).result
            op.results[0].replace_all_uses_with(piece)
            start += width
        for op, _, _ in members:
            weight_op = vals.defining_op(op.operands[1])
            op.erase()
            if weight_op is not None and not vals.has_uses(weight_op.results[0]):
                weight_op.erase()
