"""The `fold-constants` pattern set: every op with an evaluator folds when its operands are constants.

Splats stay splats: an elementwise op on splat operands is evaluated on one element; a reshape,
broadcast, transpose, reverse, slice, dynamic_slice or gather of a splat (a concatenate or pad of equal
splats) is a splat of the result type; a reduce of a splat is computed from its one value
(folding_reduce.reduce_splat). So folding `broadcast_in_dim(constant 0.0)` into a 1G-element tensor, or
summing it, costs nothing. Otherwise no result above `max_elements` and no operand above
max(max_elements, MAX_OPERAND) is materialized, and the evaluators bound their own work. Ops on element
types the folder does not claim (complex, i2, f4, ...; see dtypes.CLAIMED) are left alone. Large results
computed from `dense_resource` weights become resources again (zero-copy from numpy) rather than huge `dense` text.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..ir import stablehlo
from .quant import DEQUANTIZE_MARK
from . import values as vals
from . import dtypes as dt
from .driver import Pattern, PatternSet
from .folding import ELEMENTWISE, EVALUATORS, Decline, check_flush, evaluate
from .folding_reduce import reduce_splat
from .template import Op

RESOURCE_ABOVE = 1024  # elements: larger folded results from resource operands stay resources
MAX_OPERAND = 1 << 26  # elements of a non-splat operand read into numpy (a slice of a big weight folds)


def _uniform(result: np.ndarray) -> bool:
    """All elements bitwise equal (so -0.0 and 0.0 differ and NaNs keep their payload)."""
    if result.size == 0 or result.dtype.kind == "c":
        return False
    rows = np.ascontiguousarray(result).reshape(-1).view(np.uint8).reshape(result.size, -1)
    return bool((rows == rows[0]).all())


def _constant(result: np.ndarray, type, as_resource: bool):
    if as_resource and result.size > RESOURCE_ABOVE:
        # (MLIR makes a taken blob name unique itself, folded_1, folded_2, ... per context: a counter here
        # would be process-wide state, and the same input would print differently on a second run)
        attr = ir.from_numpy(result, type=type, resource="folded")
    else:
        attr = _attribute(result, type)
    return stablehlo.ConstantOp(attr).result


def _attribute(result: np.ndarray, type):
    """A `dense` attribute holding `result`: a splat when all its elements are the same."""
    if _uniform(result):
        return _splat_attr(result.reshape(-1)[0], type)
    return ir.from_numpy(result, type=type)


def _splat_attr(value, type):
    """ir.splat, with ui64 values of 2^63 and above given as the signed integer of the same bits (the
    bindings' IntegerAttr.get takes an int64)."""
    if np.asarray(value).dtype == np.uint64 and int(value) >= 1 << 63:
        value = int(value) - (1 << 64)
    return ir.splat(value, type)


# data movement: a splat operand 0 gives a splat result, whatever the other operands (indices)
_MOVES_SPLAT = {"stablehlo.reshape", "stablehlo.broadcast_in_dim", "stablehlo.transpose", "stablehlo.reverse",
                "stablehlo.slice", "stablehlo.dynamic_slice", "stablehlo.gather"}


def _splat_scalar(attr):
    """The one element of a splat attribute, bit-exact, read from a 1-element copy of it (values.splat_scalar
    expands the whole splat first: a GB for a 2^28-element one)."""
    a = ir.downcast(attr)
    with a.context, ir.mlir.Location.unknown():
        et = ir.mlir.ShapedType(a.type).element_type
        one = ir.mlir.DenseElementsAttr.get_splat(ir.mlir.RankedTensorType.get([1], et), a.get_splat_value())
    return ir.to_numpy(one)[0]


def _same_bits(scalars) -> bool:
    return len({np.asarray(s).tobytes() for s in scalars}) == 1


def _splat_value(op, attrs):
    """The one value of `op`'s result when it is computable from splat operands without expanding them,
    else None."""
    splat = [vals.is_splat(a) for a in attrs]
    if not attrs or not splat[0]:
        return None
    if op.name in ELEMENTWISE and all(splat):
        scalars = [np.asarray([_splat_scalar(a)]) for a in attrs]
        check_flush(op, scalars)
        one = np.asarray(EVALUATORS[op.name](op, *scalars)).astype(vals.dtype(op.results[0]))
        check_flush(op, [], one)
        return one.reshape(-1)[0]
    first = _splat_scalar(attrs[0])
    check_flush(op, [np.asarray([first])])
    if op.name in _MOVES_SPLAT:
        return first
    if op.name in ("stablehlo.concatenate", "stablehlo.pad") and all(splat) and \
            _same_bits([_splat_scalar(a) for a in attrs]):
        return first
    if op.name == "stablehlo.reduce" and len(attrs) == 2 and splat[1]:
        dims = vals.attr_value(op.attributes["dimensions"])
        if not dims:
            return first
        count = int(np.prod([vals.shape(op.operands[0])[d] for d in dims]))
        init = np.asarray(_splat_scalar(attrs[1]))
        check_flush(op, [np.asarray([first]), init])
        return reduce_splat(op, first, init, count)
    return None


GROWING_BROADCAST = 4096  # elements: broadcasts of non-splat constants this big are not folded


def _unclaimed(op) -> str | None:
    for v in list(op.operands) + list(op.results):
        t = v.type.maybe_downcast()
        if not isinstance(t, ir.mlir.ShapedType):
            return "not a tensor"
        if dt.claimed(t.element_type) is None:
            return f"element type {t.element_type} is not one the folder evaluates"
    return None


def _attributes(op) -> tuple:
    attrs = op.attributes
    return tuple((a.name, a.attr) for a in (attrs[i] for i in range(len(attrs))))


def _evaluate(max_elements: int):
    """The `where` of every fold: all operands constant, and the evaluator agrees to compute the result
    (it declines what XLA leaves implementation-defined). The value goes to `m.memo` for the rewrite.

    An export repeats itself: every layer computes the same causal mask from iotas (an inlined `tril`).
    Attributes and types are uniqued by MLIR, so (op name, attributes, operand attributes, result type)
    names one evaluation exactly: each is computed once per pattern set (one pass run), its attribute
    built once. Not for ops with a body (reduce, reduce_window: the body says what they compute,
    and no attribute does), nor for results from `dense_resource` operands (they become blobs of their
    own)."""
    evaluated: dict = {}
    moved: dict = {}

    def where(m) -> bool | str:
        op = m.root
        producers = []
        for i, v in enumerate(op.operands):  # the cheap refusal first (most ops): by op name, nothing read
            producer = vals.defining_op(v)
            if producer is None or producer.name not in vals.CONSTANT_OPS:
                return f"operand {i} is not a constant"
            producers.append(producer)
        if DEQUANTIZE_MARK in op.attributes:
            return "a dequantization from quantize-int8-dynamic: folding it would turn the int8 weight back into floats"
        if len(op.results) != 1 or not producers and op.name != "stablehlo.iota":
            return "not a single-result op with operands"
        if op.name in _MOVES_SPLAT:  # (most folds of an export: a scalar broadcast; no other check applies)
            key = (producers[0].attributes["value"], op.results[0].type)  # (what a splat moves to: no more)
            if key not in moved:
                moved[key] = _moved_splat(op, key[0])
            if moved[key] is not None:
                m.memo["attr"] = moved[key]
                return True
        why = _unclaimed(op)  # before any attribute is read: the bindings cannot read some (complex)
        if why:
            return why
        if not _ranked(op.results[0]):
            return "result is not a ranked tensor"
        attrs = [p.attributes["value"] for p in producers]
        rtype = op.results[0].type
        if op.name == "stablehlo.broadcast_in_dim" and not vals.is_splat(attrs[0]) and \
                vals.num_elements(attrs[0].type) >= GROWING_BROADCAST and vals.num_elements(rtype) > \
                vals.num_elements(attrs[0].type):
            return ("a broadcast of a weight-sized constant only makes it bigger (a batched matmul's shared"
                    " weight would be stored once per batch entry): left to its users")
        if vals.num_elements(rtype) == 0 or any(vals.num_elements(a.type) == 0 for a in attrs):
            return "empty tensors: nothing to fold"
        if op.name == "stablehlo.transpose" and _read_in_place(op, attrs[0]):
            return ("a weight transposed for the one dot that reads it: simplify's dot-transposed rules make the"
                    " dot read the weight itself (folding would copy the weight)")
        try:
            value = _splat_value(op, attrs)
            if value is not None:
                m.memo["splat"] = value
                return True
            if vals.num_elements(rtype) > max_elements:
                return f"result has more than max-elements={max_elements} elements"
            if any(vals.num_elements(a.type) > max(max_elements, MAX_OPERAND) for a in attrs):
                return f"an operand has more than {max(max_elements, MAX_OPERAND)} elements to materialize"
            from_resource = any(isinstance(ir.downcast(a), ir.mlir.DenseResourceElementsAttr) for a in attrs)
            if from_resource or len(op.regions):  # (a reduce's body is no attribute: its key would not say it)
                m.memo["array"] = evaluate(op, [vals.constant_array(a) for a in attrs])
                m.memo["from_resource"] = from_resource
                return True
            key = (op.name, rtype, tuple(attrs), _attributes(op))
            if key not in evaluated:
                try:
                    with op.location:  # (as a rewrite runs: some element types are built through an op)
                        evaluated[key] = _attribute(evaluate(op, [vals.constant_array(a) for a in attrs]), rtype)
                except Decline as why:
                    evaluated[key] = f"not folded: {why}"
            verdict = evaluated[key]
            if isinstance(verdict, str):
                return verdict
            m.memo["attr"] = verdict
        except Decline as why:
            return f"not folded: {why}"
        return True

    return where


def _moved_splat(op, attr):
    """The result of a data-movement op on a splat constant, as a splat attribute: the same element, moved,
    without numpy. None when this shortcut does not apply (then the general path decides): a non-splat or
    empty operand, an element type the folder does not claim, bf16 (it goes the long way: see check_flush),
    or a result that is not a static, non-empty tensor."""
    a = ir.downcast(attr)
    if not isinstance(a, ir.mlir.DenseElementsAttr) or not a.is_splat:
        return None
    shaped = ir.mlir.ShapedType(a.type)
    et = shaped.element_type
    if isinstance(et.maybe_downcast(), ir.mlir.BF16Type) or dt.claimed(et) is None or vals.num_elements(shaped) <= 0:
        return None
    rtype = op.results[0].type.maybe_downcast()
    if not isinstance(rtype, ir.mlir.RankedTensorType) or not rtype.has_static_shape or vals.num_elements(rtype) <= 0:
        return None
    return ir.mlir.DenseElementsAttr.get_splat(rtype, a.get_splat_value())


def _read_in_place(op, attr) -> bool:
    """The transpose of a (non-splat) constant whose only user is a dot that can read the weight through it
    (a torch Linear's x . W^T): left alone, simplify removes the transpose, the weight keeps its one copy and
    TFLite's FULLY_CONNECTED takes it as it is ([N, K]). Folded, every signature held a transposed copy."""
    if vals.is_splat(attr):  # (any size: a model's projections must keep one layout, whatever their sizes)
        return False
    uses = list(op.results[0].uses)
    if len(uses) != 1 or uses[0].owner.name != "stablehlo.dot_general":
        return False
    from .algebra import reads_through_transpose

    return reads_through_transpose(uses[0].owner, uses[0].operand_number,
                                   list(vals.attr_value(op.attributes["permutation"])))


def _materialize(m):
    rtype = m.root.results[0].type
    if "attr" in m.memo:
        return stablehlo.ConstantOp(m.memo["attr"]).result
    if "splat" in m.memo:
        return stablehlo.ConstantOp(_splat_attr(m.memo["splat"], rtype)).result
    return _constant(m.memo["array"], rtype, m.memo["from_resource"])


def _ranked(value) -> bool:
    return isinstance(value.type.maybe_downcast(), ir.mlir.RankedTensorType)


def _arith_convertible(m) -> bool | str:
    if not _ranked(m.root.results[0]):
        return "not a ranked tensor"
    return _unclaimed(m.root) or True  # (the bindings cannot read complex attributes at all)


def _arith_to_stablehlo(m):
    attr = m.root.attributes["value"]
    return stablehlo.ConstantOp(attr).result


class Fold(Pattern):
    """A fold: its op is a candidate only when every operand comes straight from a constant op, which the
    driver's quick check sees from the operands' producers before any matching (most ops fail it)."""

    def quick_check(self):
        return _from_constants


def _from_constants(producers) -> bool:
    for i in range(len(producers)):
        if producers[i] not in vals.CONSTANT_OPS:
            return False
    return True


def fold_patterns(max_elements: int = 1 << 20) -> PatternSet:
    evaluate_ = _evaluate(max_elements)
    # (local: a fold reads its operands' producers and, for a transpose, its own users; see Pattern.local)
    folds = [Fold(f"fold {name.split('.', 1)[1]}", Op(name), _materialize, where=evaluate_, local=True)
             for name in EVALUATORS]
    folds.append(Pattern("arith.constant to stablehlo.constant", Op("arith.constant"), _arith_to_stablehlo,
                         where=_arith_convertible, local=True))
    return PatternSet(folds, name="fold-constants")
