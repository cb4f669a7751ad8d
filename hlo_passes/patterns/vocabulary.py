"""The words every fusion needs, public so that a new fusion is composition, not copy-and-adapt.

    from hlo_passes.patterns import Op, V, Plumbed, Scalar, Mean, is_float
    from hlo_passes.ir import stablehlo as hlo

    HALF_X = Op(hlo.MulOp, V("x", where=is_float), Scalar(value=0.5))     # x * 0.5, however 0.5 is spelled
    VAR = Op(hlo.AddOp, Plumbed(Mean(SQUARES)), Scalar("eps"))            # mean(...) + eps

Exporters spell a scalar constant many ways: `constant dense<0.5> : tensor<f32>` broadcast to the
activation's shape, a `tensor<1x1xf32>` reshaped, an f64 constant converted to f32, or (after
fold-constants) one splat constant of the full shape. `Scalar` accepts all of them and compares numbers,
never element lists: a 64M-element splat is read as its one value. `Plumbed(t)` is `t` behind the
reshapes and broadcasts exporters put between the pieces of a formula; what a template cannot say
(that a broadcast keeps one value per row rather than transposing) is checked in `where` with
`per_row`. `Mean(t)` is a mean over `t` as exporters write it (sum / N or sum * (1/N)), checked by
`check_mean`.
"""

from __future__ import annotations

import math
from typing import Iterator

import ml_dtypes
import numpy as np

from .. import ir
from ..ir import mlir
from ..ir import stablehlo as hlo
from . import values as vals
from .template import Alt, Const, Op, Template, Trace, V, _bind

BCAST, RESHAPE, CONVERT = "stablehlo.broadcast_in_dim", "stablehlo.reshape", "stablehlo.convert"
_PLUMBING = (BCAST, RESHAPE)


# ------------------------------------------------------------------------------------------ dtypes, shapes

def float_bits(value) -> int:
    """Bit width of a float tensor's elements, 0 if its elements are not floats."""
    try:
        dt = vals.dtype(value)
    except Exception:  # an element type with no numpy counterpart (complex<f32>, i2): not a float we handle
        return 0
    return dt.itemsize * 8 if dt.kind == "f" or "float" in dt.name else 0


_FLOAT_TYPES = frozenset({"f16", "bf16", "f32", "f64", "f8E4M3FN", "f8E5M2", "f8E4M3FNUZ", "f8E5M2FNUZ",
                          "f8E4M3B11FNUZ"})


def is_float(value) -> bool:
    """A ranked tensor of floats (f16, bf16, f32, f64, fp8): the predicate for `V("x", where=is_float)`.
    (Asked at every candidate root, so it reads the element type's name instead of building a dtype.)"""
    t = value.type
    return isinstance(t, mlir.RankedTensorType) and str(t.element_type) in _FLOAT_TYPES


def rank_at_least(n: int):
    """Predicate: a ranked tensor of rank >= n (`V("x", where=rank_at_least(1))`)."""
    def ok(value) -> bool:
        return isinstance(value.type, mlir.RankedTensorType) and len(vals.shape(value)) >= n

    ok.__name__ = f"rank_at_least({n})"
    return ok


# ------------------------------------------------------------------------------------------ scalars

def unplumbed(value, through=(BCAST, RESHAPE, CONVERT)) -> tuple:
    """(source, ops): `value` with the ops named in `through` peeled off, outermost op first."""
    chain = []
    while (op := vals.defining_op(value)) is not None and op.name in through:
        chain.append(op)
        value = op.operands[0]
    return value, chain


def scalar_of(value):
    """The number a scalar-constant chain (a constant, then converts/reshapes/broadcasts) computes, as a
    numpy scalar in the element type of `value`; None if `value` is not one. Splats are read as their one
    value, non-splat constants only when small (values.SMALL), so this never expands a large constant."""
    source, chain = unplumbed(value)
    op = vals.defining_op(source)
    attr = vals.constant_attr(op) if op is not None else None
    s = vals.splat_scalar(attr) if attr is not None else None
    if s is None:
        return None
    s = np.asarray(s)
    for step in reversed(chain):
        if step.name == CONVERT:
            s = s.astype(vals.dtype(step.results[0]))
    return s


def describe(value) -> str:
    """What a value really is, past its plumbing: for near-miss reasons ("epsilon is ... at f.py:3:4")."""
    value = unplumbed(value)[0]
    op = vals.defining_op(value)
    return f"a block argument ({value.type})" if op is None else f"{op.name} at {vals.loc(op)}"


def close_to(number, want: float, ulps: float = 4) -> bool:
    """`number` (a numpy scalar) equals `want` within `ulps` steps of its own float type: JAX rounds
    sqrt(2/pi) from f64, torch computes it in f32, and both must count as the same constant."""
    number = np.asarray(number)
    if number.dtype.kind != "f" and "float" not in number.dtype.name:  # ints (int4 included), bools: exactly
        return float(number) == want
    eps = float(ml_dtypes.finfo(number.dtype).eps)
    return math.isclose(float(number), want, rel_tol=ulps * eps, abs_tol=0)


class Scalar(Template):
    """A scalar constant however it is spelled (see the module docstring), captured as `name`.

    `value=` requires that number (within `ulps` steps of the value's float type, exactly for integers);
    the number itself is `scalar_of(m[name])`. A value that is not a scalar constant fails with what it
    is instead ("a block argument", "stablehlo.rsqrt at f.py:3:4").
    """

    __slots__ = ("name", "value", "ulps")

    def __init__(self, name: str | None = None, *, value: float | None = None, ulps: float = 4):
        self.name, self.value, self.ulps = name, value, ulps

    def __repr__(self) -> str:
        return f"Scalar({self.name!r}, value={self.value!r})"

    def match(self, value, binds, trace: Trace, depth: int) -> Iterator[dict]:
        s = scalar_of(value)
        if s is None:
            trace.fail(depth, lambda: f"expected a scalar constant{'' if self.value is None else f' {self.value}'}"
                                      f", got {describe(value)}")
            return
        if self.value is not None and not close_to(s, self.value, self.ulps):
            trace.fail(depth, lambda: f"constant {float(s)} at {describe(value).split(' at ')[-1]} is not "
                                      f"{self.value}", True)
            return
        out = _bind(self.name, value, binds, trace, depth, "scalar")
        if out is not None:
            yield out


class Plumbed(Template):
    """`inner` behind any number (up to `limit`) of reshape and broadcast_in_dim ops, including none.

    Outermost first: `Plumbed(Op(hlo.RsqrtOp, ...))` matches rsqrt(v), reshape(rsqrt(v)) and
    broadcast(reshape(rsqrt(v))). Whether the plumbing keeps the meaning is the pattern's `where` to say
    (`per_row`): a template cannot see a transposing broadcast.
    """

    __slots__ = ("inner", "limit")

    def __init__(self, inner: Template, limit: int = 4):
        self.inner, self.limit = inner, limit

    def __repr__(self) -> str:
        return f"Plumbed({self.inner!r})"

    def producers(self):
        inner = self.inner.producers()
        return None if inner is None else inner | frozenset(_PLUMBING)

    def match(self, value, binds, trace, depth):
        # Each level is tried with a trace of its own: a level that is merely the wrong kind of op (the
        # reshape in front of the reduce) is not a near-miss when a deeper level matches, and reporting it
        # would hide the real reason when the match fails further on.
        levels = [value]
        while len(levels) <= self.limit and (op := vals.defining_op(levels[-1])) is not None and op.name in _PLUMBING:
            levels.append(op.operands[0])
        subs, matched = [], False
        for v in levels:
            sub = Trace(trace.explain)
            for b in self.inner.match(v, binds, sub, depth):
                matched = True
                yield b
            subs.append(sub)
        if not matched:
            best = max(reversed(subs), key=lambda t: t.rank)  # at equal depth, the innermost level's reason
            if best.rank > trace.rank:
                trace.rank, trace.reason = best.rank, best.reason


def splat_like(like, number) -> mlir.Value:
    """A splat constant of `like`'s tensor type (a value or a type) holding `number`; nothing is
    materialized however large the type. Needs an insertion point (a rewrite has one)."""
    t = getattr(like, "type", like)
    return hlo.ConstantOp(ir.splat(number, t)).result


def row_splat(like, number) -> mlir.Value:
    """A [D] splat of `number` in `like`'s element type, D its last dimension: the weight or bias a
    composite takes when the model has none."""
    t = mlir.RankedTensorType.get([vals.shape(like)[-1]], vals.element_type(like))
    return splat_like(t, number)


# ------------------------------------------------------------------------------------------ means over the last axis

def Mean(inner: Template, tag: str = "") -> Template:  # noqa: N802 -- reads as a template constructor
    """mean(inner) over some axis as exporters write it: reduce-sum, then (after plumbing) divided by N or
    multiplied by 1/N. Captures `{tag}sum` (the reduce) and `{tag}n` or `{tag}inv_n` (the scalar);
    `check_mean(m, x_shape, tag)` says whether it is a mean over x's last axis."""
    total = Op(hlo.ReduceOp, inner, Const(value=0), name=f"{tag}sum")
    return Alt(Op(hlo.DivOp, Plumbed(total), V(f"{tag}n")), Op(hlo.MulOp, Plumbed(total), V(f"{tag}inv_n")))


def check_mean(m, x_shape, tag: str = "") -> bool | str:
    """The `Mean` captured under `tag` sums over the last axis of `x_shape` alone and divides by its size."""
    from .folding import reducer_kind

    reduce_op, d = m.op(f"{tag}sum"), x_shape[-1]
    if vals.attr_value(reduce_op.attributes["dimensions"]) != [len(x_shape) - 1]:
        return f"the sum at {vals.loc(reduce_op)} is not over the last axis alone"
    if reducer_kind(reduce_op) != "stablehlo.add":
        return f"the reduction at {vals.loc(reduce_op)} is not a sum"
    for key, want, what in ((f"{tag}n", d, f"divides by {{}}, not by the axis size {d}"),
                            (f"{tag}inv_n", 1.0 / d, f"multiplies by {{}}, not by 1/{d}")):
        if key in m:
            s = scalar_of(m[key])
            if s is None:
                role = "divisor" if key == f"{tag}n" else "factor"
                return f"the mean's {role} is not a constant ({describe(m[key])})"
            if not close_to(s, want, 2):
                return what.format(float(s))
    return True


# ------------------------------------------------------------------------------------------ per-row statistics

def relabel(labels: list, op) -> list | None:
    """Follow what each dim of a value means (row-axis numbers, "b" for broadcast, "f" for feature, None
    for size 1) through one op; None if a reshape regroups dims that carry meaning."""
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


def chain_to(value, stop, skip=()) -> list | None:
    """The ops from `stop` (exclusive) to `value` (inclusive), first op first, following the first operand
    that is neither one of `skip` nor a scalar constant; None if `stop` is not reached in a few dozen ops."""
    chain = []
    for _ in range(64):
        if value == stop:
            return chain[::-1]
        op = vals.defining_op(value)
        if op is None:
            return None
        chain.append(op)
        rest = [o for o in op.operands if o not in skip and (o == stop or scalar_of(o) is None)]
        if not rest:
            return None
        value = rest[0]
    return None


def per_row(value, reduce_op, x_shape, skip=()) -> bool | str:
    """`value` (x-shaped) is computed from the row statistic `reduce_op` makes (a reduce over x's last
    axis) as one value per row broadcast along the last axis: a transposing or feature-mixing broadcast
    on the way would compute something else. `skip` holds the scalar operands met on the way."""
    chain = chain_to(value, reduce_op.results[0], skip=set(skip))
    if chain is None:
        return f"cannot follow {describe(value)} back to the reduction at {vals.loc(reduce_op)}"
    labels = [j if s != 1 else None for j, s in enumerate(x_shape[:-1])]
    for op in chain:
        labels = relabel(labels, op)
        if labels is None:
            return f"{op.name} at {vals.loc(op)} regroups the per-row values"
    want = [j if s != 1 else None for j, s in enumerate(x_shape[:-1])] + ["b" if x_shape[-1] != 1 else None]
    return True if labels == want else "the row statistic is not one value per row, broadcast along the last axis"


def _same_rows(a: np.ndarray) -> bool:
    bits = a.view(np.dtype(f"u{a.dtype.itemsize}")).reshape(-1, a.shape[-1])
    return bool((bits == bits[0]).all())


def per_feature(value, x_shape) -> tuple:
    """What a per-feature weight or bias `value` (x-shaped) is made from: (w, None, "") where w is the [D]
    tensor broadcast along the last axis (D = x's last dim); (value, row, "") for a constant of x's shape
    whose rows are all `row` (what fold-constants makes of a broadcast weight: pass `row` with
    `row_adapter`); (None, None, why) otherwise. Splats are never expanded; other constants are compared
    row by row up to 16M elements (their data is in the IR already)."""
    d, chain, v = x_shape[-1], [], value
    while vals.shape(v) != (d,) and (op := vals.defining_op(v)) is not None and op.name in _PLUMBING:
        chain.append(op)
        v = op.operands[0]
    if vals.shape(v) == (d,):
        labels = ["f" if d != 1 else None]
        for op in reversed(chain):
            labels = relabel(labels, op)
            if labels is None:
                break
        if labels == ["b" if s != 1 else None for s in x_shape[:-1]] + ["f" if d != 1 else None]:
            return v, None, ""
        return None, None, f"{describe(v)} is not broadcast along the last axis"
    op = vals.defining_op(value)
    attr = vals.constant_attr(op) if op is not None else None
    if attr is not None and vals.shape(value) == tuple(x_shape):
        if vals.is_splat(attr):
            return value, np.full((d,), vals.splat_scalar(attr)), ""
        if vals.num_elements(value) > 1 << 24:  # the data is in the IR already; past 64 MB, decline
            return None, None, f"the constant at {vals.loc(op)} is too large to compare row by row"
        full = vals.constant_array(attr)
        if _same_rows(full):
            return value, np.array(full.reshape(-1, d)[0]), ""
        return None, None, f"the constant factor at {vals.loc(op)} differs between rows"
    return None, None, f"{describe(value)} ({value.type}) is not a per-feature tensor of {d}"


def row_adapter(full, row: np.ndarray):
    """How to pass an x-shaped constant `full` whose rows are all `row`: the composite takes `row` ([D]) and
    the decomposition broadcasts it back, so the decomposition still computes exactly what it matched."""
    from .outline import Adapter

    return Adapter(lambda v: hlo.ConstantOp(ir.from_numpy(np.asarray(row, vals.dtype(full)))).result,
                   lambda a: hlo.BroadcastInDimOp(full.type, a, [len(vals.shape(full)) - 1]).result)
