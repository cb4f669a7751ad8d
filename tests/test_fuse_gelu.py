"""fuse-gelu on what exporters really write: jax.nn.gelu (both forms), a hand-written erf GELU, torch's
F.gelu (both forms) through torch-mlir, and a GPT-2-like MLP. Each rewrite must give exactly the expected
`odml.gelu` composites with the right {approximate}, the same results on XLA CPU bit for bit (the
decomposition is the matched ops), and, because a composite is a promise about meaning, GELU computed from
the composite's operand and attribute alone (numpy/scipy here, the jax reference kernel in
composite_check) must equal the original module's output. A second run changes nothing."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

import hlo_passes as hp
from conftest import composites_named
from hlo_passes import composite_check, ir, numerics

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
CLEANUP = "inline-calls,fold-constants,simplify,cse"


def gelu_reference(x: np.ndarray, approximate: bool) -> np.ndarray:
    """GELU from its definition, in f64."""
    x = x.astype(np.float64)
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def composites(module, name="odml.gelu") -> list:
    return composites_named(module, name)


def approximate(op) -> bool:
    return bool(ir.mlir.BoolAttr(ir.mlir.DictAttr(op.attributes["composite_attributes"])["approximate"]).value)


def fuse_and_check(module, count: int, approx: bool, pipeline: str = "fuse-gelu"):
    """Run `pipeline`: `count` composites with {approximate = approx}, bit-exact results, idempotent."""
    out = hp.run(module, pipeline)
    ops = composites(out)
    assert len(ops) == count, ir.to_text(out)
    assert all(approximate(op) == approx for op in ops)
    same = numerics.check_same(module, out, rtol=0, atol=0)
    assert same, same.detail
    again = hp.run(out, "fuse-gelu")
    assert ir.to_text(again) == ir.to_text(out)
    return out, ops


def jax_module(f, *shapes, dtype=jnp.float32):
    return ir.parse(jax.jit(f).lower(*[jax.ShapeDtypeStruct(s, dtype) for s in shapes]).as_text())


def check_definition(module, out, approx: bool, seed: int = 3):
    """The single composite's operand is the function's input: GELU by definition on that input equals
    what the original module computes."""
    (op,) = composites(out)
    fn = numerics.entry_function(out)
    assert op.operands[0] == fn.regions[0].blocks[0].arguments[0]
    x = np.random.default_rng(seed).normal(0, 3, numerics.signature(module)[0][0]).astype(np.float32)
    (want,) = numerics.execute(module, [x])
    np.testing.assert_allclose(gelu_reference(x, approx), want, rtol=2e-6, atol=2e-6)


JAX_FORMS = {
    "tanh": (lambda x: jax.nn.gelu(x, approximate=True), True),
    "erfc": (lambda x: jax.nn.gelu(x, approximate=False), False),
    "erf-by-hand": (lambda x: 0.5 * x * (1 + jax.lax.erf(x / jnp.sqrt(2.0))), False),
    "erf-by-hand-grouped": (lambda x: x * (0.5 + 0.5 * jax.lax.erf(x * (1 / math.sqrt(2)))), None),
}


@pytest.mark.parametrize("cleanup", [False, True])
@pytest.mark.parametrize("form", ["tanh", "erfc", "erf-by-hand"])
@pytest.mark.parametrize("shape", [(2, 8), (3, 4, 16)])
def test_jax_forms(form, shape, cleanup):
    f, approx = JAX_FORMS[form]
    module = jax_module(f, shape)
    if cleanup:
        module = hp.run(module, CLEANUP)
    elif form == "erf-by-hand":  # x / jnp.sqrt(2.0) is computed in the graph until fold-constants runs
        assert "no match: expected a scalar constant 1.41421" in explain(module, "gelu-erf")
        return
    out, _ = fuse_and_check(module, 1, approx)
    check_definition(module, out, approx)


def explain(module, pattern: str) -> str:
    """What --debug-patterns says for `pattern` on `module`."""
    import io

    from hlo_passes.passes.fuse_gelu import FuseGelu

    ctx = hp.PassContext(debug=frozenset({pattern}), out=io.StringIO())
    FuseGelu().run(ir.clone(module), ctx)
    return ctx.out.getvalue()


def test_other_grouping_is_refused_with_a_reason():
    """x * (0.5 + 0.5 erf(...)) is GELU too, but not a form any exporter writes: it is left alone, and
    --debug-patterns says where the match stopped."""
    module = hp.run(jax_module(JAX_FORMS["erf-by-hand-grouped"][0], (2, 8)), CLEANUP)
    assert not composites(hp.run(module, "fuse-gelu"))
    said = explain(module, "gelu-erf")
    assert "[gelu-erf] stablehlo.multiply" in said and "no match" in said and "rewritten" not in said


def test_bf16_jax_gelu():
    module = jax_module(lambda x: jax.nn.gelu(x, approximate=True), (4, 32), dtype=jnp.bfloat16)
    fuse_and_check(module, 1, True)


# ------------------------------------------------------------------------------------------ torch


@pytest.fixture(scope="module")
def torch_mods():
    torch = pytest.importorskip("torch")
    from hlo_passes.frontends.torch import export_torch

    class Gelu(torch.nn.Module):
        def __init__(self, approximate):
            super().__init__()
            self.approximate = approximate

        def forward(self, x):
            return torch.nn.functional.gelu(x, approximate=self.approximate)

    class Mlp(torch.nn.Module):  # GPT-2's MLP: c_fc, gelu_new (tanh), c_proj
        def __init__(self, d=16, approximate="tanh"):
            super().__init__()
            self.fc, self.proj = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)
            self.approximate = approximate

        def forward(self, x):
            return self.proj(torch.nn.functional.gelu(self.fc(x), approximate=self.approximate))

    torch.manual_seed(0)
    x = torch.randn(2, 5, 16)
    mods = {}
    for a in ("tanh", "none"):
        mods[f"gelu-{a}"] = ir.parse(export_torch(Gelu(a).eval(), x))
        mods[f"mlp-{a}"] = ir.parse(export_torch(Mlp(approximate=a).eval(), x))
    return mods


@pytest.mark.parametrize("approx", ["tanh", "none"])
def test_torch_gelu(torch_mods, approx):
    """torch-mlir computes sqrt(2/pi) in the graph: fuse-gelu runs after fold-constants (as in `optimize`)."""
    module = hp.run(torch_mods[f"gelu-{approx}"], CLEANUP)
    out, _ = fuse_and_check(module, 1, approx == "tanh")
    check_definition(module, out, approx == "tanh")


@pytest.mark.parametrize("approx", ["tanh", "none"])
def test_torch_mlp_under_optimize(torch_mods, approx):
    """The GELU between two Linear layers fuses under `optimize`, and every composite means what its name
    says: the jax reference kernel of odml.gelu, on the operand the composite really receives, equals its
    decomposition, and the outputs with every composite computed by its definition are the module's."""
    module = torch_mods[f"mlp-{approx}"]
    out = hp.run(module, "optimize")
    (op,) = composites(out)
    assert approximate(op) == (approx == "tanh")
    c = numerics.check_same(module, out, rtol=1e-6, atol=1e-6)
    assert c, c.detail
    report = composite_check.check_composites(out, rtol=1e-5, atol=1e-6)
    assert report.ok, report.text()
    assert [(c.name, c.status) for c in report.composites] == [("odml.gelu", "ok")]


def test_wrong_approximate_attribute_is_caught_by_the_definition():
    """The reference check is not vacuous: the same decomposition under {approximate = false} fails it."""
    module = hp.run(jax_module(JAX_FORMS["tanh"][0], (4, 64)), "fuse-gelu")
    text = ir.to_text(module).replace("approximate = true", "approximate = false")
    report = composite_check.check_composites(ir.parse(text), rtol=1e-6, atol=1e-7)
    assert not report.ok


# ------------------------------------------------------------------------------------------ TFLite


def _gelu_ops(data: bytes) -> list:
    """(approximate, ...) of every GELU builtin in the model's first subgraph, and the op names present."""
    from hlo_passes.tflite import schema

    model = schema.model_from_bytes(data)
    names, gelus = [], []
    for op in model.subgraphs[0].operators:
        name = schema.op_name(model.operatorCodes[op.opcodeIndex].builtinCode)
        names.append(name)
        if name == "GELU":
            gelus.append(bool(op.builtinOptions.approximate))
    return gelus, names


@pytest.mark.parametrize("keep", ["xnnpack", "all", "none"])
@pytest.mark.parametrize("approx", [True, False])
def test_gelu_becomes_the_tflite_builtin(approx, keep):
    """odml.gelu -> one GELU op with its `approximate` option (whatever composites are kept), which LiteRT
    runs with XLA's results; nothing of the decomposition (TANH, ERF polynomials) is left in the model."""
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.runtime import TFLiteModel

    module = jax_module(lambda x: jax.nn.gelu(x, approximate=approx) * 2.0, (3, 64))
    data = export(hp.run(module, f"optimize,legalize-tflite{{keep={keep}}}")).to_bytes()
    gelus, names = _gelu_ops(data)
    assert gelus == [approx] and "TANH" not in names and "STABLEHLO_COMPOSITE" not in names, names
    x = np.random.default_rng(0).normal(0, 3, (3, 64)).astype(np.float32)
    (want,) = numerics.execute(module, [x])
    for xnnpack in (True, False):
        (got,) = TFLiteModel(data, xnnpack=xnnpack).run(None, x).values()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_torch_mlp_tflite(torch_mods):
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.runtime import TFLiteModel

    module = torch_mods["mlp-tanh"]
    data = export(hp.run(module, "optimize,legalize-tflite")).to_bytes()
    gelus, names = _gelu_ops(data)
    assert gelus == [True] and names.count("FULLY_CONNECTED") == 2, names
    (x,) = numerics.random_inputs(module, 1)
    (want,) = numerics.execute(module, [x])
    (got,) = TFLiteModel(data).run(None, x).values()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
