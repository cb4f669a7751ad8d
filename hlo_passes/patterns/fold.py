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


def _fold(max_elements: int):
    def rewrite(m):
        op = m.root
        attrs = [vals.constant_attr(vals.defining_op(v)) for v in op.operands]
        rtype = op.results[0].type
        try:
            if op.name in SPLAT_PRESERVING and attrs and all(vals.is_splat(a) for a in attrs):
                scalars = [vals.splat_scalar(a) for a in attrs]
                if op.name in ELEMENTWISE:
                    one = EVALUATORS[op.name](op, *[np.asarray([s]) for s in scalars])
                    value = np.asarray(one).astype(vals.dtype(op.results[0])).reshape(-1)[0]
                else:  # reshape/broadcast/transpose/reverse of a splat: the same element
                    value = scalars[0]
                return stablehlo.ConstantOp(ir.splat(value, rtype)).result
            if vals.num_elements(rtype) > max_elements:
                return None
            arrays = [vals.constant_array(a) for a in attrs]
            result = evaluate(op, arrays)
        except Decline:
            return None
        from_resource = any(isinstance(ir.downcast(a), ir.mlir.DenseResourceElementsAttr) for a in attrs)
        return _constant(result, rtype, from_resource)

    return rewrite


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
    if not _ranked(m.root.results[0]):
        return None
    return stablehlo.ConstantOp(attr).result


def fold_patterns(max_elements: int = 1 << 20) -> PatternSet:
    folds = [Pattern(f"fold {name.split('.', 1)[1]}", Op(name), _fold(max_elements), where=_all_constant)
             for name in EVALUATORS]
    folds.append(Pattern("arith.constant to stablehlo.constant", Op("arith.constant"), _arith_to_stablehlo))
    return PatternSet(folds, name="fold-constants")
