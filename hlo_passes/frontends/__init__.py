"""Front ends: turn models from other frameworks into StableHLO text that `hlo_passes.ir.parse` reads.

Each front end lives in its own module and imports its framework lazily, so that `import hlo_passes`
never needs torch (or anything else heavy) installed.
"""
