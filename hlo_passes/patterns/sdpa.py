"""Scaled dot-product attention, found in plain exported graphs, raised into
`odml.scaled_dot_product_attention` composites: operands q, k, v, mask in [B, T, N, H] (mask [B|1, 1, T, S]),
attributes {scale} (+ {logit_cap} when the scores are soft-capped).

The match starts at the P·V dot_general and walks back, naming what it finds:
  P = softmax(S) over the key axis: exp(S - max S) / sum, or exp(S) / sum; converts around it; JAX's
      max(-inf, max S); torch's guard that zeroes fully masked rows
  S = Q·K^T scaled (q, k, the scores; by multiply or divide), soft-capped (c * tanh(S / c)), masked
      (+ float mask, or select(mask, S, -inf)), through whatever reshapes the exporter put between
  Q, K, V = the first 4-D tensors found going back through reshape/transpose/convert (and, for K and V,
      the broadcast that repeats heads for GQA, which the composite absorbs)
Axis roles come from following each axis through those ops (patterns/layout.py), so head, sequence and
batch are known whatever the layout and however the batch axes were merged.

The decomposition is the matched subgraph itself; operands are transposed into [B, T, N, H] outside and
back inside (simplify then cancels the pairs), so inlining the composite gives the original computation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..ir import mlir
from ..ir import stablehlo as hlo
from . import layout as lay
from . import values as vals
from .driver import Pattern, PatternSet
from .outline import Adapter, outline_composite, region
from .template import Op

NAME = "odml.scaled_dot_product_attention"
SHAPE_OPS = ("stablehlo.reshape", "stablehlo.transpose", "stablehlo.convert")


class NoMatch(Exception):
    """Why this dot_general is not the end of an attention."""


def _op(v):
    return vals.defining_op(v)


def _splat(v):
    """The scalar of a splat constant value, else None."""
    attr = vals.constant_attr(_op(v))
    return None if attr is None else vals.splat_scalar(attr)


def _is(v, *names) -> bool:
    op = _op(v)
    return op is not None and op.name in names


def _same_elements(op) -> bool:
    return vals.num_elements(op.operands[0]) == vals.num_elements(op.results[0])


@dataclass
class Operand:
    """A q/k/v input: the 4-D value, the ops from it to the dot, its layout at the dot, the scale they apply."""

    value: object
    ops: list
    layout: list
    scale: float = 1.0


def _peel(start, tag: str, allow_broadcast: bool, allow_scale: bool) -> list[Operand]:
    """Candidate inputs going back from a dot operand, deepest first."""
    values, ops, scales = [start], [], [1.0]
    v = start
    while True:
        op = _op(v)
        if op is None:
            break
        if op.name in SHAPE_OPS or op.name == "stablehlo.broadcast_in_dim" and (allow_broadcast or _same_elements(op)):
            nxt, factor = op.operands[0], 1.0
        elif allow_scale and op.name in ("stablehlo.multiply", "stablehlo.divide"):
            a, b = op.operands
            if _splat(b) is not None:
                nxt, factor = a, float(_splat(b)) if op.name == "stablehlo.multiply" else 1.0 / float(_splat(b))
            elif op.name == "stablehlo.multiply" and _splat(a) is not None:
                nxt, factor = b, float(_splat(a))
            else:
                break
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


@dataclass
class Scores:
    """What lies between the Q·K dot and the softmax."""

    dot: object
    ops: list = field(default_factory=list)  # from the dot towards the softmax input
    scale: float = 1.0
    cap: float | None = None
    mask: object = None  # the mask value before it was broadcast to the scores
    mask_op: object = None  # the add / select that applies it
    mask_select: bool = False
    fill: float = 0.0


def _scores(s) -> Scores:
    """Walk back from the softmax input to the Q·K dot."""
    ops = []
    info = Scores(None)
    v = s
    while True:
        op = _op(v)
        if op is None:
            raise NoMatch("the softmax input does not come from a dot_general")
        name = op.name
        if name == "stablehlo.dot_general":
            info.dot, info.ops = op, list(reversed(ops))
            return info
        ops.append(op)
        if name in SHAPE_OPS or name == "stablehlo.broadcast_in_dim" and _same_elements(op):
            v = op.operands[0]
        elif name in ("stablehlo.multiply", "stablehlo.divide") and _splat(op.operands[1]) is not None:
            c = float(_splat(op.operands[1]))
            tanh = _op(op.operands[0])
            if name == "stablehlo.multiply" and tanh is not None and tanh.name == "stablehlo.tanh":
                inner = _op(tanh.operands[0])  # c * tanh(x / c): a soft cap
                if inner is not None and inner.name in ("stablehlo.divide", "stablehlo.multiply") and \
                        _splat(inner.operands[1]) is not None:
                    ops += [tanh, inner]
                    info.cap = c
                    v = inner.operands[0]
                    continue
            info.scale *= c if name == "stablehlo.multiply" else 1.0 / c
            v = op.operands[0]
        elif name == "stablehlo.multiply" and _splat(op.operands[0]) is not None:
            info.scale *= float(_splat(op.operands[0]))
            v = op.operands[1]
        elif name == "stablehlo.add" and info.mask is None:
            a, b = op.operands
            keep, mask = (a, b) if _leads_to_dot(a) else (b, a)
            info.mask, info.mask_op = _unbroadcast(mask), op
            v = keep
        elif name == "stablehlo.select" and info.mask is None and _splat(op.operands[2]) is not None:
            info.mask, info.mask_op, info.mask_select = _unbroadcast(op.operands[0]), op, True
            info.fill = float(_splat(op.operands[2]))
            if info.fill == 0:
                raise NoMatch("select fills masked scores with 0, not a large negative value")
            v = op.operands[1]
        else:
            raise NoMatch(f"{name} at {vals.loc(op)} between the scores and the softmax")


def _leads_to_dot(v, depth: int = 12) -> bool:
    for _ in range(depth):
        op = _op(v)
        if op is None:
            return False
        if op.name == "stablehlo.dot_general":
            return True
        if not len(op.operands):
            return False
        v = op.operands[0]
    return False


def _unbroadcast(v):
    op = _op(v)
    return op.operands[0] if op is not None and op.name == "stablehlo.broadcast_in_dim" else v


def _through_shape(v, names=("stablehlo.reshape", "stablehlo.broadcast_in_dim", "stablehlo.convert")):
    ops = []
    while _is(v, *names):
        ops.append(_op(v))
        v = _op(v).operands[0]
    return v, ops


def _softmax(p):
    """Walk back from P to the softmax input S. Returns (S, the softmax axis, the ops from the softmax's
    divide to P in program order: only their layouts matter)."""
    ops = []
    v = p
    while True:
        op = _op(v)
        if op is None:
            raise NoMatch("P is not computed by a softmax")
        if op.name in SHAPE_OPS or op.name == "stablehlo.broadcast_in_dim" and _same_elements(op):
            ops.append(op)
            v = op.operands[0]
        elif op.name == "stablehlo.select" and _splat(op.operands[1]) == 0:  # torch: fully masked rows -> 0
            ops.append(op)
            v = op.operands[2]
        elif op.name == "stablehlo.divide":
            ops.append(op)
            break
        else:
            raise NoMatch(f"expected the softmax's divide, found {op.name} at {vals.loc(op)}")
    e_num, denom = op.operands
    total, _ = _through_shape(denom)
    sum_op = _op(total)
    if sum_op is None or sum_op.name != "stablehlo.reduce" or _reducer(sum_op) != "stablehlo.add":
        raise NoMatch("the softmax denominator is not a sum")
    e, _ = _through_shape(e_num, ("stablehlo.convert",))
    e2, _ = _through_shape(sum_op.operands[0], ("stablehlo.convert",))
    if e != e2 or not _is(e, "stablehlo.exponential"):
        raise NoMatch("the softmax does not divide exp(x) by its own sum")
    z = _op(e).operands[0]
    reduces = [sum_op]
    if _is(z, "stablehlo.subtract"):
        s, m = _op(z).operands
        m, _ = _through_shape(m)
        if _is(m, "stablehlo.maximum") and _splat(_op(m).operands[0]) is not None:  # JAX: max(-inf, max S)
            m = _op(m).operands[1]
        if not _is(m, "stablehlo.reduce") or _reducer(_op(m)) != "stablehlo.maximum" or \
                _through_shape(_op(m).operands[0], ("stablehlo.convert",))[0] != \
                _through_shape(s, ("stablehlo.convert",))[0]:
            raise NoMatch("exp(x - m): m is not the max of x")
        reduces.append(_op(m))
    else:
        s = z
    axes = {tuple(vals.attr_value(r.attributes["dimensions"])) for r in reduces}
    if len(axes) != 1 or len(next(iter(axes))) != 1:
        raise NoMatch("the softmax reductions are not over one common axis")
    s, _ = _through_shape(s, ("stablehlo.convert",))
    return s, next(iter(axes))[0], list(reversed(ops))


def _reducer(op):
    from .folding import reducer_kind

    return reducer_kind(op)


def _roles(head, seq, batch: dict, rank: int) -> list[str]:
    """The role (B, T, N or H; T stands for S on keys and values) of each axis of an input. `batch` maps
    atoms to "B"/"N"; size-1 axes, which carry no atom, take the roles left over in axis order, and a
    3-D input ([N, T, H], no batch) has no B at all."""
    dims = {}
    if head is not None:
        dims["H"] = head.dim
    if seq is not None:
        dims["T"] = seq.dim
    for atom, role in batch.items():
        dims[role] = atom.dim
    free = [d for d in range(rank) if d not in dims.values()]
    for role in ("B", "N", "T", "H")[4 - rank:] if rank < 4 and "B" not in dims else ("B", "N", "T", "H"):
        if role not in dims:
            if not free:
                raise NoMatch("could not tell the axes of an input apart")
            dims[role] = free.pop(0)
    if free or len(dims) != rank:
        raise NoMatch("could not tell the axes of an input apart")
    order = [None] * rank
    for role, d in dims.items():
        order[d] = role
    return order


def _to_btnh(shape, order: list[str]) -> Adapter:
    """Input of axis roles `order` <-> [B, T, N, H]: missing roles become size-1 axes in front."""
    missing = [r for r in ("B", "T", "N", "H") if r not in order]
    expanded = missing + list(order)
    perm = [expanded.index(r) for r in ("B", "T", "N", "H")]
    inverse = [perm.index(i) for i in range(4)]
    wide = [1] * len(missing) + list(shape)
    return Adapter(lambda v: _transpose(_reshape(v, wide), perm),
                   lambda v: _reshape(_transpose(v, inverse), shape))


def _batch_roles(atoms) -> dict:
    """B and N among a query's batch atoms: B is the outer one; a lone batch atom is the heads."""
    atoms = sorted(atoms, key=lambda a: a.dim)
    if len(atoms) > 2:
        raise NoMatch("more than two batch axes")
    return dict(zip(atoms, ("B", "N"))) if len(atoms) == 2 else {a: "N" for a in atoms}


def _dot_parts(dot, lhs_layout, rhs_layout):
    lb, rb, lc, rc = vals.dot_dims(dot)
    if len(lc) != 1:
        raise NoMatch("the dot contracts more than one axis")
    lfree = [d for d in range(len(lhs_layout)) if d not in lb and d not in lc]
    rfree = [d for d in range(len(rhs_layout)) if d not in rb and d not in rc]
    if len(lfree) != 1 or len(rfree) != 1:
        raise NoMatch("the dot does not have one free axis per side")
    lbatch = [a for d in lb for a in lhs_layout[d]]
    rbatch = [a for d in rb for a in rhs_layout[d]]
    return lbatch, rbatch, lhs_layout[lc[0]], rhs_layout[rc[0]], lhs_layout[lfree[0]], rhs_layout[rfree[0]]


def _single(group, what):
    if len(group) > 1:
        raise NoMatch(f"the {what} axis is a merge of several axes")
    return group[0] if group else None


@dataclass
class Attention:
    """Everything needed to build the composite, found without changing anything."""

    q: Operand
    k: Operand
    v: Operand
    scores: Scores
    roles: dict  # "q"/"k"/"v": the role of each axis of the input (B, T, N, H; T is S for k and v)
    out_shape: tuple  # the P.V result expanded to one axis per role, in its own order
    out_perm: list  # that expansion to [B, T, N, H]
    sizes: dict  # role -> size: B, T, N (query heads), S, H
    mask_roles: list  # the mask's non-unit axes' roles in order (subset of B, T, S)
    gqa: bool

    @property
    def scale(self) -> float:
        return self.q.scale * self.k.scale * self.scores.scale


def analyze(pv, allow_gqa: bool = True, min_seq_len: int = 1) -> Attention:
    """Attention ending at `pv` (the P.V dot_general), or NoMatch(why)."""
    p0, v0 = pv.operands
    s_value, axis, p_ops = _softmax(p0)
    sc = _scores(s_value)
    q0, k0 = sc.dot.operands
    reasons = []
    for q in _peel(q0, "q", False, True):
        for k in _peel(k0, "k", allow_gqa, True):
            try:
                return _complete(pv, v0, p_ops, s_value, axis, sc, q, k, allow_gqa, min_seq_len)
            except NoMatch as e:
                reasons.append(str(e))
    raise NoMatch(reasons[0] if reasons else "no 3-D or 4-D query/key tensors found behind the Q.K dot")


def _complete(pv, v0, p_ops, s_value, axis, sc, q, k, allow_gqa, min_seq_len) -> Attention:
    qb, kb, qc, kc, qf, kf = _dot_parts(sc.dot, q.layout, k.layout)
    pairs = lay.pair_batches(qb, kb)
    if pairs is None:
        raise NoMatch("the query and key batch axes do not pair up")
    hq, hk, t, s = _single(qc, "head"), _single(kc, "head"), _single(qf, "query"), _single(kf, "key")
    if hq is None or hk is None or hq.size != hk.size:
        raise NoMatch("the Q.K dot does not contract the head axis")
    lb = vals.dot_dims(sc.dot)[0]
    dot_layout = [q.layout[d] for d in lb] + [qf, kf]
    s_layout = lay.forward(dot_layout, sc.ops)
    if s_layout is None or s_layout[axis] != kf:
        raise NoMatch("the softmax is not over the key axis")
    p_layout = lay.forward(s_layout, p_ops)
    if p_layout is None:
        raise NoMatch("P is reshaped in a way that splits an axis")
    for v in _peel(v0, "v", allow_gqa, False):
        try:
            pb, vb, pc, vc, pf, vf = _dot_parts(pv, p_layout, v.layout)
        except NoMatch:
            continue
        vpairs = lay.pair_batches(pb, vb)
        sv, hv = _single(vc, "key"), _single(vf, "head")
        if pc != kf or vpairs is None or hv is None or (s is not None and (sv is None or sv.size != s.size)):
            continue
        return _assemble(q, k, v, sc, pairs, vpairs, hq, hk, hv, t, s, sv, pb + pf + vf, min_seq_len, dot_layout)
    raise NoMatch("no value tensor pairs with the probabilities in the P.V dot")


def _assemble(q, k, v, sc, pairs, vpairs, hq, hk, hv, t, s, sv, out_atoms, min_seq_len, dot_layout) -> Attention:
    qroles = _batch_roles([a for a, _ in pairs])
    kroles = {rights[0]: qroles[a] for a, rights in pairs}
    vroles = {rights[0]: qroles[a] for a, rights in vpairs}
    gqa = any(len(r) == 2 for _, r in pairs) or any(len(r) == 2 for _, r in vpairs)
    roles = {name: _roles(h, seq, batch, len(vals.shape(x.value)))
             for name, h, seq, batch, x in (("q", hq, t, qroles, q), ("k", hk, s, kroles, k), ("v", hv, sv, vroles, v))}

    def size(name, x, role):
        return vals.shape(x.value)[roles[name].index(role)] if role in roles[name] else 1

    sizes = {"B": size("q", q, "B"), "T": size("q", q, "T"), "N": size("q", q, "N"), "H": size("v", v, "H"),
             "S": size("k", k, "T")}
    if sizes["T"] < min_seq_len:
        raise NoMatch(f"query length {sizes['T']} is below min-seq-len={min_seq_len}")
    role_of = {**{a: r for a, r in qroles.items()}, **({t: "T"} if t else {}), hv: "H"}
    present = [role_of[a] for a in out_atoms]
    order = [r for r in ("B", "T", "N", "H") if r not in present] + present
    out_shape = tuple(sizes[r] for r in order)
    out_perm = [order.index(r) for r in ("B", "T", "N", "H")]
    mask_roles = _mask_roles(sc, dot_layout, qroles, t, s) if sc.mask is not None else []
    return Attention(q, k, v, sc, roles, out_shape, out_perm, sizes, mask_roles, gqa)


def _mask_roles(sc: Scores, dot_layout, qroles: dict, t, s) -> list:
    """Roles of the mask's axes (B, T, S) in order; a mask that differs between heads cannot be the
    composite's ([B, 1, T, S])."""
    mask_op = sc.mask_op
    scores_shape = vals.shape(mask_op.results[0])
    mshape = vals.shape(sc.mask)
    if mask_op.name == "stablehlo.select":
        applied = mask_op.operands[0]
    else:
        a, b = mask_op.operands
        applied = b if _unbroadcast(b) == sc.mask and not _leads_to_dot(b) else a
    bcast = _op(applied)
    if bcast is not None and bcast.name == "stablehlo.broadcast_in_dim" and applied != sc.mask:
        dims = vals.attr_value(bcast.attributes["broadcast_dimensions"])
    elif mshape == scores_shape:
        dims = list(range(len(mshape)))
    else:
        raise NoMatch("the mask reaches the scores in a way other than broadcast_in_dim")
    at_mask = lay.forward(dot_layout, sc.ops[:sc.ops.index(mask_op)])
    if at_mask is None:
        raise NoMatch("the scores are reshaped before the mask in a way that splits an axis")
    role_of = {**qroles, **({t: "T"} if t else {}), **({s: "S"} if s else {})}
    roles = []  # per mask axis: its role, or None when it is size 1 or the same for every head
    constant = vals.constant_attr(_op(sc.mask))
    for i, d in enumerate(dims):
        if mshape[i] == 1:
            roles.append(None)
            continue
        if mshape[i] != scores_shape[d]:
            raise NoMatch("the mask's shape does not broadcast to the scores")
        axis_roles = [role_of.get(atom) for atom in at_mask[d]]
        if axis_roles == ["N"] and constant is not None and _uniform_along(vals.constant_array(constant), i):
            roles.append(None)  # a folded broadcast over heads: every head sees the same mask
        elif len(axis_roles) == 1 and axis_roles[0] in ("B", "T", "S"):
            roles.append(axis_roles[0])
        else:
            raise NoMatch("the mask differs between heads (the composite's mask is [B, 1, T, S])")
    return roles


def _uniform_along(array: np.ndarray, axis: int) -> bool:
    return bool((array == np.take(array, [0], axis=axis)).all())


# ---------------------------------------------------------------------------------------------- rewrite

def _tensor(shape, element_type):
    return mlir.RankedTensorType.get(list(shape), element_type)


def _reshape(v, shape):
    if tuple(vals.shape(v)) == tuple(shape):
        return v
    return hlo.ReshapeOp(_tensor(shape, vals.element_type(v)), v).result


def _transpose(v, perm):
    return v if list(perm) == list(range(len(perm))) else hlo.TransposeOp(v, perm).result


def _slice(v, limits):
    shape = vals.shape(v)
    if tuple(limits) == tuple(shape):
        return v
    return hlo.SliceOp(v, [0] * len(shape), list(limits), [1] * len(shape)).result


def _mask_adapter(att: Attention) -> Adapter:
    """Mask (any shape that broadcasts to the scores) <-> the composite's [B|1, 1, T, S] float mask."""
    sc, sizes = att.scores, att.sizes
    mshape, roles = vals.shape(sc.mask), att.mask_roles
    present = [r for r in ("B", "T", "S") if r in roles]
    order = [r for r in roles if r is not None]  # the mask's own role order
    full = [sizes["B"] if "B" in roles else 1, 1, sizes["T"], sizes["S"]]
    canonical = {"B": 0, "T": 2, "S": 3}
    squeezed = [n if r is not None or n == 1 else 1 for n, r in zip(mshape, roles)]
    score_type = vals.element_type(sc.mask_op.results[0])
    fill = sc.fill

    def outside(m):
        m = _slice(m, squeezed)
        m = _reshape(m, [sizes[r] for r in order])
        m = _transpose(m, [order.index(r) for r in present])
        m = hlo.BroadcastInDimOp(_tensor(full, vals.element_type(m)), m, [canonical[r] for r in present]).result
        if sc.mask_select:  # boolean keep-mask -> additive mask: 0 where kept, the fill value elsewhere
            zero = hlo.ConstantOp(ir.splat(0, _tensor(full, score_type))).result
            filler = hlo.ConstantOp(ir.splat(fill, _tensor(full, score_type))).result
            m = hlo.SelectOp(m, zero, filler).result
        return m

    def inside(arg):
        if sc.mask_select:
            zero = hlo.ConstantOp(ir.splat(0, arg.type)).result
            arg = hlo.CompareOp(arg, zero, hlo.ComparisonDirectionAttr.get("EQ")).result
        arg = _slice(arg, [full[0], 1, full[2] if "T" in roles else 1, full[3] if "S" in roles else 1])
        arg = _reshape(arg, [sizes[r] for r in present])
        arg = _transpose(arg, [present.index(r) for r in order])
        arg = _reshape(arg, squeezed)
        if tuple(squeezed) != tuple(mshape):  # heads folded into a constant: broadcast back
            arg = hlo.BroadcastInDimOp(_tensor(mshape, vals.element_type(arg)), arg, list(range(len(mshape)))).result
        return arg

    return Adapter(outside, inside)


def _output_adapter(att: Attention, out) -> Adapter:
    inverse = [att.out_perm.index(i) for i in range(4)]
    shape = vals.shape(out)
    return Adapter(lambda r: _reshape(_transpose(r, inverse), shape),
                   lambda o: _transpose(_reshape(o, att.out_shape), att.out_perm))


def _where(allow_gqa: bool, min_seq_len: int):
    def where(m) -> bool | str:
        try:
            att = analyze(m.root, allow_gqa, min_seq_len)
        except NoMatch as why:
            return str(why)
        inputs = [att.q.value, att.k.value, att.v.value] + ([att.scores.mask] if att.scores.mask is not None else [])
        ops, why = region(inputs, [m.root.results[0]])
        if ops is None:
            return why
        m.memo.update(att=att, ops=ops)
        return True

    return where


def _fuse(m):
    att, ops = m.memo["att"], m.memo["ops"]
    out = m.root.results[0]
    adapters = {i: _to_btnh(vals.shape(x.value), att.roles[name])
                for i, (name, x) in enumerate((("q", att.q), ("k", att.k), ("v", att.v)))}
    if att.scores.mask is not None:
        mask, adapters[3] = att.scores.mask, _mask_adapter(att)
    else:  # no mask: the composite still takes one (zeros), the decomposition ignores it
        score_type = vals.element_type(att.scores.dot.results[0])
        mask = hlo.ConstantOp(ir.splat(0, _tensor([1, 1, att.sizes["T"], att.sizes["S"]], score_type))).result
    attrs = {"scale": float(np.float32(att.scale))}
    if att.scores.cap is not None:
        attrs["logit_cap"] = float(att.scores.cap)
    inputs = [att.q.value, att.k.value, att.v.value, mask]
    return outline_composite(NAME, inputs, [out], attrs, ops, in_adapters=adapters,
                             out_adapters={0: _output_adapter(att, out)})


def sdpa_patterns(allow_gqa: bool = True, min_seq_len: int = 1) -> PatternSet:
    return PatternSet([Pattern("sdpa", Op(hlo.DotGeneralOp), _fuse, where=_where(allow_gqa, min_seq_len))],
                      name="fuse-sdpa")
