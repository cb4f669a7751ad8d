"""`simplify`: algebraic and structural clean-up (x+0, x*1, neg(neg x), reshape/transpose/broadcast
chains, convert chains that XLA computes the same as one convert, full slices, constant selects...).
The rules, one per line with their `lhs -> rhs`, are in patterns/algebra.py; dead ops and duplicate
constants go as the driver runs."""

from dataclasses import dataclass

from ..pass_manager import Pass, option, register_pass
from ..patterns.algebra import simplify_patterns
from ..patterns.fold import fold_patterns


@register_pass
@dataclass(frozen=True)
class Simplify(Pass):
    """Applies the algebraic simplification rules of patterns/algebra.py to a fixpoint, folding constants
    they expose on the way (the same evaluators as fold-constants, default limits)."""

    name = "simplify"
    summary = "algebraic and structural clean-up (x+0, x*1, transpose of transpose, ...)"
    max_iterations: int = option(10, "sweeps of the greedy driver before giving up (an error)")
    fold: bool = option(True, "also fold what the rules expose (x*0 -> 0 feeding other constants): so that "
                              "fold-constants,simplify leaves nothing to fold")

    def run(self, module, ctx):
        patterns = simplify_patterns() + fold_patterns() if self.fold else simplify_patterns()
        patterns.apply(module, ctx, max_iterations=self.max_iterations)
