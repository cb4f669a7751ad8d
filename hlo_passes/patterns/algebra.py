"""The `simplify` pattern set: algebraic and structural clean-up, one rule per line.

Each rule reads `lhs -> rhs`. Float rules keep values exactly (x*1, x/1, x-0 are exact in IEEE), with
one documented exception that every compiler makes: x+0 -> x turns -0.0+0.0 (= +0.0) into -0.0.
Rules that are only true for integers (x*0 -> 0, compare(x, x)) check the element type. Dead ops and
duplicate constants are removed by the driver itself (it erases dead ops and dedups constants).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir import stablehlo as hlo
from . import dtypes as dt
from . import values as vals
from .driver import Pattern, PatternSet
from .template import Const, Op, V


@functools.lru_cache(maxsize=None)
def _reads_constants(root) -> bool:
    return any(isinstance(t, Const) for t in root.operands)


@dataclass(frozen=True)
class Rule(Pattern):
    """A pattern whose constant operands must have an element type the rules can read (not complex, i2,
    f4, f8E8M0FNU, ...: see dtypes.CLAIMED); reading one would raise, so the op is left alone.

    Local (see Pattern.local): a rule's `where` reads the matched ops and types, and its rewrite builds one
    op or none. Whether the rule as a whole is local also depends on its template (`one_use` below the
    root, an op two levels up: dot-unflatten, dot-transposed-*)."""

    local: bool = True

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "_reads", _reads_constants(self.root))  # (the driver asks at every candidate)

    def match(self, op, explain: bool = True):
        if self._reads:  # (rules read constants only at the root)
            for v in op.operands:
                d = vals.defining_op(v)
                if d is not None and d.name in vals.CONSTANT_OPS and _dtype(v) is None:
                    return None, f"a constant operand of type {v.type}, which the rules do not read"
        return super().match(op, explain)


def _dtype(value) -> np.dtype | None:
    """The value's element dtype when it is one the rules know, else None."""
    t = value.type.maybe_downcast()
    return dt.claimed(t.element_type) if isinstance(t, ir.mlir.ShapedType) else None


def _int(value) -> bool:
    d = _dtype(value)
    return d is not None and (dt.is_int(d) or dt.is_bool(d))


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
    if not _same_type(m, "x"):  # (most broadcasts: nothing more to read)
        return False
    dims = vals.attr_value(m.root.attributes["broadcast_dimensions"])
    return dims == list(range(len(dims)))


def _full_slice(m) -> bool:
    op = m.root
    starts, limits, strides = (vals.attr_value(op.attributes[k]) for k in ("start_indices", "limit_indices", "strides"))
    return _same_type(m, "x") and all(s == 0 for s in starts) and all(k == 1 for k in strides) and \
        list(limits) == list(vals.shape(m["x"]))


def _exact_in(src: np.dtype, dst: np.dtype) -> bool:
    """Every value of `src` is exactly a value of `dst`: infinities, NaN and -0.0 included."""
    if src == dst or dt.is_bool(src):
        return True
    if dt.is_bool(dst):
        return False
    if dt.is_int(src) and dt.is_int(dst):
        (slo, shi), (dlo, dhi) = dt.int_range(src), dt.int_range(dst)
        return dlo <= slo and shi <= dhi
    if dt.is_int(src):  # -> float: the integer's magnitude bits must fit the significand (and the range)
        f = dt.finfo(dst)
        magnitude = dt.bits(src) - dt.is_signed(src)
        return magnitude <= f.nmant + 1 and float(f.max) >= 2.0 ** magnitude
    if not dt.is_float(dst):
        return False
    s, d = dt.finfo(src), dt.finfo(dst)
    return (d.nmant >= s.nmant and d.maxexp >= s.maxexp and d.minexp <= s.minexp
            and (dt.has_inf(dst) or not dt.has_inf(src)) and (dt.has_nan(dst) or not dt.has_nan(src))
            and (dt.has_negative_zero(dst) or not dt.has_negative_zero(src)))


def chain_mergeable(a: np.dtype, b: np.dtype, c: np.dtype) -> bool | str:
    """convert(convert(x: a -> b) -> c) is convert(x: a -> c) for every value of `a`.

    It is when b holds every a exactly and converting that value to c does not depend on where it comes
    from: float and bool targets round (compare) the value itself, and integer targets too, except that
    XLA saturates float -> int and wraps int -> int, so an int -> float -> int chain is only merged when
    no value of a is out of c's range. (Checked over every value of every small type on XLA CPU:
    tests/test_convert_chains.py.)"""
    if not _exact_in(a, b):
        return f"{b} does not hold every {a} value exactly"
    if dt.is_int(a) and dt.is_float(b) and dt.is_int(c):
        (alo, ahi), (clo, chi) = dt.int_range(a), dt.int_range(c)
        if not (clo <= alo and ahi <= chi):
            return f"{a} -> {b} -> {c} saturates where {a} -> {c} wraps"
    return True


def _inner_lossless(m) -> bool | str:
    a, b, c = _dtype(m["x"]), _dtype(m["mid"]), _dtype(m.root.results[0])
    if a is None or b is None or c is None:
        return "an element type the rules do not know"
    return chain_mergeable(a, b, c)


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


def _batch_only_broadcast(m) -> bool | str:
    """dot(x, broadcast(w)) where the broadcast only adds the rhs batch dims (torch-mlir's batched matmul
    against a shared weight): the weight is the same for every batch entry, so the batch can be free dims."""
    dot, bc = m.root, m.op("bc")
    lb, rb, lc, rc = vals.dot_dims(dot)
    placed = vals.attr_value(bc.attributes["broadcast_dimensions"])
    if not rb or sorted(rb) != sorted(set(range(len(vals.shape(bc.results[0])))) - set(placed)):
        return "the broadcast does not add exactly the rhs batch dims"
    lhs_rank = len(vals.shape(m["x"]))
    free = [d for d in range(lhs_rank) if d not in lc and d not in lb]
    if lb != sorted(lb) or (free and lb and max(lb) > min(free)):
        return "the lhs batch dims do not come first: the unbatched result would be in another order"
    return True


def _unbatch_dot(m):
    """-> dot(x, w) contracting the same dims; x's batch dims become leading free dims."""
    dot, bc = m.root, m.op("bc")
    lb, rb, lc, rc = vals.dot_dims(dot)
    placed = list(vals.attr_value(bc.attributes["broadcast_dimensions"]))
    dims = hlo.DotDimensionNumbers.get(lhs_batching_dimensions=[], rhs_batching_dimensions=[],
                                       lhs_contracting_dimensions=lc,
                                       rhs_contracting_dimensions=[placed.index(d) for d in rc])
    precision = dot.attributes["precision_config"] if "precision_config" in dot.attributes else None
    return hlo.DotGeneralOp(dot.results[0].type, m["x"], m["w"], dims, precision_config=precision).result


def reads_through_transpose(dot, side: int, perm: list[int]) -> bool:
    """A dot whose operand `side` is transpose(w, perm) can read w itself: the operand's free dims, seen
    through the permutation, keep their order (so the result's dims stay where they are). fold-constants
    asks it too, to leave such a weight's transpose to this rule rather than copy the weight."""
    lb, rb, lc, rc = vals.dot_dims(dot)
    used = (lb + lc) if side == 0 else (rb + rc)
    free = [perm[d] for d in range(len(perm)) if d not in used]
    return free == sorted(free)


def _transposed_operand(side: int):
    """where: dot(.., transpose(w), ..) on operand `side` can read w itself (`reads_through_transpose`)."""
    def check(m) -> bool | str:
        perm = list(vals.attr_value(m.op("t").attributes["permutation"]))
        return reads_through_transpose(m.root, side, perm) or "the transpose reorders the operand's free dims"
    return check


def _read_through_transpose(side: int):
    """-> the same dot on w, its batch and contracting dims renumbered through the permutation."""
    def rewrite(m):
        dot, t = m.root, m.op("t")
        perm = list(vals.attr_value(t.attributes["permutation"]))
        lb, rb, lc, rc = vals.dot_dims(dot)
        if side == 0:
            lb, lc = [perm[d] for d in lb], [perm[d] for d in lc]
        else:
            rb, rc = [perm[d] for d in rb], [perm[d] for d in rc]
        dims = hlo.DotDimensionNumbers.get(lhs_batching_dimensions=lb, rhs_batching_dimensions=rb,
                                           lhs_contracting_dimensions=lc, rhs_contracting_dimensions=rc)
        operands = [m["w"], dot.operands[1]] if side == 0 else [dot.operands[0], m["w"]]
        precision = dot.attributes["precision_config"] if "precision_config" in dot.attributes else None
        return hlo.DotGeneralOp(dot.results[0].type, *operands, dims, precision_config=precision).result
    return rewrite


RULES = [
    Rule("add-zero", Op(hlo.AddOp, V("x"), Const(value=0)), lambda m: m["x"],             # x + 0 -> x
         where=lambda m: _same_type(m, "x")),
    Rule("sub-zero", Op(hlo.SubtractOp, V("x"), Const(where=_plus_zero)), lambda m: m["x"],  # x - (+0) -> x
         where=lambda m: _same_type(m, "x")),
    Rule("mul-one", Op(hlo.MulOp, V("x"), Const(value=1)), lambda m: m["x"],              # x * 1 -> x
         where=lambda m: _same_type(m, "x")),
    Rule("mul-zero-int", Op(hlo.MulOp, V("x"), Const(value=0)), _zeros,                   # x * 0 -> 0 (ints)
         where=lambda m: _int(m["x"]) or "x*0 is not 0 for floats (inf, nan)"),
    Rule("div-one", Op(hlo.DivOp, V("x"), Const(value=1)), lambda m: m["x"],              # x / 1 -> x
         where=lambda m: _same_type(m, "x")),
    Rule("neg-neg", Op(hlo.NegOp, Op(hlo.NegOp, V("x"))), lambda m: m["x"]),              # -(-x) -> x
    Rule("not-not", Op(hlo.NotOp, Op(hlo.NotOp, V("x"))), lambda m: m["x"]),              # !!x -> x
    Rule("convert-same", Op(hlo.ConvertOp, V("x")), lambda m: m["x"],                     # convert(x:T):T -> x
         where=lambda m: _same_type(m, "x")),
    Rule("convert-chain", Op(hlo.ConvertOp, Op(hlo.ConvertOp, V("x"), name="mid")),      # cvt(cvt(x)) -> cvt(x)
         _convert_chain, where=_inner_lossless),                                                # (chain_mergeable)
    Rule("reshape-reshape", Op(hlo.ReshapeOp, Op(hlo.ReshapeOp, V("x"))), _reshape),      # rs(rs(x)) -> rs(x)
    Rule("reshape-same", Op(hlo.ReshapeOp, V("x")), lambda m: m["x"],                     # rs(x):T(x) -> x
         where=lambda m: _same_type(m, "x")),
    Rule("transpose-transpose", Op(hlo.TransposeOp, Op(hlo.TransposeOp, V("x"), name="t")),  # tr(tr(x,p),q)
         _compose_transpose),                                                                   #   -> tr(x, p.q)
    Rule("transpose-identity", Op(hlo.TransposeOp, V("x"), where=_identity_perm),        # tr(x, id) -> x
         lambda m: m["x"]),
    Rule("broadcast-broadcast", Op(hlo.BroadcastInDimOp,                                  # bc(bc(x)) -> bc(x)
                                   Op(hlo.BroadcastInDimOp, V("x"), name="b")), _compose_broadcast),
    Rule("broadcast-same", Op(hlo.BroadcastInDimOp, V("x")), lambda m: m["x"],            # bc(x):T(x) -> x
         where=_broadcast_is_identity),
    Rule("slice-full", Op(hlo.SliceOp, V("x")), lambda m: m["x"], where=_full_slice),     # x[:] -> x
    Rule("concat-one", Op(hlo.ConcatenateOp, V("x")), lambda m: m["x"],                   # concat(x) -> x
         where=lambda m: _same_type(m, "x")),
    Rule("select-const-pred", Op(hlo.SelectOp, Const("p"), V("a"), V("b")),              # select(c, a, b)
         _select_constant_pred, where=_uniform_pred),                                           #   -> a or b
    Rule("compare-same", Op(hlo.CompareOp, V("x"), V("x")), _compare_same,                # x cmp x -> const
         where=_self_comparable),
    Rule("and-true", Op(hlo.AndOp, V("x"), Const(value=1)), lambda m: m["x"],             # x & true -> x
         where=lambda m: _same_type(m, "x") and _dtype(m["x"]) == np.bool_),
    Rule("or-false", Op(hlo.OrOp, V("x"), Const(value=0)), lambda m: m["x"],              # x | false -> x
         where=lambda m: _same_type(m, "x")),
    Rule("reshape-broadcast", Op(hlo.BroadcastInDimOp, Op(hlo.ReshapeOp, V("x"), name="r")),  # bc(rs(x)) -> bc(x)
         _reshape_into_broadcast, where=_only_adds_unit_dims),                                  # (rs adds 1-dims)
    Rule("dot-unflatten", Op(hlo.ReshapeOp, Op(hlo.DotGeneralOp, Op(hlo.ReshapeOp, V("x"), name="flat"),
                                               V("w"), name="d", one_use=True)),                # rs(dot(rs(x), w))
         _unflatten_dot, where=_flattened_linear),                                              #   -> dot(x, w)
    Rule("dot-unbatch-weight", Op(hlo.DotGeneralOp, V("x"), Op(hlo.BroadcastInDimOp, V("w"), name="bc")),
         _unbatch_dot, where=_batch_only_broadcast),                                  # dot(x, bc(w)) -> dot(x, w)
    Rule("dot-transposed-rhs", Op(hlo.DotGeneralOp, V("x"), Op(hlo.TransposeOp, V("w"), name="t", one_use=True)),
         _read_through_transpose(1), where=_transposed_operand(1)),            # dot(x, tr(w)) -> dot(x, w)
    Rule("dot-transposed-lhs", Op(hlo.DotGeneralOp, Op(hlo.TransposeOp, V("w"), name="t", one_use=True), V("x")),
         _read_through_transpose(0), where=_transposed_operand(0)),            # dot(tr(w), x) -> dot(w, x)
    Rule("dus-full", Op(hlo.DynamicUpdateSliceOp, V("x"), V("u"), ...), lambda m: m["u"],    # dus(x, u:T(x)) -> u
         where=lambda m: _same_type(m, "u")),
]


def simplify_patterns() -> PatternSet:
    return PatternSet(RULES, name="simplify")
