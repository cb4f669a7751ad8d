"""The PyTorch front end: tiny Hugging Face causal LMs exported by torch-mlir must parse in our context and
give torch's logits when XLA CPU runs them. (The `torch` extra, which the test command installs.)

Each (family, attention) pair is exported once per session (`conftest.exported_lm` is cached).
"""

import functools
import sys

import numpy as np
import pytest


from conftest import exported_lm  # noqa: E402

from hlo_passes import ir, numerics  # noqa: E402
from hlo_passes.diagnostics import HloError  # noqa: E402
from hlo_passes.frontends import torch as ft  # noqa: E402
from hlo_passes.instrumentation import op_histogram  # noqa: E402

BUILDERS = {"llama": ft.tiny_llama, "qwen2": ft.tiny_qwen2, "gpt2": ft.tiny_gpt2}
CASES = [("llama", "sdpa"), ("llama", "eager"), ("qwen2", "sdpa"), ("gpt2", "eager")]
# dot_generals: per layer, the projections (q, k, v, o; GPT-2 has a fused c_attn plus c_proj), the two
# attention matmuls and the MLP (3 for SwiGLU, 2 for GPT-2); then the LM head
DOTS = {"llama": 2 * (4 + 2 + 3) + 1, "qwen2": 2 * (4 + 2 + 3) + 1, "gpt2": 2 * (2 + 2 + 2) + 1}
ATOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")  # torch.export's own noise


def _exported(family, attn):
    return exported_lm(family, attn)


@pytest.mark.parametrize("family,attn", CASES)
def test_logits_match_torch(family, attn):
    _, text, ids, logits = _exported(family, attn)
    assert ids.dtype == np.int64 and ids.shape == (1, 8)
    assert logits.shape == (1, 8, 128) and logits.dtype == np.float32
    assert np.abs(logits).max() > 0.1  # not all ~0, or the tolerance below would say nothing
    module = ir.parse(text)
    assert numerics.signature(module) == [((1, 8), np.dtype(np.int64))]
    (out,) = numerics.execute(module, [ids])
    assert out.shape == logits.shape and out.dtype == logits.dtype
    np.testing.assert_allclose(out, logits, rtol=0, atol=ATOL)


@pytest.mark.parametrize("family,attn", CASES)
def test_op_counts(family, attn):
    _, text, _, _ = _exported(family, attn)
    hist = op_histogram(ir.parse(text))
    assert sum(hist.values()) > 300, hist
    assert hist["stablehlo.dot_general"] == DOTS[family], hist
    assert hist["func.func"] == 1
    assert hist["stablehlo.custom_call"] == 0 and hist["stablehlo.composite"] == 0  # all decomposed
    assert hist["stablehlo.exponential"] == 2  # one softmax per layer


def test_weights_are_dense_resources_with_torch_values():
    model, text, _, _ = _exported("llama", "sdpa")
    module = ir.parse(text)
    weights = {}

    def visit(op):
        if op.name == "stablehlo.constant" and "dense_resource" in str(op.attributes["value"]):
            array = ir.to_numpy(op.attributes["value"])
            weights.setdefault(array.shape, []).append(array)
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    # every parameter, plus the rotary inv_freq buffer that was made persistent for the export
    assert sum(len(v) for v in weights.values()) == len(list(model.parameters())) + 1
    embed = model.model.embed_tokens.weight.detach().numpy()
    assert any(np.array_equal(w, embed) for w in weights[embed.shape])
    inv_freq = model.model.rotary_emb.inv_freq.numpy()
    assert any(np.array_equal(w, inv_freq) for w in weights[inv_freq.shape])


def test_not_specialized_to_the_traced_tokens():
    model, text, ids, _ = _exported("llama", "sdpa")
    import torch

    other = (ids[:, ::-1] + 5) % 128
    with torch.no_grad():
        expected = model(input_ids=torch.from_numpy(other.copy()), use_cache=False).logits.numpy()
    (out,) = numerics.execute(ir.parse(text), [other])
    np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)


def test_non_persistent_buffers_are_restored():
    model, _, _, _ = _exported("llama", "sdpa")
    assert "inv_freq" in model.model.rotary_emb._non_persistent_buffers_set
    assert not any("inv_freq" in k for k in model.state_dict())
    assert not model.training


def test_tiny_models_are_seeded_and_configurable():
    a, b = ft.tiny_llama(seed=3), ft.tiny_llama(seed=3)
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy()), name
    c = ft.tiny_llama(seed=4, num_hidden_layers=1)
    assert c.config.num_hidden_layers == 1 and len(c.model.layers) == 1
    assert not np.array_equal(a.lm_head.weight.detach().numpy(), c.lm_head.weight.detach().numpy())
    assert a.config.use_cache is False and a.config._attn_implementation == "sdpa"


def test_export_error_is_an_hlo_error():
    import torch

    class Bad(torch.nn.Module):
        def forward(self, x):
            return x.nonzero().float().sum() if x.sum() > 0 else x  # data-dependent control flow

    with pytest.raises(HloError, match="torch-mlir cannot export Bad"):
        ft.export_torch(Bad(), torch.ones(3))


def test_missing_torch_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(HloError, match=r"pip install -e '\.\[torch\]'"):
        ft.tiny_llama()
    with pytest.raises(HloError, match="needs torch"):
        ft.export_torch(object())
