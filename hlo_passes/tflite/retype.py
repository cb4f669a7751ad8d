"""Element types LiteRT cannot compute in, changed before legalization, each with a stated cost.

- f64 -> f32 inside functions (`legalize-tflite{demote-f64}`, on by default): torch-mlir does some
  statistics math in f64 (GPT-2's LayerNorm variance: cast to f64, sum, cast back). LiteRT has almost no
  f64 kernels and a TFLite model computes in f32 anyway; the cost is f32 rounding of those intermediates.
  An f64 function interface is refused: changing what the caller passes is not ours to do silently.
- bf16 -> f32 everywhere, interface included (`legalize-tflite{bf16=f32}`, off by default): LiteRT has no
  bf16 kernels for most ops; computing in f32 is more precise than the bf16 model, and the `.tflite` takes
  and returns f32. Without the option a bf16 model is refused with the first bf16 value's place.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..diagnostics import HloError, SourceLoc
from ..ir import mlir

_CONSTANTS = ("stablehlo.constant", "arith.constant")


def _retyped(t, source: type, target):
    """`t` with its element type replaced when it is of class `source`, else None."""
    if isinstance(t, mlir.RankedTensorType) and isinstance(t.element_type, source):
        return mlir.RankedTensorType.get(list(t.shape), target)
    return None


def _blocks(op):
    todo = [b for r in op.regions for b in r.blocks]
    while todo:
        block = todo.pop()
        yield block
        for item in block.operations:
            todo.extend(b for r in item.operation.regions for b in r.blocks)


def _where(op) -> str:
    loc = SourceLoc.parse(str(op.location))
    return f" at {loc}" if loc else ""


def uses_type(function, source: type) -> str | None:
    """Where `function` first has a value of element class `source` (for error messages), or None."""
    with mlir.Location.unknown():
        return _first_use(function, source)


def _first_use(function, source: type) -> str | None:
    for block in _blocks(function):
        for arg in block.arguments:
            if _retyped(arg.type, source, mlir.F32Type.get()) is not None:
                return f"an argument of @{mlir.StringAttr(function.attributes['sym_name']).value}"
        for item in block.operations:
            op = item.operation
            if any(_retyped(r.type, source, mlir.F32Type.get()) is not None for r in op.results):
                return f"{op.name}{_where(op)}"
    return None


def retype(function, source: type, *, interface: bool) -> int:
    """Compute values of element class `source` (mlir.F64Type, mlir.BF16Type) in f32 inside `function`;
    with `interface`, its arguments and results too. Returns how many values changed type."""
    with mlir.Location.unknown():
        f32 = mlir.F32Type.get()
        ftype = mlir.FunctionType(mlir.TypeAttr(function.attributes["function_type"]).value)
        wrong = [t for t in [*ftype.inputs, *ftype.results] if _retyped(t, source, f32) is not None]
        if wrong and not interface:
            name = mlir.StringAttr(function.attributes["sym_name"]).value
            raise HloError(f"@{name} takes or returns {wrong[0]}: LiteRT has no kernels for it, and changing a"
                           " function's interface is not done silently")
        changed = 0
        for block in _blocks(function):
            for arg in block.arguments:
                new = _retyped(arg.type, source, f32)
                if new is not None:
                    arg.set_type(new)
                    changed += 1
            for item in block.operations:
                op = item.operation
                for r in op.results:
                    new = _retyped(r.type, source, f32)
                    if new is not None:
                        r.set_type(new)
                        changed += 1
                if op.name in _CONSTANTS:
                    attr = op.attributes["value"]
                    if isinstance(mlir.ShapedType(attr.type).element_type, source):
                        op.attributes["value"] = ir.from_numpy(ir.to_numpy(attr).astype(np.float32),
                                                               type=op.result.type)
        if interface and wrong:
            types = [_retyped(t, source, f32) or t for t in ftype.inputs]
            results = [_retyped(t, source, f32) or t for t in ftype.results]
            function.attributes["function_type"] = mlir.TypeAttr.get(mlir.FunctionType.get(types, results))
        return changed
