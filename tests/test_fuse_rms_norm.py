"""fuse-rms-norm on what exporters really write: every RMSNorm variant as `jax.jit(f).lower(...)` emits it,
torch-mlir's Hugging Face RMSNorm modules, and whole tiny Llama/Qwen2 exports. Each rewrite must give
exactly the expected `odml.rms_norm` composites (epsilon, operands x and w[D]) and the same results on
XLA CPU, bit for bit (the decomposition is the matched ops themselves). A second run changes nothing."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import exported_lm
from hypothesis import given, settings
from hypothesis import strategies as st

import hlo_passes as hp
from hlo_passes import ir, numerics

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
EPS = 1e-6
F32, BF16, F16 = jnp.float32, jnp.bfloat16, jnp.float16


def public(module) -> list:
    return [f for f in ir.module_ops(module) if f.operation.name == "func.func" and (
        "sym_visibility" not in f.attributes or ir.mlir.StringAttr(f.attributes["sym_visibility"]).value != "private")]


def composites(module) -> list:
    """The odml.rms_norm composites of `module`'s public functions, in program order."""
    found = []
    for fn in public(module):
        for op in fn.regions[0].blocks[0].operations:
            if op.operation.name == "stablehlo.composite" and \
                    ir.mlir.StringAttr(op.attributes["name"]).value == "odml.rms_norm":
                found.append(op.operation)
    return found


def epsilon(op) -> float:
    return ir.mlir.FloatAttr(ir.mlir.DictAttr(op.attributes["composite_attributes"])["epsilon"]).value


def shape_dtype(value) -> tuple:
    t = ir.mlir.RankedTensorType(value.type)
    return tuple(t.shape), str(t.element_type)


def decomposition(module, op):
    name = ir.mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value
    (fn,) = [f for f in ir.module_ops(module) if ir.mlir.StringAttr(f.attributes["sym_name"]).value == name]
    return fn


def fuse_and_check(module, count: int, pipeline: str = "fuse-rms-norm", **tol):
    """Run `pipeline`, check the count, bit-exact results, private decompositions, and that a second
    fuse-rms-norm neither nests nor adds anything. Returns (output module, composites)."""
    out = hp.run(module, pipeline)
    ops = composites(out)
    assert len(ops) == count, ir.to_text(out)
    for op in ops:
        fn = decomposition(out, op)
        assert ir.mlir.StringAttr(fn.attributes["sym_visibility"]).value == "private"
        assert not any(o.operation.name == "stablehlo.composite" for o in fn.regions[0].blocks[0].operations)
    again = hp.run(out, "fuse-rms-norm")
    assert len(composites(again)) == count and ir.to_text(again) == ir.to_text(out)
    if pipeline == "fuse-rms-norm":
        same = numerics.check_same(module, out, rtol=tol.get("rtol", 0), atol=tol.get("atol", 0))
        assert same, same.detail
    return out, ops


# ------------------------------------------------------------------------------------------ JAX variants

def rsqrt_mean(x, w):  # the reference form
    return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + EPS) * w


def div_sqrt(x, w):  # x / sqrt(...); x ** 2 lowers to x * x
    return x / jnp.sqrt(jnp.mean(x ** 2, -1, keepdims=True) + EPS) * w


def pow_two(x, w):  # stablehlo.power with a broadcast 2.0
    return x * jax.lax.rsqrt(jnp.mean(jnp.power(x, 2.0), -1, keepdims=True) + EPS) * w


def square_sum_over_n(x, w):  # chlo.square, sum / N
    return x * jax.lax.rsqrt(jnp.sum(jnp.square(x), -1, keepdims=True) / x.shape[-1] + EPS) * w


def sum_times_inverse_n(x, w):  # sum * (1 / N)
    return x * jax.lax.rsqrt(jnp.sum(x * x, -1, keepdims=True) * (1 / x.shape[-1]) + EPS) * w


def weight_first(x, w):  # Hugging Face's order: w * norm(x)
    return w * (x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + EPS))


def no_weight(x):
    return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + EPS)


def upcast(x, w):  # a bf16/f16 model: the norm in f32, back to x's type, then the weight
    xf = x.astype(jnp.float32)
    return (xf * jax.lax.rsqrt(jnp.mean(xf * xf, -1, keepdims=True) + EPS)).astype(x.dtype) * w


def upcast_no_weight(x):
    xf = x.astype(jnp.float32)
    return (xf * jax.lax.rsqrt(jnp.mean(xf * xf, -1, keepdims=True) + EPS)).astype(x.dtype)


def gemma(x, w):  # Gemma: (1 + w), all in f32, one convert at the end
    xf = x.astype(jnp.float32)
    y = xf * jax.lax.rsqrt(jnp.mean(xf * xf, -1, keepdims=True) + EPS)
    return (y * (1 + w.astype(jnp.float32))).astype(x.dtype)


def two_norms(x, w1, w2):
    return rsqrt_mean(rsqrt_mean(x, w1) + x, w2)


def spec(shape, dtype=F32):
    return jax.ShapeDtypeStruct(shape, dtype)


X, W = (2, 8, 16), (16,)
# id: (function, argument specs, composites, epsilon as the graph adds it, composite w (shape, type))
JAX_CASES = {
    "rsqrt-mean": (rsqrt_mean, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    "div-sqrt": (div_sqrt, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    "pow-2": (pow_two, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    "square-sum-over-n": (square_sum_over_n, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    "sum-times-inverse-n": (sum_times_inverse_n, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    "weight-first": (weight_first, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    "no-weight": (no_weight, [spec(X)], 1, np.float32(EPS), ((16,), "f32")),
    "bf16-upcast": (upcast, [spec(X, BF16), spec(W, BF16)], 1, np.float32(EPS), ((16,), "bf16")),
    "f16-upcast": (upcast, [spec(X, F16), spec(W, F16)], 1, np.float32(EPS), ((16,), "f16")),
    "bf16-upcast-no-weight": (upcast_no_weight, [spec(X, BF16)], 1, np.float32(EPS), ((16,), "bf16")),
    "gemma-bf16": (gemma, [spec(X, BF16), spec(W, BF16)], 1, np.float32(EPS), ((16,), "f32")),
    "gemma-f32": (gemma, [spec(X), spec(W)], 1, np.float32(EPS), ((16,), "f32")),
    # jnp.mean of f16 sums in f32 and converts back; eps is added in f16
    "f16-no-upcast": (rsqrt_mean, [spec(X, F16), spec(W, F16)], 1, np.float16(EPS), ((16,), "f16")),
    "rank-2": (rsqrt_mean, [spec((5, 32)), spec((32,))], 1, np.float32(EPS), ((32,), "f32")),
    "two-norms": (two_norms, [spec(X), spec(W), spec(W)], 2, np.float32(EPS), ((16,), "f32")),
}


@pytest.mark.parametrize("case", JAX_CASES)
def test_jax_variants_fuse_bit_exactly(case):
    fn, specs, count, eps, (w_shape, w_type) = JAX_CASES[case]
    module = ir.parse(jax.jit(fn).lower(*specs).as_text())
    out, ops = fuse_and_check(module, count)
    x_spec = specs[0]
    x_type = {F32: "f32", BF16: "bf16", F16: "f16"}[x_spec.dtype.type]
    for op in ops:
        assert epsilon(op) == float(np.float32(eps))
        x, w = op.operands
        assert shape_dtype(x) == (x_spec.shape, x_type)
        assert shape_dtype(w) == (w_shape, w_type)
        assert shape_dtype(op.results[0]) == (x_spec.shape, x_type)
    (main,) = public(out)
    left = {o.operation.name for o in main.regions[0].blocks[0].operations}
    assert not left & {"stablehlo.rsqrt", "stablehlo.sqrt", "stablehlo.reduce"}, left  # all of it went in


def test_operands_are_x_and_w_themselves_and_gemma_passes_one_plus_w():
    out = hp.run(ir.parse(jax.jit(rsqrt_mean).lower(spec(X), spec(W)).as_text()), "fuse-rms-norm")
    (op,) = composites(out)
    (main,) = public(out)
    assert list(op.operands) == list(main.regions[0].blocks[0].arguments)
    out = hp.run(ir.parse(jax.jit(gemma).lower(spec(X, BF16), spec(W, BF16)).as_text()), "fuse-rms-norm")
    (op,) = composites(out)
    assert op.operands[1].owner.name == "stablehlo.add"  # 1 + w, computed outside the composite


NEAR_MISSES = {
    "wrong-axis": lambda x, w: x * jax.lax.rsqrt(jnp.mean(x * x, 1, keepdims=True) + EPS) * w,
    "eps-argument": lambda x, w, e: x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + e) * w,
    "not-a-mean": lambda x, w: x * jax.lax.rsqrt(jnp.sum(x * x, -1, keepdims=True) / 15 + EPS) * w,
    "variance-not-rms": lambda x, w: x * jax.lax.rsqrt(jnp.var(x, -1, keepdims=True) + EPS) * w,
}


def _rsqrt_reused(x, w):
    r = jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + EPS)
    return x * r * w, r


@pytest.mark.parametrize("case", [*NEAR_MISSES, "rsqrt-reused"])
def test_near_misses_do_not_fuse(case):
    fn = NEAR_MISSES.get(case, _rsqrt_reused)
    specs = [spec(X), spec(W)] + ([spec(())] if case == "eps-argument" else [])
    module = ir.parse(jax.jit(fn).lower(*specs).as_text())
    out = hp.run(module, "fuse-rms-norm")
    assert composites(out) == [] and ir.to_text(out) == ir.to_text(module)


def test_normalized_value_with_another_user_keeps_the_weight_outside():
    def f(x, w):
        n = no_weight(x)
        return n * w, n

    module = ir.parse(jax.jit(f).lower(spec(X), spec(W)).as_text())
    _, (op,) = fuse_and_check(module, 1)
    assert vals_const(op.operands[1]) is not None and (vals_const(op.operands[1]) == 1).all()  # w = ones


def vals_const(value):
    from hlo_passes.patterns import values as vals

    attr = vals.constant_attr(vals.defining_op(value))
    return None if attr is None else ir.to_numpy(attr)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.integers(1, 24), st.sampled_from([1e-6, 1e-5, 0.1]))
def test_any_rows_and_width(rows, d, eps):
    def f(x, w):
        return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + eps) * w

    module = ir.parse(jax.jit(f).lower(spec((*rows, d)), spec((d,))).as_text())
    _, (op,) = fuse_and_check(module, 1)
    assert epsilon(op) == float(np.float32(eps))


# ------------------------------------------------------------------------------------------ torch-mlir

def _perturb_norms(model, seed: int = 1):
    """Hugging Face initializes RMSNorm weights to ones (Gemma: zeros), and fold/simplify then remove the
    multiply: make them real weights."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_((0.1 * torch.randn(p.shape, generator=g)).to(p.dtype))
    return model


@pytest.mark.parametrize("kind", ["llama", "llama-bf16", "gemma-bf16"])
def test_torch_mlir_rms_norm_modules(kind):
    torch = pytest.importorskip("torch")
    from transformers.models.gemma.modeling_gemma import GemmaRMSNorm
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    from hlo_passes.frontends.torch import export_torch

    cls, dtype = {"llama": (LlamaRMSNorm, torch.float32), "llama-bf16": (LlamaRMSNorm, torch.bfloat16),
                  "gemma-bf16": (GemmaRMSNorm, torch.bfloat16)}[kind]
    norm = _perturb_norms(cls(16, eps=1e-6)).to(dtype).eval()
    module = ir.parse(export_torch(norm, torch.randn(2, 8, 16).to(dtype)))
    _, (op,) = fuse_and_check(module, 1)
    assert epsilon(op) == float(np.float32(1e-6))
    x_type = "f32" if dtype == torch.float32 else "bf16"
    assert shape_dtype(op.operands[0]) == ((2, 8, 16), x_type)
    assert shape_dtype(op.results[0]) == ((2, 8, 16), x_type)
    w = norm.weight.detach().float().numpy() + (1 if cls is GemmaRMSNorm else 0)
    assert shape_dtype(op.operands[1])[0] == (16,)
    if cls is LlamaRMSNorm:  # the weight constant itself is the operand
        assert np.array_equal(vals_const(op.operands[1]).astype(np.float32), w)


@functools.lru_cache(maxsize=None)
def _real_weight_export(family: str, attn: str, dtype: str = "float32"):
    import torch

    from hlo_passes.frontends import torch as ft

    model = {"llama": ft.tiny_llama, "qwen2": ft.tiny_qwen2}[family](attn_implementation=attn)
    model = _perturb_norms(model.to(getattr(torch, dtype)))
    text, ids, logits = ft.export_causal_lm(model)
    weights = [p.detach().float().numpy() for n, p in model.named_parameters() if "norm" in n]
    return text, ids, logits, weights


PIPELINE = "fold-constants,simplify,cse,fuse-rms-norm"


@pytest.mark.parametrize("family,attn", [("llama", "sdpa"), ("llama", "eager"), ("qwen2", "sdpa"), ("qwen2", "eager")])
def test_exported_lm_with_real_norm_weights(family, attn):
    pytest.importorskip("torch")
    text, ids, logits, weights = _real_weight_export(family, attn)
    module = ir.parse(text)
    out, ops = fuse_and_check(module, 5, PIPELINE)  # 2 per layer + the final norm
    # the weights that fold-constants had broadcast to x's shape come back as the [64] rows
    assert [shape_dtype(op.operands[1]) for op in ops] == [((64,), "f32")] * 5
    got = [vals_const(op.operands[1]) for op in ops]
    assert all(g is not None and np.array_equal(g, w) for g, w in zip(got, weights))
    assert all(epsilon(op) == float(np.float32(1e-6)) for op in ops)
    unfused = hp.run(module, "fold-constants,simplify,cse")
    (want,) = numerics.execute(unfused, [ids])
    (got_logits,) = numerics.execute(out, [ids])
    assert np.array_equal(got_logits, want)
    assert np.abs(got_logits - logits).max() <= 1e-5


def test_exported_llama_with_ones_weights_fuses_unweighted():
    """With Hugging Face's default ones, simplify removes x*1: the norms fuse with w = ones."""
    pytest.importorskip("torch")
    _, text, ids, logits = exported_lm("llama", "sdpa")
    out, ops = fuse_and_check(ir.parse(text), 5, PIPELINE)
    assert all((vals_const(op.operands[1]) == 1).all() for op in ops)
    (got,) = numerics.execute(out, [ids])
    assert np.abs(got - logits).max() <= 1e-5


def test_exported_f16_llama_fuses_around_the_upcast():
    pytest.importorskip("torch")
    text, ids, _, weights = _real_weight_export("llama", "sdpa", "float16")
    module = ir.parse(text)
    out, ops = fuse_and_check(module, 5, PIPELINE)
    for op, w in zip(ops, weights):
        assert shape_dtype(op.operands[0]) == ((1, 8, 64), "f16")
        assert shape_dtype(op.operands[1]) == ((64,), "f16")
        assert np.array_equal(vals_const(op.operands[1]).astype(np.float32), w)
    (want,) = numerics.execute(hp.run(module, "fold-constants,simplify,cse"), [ids])
    (got,) = numerics.execute(out, [ids])
    assert got.dtype == np.float16 and np.array_equal(got, want)
