"""Wrong-on-purpose passes that --check-numerics must catch (loaded with --load-pass-plugin)."""

from dataclasses import dataclass

import hlo_passes as hp
from hlo_passes import ir
from hlo_passes.ir import mlir, stablehlo


def ops_named(module, name):
    found = []
    module.walk(lambda op: (found.append(op) if op.name == name else None) or mlir.WalkResult.ADVANCE)
    return found


@hp.register_pass
@dataclass(frozen=True)
class BumpIntConstants(hp.Pass):
    """Adds 5 to every integer constant: within rtol=1e-5 of a constant of 1e6, yet a different integer."""

    name = "test-bump-int-constants"
    summary = "adds 5 to integer constants (wrong on purpose)"

    def run(self, module, ctx):
        for op in ops_named(module, "stablehlo.constant"):
            value = ir.to_numpy(op.attributes["value"])
            if value.dtype.kind in "iu":
                op.attributes["value"] = ir.from_numpy(value + value.dtype.type(5), type=op.result.type)


@hp.register_pass
@dataclass(frozen=True)
class DropNarrowingRoundTrip(hp.Pass):
    """Replaces convert(convert(x, i8), i32) by x: right for x in [-128, 127], wrong beyond (saturation and
    wrap-around bugs look like this, and only inputs at the edges show them)."""

    name = "test-drop-narrowing"
    summary = "drops an i32 -> i8 -> i32 round trip (wrong on purpose)"

    def run(self, module, ctx):
        for op in ops_named(module, "stablehlo.convert"):
            inner = op.operands[0].owner
            if getattr(inner, "name", None) == "stablehlo.convert" and \
                    inner.operands[0].type == op.result.type:
                op.result.replace_all_uses_with(inner.operands[0])
                op.erase()


@hp.register_pass
@dataclass(frozen=True)
class EndlessLoops(hp.Pass):
    """Makes every stablehlo.while's condition constant true: the module now runs forever."""

    name = "test-endless-loop"
    summary = "turns while loops into endless ones (wrong on purpose)"

    def run(self, module, ctx):
        for op in ops_named(module, "stablehlo.while"):
            ret = op.regions[0].blocks[0].operations[len(op.regions[0].blocks[0].operations) - 1]
            with mlir.InsertionPoint(ret), ret.location:
                true = mlir.DenseElementsAttr.get_splat(ret.operands[0].type, mlir.BoolAttr.get(True))
                ret.operands[0] = stablehlo.ConstantOp(true).result
