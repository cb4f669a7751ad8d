"""MLIR's own passes, as jaxlib's build registers them, usable by name in any pipeline.

Their options are MLIR's and are checked by MLIR (`canonicalize{max-iterations=3}`). jaxlib does not
register StableHLO's folder or simplifier, so those are ours (`fold-constants`, `simplify`).
"""

from ..pass_manager import register_mlir_pass

for _name, _summary in {
    "canonicalize": "MLIR's canonicalizer: folds ops and applies their canonicalization patterns",
    "cse": "MLIR's common subexpression elimination",
    "symbol-dce": "MLIR's dead symbol elimination: drops private functions nobody calls",
    "inline": "MLIR's inliner (note: jaxlib's build does not inline func.call)",
    "sccp": "MLIR's sparse conditional constant propagation",
    "loop-invariant-code-motion": "MLIR's hoisting of loop-invariant ops out of while bodies",
    "control-flow-sink": "MLIR's sinking of ops into the regions that use them",
    "remove-dead-values": "MLIR's removal of unused values, arguments and results",
    "strip-debuginfo": "MLIR's removal of all locations (replaced by unknown)",
    "symbol-privatize": "MLIR's marking of every symbol but the excluded ones private",
    "topological-sort": "MLIR's topological sort of graph regions",
    "stablehlo-refine-shapes": "StableHLO's shape refinement: propagates static shapes through the module",
    "stablehlo-convert-to-signless": "StableHLO's conversion of unsigned integer types to signless",
    "stablehlo-compatibility-expander": "StableHLO's expansion of new ops for older consumers",
}.items():
    register_mlir_pass(_name, _summary)
