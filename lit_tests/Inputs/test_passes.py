"""Passes that exist only to exercise the pass manager from lit tests (loaded with --load-pass-plugin).

They use the raw bindings on purpose: this is what a user's first plugin looks like.
"""

from dataclasses import dataclass

import hlo_passes as hp
from hlo_passes.ir import mlir, stablehlo


def ops_named(module, name):
    found = []
    module.walk(lambda op: (found.append(op) if op.name == name else None) or mlir.WalkResult.ADVANCE)
    return found


@hp.register_pass
@dataclass(frozen=True)
class WrongAdd(hp.Pass):
    """Turns every stablehlo.add into a subtract: a deliberately wrong rewrite for --check-numerics."""

    name = "test-wrong-add"
    summary = "replaces add by subtract (wrong on purpose)"

    def run(self, module, ctx):
        for op in ops_named(module, "stablehlo.add"):
            with mlir.InsertionPoint(op), op.location:
                new = stablehlo.SubtractOp(op.operands[0], op.operands[1])
            op.result.replace_all_uses_with(new.result)
            op.erase()
            ctx.count("adds rewritten")


@hp.register_pass
@dataclass(frozen=True)
class CountOps(hp.Pass):
    """Counts ops of one name into --statistics, changing nothing."""

    name = "test-count"
    summary = "counts ops of a given name"
    op: str = hp.option("stablehlo.add", "the op name to count")
    times: int = hp.option(1, "how many times to count each")

    def run(self, module, ctx):
        ctx.count(f"{self.op} seen", self.times * len(ops_named(module, self.op)))


@hp.register_pass
@dataclass(frozen=True)
class Fail(hp.Pass):
    """Fails at the first multiply, with its location."""

    name = "test-fail"
    summary = "fails on the first stablehlo.multiply"

    def run(self, module, ctx):
        for op in ops_named(module, "stablehlo.multiply"):
            ctx.fail("found a multiply, which this pass refuses", op)


@hp.register_pass
@dataclass(frozen=True)
class Raise(hp.Pass):
    """Raises a Python exception: a bug in a pass."""

    name = "test-raise"
    summary = "raises ZeroDivisionError"

    def run(self, module, ctx):
        return 1 // 0


@hp.register_pass
@dataclass(frozen=True)
class BreakTypes(hp.Pass):
    """Makes the module invalid: the function's return type no longer matches what it returns."""

    name = "test-invalid"
    summary = "leaves a module the verifier rejects"

    def run(self, module, ctx):
        for fn in ops_named(module, "func.func"):
            fn.attributes["function_type"] = mlir.TypeAttr.get(mlir.FunctionType.get([], []))
