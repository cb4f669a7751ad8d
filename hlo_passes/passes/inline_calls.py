"""`inline-calls`: inline `func.call`s of private functions, then drop the functions nobody calls.

jaxlib's build of MLIR's `inline` pass does not inline `func.call`, and JAX puts `jnp.where`, `tril` and
friends in private functions: patterns cannot see through a call, so the fusion pipeline inlines first.
Composite decompositions are left alone (they are called by composites, not by func.call).
"""

from dataclasses import dataclass

from ..ir import mlir
from ..pass_manager import Pass, option, register_pass
from ..patterns.outline import decomposition_names, replace_by_block


def _functions(module) -> dict:
    body = module.regions[0].blocks[0]
    return {mlir.StringAttr(op.attributes["sym_name"]).value: op for op in body.operations
            if op.operation.name == "func.func"}


def _private(fn) -> bool:
    return "sym_visibility" in fn.attributes and mlir.StringAttr(fn.attributes["sym_visibility"]).value == "private"


def _calls(module) -> list:
    found = []

    def visit(op):
        if op.name == "func.call":
            found.append(op)
        return mlir.WalkResult.ADVANCE

    module.walk(visit)
    return found


@register_pass
@dataclass(frozen=True)
class InlineCalls(Pass):
    """Replaces each call of a private single-block function by a copy of its body, repeatedly (calls
    inside inlined bodies too), then erases private functions that are no longer called."""

    name = "inline-calls"
    summary = "inlines func.call of private functions (MLIR's inline does not, in jaxlib's build)"
    max_depth: int = option(16, "how many rounds of nested calls to inline before stopping")

    def run(self, module, ctx):
        keep = decomposition_names(module)
        for _ in range(self.max_depth):
            funcs = _functions(module)
            calls = [c for c in _calls(module)
                     if (callee := funcs.get(mlir.FlatSymbolRefAttr(c.attributes["callee"]).value)) is not None
                     and _private(callee) and len(callee.regions[0].blocks) == 1]
            if not calls:
                break
            for call in calls:
                callee = funcs[mlir.FlatSymbolRefAttr(call.attributes["callee"]).value]
                replace_by_block(call, callee.regions[0].blocks[0])
                ctx.count("calls inlined")
        called = {mlir.FlatSymbolRefAttr(c.attributes["callee"]).value for c in _calls(module)}
        for name, fn in _functions(module).items():
            if _private(fn) and name not in called and name not in keep:
                fn.operation.erase()
                ctx.count("functions erased")
