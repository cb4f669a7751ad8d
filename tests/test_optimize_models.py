"""The `optimize` pipeline on real exports: every attention, RMSNorm, LayerNorm and GELU of tiny Hugging Face
models (torch-mlir, sdpa and eager attention) and of a JAX transformer becomes a composite, and the
logits stay within 1e-5 of the unfused module on XLA CPU."""

import sys

import numpy as np
import pytest
from conftest import EXAMPLES, exported_lm

import hlo_passes as hp
from hlo_passes import ir, numerics

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
LAYERS = 2  # the tiny models' depth
SDPA, RMS = 'stablehlo.composite "odml.scaled_dot_product_attention"', 'stablehlo.composite "odml.rms_norm"'
LN, GELU = 'stablehlo.composite "odml.layer_norm"', 'stablehlo.composite "odml.gelu"'


def check(module, inputs, rms_norms, layer_norms=0, gelus=0, transposes=0):
    out = hp.run(module, "optimize")
    text = ir.to_text(out)
    assert str(numerics.entry_function(out)).count("stablehlo.transpose") == transposes  # sink-transposes
    assert text.count(SDPA) == LAYERS
    assert text.count(RMS) == rms_norms
    assert (text.count(LN), text.count(GELU)) == (layer_norms, gelus)
    got, want = numerics.execute(out, inputs)[0], numerics.execute(module, inputs)[0]
    assert np.abs(got - want).max() <= 1e-5
    assert ir.to_text(hp.run(out, "optimize")).count("stablehlo.composite") == text.count("stablehlo.composite")


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_hugging_face_exports_fuse_completely(family, attn):
    _, text, ids, _ = exported_lm(family, attn)
    if family == "gpt2":  # LayerNorm (2 per layer and a final one) and gelu_new (tanh form) in the MLPs
        check(ir.parse(text), [ids], 0, layer_norms=2 * LAYERS + 1, gelus=LAYERS)
    else:
        check(ir.parse(text), [ids], 2 * LAYERS + 1)


def test_jax_transformer_fuses_completely():
    sys.path.insert(0, str(EXAMPLES))
    from transformer import transformer_text

    module = ir.parse(transformer_text(LAYERS))
    check(module, numerics.random_inputs(module, 0), 2 * LAYERS + 1)  # embed.T: read by the LM-head dot itself
