"""Whole models through the TFLite backend: torch-mlir exports of tiny Hugging Face decoders and a JAX
export, `optimize,legalize-tflite`, written and run in LiteRT against the framework's own logits; plus the
writer's promises (weights shared across signatures, streamed weights read back identically)."""

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import numerics
from hlo_passes.tflite import schema
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel
from hlo_passes.tflite.writer import ModelWriter

from conftest import EXAMPLES, exported_lm


def _composites(data: bytes) -> dict[str, int]:
    model = schema.model_from_bytes(data)
    found: dict[str, int] = {}
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex].builtinCode
        if schema.op_name(code) == "STABLEHLO_COMPOSITE":
            name = op.builtinOptions2.name.decode()
            found[name] = found.get(name, 0) + 1
    return found


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_hugging_face_decoder_runs_in_litert(family, attn):
    _, text, ids, logits = exported_lm(family, attn)
    optimized = hp.run(hp.parse(text), "optimize")
    ref = np.asarray(logits)
    for keep in ("xnnpack", "all"):  # the CPU preset keeps SDPA only; `all` keeps RMSNorm too
        data = export(hp.run(optimized, f"legalize-tflite{{keep={keep}}}")).to_bytes()
        composites = _composites(data)
        assert composites.get("odml.scaled_dot_product_attention") == 2
        assert composites.get("odml.rms_norm") == ((5 if family != "gpt2" else None) if keep == "all" else None)
        for xnnpack in (True, False):
            model = TFLiteModel(data, xnnpack=xnnpack)
            (out,) = model.run(None, np.asarray(ids)).values()
            assert np.abs(out - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), (family, attn, keep, xnnpack)


def test_jax_attention_example_runs_in_litert():
    module = hp.load(EXAMPLES / "attention.mlir")
    inputs = numerics.random_inputs(module, 0)
    expected = numerics.execute(module, inputs)
    data = export(hp.run(module, "optimize,legalize-tflite")).to_bytes()
    assert _composites(data) == {"odml.scaled_dot_product_attention": 1}
    (out,) = TFLiteModel(data).run(None, *inputs).values()
    assert numerics.compare([out], expected, rtol=1e-4, atol=1e-4).ok


TWO_SIGNATURES = """
func.func public @prefill(%x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %w = stablehlo.constant dense_resource<w> : tensor<8x16xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}
func.func public @decode(%x: tensor<1x8xf32>) -> tensor<1x16xf32> {
  %w = stablehlo.constant dense_resource<w> : tensor<8x16xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<1x8xf32>, tensor<8x16xf32>) -> tensor<1x16xf32>
  %1 = stablehlo.tanh %0 : tensor<1x16xf32>
  return %1 : tensor<1x16xf32>
}
"""


def _with_blob(text: str, array: np.ndarray) -> str:
    blob = (np.array([4], "<u4").tobytes() + array.astype("<f4").tobytes()).hex().upper()
    return text + f'{{-# dialect_resources: {{ builtin: {{ w: "0x{blob}" }} }} #-}}\n'


@pytest.mark.parametrize("threshold", [1 << 30, 64])
def test_signatures_share_one_copy_of_each_weight(threshold):
    w = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    module = hp.run(hp.parse(_with_blob(TWO_SIGNATURES, w)), "legalize-tflite")
    writer = export(module, ModelWriter(external_threshold=threshold))
    data = writer.to_bytes()
    model = schema.model_from_bytes(data)
    weight_buffers = [b for b in model.buffers if (b.data is not None and len(b.data) == w.nbytes) or b.size == w.nbytes]
    assert len(weight_buffers) == 1  # the weight (transposed once for FULLY_CONNECTED) is stored once
    if threshold == 64:
        assert weight_buffers[0].offset > 0 and weight_buffers[0].offset % 64 == 0
    lite = TFLiteModel(data)
    assert set(lite.signatures) == {"prefill", "decode"}
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    (p,) = lite.run("prefill", x).values()
    (d,) = lite.run("decode", x[:1]).values()
    np.testing.assert_allclose(p, x @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d, np.tanh(x[:1] @ w), rtol=1e-5, atol=1e-5)


def test_runner_checks_its_inputs():
    module = hp.run(hp.parse(_with_blob(TWO_SIGNATURES, np.ones((8, 16), np.float32))), "legalize-tflite")
    lite = TFLiteModel(export(module).to_bytes())
    with pytest.raises(hp.HloError, match="name one"):
        lite.run(None, np.zeros((4, 8), np.float32))
    with pytest.raises(hp.HloError, match="no signature 'main'"):
        lite.run("main", np.zeros((4, 8), np.float32))
    with pytest.raises(hp.HloError, match=r"is float32\[4, 8\], got int32\[4, 8\]"):
        lite.run("prefill", np.zeros((4, 8), np.int32))


def test_inspect_reports_signatures_ops_composites_and_sharing(tmp_path):
    from hlo_passes.tflite.inspect import inspect

    w = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    module = hp.run(hp.parse(_with_blob(TWO_SIGNATURES, w)), "legalize-tflite")
    path = tmp_path / "two.tflite"
    export(module).write(path)
    report = inspect(path)
    assert "prefill (subgraph 0)" in report and "decode (subgraph 1)" in report
    assert "in  args_0: float32[4, 8]" in report and "out output_0: float32[1, 16]" in report
    assert "FULLY_CONNECTED" in report and "TANH" in report
    assert "1 shared by several subgraphs" in report
    attention = hp.run(hp.load(EXAMPLES / "attention.mlir"), "optimize,legalize-tflite")
    export(attention).write(tmp_path / "att.tflite")
    report = inspect(tmp_path / "att.tflite")
    assert "composite odml.scaled_dot_product_attention {'scale':" in report
    (tmp_path / "bad.tflite").write_bytes(b"not a model at all")
    with pytest.raises(hp.HloError, match="not a .tflite model"):
        inspect(tmp_path / "bad.tflite")


def test_keep_policy_by_name():
    _, text, _, _ = exported_lm("llama", "sdpa")
    optimized = hp.run(hp.parse(text), "optimize")
    data = export(hp.run(optimized, "legalize-tflite{keep=odml.rms_norm}")).to_bytes()
    assert _composites(data) == {"odml.rms_norm": 5}
    data = export(hp.run(optimized, "legalize-tflite{keep=none}")).to_bytes()
    assert _composites(data) == {} and len(schema.model_from_bytes(data).subgraphs) == 1


def test_identical_decompositions_share_one_subgraph():
    _, text, _, _ = exported_lm("llama", "sdpa")
    data = export(hp.run(hp.parse(text), "optimize,legalize-tflite{keep=all}")).to_bytes()
    model = schema.model_from_bytes(data)
    assert len(model.subgraphs) == 3  # main, one rms_norm body, one attention body


def test_torch_cnn_runs_in_litert():
    """A small vision net from the torch front end: conv + batch norm + relu, depthwise conv, max pooling,
    GELU, global average pooling, linear, softmax."""
    import torch

    from hlo_passes.frontends.torch import export_torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
            self.dw = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2)
            self.fc = torch.nn.Linear(16, 10)

        def forward(self, x):
            x = torch.relu(self.b1(self.c1(x)))
            x = torch.nn.functional.max_pool2d(torch.relu(self.dw(x)), 2)
            x = torch.nn.functional.gelu(self.c2(x))
            x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
            return torch.softmax(self.fc(x), -1)

    net = Net().eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        ref = net(x).numpy()
    module = hp.run(hp.parse(export_torch(net, x)), "optimize,legalize-tflite")
    text = hp.ir.to_text(module)
    assert '"tfl.conv_2d"' in text and '"tfl.depthwise_conv_2d"' in text and '"tfl.max_pool_2d"' in text
    data = export(module).to_bytes()
    for xnnpack in (True, False):
        (out,) = TFLiteModel(data, xnnpack=xnnpack).run(None, x.numpy()).values()
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-6)


def test_jax_loop_and_cond_become_while_and_if():
    """lax.fori_loop (stablehlo.while capturing x) and lax.cond (a two-branch stablehlo.case) run as TFL
    WHILE and IF with their bodies as subgraphs; both branches and several trip counts are exercised."""
    import jax
    import jax.numpy as jnp

    w = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32) / 3

    def f(x, n):
        y = jax.lax.fori_loop(0, n, lambda i, c: jnp.tanh(c @ w + x) * (i + 1).astype(jnp.float32), x)
        return jax.lax.cond(y.sum() > 0, lambda t: t * 2.0, lambda t: t - x, y)

    text = jax.jit(f).lower(jax.ShapeDtypeStruct((2, 8), jnp.float32),
                            jax.ShapeDtypeStruct((), jnp.int32)).as_text()
    module = hp.parse(text)
    data = export(hp.run(module, "optimize,legalize-tflite")).to_bytes()
    model = schema.model_from_bytes(data)
    ops = {schema.op_name(model.operatorCodes[op.opcodeIndex].builtinCode)
           for sg in model.subgraphs for op in sg.operators}
    assert {"WHILE", "IF"} <= ops
    signs = set()
    for n in (0, 1, 3, 6):
        for seed in range(3):
            x = np.random.default_rng(seed + 10 * n).standard_normal((2, 8)).astype(np.float32)
            inputs = [x, np.array(n, np.int32)]
            expected = numerics.execute(module, inputs)
            for xnnpack in (True, False):
                got = list(TFLiteModel(data, xnnpack=xnnpack).run(None, *inputs).values())
                assert numerics.compare(got, expected, rtol=1e-4, atol=1e-5).ok, (n, seed, xnnpack)
            signs.add(bool(np.sign(expected[0].sum() / 2) > 0) if n else None)
    assert {True, False} <= signs  # both branches were taken


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_left_padded_batch_runs_in_litert_with_torchs_logits(family):
    """torch's SDPA export with a left-padded attention_mask: optimize (the fully-masked-row guard stays outside
    the composite), legalize (the mask is read with a point gather -> GATHER_ND), run in LiteRT: torch's logits,
    no NaN from the padded rows."""
    from test_composite_semantics import padded_export

    text, ids, mask, logits = padded_export(family)
    model = export(hp.run(hp.parse(text), "optimize,legalize-tflite")).to_bytes()
    for xnnpack in (True, False):
        (out,) = TFLiteModel(model, xnnpack=xnnpack).run(None, ids, mask).values()
        assert not np.isnan(out).any()
        np.testing.assert_allclose(out, logits, rtol=1e-4, atol=1e-4)
