"""KV-cache writes raised into `odml.update_kv_cache` composites whose decomposition is one dynamic_update_slice.

    %new = stablehlo.composite "odml.update_kv_cache" %cache, %input_pos, %update
               {composite_attributes = {kv_cache_max = S, seq_dim = 1 or 2 (2 or 3 for K and V stacked)}}
    decomposition: dynamic_update_slice(%cache, %update, 0, .., %input_pos, .., 0)   (input_pos at seq_dim)

What exporters write to put T new rows at positions p..p+T-1 of a [B, S, N, H] or [B, N, S, H] cache:
- `lax.dynamic_update_slice` (JAX; litert-torch's own DUS op): dynamic_update_slice(cache, new, 0, p, 0, 0).
  JAX wraps a negative p first (select(p < 0, p + S, p)); that stays outside, as the composite's input_pos.
- JAX `cache.at[:, a:b].set(new)` (static bounds; a traced `p:p+T` does not trace) and `.at[:, p].set(row)`:
  a scatter with one index vector that places the whole update window.
- JAX `cache.at[:, p + jnp.arange(T)].set(new)`: a scatter of T rows at select(i < 0, i + S, i), i = p + iota.
- torch `index_copy(_)` / `index_put(_)` / slice assignment through torch-mlir: a point scatter (windows of
  one element) whose [..., 4] indices concatenate one coordinate per axis: iotas on B, N, H, positions on S.

The composite, and why. LiteRT knows two names for a cache write, both from ai-edge-torch's generative
layers: `odml.update_kv_cache` (operands k_cache, v_cache, input_pos: i64[T], k_slice, v_slice; attribute
kv_cache_max; layout [B, S, N, H]; the TFLite converter turns it into a GenAI `tfl.custom` that keeps the
caches as resources) and `odml.update_external_kv_cache` (same operands, no attributes, explicit caches).
Current litert-torch emits neither: a bare dynamic_update_slice, run as TFL DYNAMIC_UPDATE_SLICE. We use the
name runtimes and converters know, `odml.update_kv_cache`, in a one-cache form of its convention:
- operands (cache, input_pos, update): LiteRT's order (caches, positions, slices) for one cache. Exports
  write K and V with independent ops (JAX code may write one), so each write is its own composite.
- input_pos is the start on the sequence axis, a rank-0 integer (what DYNAMIC_UPDATE_SLICE takes), not
  LiteRT's i64[T]: positions are start + iota(T) here by construction, and the decomposition stays one op.
- attributes kv_cache_max = S (LiteRT's name) and seq_dim = 1 ([B, S, N, H], LiteRT's layout) or 2
  ([B, N, S, H], the torch/HF layout), integers (which every composite-to-custom legalizer serializes).

Semantics. A dynamic_update_slice becomes the same op with the start on full axes set to 0 (which is what
it clamps any start to there): exact. A scatter is rewritten only when the `where` proves its indices
write one contiguous, increasing, in-order block: it evaluates them as const + coef * start over the index
ops exporters use (iota, broadcast, reshape, concatenate, add, ...), start being one runtime scalar. With
constant indices the block must also lie inside the cache, so the rewrite is exact. With a runtime start
(`dynamic_positions`) it is exact whenever input_pos is in [0, S - T], i.e. the run lies inside the cache --
the only runs torch's index_copy_ accepts (JAX's negative-index wrap select is the identity there); outside
them scatter drops the rows where dynamic_update_slice clamps. Positions given as a runtime tensor of more
than one element (a `cache_position` input) prove nothing and do not fuse; one position always does.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..ir import mlir
from ..ir import stablehlo as hlo
from . import values as vals
from .driver import Pattern, PatternSet
from .outline import erase_dead, outline_composite, region
from .template import Op, V

NAME = "odml.update_kv_cache"
MAX_INDEX_ELEMENTS = 1 << 23  # index tensors are materialized (as two int64 arrays) to check them


class NotAffine(Exception):
    """Why an index tensor is not const + coef * start."""


class Affine:
    """An integer tensor as `const + coef * sym`, `sym` one runtime scalar (None when there is none)."""

    __slots__ = ("const", "coef", "sym")

    def __init__(self, const, coef=None, sym=None):
        self.const = np.asarray(const, np.int64)
        self.coef = np.zeros(self.const.shape, np.int64) if coef is None else np.asarray(coef, np.int64)
        self.sym = sym if self.coef.any() else None

    def map(self, fn) -> Affine:
        """The same shape operation on both parts (broadcast, reshape, transpose, slice)."""
        return Affine(fn(self.const), fn(self.coef), self.sym)


def _one_sym(*parts):
    syms = [p.sym for p in parts if p.sym is not None]
    if any(s != syms[0] for s in syms[1:]):
        raise NotAffine("the positions depend on more than one runtime value")
    return syms[0] if syms else None


def _is_int(value) -> bool:
    try:
        dtype = vals.dtype(value)
    except Exception:  # noqa: BLE001 -- not a ranked tensor of a numpy-known type
        return False
    return dtype.kind in "iub"


_SAME_SCALAR = ("stablehlo.reshape", "stablehlo.broadcast_in_dim")


def affine(value, dynamic: bool = True, memo: dict | None = None) -> Affine:
    """`value` as const + coef * start, or NotAffine saying why not. Without `dynamic`, constants only."""
    memo = {} if memo is None else memo
    if value not in memo:
        memo[value] = _affine(value, dynamic, memo)
    return memo[value]


def _affine(value, dynamic, memo) -> Affine:
    if not _is_int(value) or not mlir.ShapedType(value.type).has_static_shape:
        raise NotAffine(f"positions of type {value.type} are not statically shaped integers")
    shape = vals.shape(value)
    if int(np.prod(shape)) > MAX_INDEX_ELEMENTS:
        raise NotAffine(f"the index tensor has {int(np.prod(shape))} elements, too many to check")
    op = vals.defining_op(value)
    attr = vals.constant_attr(op)
    if attr is not None:
        return Affine(vals.constant_array(attr).astype(np.int64))
    if int(np.prod(shape)) == 1:  # a runtime scalar is the start (outermost one), unless made of constants
        if op is not None:
            try:
                return _structural(op, shape, False, {})
            except NotAffine:
                pass
        if not dynamic:
            raise NotAffine("the positions start at a runtime value (dynamic-positions is off)")
        if vals.dtype(value).kind not in "iu":
            raise NotAffine(f"the positions depend on a runtime {value.type}")
        while op is not None and op.name in _SAME_SCALAR and vals.num_elements(op.operands[0]) == 1:
            value = op.operands[0]  # reshape/broadcast of one element: start from the scalar itself
            op = vals.defining_op(value)
        return Affine(np.zeros(shape), np.ones(shape), value)
    if op is None:
        raise NotAffine(f"the positions are a runtime tensor of shape {list(shape)}: nothing proves them contiguous")
    return _structural(op, shape, dynamic, memo)


def _broadcast(arr, dims, shape):
    order = np.argsort(dims)
    arr = arr.transpose(order) if arr.ndim else arr
    view = [1] * len(shape)
    for k, d in enumerate(sorted(dims)):
        view[d] = arr.shape[k]
    return np.broadcast_to(arr.reshape(view), shape)


def _iota(shape, dim):
    view = [1] * len(shape)
    view[dim] = shape[dim]
    return np.broadcast_to(np.arange(shape[dim]).reshape(view), shape)


_COMPARE = {"EQ": np.equal, "NE": np.not_equal, "LT": np.less, "LE": np.less_equal, "GT": np.greater,
            "GE": np.greater_equal}


def _structural(op, shape, dynamic, memo) -> Affine:  # noqa: C901 -- one case per index op, flat on purpose
    name, a = op.name, op.attributes

    def ev(v):
        return affine(v, dynamic, memo)

    if name in ("stablehlo.iota", "stablehlo.dynamic_iota"):  # dynamic_iota: the result type has the shape
        return Affine(_iota(shape, vals.attr_value(a["iota_dimension"])))
    if name == "stablehlo.broadcast_in_dim":
        dims = vals.attr_value(a["broadcast_dimensions"])
        return ev(op.operands[0]).map(lambda x: _broadcast(x, dims, shape))
    if name == "stablehlo.reshape":
        return ev(op.operands[0]).map(lambda x: x.reshape(shape))
    if name == "stablehlo.convert":  # integer to integer (the operand's check says so); positions are small
        return ev(op.operands[0])
    if name == "stablehlo.transpose":
        perm = vals.attr_value(a["permutation"])
        return ev(op.operands[0]).map(lambda x: x.transpose(perm))
    if name == "stablehlo.slice":
        cut = tuple(slice(s, e, k) for s, e, k in zip(*(vals.attr_value(a[n]) for n in
                                                         ("start_indices", "limit_indices", "strides"))))
        return ev(op.operands[0]).map(lambda x: x[cut])
    if name == "stablehlo.concatenate":
        parts, dim = [ev(v) for v in op.operands], vals.attr_value(a["dimension"])
        return Affine(np.concatenate([p.const for p in parts], dim), np.concatenate([p.coef for p in parts], dim),
                      _one_sym(*parts))
    if name in ("stablehlo.add", "stablehlo.subtract"):
        x, y = ev(op.operands[0]), ev(op.operands[1])
        sign = 1 if name == "stablehlo.add" else -1
        return Affine(x.const + sign * y.const, x.coef + sign * y.coef, _one_sym(x, y))
    if name == "stablehlo.negate":
        x = ev(op.operands[0])
        return Affine(-x.const, -x.coef, x.sym)
    if name == "stablehlo.multiply":
        x, y = ev(op.operands[0]), ev(op.operands[1])
        if y.sym is not None:
            x, y = y, x
        if y.sym is not None:
            raise NotAffine(f"the positions multiply two runtime values at {vals.loc(op)}")
        return Affine(x.const * y.const, x.coef * y.const, x.sym)
    if name == "stablehlo.compare":
        x, y = ev(op.operands[0]), ev(op.operands[1])
        if x.sym is not None or y.sym is not None:
            raise NotAffine(f"the positions compare a runtime value at {vals.loc(op)}")
        return Affine(_COMPARE[vals.attr_value(a["comparison_direction"])](x.const, y.const))
    if name == "stablehlo.select":
        return _select(op, ev)
    raise NotAffine(f"the positions are computed by {name} at {vals.loc(op)}")


def _select(op, ev) -> Affine:
    """select with a constant predicate; or JAX's negative-index wrap select(x < 0, x + S, x), which is x
    for the non-negative positions a cache write has (only reached with a runtime start)."""
    pred, yes, no = op.operands
    try:
        p = ev(pred)
    except NotAffine:
        p = None
    if p is not None and p.sym is None:
        x, y = ev(yes), ev(no)
        return Affine(np.where(p.const, x.const, y.const), np.where(p.const, x.coef, y.coef), _one_sym(x, y))
    cmp, add = vals.defining_op(pred), vals.defining_op(yes)
    if (cmp is not None and cmp.name == "stablehlo.compare" and vals.attr_value(cmp.attributes["comparison_direction"])
            == "LT" and cmp.operands[0] == no and add is not None and add.name == "stablehlo.add"
            and no in list(add.operands)):
        zero = ev(cmp.operands[1])
        if zero.sym is None and not zero.const.any():
            return ev(no)
    raise NotAffine(f"the positions go through a select on a runtime value at {vals.loc(op)}")


# ------------------------------------------------------------------------------------------ what is written

def _seq_axis(cache_shape, box) -> int | str:
    """The sequence axis of a write of a `box` into a cache, or why it is not a KV-cache write.

    A cache is [B, S, N, H] or [B, N, S, H]; or K and V stacked, [2, B, S, N, H] or [2, B, N, S, H], written
    by one update of both (one op per layer instead of two: LiteRT decodes the tiny example ~10% faster)."""
    rank = len(cache_shape)
    stacked = rank == 5 and cache_shape[0] == 2
    if rank != 4 and not stacked:
        return (f"the cache has rank {rank}: a KV cache is [B, S, N, H] or [B, N, S, H], or K and V stacked as "
                f"[2, B, S, N, H] or [2, B, N, S, H]")
    short = [d for d in range(rank) if box[d] != cache_shape[d]]
    seq_axes = (2, 3) if stacked else (1, 2)
    if not short:
        return "the update covers the whole tensor: it replaces it, not some positions of a cache"
    if len(short) > 1 or short[0] not in seq_axes:
        return (f"the update {list(box)} is smaller than the cache {list(cache_shape)} on axes {short}: a KV-cache "
                f"write covers every axis but the sequence axis ({seq_axes[0]} or {seq_axes[1]})")
    return short[0]


def _overwrites(op) -> bool:
    """The scatter's update computation returns the new value, ignoring the old one."""
    block = op.regions[0].blocks[0]
    body, args = list(block.operations), list(block.arguments)
    return (len(body) == 1 and body[0].name == "stablehlo.return" and len(args) == 2
            and len(body[0].operands) == 1 and body[0].operands[0] == args[1])


def scatter_block(op, dynamic: bool = True):
    """(base, box, sym_axes, sym) when the scatter writes its update, in row-major order, into the block
    [base, base + box) (base + sym on `sym_axes`), else a string saying why not. Follows the StableHLO spec:
    result index = full start index (from the index vectors) + full window index."""
    if not _overwrites(op):
        return "the update computation does not just return the new value (it combines, not overwrites)"
    dn = hlo.ScatterDimensionNumbers(op.attributes["scatter_dimension_numbers"])
    if list(dn.input_batching_dims):
        return "a batched scatter"
    cache, indices, update = op.operands
    try:
        idx = affine(indices, dynamic)
    except NotAffine as e:
        return str(e)
    except RecursionError:  # affine() recurses along the index expression: bounded by Python's limit
        return "the index expression is too deep to check"
    ushape, rank = vals.shape(update), len(vals.shape(cache))
    if int(np.prod(ushape)) == 0:
        return "the update is empty"
    uwd, iwd, ivd = list(dn.update_window_dims), list(dn.inserted_window_dims), dn.index_vector_dim
    const, coef = idx.const, idx.coef
    if ivd == const.ndim:
        const, coef = const[..., None], coef[..., None]
    else:
        const, coef = np.moveaxis(const, ivd, -1), np.moveaxis(coef, ivd, -1)
    at = [np.zeros((1,) * len(ushape), np.int64) for _ in range(rank)]   # result index, per axis (const part)
    moved = [np.zeros((1,) * len(ushape), np.int64) for _ in range(rank)]  # its start coefficient
    for k, d in enumerate(dn.scattered_dims_to_operand_dims):
        at[d] = at[d] + np.expand_dims(const[..., k], tuple(uwd))
        moved[d] = moved[d] + np.expand_dims(coef[..., k], tuple(uwd))
    for ud, od in zip(uwd, [d for d in range(rank) if d not in iwd]):
        at[od] = at[od] + _iota(ushape, ud)
    at = [np.broadcast_to(x, ushape) for x in at]
    sym_axes = [d for d in range(rank) if moved[d].any()]
    if any(not (np.broadcast_to(moved[d], ushape) == 1).all() for d in sym_axes) or len(sym_axes) > 1:
        return "the runtime start does not move the positions as one start + constant on one axis"
    base = [int(x.reshape(-1)[0]) for x in at]
    offsets = [(x - b).reshape(-1) for x, b in zip(at, base)]
    box = [int(o.max()) + 1 for o in offsets]
    in_order = all(int(o.min()) >= 0 for o in offsets) and int(np.prod(box)) == offsets[0].size
    if in_order:
        in_order = bool((np.ravel_multi_index(offsets, box) == np.arange(offsets[0].size)).all())
    if not in_order:
        axis = next((d for d in (1, 2) if d < rank and len(np.unique(at[d])) > 1), 0)
        seen = list(dict.fromkeys(at[axis].reshape(-1).tolist()))
        return (f"the written positions are not one contiguous increasing run (axis {axis}: "
                f"{seen[:8]}{' ...' if len(seen) > 8 else ''})")
    return base, box, sym_axes, idx.sym


def _dus_is_kv_write(m) -> bool | str:
    cache_shape, box = vals.shape(m["cache"]), vals.shape(m["update"])
    seq = _seq_axis(cache_shape, box)
    if isinstance(seq, str):
        return seq
    m.memo["write"] = dict(seq=seq, box=list(box), pos=("value", m.root.operands[2 + seq]))
    return True


def _scatter_is_kv_write(dynamic: bool):
    def scatter_is_kv_write(m) -> bool | str:
        cache_shape = vals.shape(m["cache"])
        if len(cache_shape) not in (4, 5) or len(cache_shape) == 5 and cache_shape[0] != 2:
            return _seq_axis(cache_shape, ())  # before the index analysis: most scatters are not cache writes
        found = scatter_block(m.root, dynamic)
        if isinstance(found, str):
            return found
        base, box, sym_axes, sym = found
        seq = _seq_axis(cache_shape, box)
        if isinstance(seq, str):
            return seq
        if sym_axes and sym_axes != [seq]:
            return f"the runtime start moves axis {sym_axes[0]}, not the sequence axis {seq}"
        if any(base[d] for d in range(len(cache_shape)) if d != seq):
            return f"the block starts at {base}: off the start of a full axis, scatter drops it"
        if sym is None and not 0 <= base[seq] <= cache_shape[seq] - box[seq]:
            return (f"positions {base[seq]}..{base[seq] + box[seq] - 1} run outside the cache (size "
                    f"{cache_shape[seq]}): scatter drops them, dynamic_update_slice would clamp")
        pos = ("start", sym, base[seq]) if sym is not None else ("const", base[seq], vals.element_type(m["indices"]))
        m.memo["write"] = dict(seq=seq, box=box, pos=pos)
        return True

    return scatter_is_kv_write


def _scalar(value, type_):
    return hlo.ConstantOp(ir.splat(value, mlir.RankedTensorType.get([], type_))).result


def _position(pos):
    """The composite's input_pos, built before the root: the DUS start, a constant, or start + offset."""
    if pos[0] == "value":
        return pos[1]
    if pos[0] == "const":
        return _scalar(pos[1], pos[2])
    _, start, offset = pos
    et = vals.element_type(start)
    if vals.shape(start) != ():
        start = hlo.ReshapeOp(mlir.RankedTensorType.get([], et), start).result
    return hlo.AddOp(start, _scalar(offset, et)).result if offset else start


def _fuse(m):
    """Build the canonical dynamic_update_slice before the root, outline it, drop the scaffolding."""
    w = m.memo["write"]
    cache, update, seq = m["cache"], m["update"], w["seq"]
    pos = _position(w["pos"])
    if list(vals.shape(update)) != w["box"]:
        update = hlo.ReshapeOp(mlir.RankedTensorType.get(w["box"], vals.element_type(update)), update).result
    zero = _scalar(0, vals.element_type(pos))
    starts = [pos if d == seq else zero for d in range(len(vals.shape(cache)))]
    dus = hlo.DynamicUpdateSliceOp(cache, update, starts).result
    inputs = [cache, pos, update]
    ops, why = region(inputs, [dus])
    assert ops is not None, why  # the new ops read only `inputs` and a constant
    attrs = {"kv_cache_max": vals.shape(cache)[seq], "seq_dim": seq}
    out = outline_composite(NAME, inputs, [dus], attrs, ops)
    erase_dead(ops)
    return out


def kv_cache_patterns(dynamic_positions: bool = True) -> PatternSet:
    """The cache-write patterns; without `dynamic_positions` only constant-position scatters fuse."""
    return PatternSet([
        Pattern("kv-cache-dynamic-update-slice",                  # dus(cache, new, 0, p, 0, 0) -> composite
                Op(hlo.DynamicUpdateSliceOp, V("cache"), V("update"), ...), _fuse, where=_dus_is_kv_write),
        Pattern("kv-cache-scatter",                               # scatter(cache, p + iota, new) -> composite
                Op(hlo.ScatterOp, V("cache"), V("indices"), V("update")), _fuse,
                where=_scatter_is_kv_write(dynamic_positions)),
    ], name="fuse-kv-cache-update")
