"""quantize-int8-dynamic: the numbers (hypothesis), the rewrite on XLA CPU, and whole models in LiteRT
against the issue's bars (constant bytes, logits error, .tflite size)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.patterns.quant import QMAX, quantize, relative_error
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel

from conftest import exported_lm

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=3, max_side=9), elements=finite),
       st.booleans(), st.data())
def test_error_is_at_most_half_a_step(w, per_channel, data):
    axis = data.draw(st.integers(0, w.ndim - 1)) if per_channel else None
    q = quantize(w, axis)
    assert q.values.dtype == np.int8 and np.abs(q.values.astype(int)).max(initial=0) <= QMAX
    assert np.all(np.isfinite(q.scale)) and np.all(q.scale > 0)
    step = q.scale if axis is None else q.scale.reshape([-1 if d == axis else 1 for d in range(w.ndim)])
    assert np.all(np.abs(q.dequantize() - w) <= step / 2 * (1 + 1e-6) + 1e-30)


def test_zero_channels_outliers_and_non_finite():
    w = np.zeros((3, 4), np.float32)
    w[1] = [1e-3, -2e-3, 0, 1e-3]
    w[2] = [1000.0, 0.001, -0.001, 0]  # an outlier: its channel's small values round to 0, the others keep theirs
    q = quantize(w, 0)
    np.testing.assert_array_equal(q.dequantize()[0], 0)  # an all-zero channel is exactly zero, scale 1
    assert q.scale[0] == 1.0
    np.testing.assert_allclose(q.dequantize()[1], w[1], atol=q.scale[1] / 2)
    assert relative_error(w, q) < 1e-2
    with pytest.raises(ValueError, match="inf or NaN"):
        quantize(np.array([[1.0, np.inf]], np.float32), 0)


def _constant_bytes(module) -> int:
    total = [0]

    def visit(op):
        if op.name == "stablehlo.constant":
            attr = ir.downcast(op.attributes["value"])
            t = ir.mlir.ShapedType(attr.type)
            count = 1 if isinstance(attr, ir.mlir.DenseElementsAttr) and attr.is_splat else int(np.prod(t.shape))
            total[0] += count * ir.np_dtype(t.element_type).itemsize
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return total[0]


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
def test_decoder_meets_the_bars(family):
    _, text, ids, logits = exported_lm(family)
    ref = np.asarray(logits)
    ids = np.asarray(ids)
    fp = hp.run(hp.parse(text), "optimize")
    q = hp.run(fp, "quantize-int8-dynamic")
    assert _constant_bytes(q) <= 0.32 * _constant_bytes(fp)
    # folding never undoes it (cse may merge GPT-2's tied embedding and LM head: one int8 table, two constant ops)
    assert _constant_bytes(hp.run(q, "optimize")) <= _constant_bytes(q)

    def rel(x):
        return np.linalg.norm(x - ref) / np.linalg.norm(ref)

    (on_xla,) = numerics.execute(q, [ids])
    assert rel(on_xla) <= 0.02
    float_model = export(hp.run(fp, "legalize-tflite")).to_bytes()
    int8_model = export(hp.run(q, "legalize-tflite")).to_bytes()
    assert len(int8_model) <= 0.35 * len(float_model)
    for xnnpack in (True, False):
        (out,) = TFLiteModel(int8_model, xnnpack=xnnpack).run(None, ids).values()
        assert rel(out) <= 0.02, (family, xnnpack, rel(out))


def test_int8_weights_are_written_as_int8_tensors_with_scales():
    from hlo_passes.tflite import schema

    _, text, ids, _ = exported_lm("llama")
    q = hp.run(hp.parse(text), "optimize,quantize-int8-dynamic,legalize-tflite")
    model = schema.model_from_bytes(export(q).to_bytes())
    main = model.subgraphs[0]
    fc = [op for op in main.operators
          if schema.op_name(model.operatorCodes[op.opcodeIndex].builtinCode) == "FULLY_CONNECTED"]
    assert len(fc) == 15
    for op in fc:
        w = main.tensors[op.inputs[1]]
        assert schema.type_name(w.type) == "INT8"
        assert len(w.quantization.scale) == w.shape[0] and w.quantization.quantizedDimension == 0
        assert not any(w.quantization.zeroPoint)


def test_quantized_cnn_runs_in_litert():
    import torch

    from hlo_passes.frontends.torch import export_torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.Flatten(),
                              torch.nn.Linear(16 * 8 * 8, 10)).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        ref = net(x).numpy()
    q = hp.run(hp.parse(export_torch(net, x)), "optimize,quantize-int8-dynamic")
    # the second conv (2304) and the linear layer (10240) are quantized; the first conv (432) is under min-elements
    assert ir.to_text(q).count("{hlo.dequantize}") == 6  # three marked ops per weight
    (on_xla,) = numerics.execute(q, [x.numpy()])
    assert np.linalg.norm(on_xla - ref) / np.linalg.norm(ref) <= 0.02
    data = export(hp.run(q, "legalize-tflite")).to_bytes()
    for xnnpack in (True, False):
        (out,) = TFLiteModel(data, xnnpack=xnnpack).run(None, x.numpy()).values()
        assert np.linalg.norm(out - ref) / np.linalg.norm(ref) <= 0.02


def _blob_module(body: str, args: str, result: str, weights: dict) -> str:
    blobs = ", ".join(f'{name}: "0x{(np.array([4], "<u4").tobytes() + w.astype("<f4").tobytes()).hex().upper()}"'
                      for name, w in weights.items())
    return (f"func.func @main({args}) -> {result} {{\n{body}\n}}\n"
            f"{{-# dialect_resources: {{ builtin: {{ {blobs} }} }} #-}}\n")


def test_batched_and_transposed_weights_are_found():
    """torch-mlir's forms with batch > 1: the weight broadcast over the batch (not folded into one copy per
    batch entry, and unbatched by simplify) and an LM head behind a transpose (left to simplify, which makes
    the dot read the [128, 64] head itself: no transposed copy is folded)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    head = rng.standard_normal((128, 64)).astype(np.float32)
    text = _blob_module(
        "  %w = stablehlo.constant dense_resource<w> : tensor<64x64xf32>\n"
        "  %b = stablehlo.broadcast_in_dim %w, dims = [1, 2] : (tensor<64x64xf32>) -> tensor<4x64x64xf32>\n"
        "  %0 = stablehlo.dot_general %x, %b, batching_dims = [0] x [0], contracting_dims = [2] x [1]"
        " : (tensor<4x5x64xf32>, tensor<4x64x64xf32>) -> tensor<4x5x64xf32>\n"
        "  %h = stablehlo.constant dense_resource<head> : tensor<128x64xf32>\n"
        "  %t = stablehlo.transpose %h, dims = [1, 0] : (tensor<128x64xf32>) -> tensor<64x128xf32>\n"
        "  %1 = stablehlo.dot_general %0, %t, contracting_dims = [2] x [0]"
        " : (tensor<4x5x64xf32>, tensor<64x128xf32>) -> tensor<4x5x128xf32>\n"
        "  return %1 : tensor<4x5x128xf32>",
        "%x: tensor<4x5x64xf32>", "tensor<4x5x128xf32>", {"w": w, "head": head})
    module = hp.parse(text)
    fp = hp.run(module, "optimize")
    q = hp.run(fp, "quantize-int8-dynamic")
    printed = ir.to_text(q)
    assert printed.count("tensor<64x64xi8>") >= 1 and printed.count("tensor<128x64xi8>") >= 1
    assert "stablehlo.transpose" not in ir.to_text(fp) and "tensor<64x128x" not in ir.to_text(fp)
    assert "tensor<4x64x64xf32> = stablehlo.constant" not in ir.to_text(fp)  # never one copy per batch entry
    assert _constant_bytes(q) <= 0.3 * (w.nbytes + head.nbytes)
    x = [rng.standard_normal((4, 5, 64)).astype(np.float32)]
    (expected,) = numerics.execute(module, x)
    (got,) = numerics.execute(q, x)
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) <= 0.02
    data = export(hp.run(q, "legalize-tflite")).to_bytes()
    (lite,) = TFLiteModel(data).run(None, *x).values()
    assert np.linalg.norm(lite - expected) / np.linalg.norm(expected) <= 0.02


def test_skip_matches_the_weight_shape_so_a_torch_lm_head_can_stay_float():
    """torch-mlir locations are only lines of text: `skip` also sees the op kind and the weight's shape, so
    `dot_general .*\\b<vocab>\\b` keeps an LM head float and nothing else."""
    from hlo_passes.passes.quantize_int8_dynamic import QuantizeInt8Dynamic
    from hlo_passes.patterns import values as vals

    from hlo_passes.frontends import torch as ft

    vocab = 200  # a vocabulary no other weight dimension shares
    text, ids, logits = ft.export_causal_lm(ft.tiny_llama(vocab_size=vocab), seq_len=8)
    fp = hp.run(hp.parse(text), "optimize")

    def float_dots(module):
        dots = []

        def visit(op):
            if op.name == "stablehlo.dot_general":
                producers = [vals.defining_op(v) for v in op.operands]
                if not any(p is not None and "hlo.dequantize" in p.attributes for p in producers):
                    dots.append(op)
            return ir.mlir.WalkResult.ADVANCE

        ir.as_operation(module).walk(visit)
        return [vals.shape(op.result) for op in dots]

    everything = hp.run(fp, "quantize-int8-dynamic")
    kept = hp.run(fp, [QuantizeInt8Dynamic(skip=rf"dot_general .*\b{vocab}\b")])
    head = [s for s in float_dots(kept) if s[-1] == vocab]
    assert len(head) == 1 and not [s for s in float_dots(everything) if s[-1] == vocab]
    assert len(float_dots(kept)) == len(float_dots(everything)) + 1  # nothing else was kept
    for module in (everything, kept):
        (on_xla,) = numerics.execute(module, [np.asarray(ids)])
        assert np.linalg.norm(on_xla - logits) / np.linalg.norm(logits) <= 0.02


def _bigger_decoder_agreements(model, prompt_sets: dict) -> tuple:
    """Export `model` (8 x 32 tokens), `optimize`, `quantize-int8-dynamic` with default options: the constant
    bytes ratio, and per prompt set (a list of [8, 32] id batches) the greedy next-token argmax agreement of
    the int8 model with the float one on XLA CPU and in LiteRT/XNNPACK, with the float XLA logits."""
    from hlo_passes.frontends import torch as ft

    text, _, _ = ft.export_causal_lm(model, seq_len=32, batch=8)
    fp = hp.run(hp.parse(text), "optimize")
    q = hp.run(fp, "quantize-int8-dynamic")
    ratio = _constant_bytes(q) / _constant_bytes(fp)
    f_rt, q_rt = (TFLiteModel(export(hp.run(m, "legalize-tflite")).to_bytes()) for m in (fp, q))
    found = {}
    for name, batches in prompt_sets.items():
        xla, rt, f_logits = [], [], []
        for ids in batches:
            (f_xla,), (q_xla,) = numerics.execute(fp, [ids]), numerics.execute(q, [ids])
            (f_lite,), (q_lite,) = f_rt.run(None, ids).values(), q_rt.run(None, ids).values()
            xla.append(q_xla.argmax(-1) == f_xla.argmax(-1))
            rt.append(q_lite.argmax(-1) == f_lite.argmax(-1))
            f_logits.append(f_xla)
        found[name] = float(np.mean(xla)), float(np.mean(rt)), np.concatenate(f_logits)
    return ratio, found


def test_trained_decoder_language_is_seeded_and_peaked():
    """The synthetic language the bigger decoder is trained on (tests/trained_decoder.py): the same seed gives
    the same chain and samples, and a token is followed by its likeliest successor about (1 - JUMP) * 0.7 of the
    time, so there is context to learn."""
    from trained_decoder import JUMP, SUCCESSOR_P, SUCCESSORS, Language

    a, b = Language.make(8192, seed=0), Language.make(8192, seed=0)
    np.testing.assert_array_equal(a.successors, b.successors)
    assert a.successors.shape == (8192, SUCCESSORS) and abs(a.frequency.sum() - 1) < 1e-9
    assert all(len(set(row)) == SUCCESSORS for row in a.successors[:256].tolist())
    ids = a.sample(64, 32, seed=1)
    np.testing.assert_array_equal(ids, b.sample(64, 32, seed=1))
    first = (ids[:, 1:] == a.successors[ids[:, :-1], 0]).mean()
    assert abs(first - (1 - JUMP) * SUCCESSOR_P[0]) < 0.05
    assert 1.0 < a.entropy_rate() < 3.0


@pytest.mark.slow
def test_bigger_decoder_trained_weights_and_greedy_agreement():
    """Issue 10's bigger decoder (8 layers, width 512, GQA 8/2, vocab 8k), TRAINED (tests/trained_decoder.py:
    90 AdamW steps on a seeded Zipfian Markov-chain language, about a minute on 2 cores): weight bytes <= 0.27x,
    and the greedy next token of the int8 model equals the float model's on >= 95% of 16 x 32 positions, on XLA
    and in LiteRT, for held-out sentences of the language and for uniformly random token prompts. Measured:
    99.6% / 99.4% (language) and 99.0% / 98.8% (random), XLA / LiteRT; ai-edge-quantizer's recipe on the same
    float .tflite: 99.2% / 98.4% in LiteRT (bench/quant_trained.py). The float model is checked to be trained
    and context-dependent, so that agreement is not won by a model that predicts one token everywhere."""
    from trained_decoder import held_out_prompts, trained_llama

    trained = trained_llama()
    language = held_out_prompts(trained.language, 16, 32)
    uniform = np.random.default_rng(3).integers(0, trained.model.config.vocab_size, (16, 32))
    ratio, found = _bigger_decoder_agreements(
        trained.model, {"language": [language[:8], language[8:]], "random": [uniform[:8], uniform[8:]]})
    assert ratio <= 0.27
    logits = found["language"][2]
    shifted = logits[:, :-1] - logits[:, :-1].max(-1, keepdims=True)
    nll = -np.take_along_axis(shifted, language[:, 1:, None], -1) + np.log(np.exp(shifted).sum(-1, keepdims=True))
    assert nll.mean() < 5.0  # held-out loss, against log(8192) = 9.0 for a flat model
    top2 = np.sort(logits, -1)[..., -2:]
    assert np.median(top2[..., 1] - top2[..., 0]) > 0.5 and len(np.unique(logits.argmax(-1))) >= 32
    for name, (on_xla, in_litert, _) in found.items():
        assert on_xla >= 0.95 and in_litert >= 0.95, (name, on_xla, in_litert)


@pytest.mark.slow
def test_bigger_decoder_random_weights_agreement_floor():
    """The same decoder with Hugging Face's random init, 8 random prompts of 32 tokens: a regression floor,
    not the issue's bar. A random-weight model's logits are nearly flat (median top-1 margin 0.08 against a
    spread of 0.45), and per-channel int8 rounding is at its floor for Gaussian weights (MSE-optimal clipping,
    least-squares scales and GPTQ gain ~1%): measured 93.8% on XLA, 92.6% in LiteRT (ai-edge-quantizer's recipe,
    which leaves the embedding and LM head float: 91.4%)."""
    from hlo_passes.frontends import torch as ft
    from trained_decoder import BIG_LLAMA

    model = ft.tiny_llama(**BIG_LLAMA)
    import torch

    # export_causal_lm's own seeded prompts: the ones the figures above were measured on
    ids = torch.randint(0, BIG_LLAMA["vocab_size"], (8, 32), generator=torch.Generator().manual_seed(0)).numpy()
    ratio, found = _bigger_decoder_agreements(model, {"random": [ids]})
    on_xla, in_litert, _ = found["random"]
    assert ratio <= 0.27 and on_xla >= 0.92 and in_litert >= 0.90


def test_int8_embedding_table_becomes_one_hybrid_embedding_lookup():
    """An int8 embedding table is one EMBEDDING_LOOKUP on INT8 rows with per-row scales, and out-of-range ids
    are clamped as XLA's gather clamps them (the kernel itself refuses them)."""
    from hlo_passes.tflite import schema

    rng = np.random.default_rng(0)
    table = rng.standard_normal((300, 8)).astype(np.float32)
    text = (
        "func.func @main(%ids: tensor<2x3xi64>) -> tensor<2x3x8xf32> {\n"
        f"  %t = stablehlo.constant dense<{table.tolist()}> : tensor<300x8xf32>\n"
        "  %r = stablehlo.reshape %ids : (tensor<2x3xi64>) -> tensor<2x3x1xi64>\n"
        '  %g = "stablehlo.gather"(%t, %r) {dimension_numbers = #stablehlo.gather<offset_dims = [2],'
        " collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>,"
        " slice_sizes = array<i64: 1, 8>} : (tensor<300x8xf32>, tensor<2x3x1xi64>) -> tensor<2x3x8xf32>\n"
        "  return %g : tensor<2x3x8xf32>\n}\n")
    q = hp.run(hp.parse(text), "quantize-int8-dynamic")
    model = export(hp.run(q, "legalize-tflite")).to_bytes()
    parsed = schema.model_from_bytes(model)
    main = parsed.subgraphs[0]
    ops = [schema.op_name(parsed.operatorCodes[op.opcodeIndex].builtinCode) for op in main.operators]
    assert ops.count("EMBEDDING_LOOKUP") == 1 and "GATHER" not in ops and "MUL" not in ops
    lookup = next(op for op, name in zip(main.operators, ops) if name == "EMBEDDING_LOOKUP")
    rows = main.tensors[lookup.inputs[1]]
    assert schema.type_name(rows.type) == "INT8" and len(rows.quantization.scale) == 300
    ids = np.array([[0, 299, 17], [-5, 1000, 42]], np.int64)
    (want,) = numerics.execute(q, [ids])
    (got,) = TFLiteModel(model).run(None, ids).values()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(want, table[np.clip(ids, 0, 299)], atol=np.abs(table).max() / 127)


def test_tied_embedding_and_lm_head_share_one_int8_table():
    """GPT-2 ties its LM head to the embedding table: fold-constants leaves the head's transpose to simplify, the
    dot reads the [V, D] table itself, and quantize makes one int8 table (per-row scales) for both the lookup and
    the head, not a second, transposed one."""
    _, text, ids, _ = exported_lm("gpt2")
    q = hp.run(hp.run(hp.parse(text), "optimize"), "quantize-int8-dynamic")
    tables = []

    def visit(op):
        if op.name == "stablehlo.constant" and str(op.results[0].type) == "tensor<128x64xi8>":
            tables.append(op.attributes["value"])
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(q).walk(visit)
    assert len(tables) == 2 and tables[0] == tables[1]  # the gather's and the dot's: one uniqued attribute
    assert "tensor<64x128x" not in ir.to_text(q)  # no transposed copy of the table
    (got,) = numerics.execute(q, [np.asarray(ids)])
    assert np.isfinite(got).all()
