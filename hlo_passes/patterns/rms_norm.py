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
import numpy as np

from .. import ir
from ..ir import chlo
from ..ir import stablehlo as hlo
from . import values as vals
from .driver import Pattern, PatternSet
from .outline import Adapter, outline_composite, region
from .template import Alt, Const, Op, Opt, V

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


def _float_bits(value) -> int:
    """Bit width of a float tensor's elements, 0 if not a float."""
    dt = vals.dtype(value)
    return dt.itemsize * 8 if dt.kind == "f" or "float" in dt.name else 0


def _unplumbed(value) -> tuple:
    """(source, ops): `value` with the converts/reshapes/broadcasts that spell a scalar peeled off."""
    chain = []
    while (op := vals.defining_op(value)) is not None and op.name in (BCAST, RESHAPE, CONVERT):
        chain.append(op)
        value = op.operands[0]
    return value, chain


def _scalar(value):
    """The number a scalar-constant chain (constant, then converts/reshapes/broadcasts) computes, in the
    element type of `value`; None if `value` is not such a chain or the constant is not a splat."""
    source, chain = _unplumbed(value)
    attr = vals.constant_attr(vals.defining_op(source)) if vals.defining_op(source) is not None else None
    s = vals.splat_scalar(attr) if attr is not None else None
    if s is None:
        return None
    s = np.asarray(s)
    for op in reversed(chain):
        if op.name == CONVERT:
            s = s.astype(vals.dtype(op.results[0]))
    return s


def _describe(value) -> str:
    """What a scalar operand really is, past its plumbing."""
    value = _unplumbed(value)[0]
    op = vals.defining_op(value)
    return f"a block argument ({value.type})" if op is None else f"{op.name} at {vals.loc(op)}"


def _relabel(labels: list, op) -> list | None:
    """Follow what each dim of a value means ("row" axes, "b"roadcast, "f"eature, None for size 1)
    through one op; None if a reshape regroups dims that carry meaning."""
    src, out = vals.shape(op.operands[0]), vals.shape(op.results[0])
    if op.name == BCAST:
        new = ["b" if s != 1 else None for s in out]
        for i, d in enumerate(vals.attr_value(op.attributes["broadcast_dimensions"])):
            if src[i] == out[d]:
                new[d] = labels[i]
        return new
    if op.name == RESHAPE:
        if [s for s in src if s != 1] != [s for s in out if s != 1]:
            return None
        kept = iter([lab for lab, s in zip(labels, src) if s != 1])
        return [next(kept) if s != 1 else None for s in out]
    return labels  # elementwise (same shape)


def _chain_to(value, stop, skip=()) -> list | None:
    """The ops from `stop` (exclusive) to `value` (inclusive), first op first, following the operand that
    is not one of `skip`; None if `stop` is not reached within a few dozen ops."""
    chain = []
    for _ in range(64):
        if value == stop:
            return chain[::-1]
        op = vals.defining_op(value)
        if op is None:
            return None
        chain.append(op)
        rest = [o for o in op.operands if o not in skip]
        if not rest:
            return None
        value = rest[0]
    return None


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


def _same_rows(a: np.ndarray) -> bool:
    bits = a.view(np.dtype(f"u{a.dtype.itemsize}")).reshape(-1, a.shape[-1])
    return bool((bits == bits[0]).all())


def _weight(m, x_shape):
    """(w, row, "") where w is what the composite takes: a [D] value broadcast along the last axis, or
    a constant of x's shape whose rows are all `row` (what fold-constants makes of a broadcast weight);
    (None, None, why) otherwise."""
    d, wv = x_shape[-1], m["wv"]
    chain, v = [], wv
    while vals.shape(v) != (d,) and (op := vals.defining_op(v)) is not None and op.name in (BCAST, RESHAPE):
        chain.append(op)
        v = op.operands[0]
    if vals.shape(v) == (d,):
        labels = ["f" if d != 1 else None]
        for op in reversed(chain):
            labels = _relabel(labels, op)
            if labels is None:
                break
        if labels == ["b" if s != 1 else None for s in x_shape[:-1]] + ["f" if d != 1 else None]:
            return v, None, ""
        return None, None, f"the weight {_describe(v)} is not broadcast along the last axis"
    attr = vals.constant_attr(vals.defining_op(wv)) if vals.defining_op(wv) is not None else None
    if attr is not None and vals.shape(wv) == x_shape:
        row = vals.constant_array(attr)
        if _same_rows(row):
            return wv, np.array(row.reshape(-1, d)[0]), ""
        return None, None, f"the constant factor at {vals.loc(vals.defining_op(wv))} differs between rows"
    return None, None, f"the other factor ({_describe(wv)}, {wv.type}) is not a per-feature weight of {d}"


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
            if not np.isclose(float(s), want, rtol=2 * float(ml_dtypes.finfo(s.dtype).eps), atol=0):
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
        w, row, why = _weight(m, vals.shape(xf))
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
        full = w
        adapters[1] = Adapter(lambda v: hlo.ConstantOp(ir.from_numpy(row)).result,
                              lambda a: hlo.BroadcastInDimOp(full.type, a, [len(vals.shape(full)) - 1]).result)
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
