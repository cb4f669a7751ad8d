"""`fold-constants`: evaluate ops whose operands are all constants (see patterns/folding.py for how each
op is evaluated to agree with XLA), and turn tensor `arith.constant`s into `stablehlo.constant`s."""

from dataclasses import dataclass

from ..pass_manager import Pass, option, register_pass
from ..patterns.fold import fold_patterns


@register_pass
@dataclass(frozen=True)
class FoldConstants(Pass):
    """Evaluates ops on constants with numpy: elementwise, compare, select, convert, reshape, broadcast,
    transpose, iota/dynamic_iota, slice/dynamic_slice, concatenate, pad, reduce, dot_general, gather.
    Splat results stay splat; results XLA leaves implementation-defined are not folded."""

    name = "fold-constants"
    summary = "evaluates ops whose operands are all constants"
    max_elements: int = option(1 << 20, "do not materialize non-splat results with more elements than this")

    def __post_init__(self):
        if self.max_elements < 0:
            raise ValueError("max-elements must be >= 0")

    def run(self, module, ctx):
        fold_patterns(self.max_elements).apply(module, ctx)
