"""StableHLO -> TFL: one conversion rule per StableHLO op, as a table.

Each rule receives the op (its operands already converted: constants are `tfl.pseudo_const`), builds TFL
ops at the op (insertion point and location are set by the driver) and returns the values that replace the
op's results, or raises `Decline("why, and what would work")`. The driver (`apply_conversion`) lists every
op left over, so a model that cannot be converted fails with each unsupported op by name and place.

Semantics to keep in mind (StableHLO has no implicit behaviour, TFL has some):
- TFL ops broadcast their operands numpy-style; StableHLO operands already have the result's shape, so
  every rule emits same-shape operands and the TFL broadcasting is only used by later clean-ups.
- StableHLO clamps `dynamic_slice` starts into range; TFL's SLICE does not, so the starts are clamped here.
- Integer `divide` truncates toward zero in both (TFL DIV on ints is C division, not FLOOR_DIV).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..ir import mlir
from ..patterns.driver import Decline
from . import ops as T


# ------------------------------------------------------------------------------------------- helpers

def _type(value) -> mlir.RankedTensorType:
    return mlir.RankedTensorType(value.type)


def _shape(value) -> list[int]:
    return list(_type(value).shape)


def _dtype(value) -> np.dtype:
    return ir.np_dtype(_type(value).element_type)


def _ttype(shape, like) -> mlir.RankedTensorType:
    """A tensor type of `shape` with the element type of value `like`."""
    return mlir.RankedTensorType.get(list(shape), _type(like).element_type)


def _ints(attr) -> list[int]:
    return [int(x) for x in attr]


def _one(name: str, operands, result_type, **attrs) -> mlir.Value:
    return T.create(name, operands, [result_type], **attrs).result


def _const_value(value):
    """The elements attribute behind a converted constant operand, or None."""
    owner = value.owner
    op = getattr(owner, "operation", owner)
    if isinstance(op, mlir.Operation) and op.name == T.CONST and not T.is_transposed(op):
        return op.attributes["value"]
    return None


def _transposed_const(value):
    """W when `value` is `tfl.transpose(W, [1, 0])` of a 2-D constant (an LM head's [vocab, d] table used as
    [d, vocab], too big for fold-constants to transpose): the dot is then an FC on W itself, no copy."""
    op = T.producer(value)
    if op is None or op.name != "tfl.transpose" or _const_value(op.operands[0]) is None:
        return None
    perm = _const_value(op.operands[1])
    return op.operands[0] if perm is not None and [int(p) for p in ir.to_numpy(perm)] == [1, 0] else None


def _float_weight(value) -> mlir.Value:
    """An int8 weight (`tfl.pseudo_qconst`) in a place no hybrid kernel takes it: its float values."""
    parts = T.qconst_parts(value)
    if parts is None:
        return value
    values, scale, axis = parts
    if T.qconst_block(value):  # one scale per block along `axis`
        spread = np.repeat(scale, T.qconst_block(value), axis=axis)
        return T.const((values.astype(np.float32) * spread).astype(_dtype(value)))
    shape = [1] * values.ndim
    if axis is not None:
        shape[axis] = -1
    return T.const((values.astype(np.float32) * scale.reshape(shape if axis is not None else ())).astype(
        _dtype(value)))


def reshape(value, shape) -> mlir.Value:
    if _shape(value) == list(shape):
        return value
    return _one("tfl.reshape", [value, T.i32(shape)], _ttype(shape, value))


def transpose(value, perm) -> mlir.Value:
    perm = list(perm)
    if perm == sorted(perm):
        return value
    shape = _shape(value)
    return _one("tfl.transpose", [value, T.i32(perm)], _ttype([shape[p] for p in perm], value))


# -------------------------------------------------------------------------------------- elementwise

_BINARY = {
    "stablehlo.add": ("tfl.add", True), "stablehlo.subtract": ("tfl.sub", True),
    "stablehlo.multiply": ("tfl.mul", True), "stablehlo.divide": ("tfl.div", True),
    "stablehlo.maximum": ("tfl.maximum", False), "stablehlo.minimum": ("tfl.minimum", False),
    "stablehlo.power": ("tfl.pow", False),
}
_UNARY = {
    "stablehlo.negate": "tfl.neg", "stablehlo.exponential": "tfl.exp", "stablehlo.log": "tfl.log",
    "stablehlo.rsqrt": "tfl.rsqrt", "stablehlo.sqrt": "tfl.sqrt", "stablehlo.tanh": "tfl.tanh",
    "stablehlo.logistic": "tfl.logistic", "stablehlo.abs": "tfl.abs", "stablehlo.sine": "tfl.sin",
    "stablehlo.cosine": "tfl.cos", "stablehlo.floor": "tfl.floor", "stablehlo.ceil": "tfl.ceil",
    "stablehlo.round_nearest_even": "tfl.round", "stablehlo.sign": "tfl.sign",
}
_COMPARE = {"EQ": "tfl.equal", "NE": "tfl.not_equal", "LT": "tfl.less", "LE": "tfl.less_equal",
            "GT": "tfl.greater", "GE": "tfl.greater_equal"}


def _binary(name: str, activation: bool):
    def rule(op):
        attrs = {"fused_activation_function": "NONE"} if activation else {}
        return _one(name, list(op.operands), op.result.type, **attrs)
    return rule


def _unary(name: str):
    def rule(op):
        return _one(name, [op.operands[0]], op.result.type)
    return rule


def _logical(name: str, what: str):
    def rule(op):
        if _dtype(op.result) != np.bool_:
            raise Decline(f"bitwise {what} of integers has no TFL builtin (only logical {what} of booleans)")
        return _one(name, list(op.operands), op.result.type)
    return rule


def _compare(op):
    direction = str(op.attributes["comparison_direction"]).split()[-1].rstrip(">")
    if "compare_type" in op.attributes and "TOTALORDER" in str(op.attributes["compare_type"]):
        raise Decline("compare with TOTALORDER has no TFL form")
    return _one(_COMPARE[direction], list(op.operands), op.result.type)


def _convert(op):
    if _type(op.operands[0]).element_type == _type(op.result).element_type:
        return op.operands[0]
    return _one("tfl.cast", [op.operands[0]], op.result.type)


def _select(op):
    return _one("tfl.select_v2", list(op.operands), op.result.type)


def _clamp(op):
    lo, x, hi = op.operands
    low = _one("tfl.maximum", [x, lo], op.result.type)
    return _one("tfl.minimum", [low, hi], op.result.type)


def _constant(op):
    return T.const(op.attributes["value"])


def _iota(op):
    shape = _shape(op.result)
    dim = int(op.attributes["iota_dimension"].value)
    axis = np.arange(shape[dim]).reshape([-1 if i == dim else 1 for i in range(len(shape))])
    return T.const(np.broadcast_to(axis, shape).astype(_dtype(op.result)))


# ---------------------------------------------------------------------------------------------- shape

def _reshape(op):
    return reshape(op.operands[0], _shape(op.result))


def _transpose(op):
    return transpose(op.operands[0], _ints(op.attributes["permutation"]))


def _broadcast_in_dim(op):
    x = op.operands[0]
    dims = _ints(op.attributes["broadcast_dimensions"])
    out = _shape(op.result)
    order = sorted(range(len(dims)), key=lambda i: dims[i])
    x = transpose(x, order)  # operand dims in the order they take in the result
    dims = sorted(dims)
    src = _shape(x)
    expanded = [1] * len(out)
    for i, d in enumerate(dims):
        expanded[d] = src[i]
    x = reshape(x, expanded)
    if expanded == out:
        return x
    return _one("tfl.broadcast_to", [x, T.i32(out)], op.result.type)


def _slice(op):
    start, limit = _ints(op.attributes["start_indices"]), _ints(op.attributes["limit_indices"])
    strides = _ints(op.attributes["strides"])
    x = op.operands[0]
    if all(s == 1 for s in strides):
        size = [b - a for a, b in zip(start, limit)]
        return _one("tfl.slice", [x, T.i32(start), T.i32(size)], op.result.type)
    return _one("tfl.strided_slice", [x, T.i32(start), T.i32(limit), T.i32(strides)], op.result.type, offset=False)


def _concatenate(op):
    axis = int(op.attributes["dimension"].value)
    return _one("tfl.concatenation", list(op.operands), op.result.type, axis=axis, fused_activation_function="NONE")


def _pack_indices(scalars, dtype) -> mlir.Value:
    """Scalar start indices -> one 1-D tensor (TFL takes starts as a tensor)."""
    scalars = list(scalars)
    vec_type = mlir.RankedTensorType.get([len(scalars)], _type(scalars[0]).element_type)
    return _one("tfl.pack", scalars, vec_type, values_count=len(scalars), axis=0)


def _dynamic_slice(op):
    x, *starts = op.operands
    sizes = _ints(op.attributes["slice_sizes"])
    begin = _pack_indices(starts, None)
    dt = _dtype(begin)
    upper = T.const(np.array([d - s for d, s in zip(_shape(x), sizes)], dt))
    begin = _one("tfl.maximum", [begin, T.const(np.zeros(len(sizes), dt))], begin.type)
    begin = _one("tfl.minimum", [begin, upper], begin.type)  # StableHLO clamps; TFL SLICE would fail
    return _one("tfl.slice", [x, begin, T.const(np.array(sizes, dt))], op.result.type)


def _dynamic_update_slice(op):
    x, update, *starts = op.operands
    return _one("tfl.dynamic_update_slice", [x, update, _pack_indices(starts, None)], op.result.type)


# --------------------------------------------------------------------------------------------- matmul

def _dims(op, name: str) -> list[int]:
    return list(getattr(ir.stablehlo.DotDimensionNumbers(op.attributes["dot_dimension_numbers"]), name))


def _dot_general(op):
    lhs, rhs = op.operands
    lb, lc = _dims(op, "lhs_batching_dimensions"), _dims(op, "lhs_contracting_dimensions")
    rb, rc = _dims(op, "rhs_batching_dimensions"), _dims(op, "rhs_contracting_dimensions")
    ls, rs = _shape(lhs), _shape(rhs)
    lf = [d for d in range(len(ls)) if d not in lb + lc]
    rf = [d for d in range(len(rs)) if d not in rb + rc]
    out = _shape(op.result)
    weight = _const_value(rhs)
    quantized = T.qconst_attrs(rhs)  # (attributes: an int8 weight is read only if it must be transposed)
    fc_form = not rb and len(rc) == 1 and len(rs) == 2 and lc == [len(ls) - 1] and bool(ls)
    transposed = _transposed_const(rhs) if weight is None and quantized is None and rc == [0] else None
    if transposed is not None and fc_form:
        fc = _one("tfl.fully_connected", [lhs, transposed, T.no_value()], _ttype([*ls[:-1], rs[1]], op.result),
                  keep_num_dims=True, fused_activation_function="NONE")
        return reshape(fc, out)
    if (weight is not None or quantized is not None) and fc_form:
        # x[..., K] . W -> FULLY_CONNECTED with W as [N, K] (output channels first), leading dims kept
        if quantized is not None:  # int8 weight: LiteRT's hybrid kernel, scales per output channel (axis 0)
            values, scale, axis = quantized
            block = T.qconst_block(rhs)  # int4 blocks along the contracting axis: as [N, K], blocks along 1
            lazy = None
            if rc == [0] and not block and math.prod(rs) >= T.LAZY_TRANSPOSE_MIN:  # [K, N]: the writer transposes
                lazy, axis = [1, 0], (None if axis is None else 1 - axis)
            elif rc == [0]:  # small, or int4 blocks (their scales move too): transposed here
                values, axis = ir.to_numpy(values).T, (None if axis is None else 1 - axis)
                scale = ir.to_numpy(scale).T if block else scale
            w_shape = [rs[1], rs[0]] if rc == [0] else list(rs)
            w_type = mlir.RankedTensorType.get(w_shape, _type(op.result).element_type)
            w_value = T.qconst(values, scale, axis, w_type, block, transposed=lazy)
            n = w_shape[0]
        elif rc == [1]:  # already [N, K]: the constant itself, not a copy (weights can be gigabytes)
            w_value, n = T.const(weight), rs[0]
        elif math.prod(rs) >= T.LAZY_TRANSPOSE_MIN:  # [K, N]: transposed by the writer, never copied here
            w_value, n = T.const_transposed(weight, [1, 0]), rs[1]
        else:
            w = ir.to_numpy(weight).T
            w_value, n = T.const(np.ascontiguousarray(w)), w.shape[0]
        fc = _one("tfl.fully_connected", [lhs, w_value, T.no_value()],
                  _ttype([*ls[:-1], n], op.result), keep_num_dims=True, fused_activation_function="NONE")
        return reshape(fc, out)
    lhs, rhs = _float_weight(lhs), _float_weight(rhs)  # an int8 weight elsewhere: dequantized at conversion
    # BATCH_MATMUL: lhs as [batch..., M, K], rhs as [batch..., K, N]
    batch = [ls[d] for d in lb]
    m, k, n = math.prod(ls[d] for d in lf), math.prod(ls[d] for d in lc), math.prod(rs[d] for d in rf)
    a = reshape(transpose(lhs, lb + lf + lc), [*batch, m, k])
    b = reshape(transpose(rhs, rb + rc + rf), [*batch, k, n])
    mm = _one("tfl.batch_matmul", [a, b], _ttype([*batch, m, n], op.result), adj_x=False, adj_y=False)
    return reshape(mm, out)


# --------------------------------------------------------------------------------------------- reduce

_REDUCERS = {"stablehlo.add": ("tfl.sum", "tfl.add", 0),
             "stablehlo.maximum": ("tfl.reduce_max", "tfl.maximum", -math.inf),
             "stablehlo.minimum": ("tfl.reduce_min", "tfl.minimum", math.inf),
             "stablehlo.multiply": ("tfl.reduce_prod", "tfl.mul", 1),
             "stablehlo.and": ("tfl.reduce_all", "tfl.logical_and", True),
             "stablehlo.or": ("tfl.reduce_any", "tfl.logical_or", False)}


def _identity(kind: str, dtype: np.dtype):
    value = _REDUCERS[kind][2]
    if dtype.kind in "iu" and math.isinf(value):
        info = np.iinfo(dtype)
        return info.min if value < 0 else info.max
    return value


def _reduce(op):
    if len(op.operands) != 2:
        raise Decline("a reduce of several tensors at once (e.g. argmax) has no TFL builtin")
    body = op.regions[0].blocks[0]
    inner = list(body.operations)
    args = list(body.arguments)
    if len(inner) != 2 or inner[0].operation.name not in _REDUCERS or \
            {id(v) for v in inner[0].operands} == set() or list(inner[0].operands) not in (args, args[::-1]):
        raise Decline("the reducer is not a single add/max/min/mul/and/or of its two arguments")
    kind = inner[0].operation.name
    reducer, combine, _ = _REDUCERS[kind]
    if reducer in ("tfl.reduce_all", "tfl.reduce_any") and _dtype(op.result) != np.bool_:
        raise Decline("bitwise and/or reductions of integers have no TFL builtin")
    x, init = op.operands
    dims = _ints(op.attributes["dimensions"])
    out = _one(reducer, [x, T.i32(dims)], op.result.type, keep_dims=False)
    init_attr = _const_value(init)
    dtype = _dtype(init)
    if init_attr is not None:
        value = ir.to_numpy(init_attr)
        ident = _identity(kind, dtype)
        if value.size == 1 and (value.reshape(()) == np.asarray(ident, dtype) or
                                (isinstance(ident, float) and not np.isfinite(ident) and value.reshape(()) == ident)):
            return out
    return _one(combine, [out, init], op.result.type, **({"fused_activation_function": "NONE"}
                                                         if combine in ("tfl.add", "tfl.mul") else {}))


# --------------------------------------------------------------------------------------------- gather

def _point_gather(x, idx, xs):
    """Every index vector picks one element, x[i0, i1, ...] (torch-mlir's read of a padding mask at constant
    (batch, position) pairs): GATHER_ND, with each component clamped into its dim as XLA clamps."""
    high = np.array([d - 1 for d in xs])
    indices = _const_value(idx)
    if indices is not None:  # constant indices (the usual case): clamped here, once
        values = ir.to_numpy(indices)
        idx = T.const(np.clip(values, 0, high).astype(values.dtype))
    else:
        dt = _dtype(idx)
        idx = _one("tfl.maximum", [idx, T.const(np.zeros((), dt))], idx.type)
        idx = _one("tfl.minimum", [idx, T.const(high.astype(dt))], idx.type)
    return _one("tfl.gather_nd", [x, idx], _ttype(_shape(idx)[:-1], x))


def _gather(op):
    """The gathers exporters emit for embeddings and `take`: one axis indexed, full slices elsewhere."""
    x, idx = op.operands
    dn = ir.stablehlo.GatherDimensionNumbers(op.attributes["dimension_numbers"])
    offset, collapsed = list(dn.offset_dims), list(dn.collapsed_slice_dims)
    start_map, ivd = list(dn.start_index_map), int(dn.index_vector_dim)
    if list(getattr(dn, "operand_batching_dims", [])):
        raise Decline("gather with batching dims has no TFL form here")
    sizes = _ints(op.attributes["slice_sizes"])
    xs, ishape = _shape(x), _shape(idx)
    n = len(xs)
    if not offset and collapsed == start_map == list(range(n)) and sizes == [1] * n and n and \
            ivd == len(ishape) - 1 and ishape[-1] == n and _shape(op.result) == ishape[:-1]:
        return _point_gather(x, idx, xs)
    if len(start_map) != 1 or collapsed != start_map:
        raise Decline("only gathers along one collapsed axis (embedding lookups, take) convert to GATHER")
    axis = start_map[0]
    if any(s != (1 if d == axis else xs[d]) for d, s in enumerate(sizes)):
        raise Decline("the gather takes partial slices; only full slices along the other axes convert")
    batch = list(ishape)
    if ivd < len(ishape):
        if ishape[ivd] != 1:
            raise Decline("the index vector has more than one component")
        batch = ishape[:ivd] + ishape[ivd + 1:]
        idx = reshape(idx, batch)
    expected = xs[:axis] + batch + xs[axis + 1:]
    want_offsets = list(range(axis)) + list(range(axis + len(batch), len(expected)))
    if offset != want_offsets or _shape(op.result) != expected:
        raise Decline("the gather's result dims are not in TFL GATHER's order (operand dims before the axis,"
                      " index dims, then the rest)")
    # XLA clamps out-of-range starts into the operand; TFL GATHER fails on them: clamp first
    dt = _dtype(idx)
    idx = _one("tfl.maximum", [idx, T.const(np.zeros((), dt))], idx.type)
    idx = _one("tfl.minimum", [idx, T.const(np.asarray(xs[axis] - 1, dt))], idx.type)
    return _one("tfl.gather", [x, idx], op.result.type, axis=axis, batch_dims=0)


# Composites TFLite has a builtin for: converted to it before the conversion proper (their decompositions
# go, unless another composite still uses them), never kept or inlined. odml.gelu -> GELU {approximate}.
BUILTIN_COMPOSITES = frozenset({"odml.gelu"})


def builtin_composites(module) -> int:
    """Replace each composite of BUILTIN_COMPOSITES by its TFL builtin; returns how many."""
    from ..patterns.outline import decomposition_names

    found, impls = [], set()

    def visit(op):
        if op.name == "stablehlo.composite" and mlir.StringAttr(op.attributes["name"]).value in BUILTIN_COMPOSITES:
            found.append(op)
        return mlir.WalkResult.ADVANCE

    module.walk(visit)
    for op in found:
        attrs = mlir.DictAttr(op.attributes["composite_attributes"])
        approximate = "approximate" in attrs and bool(mlir.BoolAttr(attrs["approximate"]).value)
        impls.add(mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value)
        with op.location, mlir.InsertionPoint(op):
            new = _one("tfl.gelu", [op.operands[0]], op.results[0].type, approximate=approximate)
        op.results[0].replace_all_uses_with(new)
        op.erase()
    still = decomposition_names(module)
    for fn in list(module.regions[0].blocks[0].operations):
        if fn.operation.name == "func.func" and mlir.StringAttr(fn.attributes["sym_name"]).value in impls - still:
            fn.operation.erase()
    return len(found)


RULES = {
    **{k: _binary(*v) for k, v in _BINARY.items()},
    **{k: _unary(v) for k, v in _UNARY.items()},
    "stablehlo.and": _logical("tfl.logical_and", "and"), "stablehlo.or": _logical("tfl.logical_or", "or"),
    "stablehlo.not": _logical("tfl.logical_not", "not"),
    "stablehlo.compare": _compare, "stablehlo.convert": _convert, "stablehlo.select": _select,
    "stablehlo.clamp": _clamp, "stablehlo.constant": _constant, "arith.constant": _constant,
    "stablehlo.iota": _iota, "stablehlo.reshape": _reshape, "stablehlo.transpose": _transpose,
    "stablehlo.broadcast_in_dim": _broadcast_in_dim, "stablehlo.slice": _slice,
    "stablehlo.concatenate": _concatenate, "stablehlo.dynamic_slice": _dynamic_slice,
    "stablehlo.dynamic_update_slice": _dynamic_update_slice, "stablehlo.dot_general": _dot_general,
    "stablehlo.reduce": _reduce, "stablehlo.gather": _gather, "stablehlo.case": lambda op: _case(op),
}

ILLEGAL = ("stablehlo", "chlo", "arith", "tensor", "shape", "sdy", "mhlo")
# Kept as they are: composites (STABLEHLO_COMPOSITE, decomposition legalized too), while and if (WHILE and IF,
# their bodies legalized in place, written as subgraphs) and the bodies' terminators.
LEGAL = frozenset({"stablehlo.composite", "stablehlo.while", "stablehlo.if", "stablehlo.return"})


def _case(op):
    """A two-branch case (how JAX lowers lax.cond) -> if (index == 0): IF. Branch 0 runs for index 0, the
    last branch for every other index, out-of-range ones included (StableHLO's rule)."""
    if len(op.regions) != 2:
        raise Decline(f"stablehlo.case with {len(op.regions)} branches has no TFL form here (two convert to IF)")
    index = op.operands[0]
    is_zero = _one("tfl.equal", [index, T.const(np.zeros((), _dtype(index)))],
                   mlir.RankedTensorType.get([], mlir.IntegerType.get_signless(1)))
    new = mlir.Operation.create("stablehlo.if", results=[r.type for r in op.results], operands=[is_zero],
                                regions=2)
    for i in (0, 1):  # move the bodies over: their ops are converted in place afterwards
        op.regions[i].blocks[0].append_to(new.regions[i])
    return list(new.results)

