"""`fold-constants`: evaluate ops whose operands are all constants (see patterns/folding.py for how each
op is evaluated to agree with XLA), and turn tensor `arith.constant`s into `stablehlo.constant`s."""

from dataclasses import dataclass

from ..pass_manager import Pass, option, register_pass
from ..patterns.fold import fold_patterns


@register_pass
@dataclass(frozen=True)
class FoldConstants(Pass):
    """Evaluates ops on constants with numpy: elementwise, compare, select, convert, reshape, broadcast,
    transpose, iota/dynamic_iota, slice/dynamic_slice, concatenate, pad, reduce, reduce_window,
    dot_general, gather, on f64/f32/f16/bf16/f8 (E4M3FN, E5M2, E4M3FNUZ, E5M2FNUZ, E4M3B11FNUZ), i1 and
    i4..i64/ui4..ui64; other element types are left alone. Splat results stay splat (and reductions of
    splats are computed from the one value); results XLA leaves implementation-defined, and folds above
    the work bounds, are not folded."""

    name = "fold-constants"
    summary = "evaluates ops whose operands are all constants"
    max_elements: int = option(1 << 20, "do not materialize non-splat results with more elements than this")

    def __post_init__(self):
        if self.max_elements < 0:
            raise ValueError("max-elements must be >= 0")

    def run(self, module, ctx):
        fold_patterns(self.max_elements).apply(module, ctx)
