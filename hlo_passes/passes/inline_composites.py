"""`inline-composites`: replace composites by their decompositions (all, or those of some names).

The way back from fusion: a runtime without a kernel for a composite, or a debugging session that wants
to see what a composite stands for, gets exactly the computation that was matched.
"""

from dataclasses import dataclass

from ..pass_manager import Pass, option, register_pass
from ..patterns.outline import inline_composites


@register_pass
@dataclass(frozen=True)
class InlineComposites(Pass):
    """Inlines each `stablehlo.composite` (optionally only those whose name is in `names`) and erases the
    decomposition functions nobody refers to any more."""

    name = "inline-composites"
    summary = "replaces composites by their decompositions"
    names: str = option("", "comma-separated composite names to inline (empty: all)")

    def run(self, module, ctx):
        wanted = {n.strip() for n in self.names.split(",") if n.strip()}
        n = inline_composites(module, lambda name: not wanted or name in wanted)
        if n:
            ctx.count("composites inlined", n)
