"""The pattern language: templates over StableHLO op classes, patterns as values, sets that compose.

    from hlo_passes.patterns import Op, V, Const, Alt, Opt, Pattern, PatternSet
    from hlo_passes.ir import stablehlo as hlo

    MUL_ONE = Pattern("mul-one", Op(hlo.MulOp, V("x"), Const(value=1)), lambda m: m["x"])  # x*1 -> x
"""

from .driver import ConversionFailed, Decline, Pattern, PatternSet, apply_conversion, apply_once, apply_patterns, explain
from .template import COMMUTATIVE, Alt, Const, Match, Op, Opt, Template, V, match_root

__all__ = ["ConversionFailed", "Decline", "apply_conversion", "Pattern", "PatternSet", "apply_once", "apply_patterns", "explain", "Alt", "Const", "Match", "Op", "Opt",
           "Template", "V", "match_root", "COMMUTATIVE"]
