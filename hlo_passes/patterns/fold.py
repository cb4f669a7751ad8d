"""The `fold-constants` pattern set: every op with an evaluator folds when its operands are constants.

Splats stay splats (an op on splat operands is evaluated on one element, and a broadcast of a splat is
a splat of the new shape), so folding `broadcast_in_dim(constant 0.0)` into a 1G-element tensor costs
nothing. Non-splat results above `max_elements` are left alone. Large results computed from
`dense_resource` weights become resources again (zero-copy from numpy) rather than huge `dense` text.
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import ir
from ..ir import stablehlo
from . import values as vals
from .driver import Pattern, PatternSet
from .folding import ELEMENTWISE, EVALUATORS, SPLAT_PRESERVING, Decline, evaluate
from .template import Op

RESOURCE_ABOVE = 1024  # elements: larger folded results from resource operands stay resources
_names = itertools.count()


def _uniform(result: np.ndarray) -> bool:
    """All elements bitwise equal (so -0.0 and 0.0 differ and NaNs keep their payload)."""
    if result.size == 0 or result.dtype.kind == "c":
        return False
    rows = np.ascontiguousarray(result).reshape(-1).view(np.uint8).reshape(result.size, -1)
    return bool((rows == rows[0]).all())


def _constant(result: np.ndarray, type, as_resource: bool):
    if as_resource and result.size > RESOURCE_ABOVE:
        attr = ir.from_numpy(result, type=type, resource=f"folded_{next(_names)}")
    elif _uniform(result):
        attr = ir.splat(result.reshape(-1)[0], type)
    else:
        attr = ir.from_numpy(result, type=type)
    return stablehlo.ConstantOp(attr).result


def _evaluate(max_elements: int):
    """The `where` of every fold: all operands constant, and the evaluator agrees to compute the result
    (it declines what XLA leaves implementation-defined). The value goes to `m.memo` for the rewrite."""

    def where(m) -> bool | str:
        ok = _all_constant(m)
        if ok is not True:
            return ok
        op = m.root
        attrs = [vals.constant_attr(vals.defining_op(v)) for v in op.operands]
        rtype = op.results[0].type
        if vals.num_elements(rtype) == 0 or any(vals.num_elements(a.type) == 0 for a in attrs):
            return "empty tensors: nothing to fold"
        try:
            if op.name in SPLAT_PRESERVING and attrs and all(vals.is_splat(a) for a in attrs):
                scalars = [vals.splat_scalar(a) for a in attrs]
                if op.name in ELEMENTWISE:
                    one = EVALUATORS[op.name](op, *[np.asarray([s]) for s in scalars])
                    value = np.asarray(one).astype(vals.dtype(op.results[0])).reshape(-1)[0]
                else:  # reshape/broadcast/transpose/reverse of a splat: the same element
                    value = scalars[0]
                m.memo["splat"] = value
                return True
            if vals.num_elements(rtype) > max_elements:
                return f"result has more than max-elements={max_elements} elements"
            m.memo["array"] = evaluate(op, [vals.constant_array(a) for a in attrs])
        except Decline as why:
            return f"not folded: {why}"
        m.memo["from_resource"] = any(isinstance(ir.downcast(a), ir.mlir.DenseResourceElementsAttr) for a in attrs)
        return True

    return where


def _materialize(m):
    rtype = m.root.results[0].type
    if "splat" in m.memo:
        return stablehlo.ConstantOp(ir.splat(m.memo["splat"], rtype)).result
    return _constant(m.memo["array"], rtype, m.memo["from_resource"])


def _ranked(value) -> bool:
    return isinstance(value.type.maybe_downcast(), ir.mlir.RankedTensorType)


def _all_constant(m) -> bool | str:
    op = m.root
    if len(op.results) != 1 or not op.operands and op.name not in ("stablehlo.iota",):
        return "not a single-result op with operands"
    for i, v in enumerate(op.operands):
        if vals.constant_attr(vals.defining_op(v)) is None:
            return f"operand {i} is not a constant"
    if not _ranked(op.results[0]):
        return "result is not a ranked tensor"
    return True


def _arith_to_stablehlo(m):
    attr = m.root.attributes["value"]
    return stablehlo.ConstantOp(attr).result


def fold_patterns(max_elements: int = 1 << 20) -> PatternSet:
    evaluate_ = _evaluate(max_elements)
    folds = [Pattern(f"fold {name.split('.', 1)[1]}", Op(name), _materialize, where=evaluate_) for name in EVALUATORS]
    folds.append(Pattern("arith.constant to stablehlo.constant", Op("arith.constant"), _arith_to_stablehlo,
                         where=lambda m: _ranked(m.root.results[0]) or "not a ranked tensor"))
    return PatternSet(folds, name="fold-constants")
