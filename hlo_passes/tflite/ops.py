"""The TFL ops the backend emits: their builtin operator, their options table, and how they sit in MLIR.

Legalized modules hold TFL ops as ops of the (unregistered) `tfl` dialect, in MLIR's generic form:

    %0 = "tfl.fully_connected"(%x, %w, %none) {keep_num_dims = true, fused_activation_function = "NONE"}
         : (tensor<1x8x64xf32>, tensor<256x64xf32>, none) -> tensor<1x8x256xf32>

so they print, parse and FileCheck like any other op. One table (`OPS`) says, per op, which builtin it is
and which options table its attributes fill: attribute `keep_num_dims` is field `keepNumDims`; a string
attribute on an enum field (`fused_activation_function = "RELU"`) is looked up in the schema. The exporter
checks every tfl op against this table, so an op the backend does not know can never reach a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..diagnostics import HloError
from ..ir import mlir

DIALECT = "tfl"
CONST = "tfl.pseudo_const"  # a constant tensor: `value` attribute, becomes a tensor with a buffer
QCONST = "tfl.pseudo_qconst"  # an int8 weight: `value` (int8), `scale` (f32), `axis` (-1: per tensor)
NO_VALUE = "tfl.no_value"  # an omitted optional operand (a FULLY_CONNECTED without bias): tensor index -1


@dataclass(frozen=True)
class OpDef:
    builtin: str  # BuiltinOperator name
    options: str | None = None  # options table name, in BuiltinOptions or BuiltinOptions2
    enums: tuple[tuple[str, str], ...] = ()  # (field, enum table) for string-valued attributes
    version: int = 1  # the lowest version LiteRT registers (the runtime resolves kernels by code + version)


_ACT = (("fusedActivationFunction", "ActivationFunctionType"),)


def _simple(names: dict[str, tuple[str, str | None]]) -> dict[str, OpDef]:
    return {f"tfl.{k}": OpDef(b, o) for k, (b, o) in names.items()}


OPS: dict[str, OpDef] = {
    "tfl.add": OpDef("ADD", "AddOptions", _ACT),
    "tfl.sub": OpDef("SUB", "SubOptions", _ACT),
    "tfl.mul": OpDef("MUL", "MulOptions", _ACT),
    "tfl.div": OpDef("DIV", "DivOptions", _ACT),
    "tfl.fully_connected": OpDef("FULLY_CONNECTED", "FullyConnectedOptions",
                                 (*_ACT, ("weightsFormat", "FullyConnectedOptionsWeightsFormat"))),
    "tfl.concatenation": OpDef("CONCATENATION", "ConcatenationOptions", _ACT),
    "tfl.cast": OpDef("CAST", "CastOptions"),
    "tfl.conv_2d": OpDef("CONV_2D", "Conv2DOptions", (*_ACT, ("padding", "Padding"))),
    "tfl.depthwise_conv_2d": OpDef("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", (*_ACT, ("padding", "Padding")),
                                   version=2),  # version 2: dilation factors
    "tfl.max_pool_2d": OpDef("MAX_POOL_2D", "Pool2DOptions", (*_ACT, ("padding", "Padding"))),
    "tfl.average_pool_2d": OpDef("AVERAGE_POOL_2D", "Pool2DOptions", (*_ACT, ("padding", "Padding"))),
    "tfl.atan2": OpDef("ATAN2", None),
    "tfl.embedding_lookup": OpDef("EMBEDDING_LOOKUP", None),
    "tfl.broadcast_to": OpDef("BROADCAST_TO", "BroadcastToOptions", version=2),  # version 1 was never a builtin
    **_simple({
        "maximum": ("MAXIMUM", "MaximumMinimumOptions"), "minimum": ("MINIMUM", "MaximumMinimumOptions"),
        "pow": ("POW", "PowOptions"), "squared_difference": ("SQUARED_DIFFERENCE", "SquaredDifferenceOptions"),
        "logical_and": ("LOGICAL_AND", "LogicalAndOptions"), "logical_or": ("LOGICAL_OR", "LogicalOrOptions"),
        "logical_not": ("LOGICAL_NOT", "LogicalNotOptions"),
        "equal": ("EQUAL", "EqualOptions"), "not_equal": ("NOT_EQUAL", "NotEqualOptions"),
        "less": ("LESS", "LessOptions"), "less_equal": ("LESS_EQUAL", "LessEqualOptions"),
        "greater": ("GREATER", "GreaterOptions"), "greater_equal": ("GREATER_EQUAL", "GreaterEqualOptions"),
        "select_v2": ("SELECT_V2", "SelectV2Options"),
        "neg": ("NEG", "NegOptions"), "exp": ("EXP", "ExpOptions"), "log": ("LOG", None),
        "rsqrt": ("RSQRT", None), "sqrt": ("SQRT", None), "tanh": ("TANH", None), "logistic": ("LOGISTIC", None),
        "abs": ("ABS", "AbsOptions"), "sin": ("SIN", None), "cos": ("COS", None), "floor": ("FLOOR", None),
        "ceil": ("CEIL", None), "round": ("ROUND", None), "sign": ("SIGN", None),
        "reshape": ("RESHAPE", "ReshapeOptions"), "transpose": ("TRANSPOSE", "TransposeOptions"),
        "slice": ("SLICE", "SliceOptions"), "strided_slice": ("STRIDED_SLICE", "StridedSliceOptions"),
        "batch_matmul": ("BATCH_MATMUL", "BatchMatMulOptions"),
        "sum": ("SUM", "ReducerOptions"), "mean": ("MEAN", "ReducerOptions"),
        "reduce_max": ("REDUCE_MAX", "ReducerOptions"), "reduce_min": ("REDUCE_MIN", "ReducerOptions"),
        "reduce_prod": ("REDUCE_PROD", "ReducerOptions"), "reduce_any": ("REDUCE_ANY", "ReducerOptions"),
        "reduce_all": ("REDUCE_ALL", "ReducerOptions"),
        "gather": ("GATHER", "GatherOptions"), "gather_nd": ("GATHER_ND", "GatherNdOptions"),
        "dynamic_update_slice": ("DYNAMIC_UPDATE_SLICE", "DynamicUpdateSliceOptions"),
        "pack": ("PACK", "PackOptions"), "softmax": ("SOFTMAX", "SoftmaxOptions"),
        "gelu": ("GELU", "GeluOptions"), "pad": ("PAD", "PadOptions"), "padv2": ("PADV2", "PadV2Options"),
        "reverse_v2": ("REVERSE_V2", "ReverseV2Options"), "cumsum": ("CUMSUM", "CumsumOptions"),
        "arg_max": ("ARG_MAX", "ArgMaxOptions"), "arg_min": ("ARG_MIN", "ArgMinOptions"),
        "floor_div": ("FLOOR_DIV", "FloorDivOptions"), "floor_mod": ("FLOOR_MOD", "FloorModOptions"),
        "range": ("RANGE", "RangeOptions"), "relu": ("RELU", None), "relu6": ("RELU6", None),
        "square": ("SQUARE", "SquareOptions"), "zeros_like": ("ZEROS_LIKE", "ZerosLikeOptions"),
        "while": ("WHILE", "WhileOptions"), "if": ("IF", "IfOptions"),
    }),
}


def producer(value):
    """The Operation that defines `value`, or None for a block argument."""
    owner = value.owner
    op = getattr(owner, "operation", owner)
    return op if isinstance(op, mlir.Operation) else None


def is_tfl(op) -> bool:
    return op.name.startswith("tfl.")


def allow(context) -> None:
    """Let `context` hold tfl ops (an unregistered dialect), and wrap them without a module search each time."""
    context.allow_unregistered_dialects = True
    ir.quiet_unregistered_dialect(DIALECT)


def _attr(value) -> mlir.Attribute:
    if isinstance(value, mlir.Attribute):
        return value
    if isinstance(value, bool):
        return mlir.BoolAttr.get(value)
    if isinstance(value, (int, np.integer)):
        return mlir.IntegerAttr.get(mlir.IntegerType.get_signless(32), int(value))
    if isinstance(value, (float, np.floating)):
        return mlir.FloatAttr.get(mlir.F32Type.get(), float(value))
    if isinstance(value, str):
        return mlir.StringAttr.get(value)
    if isinstance(value, (list, tuple)):
        return mlir.DenseI32ArrayAttr.get([int(v) for v in value])
    raise TypeError(f"no attribute form for {value!r}")


def create(name: str, operands, result_types, **attrs) -> mlir.Operation:
    """A tfl op at the current insertion point and location. `attrs` are plain Python values."""
    if name not in OPS and name not in (CONST, QCONST, NO_VALUE):
        raise HloError(f"internal: the backend has no TFL op {name}")
    return mlir.Operation.create(name, results=list(result_types), operands=list(operands),
                                 attributes={k: _attr(v) for k, v in attrs.items()})


def const(array, *, type=None) -> mlir.Value:
    """A `tfl.pseudo_const` holding `array` (or the attribute `array`, e.g. a dense_resource weight)."""
    attr = array if isinstance(array, mlir.Attribute) else ir.from_numpy(np.asarray(array), type=type)
    return mlir.Operation.create(CONST, results=[attr.type], attributes={"value": attr}).result


TRANSPOSED = "hlo.transposed"  # on a tfl.pseudo_const: its tensor is `value` transposed by this permutation
LAZY_TRANSPOSE_MIN = 1 << 16  # elements: smaller constants are transposed at once (and print as they are)


def const_transposed(attr, perm) -> mlir.Value:
    """A `tfl.pseudo_const` whose tensor is the elements attribute `attr` transposed by `perm`, made without a copy:
    the writer transposes it while it streams it into the file, one weight at a time. Why: a weight stored
    [K, N] under a FULLY_CONNECTED (JAX's Dense layout, or a transpose that optimize folded) would otherwise be
    held twice by the module. Clean-up and conversion rules see no value in it (`is_transposed`), so nothing
    reads its elements in the wrong layout."""
    t = mlir.RankedTensorType(attr.type)
    result = mlir.RankedTensorType.get([t.shape[p] for p in perm], t.element_type)
    return mlir.Operation.create(CONST, results=[result], attributes={
        "value": attr, TRANSPOSED: mlir.DenseI32ArrayAttr.get([int(p) for p in perm])}).result


def is_transposed(op) -> bool:
    return TRANSPOSED in op.attributes


def qconst(values, scale, axis: int | None, result_type, block: int = 0, transposed=None) -> mlir.Value:
    """A `tfl.pseudo_qconst`: int8 `values` whose float meaning (`result_type`) is values * scale along
    `axis` (None: one scale). Only weight operands of FC / BATCH_MATMUL / CONV_2D take it (hybrid kernels).
    With `block`: int4 `values` in blocks of `block` along `axis`, `scale` one per block (the values' shape
    with `axis` divided by `block`), for FULLY_CONNECTED's block-wise kernels.

    `values` may be the elements attribute that already holds the weight (quantize-int8-dynamic's constant):
    it is then used as it is, never read back and copied (`scale` likewise). With `transposed` (a permutation),
    the tensor is `values` transposed by it (see `const_transposed`; `axis` and `scale` are the tensor's)."""
    if isinstance(values, mlir.Attribute):
        v = values
    elif block:
        import ml_dtypes

        v = ir.from_numpy(np.ascontiguousarray(values, ml_dtypes.int4))
    else:
        v = ir.from_numpy(np.ascontiguousarray(values, np.int8))
    if isinstance(scale, mlir.Attribute):
        s = scale
    else:
        s = ir.from_numpy(np.asarray(scale, np.float32) if block else np.asarray(scale, np.float32).reshape(-1))
    attrs = {"value": v, "scale": s, "axis": _attr(-1 if axis is None else int(axis))}
    if block:
        attrs["block"] = _attr(int(block))
    if transposed is not None:
        attrs[TRANSPOSED] = mlir.DenseI32ArrayAttr.get([int(p) for p in transposed])
    return mlir.Operation.create(QCONST, results=[result_type], attributes=attrs).result


def qconst_block(value) -> int:
    """The block size of a block-wise int4 `tfl.pseudo_qconst` (its `axis` is the blocked one), else 0."""
    owner = value.owner
    op = getattr(owner, "operation", owner)
    if not isinstance(op, mlir.Operation) or op.name != QCONST or "block" not in op.attributes:
        return 0
    return int(op.attributes["block"].value)


def qconst_attrs(value):
    """(values attribute, scales attribute, axis or None) of a `tfl.pseudo_qconst` result, nothing read; or None
    (also for a transposed one, whose attribute is not in the tensor's layout)."""
    owner = value.owner
    op = getattr(owner, "operation", owner)
    if not isinstance(op, mlir.Operation) or op.name != QCONST or is_transposed(op):
        return None
    axis = int(op.attributes["axis"].value)
    return op.attributes["value"], op.attributes["scale"], (None if axis < 0 else axis)


def qconst_parts(value):
    """(int8 values, scales, axis or None) of a `tfl.pseudo_qconst` result, or None."""
    owner = value.owner
    op = getattr(owner, "operation", owner)
    if not isinstance(op, mlir.Operation) or op.name != QCONST:
        return None
    axis = int(op.attributes["axis"].value)
    values = ir.to_numpy(op.attributes["value"])
    if is_transposed(op):
        values = np.ascontiguousarray(values.transpose([int(p) for p in op.attributes[TRANSPOSED]]))
    return values, ir.to_numpy(op.attributes["scale"]), (None if axis < 0 else axis)


def i32(values) -> mlir.Value:
    """An int32 1-D constant (shapes, permutations, axes: what TFL takes as tensors)."""
    return const(np.asarray(values, np.int32).reshape(-1))


def no_value() -> mlir.Value:
    return mlir.Operation.create(NO_VALUE, results=[mlir.NoneType.get()]).result


def py_value(attr):
    """An MLIR attribute as a plain Python value (for the options of the flatbuffer)."""
    for cls, get in ((mlir.BoolAttr, lambda a: a.value), (mlir.IntegerAttr, lambda a: a.value),
                     (mlir.FloatAttr, lambda a: a.value), (mlir.StringAttr, lambda a: a.value),
                     (mlir.DenseI32ArrayAttr, list), (mlir.DenseI64ArrayAttr, list)):
        if isinstance(attr, cls):
            return get(attr)
    if isinstance(attr, mlir.ArrayAttr):
        return [py_value(a) for a in attr]
    raise HloError(f"attribute {attr} has no plain value")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def options_of(op, extra: dict | None = None):
    """The builtin options (schema.options triple) of a tfl op, from its attributes."""
    from . import schema  # LiteRT's schema module: needed only when writing a file

    d = OPS[op.name]
    if d.options is None:
        return None
    enums = dict(d.enums)
    fields = {}
    for name in op.attributes:
        key = _camel(name)
        value = py_value(op.attributes[name])
        if key in enums and isinstance(value, str):
            value = schema.enum(enums[key], value)
        fields[key] = value
    fields.update(extra or {})
    return schema.options(d.options, **fields)
