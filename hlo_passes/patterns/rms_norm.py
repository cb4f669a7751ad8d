"""RMSNorm, as exporters write it, raised into `odml.rms_norm` composites (operands x, w; {epsilon}).

    y = x * rsqrt(mean(x^2) + eps) * w       (or x / sqrt(...); x*x or pow(x, 2); sum/N or sum*(1/N);
                                             an f32 upcast around it; Gemma's (1 + w); no w at all)

The template is written once, in pieces, with the shape plumbing exporters put between them (reshape and
broadcast_in_dim) allowed at each seam. The `where` checks what a template cannot say: the reduction is
over the last axis and only it, N is that axis' size, and the broadcasts put the per-row value back.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..ir import stablehlo as hlo
from . import values as vals
from .driver import Pattern, PatternSet
from .outline import outline_composite, region
from .template import Alt, Const, Op, Opt, V


def shaped(t):
    """`t`, possibly reshaped and/or broadcast (the plumbing between the pieces)."""
    return Alt(Op(hlo.BroadcastInDimOp, Opt(hlo.ReshapeOp, t)), Op(hlo.ReshapeOp, t), t)


SQUARE = Alt(Op(hlo.MulOp, V("xf"), V("xf")), Op(hlo.PowOp, V("xf"), Const(value=2)))
SUM = Op(hlo.ReduceOp, SQUARE, Const(value=0), name="sum")
MEAN = Alt(Op(hlo.DivOp, shaped(SUM), Const("n")), Op(hlo.MulOp, shaped(SUM), Const("inv_n")))
VAR = Op(hlo.AddOp, shaped(MEAN), Const("eps"))
NORM_MUL = Op(hlo.MulOp, V("xf"), shaped(Op(hlo.RsqrtOp, shaped(VAR), name="inv")))
NORM_DIV = Op(hlo.DivOp, V("xf"), shaped(Op(hlo.SqrtOp, shaped(VAR), name="inv")))
NORM = Alt(NORM_MUL, NORM_DIV)
WEIGHTED = Op(hlo.MulOp, Opt(hlo.ConvertOp, NORM, name="down"), Alt(Op(hlo.BroadcastInDimOp, V("w"), name="wb"), V("w")))


def _is_rms(m) -> bool | str:
    xf = m["xf"]
    shape = vals.shape(xf)
    if not shape or vals.dtype(xf).kind != "f" and "float" not in vals.dtype(xf).name:
        return "not a float tensor of rank >= 1"
    d = shape[-1]
    reduce_op = m.op("sum")
    if vals.attr_value(reduce_op.attributes["dimensions"]) != [len(shape) - 1]:
        return "the sum of squares is not over the last axis alone"
    from .folding import reducer_kind

    if reducer_kind(reduce_op) != "stablehlo.add":
        return "the reduction is not a sum"
    if "n" in m and not np.isclose(float(m.scalar("n") if m.scalar("n") is not None else np.nan), d):
        return f"divides by {m.scalar('n')}, not by the axis size {d}"
    if "inv_n" in m and not np.isclose(float(m.scalar("inv_n") if m.scalar("inv_n") is not None else np.nan),
                                       1.0 / d, rtol=1e-6):
        return f"multiplies by {m.scalar('inv_n')}, not by 1/{d}"
    if m.scalar("eps") is None:
        return "epsilon is not a single constant"
    if vals.num_elements(m["inv"]) * d != vals.num_elements(xf):
        return "the normalizer is not one value per row"
    if "w" in m and vals.shape(m["w"]) != (d,):
        return f"the weight has shape {list(vals.shape(m['w']))}, not [{d}]"
    return True


def _x_in(m):
    """The norm's input before any upcast."""
    op = vals.defining_op(m["xf"])
    return op.operands[0] if op is not None and op.name == "stablehlo.convert" else m["xf"]


def _fuse(m):
    x = _x_in(m)
    d = vals.shape(m["xf"])[-1]
    out = m.root.results[0]
    if "w" in m:
        w = m["w"]
    else:  # no weight: the composite still takes one (ones), the decomposition ignores it
        w = hlo.ConstantOp(ir.splat(1, ir.mlir.RankedTensorType.get([d], vals.element_type(out)))).result
    inputs = [x, w]
    ops, _ = region([x, m["w"]] if "w" in m else [x], [out])  # `_fusable` saw that this works
    return outline_composite("odml.rms_norm", inputs, [out], {"epsilon": float(m.scalar("eps"))}, ops)


def _fusable(m) -> bool | str:
    ok = _is_rms(m)
    if ok is not True:
        return ok
    inputs = [_x_in(m)] + ([m["w"]] if "w" in m else [])
    ops, why = region(inputs, [m.root.results[0]])
    return True if ops is not None else why


def rms_norm_patterns() -> PatternSet:
    return PatternSet([
        Pattern("rms-norm", WEIGHTED, _fuse, benefit=3, where=_fusable),                   # x*rsqrt(ms(x)+e)*w
        Pattern("rms-norm-unweighted-cast", Op(hlo.ConvertOp, NORM, name="down"), _fuse,   # cvt(x*rsqrt(..))
                benefit=2, where=_fusable),
        Pattern("rms-norm-unweighted", NORM_MUL, _fuse, where=_fusable),                   # x*rsqrt(ms(x)+e)
        Pattern("rms-norm-unweighted-div", NORM_DIV, _fuse, where=_fusable),               # x/sqrt(ms(x)+e)
    ], name="fuse-rms-norm")
