"""Constant folding: evaluate StableHLO ops whose operands are all constants, with numpy.

One evaluator per op, `EVALUATORS[op name](op, operand arrays) -> array`, written to give what XLA CPU
gives, bit for bit (tests/fold_fuzz.py checks it against XLA on every claimed element type):
- element types are asked about through dtypes.py (i4/ui4 are integers although numpy's kind is 'V');
  integers are computed exactly in 64 bits and wrapped to their width;
- IEEE-exact ops (add, multiply, divide, sqrt, ...) are computed in the op's own dtype, so they are
  bit-exact; bf16/f16/f8 go through f32 like XLA's CPU backend. maximum/minimum follow XLA, not numpy:
  NaN wins, max(+0.0, -0.0) = +0.0 and min(+0.0, -0.0) = -0.0 in either order;
- transcendental ops are computed in f64 and rounded once, which is what XLA's compile-time evaluator
  (glibc's correctly rounded float functions) gives in all but rare cases (within 1 ulp); f64 ones
  decline (XLA's f64 approximations are up to a few ulps from libm's);
- reductions and dots are in folding_reduce.py (their accumulation order and precision are XLA's);
- where XLA's result is implementation-defined (integer division by zero, float->int conversion of
  NaN/inf/out-of-range values, a reduce or reduce_window whose init is not the identity of its body,
  which StableHLO may apply any number of times), or where XLA's own folder and kernels disagree (a
  subnormal that the kernels flush to zero, TOTALORDER on the NaN of a type without -0.0), the evaluator
  declines (`Decline`) and the op stays.
"""

from __future__ import annotations

import numpy as np

from . import dtypes as dt
from . import folding_reduce as fr
from . import values as vals
from .dtypes import Decline
from .folding_reduce import reducer_kind

_float_kind = dt.is_float


def _exact(fn):
    """An IEEE-exact op: compute in the dtype (sub-f32 floats via f32, then one rounding; integers exactly
    in 64 bits, then wrapped to their width: numpy's int4 ufuncs do not all wrap)."""

    def run(op, *xs):
        dtype = xs[-1].dtype
        with np.errstate(all="ignore"):
            if _float_kind(dtype) and dtype.itemsize < 4:
                return np.asarray(fn(*(x.astype(np.float32) for x in xs))).astype(dtype)
            if dt.is_int(dtype):
                return dt.wrap(np.asarray(fn(*(dt.wide(x) for x in xs))), dtype)
            return np.asarray(fn(*xs)).astype(dtype, copy=False)

    return run


def _transcendental(fn):
    """Computed in f64 and rounded once: within an ulp of XLA for f32 and narrower. f64 values decline:
    XLA's f64 approximations are its own (cbrt 2 ulps from libm's), and there is nothing wider to use."""

    def run(op, x, *rest):
        if not _float_kind(x.dtype):
            raise Decline("not a float")
        if x.dtype == np.float64:
            raise Decline("an f64 transcendental: XLA's own approximation is not reproducible here")
        with np.errstate(all="ignore"):
            return np.asarray(fn(x.astype(np.float64), *(r.astype(np.float64) for r in rest))).astype(x.dtype)

    return run


def _int_checks(a, b, what: str) -> tuple[np.ndarray, np.ndarray]:
    """a, b as 64-bit integers, after declining b = 0 and INT_MIN / -1 (XLA's results are its own)."""
    lo, _ = dt.int_range(a.dtype)
    wa, wb = dt.wide(a), dt.wide(b)
    if (wb == 0).any() or (dt.is_signed(a.dtype) and ((wa == lo) & (wb == -1)).any()):
        raise Decline(f"integer {what} by zero or overflow: XLA's result is its own")
    return wa, wb


def _int_divide(op, a, b):
    """Truncating division (C, XLA): (a - fmod(a, b)) is a multiple of b, so floor division is exact."""
    if not dt.is_int(a.dtype):
        return _exact(np.divide)(op, a, b)
    wa, wb = _int_checks(a, b, "division")
    with np.errstate(all="ignore"):
        return dt.wrap((wa - np.fmod(wa, wb)) // wb, a.dtype)


def _remainder(op, a, b):
    if not dt.is_int(a.dtype):
        return _exact(np.fmod)(op, a, b)
    wa, wb = _int_checks(a, b, "remainder")
    return dt.wrap(np.fmod(wa, wb), a.dtype)  # C semantics: the sign of the dividend


def _power(op, a, b):
    if _float_kind(a.dtype):
        return _transcendental(np.power)(op, a, b)
    if dt.is_bool(a.dtype):
        raise Decline("power of booleans")
    wa, wb = dt.wide(a), dt.wide(b)
    if (dt.as_signed(b) < 0).any():  # (XLA reads an unsigned exponent with its top bit set as negative)
        raise Decline("negative integer exponent")
    if (wb >= 64).any():
        raise Decline("integer exponent >= 64: XLA CPU uses only its low 6 bits (2^64 is 1 there)")
    with np.errstate(all="ignore"):
        return dt.wrap(np.power(wa, wb), a.dtype)  # 64-bit wrap-around is exact modulo 2^bits


def _shift(kind):
    """XLA's shifts on the bits of the element type (arithmetic shifts of unsigned types too)."""

    def run(op, a, b):
        if not dt.is_int(a.dtype):
            raise Decline("shift of a non-integer")
        n, wb = dt.bits(a.dtype), dt.wide(b)
        if ((wb < 0) | (wb >= n)).any():
            raise Decline("shift amount out of range")
        with np.errstate(all="ignore"):
            if kind == "left":
                return dt.wrap(np.left_shift(dt.as_unsigned(a), wb.astype(dt.as_unsigned(a).dtype)), a.dtype)
            if kind == "arith":
                return dt.wrap(np.right_shift(dt.as_signed(a), wb.astype(np.int64)), a.dtype)
            u = dt.as_unsigned(a)
            return dt.wrap(np.right_shift(u, wb.astype(u.dtype)), a.dtype)

    return run


def _round_afz(x):
    """Half away from zero. Not floor(|x| + 0.5): that sum rounds (0.49999997 + 0.5 -> 1.0 in f32)."""
    xf = x.astype(np.float64)
    t = np.trunc(xf)  # keeps -0.0, NaN and infinities
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(xf - t) >= 0.5, t + np.sign(xf), t).astype(x.dtype)


def _sign(x):
    """-1, 0 or 1; zeros and NaN are their own sign (XLA: sign(-0.0) = -0.0, which np.sign makes +0.0)."""
    if x.dtype == np.bool_:
        return x
    if not _float_kind(x.dtype):
        return np.sign(x)
    return np.where((x == 0) | np.isnan(x), x, np.sign(x))


def _logical(fn):
    def run(op, *xs):
        if dt.is_int(xs[0].dtype):
            return dt.wrap(fn(*(dt.wide(x) for x in xs)), xs[0].dtype)
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
    "stablehlo.remainder": _remainder, "stablehlo.maximum": lambda op, a, b: fr.ieee_max(a, b),
    "stablehlo.minimum": lambda op, a, b: fr.ieee_min(a, b), "stablehlo.power": _power,
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
        if not _float_kind(a.dtype):
            raise Decline("TOTALORDER compare of non-floats")
        if not dt.has_negative_zero(a.dtype) and (np.isnan(a.astype(np.float64)).any() or
                                                  np.isnan(b.astype(np.float64)).any()):
            raise Decline("TOTALORDER of the NaN of a type without -0 (XLA's folder and kernels disagree)")
        a, b = _total_order_key(a), _total_order_key(b)
    elif dt.is_int(a.dtype):  # on the bits, read as the compare type says (i4 included)
        if kind == "FLOAT":
            raise Decline("FLOAT compare of integers")
        unsigned = kind == "UNSIGNED" or (kind is None and dt.is_unsigned(a.dtype))
        a, b = (dt.as_unsigned(a), dt.as_unsigned(b)) if unsigned else (dt.as_signed(a), dt.as_signed(b))
    elif _float_kind(a.dtype) and a.dtype.itemsize < 4:
        a, b = a.astype(np.float32), b.astype(np.float32)
    return _COMPARE[direction](a, b)


def _select(op, pred, a, b):
    return np.where(pred, a, b)


def _clamp(op, lo, x, hi):
    """min(max(x, lo), hi) with XLA's maximum/minimum (NaN and signed zeros included)."""
    return fr.ieee_min(fr.ieee_max(x, np.broadcast_to(lo, x.shape)), np.broadcast_to(hi, x.shape))


def _convert(op, x):
    """Integers wrap; a float->int conversion that XLA leaves implementation-defined (NaN, inf, out of
    range) declines; rounding to a float narrower than f32 is done once (never twice via f32/f64)."""
    to = vals.dtype(op.results[0])
    if to == np.bool_:
        return x != 0
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    if _float_kind(x.dtype) and dt.is_int(to):
        lo, hi = dt.int_range(to)  # lo and hi + 1 are 0 or powers of two: exact as floats (hi is not)
        xf = x.astype(np.float64)
        if not np.isfinite(xf).all() or (np.trunc(xf) < float(lo)).any() or (np.trunc(xf) >= float(hi + 1)).any():
            raise Decline("float->int conversion of NaN/inf/out-of-range values is implementation-defined")
        t = np.trunc(xf)
        return dt.wrap(t.astype(np.uint64) if dt.is_unsigned(to) else t.astype(np.int64), to)
    if dt.is_int(x.dtype) and dt.is_int(to):
        return dt.wrap(dt.wide(x), to)
    with np.errstate(all="ignore"):
        if _float_kind(x.dtype) and x.dtype.itemsize < to.itemsize:
            return x.astype(np.float64).astype(to)  # widening: exact
        if to.itemsize <= 2 and (x.dtype.itemsize == 8 or (dt.is_int(x.dtype) and dt.bits(x.dtype) > 24)):
            return _round_to_odd_f32(x).astype(to)  # ml_dtypes/numpy go through f32 (or f64): two roundings
        if dt.is_int(x.dtype):
            return dt.wide(x).astype(np.float64 if dt.bits(x.dtype) <= 53 else x.dtype).astype(to)
        return x.astype(to)


def _round_to_odd_f32(x: np.ndarray) -> np.ndarray:
    """`x` (an integer or f64 array) in f32, rounded to odd: truncated, with the last bit set if that lost
    anything. Rounding this once more to a type of at most 22 bits of precision (bf16, f16) gives the
    correctly rounded result, as XLA's folder does, where rounding through f32 can round twice
    (i32 1077936129 -> bf16: 1.073741824e9 through f32, 1.082130432e9 in one step)."""
    with np.errstate(all="ignore"):
        r = x.astype(np.float32)
        if dt.is_int(x.dtype):
            xi = dt.wide(x)
            wide = xi.dtype
            big = r >= np.float32(2.0 ** (64 if wide == np.uint64 else 63))  # does not convert back
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
    "stablehlo.concatenate": _concatenate, "stablehlo.pad": _pad, "stablehlo.reduce": fr.reduce,
    "stablehlo.reduce_window": fr.reduce_window,
    "stablehlo.dot_general": fr.dot_general, "stablehlo.gather": fr.gather,
}

# Ops whose result is a splat when every operand is: evaluated on one element, materialized never.
SPLAT_PRESERVING = set(UNARY) | set(BINARY) | {
    "stablehlo.compare", "stablehlo.select", "stablehlo.clamp", "stablehlo.convert", "stablehlo.reshape",
    "stablehlo.broadcast_in_dim", "stablehlo.transpose", "stablehlo.reverse"}
ELEMENTWISE = set(UNARY) | set(BINARY) | {"stablehlo.compare", "stablehlo.select", "stablehlo.clamp",
                                          "stablehlo.convert"}


# Ops that compute on float values (not just move them): XLA CPU's kernels flush subnormal inputs and
# results to zero, its folder does not always, so these decline when a subnormal is involved. bf16 values
# go through f32 in XLA even when they are only moved (a broadcast flushes them), so any op on them does.
ARITHMETIC = (set(UNARY) | set(BINARY) | {"stablehlo.compare", "stablehlo.clamp", "stablehlo.reduce",
                                          "stablehlo.reduce_window", "stablehlo.dot_general"})
_BF16 = np.dtype(dt.CLAIMED["bf16"])


def check_flush(op, arrays, result=None) -> None:
    """Decline when XLA CPU may flush a subnormal of this op's operands or result (see ARITHMETIC)."""
    arrays = [np.asarray(a) for a in arrays] + ([np.asarray(result)] if result is not None else [])
    if op.name in ARITHMETIC:
        at_risk = arrays
    else:
        at_risk = [a for a in arrays if a.dtype == _BF16]
    if any(fr.flushable(a) for a in at_risk):
        raise Decline("a subnormal operand or result: XLA CPU's kernels flush it to zero, its folder not always")


def evaluate(op, arrays: list[np.ndarray]) -> np.ndarray:
    """Result of `op` on constant operands; raises Decline when it must not be folded."""
    fn = EVALUATORS.get(op.name)
    if fn is None:
        raise Decline(f"no evaluator for {op.name}")
    check_flush(op, arrays)
    result = np.asarray(fn(op, *arrays))
    want = vals.dtype(op.results[0])
    if result.dtype != want:
        result = result.astype(want)
    check_flush(op, [], result)
    if tuple(result.shape) != _result_shape(op):
        raise Decline(f"evaluated shape {result.shape} != {_result_shape(op)}")
    return result


__all__ = ["EVALUATORS", "SPLAT_PRESERVING", "ELEMENTWISE", "Decline", "evaluate", "reducer_kind"]
