"""The `simplify` pattern set: algebraic and structural clean-up, one rule per line.

Each rule reads `lhs -> rhs`. Float rules keep values exactly (x*1, x/1, x-0 are exact in IEEE), with
one documented exception that every compiler makes: x+0 -> x turns -0.0+0.0 (= +0.0) into -0.0.
Rules that are only true for integers (x*0 -> 0, compare(x, x)) check the element type. Dead ops and
duplicate constants are removed by the driver itself (it erases dead ops and dedups constants).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .. import ir
from ..ir import stablehlo as hlo
from . import values as vals
from .driver import Pattern, PatternSet
from .template import Const, Op, V


def _int(value) -> bool:
    return vals.dtype(value).kind in "iub"


def _same_type(m, a: str, b: str | None = None) -> bool:
    return m[a].type == (m[b].type if b else m.root.results[0].type)


def _plus_zero(array) -> bool:
    """All +0 (x - (-0.0) is not x for x = -0.0)."""
    return bool((array == 0).all()) and not bool(np.signbit(array.astype(np.float64) if array.dtype.kind not in
                                                            "biu" else array).any())


def _zeros(m):
    return hlo.ConstantOp(ir.splat(0, m.root.results[0].type)).result


def _reshape(m):
    return hlo.ReshapeOp(m.root.results[0].type, m["x"]).result


def _compose_transpose(m):
    inner, outer = vals.attr_value(m.op("t").attributes["permutation"]), \
        vals.attr_value(m.root.attributes["permutation"])
    perm = [inner[p] for p in outer]
    if perm == list(range(len(perm))):
        return m["x"]
    return hlo.TransposeOp(m["x"], perm).result


def _compose_broadcast(m):
    inner, outer = vals.attr_value(m.op("b").attributes["broadcast_dimensions"]), \
        vals.attr_value(m.root.attributes["broadcast_dimensions"])
    return hlo.BroadcastInDimOp(m.root.results[0].type, m["x"], [outer[d] for d in inner]).result


def _identity_perm(op) -> bool:
    perm = vals.attr_value(op.attributes["permutation"])
    return perm == list(range(len(perm)))


def _broadcast_is_identity(m) -> bool:
    dims = vals.attr_value(m.root.attributes["broadcast_dimensions"])
    return _same_type(m, "x") and dims == list(range(len(dims)))


def _full_slice(m) -> bool:
    op = m.root
    starts, limits, strides = (vals.attr_value(op.attributes[k]) for k in ("start_indices", "limit_indices", "strides"))
    return _same_type(m, "x") and all(s == 0 for s in starts) and all(k == 1 for k in strides) and \
        list(limits) == list(vals.shape(m["x"]))


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or "float" in dtype.name  # ml_dtypes floats have kind 'V'


def _lossless(src: np.dtype, dst: np.dtype) -> bool:
    """Every value of `src` is exactly representable in `dst`."""
    if src == dst or src == np.bool_:
        return True
    if _is_float(src) and _is_float(dst):
        s, d = ml_dtypes.finfo(src), ml_dtypes.finfo(dst)
        return d.nmant >= s.nmant and d.maxexp >= s.maxexp and d.minexp <= s.minexp
    if _is_float(dst):  # int -> float: the integer's magnitude bits must fit the mantissa
        return src.itemsize * 8 - (src.kind == "i") <= ml_dtypes.finfo(dst).nmant + 1
    if _is_float(src) or src.kind not in "iu" or dst.kind not in "iu":
        return False
    if src.kind == "u":
        return dst.itemsize > src.itemsize or (dst.kind == "u" and dst.itemsize >= src.itemsize)
    return dst.kind == "i" and dst.itemsize >= src.itemsize


def _inner_lossless(m) -> bool | str:
    return _lossless(vals.dtype(m["x"]), vals.dtype(m["mid"])) or "the inner convert loses information"


def _convert_chain(m):
    if m["x"].type == m.root.results[0].type:
        return m["x"]
    return hlo.ConvertOp(m.root.results[0].type, m["x"]).result


def _uniform_pred(m) -> bool | str:
    return _same_type(m, "a") and (m.scalar("p") is not None or "the predicate is not all-true/all-false")


def _select_constant_pred(m):
    return m["a"] if bool(m.scalar("p")) else m["b"]


def _self_comparable(m) -> bool | str:
    attrs = m.root.attributes
    total = "compare_type" in attrs and vals.attr_value(attrs["compare_type"]) == "TOTALORDER"
    return _int(m["x"]) or total or "floats: NaN != NaN, so x cmp x is not known"


def _compare_same(m):
    direction = vals.attr_value(m.root.attributes["comparison_direction"])
    return hlo.ConstantOp(ir.splat(direction in ("EQ", "LE", "GE"), m.root.results[0].type)).result


def _unit_insertion(src: tuple, dst: tuple) -> list[int] | None:
    """Positions in `dst` of `src`'s dims when `dst` is `src` with size-1 dims inserted, else None."""
    where, j = [], 0
    for i, n in enumerate(dst):
        if j < len(src) and src[j] == n:
            where.append(i)
            j += 1
        elif n != 1:
            return None
    return where if j == len(src) else None


def _only_adds_unit_dims(m) -> bool | str:
    placed = _unit_insertion(vals.shape(m["x"]), vals.shape(m["r"]))
    if placed is None:
        return "the reshape does more than insert size-1 dims"
    m.memo["placed"] = placed
    return True


def _reshape_into_broadcast(m):
    dims = vals.attr_value(m.root.attributes["broadcast_dimensions"])
    return hlo.BroadcastInDimOp(m.root.results[0].type, m["x"], [dims[p] for p in m.memo["placed"]]).result


def _flattened_linear(m) -> bool | str:
    """reshape(dot(reshape(x: [a..., k] -> [M, k]), w: [k, n]) -> [a..., n]): a 2-D dot of a flattened
    input whose result is unflattened back."""
    lb, rb, lc, rc = vals.dot_dims(m.op("d"))
    xs, ws, out = vals.shape(m["x"]), vals.shape(m["w"]), vals.shape(m.root.results[0])
    if lb or rb or lc != [1] or len(ws) != 2 or len(vals.shape(m["flat"])) != 2 or not xs:
        return "not a 2-D dot contracting the flattened input's last dim"
    if xs[-1] != ws[rc[0]] or out != (*xs[:-1], ws[1 - rc[0]]):
        return "the reshapes around the dot are not a flatten/unflatten pair"
    return True


def _unflatten_dot(m):
    """-> dot(x, w): [a..., n], contracting x's last dim."""
    dot = m.op("d")
    rc = vals.dot_dims(dot)[3]
    dims = hlo.DotDimensionNumbers.get(lhs_batching_dimensions=[], rhs_batching_dimensions=[],
                                       lhs_contracting_dimensions=[len(vals.shape(m["x"])) - 1],
                                       rhs_contracting_dimensions=rc)
    precision = dot.attributes["precision_config"] if "precision_config" in dot.attributes else None
    return hlo.DotGeneralOp(m.root.results[0].type, m["x"], m["w"], dims, precision_config=precision).result


RULES = [
    Pattern("add-zero", Op(hlo.AddOp, V("x"), Const(value=0)), lambda m: m["x"],                # x + 0 -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("sub-zero", Op(hlo.SubtractOp, V("x"), Const(where=_plus_zero)), lambda m: m["x"],  # x - (+0) -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("mul-one", Op(hlo.MulOp, V("x"), Const(value=1)), lambda m: m["x"],                 # x * 1 -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("mul-zero-int", Op(hlo.MulOp, V("x"), Const(value=0)), _zeros,                      # x * 0 -> 0 (ints)
            where=lambda m: _int(m["x"]) or "x*0 is not 0 for floats (inf, nan)"),
    Pattern("div-one", Op(hlo.DivOp, V("x"), Const(value=1)), lambda m: m["x"],                 # x / 1 -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("neg-neg", Op(hlo.NegOp, Op(hlo.NegOp, V("x"))), lambda m: m["x"]),                 # -(-x) -> x
    Pattern("not-not", Op(hlo.NotOp, Op(hlo.NotOp, V("x"))), lambda m: m["x"]),                 # !!x -> x
    Pattern("convert-same", Op(hlo.ConvertOp, V("x")), lambda m: m["x"],                        # convert(x:T):T -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("convert-chain", Op(hlo.ConvertOp, Op(hlo.ConvertOp, V("x"), name="mid")),         # cvt(cvt(x)) -> cvt(x)
            _convert_chain, where=_inner_lossless),                                             # (inner lossless)
    Pattern("reshape-reshape", Op(hlo.ReshapeOp, Op(hlo.ReshapeOp, V("x"))), _reshape),         # rs(rs(x)) -> rs(x)
    Pattern("reshape-same", Op(hlo.ReshapeOp, V("x")), lambda m: m["x"],                        # rs(x):T(x) -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("transpose-transpose", Op(hlo.TransposeOp, Op(hlo.TransposeOp, V("x"), name="t")),  # tr(tr(x,p),q)
            _compose_transpose),                                                                #   -> tr(x, p.q)
    Pattern("transpose-identity", Op(hlo.TransposeOp, V("x"), where=_identity_perm),           # tr(x, id) -> x
            lambda m: m["x"]),
    Pattern("broadcast-broadcast", Op(hlo.BroadcastInDimOp,                                     # bc(bc(x)) -> bc(x)
                                      Op(hlo.BroadcastInDimOp, V("x"), name="b")), _compose_broadcast),
    Pattern("broadcast-same", Op(hlo.BroadcastInDimOp, V("x")), lambda m: m["x"],               # bc(x):T(x) -> x
            where=_broadcast_is_identity),
    Pattern("slice-full", Op(hlo.SliceOp, V("x")), lambda m: m["x"], where=_full_slice),        # x[:] -> x
    Pattern("concat-one", Op(hlo.ConcatenateOp, V("x")), lambda m: m["x"],                      # concat(x) -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("select-const-pred", Op(hlo.SelectOp, Const("p"), V("a"), V("b")),                 # select(c, a, b)
            _select_constant_pred, where=_uniform_pred),                                        #   -> a or b
    Pattern("compare-same", Op(hlo.CompareOp, V("x"), V("x")), _compare_same,                   # x cmp x -> const
            where=_self_comparable),
    Pattern("and-true", Op(hlo.AndOp, V("x"), Const(value=1)), lambda m: m["x"],                # x & true -> x
            where=lambda m: _same_type(m, "x") and vals.dtype(m["x"]) == np.bool_),
    Pattern("or-false", Op(hlo.OrOp, V("x"), Const(value=0)), lambda m: m["x"],                 # x | false -> x
            where=lambda m: _same_type(m, "x")),
    Pattern("reshape-broadcast", Op(hlo.BroadcastInDimOp, Op(hlo.ReshapeOp, V("x"), name="r")),  # bc(rs(x)) -> bc(x)
            _reshape_into_broadcast, where=_only_adds_unit_dims),                               # (rs adds 1-dims)
    Pattern("dot-unflatten", Op(hlo.ReshapeOp, Op(hlo.DotGeneralOp, Op(hlo.ReshapeOp, V("x"), name="flat"),
                                                  V("w"), name="d", one_use=True)),             # rs(dot(rs(x), w))
            _unflatten_dot, where=_flattened_linear),                                           #   -> dot(x, w)
    Pattern("dus-full", Op(hlo.DynamicUpdateSliceOp, V("x"), V("u"), ...), lambda m: m["u"],    # dus(x, u:T(x)) -> u
            where=lambda m: _same_type(m, "u")),
]


def simplify_patterns() -> PatternSet:
    return PatternSet(RULES, name="simplify")
