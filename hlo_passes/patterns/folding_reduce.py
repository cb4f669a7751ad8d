"""Evaluators for the ops that combine many elements: reduce, reduce_window, dot_general, gather, and the
IEEE maximum/minimum they share with the elementwise ops (see folding.py for the rules they follow).

Every evaluator here bounds its work (`MAX_WORK` element steps, `MAX_STEPS` Python-level iterations) and
declines above it; a reduce of a splat is computed from the one value without expanding the operand.
"""

from __future__ import annotations

import numpy as np

from ..ir import stablehlo
from . import dtypes as dt
from . import values as vals
from .dtypes import Decline

MAX_WORK = 1 << 26  # element operations (multiply-adds, window steps): about a second of numpy
MAX_STEPS = 1 << 16  # Python-level iterations (sequential sums, gathered elements)


def flushable(x) -> bool:
    """Whether `x` holds a float XLA CPU's kernels flush to zero (a subnormal of f32, or of f64 for f64
    values): where XLA's folder and its kernels disagree, so the folder declines."""
    x = np.asarray(x)
    if not dt.is_float(x.dtype):
        return False
    tiny = np.finfo(np.float64 if x.dtype.itemsize == 8 else np.float32).tiny
    with np.errstate(invalid="ignore"):
        f = np.abs(x.astype(np.float64))
        return bool(((f != 0) & (f < tiny)).any())


def ieee_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """maximum as XLA computes it: NaN if either is NaN (the first one's), max(+0.0, -0.0) = +0.0 in either
    order (numpy returns its second argument on ties)."""
    with np.errstate(invalid="ignore"):
        r = np.where(a > b, a, b)
        if dt.is_float(a.dtype):
            zeros = (a == 0) & (b == 0)
            r = np.where(zeros, np.where(np.signbit(a.astype(np.float64)), b, a), r)
            r = np.where(np.isnan(b.astype(np.float64)), b, r)
            r = np.where(np.isnan(a.astype(np.float64)), a, r)
    return r.astype(a.dtype)


def ieee_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """minimum as XLA computes it: NaN if either is NaN, min(+0.0, -0.0) = -0.0 in either order."""
    with np.errstate(invalid="ignore"):
        r = np.where(a < b, a, b)
        if dt.is_float(a.dtype):
            zeros = (a == 0) & (b == 0)
            r = np.where(zeros, np.where(np.signbit(a.astype(np.float64)), a, b), r)
            r = np.where(np.isnan(b.astype(np.float64)), b, r)
            r = np.where(np.isnan(a.astype(np.float64)), a, r)
    return r.astype(a.dtype)


# and/or are bitwise on integers (and logical on i1, where bitwise is the same thing)
_REDUCERS = {"stablehlo.add": np.add, "stablehlo.multiply": np.multiply, "stablehlo.maximum": ieee_max,
             "stablehlo.minimum": ieee_min, "stablehlo.and": np.bitwise_and, "stablehlo.or": np.bitwise_or}


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
    if dt.is_bool(dtype):
        return kind in ("stablehlo.multiply", "stablehlo.minimum", "stablehlo.and")
    if dt.is_float(dtype):
        return {"stablehlo.add": 0.0, "stablehlo.multiply": 1.0, "stablehlo.maximum": -np.inf,
                "stablehlo.minimum": np.inf}.get(kind)
    lo, hi = dt.int_range(dtype)
    return {"stablehlo.add": 0, "stablehlo.multiply": 1, "stablehlo.maximum": lo, "stablehlo.minimum": hi,
            "stablehlo.and": -1 if lo else hi, "stablehlo.or": 0}.get(kind)


def _check_init(kind: str, init: np.ndarray) -> None:
    identity = _identity(kind, init.dtype)
    if dt.is_float(init.dtype) and kind in ("stablehlo.maximum", "stablehlo.minimum") and not dt.has_inf(init.dtype):
        identity = None  # no infinity: no identity (the type's max is not one for NaN-free inputs either)
    value = np.asarray(init).astype(np.float64) if dt.is_float(init.dtype) else np.asarray(init)
    if identity is None or not (value == identity).all():  # (0.0 == -0.0: either zero is fine)
        raise Decline("init is not the identity of the body: StableHLO applies it an implementation-defined "
                      "number of times (XLA: none when no dimension is reduced)")


def _accumulation(kind: str, dtype) -> tuple[type, bool]:
    """(accumulator type, round to `dtype` after each step) of a reduction, as XLA folds it: f32 and f16
    sums in f64, rounded once at the end; bf16/f8 sums and all products rounded at every step."""
    if not dt.is_float(dtype) or kind not in ("stablehlo.add", "stablehlo.multiply"):
        return dtype, False
    if dtype.itemsize == 8 or (kind == "stablehlo.add" and dtype in (np.float32, np.float16)):
        return np.float64, False
    return np.float32, dtype.itemsize < 4


def foldable_reducer(op, init) -> str:
    """The body's op name for a single-result reduce/reduce_window we can evaluate, else Decline."""
    what = op.name.split(".", 1)[1]
    if len(op.results) != 1:
        raise Decline(f"variadic {what}")
    kind = reducer_kind(op)
    if kind is None:
        raise Decline(f"{what} body is not a single add/multiply/maximum/minimum/and/or")
    _check_init(kind, init)
    return kind


def _step(kind: str, dtype, windowed: bool = False):
    """acc, x -> acc of one reduction step on arrays of `dtype` (integers exact and wrapped). `windowed`:
    reduce_window's precision, the element type's at every step (XLA keeps no wider sum there)."""
    fn = _REDUCERS[kind]
    if dt.is_bool(dtype):
        fn = {np.add: np.logical_or, np.multiply: np.logical_and}.get(fn, fn)
        return lambda acc, x: fn(acc, x)
    if dt.is_int(dtype):
        if kind in ("stablehlo.maximum", "stablehlo.minimum"):
            return lambda acc, x: fn(acc, x)
        return lambda acc, x: dt.wrap(fn(dt.wide(acc), dt.wide(x)), dtype)
    wide, each_step = _accumulation(kind, dtype)
    if windowed:
        wide, each_step = (np.float32, True) if dtype.itemsize < 4 else (dtype, False)
    if wide == dtype:
        return lambda acc, x: fn(acc, x)

    def step(acc, x):
        r = fn(acc.astype(wide), x.astype(wide))
        return r.astype(dtype).astype(wide) if each_step else r

    return step


def _sequential(kind: str, init: np.ndarray, columns, count: int, dtype, windowed: bool = False) -> np.ndarray:
    """Fold `count` columns (callable i -> array) into an accumulator starting at `init`, in order."""
    wide = _accumulation(kind, dtype)[0] if not windowed or not dt.is_float(dtype) else \
        (np.float32 if dtype.itemsize < 4 else dtype)
    step = _step(kind, dtype, windowed)
    acc = np.asarray(init).astype(wide)
    with np.errstate(all="ignore"):
        for i in range(count):
            acc = step(acc, columns(i))
            if flushable(acc.astype(dtype)):
                raise Decline("a partial result is a subnormal that XLA CPU may flush to zero")
    return np.asarray(acc).astype(dtype)


def reduce_splat(op, value, init, count: int):
    """The one value of a reduce of a splat over `count` elements, without expanding it: integer sums and
    products in closed form, max/min/and/or the value itself, float sums and products stepped until the
    accumulator repeats (a fixpoint, or a +-inf/sign period of 2), declined if that takes MAX_STEPS."""
    kind = foldable_reducer(op, init)
    dtype = np.asarray(value).dtype
    v = np.asarray([value])
    if count == 0:
        return np.asarray(init).astype(dtype).reshape(-1)[0]
    if count == 1:
        return value  # as `reduce`: one element is returned as it is
    step = _step(kind, dtype)
    if kind in ("stablehlo.maximum", "stablehlo.minimum", "stablehlo.and", "stablehlo.or") or dt.is_bool(dtype):
        return step(np.asarray([init]).astype(dtype), v)[0]  # idempotent: n copies reduce to one
    if dt.is_int(dtype):
        mod = 1 << dt.bits(dtype)
        x = int(dt.as_unsigned(v)[0])
        total = x * count if kind == "stablehlo.add" else pow(x, count, mod)
        return dt.wrap(np.asarray([total % mod], np.uint64), dtype)[0]
    if kind == "stablehlo.add" and dtype in (np.float32, np.float16) and count < (1 << 29):
        with np.errstate(all="ignore"):  # summed in f64: every partial sum k*v (k < 2^29) is exact
            return np.asarray(np.asarray(init).astype(np.float64) + np.float64(v[0]) * count).astype(dtype)[()]
    if kind == "stablehlo.add" and dtype == np.float64:
        if not order_free_sum(np.array([[value, value * count]])):  # (the bound on the n-fold sum)
            raise Decline("an f64 sum whose rounding depends on the order of the additions")
        return np.float64(value) * count  # exact: every partial sum is
    wide, _ = _accumulation(kind, dtype)
    history = [np.asarray([init]).astype(dtype).astype(wide)]
    with np.errstate(all="ignore"):
        for i in range(min(count, MAX_STEPS)):
            acc = step(history[-1], v)
            if flushable(acc.astype(dtype)):
                raise Decline("a partial result is a subnormal that XLA CPU may flush to zero")
            history.append(acc)
            same = lambda a, b: a.astype(dtype).tobytes() == b.astype(dtype).tobytes() and \
                a.tobytes() == b.tobytes()  # noqa: E731
            if len(history) >= 3 and same(history[-1], history[-3]):  # period 1 or 2 from here on
                left = count - (i + 1)
                return (history[-1] if left % 2 == 0 else history[-2]).astype(dtype)[0]
    if count > MAX_STEPS:
        raise Decline(f"a reduce of {count} equal floats that does not settle within {MAX_STEPS} steps")
    return history[-1].astype(dtype)[0]


def order_free_sum(rows: np.ndarray) -> bool:
    """Whether f64 sums along the last axis come out the same in every order: the finite elements of each
    row are multiples of their smallest set bit 2^e and their magnitudes add up to at most 2^(53+e), so
    every partial sum is exact (infinities and NaN then decide the same way in any order). XLA does not
    add f64 values one after the other, and its order is its own."""
    f = np.where(np.isfinite(rows), rows, 0.0)
    mant, exp = np.frexp(np.abs(f))
    sig = (mant * 2.0 ** 53).astype(np.uint64)
    low = np.log2((sig & (~sig + np.uint64(1))).astype(np.float64), where=sig > 0, out=np.zeros(sig.shape))
    lowest = np.where(sig > 0, exp - 53 + low, np.inf).min(axis=-1)
    total = np.abs(f).sum(axis=-1) * (1 + 2.0 ** -30)  # a bound: the float sum of magnitudes rounds
    with np.errstate(over="ignore"):
        return bool(((total == 0) | (total <= np.exp2(np.minimum(lowest + 53, 1023)))).all())


def reduce(op, x, init):
    kind = foldable_reducer(op, init)
    dims = sorted(vals.attr_value(op.attributes["dimensions"]))  # XLA walks them in row-major order
    if not dims:
        return x  # what XLA gives: the operand, init not applied (it matters for add with +0.0 on -0.0)
    keep = [d for d in range(x.ndim) if d not in dims]
    reduced = int(np.prod([x.shape[d] for d in dims]))  # (not -1: the kept dims may be empty)
    moved = np.transpose(x, keep + dims).reshape([x.shape[d] for d in keep] + [reduced])
    if reduced == 1:
        return moved[..., 0]  # XLA: the element, init not applied (-0.0 stays -0.0 under add)
    out = np.broadcast_to(np.asarray(init).astype(x.dtype), moved.shape[:-1])
    if dt.is_float(x.dtype) and kind in ("stablehlo.add", "stablehlo.multiply"):
        if reduced > MAX_STEPS:
            raise Decline(f"a sequential float reduction of {reduced} elements per result")
        if x.dtype == np.float64 and kind == "stablehlo.add" and not order_free_sum(moved):
            raise Decline("an f64 sum whose rounding depends on the order of the additions")
        return _sequential(kind, out, lambda i: moved[..., i], reduced, x.dtype)
    if kind in ("stablehlo.maximum", "stablehlo.minimum") and dt.is_float(x.dtype):
        return _float_extreme(kind, moved, out)
    if dt.is_bool(x.dtype):
        fn = np.logical_and if kind in ("stablehlo.multiply", "stablehlo.and", "stablehlo.minimum") else np.logical_or
        return fn(fn.reduce(moved, axis=-1), out)
    fn = {"stablehlo.maximum": np.maximum, "stablehlo.minimum": np.minimum}.get(kind, _REDUCERS[kind])
    with np.errstate(all="ignore"):  # integers: exact in 64 bits, wrapped (max/min: order does not matter)
        return dt.wrap(fn(fn.reduce(dt.wide(moved), axis=-1), dt.wide(out)), x.dtype)


def _float_extreme(kind: str, moved: np.ndarray, init: np.ndarray) -> np.ndarray:
    """max/min over the last axis with IEEE zeros (+0 beats -0 in max) and NaN propagation."""
    f = moved.astype(np.float64)
    with np.errstate(invalid="ignore"):
        best = (np.max if kind == "stablehlo.maximum" else np.min)(f, axis=-1) if f.shape[-1] else \
            np.full(f.shape[:-1], np.nan)
        neg = np.signbit(f) & (f == 0)
        pos = ~np.signbit(f) & (f == 0)
        if kind == "stablehlo.maximum":  # a zero result is -0 only when no +0 is there
            zero = np.where(pos.any(axis=-1), 0.0, -0.0)
        else:
            zero = np.where(neg.any(axis=-1), -0.0, 0.0)
        best = np.where(best == 0, zero, best)
        nan = np.isnan(f)
        first_nan = np.take_along_axis(moved, np.argmax(nan, axis=-1)[..., None], axis=-1)[..., 0]
        if f.shape[-1] == 0:
            return init.copy()
        result = np.where(nan.any(axis=-1), first_nan, best.astype(moved.dtype))
    fn = ieee_max if kind == "stablehlo.maximum" else ieee_min
    return fn(np.asarray(init).astype(moved.dtype), result.astype(moved.dtype))


def _ir_padding(attr) -> list:
    from .. import ir

    return ir.to_numpy(attr).reshape(-1, 2).tolist()


def reduce_window(op, x, init):
    """reduce_window with padding, strides and dilations: the windows' elements combined offset by offset
    in row-major window order, each step on all windows at once, rounded to the element type each time."""
    kind = foldable_reducer(op, init)
    rank = x.ndim
    get = lambda key, default: vals.attr_value(op.attributes[key]) if key in op.attributes else default  # noqa
    window = get("window_dimensions", None)
    strides = get("window_strides", [1] * rank)
    base_dil = get("base_dilations", [1] * rank)
    win_dil = get("window_dilations", [1] * rank)
    padding = np.array(_ir_padding(op.attributes["padding"]) if "padding" in op.attributes else [[0, 0]] * rank)
    out_shape = vals.shape(op.results[0])
    dilated_shape = [(n - 1) * d + 1 if n else 0 for n, d in zip(x.shape, base_dil)]
    padded_size = int(np.prod([n + max(a, 0) + max(b, 0) for n, (a, b) in zip(dilated_shape, padding)]))
    steps = int(np.prod(out_shape)) * int(np.prod(window))
    if max(steps, padded_size) > MAX_WORK or int(np.prod(window)) > MAX_STEPS:
        raise Decline(f"a reduce_window of {steps} window steps is more work than folding should do")
    base = np.full(dilated_shape, init, x.dtype)
    base[tuple(slice(None, None, d) for d in base_dil)] = x
    lo, hi = padding[:, 0], padding[:, 1]
    padded = np.pad(base, [(max(a, 0), max(b, 0)) for a, b in zip(lo, hi)], constant_values=init)
    padded = padded[tuple(slice(-a if a < 0 else 0, (padded.shape[i] + b) if b < 0 else None)
                          for i, (a, b) in enumerate(zip(lo, hi)))]
    offsets = list(np.ndindex(*window))
    if x.dtype == np.float64 and kind == "stablehlo.add" and not order_free_sum(padded.reshape(1, -1)):
        raise Decline("an f64 sum whose rounding depends on the order of the additions")

    def column(i):
        off = offsets[i]
        return padded[tuple(slice(o * d, o * d + (n - 1) * s + 1, s) if n else slice(0, 0)
                            for o, d, n, s in zip(off, win_dil, out_shape, strides))]

    start = np.broadcast_to(np.asarray(init).astype(x.dtype), out_shape)
    return _sequential(kind, start, column, len(offsets), x.dtype, windowed=True)


def dot_general(op, a, b):
    """Integers: exact in i64, wrapped to the result type. Floats: as XLA folds a dot, each product rounded
    to f32 (f64 when a type is wider) and added to a running f32 sum over the contracting index space, in
    row-major order of the contracting dims as listed (no FMA; not numpy's pairwise or BLAS's order). A
    dot whose free dims all have size 1 is what XLA rewrites to multiply + reduce: the rounded products
    are then summed in f64 and rounded once. An f8 dot is an f16 dot whose result is converted (XLA
    CPU's way, checked by tests/fold_fuzz.py)."""
    lb, rb, lc, rc = vals.dot_dims(op)
    lfree = [i for i in range(a.ndim) if i not in lb and i not in lc]
    rfree = [j for j in range(b.ndim) if j not in rb and j not in rc]
    to = vals.dtype(op.results[0])
    if dt.is_float(to) != dt.is_float(a.dtype) or a.dtype != b.dtype or dt.is_bool(to):
        raise Decline("a dot with mixed or boolean element types")
    out_shape = [a.shape[i] for i in lb] + [a.shape[i] for i in lfree] + [b.shape[j] for j in rfree]
    size = lambda x, dims: int(np.prod([x.shape[d] for d in dims]))  # noqa: E731
    nb, m, k, n = size(a, lb), size(a, lfree), size(a, lc), size(b, rfree)
    if nb * m * k * n > MAX_WORK or k > MAX_STEPS:  # the sequential sum is a Python loop over k
        raise Decline(f"a {nb}x{m}x{k}x{n} dot is more work than folding should do")
    if not dt.is_float(to):
        lhs = np.transpose(dt.wide(a), lb + lfree + lc).reshape(nb, m, k)
        rhs = np.transpose(dt.wide(b), rb + rc + rfree).reshape(nb, k, n)
        with np.errstate(all="ignore"):
            return dt.wrap(np.matmul(lhs, rhs), to).reshape(out_shape)  # integer sums: any order is exact
    wide = np.float64 if max(a.dtype.itemsize, b.dtype.itemsize, to.itemsize) > 4 else np.float32
    sum_in = np.float64 if m == 1 and n == 1 else wide
    lhs = np.transpose(a, lb + lfree + lc).reshape(nb, m, k).astype(wide)
    rhs = np.transpose(b, rb + rc + rfree).reshape(nb, k, n).astype(wide)
    acc = np.zeros((nb, m, n), sum_in)
    with np.errstate(all="ignore"):
        for i in range(k):
            product = (lhs[:, :, i, None] * rhs[:, None, i, :]).astype(sum_in)
            acc = product if k == 1 else acc + product  # k = 1: the product itself (-0.0 stays -0.0)
            if flushable(product.astype(to)) or flushable(acc.astype(to)):
                raise Decline("a partial result is a subnormal that XLA CPU may flush to zero")
        if to.itemsize == 1:  # XLA runs an f8 dot as an f16 dot, then converts: rounded twice
            return acc.reshape(out_shape).astype(np.float16).astype(to)
        return acc.reshape(out_shape).astype(to)


def gather(op, operand, indices):
    """StableHLO gather, straight from the spec's index arithmetic (at most MAX_STEPS result elements)."""
    d = stablehlo.GatherDimensionNumbers(op.attributes["dimension_numbers"])
    offset_dims, collapsed = list(d.offset_dims), list(d.collapsed_slice_dims)
    start_map, ivd = list(d.start_index_map), d.index_vector_dim
    obatch, ibatch = list(d.operand_batching_dims), list(d.start_indices_batching_dims)
    sizes = vals.attr_value(op.attributes["slice_sizes"])
    out_shape = vals.shape(op.results[0])
    if int(np.prod(out_shape)) > MAX_STEPS:
        raise Decline(f"a gather of more than {MAX_STEPS} elements (evaluated one by one)")
    indices = dt.wide(indices) if dt.is_int(indices.dtype) else indices
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
        for od, idim in zip(obatch, ibatch):
            full_start[od] = batch[idim if idim < ivd else idim - 1]
        for od in range(operand.ndim):
            full_start[od] = int(np.clip(full_start[od], 0, operand.shape[od] - sizes[od]))
        pos = list(full_start)
        for od, off in zip(offset_operand_dims, [out_idx[i] for i in offset_dims]):
            pos[od] += off
        result[out_idx] = operand[tuple(pos)]
    return result
