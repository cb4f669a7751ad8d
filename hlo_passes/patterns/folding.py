"""Constant folding: evaluate StableHLO ops whose operands are all constants, with numpy.

One evaluator per op, `EVALUATORS[op name](op, operand arrays) -> array`, written to give what XLA gives:
- IEEE-exact ops (add, multiply, divide, sqrt, ...) are computed in the op's own dtype, so they are
  bit-exact; bf16/f16 go through f32 like XLA's CPU backend.
- transcendental ops are computed in f64 and rounded once, which is what XLA's compile-time evaluator
  (glibc's correctly rounded float functions) gives in all but rare cases;
- float reductions (reduce, reduce_window) accumulate sequentially in row-major order, not numpy's
  pairwise order, with XLA's precision: f32/f16 sums in f64 rounded once; bf16 sums and all products
  rounded to the element type at each step. A float dot_general adds f32-rounded products in f32, one
  after the other, except one with no free dim bigger than 1, which XLA turns into multiply + reduce
  (products rounded, then summed in f64);
- where XLA's result is implementation-defined (integer division by zero, float->int conversion of
  NaN/inf/out-of-range values, a reduce or reduce_window whose init is not the identity of its body,
  which StableHLO may apply any number of times), the evaluator declines (`Decline`) and the op stays.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ..ir import stablehlo
from . import values as vals


class Decline(Exception):
    """This instance is not folded (its result would be implementation-defined, or too costly)."""


def _float_kind(dtype) -> bool:
    return np.dtype(dtype).kind == "f" or np.dtype(dtype) in (ml_dtypes.bfloat16,) or "float8" in str(dtype)


def _exact(fn):
    """An IEEE-exact op: compute in the dtype (sub-f32 floats via f32, then one rounding)."""

    def run(op, *xs):
        dtype = xs[0].dtype
        with np.errstate(all="ignore"):
            if _float_kind(dtype) and dtype.itemsize < 4:
                return fn(*(x.astype(np.float32) for x in xs)).astype(dtype)
            return np.asarray(fn(*xs)).astype(dtype, copy=False)

    return run


def _transcendental(fn):
    def run(op, x, *rest):
        if not _float_kind(x.dtype):
            raise Decline("not a float")
        with np.errstate(all="ignore"):
            return np.asarray(fn(x.astype(np.float64), *(r.astype(np.float64) for r in rest))).astype(x.dtype)

    return run


def _int_divide(op, a, b):
    if _float_kind(a.dtype):
        return _exact(np.divide)(op, a, b)
    if (b == 0).any() or (a.dtype.kind == "i" and ((a == np.iinfo(a.dtype).min) & (b == -1)).any()):
        raise Decline("integer division by zero or overflow: XLA's result is its own")
    q = np.abs(a.astype(np.int64)) // np.abs(b.astype(np.int64)) if a.dtype.kind == "i" else a // b
    return (q * np.sign(a.astype(np.int64)) * np.sign(b.astype(np.int64))).astype(a.dtype) \
        if a.dtype.kind == "i" else q.astype(a.dtype)


def _remainder(op, a, b):
    if _float_kind(a.dtype):
        return _exact(np.fmod)(op, a, b)
    if (b == 0).any() or (a.dtype.kind == "i" and ((a == np.iinfo(a.dtype).min) & (b == -1)).any()):
        raise Decline("integer remainder by zero or overflow")
    return np.fmod(a, b).astype(a.dtype)  # C semantics: the sign of the dividend


def _power(op, a, b):
    if _float_kind(a.dtype):
        return _transcendental(np.power)(op, a, b)
    if (b < 0).any():
        raise Decline("negative integer exponent")
    with np.errstate(all="ignore"):
        return np.power(a, b).astype(a.dtype)


def _shift(kind):
    def run(op, a, b):
        bits = a.dtype.itemsize * 8
        if ((b < 0) | (b >= bits)).any():
            raise Decline("shift amount out of range")
        if kind == "left":
            return np.left_shift(a, b).astype(a.dtype)
        if kind == "arith":  # on the two's complement bits, also for unsigned types (XLA: ashr)
            signed = a.view(np.dtype(f"i{a.dtype.itemsize}"))
            return np.right_shift(signed, b.astype(signed.dtype)).view(a.dtype)
        unsigned = a.view(np.dtype(f"u{a.dtype.itemsize}"))
        return np.right_shift(unsigned, b.astype(unsigned.dtype)).view(a.dtype)

    return run


def _round_afz(x):
    """Half away from zero. Not floor(|x| + 0.5): that sum rounds (0.49999997 + 0.5 -> 1.0 in f32)."""
    xf = x.astype(np.float64)
    t = np.trunc(xf)  # keeps -0.0, NaN and infinities
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(xf - t) >= 0.5, t + np.sign(xf), t).astype(x.dtype)


def _sign(x):
    """-1, 0 or 1; zeros and NaN are their own sign (XLA: sign(-0.0) = -0.0, which np.sign makes +0.0)."""
    if not _float_kind(x.dtype):
        return np.sign(x)
    return np.where((x == 0) | np.isnan(x), x, np.sign(x))


def _logical(fn):
    def run(op, *xs):
        return fn(*xs).astype(xs[0].dtype)
    return run


UNARY = {
    "stablehlo.negate": _exact(np.negative), "stablehlo.abs": _exact(np.abs), "stablehlo.sqrt": _exact(np.sqrt),
    "stablehlo.floor": _exact(np.floor), "stablehlo.ceil": _exact(np.ceil), "stablehlo.sign": _exact(_sign),
    "stablehlo.round_nearest_even": _exact(np.rint), "stablehlo.round_nearest_afz": _exact(_round_afz),
    "stablehlo.not": _logical(lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)),
    "stablehlo.rsqrt": _transcendental(lambda x: 1.0 / np.sqrt(x)),
    "stablehlo.exponential": _transcendental(np.exp), "stablehlo.exponential_minus_one": _transcendental(np.expm1),
    "stablehlo.log": _transcendental(np.log), "stablehlo.log_plus_one": _transcendental(np.log1p),
    "stablehlo.tanh": _transcendental(np.tanh), "stablehlo.sine": _transcendental(np.sin),
    "stablehlo.cosine": _transcendental(np.cos), "stablehlo.tan": _transcendental(np.tan),
    "stablehlo.cbrt": _transcendental(np.cbrt),
    "stablehlo.logistic": _transcendental(lambda x: 1.0 / (1.0 + np.exp(-x))),
}
BINARY = {
    "stablehlo.add": _exact(np.add), "stablehlo.subtract": _exact(np.subtract),
    "stablehlo.multiply": _exact(np.multiply), "stablehlo.divide": _int_divide,
    "stablehlo.remainder": _remainder, "stablehlo.maximum": _exact(np.maximum),
    "stablehlo.minimum": _exact(np.minimum), "stablehlo.power": _power,
    "stablehlo.atan2": _transcendental(np.arctan2),
    "stablehlo.and": _logical(lambda a, b: a & b), "stablehlo.or": _logical(lambda a, b: a | b),
    "stablehlo.xor": _logical(lambda a, b: a ^ b),
    "stablehlo.shift_left": _shift("left"), "stablehlo.shift_right_arithmetic": _shift("arith"),
    "stablehlo.shift_right_logical": _shift("logical"),
}


def _total_order_key(x: np.ndarray) -> np.ndarray:
    """Integers that order floats the way TOTALORDER compare does (-NaN < -inf < ... < -0 < +0 < NaN)."""
    bits = x.view(np.dtype(f"i{x.dtype.itemsize}")).astype(np.int64)
    return np.where(bits < 0, np.iinfo(np.int64).min - bits, bits)


_COMPARE = {"EQ": np.equal, "NE": np.not_equal, "LT": np.less, "LE": np.less_equal, "GT": np.greater,
            "GE": np.greater_equal}


def _compare(op, a, b):
    direction = vals.attr_value(op.attributes["comparison_direction"])
    kind = vals.attr_value(op.attributes["compare_type"]) if "compare_type" in op.attributes else None
    if kind == "TOTALORDER":
        a, b = _total_order_key(a), _total_order_key(b)
    elif kind == "UNSIGNED" and a.dtype.kind == "i":
        a, b = a.view(np.dtype(f"u{a.dtype.itemsize}")), b.view(np.dtype(f"u{b.dtype.itemsize}"))
    elif _float_kind(a.dtype) and a.dtype.itemsize < 4:
        a, b = a.astype(np.float32), b.astype(np.float32)
    return _COMPARE[direction](a, b)


def _select(op, pred, a, b):
    return np.where(pred, a, b)


def _clamp(op, lo, x, hi):
    return _exact(lambda lo_, x_, hi_: np.minimum(np.maximum(x_, lo_), hi_))(op, lo, x, hi)


def _convert(op, x):
    to = vals.dtype(op.results[0])
    if _float_kind(x.dtype) and not _float_kind(to) and to != np.bool_:
        info = np.iinfo(to)
        xf = x.astype(np.float64)
        if not np.isfinite(xf).all() or (np.trunc(xf) < info.min).any() or (np.trunc(xf) > info.max).any():
            raise Decline("float->int conversion of NaN/inf/out-of-range values is implementation-defined")
        return np.trunc(xf).astype(to)
    if to == np.bool_:
        return x != 0
    if _float_kind(x.dtype) and _float_kind(to) and x.dtype.itemsize < to.itemsize:
        return x.astype(np.float64).astype(to)
    if to == ml_dtypes.bfloat16 and (x.dtype == np.float64 or (x.dtype.kind in "iu" and x.dtype.itemsize > 2)):
        return _round_to_odd_f32(x).astype(to)  # ml_dtypes goes through f32: two roundings
    with np.errstate(all="ignore"):
        return x.astype(to)


def _round_to_odd_f32(x: np.ndarray) -> np.ndarray:
    """`x` (an integer or f64 array) in f32, rounded to odd: truncated, with the last bit set if that lost
    anything. Rounding this once more to a type of at most 22 bits of precision (bf16, f16) gives the
    correctly rounded result, as XLA's folder does, where rounding through f32 can round twice
    (i32 1077936129 -> bf16: 1.073741824e9 through f32, 1.082130432e9 in one step)."""
    with np.errstate(all="ignore"):
        r = x.astype(np.float32)
        if x.dtype.kind in "iu":
            wide = np.uint64 if x.dtype.kind == "u" else np.int64
            xi = x.astype(wide)
            big = r >= np.float32(2.0 ** (64 if x.dtype.kind == "u" else 63))  # does not convert back
            back = np.where(big, 0, r).astype(wide)
            inexact = big | (back != xi)
            away = big | np.where(xi >= 0, back > xi, back < xi)
        else:
            back = r.astype(np.float64)
            inexact = np.isfinite(x) & (back != x)
            away = inexact & (np.abs(back) > np.abs(x))
        r = np.where(away, np.nextafter(r, np.float32(0)), r).astype(np.float32)
        return (r.view(np.uint32) | inexact.astype(np.uint32)).view(np.float32)


def _result_shape(op):
    return vals.shape(op.results[0])


def _attr(op, name):
    return vals.attr_value(op.attributes[name])


def _broadcast_in_dim(op, x):
    out_shape = _result_shape(op)
    dims = _attr(op, "broadcast_dimensions")
    x = np.transpose(x, sorted(range(len(dims)), key=lambda i: dims[i]))  # dims need not ascend
    shape = [1] * len(out_shape)
    for n, d in zip(x.shape, sorted(dims)):
        shape[d] = n
    return np.broadcast_to(x.reshape(shape), out_shape)


def _iota(op):
    shape, dim = _result_shape(op), _attr(op, "iota_dimension")
    idx = np.arange(shape[dim]).reshape([-1 if i == dim else 1 for i in range(len(shape))])
    return np.broadcast_to(idx, shape).astype(vals.dtype(op.results[0]))


def _dynamic_iota(op, shape_operand):
    if list(shape_operand) != list(_result_shape(op)):
        raise Decline("result type does not match the constant shape")
    return _iota(op)


def _slice(op, x):
    starts, limits, strides = _attr(op, "start_indices"), _attr(op, "limit_indices"), _attr(op, "strides")
    return x[tuple(slice(s, e, k) for s, e, k in zip(starts, limits, strides))]


def _dynamic_slice(op, x, *starts):
    sizes = _attr(op, "slice_sizes")
    clamped = [int(np.clip(int(s), 0, n - k)) for s, n, k in zip(starts, x.shape, sizes)]
    return x[tuple(slice(s, s + k) for s, k in zip(clamped, sizes))]


def _concatenate(op, *xs):
    return np.concatenate(xs, axis=_attr(op, "dimension"))


def _pad(op, x, value):
    low, high, interior = _attr(op, "edge_padding_low"), _attr(op, "edge_padding_high"), _attr(op, "interior_padding")
    shape = [n + max(n - 1, 0) * k for n, k in zip(x.shape, interior)]
    grown = np.full(shape, value, x.dtype)
    grown[tuple(slice(None, None, k + 1) for k in interior)] = x
    pads = [(max(lo, 0), max(hi, 0)) for lo, hi in zip(low, high)]
    padded = np.pad(grown, pads, constant_values=value) if any(p != (0, 0) for p in pads) else grown
    crop = tuple(slice(-lo if lo < 0 else 0, (padded.shape[i] + hi) if hi < 0 else None)
                 for i, (lo, hi) in enumerate(zip(low, high)))
    return padded[crop]


# and/or are bitwise on integers (and logical on i1, where bitwise is the same thing)
_REDUCERS = {"stablehlo.add": np.add, "stablehlo.multiply": np.multiply, "stablehlo.maximum": np.maximum,
             "stablehlo.minimum": np.minimum, "stablehlo.and": np.bitwise_and, "stablehlo.or": np.bitwise_or}


def reducer_kind(op) -> str | None:
    """The op name of a reduce body that returns one binary op applied to its two arguments (one each,
    in either order), else None."""
    block = op.regions[0].blocks[0]
    body = list(block.operations)
    if len(body) != 2 or body[1].name != "stablehlo.return" or body[0].name not in _REDUCERS:
        return None
    args, operands = list(block.arguments), list(body[0].operands)
    if len(args) != 2 or len(operands) != 2 or len(body[1].operands) != 1:
        return None
    if not ((operands[0] == args[0] and operands[1] == args[1]) or
            (operands[0] == args[1] and operands[1] == args[0])):
        return None  # e.g. add(a, a): not a reduction of the elements
    if body[1].operands[0] != body[0].results[0]:
        return None  # returns an argument, not the op's result
    return body[0].name


def _identity(kind: str, dtype) -> object:
    """The value `init` must have for `kind` to reduce the same however many times it is applied."""
    if dtype == np.bool_:
        return kind in ("stablehlo.multiply", "stablehlo.minimum", "stablehlo.and")
    if _float_kind(dtype):
        return {"stablehlo.add": 0.0, "stablehlo.multiply": 1.0, "stablehlo.maximum": -np.inf,
                "stablehlo.minimum": np.inf}.get(kind)
    info = np.iinfo(dtype)
    return {"stablehlo.add": 0, "stablehlo.multiply": 1, "stablehlo.maximum": info.min, "stablehlo.minimum": info.max,
            "stablehlo.and": -1 if info.min else info.max, "stablehlo.or": 0}.get(kind)


def _check_init(kind: str, init: np.ndarray) -> None:
    identity = _identity(kind, init.dtype)
    if identity is None or not (np.asarray(init) == identity).all():  # (0.0 == -0.0: either zero is fine)
        raise Decline("init is not the identity of the body: StableHLO applies it an implementation-defined "
                      "number of times (XLA: none when no dimension is reduced)")


def _accumulation(kind: str, dtype) -> tuple[type, bool]:
    """(accumulator type, round to `dtype` after each step) of a reduction, as XLA folds it: f32 and f16
    sums in f64, rounded once at the end; bf16 sums and all products rounded at every step."""
    if not _float_kind(dtype) or kind not in ("stablehlo.add", "stablehlo.multiply"):
        return dtype, False
    if dtype.itemsize == 8 or (kind == "stablehlo.add" and dtype in (np.float32, np.float16)):
        return np.float64, False
    return np.float32, dtype.itemsize < 4


def _foldable_reducer(op, init) -> str:
    """The body's op name for a single-result reduce/reduce_window we can evaluate, else Decline."""
    what = op.name.split(".", 1)[1]
    if len(op.results) != 1:
        raise Decline(f"variadic {what}")
    kind = reducer_kind(op)
    if kind is None:
        raise Decline(f"{what} body is not a single add/multiply/maximum/minimum/and/or")
    _check_init(kind, init)
    return kind


def _reduce(op, x, init):
    kind = _foldable_reducer(op, init)
    dims = sorted(_attr(op, "dimensions"))  # XLA walks the reduced dims in the operand's row-major order
    if not dims:
        return x  # what XLA gives: the operand, init not applied (it matters for add with +0.0 on -0.0)
    keep = [d for d in range(x.ndim) if d not in dims]
    reduced = int(np.prod([x.shape[d] for d in dims]))  # (not -1: the kept dims may be empty)
    moved = np.transpose(x, keep + dims).reshape([x.shape[d] for d in keep] + [reduced])
    fn = _REDUCERS[kind]
    if x.dtype == np.bool_:
        fn = {np.add: np.logical_or, np.multiply: np.logical_and}.get(fn, fn)
    if kind in ("stablehlo.add", "stablehlo.multiply") and _float_kind(x.dtype):
        wide, each_step = _accumulation(kind, x.dtype)
        acc = np.broadcast_to(init, moved.shape[:-1]).astype(wide)
        for i in range(moved.shape[-1]):  # sequential, as XLA accumulates (numpy's sum is pairwise)
            acc = fn(acc, moved[..., i].astype(wide))
            if each_step:
                acc = acc.astype(x.dtype).astype(wide)
        return acc.astype(x.dtype)
    with np.errstate(all="ignore"):
        return fn(fn.reduce(moved, axis=-1) if moved.shape[-1] else np.broadcast_to(init, moved.shape[:-1]),
                  init).astype(x.dtype)


def _reduce_window(op, x, init):
    """reduce_window with padding, strides and dilations, accumulating each window in row-major order
    (with the precision of `_accumulation`)."""
    kind = _foldable_reducer(op, init)
    rank = x.ndim
    get = lambda key, default: _attr(op, key) if key in op.attributes else default  # noqa: E731
    window = get("window_dimensions", None)
    strides = get("window_strides", [1] * rank)
    base_dil = get("base_dilations", [1] * rank)
    win_dil = get("window_dilations", [1] * rank)
    padding = np.array(ir_padding(op.attributes["padding"]) if "padding" in op.attributes else [[0, 0]] * rank)
    dilated_shape = [(n - 1) * d + 1 if n else 0 for n, d in zip(x.shape, base_dil)]
    base = np.full(dilated_shape, init, x.dtype)
    base[tuple(slice(None, None, d) for d in base_dil)] = x
    lo, hi = padding[:, 0], padding[:, 1]
    padded = np.pad(base, [(max(a, 0), max(b, 0)) for a, b in zip(lo, hi)], constant_values=init)
    padded = padded[tuple(slice(-a if a < 0 else 0, (padded.shape[i] + b) if b < 0 else None)
                          for i, (a, b) in enumerate(zip(lo, hi)))]
    fn = _REDUCERS[kind]
    wide, each_step = _accumulation(kind, x.dtype)
    out_shape = _result_shape(op)
    result = np.empty(out_shape, x.dtype)
    offsets = list(np.ndindex(*window))
    with np.errstate(all="ignore"):
        for idx in np.ndindex(*out_shape):
            acc = np.asarray(init).astype(wide)
            for off in offsets:
                pos = tuple(i * s + o * d for i, s, o, d in zip(idx, strides, off, win_dil))
                acc = fn(acc, padded[pos].astype(wide)).astype(wide)
                if each_step:
                    acc = acc.astype(x.dtype).astype(wide)
            result[idx] = acc.astype(x.dtype)
    return result


def ir_padding(attr) -> list:
    """The [rank, 2] padding of reduce_window (a dense i64 attribute)."""
    from .. import ir

    return ir.to_numpy(attr).reshape(-1, 2).tolist()


MAX_DOT_WORK = 1 << 26  # multiply-adds: about a second of numpy


def _dot_general(op, a, b):
    """Integers: exact in i64, wrapped to the result type. Floats: as XLA folds a dot, each product rounded
    to f32 (f64 when a type is wider) and added to a running f32 sum over the contracting index space, in
    row-major order of the contracting dims as listed (no FMA; not numpy's pairwise or BLAS's order). A
    dot whose free dims all have size 1 is what XLA rewrites to multiply + reduce: the rounded products
    are then summed in f64 and rounded once."""
    lb, rb, lc, rc = vals.dot_dims(op)
    lfree = [i for i in range(a.ndim) if i not in lb and i not in lc]
    rfree = [j for j in range(b.ndim) if j not in rb and j not in rc]
    to = vals.dtype(op.results[0])
    out_shape = [a.shape[i] for i in lb] + [a.shape[i] for i in lfree] + [b.shape[j] for j in rfree]
    size = lambda x, dims: int(np.prod([x.shape[d] for d in dims]))  # noqa: E731
    nb, m, k, n = size(a, lb), size(a, lfree), size(a, lc), size(b, rfree)
    if nb * m * k * n > MAX_DOT_WORK:  # the sequential sum is a Python loop over k: keep folding cheap
        raise Decline(f"a {nb}x{m}x{k}x{n} dot is more work than folding should do")
    if not _float_kind(to):
        wide = sum_in = np.int64
    else:
        wide = np.float64 if max(a.dtype.itemsize, b.dtype.itemsize, to.itemsize) > 4 else np.float32
        sum_in = np.float64 if m == 1 and n == 1 else wide
    lhs = np.transpose(a, lb + lfree + lc).reshape(nb, m, k).astype(wide)
    rhs = np.transpose(b, rb + rc + rfree).reshape(nb, k, n).astype(wide)
    acc = np.zeros((nb, m, n), sum_in)
    with np.errstate(all="ignore"):
        for i in range(k):
            acc = acc + (lhs[:, :, i, None] * rhs[:, None, i, :]).astype(sum_in)
        return acc.reshape(out_shape).astype(to)


def _gather(op, operand, indices):
    """StableHLO gather, straight from the spec's index arithmetic (constants are small)."""
    d = stablehlo.GatherDimensionNumbers(op.attributes["dimension_numbers"])
    offset_dims, collapsed = list(d.offset_dims), list(d.collapsed_slice_dims)
    start_map, ivd = list(d.start_index_map), d.index_vector_dim
    obatch, ibatch = list(d.operand_batching_dims), list(d.start_indices_batching_dims)
    sizes = _attr(op, "slice_sizes")
    out_shape = _result_shape(op)
    if ivd == indices.ndim:
        indices = indices[..., None]
        ivd = indices.ndim - 1
    batch_dims = [i for i in range(len(out_shape)) if i not in offset_dims]
    offset_operand_dims = [i for i in range(operand.ndim) if i not in collapsed and i not in obatch]
    result = np.empty(out_shape, operand.dtype)
    for out_idx in np.ndindex(*out_shape):
        batch = [out_idx[i] for i in batch_dims]
        idx_pos = list(batch)
        idx_pos.insert(ivd, slice(None))
        start_vec = indices[tuple(idx_pos)]
        full_start = [0] * operand.ndim
        for k, od in enumerate(start_map):
            full_start[od] = int(start_vec[k])
        batch_no_ivd = [b for b in batch]
        for od, idim in zip(obatch, ibatch):
            full_start[od] = batch_no_ivd[idim if idim < ivd else idim - 1]
        for od in range(operand.ndim):
            full_start[od] = int(np.clip(full_start[od], 0, operand.shape[od] - sizes[od]))
        offsets = [out_idx[i] for i in offset_dims]
        pos = list(full_start)
        for od, off in zip(offset_operand_dims, offsets):
            pos[od] += off
        result[out_idx] = operand[tuple(pos)]
    return result


EVALUATORS = {
    **UNARY, **BINARY,
    "stablehlo.compare": _compare, "stablehlo.select": _select, "stablehlo.clamp": _clamp,
    "stablehlo.convert": _convert,
    "stablehlo.reshape": lambda op, x: x.reshape(_result_shape(op)),
    "stablehlo.broadcast_in_dim": _broadcast_in_dim,
    "stablehlo.transpose": lambda op, x: np.transpose(x, _attr(op, "permutation")),
    "stablehlo.reverse": lambda op, x: np.flip(x, axis=tuple(_attr(op, "dimensions"))),
    "stablehlo.iota": _iota, "stablehlo.dynamic_iota": _dynamic_iota,
    "stablehlo.slice": _slice, "stablehlo.dynamic_slice": _dynamic_slice,
    "stablehlo.concatenate": _concatenate, "stablehlo.pad": _pad, "stablehlo.reduce": _reduce,
    "stablehlo.reduce_window": _reduce_window,
    "stablehlo.dot_general": _dot_general, "stablehlo.gather": _gather,
}

# Ops whose result is a splat when every operand is: evaluated on one element, materialized never.
SPLAT_PRESERVING = set(UNARY) | set(BINARY) | {
    "stablehlo.compare", "stablehlo.select", "stablehlo.clamp", "stablehlo.convert", "stablehlo.reshape",
    "stablehlo.broadcast_in_dim", "stablehlo.transpose", "stablehlo.reverse"}
ELEMENTWISE = set(UNARY) | set(BINARY) | {"stablehlo.compare", "stablehlo.select", "stablehlo.clamp",
                                          "stablehlo.convert"}


def evaluate(op, arrays: list[np.ndarray]) -> np.ndarray:
    """Result of `op` on constant operands; raises Decline when it must not be folded."""
    fn = EVALUATORS.get(op.name)
    if fn is None:
        raise Decline(f"no evaluator for {op.name}")
    result = np.asarray(fn(op, *arrays))
    want = vals.dtype(op.results[0])
    if result.dtype != want:
        result = result.astype(want)
    if tuple(result.shape) != _result_shape(op):
        raise Decline(f"evaluated shape {result.shape} != {_result_shape(op)}")
    return result


__all__ = ["EVALUATORS", "SPLAT_PRESERVING", "ELEMENTWISE", "Decline", "evaluate", "reducer_kind"]
