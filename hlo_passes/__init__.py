"""hlo_passes: a pass framework over MLIR/StableHLO.

    import hlo_passes as hp
    m = hp.load("model.mlir")                       # text, bytecode or a jax.export artifact
    out = hp.run(m, "canonicalize,cse")             # a new module; `m` is left as it was
    hp.save(out, "out.mlirbc", format="bytecode")

Write a pass as a frozen dataclass and register it:

    @hp.register_pass
    @dataclass(frozen=True)
    class CountAdds(hp.Pass):
        name = "count-adds"
        summary = "counts stablehlo.add ops"
        def run(self, module, ctx):
            ...
"""

from . import ir
from .diagnostics import HloError, SourceLoc
from .ir import load, parse, save
from .passes import BUILTIN_PASSES, BUILTIN_PIPELINES
from .pass_manager import (
    Instrument, MlirPass, Pass, PassContext, PassFailure, PassManager, load_plugin, option, parse_pipeline,
    register_pass, register_pipeline, registered_passes, registered_pipelines, run,
)

from .pass_manager import register_builtins as _register_builtins

_register_builtins(BUILTIN_PASSES, BUILTIN_PIPELINES)

__all__ = [
    "ir", "HloError", "SourceLoc", "load", "parse", "save", "Instrument", "MlirPass", "Pass", "PassContext",
    "PassFailure", "PassManager", "load_plugin", "option", "parse_pipeline", "register_pass",
    "register_pipeline", "registered_passes", "registered_pipelines", "run",
]
