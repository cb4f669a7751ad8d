"""fuse-parallel-dots: q/k/v (and gate/up) projections of the example LLM become one dot per group, on
random inputs the module computes what it computed (XLA CPU, before/after, each signature), the fusions found
before stay found, int8 quantization after it gives the very weights it gave per projection, and a weight
shared by prefill and decode is concatenated once."""

from __future__ import annotations

import functools
import sys

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.frontends.signatures import select_signature

from conftest import EXAMPLES, func

sys.path.insert(0, str(EXAMPLES))
import llm_common as common  # noqa: E402

CFG = common.config("tiny")


@functools.lru_cache(maxsize=None)
def optimized(framework: str):
    if framework == "torch":
        import llm_torch

        return hp.run(llm_torch.export("tiny"), "optimize")
    import llm_jax

    return hp.run(llm_jax.export("tiny"), "optimize")


def _count(module, sig: str, name: str, composite: str | None = None) -> int:
    fn = next(f for f in ir.module_ops(module) if ir.mlir.StringAttr(f.attributes["sym_name"]).value == sig)
    found = []

    def visit(op):
        if op.name == name and (composite is None
                                or ir.mlir.StringAttr(op.attributes["name"]).value == composite):
            found.append(op)
        return ir.mlir.WalkResult.ADVANCE

    fn.operation.walk(visit)
    return len(found)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_llm_projections_fuse_and_keep_values(framework):
    before = optimized(framework)
    after = hp.run(before, "fuse-parallel-dots")
    for sig in ("prefill", "decode"):
        # per layer q, k, v -> 1 and gate, up -> 1: three dots fewer; the composites are those found before
        assert _count(after, sig, "stablehlo.dot_general") == _count(before, sig, "stablehlo.dot_general") - 3 * CFG.layers
        for name in ("odml.scaled_dot_product_attention", "odml.rms_norm", "odml.update_kv_cache"):
            assert _count(after, sig, "stablehlo.composite", name) == _count(before, sig, "stablehlo.composite", name) > 0
        t = CFG.prefill_len if sig == "prefill" else 1
        rng = np.random.default_rng(2)
        inputs = [rng.integers(0, CFG.vocab, (1, t)), np.arange(3, 3 + t)]
        inputs += [rng.standard_normal(CFG.cache_shape(), dtype=np.float32) for _ in range(2 * CFG.layers)]
        result = numerics.check_same(select_signature(before, sig), select_signature(after, sig), inputs=inputs,
                                     rtol=1e-5, atol=1e-5)
        assert result.ok, result


def _three_dots(weights: list[np.ndarray], name: str = "main") -> str:
    """x [4, 64] against three constant [64, n] weights held as resources w0, w1, w2; returns the sum of
    the three results' first 32 columns (so every slice is read)."""
    body = []
    for i, w in enumerate(weights):
        body.append(f"  %w{i} = stablehlo.constant dense_resource<{name}_w{i}> : tensor<64x{w.shape[1]}xf32>")
        body.append(f"  %d{i} = stablehlo.dot_general %x, %w{i}, contracting_dims = [1] x [0] :"
                    f" (tensor<4x64xf32>, tensor<64x{w.shape[1]}xf32>) -> tensor<4x{w.shape[1]}xf32>")
        body.append(f"  %s{i} = stablehlo.slice %d{i} [0:4, 0:32] : (tensor<4x{w.shape[1]}xf32>) -> tensor<4x32xf32>")
    body.append("  %a = stablehlo.add %s0, %s1 : tensor<4x32xf32>")
    body.append("  %b = stablehlo.add %a, %s2 : tensor<4x32xf32>")
    body.append("  return %b : tensor<4x32xf32>")
    return func("\n".join(body), "%x: tensor<4x64xf32>", "tensor<4x32xf32>", name=name)


def _with_weights(text: str, arrays: dict):
    """The module of `text` with its dense_resource constants bound to `arrays` (by resource name), zero-copy
    as torch-mlir exports hold weights (`hp.parse` refuses resources without data, so parse raw)."""
    with ir.make_context(), ir.mlir.Location.unknown():
        module = ir.mlir.Module.parse(text)
        for op in ir.ops_named(module, "stablehlo.constant"):
            name = str(op.attributes["value"]).split("<")[1].split(">")[0]
            op.attributes["value"] = ir.from_numpy(arrays[name], resource=name)
    return module


def test_int8_after_fusion_has_the_per_projection_scales():
    rng = np.random.default_rng(0)
    # output channels of very different ranges: one scale per tensor (or per projection) would show
    weights = [rng.standard_normal((64, n), dtype=np.float32) * s for n, s in ((128, 0.01), (64, 1.0), (64, 30.0))]
    module = _with_weights(_three_dots(weights), {f"main_w{i}": w for i, w in enumerate(weights)})
    plain = hp.run(module, "quantize-int8-dynamic")
    fused = hp.run(module, "fuse-parallel-dots,quantize-int8-dynamic")
    assert len(ir.ops_named(fused, "stablehlo.dot_general")) == 1
    result = numerics.check_same(plain, fused, rtol=1e-6, atol=1e-6)
    assert result.ok, result
    # and the int8 values and scales are exactly the three projections' own, side by side
    q_plain = [ir.to_numpy(op.attributes["value"]) for op in ir.ops_named(plain, "stablehlo.constant")
               if ir.to_numpy(op.attributes["value"]).dtype == np.int8]
    q_fused = [ir.to_numpy(op.attributes["value"]) for op in ir.ops_named(fused, "stablehlo.constant")
               if ir.to_numpy(op.attributes["value"]).dtype == np.int8]
    assert len(q_plain) == 3 and len(q_fused) == 1
    np.testing.assert_array_equal(np.concatenate(q_plain, axis=1), q_fused[0])


def test_prefill_and_decode_share_one_concatenated_weight():
    """Two functions holding the same weights under different resource names (as fold-constants leaves a
    merged module) get one fused constant; a resource that already bears the pass's naming stays intact."""
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((64, n), dtype=np.float32) for n in (128, 64, 64)]
    text = _three_dots(weights, "prefill") + _three_dots(weights, "decode").replace(
        "decode_w0", "fused_dots_0")  # (a name the pass could pick)
    arrays = {f"prefill_w{i}": w.copy() for i, w in enumerate(weights)}
    arrays |= {"fused_dots_0": weights[0].copy(), "decode_w1": weights[1].copy(), "decode_w2": weights[2].copy()}
    module = _with_weights(text, arrays)
    after = hp.run(module, "fuse-parallel-dots")
    fused = [op for op in ir.ops_named(after, "stablehlo.constant")]
    assert len(fused) == 2 and fused[0].attributes["value"] == fused[1].attributes["value"]
    np.testing.assert_array_equal(ir.to_numpy(fused[0].attributes["value"]), np.concatenate(weights, axis=1))
    x = rng.standard_normal((4, 64), dtype=np.float32)
    for sig in ("prefill", "decode"):
        got = numerics.execute(select_signature(after, sig), [x])[0]
        want = numerics.execute(select_signature(module, sig), [x])[0]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(want, sum(x @ w[:, :32] for w in weights), rtol=1e-4, atol=1e-4)



def _fully_connected(data: bytes) -> dict[str, int]:
    from hlo_passes.tflite import schema

    model = schema.model_from_bytes(data)
    codes = [schema.op_name(max(c.builtinCode, c.deprecatedBuiltinCode)) for c in model.operatorCodes]
    return {sig.signatureKey.decode(): sum(codes[op.opcodeIndex] == "FULLY_CONNECTED"
                                           for op in model.subgraphs[sig.subgraphIndex].operators)
            for sig in model.signatureDefs}


def test_fused_llm_generates_torchs_tokens_in_litert():
    """Through legalize-tflite and the writer: per signature three FULLY_CONNECTED fewer per layer, and
    greedy generation in LiteRT equals PyTorch's token for token (f32), the int8 model's its first 8 tokens
    (the bars test_llm_e2e sets for the unfused model)."""
    import llm_torch

    from hlo_passes.generate import generate
    from hlo_passes.tflite.export import export

    want = common.greedy(llm_torch.step_fn(llm_torch.build(CFG)), [1, 2, 3], 16, CFG)
    assert len(set(want)) > 3
    fused = hp.run(optimized("torch"), "fuse-parallel-dots")
    plain = _fully_connected(export(hp.run(optimized("torch"), "legalize-tflite")).to_bytes())
    data = export(hp.run(fused, "legalize-tflite")).to_bytes()
    assert _fully_connected(data) == {sig: n - 3 * CFG.layers for sig, n in plain.items()}
    assert generate(data, [1, 2, 3], 16).tokens == want
    int8 = export(hp.run(fused, "quantize-int8-dynamic,legalize-tflite")).to_bytes()
    assert generate(int8, [1, 2, 3], 16).tokens[:8] == want[:8]
