"""Every pass hlo_passes ships. Importing this package registers them (one module per pass, named after
the pass's CLI name with `-` as `_`), plus MLIR's own passes that are useful on StableHLO."""

from . import fold_constants, fuse_rms_norm, fuse_sdpa, inline_calls, mlir_builtin, simplify  # noqa: F401
