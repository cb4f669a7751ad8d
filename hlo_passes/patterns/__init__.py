"""The pattern language: templates over StableHLO op classes, patterns as values, sets that compose.

    from hlo_passes.patterns import Op, V, Const, Alt, Opt, Pattern, PatternSet
    from hlo_passes.ir import stablehlo as hlo

    MUL_ONE = Pattern("mul-one", Op(hlo.MulOp, V("x"), Const(value=1)), lambda m: m["x"])  # x*1 -> x

The fusion vocabulary (vocabulary.py, fusion.py): `Scalar("eps")` (a scalar constant however spelled),
`Plumbed(t)` (t behind reshapes/broadcasts), `Mean(t)`, `is_float`, `per_row`/`per_feature` checks, and
`fusion("odml.gelu", template, inputs=["x"], attrs=...)` with the `FusionPass` base.
"""

from .driver import (ConversionFailed, Decline, Pattern, PatternSet, apply_conversion, apply_once, apply_patterns,
                     explain)
from .fusion import FusionPass, Operand, fusion
from .outline import Adapter, outline_composite, region
from .template import COMMUTATIVE, Alt, Const, Match, Op, Opt, Template, V, match_root
from .vocabulary import (Mean, Plumbed, Scalar, check_mean, close_to, describe, is_float, per_feature, per_row,
                         rank_at_least, row_splat, scalar_of, splat_like)

__all__ = ["ConversionFailed", "Decline", "apply_conversion", "Pattern", "PatternSet", "apply_once", "apply_patterns",
           "explain", "Alt", "Const", "Match", "Op", "Opt", "Template", "V", "match_root", "COMMUTATIVE", "FusionPass",
           "Operand", "fusion", "Adapter", "outline_composite",
           "region", "Mean", "Plumbed", "Scalar", "check_mean", "close_to", "describe", "is_float", "per_feature",
           "per_row", "rank_at_least", "row_splat", "scalar_of", "splat_like"]
