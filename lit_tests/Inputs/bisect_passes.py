"""Pattern passes with one wrong rule among right ones, for --check-numerics, --bisect and the debugging
aids around them (loaded with --load-pass-plugin; tests/test_debugging.py uses them too).

Written the way a user writes a pass: patterns from the public pattern language, a PatternSet, a pass."""

from dataclasses import dataclass

import hlo_passes as hp
from hlo_passes import ir
from hlo_passes.ir import stablehlo as hlo
from hlo_passes.patterns import Const, Op, Pattern, PatternSet, V


def _times(m, k):
    x = m["x"]
    return hlo.MulOp(x, hlo.ConstantOp(ir.splat(k, x.type)).result).result


ADD_ZERO = Pattern("add-zero", Op(hlo.AddOp, V("x"), Const(value=0)), lambda m: m["x"])  # x + 0 -> x
MUL_ONE = Pattern("mul-one", Op(hlo.MulOp, V("x"), Const(value=1)), lambda m: m["x"])  # x * 1 -> x
DOUBLE = Pattern("double-to-add", Op(hlo.MulOp, V("x"), Const(value=2)),  # x * 2 -> x + x
                 lambda m: hlo.AddOp(m["x"], m["x"]).result)
WRONG_DOUBLE = Pattern("times-three", Op(hlo.MulOp, V("x"), Const(value=2)),  # x * 2 -> x * 3 (wrong)
                       lambda m: _times(m, 3))
WRONG_NEGATE = Pattern("negate-is-identity", Op(hlo.NegOp, V("x")), lambda m: m["x"])  # -x -> x (wrong)


@hp.register_pass
@dataclass(frozen=True)
class TimesThree(hp.Pass):
    """Rewrites x * 2 into x * 3: breaks the numerics of every module with a doubling in it."""

    name = "test-times-three"
    summary = "x * 2 -> x * 3 (wrong on purpose)"

    def run(self, module, ctx):
        PatternSet([WRONG_DOUBLE], name=self.name).apply(module, ctx)


@hp.register_pass
@dataclass(frozen=True)
class Cleanup(hp.Pass):
    """Four rules, one of them wrong (negate-is-identity): --bisect must name it and where it applied."""

    name = "test-four-rules"
    summary = "x+0, x*1, x*2 and (wrongly) -x"

    def run(self, module, ctx):
        PatternSet([ADD_ZERO, MUL_ONE, DOUBLE, WRONG_NEGATE], name="cleanup-rules").apply(module, ctx)


def _bad_where(m):
    return m["x"].type.shape[5] > 0  # an IndexError on rank-1 tensors: a bug in the user's condition


def _bad_rewrite(m):
    return hlo.AddOp(m["x"], 2).result  # 2 is not a Value: jaxlib's op builder raises


@hp.register_pass
@dataclass(frozen=True)
class BuggyWhere(hp.Pass):
    """A pattern whose `where` raises."""

    name = "test-buggy-where"
    summary = "a pattern whose condition raises"

    def run(self, module, ctx):
        PatternSet([Pattern("buggy-where", Op(hlo.MulOp, V("x"), V("y")), lambda m: m["x"], where=_bad_where)]
                   ).apply(module, ctx)


@hp.register_pass
@dataclass(frozen=True)
class BuggyRewrite(hp.Pass):
    """A pattern whose rewrite raises inside jaxlib's op builder."""

    name = "test-buggy-rewrite"
    summary = "a pattern whose rewrite raises"

    def run(self, module, ctx):
        PatternSet([Pattern("buggy-rewrite", Op(hlo.MulOp, V("x"), V("y")), _bad_rewrite)]).apply(module, ctx)
