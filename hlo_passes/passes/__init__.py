"""Every pass hlo_passes ships. Importing this package registers them (one module per pass, named after
the pass's CLI name with `-` as `_`), plus MLIR's own passes that are useful on StableHLO."""

from . import (  # noqa: F401
    fold_constants, fuse_kv_cache_update, fuse_rms_norm, fuse_sdpa, inline_calls, inline_composites, mlir_builtin,
    simplify,
)

from ..pass_manager import register_pipeline  # noqa: E402

register_pipeline(
    "optimize",
    "inline-calls,fold-constants,simplify,cse,fuse-sdpa,fuse-rms-norm,fuse-kv-cache-update,simplify,cse",
    "clean up an export, then raise attention, RMSNorm and KV-cache writes into LiteRT composites")
