"""Clean-ups on TFL ops after legalization: what turns a faithful one-op-per-op translation into a lean model.

StableHLO spells out what TFL does implicitly: every elementwise operand is broadcast to the result's
shape, every matmul is reshaped to its canonical form. After a literal translation a tiny Llama has 200 ops
where a quarter would do, and each op costs LiteRT a dispatch. The rules (root op -> replacement), applied
to a fixpoint by MLIR's greedy driver:

    binary(broadcast_to(x), y)        -> binary(x, y)         # TFL broadcasts; y already has the full shape
    binary(splat constant, y)         -> binary(scalar, y)    # the same, for folded broadcasts of constants
    reshape(reshape(x))               -> reshape(x)
    reshape(x) to x's own shape       -> x
    transpose(transpose(x, p), q)     -> transpose(x, p∘q)    # identity: x
    reshape/transpose(const)          -> const                # small constants only
    reshape/transpose chains that move no element  -> one reshape   # checked on an arange of indices
    reshape(fc(reshape(x)))           -> fc(reshape(x))      # FC keeps leading dims itself
    add(fully_connected(x, w), b)     -> fully_connected(x, w, b)   # b a constant [N] vector, FC used once
    1 / (1 + exp(-x))                 -> logistic(x)
    pow(x, 2)                         -> x * x
    sum(x, axes) / count              -> mean(x, axes)
    exp(x - max x) / sum(exp(x - max x)), last axis  -> softmax(x)

Dead TFL ops are removed afterwards (MLIR cannot know that unregistered ops are free of side effects).
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..ir import mlir
from . import ops as T

_BROADCASTING = {"tfl.add", "tfl.sub", "tfl.mul", "tfl.div", "tfl.maximum", "tfl.minimum", "tfl.pow",
                 "tfl.equal", "tfl.not_equal", "tfl.less", "tfl.less_equal", "tfl.greater", "tfl.greater_equal",
                 "tfl.logical_and", "tfl.logical_or", "tfl.select_v2", "tfl.squared_difference"}
_MAX_BROADCAST_RANK = 4  # every LiteRT kernel (and XNNPACK) broadcasts at least this far
_FOLD_LIMIT = 1 << 16


def _shape(value) -> list[int]:
    return list(mlir.RankedTensorType(value.type).shape)


_producer = T.producer


_READ_LIMIT = 1 << 20  # elements: a constant above this is a weight, which no clean-up rule reads


def _const(value):
    """The elements of a small `tfl.pseudo_const` operand, else None. Weights are never read: every rule here
    wants a permutation, axes, a scalar, a bias or something it may fold (`_FOLD_LIMIT`), and reading an LM head
    to find out that it is too big to fold copied 131 MB."""
    op = _producer(value)
    if op is not None and op.name == T.CONST and _num(value) <= _READ_LIMIT and not T.is_transposed(op):
        return ir.to_numpy(op.attributes["value"])
    return None


def _uses(value) -> int:
    return sum(1 for _ in value.uses)


def _clone_with(op, operands) -> mlir.Value:
    attrs = {a: op.attributes[a] for a in op.attributes}
    new = mlir.Operation.create(op.name, results=[r.type for r in op.results], operands=list(operands),
                                attributes=attrs)
    return new.result


def _splat(value):
    """The scalar of a splat `tfl.pseudo_const` with more than one element, else None."""
    op = _producer(value)
    if op is None or op.name != T.CONST:
        return None
    attr = ir.downcast(op.attributes["value"])
    if not isinstance(attr, mlir.DenseElementsAttr) or not attr.is_splat or _num(value) <= 1:
        return None
    from ..patterns.values import splat_scalar

    return splat_scalar(attr)


def _dtype_kind(value) -> str:
    return ir.np_dtype(mlir.RankedTensorType(value.type).element_type).kind


def _num(value) -> int:
    return int(np.prod(_shape(value), dtype=np.int64))


def _drop_broadcasts(op):
    if op.name not in _BROADCASTING:
        return None
    out = _shape(op.result)
    operands = list(op.operands)
    others_full = [i for i, v in enumerate(operands) if _shape(v) == out]
    for i, v in enumerate(operands):  # a splat constant of the full shape: one scalar, broadcast by TFL
        scalar = _splat(v)
        if scalar is not None and [j for j in others_full if j != i] and len(out) <= _MAX_BROADCAST_RANK:
            def rewrite(i=i, scalar=scalar):  # build only once the match is certain
                operands[i] = T.const(np.asarray(scalar).reshape(()))
                return [_clone_with(op, operands)]
            return rewrite
    out = _shape(op.result)
    if len(out) > _MAX_BROADCAST_RANK:
        return None
    operands = list(op.operands)
    full = [i for i, v in enumerate(operands) if _shape(v) == out]
    for i, v in enumerate(operands):
        p = _producer(v)
        if p is None or p.name != "tfl.broadcast_to":
            continue
        if not [j for j in full if j != i]:
            continue  # some operand must still carry the full shape
        operands[i] = p.operands[0]
        return lambda: [_clone_with(op, operands)]
    return None


def _reshape(op):
    x = op.operands[0]
    out = _shape(op.result)
    if _shape(x) == out:
        return lambda: [x]
    p = _producer(x)
    if p is not None and p.name == "tfl.reshape":
        return lambda: [_clone_with(op, [p.operands[0], op.operands[1]])]
    value = _const(x) if _num(x) <= _FOLD_LIMIT else None  # (the count first: a weight is not read)
    if value is not None:
        return lambda: [T.const(np.ascontiguousarray(value.reshape(out)))]
    return None


def _transpose(op):
    x = op.operands[0]
    perm = _const(op.operands[1])
    if perm is None:
        return None
    perm = [int(p) for p in perm]
    if perm == sorted(perm):
        return lambda: [x]
    p = _producer(x)
    if p is not None and p.name == "tfl.transpose":
        inner = _const(p.operands[1])
        if inner is not None:
            composed = [int(inner[q]) for q in perm]
            src = p.operands[0]
            if composed == sorted(composed):
                return lambda: [src]
            return lambda: [_clone_with(op, [src, T.i32(composed)])]
    value = _const(x) if _num(x) <= _FOLD_LIMIT else None
    if value is not None:
        return lambda: [T.const(np.ascontiguousarray(value.transpose(perm)))]
    return None


_CHAIN_LIMIT = 1 << 22  # elements: chains on bigger tensors are left alone (the check is one numpy pass)


def _chain(op):
    """A run of reshapes and transposes that only moves elements back where they were -> one reshape.

    Which is the case is decided by running the chain on the element indices themselves (an arange), so
    every combination of splits, merges and permutations is handled, and nothing is assumed."""
    steps, cur = [], op
    while cur is not None and cur.name in ("tfl.reshape", "tfl.transpose"):
        if cur.name == "tfl.transpose":
            perm = _const(cur.operands[1])
            if perm is None:
                break
            steps.append(("t", [int(p) for p in perm]))
        else:
            steps.append(("r", _shape(cur.result)))
        src = cur.operands[0]
        cur = _producer(src)
    if len(steps) < 2:
        return None
    shape = _shape(src)
    size = int(np.prod(shape, dtype=np.int64))
    if size > _CHAIN_LIMIT:
        return None
    idx = np.arange(size).reshape(shape)
    for kind, arg in reversed(steps):
        idx = idx.transpose(arg) if kind == "t" else idx.reshape(arg)
    if not np.array_equal(idx.reshape(-1), np.arange(size)):
        return None
    out = _shape(op.result)
    return lambda: [src] if shape == out else [_clone_with_reshape(op, src, out)]


def _clone_with_reshape(op, src, out) -> mlir.Value:
    return mlir.Operation.create("tfl.reshape", results=[op.result.type], operands=[src, T.i32(out)]).result


def _fc_reshapes(op):
    """reshape(fully_connected(reshape(x) to [M, K]), S + [N]) -> fully_connected(reshape(x, S + [K]))
    with keep_num_dims: FC already computes over leading dims, the two reshapes were the export's."""
    fc = _producer(op.operands[0])
    if fc is None or fc.name != "tfl.fully_connected" or _uses(fc.result) != 1:
        return None
    if "keep_num_dims" not in fc.attributes or not mlir.BoolAttr(fc.attributes["keep_num_dims"]).value:
        return None
    out = _shape(op.result)
    fc_out = _shape(fc.result)
    if not out or out[-1] != fc_out[-1]:
        return None
    x = fc.operands[0]
    k = _shape(x)[-1]
    attrs = {a: fc.attributes[a] for a in fc.attributes}

    def rewrite():
        src = x
        p = _producer(x)
        if p is not None and p.name == "tfl.reshape":
            src = p.operands[0]
        target = [*out[:-1], k]
        if _shape(src) != target:
            src = mlir.Operation.create("tfl.reshape", results=[mlir.RankedTensorType.get(
                target, mlir.RankedTensorType(x.type).element_type)], operands=[src, T.i32(target)]).result
        return [mlir.Operation.create("tfl.fully_connected", results=[op.result.type],
                                      operands=[src, fc.operands[1], fc.operands[2]], attributes=attrs).result]
    return rewrite


def _reshape_rules(op):
    return _reshape(op) or _chain(op) or _fc_reshapes(op)


def _is_one(value) -> bool:
    scalar = _splat(value)  # (a splat of any size, never expanded)
    if scalar is not None:
        return _dtype_kind(value) == "f" and bool(scalar == 1)
    c = _const(value)
    return c is not None and c.dtype.kind == "f" and c.size > 0 and bool(np.all(c == 1))


def _logistic(op):
    """1 / (1 + exp(-x)) -> logistic(x): how JAX writes sigmoid (and SiLU's gate); one kernel, not four."""
    if not _is_one(op.operands[0]):
        return None
    add = _producer(op.operands[1])
    if add is None or add.name != "tfl.add" or str(add.attributes["fused_activation_function"]) != '"NONE"':
        return None
    for i in (0, 1):
        exp = _producer(add.operands[i])
        if exp is None or exp.name != "tfl.exp" or not _is_one(add.operands[1 - i]):
            continue
        neg = _producer(exp.operands[0])
        if neg is None or neg.name != "tfl.neg":
            continue
        x = neg.operands[0]
        if _shape(x) != _shape(op.result):
            continue
        return lambda x=x: [T.create("tfl.logistic", [x], [op.result.type]).result]
    return None


def _square(op):
    """pow(x, 2) -> x * x: POW is a general kernel that XNNPACK does not take; a multiply it does."""
    c = _const(op.operands[1])
    if c is None or c.dtype.kind != "f" or c.size == 0 or not bool(np.all(c == 2)):
        return None
    x = op.operands[0]
    if _shape(x) != _shape(op.result):
        return None
    return lambda: [T.create("tfl.mul", [x, x], [op.result.type], fused_activation_function="NONE").result]


def _mean(op):
    """sum(x, axes) / N, N the number of summed elements -> mean(x, axes) (RMSNorm's and LayerNorm's mean);
    also through the reshape that puts the reduced axes back as 1s (-> mean with keep_dims)."""
    total = _producer(op.operands[0])
    keep = False
    if total is not None and total.name == "tfl.reshape" and _uses(total.result) == 1:
        inner = _producer(total.operands[0])
        if inner is None or inner.name != "tfl.sum":
            return None
        axes = _const(inner.operands[1])
        if axes is None:
            return None
        kept = list(_shape(inner.operands[0]))
        for a in axes.reshape(-1):
            kept[int(a)] = 1
        if _shape(total.result) != kept:
            return None
        total, keep = inner, True
    c = _const(op.operands[1])
    if total is None or total.name != "tfl.sum" or c is None or c.dtype.kind != "f" or c.size == 0:
        return None
    axes = _const(total.operands[1])
    if axes is None or _uses(total.result) != 1:
        return None
    src = _shape(total.operands[0])
    count = int(np.prod([src[int(a)] for a in axes.reshape(-1)], dtype=np.int64))
    if not bool(np.all(c == np.asarray(count, c.dtype))):
        return None
    expected = [1 if i in {int(a) for a in axes.reshape(-1)} else d for i, d in enumerate(src)] if keep \
        else _shape(total.result)
    if expected != _shape(op.result):
        return None
    return lambda: [T.create("tfl.mean", list(total.operands), [op.result.type], keep_dims=keep).result]


def _keepdims_of(value, reducer: str):
    """x if `value` is reshape(reducer(x, [last axis])) restoring the reduced axis as 1, else None."""
    r = _producer(value)
    if r is None or r.name != "tfl.reshape":
        return None
    red = _producer(r.operands[0])
    if red is None or red.name != reducer:
        return None
    x = red.operands[0]
    axes = _const(red.operands[1])
    rank = len(_shape(x))
    if axes is None or [int(a) % max(rank, 1) for a in axes.reshape(-1)] != [rank - 1]:
        return None
    if _shape(r.result) != [*_shape(x)[:-1], 1]:
        return None
    return x


def _max_of(value):
    """x if `value` is max(x) over the last axis with the axis kept as 1 (reshape(reduce_max(x))), also
    behind JAX's maximum(-inf, .) guard (an identity: XLA's maximum propagates NaN), else None."""
    x = _keepdims_of(value, "tfl.reduce_max")
    if x is not None:
        return x
    r = _producer(value)
    inner = _producer(r.operands[0]) if r is not None and r.name == "tfl.reshape" else None
    if inner is None or inner.name != "tfl.maximum":
        return None
    for i in (0, 1):
        c = _const(inner.operands[i])
        red = _producer(inner.operands[1 - i])
        if c is None or c.size != 1 or not np.isneginf(c.reshape(())) or red is None or red.name != "tfl.reduce_max":
            continue
        x = red.operands[0]
        axes = _const(red.operands[1])
        rank = len(_shape(x))
        if axes is not None and [int(a) % rank for a in axes.reshape(-1)] == [rank - 1] and \
                _shape(r.result) == [*_shape(x)[:-1], 1]:
            return x
    return None


def _softmax(op):
    """exp(x - max(x)) / sum(exp(x - max(x))) over the last axis -> SOFTMAX(x, beta=1)."""
    e = _producer(op.operands[0])
    if e is None or e.name != "tfl.exp" or _keepdims_of(op.operands[1], "tfl.sum") != e.result:
        return None
    sub = _producer(e.operands[0])
    if sub is None or sub.name != "tfl.sub":
        return None
    x, m = sub.operands
    if _max_of(m) != x or _shape(x) != _shape(op.result):
        return None
    return lambda: [T.create("tfl.softmax", [x], [op.result.type], beta=1.0).result]


def _div_rules(op):
    return _logistic(op) or _mean(op) or _softmax(op)


def _fc_bias(op):
    if op.name != "tfl.add" or str(op.attributes["fused_activation_function"]) != '"NONE"':
        return None
    for i in (0, 1):
        fc = _producer(op.operands[i])
        bias = _const(op.operands[1 - i])
        if fc is None or fc.name != "tfl.fully_connected" or bias is None or _uses(fc.result) != 1:
            continue
        if _producer(fc.operands[2]) is None or _producer(fc.operands[2]).name != T.NO_VALUE:
            continue
        n = _shape(fc.result)[-1]
        if _shape(fc.result) != _shape(op.result) or bias.size != n or bias.shape[-1:] != (n,) or \
                bias.dtype != np.float32:
            continue
        attrs = {a: fc.attributes[a] for a in fc.attributes}
        return lambda fc=fc, bias=bias, attrs=attrs: [mlir.Operation.create(
            "tfl.fully_connected", results=[op.result.type],
            operands=[fc.operands[0], fc.operands[1], T.const(bias.reshape(n))], attributes=attrs).result]
    return None


RULES = [(name, _drop_broadcasts, 1) for name in sorted(_BROADCASTING)] + [
    ("tfl.reshape", _reshape_rules, 1), ("tfl.transpose", lambda op: _transpose(op) or _chain(op), 1),
    ("tfl.add", _fc_bias, 2), ("tfl.div", _div_rules, 1), ("tfl.pow", _square, 1)]


def remove_dead(function) -> int:
    """Erase TFL ops (and constants) whose results nobody uses, last first; returns how many."""
    removed = 0
    for region in function.regions:
        for block in region.blocks:
            for item in reversed(list(block.operations)):
                op = item.operation
                if op.name.startswith("tfl.") and op.results and all(_uses(r) == 0 for r in op.results):
                    op.erase()
                    removed += 1
    return removed


def cleanup(module) -> int:
    """Apply the rules to a fixpoint, then remove dead ops. Returns the number of ops removed in all."""
    op = ir.as_operation(module)
    before = ir.op_count(op)
    ir.apply_greedily(op, RULES, fold=False)
    for fn in ir.module_ops(op):
        if fn.operation.name == "func.func":
            while remove_dead(fn.operation):
                pass
    return before - ir.op_count(op)
