"""Known torch-mlir miscompilations that can be repaired exactly, applied by `export_torch`.

Negative constant gather indices. torch indexes from the end with negative numbers (`qkv[..., [-2], :]`,
Falcon's fused QKV); torch-mlir passes the constant straight into a `stablehlo.gather`, where StableHLO
clamps a start index to [0, dim - slice size]: -2 reads slot 0. The export then computes something else,
silently (Falcon's logits are off by 0.3 before any pass runs). The repair adds the dim's size to negative
indices, and only where the constant provably is the index of one operand dim:

* the gather's indices are a concatenate along `index_vector_dim` whose piece for component k has size 1
  there (torch-mlir's form: iotas for the other dims, the constant for the indexed one), or the whole
  index vector has a single component; and
* that piece (or the indices) is a constant reached through reshapes, broadcasts and integer converts only,
  which move or repeat values but never change them; and
* the gather takes a slice of size 1 along that dim (torch's indexing does), and the value lies in
  [-size, -1] (what torch accepts; anything else is left alone).

The constant and the ops that carry it are rebuilt for this gather alone (another user of the same
constant keeps the old value); ops the repair leaves unused are erased.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..ir import mlir
from ..ir import stablehlo as hlo
from ..patterns import values as vals

CARRIERS = ("stablehlo.reshape", "stablehlo.broadcast_in_dim", "stablehlo.convert")


def _carried_constant(value):
    """(constant op, [carrier ops from the constant to `value`]) when `value` is a constant carried only
    through value-preserving ops, else None."""
    chain = []
    d = vals.defining_op(value)
    while d is not None and d.name in CARRIERS:
        if d.name == "stablehlo.convert" and not _int_widening(d):
            return None
        chain.insert(0, d)
        d = vals.defining_op(d.operands[0])
    if d is None or d.name not in vals.CONSTANT_OPS:
        return None
    return d, chain


def _int_widening(convert) -> bool:
    """An integer convert that keeps every value (signed to a signed type at least as wide)."""
    try:
        a, b = vals.dtype(convert.operands[0]), vals.dtype(convert.results[0])
    except Exception:  # noqa: BLE001 -- an element type numpy does not know: not ours to judge
        return False
    return a.kind == "i" and b.kind == "i" and b.itemsize >= a.itemsize


def _gather_dims(gather):
    d = hlo.GatherDimensionNumbers(gather.attributes["dimension_numbers"])
    return list(d.start_index_map), int(d.index_vector_dim)


def _pieces(gather) -> list[tuple[int, object]]:
    """(operand dim, value holding only indices of that dim) for each component that has one."""
    start_index_map, ivd = _gather_dims(gather)
    indices = gather.operands[1]
    shape = vals.shape(indices)
    if len(start_index_map) == 1:
        return [(start_index_map[0], indices)]
    d = vals.defining_op(indices)
    if d is None or d.name != "stablehlo.concatenate" or ivd >= len(shape) or \
            vals.attr_value(d.attributes["dimension"]) != ivd:
        return []
    out, offset = [], 0
    for piece in d.operands:
        width = vals.shape(piece)[ivd]
        if width == 1:
            out.append((start_index_map[offset], piece))
        offset += width
    return out


def _fixed(array: np.ndarray, size: int) -> np.ndarray | None:
    """The indices with torch's negative ones made positive, or None when there are none to fix."""
    negative = (array < 0) & (array >= -size)
    if not negative.any():
        return None
    return np.where(negative, array + size, array).astype(array.dtype)


def _rebuild(const, chain, array: np.ndarray, splat: bool):
    """The constant `array` carried through copies of `chain` (built at the current insertion point)."""
    ctype = const.results[0].type
    attr = ir.splat(array.reshape(-1)[0], ctype) if splat else ir.from_numpy(array, type=ctype)
    value = hlo.ConstantOp(attr).result
    for op in chain:
        attrs = {name: op.attributes[name] for name in op.attributes}
        value = mlir.Operation.create(op.name, results=[op.results[0].type], operands=[value],
                                      attributes=attrs).results[0]
    return value


def _replace_piece(gather, piece, new) -> None:
    """Make `gather` read `new` where it read `piece` (the indices, or one operand of their concatenate),
    without touching other users of the old values."""
    indices = gather.operands[1]
    if piece == indices:
        gather.operands[1] = new
        return
    concat = vals.defining_op(indices)
    operands = [new if v == piece else v for v in concat.operands]
    attrs = {name: concat.attributes[name] for name in concat.attributes}
    gather.operands[1] = mlir.Operation.create(concat.name, results=[indices.type], operands=operands,
                                               attributes=attrs).results[0]


def _erase_unused(values) -> None:
    """Erase the ops behind `values` that nothing uses any more, and then their inputs' the same way. An op
    can be reached twice (two operands from one op): keys of erased ops are kept, and an erased op is
    never touched again (its other Python objects are not invalidated; touching one crashes)."""
    todo = [(d, hash(d)) for d in (vals.defining_op(v) for v in values) if d is not None]
    gone: set = set()
    while todo:
        op, key = todo.pop()
        if key in gone or any(vals.has_uses(r) for r in op.results):
            continue
        inputs = [(d, hash(d)) for d in (vals.defining_op(v) for v in op.operands) if d is not None]
        gone.add(key)
        op.erase()
        todo.extend(item for item in inputs if item[1] not in gone)


def fix_negative_gather_indices(module) -> int:
    """Repair every gather of `module` that reads a negative constant index (see the module docstring), in
    place. Returns how many index constants were repaired."""
    fixed = 0
    for gather in ir.ops_named(module, "stablehlo.gather"):
        operand_shape = vals.shape(gather.operands[0])
        slice_sizes = vals.attr_value(gather.attributes["slice_sizes"])
        for dim, piece in _pieces(gather):
            if slice_sizes[dim] != 1:
                continue
            found = _carried_constant(piece)
            if found is None:
                continue
            const, chain = found
            attr = const.attributes["value"]
            splat = vals.is_splat(attr)
            try:
                array = ir.to_numpy(attr) if not splat else np.asarray(vals.splat_scalar(attr)).reshape(1)
            except Exception:  # noqa: BLE001 -- unreadable constant: leave the gather as it is
                continue
            if array.dtype.kind != "i":
                continue
            new = _fixed(array, operand_shape[dim])
            if new is None:
                continue
            old = gather.operands[1]
            with mlir.InsertionPoint(gather), gather.location:
                _replace_piece(gather, piece, _rebuild(const, chain, new, splat))
            _erase_unused([old, piece])
            fixed += 1
    return fixed
