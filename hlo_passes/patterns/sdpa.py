"""Scaled dot-product attention, found in plain exported graphs, raised into
`odml.scaled_dot_product_attention` composites: operands q, k, v in [B, T, N, H], mask [B|1, N|1, T, S] (N
only for a per-head bias), attributes {scale} (+ {logit_cap} when the scores are soft-capped). What the
composite means is written in hlo_passes/composites.py; the fused form must compute exactly that.

The match starts at a dot_general taken as P.V (P on either side) and walks back (patterns/sdpa_walk.py):
  P = softmax(S) over the key axis: exp(S - max S) / sum, or exp(S) / sum; converts, reshapes and
      transposes around it; JAX's max(-inf, max S); torch's guard that zeroes fully masked rows
  S = Q.K^T (either side) scaled (q, k, the scores; by multiply or divide), soft-capped (c * tanh(S / c)),
      masked once (+ float mask, or select(mask, S, -inf) either way round), through the exporter's reshapes
  Q, K, V = 3-D/4-D tensors found going back through reshape/transpose/convert (and, for K and V, the
      broadcast that repeats heads for GQA/MQA, which the composite absorbs): deepest first, the next one
      when a reading fails (or its ops are shared and cannot be outlined)
  mask = followed back through broadcasts, reshapes and transposes to a [B|1, N|1, T, S] reading; the ops
      from there to where it is applied are replayed in the decomposition, so a mask shared by every
      layer stays outside them all
Axis roles come from following each axis through those ops (patterns/layout.py), so head, sequence and
batch are known whatever the layout, however the batch axes were merged, and when the query heads are
split into [kv heads, group] (JAX's grouped-query form). Query head n must read K/V head n // group, the
composite's convention: heads repeated in an interleaved order are fused with K/V as repeated.

The decomposition is the matched subgraph itself; operands are transposed into [B, T, N, H] outside and
back inside (simplify then cancels the pairs), so inlining the composite gives the original computation --
except torch's guard of fully masked rows, which goes outside the composite (see _zero_masked_rows).
A refusal names the real blocker: see BLOCKER.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir import mlir
from ..ir import stablehlo as hlo
from . import layout as lay
from . import values as vals
from .driver import Pattern, PatternSet
from .outline import Adapter, hoisted, outline_composite, region
from .sdpa_walk import NoMatch, Operand, Scores, op_of, peel, scores, softmax
from .template import Op

__all__ = ["NAME", "Attention", "NoMatch", "analyze", "sdpa_patterns"]

NAME = "odml.scaled_dot_product_attention"
ROLES = ("B", "T", "N", "H")
ROLES_MASK = ("B", "N", "T", "S")  # the composite's mask: [B|1, N|1, T, S]


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
        if dims.get(role, atom.dim) != atom.dim:
            raise NoMatch(f"the {role} axis of an input is made of several of its axes")
        dims[role] = atom.dim
    free = [d for d in range(rank) if d not in dims.values()]
    for role in ROLES[4 - rank:] if rank < 4 and "B" not in dims else ROLES:
        if role not in dims:
            if not free:
                raise NoMatch("could not tell the axes of an input apart")
            dims[role] = free.pop(0)
    if free or len(dims) != rank or len(set(dims.values())) != rank:
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
    return Adapter(lambda v: _transpose(_reshape(v, wide, through=True), perm),
                   lambda v: _reshape(_transpose(v, inverse), shape))


def _batch_roles(atoms, rank: int, heads_in_batch: bool = True) -> dict:
    """B and N among a query's batch atoms (parts of one axis share its role): B is the outer axis; a lone
    batch axis is the heads, unless the heads are elsewhere or it is axis 0 of a 4-D query (one head)."""
    dims = sorted({a.dim for a in atoms})
    if len(dims) > 1 + heads_in_batch:
        raise NoMatch("more than two batch axes")
    lone = "N" if heads_in_batch and not (rank == 4 and dims == [0]) else "B"
    names = dict(zip(dims, ("B", "N") if len(dims) == 2 else (lone,)))
    return {a: names[a.dim] for a in atoms}


@dataclass
class _Parts:
    """A dot's two operands x and y (whichever side each is on): atoms of the batch axes (flat), of the
    contracting axis, of the free axes (flat), and the layout of the result (x's atoms on batch axes)."""

    xb: list
    yb: list
    xc: list
    yc: list
    xf: list
    yf: list
    out: list


def _dot_parts(dot, x_layout, y_layout, x_lhs: bool) -> _Parts:
    lb, rb, lc, rc = vals.dot_dims(dot)
    xb, yb, xc, yc = (lb, rb, lc, rc) if x_lhs else (rb, lb, rc, lc)
    if len(xc) != 1:
        raise NoMatch(f"the dot at {vals.loc(dot)} contracts more than one axis")
    xfree = [x_layout[d] for d in range(len(x_layout)) if d not in xb and d not in xc]
    yfree = [y_layout[d] for d in range(len(y_layout)) if d not in yb and d not in yc]

    def flat(groups):
        return [a for g in groups for a in g]

    return _Parts(flat(x_layout[d] for d in xb), flat(y_layout[d] for d in yb), x_layout[xc[0]], y_layout[yc[0]],
                  flat(xfree), flat(yfree), [x_layout[d] for d in xb] + (xfree + yfree if x_lhs else yfree + xfree))


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
    out_atoms: list  # the P.V result as one axis per atom, in its own order
    out_perm: list  # those axes to [B, T, N (major part first), H]
    sizes: dict  # role -> size: B, T, N (query heads), S, H, and Nkv (key/value heads)
    mask: object  # the mask as the composite's operand is built from it (None: no mask)
    mask_roles: list  # per axis of `mask`: B, T or S, or None (size 1, or the same for every head)
    mask_chain: list  # the broadcasts/reshapes/transposes from `mask` to where it is applied (scores.mask)
    guard: object = None  # torch's select(all(S == -inf), 0, P), kept outside the composite (see _fuse)

    @property
    def scale(self) -> float:
        return self.q.scale * self.k.scale * self.scores.scale

    @property
    def gqa(self) -> bool:
        return self.sizes["Nkv"] != self.sizes["N"]


def analyze(pv, allow_gqa: bool = True, min_seq_len: int = 1, accept=None, per_head: bool = True) -> Attention:
    """Attention ending at `pv` (the P.V dot_general), or NoMatch(why): the reason of the attempt that got
    furthest into the template. Inputs are tried deepest first (q, k, v before the ops that reshape or
    repeat them); `accept(attention)` may refuse one with a reason (the rewrite's own check), and the next
    is tried."""
    best: list = []

    def note(e: NoMatch, depth: int) -> None:
        if not best or depth > best[0]:
            best[:] = [depth, e]  # (said only if it is the reason given)

    for p_side in (0, 1):
        try:
            s_value, axis, p_ops = softmax(pv.operands[p_side])
        except NoMatch as e:
            note(e, e.depth)
            continue
        try:
            sc = scores(s_value)
        except NoMatch as e:
            note(e, 2)
            continue
        for q_side in (0, 1):
            for q in peel(sc.dot.operands[q_side], "q", False, True):
                for k in peel(sc.dot.operands[1 - q_side], "k", allow_gqa, True):
                    try:
                        return _complete(pv, p_side, p_ops, axis, sc, q, k, q_side == 0, allow_gqa, min_seq_len,
                                         accept, per_head)
                    except NoMatch as e:
                        note(e, 3 + (e.depth >= BLOCKER - 1) * e.depth / 100)  # a blocker beats earlier attempts
        note(NoMatch("no 3-D or 4-D query/key tensors found behind the Q.K dot"), 2.5)
    raise NoMatch(best[1])


def _complete(pv, p_side, p_ops, axis, sc, q, k, q_lhs, allow_gqa, min_seq_len, accept, per_head) -> Attention:
    qk = _dot_parts(sc.dot, q.layout, k.layout, q_lhs)
    heads = {(a.tag, a.dim) for a in qk.xb}
    groups = [a for a in qk.xf if (a.tag, a.dim) in heads]  # query head parts that share one key head
    hq, hk, s = _single(qk.xc, "head"), _single(qk.yc, "head"), _single(qk.yf, "key")
    if hq is None or hk is None or hq.size != hk.size:
        raise NoMatch("the Q.K dot does not contract the head axis")
    pairs = lay.pair_batches(qk.xb, qk.yb)
    if pairs is None:
        raise NoMatch("the query and key batch axes do not pair up")
    s_layout = lay.forward(qk.out, sc.ops)
    if s_layout is None or s is None or s_layout[axis] != [s]:
        raise NoMatch(f"the softmax is not over the key axis of the Q.K dot at {vals.loc(sc.dot)}")
    p_layout = lay.forward(s_layout, p_ops)
    if p_layout is None:
        raise NoMatch("P is reshaped in a way that splits an axis")
    t, free_heads = _query_axis([a for a in qk.xf if (a.tag, a.dim) not in heads], p_layout, s)
    groups += free_heads
    if groups and not allow_gqa:
        raise NoMatch("grouped-query attention (query heads split into groups) with allow-gqa=false")
    # Each value candidate fails for its own reason; a blocker (BLOCKER: q, k and v read right, refused for
    # what the composite cannot say) names the real cause over every reading that went wrong earlier (a
    # per-head bias fails at the mask only on the right reading; the others complain about axes).
    best = [0, "no value tensor pairs with the probabilities in the P.V dot"]

    def keep(why: str, rank: int) -> None:  # ties (all the non-blockers): the last attempt's reason
        if rank >= best[0]:
            best[:] = [rank, why]

    for v in peel(pv.operands[1 - p_side], "v", allow_gqa, False):
        try:
            pvp = _dot_parts(pv, p_layout, v.layout, p_side == 0)
            sv, hv = _single(pvp.yc, "value sequence"), _single(pvp.yf, "value head")
        except NoMatch as e:
            keep(str(e), 0)
            continue
        vpairs = lay.pair_batches(pvp.xb, pvp.yb)
        if pvp.xc != [s]:
            keep("the P.V dot does not contract the key axis of the probabilities", 0)
        elif set(pvp.xf) != set(groups + ([t] if t else [])) or len(pvp.xf) != len(groups) + bool(t):
            keep("the P.V dot keeps axes of the probabilities other than the query axis", 0)
        elif vpairs is None or hv is None or sv is None or sv.size != s.size:
            keep("the value batch axes do not pair with the probabilities'", 0)
        else:
            try:
                readings = _assemble(q, k, v, sc, pairs, vpairs, groups, hq, hk, hv, t, s, sv, pvp.out, qk.out,
                                     min_seq_len, per_head)
            except NoMatch as e:
                keep(str(e), e.depth if e.depth >= BLOCKER - 1 else 0)  # (depth BLOCKER: the reading was whole)
                continue
            for att in readings:
                att.guard = next((op for op in p_ops if op.name == "stablehlo.select"), None)
                refused = accept(att) if accept is not None else None
                if not refused:
                    return att
                keep(refused, BLOCKER)
    raise NoMatch(best[1], depth=max(best[0], 1))


# A reading of q, k, v that is complete and consistent, refused only for what the composite cannot say (a mask
# that differs between heads, a query shorter than min-seq-len, ops shared with the rest of the graph): the
# deepest failure there is, and the reason --debug-patterns gives.
BLOCKER = 10


def _query_axis(free: list, p_layout, key):
    """(the query's sequence atom, query head atoms left free) among the query's free atoms outside its
    batch. Exporters lay the probabilities out [..., T, S], so the sequence is the atom right before the keys;
    the others are heads that all read the one K/V head (MQA written as a broadcasting matmul, or JAX's
    grouping with one K/V head). A unit axis right before the keys means a single query (decode). When heads
    and queries can be told apart only this way, either reading computes the same (query rows are
    independent; a mask that tells them apart is refused as varying between heads)."""
    if not free:
        return None, []
    at = next((i for i, g in enumerate(p_layout) if key in g), 0)
    before = p_layout[at - 1] if at else None
    picked = [a for a in free if [a] == before]
    if not picked and len(free) == 1 and before != []:
        picked = free
    rest = [a for a in free if a not in picked]
    if len({(a.tag, a.dim) for a in rest}) > 1:
        raise NoMatch("the query has free axes other than its sequence and heads")
    return (picked[0] if picked else None), rest


def _kv_heads(pairs, qroles: dict, groups: list, what: str) -> int:
    """How many K/V heads the query heads read, checking the composite's convention: query head n reads
    K/V head n // group, i.e. along the query head axis the parts paired with K/V heads are all major to
    the parts repeated over (broadcast atoms, or query head parts left out of the batch)."""
    parts = [(a.stride, "group", 1) for a in groups]
    for a, rights in pairs:
        if qroles[a] != "N":
            if rights[0].tag == "bcast" or len(rights) > 1:
                raise NoMatch(f"the {what} are broadcast along the batch")
        elif rights[0].tag == "bcast":
            parts.append((a.stride, "group", 1))
        else:
            parts.append((a.stride, "kv+group" if len(rights) > 1 else "kv", rights[0].size))
    n_kv, grouped = 1, False
    for _, kind, n in sorted(parts, key=lambda p: -p[0]):
        if kind.startswith("kv"):
            if grouped:
                raise NoMatch(f"the {what} heads are repeated in an interleaved order (query head n does not "
                              "read head n // group)")
            n_kv *= n
        grouped = grouped or "group" in kind
    return n_kv


def _assemble(q, k, v, sc, pairs, vpairs, groups, hq, hk, hv, t, s, sv, pv_out, qk_out, min_seq_len,
              per_head) -> list:
    """The attention read with these inputs: one reading per way of taking the mask (deepest first)."""
    if any(a is not None and a.tag == "bcast" for a in (hq, hk, hv, t, s, sv)):
        raise NoMatch("an input is broadcast along its sequence or head axis")
    free_heads = [a for a in groups if a.dim not in {b.dim for b, _ in pairs}]
    qroles = _batch_roles([a for a, _ in pairs], len(vals.shape(q.value)), heads_in_batch=not free_heads)
    if any(qroles.get(a, "N") != "N" for a in groups):
        raise NoMatch("a query axis other than the heads is split between the batch and the free axes")
    qroles_all = {**qroles, **{a: "N" for a in free_heads}}
    kroles = {r[0]: qroles[a] for a, r in pairs if r[0].tag != "bcast"}
    vroles = {r[0]: qroles[a] for a, r in vpairs if r[0].tag != "bcast"}
    roles = {name: _roles(h, seq, batch, len(vals.shape(x.value)))
             for name, h, seq, batch, x in (("q", hq, t, qroles_all, q), ("k", hk, s, kroles, k),
                                            ("v", hv, sv, vroles, v))}

    def size(name, x, role):
        return vals.shape(x.value)[roles[name].index(role)] if role in roles[name] else 1

    n_kv = _kv_heads(pairs, qroles, groups, "keys")
    if _kv_heads(vpairs, qroles, groups, "values") != n_kv or size("k", k, "N") != n_kv or size("v", v, "N") != n_kv:
        raise NoMatch("the keys and the values do not have the same heads")
    sizes = {"B": size("q", q, "B"), "T": size("q", q, "T"), "N": size("q", q, "N"), "H": size("v", v, "H"),
             "S": size("k", k, "T"), "Nkv": n_kv}
    if sizes["T"] < min_seq_len:
        raise NoMatch(f"query length {sizes['T']} is below min-seq-len={min_seq_len}", depth=BLOCKER)

    def role(atom):
        return roles["q"][atom.dim] if atom.tag == "q" else "H" if atom == hv else "S" if atom == s else None

    atoms = [a for g in pv_out for a in g]
    if any(role(a) not in ROLES for a in atoms):
        raise NoMatch("the attention output has an axis that is not one of the query's")
    perm = sorted(range(len(atoms)), key=lambda i: (ROLES.index(role(atoms[i])), -atoms[i].stride))
    for r in ROLES:
        if int(np.prod([a.size for a in atoms if role(a) == r])) != sizes[r]:
            raise NoMatch(f"the attention output does not keep the whole {r} axis")
    if sc.mask is None:
        return [Attention(q, k, v, sc, roles, atoms, perm, sizes, None, [], [])]
    return [Attention(q, k, v, sc, roles, atoms, perm, sizes, m, r, c)
            for m, r, c in _masks(sc, qk_out, role, sizes["N"], per_head)]


def _masks(sc: Scores, dot_layout, role, heads: int, per_head: bool) -> list:
    """Readings of the mask, deepest first: (a value on the way back from where it is applied, through
    broadcasts, reshapes and transposes; the role of each of its axes: B, N, T, S, or None for size 1 or the
    same for every head or batch; the ops from it to where it is applied). A mask that differs between heads
    (a per-head bias) is read along the whole query head axis when `per_head`: the composite's mask is then
    [B|1, N, T, S], which XNNPACK's SDPA computes by the definition (checked in LiteRT 2.3.0: a composite
    whose decomposition differs from its attributes gives the attributes' result, per-head mask or not)."""
    at_mask = lay.forward(dot_layout, sc.ops[:sc.ops.index(sc.mask_op)])
    if at_mask is None:
        raise NoMatch("the scores are reshaped before the mask in a way that splits an axis")
    value, chain = sc.mask, []
    while (op := op_of(value)) is not None and op.name in ("stablehlo.broadcast_in_dim", "stablehlo.reshape",
                                                           "stablehlo.transpose"):
        chain.append(op)
        value = op.operands[0]
    found, why, depth = [], f"the mask at {vals.loc(sc.mask_op)} does not line up with the scores' axes", BLOCKER - 1
    for i in range(len(chain), -1, -1):
        m = sc.mask if i == 0 else chain[i - 1].operands[0]
        shape = vals.shape(m)
        at = lay.forward(lay.initial("mask", shape), chain[:i][::-1])
        if at is None or len(at) != len(at_mask):
            continue
        roles, ok = [None] * len(shape), True
        for scores_group, group in zip(at_mask, at):
            mine = [a for a in group if a.tag == "mask"]
            if not mine:
                continue  # broadcast along this axis of the scores
            a = mine[0]
            if len(group) != 1 or len(scores_group) != 1 or a.size != shape[a.dim]:
                ok = False
                break
            roles[a.dim] = role(scores_group[0])
        constant = vals.constant_attr(op_of(m))
        for d, r in enumerate(roles):
            if r in ("N", "B") and constant is not None and _uniform_along(vals.constant_array(constant), d):
                roles[d] = None  # a folded broadcast: every head (batch) sees the same mask
            elif r == "N" and per_head and shape[d] == heads and roles.count("N") == 1:
                continue  # a per-head bias along the query heads, in their order
            elif r not in ("B", "T", "S", None):
                what = "with per-head-mask=false " if not per_head else "along more than the query head axis " \
                    if r == "N" else ""
                why = (f"the mask at {vals.loc(sc.mask_op)} differs between heads, a per-head bias (T5's relative "
                       f"positions, ALiBi): {what}the composite's mask is [B|1, 1, T, S]")
                ok, depth = False, BLOCKER
        if ok:
            found.append((m, roles, chain[:i][::-1]))
    if not found:
        raise NoMatch(why, depth=depth)
    return found


def _uniform_along(array: np.ndarray, axis: int) -> bool:
    return bool((array == np.take(array, [0], axis=axis)).all())


# ---------------------------------------------------------------------------------------------- rewrite

def _tensor(shape, element_type):
    return mlir.RankedTensorType.get(list(shape), element_type)


def _reshape(v, shape, *, through: bool = False):
    """`v` reshaped to `shape`. `through`: a reshape of a reshape is built as one reshape (outside the
    decomposition only, where the driver erases the inner one if nothing else uses it): what an exporter
    writes as [T, N*H] -> [T, N, H] then reaches the composite as one reshape instead of two for
    `simplify` to merge."""
    if through and (inner := vals.defining_op(v)) is not None and inner.name == "stablehlo.reshape":
        v = inner.operands[0]
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
    """Mask (any shape that broadcasts to the scores) <-> the composite's [B|1, N|1, T, S] float mask."""
    sc, sizes = att.scores, att.sizes
    mshape, roles = vals.shape(att.mask), att.mask_roles
    present = [r for r in ROLES_MASK if r in roles]
    order = [r for r in roles if r is not None]  # the mask's own role order
    full = [sizes["B"] if "B" in roles else 1, sizes["N"] if "N" in roles else 1, sizes["T"], sizes["S"]]
    canonical = {r: i for i, r in enumerate(ROLES_MASK)}
    squeezed = [n if r is not None or n == 1 else 1 for n, r in zip(mshape, roles)]
    score_type = vals.element_type(sc.mask_op.results[0])
    fill = sc.fill

    perm = [order.index(r) for r in present]
    moved = perm != sorted(perm)
    spread = any(r not in roles and sizes[r] > 1 for r in ("T", "S"))  # one mask row for all queries (keys)

    def outside(_):  # built from the reading, not from the applied mask that the region starts at
        key = ("sdpa-mask", tuple(squeezed), tuple(order), tuple(present), tuple(full), tuple(sizes.items()),
               score_type, fill, sc.mask_select, sc.mask_keep)
        return hoisted(key, att.mask, build)

    def build():
        m = _slice(att.mask, squeezed)
        if moved:
            m = _transpose(_reshape(m, [sizes[r] for r in order], through=True), perm)
        if spread:
            m = _reshape(m, [sizes[r] for r in present], through=True)
            m = hlo.BroadcastInDimOp(_tensor(full, vals.element_type(m)), m, [canonical[r] for r in present]).result
        else:
            m = _reshape(m, full, through=True)
        if sc.mask_select:  # boolean mask -> additive mask: 0 where kept, the fill value elsewhere
            zero = hlo.ConstantOp(ir.splat(0, _tensor(full, score_type))).result
            filler = hlo.ConstantOp(ir.splat(fill, _tensor(full, score_type))).result
            m = hlo.SelectOp(m, zero, filler).result if sc.mask_keep else hlo.SelectOp(m, filler, zero).result
        return m

    def inside(arg):
        if sc.mask_select:
            zero = hlo.ConstantOp(ir.splat(0, arg.type)).result
            direction = hlo.ComparisonDirectionAttr.get("EQ" if sc.mask_keep else "NE")
            arg = hlo.CompareOp(arg, zero, direction).result
        if spread:
            arg = _slice(arg, [full[0], full[1], full[2] if "T" in roles else 1, full[3] if "S" in roles else 1])
        if moved:
            arg = _transpose(_reshape(arg, [sizes[r] for r in present]), [present.index(r) for r in order])
        arg = _reshape(arg, squeezed)
        if tuple(squeezed) != tuple(mshape):  # heads (batch) folded into a constant: broadcast back
            arg = hlo.BroadcastInDimOp(_tensor(mshape, vals.element_type(arg)), arg, list(range(len(mshape)))).result
        for op in att.mask_chain:  # and on to where it is applied, as the exporter did
            clone = op.clone()
            clone.operands[0] = arg
            arg = clone.results[0]
        return arg

    return Adapter(outside, inside)


def _output_adapter(att: Attention, out) -> Adapter:
    """The P.V result (one axis per atom, in its own order) <-> the composite's [B, T, N, H] result."""
    shape, expanded = vals.shape(out), [a.size for a in att.out_atoms]
    canonical = [expanded[i] for i in att.out_perm]
    inverse = [att.out_perm.index(i) for i in range(len(expanded))]
    btnh = [att.sizes[r] for r in ROLES]
    return Adapter(lambda r: _reshape(_transpose(_reshape(r, canonical), inverse), shape),
                   lambda o: _reshape(_transpose(_reshape(o, expanded), att.out_perm), btnh))


def _where(allow_gqa: bool, min_seq_len: int, per_head: bool):
    def where(m) -> bool | str:
        found = {}

        def outlinable(att):  # every op between the inputs and P.V must be the attention's alone
            inputs = [att.q.value, att.k.value, att.v.value] + ([att.scores.mask] if att.mask is not None else [])
            found["ops"], why = region(inputs, [m.root.results[0]])
            return why if found["ops"] is None else None

        att = analyze(m.root, allow_gqa, min_seq_len, outlinable, per_head)  # (a NoMatch is a Decline)
        m.memo.update(att=att, ops=found["ops"])
        return True

    return where


def _fuse(m):
    att, ops = m.memo["att"], m.memo["ops"]
    out = m.root.results[0]
    adapters = {i: _to_btnh(vals.shape(x.value), att.roles[name])
                for i, (name, x) in enumerate((("q", att.q), ("k", att.k), ("v", att.v)))}
    if att.mask is not None:  # the region starts where the mask is applied: a broadcast shared by layers stays
        mask, adapters[3] = att.scores.mask, _mask_adapter(att)
    else:  # no mask: the composite still takes one (zeros), the decomposition ignores it
        score_type = vals.element_type(att.scores.dot.results[0])
        mask = hlo.ConstantOp(ir.splat(0, _tensor([1, 1, att.sizes["T"], att.sizes["S"]], score_type))).result
    attrs = {"scale": float(np.float32(att.scale))}
    if att.scores.cap is not None:
        attrs["logit_cap"] = float(att.scores.cap)
    inputs = [att.q.value, att.k.value, att.v.value, mask]
    out_adapter = _output_adapter(att, out)
    if att.guard is not None:  # (which select of the region it is: the original op is never touched)
        guard_index = [op for op in ops if op.name == "stablehlo.select"].index(att.guard)
        if att.mask is not None:
            out_adapter = Adapter(lambda r, base=out_adapter.outside: base(_zero_masked_rows(r)), out_adapter.inside)
    results = outline_composite(NAME, inputs, [out], attrs, ops, in_adapters=adapters,
                                out_adapters={0: out_adapter})
    if att.guard is not None:
        _drop_guard(results[0], guard_index)
    return results


# Fully masked rows. torch's SDPA export fills masked scores with -inf and zeroes the probabilities of a row
# whose keys are all masked: select(all(S + mask == -inf), 0, softmax(S + mask)). The composite's definition
# is a plain softmax, NaN on such a row (0/0), and that is what a runtime implementing it computes; left inside
# the decomposition, the guard would make XLA and the runtime disagree, and a NaN row spreads to every token in
# the next layer. So the guard goes outside: the decomposition is the plain softmax, and the composite's result
# is zeroed where the composite's mask operand is -inf for every key. For finite scores, S + mask == -inf
# exactly where mask == -inf, and a zero probability row times V is a zero output row: exact.


def _zero_masked_rows(r):
    """select(all keys of the mask row are -inf, 0, r) on the composite's [B, T, N, H] result `r`."""
    mask = r.owner.operands[3]
    mtype = mlir.RankedTensorType(mask.type)
    bm, nm, t, _ = mtype.shape
    scalar = _tensor([], mtype.element_type)
    row_type = _tensor([bm, nm, t], mtype.element_type)
    red = hlo.ReduceOp([row_type], [mask], [hlo.ConstantOp(ir.splat(-np.inf, scalar)).result], [3])
    body = red.regions[0].blocks.append(scalar, scalar)
    with mlir.InsertionPoint(body):
        hlo.ReturnOp([hlo.MaxOp(body.arguments[0], body.arguments[1]).result])
    neg_inf = hlo.ConstantOp(ir.splat(-np.inf, row_type)).result
    empty = hlo.CompareOp(red.results[0], neg_inf, hlo.ComparisonDirectionAttr.get("EQ")).result
    out_type = mlir.RankedTensorType(r.type)
    cond = hlo.BroadcastInDimOp(_tensor(out_type.shape, mlir.IntegerType.get_signless(1)), empty, [0, 2, 1]).result
    zeros = hlo.ConstantOp(ir.splat(0, out_type)).result
    return hlo.SelectOp(cond, zeros, r).result


def _drop_guard(result, index: int) -> None:
    """In the new decomposition, bypass the cloned guard: the `index`-th select there, as in the region (the
    adapters add no selects). Its ops, now dead, are erased by `prune_decompositions` once the walk is over:
    erasing during the driver's walk crashed it. (Marking the original guard with an attribute, to find its
    clone, changed the op's hash and so the driver's record of what it erased: a crash too.)"""
    composite = vals.defining_op(result)
    while composite.name != "stablehlo.composite":  # (the output adapter's ops, then the composite)
        composite = vals.defining_op(composite.operands[-1])
    fn = _function(composite, mlir.FlatSymbolRefAttr(composite.attributes["decomposition"]).value)
    selects = [op.operation for op in fn.regions[0].blocks[0].operations if op.operation.name == "stablehlo.select"]
    guard = selects[index]
    guard.results[0].replace_all_uses_with(guard.operands[2])


def _function(op, name: str):
    module = op
    while module.name != "builtin.module":
        module = module.parent
    return next(f for f in ir.module_ops(module) if f.operation.name == "func.func"
                and mlir.StringAttr(f.attributes["sym_name"]).value == name)


def prune_decompositions(module) -> int:
    """Erase the unused ops of this pass's decompositions (a bypassed guard); returns how many."""
    erased = 0
    for fn in ir.module_ops(module):
        if fn.operation.name != "func.func" or not mlir.StringAttr(fn.attributes["sym_name"]).value.startswith(NAME):
            continue
        for op in reversed(list(fn.regions[0].blocks[0].operations)):
            op = op.operation
            if op.name != "func.return" and not any(vals.has_uses(r) for r in op.results):
                op.erase()
                erased += 1
    return erased


def sdpa_patterns(allow_gqa: bool = True, min_seq_len: int = 1, per_head_mask: bool = True) -> PatternSet:
    where = _where(allow_gqa, min_seq_len, per_head_mask)
    return PatternSet([Pattern("sdpa", Op(hlo.DotGeneralOp), _fuse, where=where)],
                      name="fuse-sdpa")
