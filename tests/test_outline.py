"""Outlining: identical decompositions are one private function, and a fusion walk's symbol cache lives on
the walk (two runs never see each other's names)."""

import jax
import jax.numpy as jnp

import hlo_passes as hp
from hlo_passes import ir, numerics


def _rms(x, w, eps):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _module(eps_b: float):
    def f(x, w1, w2, w3):
        return _rms(x, w1, 1e-6) + _rms(x * 2.0, w2, 1e-6) + _rms(x - 1.0, w3, eps_b)

    spec = (jax.ShapeDtypeStruct((4, 16), jnp.float32), *[jax.ShapeDtypeStruct((16,), jnp.float32)] * 3)
    return hp.parse(jax.jit(f).lower(*spec).as_text())


def _decompositions(module) -> list[str]:
    return [ir.mlir.StringAttr(op.attributes["sym_name"]).value for op in ir.module_ops(module)
            if "sym_name" in op.attributes and ".impl" in ir.mlir.StringAttr(op.attributes["sym_name"]).value]


def test_identical_bodies_share_one_decomposition_and_results_hold():
    module = _module(1e-5)
    fused = hp.run(module, "inline-calls,fold-constants,simplify,cse,fuse-rms-norm")
    text = ir.to_text(fused)
    assert text.count('stablehlo.composite "odml.rms_norm"') == 3
    names = _decompositions(fused)
    assert len(names) == 2, names  # eps 1e-6 twice (one body), eps 1e-5 once
    for name in names:
        assert text.count(f"decomposition = @{name}") >= 1
    inputs = numerics.random_inputs(module, 0)
    assert numerics.compare(numerics.execute(fused, inputs), numerics.execute(module, inputs), rtol=1e-5, atol=1e-6)
    assert len(_decompositions(hp.run(fused, "inline-composites"))) == 0


def test_names_do_not_leak_between_runs():
    """The same input gives the same names, run after run (no counter or cache outside the walk)."""
    module = _module(1e-6)
    first = ir.to_text(hp.run(module, "inline-calls,fold-constants,simplify,cse,fuse-rms-norm"))
    second = ir.to_text(hp.run(module, "inline-calls,fold-constants,simplify,cse,fuse-rms-norm"))
    assert first == second and _decompositions(hp.parse(first)) == ["odml.rms_norm.impl"]


def test_histograms_count_the_program_apart_from_decompositions():
    from hlo_passes.instrumentation import op_histogram, op_histograms

    fused = hp.run(_module(1e-5), "inline-calls,fold-constants,simplify,cse,fuse-rms-norm")
    program, inside = op_histograms(fused)
    assert program["stablehlo.composite"] == 3 and program["stablehlo.rsqrt"] == 0
    assert inside["stablehlo.rsqrt"] == 2 and inside["func.func"] == 2  # two distinct bodies
    assert program + inside == op_histogram(fused)
