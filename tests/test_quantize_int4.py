"""quantize-int8-dynamic{dtype=int4}: int4 weights in blocks along the contracting axis, float16 scales.

The numbers (hypothesis), the rewrite on XLA CPU, and the `.tflite`: FULLY_CONNECTED with an INT4 weight and
LiteRT's block-wise quantization (a FLOAT16 scales tensor), run by XNNPACK and by the builtin kernels, which
must compute what XLA computes from the same int4 weights (up to the dynamic quantization of activations)."""

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hlo_passes as hp
from hlo_passes import numerics
from hlo_passes.passes.quantize_int8_dynamic import QuantizeInt8Dynamic
from hlo_passes.patterns.quant import INT4_MAX, quantize_blockwise, relative_error
from hlo_passes.tflite import schema
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel
from hlo_passes.tflite.writer import pack_int4

from conftest import exported_lm

finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.sampled_from([2, 4, 8]), st.integers(1, 5), st.integers(0, 1), st.data())
def test_error_is_at_most_half_a_step_and_scales_are_exact_in_both_halves(blocks, block, n, axis, data):
    k = blocks * block
    w = data.draw(hnp.arrays(np.float32, (k, n) if axis == 0 else (n, k), elements=finite))
    q = quantize_blockwise(w, axis, block)
    assert str(q.values.dtype) == "int4" and np.abs(q.values.astype(int)).max(initial=0) <= INT4_MAX
    assert np.all(q.scale > 0) and q.scale.shape[axis] == blocks
    # float16 stores them, XNNPACK computes with them as bfloat16: both must hold each scale exactly
    assert np.array_equal(q.scale.astype(np.float16).astype(np.float32), q.scale)
    assert np.array_equal(q.scale.astype(ml_dtypes.bfloat16).astype(np.float32), q.scale)
    step = np.repeat(q.scale, block, axis=axis)
    tiny = 2.0 ** -14  # the smallest scale: weights below 7 * 2^-14 round on that grid
    assert np.all(np.abs(q.dequantize() - w) <= np.maximum(step, tiny) / 2 * (1 + 1e-6))


def test_zero_blocks_refusals_and_packing():
    w = np.zeros((2, 8), np.float32)
    w[1, 4:] = [0.5, -1.0, 2.0, 3.5]
    q = quantize_blockwise(w, 1, 4)
    assert q.scale[0].tolist() == [1.0, 1.0] and not q.values[0].astype(int).any()  # all-zero blocks: exact
    np.testing.assert_array_equal(q.dequantize()[1, 4:], w[1, 4:])  # 3.5 / 0.5 = 7: every value on the grid
    with pytest.raises(ValueError, match="multiple of the block size"):
        quantize_blockwise(np.ones((2, 6), np.float32), 1, 4)
    with pytest.raises(ValueError, match="inf or NaN"):
        quantize_blockwise(np.array([[np.nan, 1.0]], np.float32), 1, 2)
    with pytest.raises(ValueError, match="too large"):
        quantize_blockwise(np.array([[1e6, 1.0]], np.float32), 1, 2)
    packed = pack_int4(np.array([1, -2, 7, -8, 3], ml_dtypes.int4))  # low nibble first, odd count padded
    assert packed.tolist() == [0xE1, 0x87, 0x03]


def _dot_module(k: int, n: int, transposed: bool) -> str:
    rng = np.random.default_rng(k + n)
    w = rng.standard_normal((n, k) if transposed else (k, n)).astype(np.float32)
    dims = "[1] x [1]" if transposed else "[1] x [0]"
    wt = f"tensor<{n}x{k}xf32>" if transposed else f"tensor<{k}x{n}xf32>"
    return (f"func.func @main(%x: tensor<3x{k}xf32>) -> tensor<3x{n}xf32> {{\n"
            f"  %w = stablehlo.constant dense<{w.tolist()}> : {wt}\n"
            f"  %y = stablehlo.dot_general %x, %w, contracting_dims = {dims} : (tensor<3x{k}xf32>, {wt})"
            f" -> tensor<3x{n}xf32>\n  return %y : tensor<3x{n}xf32>\n}}\n")


@pytest.mark.parametrize("transposed", [False, True])
def test_int4_blocks_run_on_xla_and_in_litert_as_blockwise_fully_connected(transposed):
    k, n, block = 128, 48, 32
    module = hp.parse(_dot_module(k, n, transposed))
    q = hp.run(module, [QuantizeInt8Dynamic(dtype="int4", block_size=block)])
    inputs = numerics.random_inputs(module, 0)
    (want,) = numerics.execute(module, inputs)
    (got_xla,) = numerics.execute(q, inputs)
    assert np.linalg.norm(got_xla - want) / np.linalg.norm(want) < 0.2  # int4: ~10% per weight
    model = export(hp.run(q, "legalize-tflite")).to_bytes()
    parsed = schema.model_from_bytes(model)
    main = parsed.subgraphs[0]
    (fc,) = main.operators
    assert schema.op_name(parsed.operatorCodes[fc.opcodeIndex].builtinCode) == "FULLY_CONNECTED"
    weight = main.tensors[fc.inputs[1]]
    assert schema.type_name(weight.type) == "INT4" and list(weight.shape) == [n, k]
    details = weight.quantization.details
    assert details.blockSize == block
    scales = main.tensors[details.scales]
    assert schema.type_name(scales.type) == "FLOAT16" and list(scales.shape) == [n, k // block]
    for xnnpack in (True, False):
        (got,) = TFLiteModel(model, xnnpack=xnnpack).run(None, *inputs).values()
        # the same int4 weights; LiteRT also quantizes the activations to int8 on the fly
        assert np.linalg.norm(got - got_xla) / np.linalg.norm(got_xla) < 0.02, xnnpack


def test_int4_falls_back_to_int8_where_blocks_do_not_fit():
    q = hp.run(hp.parse(_dot_module(80, 16, False)), [QuantizeInt8Dynamic(dtype="int4", block_size=32)])
    text = str(q)
    assert "xi4>" not in text and "xi8>" in text


def test_tiny_llama_int4_through_litert():
    """The whole decoder in int4 blocks of 32: a quarter of the float .tflite's bytes or less, and LiteRT
    computing what XLA computes from the same int4 weights."""
    _, text, ids, _ = exported_lm("llama")
    fp = hp.run(hp.parse(text), "optimize")
    q = hp.run(fp, "quantize-int8-dynamic{dtype=int4 block-size=32}")
    (on_xla,) = numerics.execute(q, [ids])
    int4 = export(hp.run(q, "legalize-tflite")).to_bytes()
    assert len(int4) <= 0.25 * len(export(hp.run(fp, "legalize-tflite")).to_bytes())
    for xnnpack in (True, False):
        (out,) = TFLiteModel(int4, xnnpack=xnnpack).run(None, ids).values()
        assert np.linalg.norm(out - on_xla) / np.linalg.norm(on_xla) < 0.02, xnnpack


def test_relative_error_of_blocks_beats_channels():
    """Why blocks: on the same weights int4 in blocks of 32 has a smaller error than one scale per channel
    would (the comparison point litert-torch's int4 recipes make)."""
    w = np.random.default_rng(0).standard_normal((64, 512)).astype(np.float32)
    blocks = relative_error(w, quantize_blockwise(w, 1, 32))
    channels = relative_error(w, quantize_blockwise(w, 1, 512))
    assert blocks < 0.85 * channels
