"""Small questions about values, ops and attributes that every pattern asks.

Kept in one place so that the binding quirks (result owners are OpViews, block-argument owners are
Blocks, resource attributes need `ir.to_numpy`, enum attributes only print) are handled once.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..diagnostics import SourceLoc
from ..ir import mlir, stablehlo

CONSTANT_OPS = ("stablehlo.constant", "arith.constant")
SMALL = 4096  # constants up to this many elements may be materialized just to check a pattern


def defining_op(value):
    """The Operation producing `value`, or None for a block argument."""
    owner = value.owner
    if isinstance(owner, mlir.Block):
        return None
    return getattr(owner, "operation", owner)


def loc(op) -> str:
    """`file:line:col` of an op when it has one, else MLIR's printed location."""
    text = str(op.location)
    where = SourceLoc.parse(text)
    return str(where) if where else text


def constant_attr(op):
    """The elements attribute of a constant op, or None if `op` is not a constant of a tensor."""
    if op is None or op.name not in CONSTANT_OPS:
        return None
    return op.attributes["value"]


_ARRAYS: dict = {}


def constant_array(attr) -> np.ndarray:
    """numpy value of an elements attribute, read-only. Small ones are cached (attributes are immutable and
    uniqued, and patterns ask about the same small constants again and again); a weight is not: the cache
    is process-wide, and it would hold the weight's copy after the module is gone. (A cached entry holds its
    attribute, so its context lives until the bounded cache is cleared.)"""
    if num_elements(attr.type) > SMALL:
        array = ir.to_numpy(attr)
        array.flags.writeable = False
        return array
    key = (str(attr.type), hash(attr))
    hit = _ARRAYS.get(key)
    if hit is not None and hit[0] == attr:
        return hit[1]
    array = ir.to_numpy(attr)
    array.flags.writeable = False
    if len(_ARRAYS) > 4096:
        _ARRAYS.clear()
    _ARRAYS[key] = (attr, array)
    return array


def is_splat(attr) -> bool:
    a = ir.downcast(attr)
    return isinstance(a, mlir.DenseElementsAttr) and a.is_splat


def num_elements(value_or_type) -> int:
    t = getattr(value_or_type, "type", value_or_type)
    shaped = mlir.ShapedType(t)
    return math.prod(shaped.shape) if shaped.has_static_shape else -1


def splat_scalar(attr):
    """The one value of a splat attribute (or of an all-equal small one) as a numpy scalar, else None."""
    a = ir.downcast(attr)
    if isinstance(a, mlir.DenseElementsAttr) and a.is_splat:
        shaped = mlir.ShapedType(a.type)
        if shaped.has_static_shape and math.prod(shaped.shape) == 0:
            return None
        one = _splat_value(a)  # the one element, without materializing a (possibly 64M-element) array
        return one if one is not None else constant_array(a).reshape(-1)[0]
    if num_elements(a.type) <= SMALL:
        flat = constant_array(a).reshape(-1)
        if flat.size and (flat == flat[0]).all():
            return flat[0]
    return None


_IEEE = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.float64))


def _splat_value(a):
    """The element of a splat attribute as a numpy scalar of its dtype, read from the attribute itself."""
    try:
        dtype = ir.np_dtype(mlir.ShapedType(a.type).element_type)
        v = ir.downcast(a.get_splat_value())
    except Exception:  # an element type with no numpy counterpart, or a kind of attribute not read here
        return None
    if isinstance(v, mlir.FloatAttr):
        if dtype in _IEEE:  # (the scalar constructor rounds as astype does, at a tenth of the cost)
            return dtype.type(v.value)
        return np.asarray(v.value).astype(dtype)[()]
    if isinstance(v, mlir.BoolAttr):
        return np.bool_(v.value)
    if isinstance(v, mlir.IntegerAttr) and dtype.kind in "iu" and dtype.itemsize >= 1:
        return np.asarray(v.value).astype(dtype)[()]
    return None


def all_equal(attr, scalar) -> bool:
    """Every element equals `scalar` (bools and numbers compared as numbers)."""
    a = ir.downcast(attr)
    if isinstance(a, mlir.DenseElementsAttr) and a.is_splat:  # a float splat: read as a double, no numpy
        v = a.get_splat_value().maybe_downcast()
        if isinstance(v, mlir.FloatAttr):
            shaped = mlir.ShapedType(a.type)
            if shaped.has_static_shape and math.prod(shaped.shape) == 0:
                return False
            return v.value == float(scalar)
    s = splat_scalar(a)
    if s is None:
        return False
    try:
        return bool(np.asarray(s).astype(np.float64) == float(scalar))
    except (TypeError, ValueError):
        return False


def attr_value(attr):
    """An attribute as plain python: ints, floats, bools, strings, lists, enum names (`LT`)."""
    a = ir.downcast(attr)
    if isinstance(a, (mlir.DenseI64ArrayAttr, mlir.DenseI32ArrayAttr, mlir.DenseBoolArrayAttr)):
        return list(a)
    if isinstance(a, mlir.BoolAttr):
        return bool(a.value)
    if isinstance(a, mlir.IntegerAttr):
        return int(a.value)
    if isinstance(a, mlir.FloatAttr):
        return float(a.value)
    if isinstance(a, mlir.StringAttr):
        return a.value
    if isinstance(a, mlir.ArrayAttr):
        return [attr_value(x) for x in a]
    text = str(a)
    if text.startswith("#stablehlo<") and " " in text:  # enum: #stablehlo<comparison_direction LT>
        return text[:-1].split(" ", 1)[1]
    return text


def has_uses(value) -> bool:
    return next(iter(value.uses), None) is not None


def has_one_use(value) -> bool:
    uses = iter(value.uses)
    return next(uses, None) is not None and next(uses, None) is None


def user(use):
    """The Operation that a use belongs to."""
    owner = use.owner
    return getattr(owner, "operation", owner)


def users(value) -> list:
    return [user(use) for use in value.uses]


def shape(value) -> tuple[int, ...]:
    return tuple(mlir.ShapedType(value.type).shape)


def element_type(value):
    return mlir.ShapedType(value.type).element_type


def dtype(value) -> np.dtype:
    return ir.np_dtype(element_type(value))


def dot_dims(op) -> tuple[list, list, list, list]:
    """(lhs batch, rhs batch, lhs contracting, rhs contracting) of a dot_general."""
    d = stablehlo.DotDimensionNumbers(op.attributes["dot_dimension_numbers"])
    return (list(d.lhs_batching_dimensions), list(d.rhs_batching_dimensions),
            list(d.lhs_contracting_dimensions), list(d.rhs_contracting_dimensions))
