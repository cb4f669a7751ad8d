"""RMSNorm, as exporters write it, raised into `odml.rms_norm` composites (operands x, w; {epsilon}).

    y = x * rsqrt(mean(x^2) + eps) * w       (or x / sqrt(...); x*x, pow(x, 2) or square(x); sum/N or
                                             sum*(1/N); an f32 upcast around it; Gemma's (1 + w); no w)

The template is written once, in pieces, with the shape plumbing exporters put between them (reshape and
broadcast_in_dim) allowed at each seam. Scalars (N, eps, the exponent 2) are captured as any value and
resolved in `where`, through the broadcast/reshape/convert chains that spell a scalar constant, so a
near-miss says "epsilon is not a constant" rather than which plumbing op was missing. The `where` also
checks what a template cannot say: the reduction is over the last axis alone, N is that axis' size, the
normalizer lands as one value per row and the weight as one value per feature (followed dim by dim
through every broadcast and reshape), and the matched ops have no users outside the match.

The composite's w is what multiplies the normalized x: Gemma's (1 + w) is computed outside and passed in;
a weight that fold-constants has already broadcast to x's shape (every row the same) is passed as its
row, and the decomposition broadcasts it back; without a weight, w is ones and the decomposition ignores it.
"""

from __future__ import annotations

import ml_dtypes

from .. import ir
from ..ir import chlo
from ..ir import stablehlo as hlo
from . import values as vals
from .driver import Pattern, PatternSet
from .outline import outline_composite, region
from .template import Alt, Const, Op, Opt, V
from .vocabulary import chain_to as _chain_to
from .vocabulary import describe as _describe
from .vocabulary import float_bits as _float_bits
from .vocabulary import per_feature as _weight
from .vocabulary import relabel as _relabel
from .vocabulary import row_adapter
from .vocabulary import scalar_of as _scalar

BCAST, RESHAPE, CONVERT = "stablehlo.broadcast_in_dim", "stablehlo.reshape", "stablehlo.convert"


def shaped(t):
    """`t`, possibly reshaped and/or broadcast (the plumbing between the pieces)."""
    return Alt(Op(hlo.BroadcastInDimOp, Opt(hlo.ReshapeOp, t)), Op(hlo.ReshapeOp, t), t)


SQUARE = Alt(Op(hlo.MulOp, V("xf"), V("xf")), Op(hlo.PowOp, V("xf"), V("p")), Op(chlo.SquareOp, V("xf")))
SUM = Op(hlo.ReduceOp, Opt(hlo.ConvertOp, SQUARE), Const(value=0), name="sum")  # (jnp.mean of f16 sums in f32)
MEAN = Alt(Op(hlo.DivOp, shaped(SUM), V("n")), Op(hlo.MulOp, shaped(SUM), V("inv_n")))
VAR = Op(hlo.AddOp, shaped(Opt(hlo.ConvertOp, MEAN)), V("eps"))
NORM_MUL = Op(hlo.MulOp, V("xf"), shaped(Op(hlo.RsqrtOp, shaped(VAR), name="inv")), name="norm")
NORM_DIV = Op(hlo.DivOp, V("xf"), shaped(Op(hlo.SqrtOp, shaped(VAR), name="inv")), name="norm")
NORM = Alt(NORM_MUL, NORM_DIV)
WEIGHTED = Op(hlo.MulOp, Opt(hlo.ConvertOp, NORM, name="down"), V("wv"), name="weighted")


def _normalizer_ok(m) -> bool | str:
    """The per-row value (from the sum to the factor that meets x) is one value per row, broadcast along
    the last axis: a transposing or feature-mixing broadcast would compute something else."""
    xf, norm = m["xf"], m.op("norm")
    x_shape = vals.shape(xf)
    factor = next(o for o in norm.operands if o != xf)
    chain = _chain_to(factor, m["sum"], skip={m[k] for k in ("n", "inv_n", "eps") if k in m})
    if chain is None:
        return "cannot follow the normalizer back to the sum of squares"
    labels = [j if s != 1 else None for j, s in enumerate(x_shape[:-1])]
    for op in chain:
        labels = _relabel(labels, op)
        if labels is None:
            return f"{op.name} at {vals.loc(op)} regroups the per-row values"
    want = [j if s != 1 else None for j, s in enumerate(x_shape[:-1])] + ["b" if x_shape[-1] != 1 else None]
    return True if labels == want else "the normalizer is not one value per row, broadcast along the last axis"


def _check_math(m) -> bool | str:
    xf = m["xf"]
    shape = vals.shape(xf)
    if not shape or not _float_bits(xf):
        return "not a float tensor of rank >= 1"
    d = shape[-1]
    reduce_op = m.op("sum")
    if vals.attr_value(reduce_op.attributes["dimensions"]) != [len(shape) - 1]:
        return "the sum of squares is not over the last axis alone"
    from .folding import reducer_kind

    if reducer_kind(reduce_op) != "stablehlo.add":
        return "the reduction is not a sum"
    if "p" in m and ((p := _scalar(m["p"])) is None or float(p) != 2):
        return f"the power's exponent ({_describe(m['p'])}) is not the constant 2"
    for key, want, what in (("n", d, f"divides by {{}}, not by the axis size {d}"),
                            ("inv_n", 1.0 / d, f"multiplies by {{}}, not by 1/{d}")):
        if key in m:
            s = _scalar(m[key])
            if s is None:
                return f"the mean's {'divisor' if key == 'n' else 'factor'} is not a constant ({_describe(m[key])})"
            if not abs(float(s) - want) <= 2 * float(ml_dtypes.finfo(s.dtype).eps) * abs(want):  # (np.isclose's
                # test, written out: np.isclose costs 40 us a scalar)
                return what.format(float(s))
    if (eps := _scalar(m["eps"])) is None:
        return f"epsilon is not a constant scalar but {_describe(m['eps'])}"
    m.memo["eps"] = float(eps)
    return _normalizer_ok(m)


def _fusable(m) -> bool | str:
    ok = _check_math(m)
    if ok is not True:
        return ok
    xf = m["xf"]
    w, row = None, None
    if "wv" in m:
        w, row, why = _weight(m["wv"], vals.shape(xf))
        if w is None:
            return why
    up = vals.defining_op(xf)
    choices = [xf]
    if up is not None and up.name == CONVERT and 0 < _float_bits(up.operands[0]) < _float_bits(xf):
        choices.insert(0, up.operands[0])  # the input before its upcast, if nothing else uses the upcast
    if "down" in m and "out" in m:
        return "converts both before and after the weight"
    cast = m["down"] if "down" in m else m["out"] if "out" in m else None
    why = ""
    for x in choices:
        if cast is not None and (x == xf or vals.element_type(cast) != vals.element_type(x)):
            why = f"the convert at {vals.loc(vals.defining_op(cast))} does not undo an upcast of the input"
            continue
        ops, why = region([x] + ([w] if w is not None else []), [m.root.results[0]])
        if ops is not None:
            m.memo.update(x=x, w=w, row=row, ops=ops)
            return True
    return why


def _fuse(m):
    x, w, row, ops = m.memo["x"], m.memo["w"], m.memo["row"], m.memo["ops"]
    out = m.root.results[0]
    d = vals.shape(x)[-1]
    adapters = {}
    if w is None:  # no weight: the composite still takes one (ones), the decomposition ignores it
        w = hlo.ConstantOp(ir.splat(1, ir.mlir.RankedTensorType.get([d], vals.element_type(out)))).result
    elif row is not None:  # x-shaped constant, every row the same: pass the row, broadcast it back inside
        adapters[1] = row_adapter(w, row)
    return outline_composite("odml.rms_norm", [x, w], [out], {"epsilon": m.memo["eps"]}, ops,
                             in_adapters=adapters)


def rms_norm_patterns() -> PatternSet:
    return PatternSet([
        Pattern("rms-norm-cast", Op(hlo.ConvertOp, WEIGHTED, name="out"), _fuse,             # cvt(x*r*w)
                benefit=4, where=_fusable),
        Pattern("rms-norm-unweighted-cast", Op(hlo.ConvertOp, NORM, name="out"), _fuse,     # cvt(x*r)
                benefit=3, where=_fusable),
        Pattern("rms-norm", WEIGHTED, _fuse, benefit=2, where=_fusable),                   # x*rsqrt(ms(x)+e)*w
        Pattern("rms-norm-unweighted", NORM_MUL, _fuse, where=_fusable),                   # x*rsqrt(ms(x)+e)
        Pattern("rms-norm-unweighted-div", NORM_DIV, _fuse, where=_fusable),               # x/sqrt(ms(x)+e)
    ], name="fuse-rms-norm")
