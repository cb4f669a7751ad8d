"""Composites that mean what they say (issue 11): every composite the fusions create is judged against its
written definition (hlo_passes/composites.py) by `check_composites`, which runs each composite's reference
kernel in place of its decomposition on XLA CPU.

- The fused forms of the repo's models (torch-mlir Llama, Qwen2, GPT-2; the JAX example transformer) pass.
- Deliberately wrong composites are caught, at their own location: an RMSNorm whose epsilon attribute was
  changed, an attention with a wrong scale, a GELU whose `approximate` is the other form, a LayerNorm with
  another epsilon, a KV-cache write whose kv_cache_max is not the cache's length, an unknown name.
- Padded batches (point 2): torch's SDPA export with a left-padded attention_mask zeroes fully masked rows;
  fused, the module is exact by the composites' definitions (the guard stays outside the composite), and
  without that outer guard the check does find the NaN rows (so the test inputs do contain them).
"""

import functools
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import EXAMPLES, HLO_OPT, exported_lm

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.composite_check import check_composites
from hlo_passes.ir import mlir
from hlo_passes.patterns import sdpa
from hlo_passes.patterns import values as vals

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
FUSE = "optimize"
SDPA, RMS = "odml.scaled_dot_product_attention", "odml.rms_norm"


@functools.cache
def fused_text(family: str) -> str:
    if family == "jax":
        sys.path.insert(0, str(EXAMPLES))
        from transformer import transformer_text

        source = transformer_text(2)
    else:
        source = exported_lm(family, "sdpa")[1]
    return ir.to_text(hp.run(ir.parse(source), FUSE))


def names(report) -> list:
    return [c.name for c in report.composites]


# ------------------------------------------------------------------------------------------ the repo's models

@pytest.mark.parametrize("family,counts", [("llama", {SDPA: 2, RMS: 5}), ("qwen2", {SDPA: 2, RMS: 5}),
                                           ("gpt2", {SDPA: 2, "odml.layer_norm": 5, "odml.gelu": 2}),
                                           ("jax", {SDPA: 2, RMS: 5})])
def test_fused_models_keep_their_promise(family, counts):
    report = check_composites(ir.parse(fused_text(family)))
    assert report.ok, report.text()
    assert {n: names(report).count(n) for n in set(names(report))} == counts, report.text()
    assert all(c.status == "ok" for c in report.composites), report.text()  # each judged on its own operands
    assert report.outputs.ok and "passed" in report.text()


@pytest.mark.parametrize("edit,name,index", [
    (("epsilon = 9.99999997E-7", "epsilon = 1.000000e-02"), RMS, 0),
    (("scale = 2.500000e-01", "scale = 2.600000e-01"), SDPA, 1),
])
def test_a_wrong_attribute_is_caught_at_its_composite(edit, name, index):
    text = fused_text("llama")
    assert edit[0] in text
    report = check_composites(ir.parse(text.replace(*edit, 1)))  # only the first composite is wrong
    assert not report.ok
    (bad,) = report.failures
    assert (bad.name, bad.status) == (name, "FAIL") and report.composites.index(bad) == index, report.text()
    assert bad.max_abs > 1e-4 and "definition vs decomposition" in bad.detail
    assert not report.outputs.ok  # and it shows in the logits


# ------------------------------------------------------------------------------------------ hand-made composites

def composite_module(name: str, attrs: str, decomposition, *specs) -> mlir.Module:
    """main(args) = composite `name`(args) {attrs} whose decomposition is `decomposition` lowered by jax."""
    lowered = ir.parse(jax.jit(decomposition).lower(*specs).as_text())
    fn = numerics.entry_function(lowered)
    ftype = mlir.FunctionType(mlir.TypeAttr(fn.attributes["function_type"]).value)
    ins, (out,) = [str(t) for t in ftype.inputs], [str(t) for t in ftype.results]
    body = re.sub(r"func\.func public @main", "func.func private @impl", ir.to_text(lowered).partition("{-#")[0])
    body = body[body.index("\n", body.index("module")) + 1:body.rindex("}")]
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(ins))
    main = (f"func.func @main({args}) -> {out} {{\n  %0 = stablehlo.composite \"{name}\" "
            f"{', '.join(f'%a{i}' for i in range(len(ins)))} {{composite_attributes = {{{attrs}}}, "
            f"decomposition = @impl}} : ({', '.join(ins)}) -> {out}\n  return %0 : {out}\n}}\n")
    return ir.parse("module {\n" + main + body + "}\n")


def layer_norm(eps):
    def f(x, w, b):
        m = x.mean(-1, keepdims=True)
        return (x - m) / jnp.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + eps) * w + b

    return f


def cache_write(cache, pos, new):
    return jax.lax.dynamic_update_slice(cache, new, (pos * 0, pos, pos * 0, pos * 0))


X = jax.ShapeDtypeStruct((3, 5, 16), jnp.float32)
W = jax.ShapeDtypeStruct((16,), jnp.float32)
CACHE, NEW = jax.ShapeDtypeStruct((1, 12, 2, 8), jnp.float32), jax.ShapeDtypeStruct((1, 3, 2, 8), jnp.float32)
POS = jax.ShapeDtypeStruct((), jnp.int32)
HAND_MADE = {  # name, attributes, decomposition, specs, the verdict
    "gelu-tanh": ("odml.gelu", "approximate = true", lambda x: jax.nn.gelu(x, approximate=True), (X,), "ok"),
    "gelu-erf": ("odml.gelu", "approximate = false", lambda x: jax.nn.gelu(x, approximate=False), (X,), "ok"),
    "gelu-wrong-form": ("odml.gelu", "approximate = false", lambda x: jax.nn.gelu(x, approximate=True), (X,), "FAIL"),
    "layer-norm": ("odml.layer_norm", "epsilon = 1.000000e-05 : f32", layer_norm(1e-5), (X, W, W), "ok"),
    "layer-norm-wrong-epsilon": ("odml.layer_norm", "epsilon = 1.000000e-05 : f32", layer_norm(0.5), (X, W, W),
                                 "FAIL"),
    "rms-norm-bf16": ("odml.rms_norm", "epsilon = 1.000000e-06 : f32", lambda x, w: (x * jax.lax.rsqrt(
        (x.astype(jnp.float32) ** 2).mean(-1, keepdims=True) + 1e-6).astype(jnp.bfloat16) * w),
        (jax.ShapeDtypeStruct((3, 5, 16), jnp.bfloat16), jax.ShapeDtypeStruct((16,), jnp.bfloat16)), "ok"),
    "kv-cache": ("odml.update_kv_cache", "kv_cache_max = 12 : i64, seq_dim = 1 : i64", cache_write,
                 (CACHE, POS, NEW), "ok"),
    "kv-cache-wrong-max": ("odml.update_kv_cache", "kv_cache_max = 16 : i64, seq_dim = 1 : i64", cache_write,
                           (CACHE, POS, NEW), "broken"),
    "unknown-name": ("acme.frobnicate", "", lambda x: x * 2, (X,), "unknown"),
}


@pytest.mark.parametrize("case", list(HAND_MADE))
def test_hand_made_composite(case):
    name, attrs, fn, specs, verdict = HAND_MADE[case]
    report = check_composites(composite_module(name, attrs, fn, *specs))
    (c,) = report.composites
    assert (c.name, c.status) == (name, verdict), report.text()
    assert report.ok == (verdict == "ok")
    if verdict == "broken":
        assert "kv_cache_max = 16, but the cache holds 12 rows" in c.detail
    if verdict == "unknown":
        assert "no definition" in c.detail and "FAILED" in report.text()


def test_a_plugin_defines_its_own_composite(monkeypatch):
    from hlo_passes import composites

    monkeypatch.setattr(composites, "DEFINITIONS", dict(composites.DEFINITIONS))
    composites.define("acme.double", "(x)", "2 x", lambda x: x * 2)
    report = check_composites(composite_module("acme.double", "", lambda x: x + x, X))
    assert report.ok and report.composites[0].status == "ok", report.text()
    composites.define("acme.double", "(x)", "2 x", lambda x: x.no_such_method())  # a kernel with a bug
    (c,) = check_composites(composite_module("acme.double", "", lambda x: x + x, X)).composites
    assert c.status == "broken" and "its reference kernel failed: AttributeError" in c.detail


def test_composite_in_a_loop_body_is_judged_through_the_outputs():
    def decode(cache, rows):  # a KV-cache write per step of a fori_loop: the composite sits in the while body
        return jax.lax.fori_loop(0, 4, lambda i, c: jax.lax.dynamic_update_slice(c, rows[i][None, None],
                                                                                    (0, i, 0, 0)), cache)

    module = ir.parse(jax.jit(decode).lower(CACHE, jax.ShapeDtypeStruct((4, 2, 8), jnp.float32)).as_text())
    fused = hp.run(module, FUSE)
    report = check_composites(fused)
    (c,) = report.composites
    assert (c.name, c.status) == ("odml.update_kv_cache", "outputs-only") and report.ok, report.text()
    broken = ir.parse(ir.to_text(fused).replace("seq_dim = 1", "seq_dim = 2"))  # now the write is on the heads
    bad = check_composites(broken)
    assert bad.composites[0].status == "broken" and not bad.ok, bad.text()


# ------------------------------------------------------------------------------------------ padded batches

@functools.cache
def padded_export(family: str):
    """(text, ids, attention_mask, torch logits) of a tiny model called with a left-padded batch: rows with
    0, 3 and 7 padding tokens (the padding queries' rows are fully masked)."""
    import torch

    from hlo_passes.frontends import torch as ft

    model = {"llama": ft.tiny_llama, "qwen2": ft.tiny_qwen2}[family](attn_implementation="sdpa")

    class Padded(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, ids, mask):
            return self.m(input_ids=ids, attention_mask=mask, use_cache=False).logits

    ids = torch.randint(0, 128, (3, 8), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, 8, dtype=torch.int64)
    mask[1, :3] = 0
    mask[2, :7] = 0
    with torch.no_grad():
        logits = Padded(model)(ids, mask).numpy()
    return ft.export_torch(Padded(model), ids, mask), ids.numpy(), mask.numpy(), logits


def without_outer_guard(module):
    """A copy whose attention results skip the select that zeroes fully masked rows."""
    copy = ir.clone(module)
    found = []
    copy.walk(lambda op: (found.append(op) if op.name == "stablehlo.select" else None) or mlir.WalkResult.ADVANCE)
    for sel in found:
        src = vals.defining_op(sel.operands[2])
        if src is not None and src.name == "stablehlo.composite" and \
                mlir.StringAttr(src.attributes["name"]).value == SDPA:
            sel.results[0].replace_all_uses_with(sel.operands[2])
    return copy


@pytest.mark.parametrize("family", ["llama", pytest.param("qwen2", marks=pytest.mark.slow)])  # (the same path)
def test_padded_batch_is_exact_by_the_definitions(family, monkeypatch):
    text, ids, mask, logits = padded_export(family)
    fused = hp.run(ir.parse(text), FUSE)
    report = check_composites(fused, inputs=[ids, mask])
    assert report.ok, report.text()
    assert names(report).count(SDPA) == 2
    (got,) = numerics.execute(fused, [ids, mask])
    assert np.isfinite(got).all() and np.abs(got - logits).max() <= 1e-4
    # the inputs do have fully masked rows, and the guard outside the composite is what keeps them finite
    (unguarded,) = numerics.execute(without_outer_guard(fused), [ids, mask])
    assert np.isnan(unguarded).any()
    # the former fusion (the guard inside the decomposition) breaks the definition there, and the check says so
    monkeypatch.setattr(sdpa, "_zero_masked_rows", lambda r: r)
    monkeypatch.setattr(sdpa, "_drop_guard", lambda r, i: None)
    former = check_composites(hp.run(ir.parse(text), FUSE), inputs=[ids, mask])
    assert [c.name for c in former.failures] == [SDPA], former.text()
    assert re.search(r"\bnan\b.*\b0\.0\b", former.failures[0].detail), former.text()  # NaN by definition, 0 decomposed
    assert not former.outputs.ok


@pytest.mark.parametrize("xnnpack", [True, False])
def test_fully_masked_rows_are_zero_in_litert(xnnpack):
    """torch's guarded attention (JAX-written), rows masked everywhere: fused and written as a .tflite, LiteRT
    (XNNPACK's attention by the definition, or the decomposition) gives the original's zeros there."""
    from hlo_passes.tflite import runtime

    def f(q, k, v, m):
        s = jnp.where(m, q @ jnp.swapaxes(k, -1, -2) * 0.35, -jnp.inf)
        return jnp.where(jnp.all(s == -jnp.inf, axis=-1, keepdims=True), 0.0, jax.nn.softmax(s, axis=-1)) @ v

    specs = [jax.ShapeDtypeStruct((2, 4, 5, 8), jnp.float32)] * 3 + [jax.ShapeDtypeStruct((2, 1, 5, 5), jnp.bool_)]
    module = ir.parse(jax.jit(f).lower(*specs).as_text())
    fused = hp.run(module, FUSE)
    assert ir.to_text(fused).count(f'"{SDPA}"') == 1
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(sp.shape).astype(np.float32) for sp in specs[:3]] + [rng.random((2, 1, 5, 5)) < 0.6]
    xs[3][0, 0, 1] = xs[3][1, 0, 3] = False  # two rows masked everywhere
    (want,) = numerics.execute(module, xs)
    assert not want[0, :, 1].any() and not want[1, :, 3].any()
    (got,) = runtime.execute_sets(hp.run(fused, "legalize-tflite"), [xs], xnnpack=xnnpack)[0]
    assert np.isfinite(got).all() and np.abs(got - want).max() <= 1e-5  # (the guard inside: XNNPACK gave NaN rows)


# ------------------------------------------------------------------------------------------ the CLI

def test_cli_check_composites(tmp_path):
    good, bad = tmp_path / "good.mlir", tmp_path / "bad.mlir"
    text = fused_text("llama")
    good.write_text(text)
    bad.write_text(text.replace("scale = 2.500000e-01", "scale = 2.600000e-01", 1))
    ok = subprocess.run([HLO_OPT, str(good), "--check-composites", "-o", str(tmp_path / "out.mlir")],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "composite check: passed" in ok.stderr, ok.stderr
    assert (tmp_path / "out.mlir").exists()
    failed = subprocess.run([HLO_OPT, str(bad), "--check-composites", "-o", str(tmp_path / "never.mlir")],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    first = failed.stderr.splitlines()[0]
    assert re.match(rf"{re.escape(str(bad))}:\d+:\d+: error: --check-composites: {SDPA} does not mean what its "
                    r"name says \(FAIL\)", first), failed.stderr
    assert not (tmp_path / "never.mlir").exists()


# ------------------------------------------------------------------------------------------ per-head biases

def test_xnnpack_computes_a_per_head_mask_by_the_definition():
    """Why fuse-sdpa may fuse per-head biases: LiteRT's XNNPACK attention takes a [B, N, T, S] mask and
    computes the composite from its name and attributes. Proved with a composite whose decomposition says
    scale 0.5 and whose attribute says 0.25: XNNPACK gives the attribute's result, the builtin path (which
    runs the decomposition) the decomposition's."""
    from hlo_passes import composites
    from hlo_passes.tflite import runtime

    q, kv, mask = (jax.ShapeDtypeStruct(s, jnp.float32) for s in ((2, 8, 4, 16), (2, 8, 2, 16), (2, 4, 8, 8)))
    module = composite_module(SDPA, "scale = 2.500000e-01 : f32",
                              lambda *a: composites.sdpa(*a, scale=0.5), q, kv, kv, mask)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s.shape).astype(np.float32) for s in (q, kv, kv, mask)]
    xs[3][rng.random(mask.shape) < 0.3] = -1e9  # per head, per row: a different mask for each head
    by_definition = np.asarray(jax.jit(lambda *a: composites.sdpa(*a, scale=0.25))(*xs))
    (decomposed,) = numerics.execute(module, xs)
    assert np.abs(by_definition - decomposed).max() > 0.1  # the two really differ
    legalized = hp.run(module, "legalize-tflite")
    (xnnpack,) = runtime.execute_sets(legalized, [xs], xnnpack=True)[0]
    (builtin,) = runtime.execute_sets(legalized, [xs], xnnpack=False)[0]
    assert np.abs(xnnpack - by_definition).max() <= 1e-5
    assert np.abs(builtin - decomposed).max() <= 1e-5


def test_t5_relative_bias_fuses_per_head_and_keeps_its_promise():
    import torch
    import transformers

    from hlo_passes.frontends import torch as ft

    config = transformers.T5Config(vocab_size=128, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                   relative_attention_num_buckets=8)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.T5EncoderModel(config).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, ids, mask):
            return self.m(input_ids=ids, attention_mask=mask).last_hidden_state

    ids = torch.randint(0, 128, (2, 8), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 8, dtype=torch.int64)
    mask[1, 5:] = 0
    with torch.no_grad():
        want = Encoder(model)(ids, mask).numpy()
    fused = hp.run(ir.parse(ft.export_torch(Encoder(model), ids, mask)), FUSE)
    report = check_composites(fused, inputs=[ids.numpy(), mask.numpy()])
    assert report.ok and names(report).count(SDPA) == 2, report.text()
    assert "tensor<2x4x8x8xf32>) -> tensor<2x8x4x16xf32>" in ir.to_text(fused)  # the mask per head, [B, N, T, S]
    (got,) = numerics.execute(fused, [ids.numpy(), mask.numpy()])
    assert np.abs(got - want).max() <= 1e-4
