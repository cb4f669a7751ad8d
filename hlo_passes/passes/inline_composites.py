"""`inline-composites`: replace composites by their decompositions (all, or those of some names).

The way back from fusion: a runtime without a kernel for a composite, or a debugging session that wants
to see what a composite stands for, gets exactly the computation that was matched.
"""

from dataclasses import dataclass

from ..ir import mlir
from ..pass_manager import Pass, option, register_pass
from ..patterns.outline import replace_by_block


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
        body = module.regions[0].blocks[0]
        funcs = {mlir.StringAttr(op.attributes["sym_name"]).value: op for op in body.operations
                 if op.operation.name == "func.func"}
        found = []
        module.walk(lambda op: (found.append(op) if op.name == "stablehlo.composite" else None)
                    or mlir.WalkResult.ADVANCE)
        for comp in found:
            if wanted and mlir.StringAttr(comp.attributes["name"]).value not in wanted:
                continue
            fn = funcs[mlir.FlatSymbolRefAttr(comp.attributes["decomposition"]).value]
            replace_by_block(comp, fn.regions[0].blocks[0])
            ctx.count("composites inlined")
        still = set()
        module.walk(lambda op: (still.add(mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value)
                                if op.name == "stablehlo.composite" else None) or mlir.WalkResult.ADVANCE)
        for name, fn in funcs.items():
            if name not in still and ".impl" in name and "sym_visibility" in fn.attributes:
                fn.operation.erase()
