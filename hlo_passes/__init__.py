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

The names below are imported on first use (PEP 562): `import hlo_passes` itself loads nothing heavy, so
the CLI can set up its signal handling before jaxlib's second-long import starts.
"""

import importlib

_EXPORTS = {
    "ir": ("ir", None), "HloError": ("diagnostics", "HloError"), "SourceLoc": ("diagnostics", "SourceLoc"),
    "Decline": ("diagnostics", "Decline"), "RewriteBudget": ("patterns.driver", "RewriteBudget"),
    "load": ("ir", "load"), "parse": ("ir", "parse"), "save": ("ir", "save"),
    **{name: ("pass_manager", name) for name in (
        "CheckFailed", "Instrument", "MlirPass", "Pass", "PassContext", "PassFailure", "PassManager", "load_plugin",
        "option",
        "parse_pipeline", "register_pass", "register_pipeline", "registered_passes", "registered_pipelines", "run")},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hlo_passes' has no attribute '{name}'")
    module, attr = _EXPORTS[name]
    value = importlib.import_module(f".{module}", __name__)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
