"""`legalize-tflite`: StableHLO -> TFL builtin ops (held as `tfl.*` ops), ready to be written as a `.tflite`.

The rules are a table in `hlo_passes/tflite/legalize.py`; this pass runs them in conversion mode: every
StableHLO/CHLO/arith op must be converted, or the pass fails listing each one left with its place and
why. Composites stay (LiteRT runs them as STABLEHLO_COMPOSITE, delegates such as XNNPACK replace the ones
they know by a kernel); their decompositions are legalized like any function. `inline-composites` first
turns composites a target should not see into plain ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import mlir
from ..pass_manager import Pass, option, register_pass
from ..patterns.driver import apply_conversion
from ..patterns.outline import inline_composites
from ..tflite import legalize as L
from ..tflite import quantized as Q
from ..tflite.legalize_nn import RULES as NN_RULES
from ..tflite import ops as T
from ..tflite.cleanup import cleanup
from ..tflite.retype import retype, uses_type


# Which composites a target runs better as one op (measured: bench/tflite.py, tests/test_tflite_models.py).
# XNNPACK replaces SDPA composites by its own attention kernel (tiny Llama: 60 us kept vs 83 us inlined), but
# has no RMSNorm kernel: a kept odml.rms_norm makes it hand a subgraph call back to LiteRT (51 us inlined
# vs 60 us kept). The GPU delegates know both (not measurable on this machine).
KEEP_PRESETS = {
    "xnnpack": frozenset({"odml.scaled_dot_product_attention"}),
    "gpu": frozenset({"odml.scaled_dot_product_attention", "odml.rms_norm", "odml.layer_norm", "odml.gelu"}),
    "all": frozenset({"*"}),
    "none": frozenset(),
}


@register_pass
@dataclass(frozen=True)
class LegalizeTflite(Pass):
    """Converts every StableHLO op to TFL builtins (FULLY_CONNECTED, BATCH_MATMUL, elementwise, shape,
    reduction, gather, dynamic slices ...) or fails naming each op it cannot convert."""

    name = "legalize-tflite"
    summary = "converts StableHLO to TFL ops (tfl.*), the form written to .tflite"
    keep: str = option("xnnpack", "composites kept as STABLEHLO_COMPOSITE, the rest inlined into plain ops: a"
                                  " preset (xnnpack, gpu, all, none) or comma-separated composite names")
    bf16: str = option("error", "a bf16 model: 'error' (refuse, naming the first bf16 value) or 'f32' (compute,"
                                " take and return f32)")
    cleanup: bool = option(True, "drop broadcasts TFL does implicitly, merge reshapes/transposes, fold FC biases")
    demote_f64: bool = option(True, "compute f64 intermediates (torch-mlir's statistics math) in f32:"
                                    " LiteRT has almost no f64 kernels")

    def __post_init__(self):
        if self.bf16 not in ("error", "f32"):
            raise ValueError(f"bf16 must be 'error' or 'f32', not '{self.bf16}'")

    def run(self, module, ctx):
        T.allow(module.context)
        keep = KEEP_PRESETS.get(self.keep)
        if keep is None:
            keep = frozenset(n.strip() for n in self.keep.split(",") if n.strip())
        inlined = inline_composites(module, lambda name: "*" not in keep and name not in keep
                                    and name not in L.BUILTIN_COMPOSITES)
        if inlined:
            ctx.count("composites inlined (keep policy)", inlined)
        calls = []

        def visit(op):
            if op.name == "func.call":
                calls.append(op)
            return mlir.WalkResult.ADVANCE

        module.walk(visit)
        if calls:
            ctx.fail("the module calls functions (func.call): run inline-calls first", calls[0])
        funcs = [op.operation for op in module.regions[0].blocks[0].operations if op.operation.name == "func.func"]
        for fn in funcs:
            if self.bf16 == "f32":
                n = retype(fn, mlir.BF16Type, interface=True)
                if n:
                    ctx.count("bf16 values computed in f32", n)
            elif (where := uses_type(fn, mlir.BF16Type)) is not None:
                ctx.fail(f"the model computes in bf16 ({where}), which LiteRT has no kernels for: run"
                         " legalize-tflite{bf16=f32} to compute (and take inputs) in f32")
            if self.demote_f64:
                n = retype(fn, mlir.F64Type, interface=False)
                if n:
                    ctx.count("f64 values computed in f32", n)
        if n := L.builtin_composites(module):
            ctx.count("composites converted to TFL builtins", n)
        folded = Q.fold_dequantize(module)
        if folded:
            ctx.count("int8 weights (hybrid kernels)", folded)
        looked_up = Q.fold_embedding_lookups(module)
        if looked_up:
            ctx.count("int8 embedding tables (EMBEDDING_LOOKUP)", looked_up)
        apply_conversion(module, {**L.RULES, **NN_RULES}, illegal=L.ILLEGAL, legal=L.LEGAL, what="legalize-tflite",
                         ctx=ctx)
        if self.cleanup:
            ctx.count("ops removed by clean-up", cleanup(module))
