"""The pieces of the attention template, each found by walking back from a value (see patterns/sdpa.py):

  softmax(p)     P = softmax(S) over one axis: exp(S - max S) / sum or exp(S) / sum, through the reshapes,
                 transposes and converts exporters put around it; each reduction must be broadcast back
                 along the axes it came from (checked on layouts, so a sum over the wrong axis, or put back
                 transposed, is not a softmax)
  scores(s)      S = the Q.K dot scaled (by multiply or divide, constant on either side), soft-capped
                 (c * tanh(x / c)), masked once (+ float mask, or select with a large negative fill)
  peel(x, tag)   candidate q/k/v inputs behind a dot operand, with their layouts at the dot and the scale
                 applied on the way

Each raises NoMatch saying which part failed and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..diagnostics import Decline
from . import layout as lay
from . import values as vals

SHAPE_OPS = ("stablehlo.reshape", "stablehlo.transpose", "stablehlo.convert")
BROADCAST = "stablehlo.broadcast_in_dim"
MIN_FILL = -1e4  # a select mask must fill with at most this (or -inf): only then is it an additive mask


class NoMatch(Decline):
    """Why this dot_general is not the end of an attention. `depth`: how far into the template the match
    got (0: not even a softmax), so that the deepest reason is the one reported. `why` may be a function
    that says it: most dot_generals are not attention, and their reason is rarely the one shown."""

    def __init__(self, why, depth: int = 1):
        super().__init__(why)
        self.depth = depth

    def __str__(self) -> str:
        why = self.args[0]
        return why() if callable(why) else str(why)


def op_of(v):
    return vals.defining_op(v)


def splat(v):
    """The scalar of a splat constant value, also behind the broadcasts, reshapes and converts exporters put
    on scalars; else None."""
    ops = []
    while (op := op_of(v)) is not None and op.name in ("stablehlo.broadcast_in_dim", "stablehlo.reshape",
                                                       "stablehlo.convert"):
        ops.append(op)
        v = op.operands[0]
    attr = vals.constant_attr(op_of(v))
    x = None if attr is None else vals.splat_scalar(attr)
    for op in reversed(ops):
        if x is not None and op.name == "stablehlo.convert":
            x = np.asarray(x).astype(vals.dtype(op.results[0]))[()]
    return x


def is_op(v, *names) -> bool:
    op = op_of(v)
    return op is not None and op.name in names


def same_elements(op) -> bool:
    return vals.num_elements(op.operands[0]) == vals.num_elements(op.results[0])


def layout_op(op) -> bool:
    """Ops that move elements around without computing: reshape, transpose, convert, and broadcasts that
    only add unit axes."""
    return op.name in SHAPE_OPS or op.name == BROADCAST and same_elements(op)


def scaling(op):
    """(x, factor) when `op` is x * c, c * x or x / c for a splat constant c, else None."""
    if op is None or op.name not in ("stablehlo.multiply", "stablehlo.divide"):
        return None
    a, b = op.operands
    if splat(b) is not None:
        c = float(splat(b))
        return (a, c) if op.name == "stablehlo.multiply" else (a, 1.0 / c) if c else None
    if op.name == "stablehlo.multiply" and splat(a) is not None:
        return b, float(splat(a))
    return None


def back(v, keep):
    """Follow `v` back through ops for which `keep(op)` holds (main operand first): (the value reached,
    those ops in program order)."""
    ops = []
    while (op := op_of(v)) is not None and keep(op):
        ops.append(op)
        v = op.operands[0]
    return v, ops[::-1]


def _reducer(op):
    from .folding import reducer_kind

    return reducer_kind(op) if op.name == "stablehlo.reduce" and len(op.operands) == 2 else None


# ------------------------------------------------------------------------------------------------ inputs

@dataclass
class Operand:
    """A q/k/v input: the 3-D/4-D value, the ops from it to the dot, its layout at the dot, the scale they
    apply."""

    value: object
    ops: list
    layout: list
    scale: float = 1.0


def peel(start, tag: str, allow_broadcast: bool, allow_scale: bool) -> list[Operand]:
    """Candidate inputs going back from a dot operand, deepest first."""
    values, ops, scales = [start], [], [1.0]
    v = start
    while (op := op_of(v)) is not None:
        if op.name in SHAPE_OPS or op.name == BROADCAST and (allow_broadcast or same_elements(op)):
            nxt, factor = op.operands[0], 1.0
        elif allow_scale and scaling(op) is not None:
            nxt, factor = scaling(op)
        else:
            break
        ops.append(op)
        values.append(nxt)
        scales.append(scales[-1] * factor)
        v = nxt
    found = []
    for i in range(len(values) - 1, -1, -1):
        if len(vals.shape(values[i])) not in (3, 4):  # [B, N, T, H] in some order, or [N, T, H]
            continue
        layout = lay.forward(lay.initial(tag, vals.shape(values[i])), list(reversed(ops[:i])))
        if layout is not None:
            found.append(Operand(values[i], ops[:i], layout, scales[i]))
    return found


# ------------------------------------------------------------------------------------------------ scores

@dataclass
class Scores:
    """What lies between the Q.K dot and the softmax."""

    dot: object
    ops: list = field(default_factory=list)  # from the dot towards the softmax input
    scale: float = 1.0
    cap: float | None = None
    mask: object = None  # the mask operand of the add / select (the condition of a select)
    mask_op: object = None  # the add / select that applies it
    mask_select: bool = False
    mask_keep: bool = True  # select: True where the mask is true keeps the score (False: fills it)
    fill: float = 0.0


def scores(s) -> Scores:
    """Walk back from the softmax input to the Q.K dot. Program order must be: dot, scalings, soft cap,
    scalings, mask; a scaling after an additive mask would scale the mask too, and a mask inside the cap
    would be capped: the composite does neither."""
    ops, info = [], Scores(None)
    factor = 1.0  # product of the scalings met so far on the way back (since the soft cap, if any)
    v = s
    while True:
        op = op_of(v)
        if op is None:
            raise NoMatch("the softmax input does not come from a dot_general")
        name = op.name
        if name == "stablehlo.dot_general":
            info.dot, info.ops, info.scale = op, ops[::-1], factor
            return info
        ops.append(op)
        if layout_op(op):
            v = op.operands[0]
        elif scaling(op) is not None:
            x, c = scaling(op)
            tanh = op_of(x)
            inner = scaling(op_of(tanh.operands[0])) if tanh is not None and tanh.name == "stablehlo.tanh" \
                and name == "stablehlo.multiply" else None
            if inner is None:
                factor *= c
                v = x
                continue
            if info.cap is not None:  # c * tanh(y * f) = C * tanh(y * f * C / C) with C = c * what follows
                raise NoMatch(f"a second soft cap at {vals.loc(op)}")
            ops += [tanh, op_of(tanh.operands[0])]
            info.cap = c * factor
            factor = inner[1] * info.cap
            v = inner[0]
        elif name == "stablehlo.add" and info.mask is None:
            _no_mask_here(info, op)
            if factor != 1.0:
                raise NoMatch(f"the scores are scaled after the mask is added at {vals.loc(op)} (the composite "
                              "scales before adding the mask)")
            a, b = op.operands
            from_dot = (leads_to_dot(a), leads_to_dot(b))
            if from_dot[0] == from_dot[1]:
                raise NoMatch(f"{'both sides' if from_dot[0] else 'neither side'} of the add at {vals.loc(op)} "
                              "come from a dot_general: which is the mask?")
            keep, mask = (a, b) if from_dot[0] else (b, a)
            info.mask, info.mask_op = mask, op
            v = keep
        elif name == "stablehlo.select" and info.mask is None:
            _no_mask_here(info, op)
            cond, a, b = op.operands
            if splat(b) is not None and splat(a) is None:
                info.mask_keep, fill, v = True, splat(b), a
            elif splat(a) is not None and splat(b) is None:
                info.mask_keep, fill, v = False, splat(a), b
            else:
                raise NoMatch(f"the select at {vals.loc(op)} does not choose between the scores and a constant")
            info.fill = float(fill) * factor  # select(m, x, f) * a = select(m, a * x, a * f)
            if not info.fill <= MIN_FILL:
                raise NoMatch(f"the select at {vals.loc(op)} fills masked scores with {float(fill):g}, not a large "
                              "negative value")
            info.mask, info.mask_op, info.mask_select = cond, op, True
        else:
            what = "a second mask" if name in ("stablehlo.add", "stablehlo.select") else name
            raise NoMatch(f"{what} at {vals.loc(op)} between the scores and the softmax")


def _no_mask_here(info: Scores, op) -> None:
    if info.cap is not None:
        raise NoMatch(f"the mask at {vals.loc(op)} is applied before the soft cap (the composite caps, then masks)")


def leads_to_dot(v, depth: int = 12) -> bool:
    """Whether a dot_general is among the first few ops computing `v` (constants excluded)."""
    frontier = [v]
    for _ in range(depth):
        nxt = []
        for x in frontier:
            op = op_of(x)
            if op is None or vals.constant_attr(op) is not None:
                continue
            if op.name == "stablehlo.dot_general":
                return True
            nxt.extend(op.operands)
        frontier = nxt[:16]
    return False


# ----------------------------------------------------------------------------------------------- softmax

def softmax(p):
    """Walk back from P to the softmax input S. Returns (S, the softmax axis of S, the ops from S to P in
    program order: only their layouts matter)."""
    after = []
    v = p
    while True:
        op = op_of(v)
        if op is None:
            raise NoMatch("P is not computed by a softmax", depth=0)
        if layout_op(op):
            after.append(op)
            v = op.operands[0]
        elif op.name == "stablehlo.select" and splat(op.operands[1]) == 0:  # torch: fully masked rows -> 0,
            after.append(op)                                                  # checked below
            v = op.operands[2]
        elif op.name == "stablehlo.divide":
            break
        else:
            raise NoMatch(lambda: f"expected the softmax's divide, found {op.name} at {vals.loc(op)}", depth=0)
    div = op
    e, num_ops = back(div.operands[0], lambda o: o.name in SHAPE_OPS)
    total, den_ops = back(div.operands[1], lambda o: o.name in SHAPE_OPS or o.name == BROADCAST)
    sum_op = op_of(total)
    if sum_op is None or _reducer(sum_op) != "stablehlo.add" or splat(sum_op.operands[1]) != 0:
        raise NoMatch(f"the softmax denominator at {vals.loc(div)} is not a sum")
    e2, sum_in_ops = back(sum_op.operands[0], lambda o: o.name in SHAPE_OPS)
    if e != e2 or not is_op(e, "stablehlo.exponential"):
        raise NoMatch(f"the softmax at {vals.loc(div)} does not divide exp(x) by its own sum")
    z = op_of(e).operands[0]
    if is_op(z, "stablehlo.subtract"):
        s, x_ops = back(op_of(z).operands[0], lambda o: o.name in SHAPE_OPS)
        m, m_ops = op_of(z).operands[1], []
        while (o := op_of(m)) is not None:
            if o.name in SHAPE_OPS or o.name == BROADCAST:
                m = o.operands[0]
            elif o.name == "stablehlo.maximum" and splat(o.operands[0]) is not None:  # JAX: max(-inf, max x)
                m = o.operands[1]
            else:
                break
            m_ops.insert(0, o)
        max_op = op_of(m)
        s2, max_in_ops = (None, []) if max_op is None or _reducer(max_op) != "stablehlo.maximum" else \
            back(max_op.operands[0], lambda o: o.name in SHAPE_OPS)
        if s2 is None or s2 != s:
            raise NoMatch(f"exp(x - m) at {vals.loc(op_of(z))}: m is not the max of x")
    else:
        s, x_ops, max_op, m_ops, max_in_ops = z, [], None, [], []
    base = lay.initial("s", vals.shape(s))
    at_exp = lay.forward(base, x_ops)
    axis_atoms = set()
    if max_op is not None:
        axis_atoms |= _reduced(base, max_in_ops, max_op)
        _check_rebroadcast(at_exp, _kept(base, max_in_ops, max_op, m_ops), axis_atoms, "max", max_op)
    summed = _reduced(at_exp, sum_in_ops, sum_op)
    if axis_atoms and summed != axis_atoms:
        raise NoMatch(f"the softmax's max and sum at {vals.loc(sum_op)} reduce different axes")
    axis_atoms = summed
    _check_rebroadcast(lay.forward(at_exp, num_ops), _kept(at_exp, sum_in_ops, sum_op, den_ops), axis_atoms,
                       "sum", sum_op)
    if len(axis_atoms) != 1 or [*axis_atoms] not in base:
        raise NoMatch(f"the softmax at {vals.loc(div)} does not reduce exactly one axis of its input")
    chain = x_ops + num_ops + [div] + after[::-1]
    for i, op in enumerate(chain):
        if op.name == "stablehlo.select":
            _check_guard(op, s, base, lay.forward(base, chain[:i]), axis_atoms)
    return s, base.index([*axis_atoms]), chain


def _check_guard(guard, s, base, at_guard, axis_atoms) -> None:
    """torch's select(all(S == -inf) along the keys, 0, P) zeroes fully masked rows and nothing else; any
    other select that zeroes probabilities is not part of an attention."""
    why = NoMatch(f"the select at {vals.loc(guard)} zeroes probabilities other than fully masked rows")
    red, cond_ops = back(guard.operands[0], lambda o: o.name in (BROADCAST, "stablehlo.reshape", "stablehlo.transpose"))
    r = op_of(red)
    c, c_ops = (None, []) if r is None or _reducer(r) != "stablehlo.and" else \
        back(r.operands[0], lambda o: o.name in SHAPE_OPS)
    cmp = op_of(c) if c is not None else None
    if cmp is None or cmp.name != "stablehlo.compare" or \
            vals.attr_value(cmp.attributes["comparison_direction"]) != "EQ":
        raise why
    a, b = cmp.operands
    x = a if splat(b) == -np.inf else b if splat(a) == -np.inf else None
    x_ops = _back_to(x, s) if x is not None else None
    if x_ops is None:
        raise why
    at_cmp = lay.forward(base, x_ops)
    if at_cmp is None or _reduced(at_cmp, c_ops, r) != axis_atoms:
        raise why
    _check_rebroadcast(at_guard, _kept(at_cmp, c_ops, r, cond_ops), axis_atoms, "guard", guard)


def _back_to(v, target):
    """The layout ops from `target` to `v` (program order), or None if `v` is not `target` through them."""
    ops = []
    while v != target:
        op = op_of(v)
        if op is None or op.name not in SHAPE_OPS:
            return None
        ops.append(op)
        v = op.operands[0]
    return ops[::-1]


def _reduced(layout, ops, reduce_op) -> set:
    at = lay.forward(layout, ops) if layout is not None else None
    if at is None:
        raise NoMatch(f"the softmax input is reshaped in a way that splits an axis before {vals.loc(reduce_op)}")
    return {a for d in vals.attr_value(reduce_op.attributes["dimensions"]) for a in at[d]}


def _kept(layout, ops, reduce_op, back_ops):
    """The layout of a reduction's result where it is used again, after `back_ops` put it back."""
    at = lay.forward(layout, ops)
    dims = vals.attr_value(reduce_op.attributes["dimensions"])
    return lay.forward([g for d, g in enumerate(at) if d not in dims], back_ops)


def _check_rebroadcast(x_at, r_at, reduced: set, what: str, op) -> None:
    """The reduction must come back broadcast along the reduced axis and aligned on every other one."""
    ok = x_at is not None and r_at is not None and len(x_at) == len(r_at)
    for xg, rg in zip(x_at or [], r_at or []):
        if any(a in reduced for a in xg):
            ok = ok and all(a.tag == "bcast" for a in rg) and all(a in reduced for a in xg)
        else:
            ok = ok and xg == rg
    if not ok:
        raise NoMatch(f"the softmax's {what} at {vals.loc(op)} is not broadcast back along the axis it reduced")
