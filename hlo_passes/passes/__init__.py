"""Every pass hlo_passes ships, as a table: CLI name -> the module that defines (and registers) it.

Modules are imported only when their pass is used or listed, so `hlo-opt --pass cse` does not import the
fusion passes. One module per pass, named after the pass's CLI name with `-` as `_`; MLIR's own passes
are all registered by `mlir_builtin`. `hlo_passes/__init__.py` hands this table to the registry.
"""

_MLIR = "hlo_passes.passes.mlir_builtin"

BUILTIN_PASSES = {
    "fold-constants": "hlo_passes.passes.fold_constants",
    "fuse-gelu": "hlo_passes.passes.fuse_gelu",
    "fuse-kv-cache-update": "hlo_passes.passes.fuse_kv_cache_update",
    "fuse-layer-norm": "hlo_passes.passes.fuse_layer_norm",
    "fuse-parallel-dots": "hlo_passes.passes.fuse_parallel_dots",
    "fuse-rms-norm": "hlo_passes.passes.fuse_rms_norm",
    "fuse-sdpa": "hlo_passes.passes.fuse_sdpa",
    "inline-calls": "hlo_passes.passes.inline_calls",
    "inline-composites": "hlo_passes.passes.inline_composites",
    "legalize-tflite": "hlo_passes.passes.legalize_tflite",
    "quantize-int8-dynamic": "hlo_passes.passes.quantize_int8_dynamic",
    "simplify": "hlo_passes.passes.simplify",
    "sink-transposes": "hlo_passes.passes.sink_transposes",
    **{name: _MLIR for name in (
        "canonicalize", "cse", "symbol-dce", "inline", "sccp", "loop-invariant-code-motion", "control-flow-sink",
        "remove-dead-values", "strip-debuginfo", "symbol-privatize", "topological-sort", "stablehlo-refine-shapes",
        "stablehlo-convert-to-signless", "stablehlo-compatibility-expander")},
}

BUILTIN_PIPELINES = {
    "optimize": (
        "inline-calls,fold-constants,simplify,cse,fuse-sdpa,fuse-layer-norm,fuse-rms-norm,fuse-gelu,"
        "fuse-kv-cache-update,sink-transposes,simplify,cse",
        "clean up an export, then raise attention, LayerNorm, RMSNorm, GELU and KV-cache writes into LiteRT"
        " composites"),
}
