"""Transposes that meet and vanish: the rules behind `sink-transposes`.

Exports move tensors between layouts and back: torch's Llama turns q and k from [B,T,N,H] to [B,N,T,H]
for the rotary embedding, and once `fuse-sdpa` hands them to a composite that wants [B,T,N,H] they go
straight back; after the composite, torch's reshape->transpose->reshape->transpose chain restores a layout
the data was already in. Two rules remove that traffic:

* an identity chain: reshapes and transposes whose composition keeps every element where it was (the
  dims' atoms, followed with `layout.through`, come out in their original order) become one reshape;
* a transpose region: starting at a transpose with permutation p, the connected ops that do not care about
  layout (elementwise ops, slices, concatenates) are rebuilt on the un-transposed data. Their other operands
  come along for free when they are transposes by p too, constants (transposed here, so nothing is left to
  fold) or broadcasts (whose dims are renumbered); where the region's values leave, a transpose by q becomes
  a transpose by p.q (gone when that is the identity), a broadcast absorbs p, and any other user gets a
  transpose by p back. A region is rewritten only when it removes more transposes than it adds, so every
  rewrite lowers the count and the pass ends.

Scaling: one worklist of reshapes and transposes in program order; a region is grown once from its first
transpose (a region that does not pay marks all its entry transposes as tried), and a rewrite pushes only
the transposes it creates. Nothing rescans the module.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .. import ir
from ..ir import mlir
from ..ir import stablehlo as hlo
from . import layout
from . import values as vals

TRANSPOSE, RESHAPE = "stablehlo.transpose", "stablehlo.reshape"
CHAIN_CAP = 8  # longest reshape/transpose chain looked at (exports make chains of 2 to 5)
MAX_CONSTANT = 1 << 20  # constants up to this many elements are transposed in place

# Ops that compute each element from the same-index elements of their operands (rank-0 operands of select
# and clamp broadcast): any permutation of the dims commutes with them.
ELEMENTWISE = frozenset("stablehlo." + n for n in [
    "abs", "add", "and", "atan2", "cbrt", "ceil", "clamp", "compare", "convert", "cosine", "count_leading_zeros",
    "divide", "exponential", "exponential_minus_one", "floor", "imag", "is_finite", "log", "log_plus_one",
    "logistic", "maximum", "minimum", "multiply", "negate", "not", "or", "popcnt", "power", "real",
    "reduce_precision", "remainder", "round_nearest_afz", "round_nearest_even", "rsqrt", "select", "shift_left",
    "shift_right_arithmetic", "shift_right_logical", "sign", "sine", "sqrt", "subtract", "tan", "tanh", "xor"])
MOVABLE = ELEMENTWISE | {"stablehlo.slice", "stablehlo.concatenate"}


def perm_of(op) -> list[int]:
    return list(vals.attr_value(op.attributes["permutation"]))


def inverse(p: list[int]) -> list[int]:
    q = [0] * len(p)
    for i, d in enumerate(p):
        q[d] = i
    return q


def compose(inner: list[int], outer: list[int]) -> list[int]:
    """transpose(transpose(x, inner), outer) == transpose(x, compose(inner, outer))."""
    return [inner[d] for d in outer]


def _identity(p) -> bool:
    return list(p) == list(range(len(p)))


def _ranked_type(shape, like) -> mlir.RankedTensorType:
    return mlir.RankedTensorType.get(list(shape), mlir.ShapedType(like).element_type)


# ----------------------------------------------------------------------------------------- identity chains

def _element_order(lay) -> list:
    """The atoms of a layout in memory order (row-major), neighbouring parts of one axis joined."""
    return layout._joined([a for group in lay for a in group])


def keeps_element_order(shape, ops) -> bool:
    """True when the reshapes/transposes `ops` (first first), applied to a tensor of `shape`, leave every
    element at its row-major position: the chain is a reshape."""
    start = layout.initial("x", shape)
    end = layout.forward(start, ops)
    return end is not None and _element_order(end) == _element_order(start)


def identity_chain(op) -> tuple[list, object] | None:
    """The longest chain of reshapes/transposes ending at `op` (at most CHAIN_CAP, one transpose at least)
    that only reshapes: (chain, its input), or None."""
    chain = [op]
    while len(chain) < CHAIN_CAP:
        d = vals.defining_op(chain[0].operands[0])
        if d is None or d.name not in (TRANSPOSE, RESHAPE) or d.parent != op.parent:
            break
        chain.insert(0, d)
    for i in range(len(chain) - 1):
        span = chain[i:]
        if any(o.name == TRANSPOSE for o in span) and \
                keeps_element_order(vals.shape(span[0].operands[0]), span):
            return span, span[0].operands[0]
    return None


# --------------------------------------------------------------------------------------- transpose regions

@dataclass
class Region:
    """What growing from one transpose found. Keys are op hashes (every op involved is alive meanwhile)."""

    perm: list
    members: dict = field(default_factory=dict)   # key -> op: entry transposes and movable ops
    entries: set = field(default_factory=set)     # keys of the entry transposes (perm p)
    exits: list = field(default_factory=list)     # (user op, operand number, member key)
    exit_keys: set = field(default_factory=set)
    free: dict = field(default_factory=dict)      # (member key, operand number) -> how it comes along
    materialized: set = field(default_factory=set)  # member keys whose value some exit needs transposed back
    added: int = 0
    removed: int = 0
    why: str = ""


def _operand_kind(region: Region, w, op) -> str:
    """How a non-member operand `w` of member `op` gets into the un-transposed layout."""
    if not vals.shape(w) and op.name in ("stablehlo.select", "stablehlo.clamp"):
        return "scalar"
    d = vals.defining_op(w)
    if d is not None and d.name in vals.CONSTANT_OPS and _readable(d.attributes["value"]):
        return "constant"
    if d is not None and d.name == "stablehlo.broadcast_in_dim":
        dims = [region.perm[x] for x in vals.attr_value(d.attributes["broadcast_dimensions"])]
        if dims == sorted(dims):
            return "broadcast"
    return "transpose"


def _readable(attr) -> bool:
    """A constant this pass can transpose now (an unknown element type must not fail half-way through a
    rewrite): a splat, or up to MAX_CONSTANT elements that numpy reads."""
    try:
        if vals.is_splat(attr):
            return vals.splat_scalar(attr) is not None
        return vals.num_elements(attr.type) <= MAX_CONSTANT and vals.constant_array(attr) is not None
    except Exception:  # noqa: BLE001 -- any element type ir.to_numpy does not know
        return False


def _absorbing_broadcast(region: Region, u) -> bool:
    if u.name != "stablehlo.broadcast_in_dim":
        return False
    dims = vals.attr_value(u.attributes["broadcast_dimensions"])
    new = [dims[x] for x in inverse(region.perm)]
    return new == sorted(new)


def _movable_type(op) -> bool:
    t = op.results[0].type
    return isinstance(t, mlir.RankedTensorType) and t.encoding is None and t.has_static_shape


def _movable(op, rank: int) -> bool:
    if op.name not in MOVABLE or len(op.results) != 1 or len(op.regions):
        return False
    t = op.results[0].type
    return isinstance(t, mlir.RankedTensorType) and t.rank == rank and t.encoding is None and t.has_static_shape


def grow(seed) -> Region:
    """The region of `seed` (a transpose) and what rewriting it would add and remove.

    Forward from the entries, every movable user joins; then the members' other operands are looked at,
    and transposes by the same p among them join as entries (growing again), until nothing joins. Only
    then, with the membership final, is each operand and each exit costed."""
    region = Region(perm_of(seed))
    rank, block = len(region.perm), seed.parent  # (the op holding the block: regions stay in one)
    region.members[hash(seed)] = seed
    region.entries.add(hash(seed))
    todo, joined = [seed], []
    while todo:
        while todo:  # forward: movable users join
            op = todo.pop()
            for use in op.results[0].uses:
                u = vals.user(use)
                if hash(u) not in region.members and u.parent == block and _movable(u, rank):
                    region.members[hash(u)] = u
                    todo.append(u)
                    joined.append(u)
        for op in joined:  # backward: transposes by p feeding the members that just joined join too
            for w in op.operands:
                d = vals.defining_op(w)
                if d is not None and hash(d) not in region.members and d.name == TRANSPOSE \
                        and d.parent == block and perm_of(d) == region.perm:
                    region.members[hash(d)] = d
                    region.entries.add(hash(d))
                    todo.append(d)
        joined = []
    for key, op in region.members.items():
        if key in region.entries:
            d = vals.defining_op(op.operands[0])
            if d is not None and hash(d) in region.members:
                region.why = "a transpose both leaves and enters the region"
                return region
        for use in op.results[0].uses:
            u = vals.user(use)
            if hash(u) in region.members:
                continue
            region.exits.append((u, use.operand_number, key))
            if u.parent == block and u.name == TRANSPOSE:
                region.exit_keys.add(hash(u))
                region.removed += _identity(compose(region.perm, perm_of(u)))
            elif u.parent == block and _absorbing_broadcast(region, u):
                region.exit_keys.add(hash(u))
            elif key not in region.materialized:
                region.materialized.add(key)
                region.added += 1
        if key in region.entries:
            continue
        for i, w in enumerate(op.operands):
            d = vals.defining_op(w)
            if d is None or hash(d) not in region.members:
                kind = _operand_kind(region, w, op)
                region.free[(key, i)] = kind
                region.added += kind == "transpose"
    region.removed += len(region.entries)
    return region


def _topological(region: Region) -> list:
    """Members, each after the members it uses (Kahn's algorithm on the region's own edges)."""
    deps, users = {}, {}
    for key, op in region.members.items():
        inner = set()
        if key not in region.entries:
            for w in op.operands:
                d = vals.defining_op(w)
                if d is not None and hash(d) in region.members:
                    inner.add(hash(d))
        deps[key] = len(inner)
        for k in inner:
            users.setdefault(k, []).append(key)
    ready = [k for k, n in deps.items() if n == 0]
    order = []
    while ready:
        k = ready.pop()
        order.append(k)
        for u in users.get(k, ()):
            deps[u] -= 1
            if deps[u] == 0:
                ready.append(u)
    return [region.members[k] for k in order]


def _new_operand(region: Region, kind: str, w):
    """`w` in the un-transposed layout, built at the current insertion point."""
    if kind == "scalar":  # a rank-0 predicate or bound: it broadcasts in any layout
        return w
    p, q = region.perm, inverse(region.perm)
    d = vals.defining_op(w)
    shape = vals.shape(w)
    new_type = _ranked_type([shape[x] for x in q], w.type)
    if kind == "constant":
        attr = d.attributes["value"]
        if vals.is_splat(attr):
            return hlo.ConstantOp(ir.splat(vals.splat_scalar(attr), new_type)).result
        array = vals.constant_array(attr).transpose(q)
        return hlo.ConstantOp(ir.from_numpy(array, type=new_type)).result
    if kind == "broadcast":
        dims = [p[x] for x in vals.attr_value(d.attributes["broadcast_dimensions"])]
        return hlo.BroadcastInDimOp(new_type, d.operands[0], dims).result
    return hlo.TransposeOp(w, q).result


def _rebuild(region: Region, op, operands):
    """`op` on un-transposed operands: same attributes, except the dims a slice or concatenate names."""
    p = region.perm
    q = inverse(p)
    shape = vals.shape(op.results[0])
    attrs = {name: op.attributes[name] for name in op.attributes}
    if op.name == "stablehlo.slice":
        for k in ("start_indices", "limit_indices", "strides"):
            old = vals.attr_value(attrs[k])
            attrs[k] = mlir.DenseI64ArrayAttr.get([old[x] for x in q])
    elif op.name == "stablehlo.concatenate":
        attrs["dimension"] = mlir.IntegerAttr.get(mlir.IntegerType.get_signless(64),
                                                  p[vals.attr_value(attrs["dimension"])])
    new_type = _ranked_type([shape[x] for x in q], op.results[0].type)
    return mlir.Operation.create(op.name, results=[new_type], operands=operands, attributes=attrs).results[0]


def _erase(op, gone: set) -> None:
    """Erase `op`, remembering its key: the sweep's worklist holds other Python objects for the same op,
    which erasing this one does not invalidate (touching them would crash the process)."""
    gone.add(hash(op))
    op.erase()


def rewrite(region: Region, gone: set) -> list:
    """Rewrite a region that pays (see `grow`); returns the transposes it created."""
    p = region.perm
    new, back, created, replaced = {}, {}, [], []
    order = _topological(region)
    for op in order:
        key = hash(op)
        with mlir.InsertionPoint(op), op.location:
            if key in region.entries:
                new[key] = op.operands[0]
            else:
                operands = []
                for i, w in enumerate(op.operands):
                    d = vals.defining_op(w)
                    if d is not None and hash(d) in region.members:
                        operands.append(new[hash(d)])
                        continue
                    kind = region.free[(key, i)]
                    value = _new_operand(region, kind, w)
                    if kind in ("constant", "broadcast"):
                        replaced.append(d)
                    if kind == "transpose":
                        created.append(vals.defining_op(value))
                    operands.append(value)
                new[key] = _rebuild(region, op, operands)
            if key in region.materialized:
                back[key] = hlo.TransposeOp(new[key], p).result
                created.append(vals.defining_op(back[key]))
    for u, index, key in region.exits:
        if hash(u) in region.exit_keys:
            with mlir.InsertionPoint(u), u.location:
                if u.name == TRANSPOSE:
                    perm = compose(p, perm_of(u))
                    value = new[key] if _identity(perm) else hlo.TransposeOp(new[key], perm).result
                    if not _identity(perm):
                        created.append(vals.defining_op(value))
                else:
                    dims = vals.attr_value(u.attributes["broadcast_dimensions"])
                    value = hlo.BroadcastInDimOp(u.results[0].type, new[key],
                                                 [dims[x] for x in inverse(p)]).result
            u.results[0].replace_all_uses_with(value)
            _erase(u, gone)
        else:
            u.operands[index] = back[key]
    for op in reversed(order):
        _erase(op, gone)
    for op in replaced:  # the old constants and broadcasts, unless something else uses them
        if hash(op) not in gone and not vals.has_uses(op.results[0]):
            _erase(op, gone)
    return created


# ------------------------------------------------------------------------------------------------ the sweep

def sink_transposes(functions, count: Counter | None = None) -> Counter:
    """Cancel identity chains and rewrite paying transpose regions in `functions` (func.func ops). Counts
    "identity chains", "regions", "transposes removed" and the work done ("ops examined": members and
    exits of every region grown, which must grow linearly with the module)."""
    count = Counter() if count is None else count
    todo = []
    for fn in functions:
        def visit(op):
            if op.name in (TRANSPOSE, RESHAPE):
                todo.append(op)
            return mlir.WalkResult.ADVANCE

        fn.operation.walk(visit)
    todo = [(op, hash(op)) for op in reversed(todo)]  # popped from the end: program order
    tried: set = set()
    gone: set = set()  # keys of erased ops; an op's key is taken while it lives (see `_erase`)

    def push(ops):
        for new in reversed(ops):
            gone.discard(hash(new))  # a new op may reuse an erased op's address
            todo.append((new, hash(new)))

    while todo:
        op, key = todo.pop()
        if key in gone:
            continue
        found = identity_chain(op)
        if found is not None:
            chain, x = found
            end = chain[-1]
            with mlir.InsertionPoint(end), end.location:
                value = x if x.type == end.results[0].type else hlo.ReshapeOp(end.results[0].type, x).result
            end.results[0].replace_all_uses_with(value)
            tried -= {hash(o) for o in chain}
            _erase_dead(chain, gone)
            count["identity chains"] += 1
            if value != x:  # the new reshape may end a longer chain
                push([vals.defining_op(value)])
            continue
        if op.name != TRANSPOSE or hash(op) in tried or not _movable_type(op):
            continue
        region = grow(op)
        count["ops examined"] += len(region.members) + len(region.exits)
        if region.why or region.removed <= region.added:
            tried |= region.entries
            continue
        tried -= region.entries | region.exit_keys  # these ops go: their keys may be reused
        created = rewrite(region, gone)
        count["regions"] += 1
        count["transposes removed"] += region.removed - region.added
        push(created)
    return count


def _erase_dead(chain, gone: set) -> None:
    """Erase the chain's ops that nothing uses any more, last first."""
    for op in reversed(chain):
        if not any(vals.has_uses(r) for r in op.results):
            _erase(op, gone)
