"""The example LLM end to end at the tiny config: PyTorch / JAX -> one module with prefill and decode ->
`optimize` (every SDPA, RMSNorm and KV-cache write fused) -> [quantize-int8-dynamic] -> one `.tflite` ->
greedy generation in LiteRT (`hlo_passes.generate`), token for token against the framework's own greedy
generation. Exports are made once per module (a torch export takes a few seconds)."""

import dataclasses
import functools
import sys

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import ir
from hlo_passes import numerics
from hlo_passes.frontends.signatures import select_signature, weight_stats
from hlo_passes.generate import Generator, generate
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel

from conftest import EXAMPLES

sys.path.insert(0, str(EXAMPLES))
import llm_common as common  # noqa: E402

PROMPT = [1, 2, 3]
CFG = common.config("tiny")


@functools.lru_cache(maxsize=None)
def exported(framework: str):
    """(merged module, reference greedy step) for 'torch' or 'jax'."""
    if framework == "torch":
        import llm_torch

        return llm_torch.export("tiny"), llm_torch.step_fn(llm_torch.build(CFG))
    import llm_jax

    params = llm_jax.params_from(CFG, common.random_weights(CFG))
    return llm_jax.export("tiny"), llm_jax.step_fn(CFG, params)


@functools.lru_cache(maxsize=None)
def optimized(framework: str):
    return hp.run(exported(framework)[0], "optimize")


@functools.lru_cache(maxsize=None)
def tflite(framework: str, quantized: bool) -> bytes:
    pipeline = "quantize-int8-dynamic,legalize-tflite" if quantized else "legalize-tflite"
    return export(hp.run(optimized(framework), pipeline)).to_bytes()


@functools.lru_cache(maxsize=None)
def reference(framework: str, prompt: tuple = tuple(PROMPT), steps: int = 16, prefill_len: int = CFG.prefill_len):
    cfg = dataclasses.replace(CFG, prefill_len=prefill_len)
    return common.greedy(exported(framework)[1], list(prompt), steps, cfg)


def _composites(module) -> dict:
    found: dict = {}

    def visit(op):
        if op.name == "stablehlo.composite":
            fn = op.parent
            while fn.name != "func.func":
                fn = fn.parent
            key = (ir.mlir.StringAttr(fn.attributes["sym_name"]).value, ir.mlir.StringAttr(op.attributes["name"]).value)
            found[key] = found.get(key, 0) + 1
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return found


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_optimize_fuses_every_attention_norm_and_cache_write(framework):
    found = _composites(optimized(framework))
    for sig in ("prefill", "decode"):
        assert found.get((sig, "odml.scaled_dot_product_attention")) == CFG.layers
        assert found.get((sig, "odml.rms_norm")) == 2 * CFG.layers + 1
        assert found.get((sig, "odml.update_kv_cache")) == 2 * CFG.layers  # K and V of each layer


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("sig", ["prefill", "decode"])
def test_optimize_keeps_each_signature_on_xla(framework, sig):
    """Before/after `optimize` on XLA CPU, inputs as generation makes them (ids in the vocabulary,
    contiguous positions inside the cache, random caches), at two starting positions."""
    before, after = (select_signature(m, sig) for m in (exported(framework)[0], optimized(framework)))
    t = CFG.prefill_len if sig == "prefill" else 1
    rng = np.random.default_rng(1)
    sets = []
    for start in (0, CFG.kv_cache_max - t):
        inputs = [rng.integers(0, CFG.vocab, (1, t)), np.arange(start, start + t)]
        sets.append(inputs + [rng.standard_normal(CFG.cache_shape(), dtype=np.float32) for _ in range(2 * CFG.layers)])
    want, got = (numerics.execute_many(m, sets, isolate=False) for m in (before, after))  # one compile each
    result = numerics.compare_sets(got, want, ["start 0", "last rows"], rtol=1e-4, atol=1e-5)
    assert result.ok, result
    assert not np.allclose(want[0][0], want[1][0])  # the two sets really differ


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_greedy_generation_equals_the_framework_f32(framework):
    want = reference(framework)
    assert len(set(want)) > 3  # a generation that does something, not one token repeated
    got = generate(tflite(framework, False), PROMPT, 16)
    assert got.tokens == want
    assert got.prompt_len == 3 and got.decode_steps == 15 and got.decode_seconds > 0


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_greedy_generation_int8_first_8_tokens_agree(framework):
    data = tflite(framework, True)
    assert len(data) < 0.5 * len(tflite(framework, False))  # int8 weights: the model shrinks
    got = generate(data, PROMPT, 16)
    assert got.tokens[:8] == reference(framework)[:8]


def test_greedy_generation_int8_with_a_float_embedding_over_random_prompts():
    """What int8 costs the tiny random model's greedy tokens is mostly the embedding table: on 12 random
    prompts the default (int8 table, the smallest model) repeated PyTorch's first 8 tokens on 8, with
    `embeddings=false` (litert-torch's recipe also leaves it float) on all 12, 14 or more tokens each. Six of
    those prompts here, first 8 tokens each."""
    data = export(hp.run(optimized("torch"), "quantize-int8-dynamic{embeddings=false},legalize-tflite")).to_bytes()
    rng = np.random.default_rng(5)
    for _ in range(6):
        prompt = [int(i) for i in rng.integers(0, CFG.vocab, 3)]
        assert generate(data, prompt, 16).tokens[:8] == reference("torch", tuple(prompt))[:8], prompt


def test_torch_and_jax_models_are_the_same_model():
    assert reference("torch") == reference("jax")
    logits = {}
    for fw in ("torch", "jax"):
        model = TFLiteModel(tflite(fw, False))
        ins = {t.name: np.zeros(t.shape, t.dtype) for t in model.signatures["prefill"].inputs}
        ins["tokens"] = np.arange(CFG.prefill_len, dtype=np.int64)[None] * 7
        ins["input_pos"] = np.arange(CFG.prefill_len, dtype=np.int64)
        logits[fw] = model.run("prefill", **ins)["logits"]
    assert np.abs(logits["torch"] - logits["jax"]).max() < 1e-4 * np.abs(logits["torch"]).max()


def test_long_prompt_is_prefilled_in_chunks():
    prompt = [5, 9, 2, 77, 31, 8, 100, 6, 42, 17, 3]  # 11 tokens: two prefill calls of 8
    want = reference("torch", tuple(prompt), 8, prefill_len=16)  # the framework in one call
    assert generate(tflite("torch", False), prompt, 8).tokens == want


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_merged_module_holds_each_weight_once(framework):
    module = exported(framework)[0]
    stats = weight_stats(module)
    weights = common.random_weights(CFG)
    # every weight, the RoPE tables (torch: and the cache-slot iota buffer) once; each used by both signatures
    n_tables = 3 if framework == "torch" else 2
    assert stats["distinct"] == len(weights) + n_tables
    assert stats["constants"] == 2 * stats["distinct"]
    assert stats["bytes"] * 2 == stats["referenced_bytes"]
    weight_bytes = sum(w.nbytes for w in weights.values())
    assert weight_bytes <= stats["bytes"] < weight_bytes * 1.05
    # serialized: the module is one weight copy plus the code of two functions, not two copies
    assert len(ir.to_bytecode(module)) < 1.25 * weight_bytes
    assert len(tflite(framework, False)) < 1.25 * weight_bytes


def test_generator_refuses_models_without_the_interface():
    model = TFLiteModel(tflite("jax", False))
    with pytest.raises(hp.HloError, match="no 'step' signature"):
        Generator(model, decode="step")
    gen = Generator(model)
    with pytest.raises(hp.HloError, match="do not fit"):
        gen.generate([1] * 8, CFG.kv_cache_max)
    with pytest.raises(hp.HloError, match="outside the vocabulary"):
        gen.generate([CFG.vocab], 2)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_caches_as_variables_generate_the_same_tokens(framework):
    """`hlo-export --kv-cache=variables`: the caches live in LiteRT resource variables shared by prefill and
    decode; the signatures take tokens and input_pos only, and greedy generation is token for token the
    framework's, twice in a row on one interpreter (no reset: stale rows are never visible). The writer has
    written the io form first (bench/llm.py makes both files from one export this way): rewriting it
    afterwards gives the variables form, and the io file stays what it was."""
    from hlo_passes.tflite.variables import caches_as_variables, variable_caches

    writer = export(hp.run(optimized(framework), "legalize-tflite"))
    io = writer.to_bytes()
    names = caches_as_variables(writer)
    data = writer.to_bytes()
    assert len(names) == 2 * CFG.layers
    assert variable_caches(data) == {n: list(CFG.cache_shape()) for n in names}
    model = TFLiteModel(data)
    for sig in model.signatures.values():
        assert [t.name for t in sig.inputs] == ["tokens", "input_pos"] and [t.name for t in sig.outputs] == ["logits"]
    gen = Generator(model)
    want = reference(framework)
    assert gen.generate(PROMPT, 16).tokens == want
    assert gen.generate(PROMPT, 16).tokens == want
    assert gen.generate([7, 7], 4).tokens == reference(framework, (7, 7), 4)
    with pytest.raises(hp.HloError, match="do not fit"):  # the bound is read from the variables' shapes
        gen.generate([1] * 8, CFG.kv_cache_max)
    assert len(TFLiteModel(io).signatures["decode"].inputs) == 2 + 2 * CFG.layers
    assert generate(io, PROMPT, 16).tokens == want


def test_caches_as_variables_refuses_disagreeing_signatures():
    from hlo_passes.tflite.variables import caches_as_variables
    from hlo_passes.tflite.writer import ModelWriter

    w = ModelWriter()
    for name, rows in (("prefill", 8), ("decode", 16)):
        sg = w.subgraph(name)
        cache = sg.tensor([1, rows, 2], np.float32, "cache")
        sg.inputs, sg.outputs = [cache], [cache]
        w.signature(name, sg, {"k_0": cache}, {"k_0": cache})
    with pytest.raises(hp.HloError, match="cache 'k_0' is \\[1, 8, 2\\] in one signature and \\[1, 16, 2\\]"):
        caches_as_variables(w)


@pytest.mark.slow
def test_8x1024_jax_generation_equals_jax():
    """A size this machine converts in about a minute (155M weights, 623 MB): the same promise as at tiny."""
    import llm_jax

    cfg = common.config("8x1024")
    want = common.greedy(llm_jax.step_fn(cfg, llm_jax.params_from(cfg, common.random_weights(cfg))), PROMPT, 16, cfg)
    module = llm_jax.export("8x1024")
    assert weight_stats(module)["bytes"] < 1.01 * cfg.weight_count() * 4 + 2 * cfg.kv_cache_max * cfg.head_dim * 4
    data = export(hp.run(module, "optimize,legalize-tflite", inplace=True)).to_bytes()
    assert generate(data, PROMPT, 16).tokens == want
