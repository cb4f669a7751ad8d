"""fuse-sdpa on attention as exporters write it: every variant as `jax.jit(f).lower(...)` emits it (scale on q,
k or the scores; masks float, boolean, causal; softmax stable, naive, upcast; einsum, matmul, lax.dot_general,
jax.nn.dot_product_attention; [B,N,T,H] and [B,T,N,H]; GQA/MQA), torch-mlir's Hugging Face models, and the
near-misses that must stay as they are.

Two checks per fusion, both on XLA CPU with the same seeded inputs:
- the rewritten module computes what the original did (the decomposition is the matched ops: tight);
- the composite *means* what the original computed: each decomposition is swapped for a reference attention
  built from nothing but the composite's operands ([B,T,N,H] q/k/v, [B|1,1,T,S] additive mask) and its
  attributes (scale, logit_cap), which catches a wrong scale, layout, mask or head grouping that the first
  check cannot see.
The original, the rewrite and the reference run as one module (its main calls the three), so that each case
costs one XLA compilation.
"""

import contextlib
import functools
import io
import math
import re
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import exported_lm
from hypothesis import given, settings
from hypothesis import strategies as st

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.composites import sdpa as reference_sdpa
from hlo_passes.ir import mlir
from hlo_passes.patterns import sdpa

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
NAME = "odml.scaled_dot_product_attention"
CLEANUP = "inline-calls,fold-constants,simplify,cse"
PIPELINE = CLEANUP + ",fuse-sdpa,simplify,cse"
F32, BF16 = jnp.float32, jnp.bfloat16
B, N, T, S, H = 3, 4, 5, 7, 8  # all different, so that no axis passes for another
SC = 1 / math.sqrt(H)


# ----------------------------------------------------------------------------------------------- helpers

def spec(*shape, dtype=F32):
    return jax.ShapeDtypeStruct(shape, dtype)


def lower(f, *specs):
    return ir.parse(jax.jit(f).lower(*specs).as_text())


def composites(module) -> list:
    """The SDPA composites of `module`'s public functions, in program order."""
    found = []
    for fn in ir.module_ops(module):
        if fn.operation.name != "func.func" or "sym_visibility" in fn.attributes and \
                mlir.StringAttr(fn.attributes["sym_visibility"]).value == "private":
            continue

        def visit(op):
            if op.name == "stablehlo.composite" and mlir.StringAttr(op.attributes["name"]).value == NAME:
                found.append(op)
            return mlir.WalkResult.ADVANCE

        fn.operation.walk(visit)
    return found


def attrs(op) -> dict:
    d = mlir.DictAttr(op.attributes["composite_attributes"])
    return {d[i].name: mlir.FloatAttr(d[i].attr).value for i in range(len(d))}


def shape(value) -> tuple:
    return tuple(mlir.RankedTensorType(value.type).shape)


def operand_shapes(op) -> list:
    return [shape(v) for v in op.operands]


def _reference(q, k, v, mask, *, scale, cap, out_dtype):
    """What odml.scaled_dot_product_attention means, from its operands alone: the project's one reference
    kernel (hlo_passes/composites.py), also what --check-composites runs."""
    return reference_sdpa(q, k, v, mask, scale=scale, logit_cap=cap).astype(out_dtype)


def _functions(module, prefix: str) -> str:
    """The functions of `module` as text, renamed with `prefix` and made private (to splice elsewhere)."""
    text = ir.to_text(module) if not isinstance(module, str) else module
    head = text.partition("{-#")[0]
    inner = head[head.index("\n", head.index("module")) + 1:head.rindex("}")]
    return re.sub(r"@([A-Za-z_][\w.$]*)", rf"@{prefix}\1", inner).replace("func.func public", "func.func private")


def _reference_functions(module) -> list[str]:
    """One `_reference`, lowered by JAX, per SDPA composite of `module`: its functions as text, the i-th
    composite's entry named `ref{i}_main`."""
    refs = []
    for i, op in enumerate(composites(module)):
        a = attrs(op)
        specs = [spec(*shape(v), dtype=ir.np_dtype(mlir.ShapedType(v.type).element_type)) for v in op.operands]
        out_dtype = ir.np_dtype(mlir.ShapedType(op.results[0].type).element_type)
        fn = functools.partial(_reference, scale=a["scale"], cap=a.get("logit_cap"), out_dtype=out_dtype)
        refs.append(_functions(jax.jit(fn).lower(*specs).as_text(), f"ref{i}_"))
    return refs


def with_reference(module):
    """`module` with each SDPA composite's decomposition replaced by `_reference`."""
    text = ir.to_text(module)
    head, sep, resources = text.partition("{-#")
    body, _, close = head.rpartition("}")
    out = ir.parse(body + "\n".join(_reference_functions(module)) + "}" + close + sep + resources)
    for i, op in enumerate(composites(out)):
        op.attributes["decomposition"] = mlir.FlatSymbolRefAttr.get(f"ref{i}_main", context=op.context)
    return out


def execute_together(modules, inputs) -> list[list]:
    """Run the `main` of several resource-free modules on the same inputs with one XLA compilation (a module
    whose main calls each): the tests run hundreds of tiny modules and compiling is what takes the time."""
    fn = numerics.entry_function(modules[0])
    ftype = mlir.FunctionType(mlir.TypeAttr(fn.attributes["function_type"]).value)
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(ftype.inputs))
    names = ", ".join(f"%a{i}" for i in range(len(ftype.inputs)))
    in_types = ", ".join(str(t) for t in ftype.inputs)
    out_types = [str(t) for t in ftype.results]
    body, results = [], []
    parts = []
    for j, m in enumerate(modules):
        parts.append(_functions(m, f"m{j}_"))
        k = len(out_types)
        lhs = f"%r{j}" + (f":{k}" if k > 1 else "")
        body.append(f"    {lhs} = func.call @m{j}_main({names}) : ({in_types}) -> ({', '.join(out_types)})")
        results += [f"%r{j}#{i}" if k > 1 else f"%r{j}" for i in range(k)]
    main = (f"  func.func @main({args}) -> ({', '.join(out_types * len(modules))}) {{\n" + "\n".join(body) +
            f"\n    return {', '.join(results)} : {', '.join(out_types * len(modules))}\n  }}\n")
    combined = ir.parse("module {\n" + "\n".join(parts) + main + "}\n")
    outs = numerics.execute(combined, inputs)
    k = len(out_types)
    return [outs[j * k:(j + 1) * k] for j in range(len(modules))]


def inputs_for(module, keep_first: bool = True, seed: int = 0) -> list:
    """Seeded inputs; boolean masks keep (or with keep_first=False, mask) key 0 of every row, so that no row is
    fully masked (an additive mask cannot say what select does with those)."""
    xs = numerics.random_inputs(module, seed)
    for x in xs:
        if x.dtype == np.bool_ and x.ndim:
            x[..., 0] = keep_first
    return xs


def fuse(f, *specs, count: int = 1, pipeline: str = PIPELINE, keep_first: bool = True):
    """Lower, run the pipeline, check the count, both numerics checks; returns (before, after, composites)."""
    before = lower(f, *specs)
    after = hp.run(before, pipeline)
    ops = composites(after)
    assert len(ops) == count, ir.to_text(after)
    inputs = inputs_for(before, keep_first)
    mods = [before, after] + ([with_reference(after)] if count else [])
    want, got, *meant = execute_together(mods, inputs)
    same = numerics.compare(got, want, rtol=1e-5, atol=1e-6)
    assert same, same.detail
    if count:
        low = any(mlir.ShapedType(op.results[0].type).element_type == mlir.BF16Type.get(context=op.context)
                  for op in ops)
        rtol, atol = (2e-2, 2e-2) if low else (1e-5, 1e-6)  # bf16 results: one bf16 step
        same = numerics.compare(meant[0], want, rtol=rtol, atol=atol)
        assert same, "the composite does not mean what the original computed: " + same.detail
    return before, after, ops


def explain(module) -> str:
    """What `--debug-patterns=fuse-sdpa` says about `module` after the clean-up passes."""
    pre = hp.run(module, CLEANUP)
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        hp.run(pre, "fuse-sdpa", debug=frozenset({"fuse-sdpa"}))
    return buf.getvalue()


def why_not(module) -> str:
    """sdpa.analyze's reason at the last dot_general of `module` (the P.V dot) after clean-up."""
    pre = hp.run(module, CLEANUP)
    dots = []
    ir.as_operation(pre).walk(lambda op: (dots.append(op) if op.name == "stablehlo.dot_general" else None)
                              or mlir.WalkResult.ADVANCE)
    with pytest.raises(sdpa.NoMatch) as e:
        sdpa.analyze(dots[-1])
    return str(e.value)


# ------------------------------------------------------------------------------------------------ variants

def qkT(q, k):
    return q @ jnp.swapaxes(k, -1, -2)


def sm(s):
    return jax.nn.softmax(s, axis=-1)


def naive_softmax(s):
    e = jnp.exp(s)
    return e / e.sum(-1, keepdims=True)


def stable_softmax(s):
    e = jnp.exp(s - s.max(-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def rep(x, g, axis=1):
    return jnp.repeat(x, g, axis=axis)


def bcast_heads(x, g):  # [B, Nkv, S, H] -> [B, Nkv * g, S, H] as broadcast + reshape (HF's repeat_kv)
    b, nk, s, h = x.shape
    return jnp.broadcast_to(x[:, :, None], (b, nk, g, s, h)).reshape(b, nk * g, s, h)


def causal(t, s):
    return jnp.arange(t)[:, None] + (s - t) >= jnp.arange(s)[None, :]


BNTH, BNSH, BTNH, BSNH = spec(B, N, T, H), spec(B, N, S, H), spec(B, T, N, H), spec(B, S, N, H)
TT = 6  # causal cases: square
CQ, CK = spec(B, N, TT, H), spec(B, N, TT, H)
KV2 = spec(B, 2, S, H)  # two K/V heads
BF16_QKV = (spec(B, N, T, H, dtype=BF16), spec(B, N, S, H, dtype=BF16), spec(B, N, S, H, dtype=BF16))


@dataclass
class Case:
    fn: object
    specs: tuple
    scale: float = SC
    cap: float | None = None
    q: tuple = (B, T, N, H)
    kv: tuple = (B, S, N, H)
    mask: tuple = (1, 1, T, S)
    keep_first: bool = True
    pipeline: str = PIPELINE
    extra: dict = field(default_factory=dict)


CASES = {
    # where the scale goes, and how
    "scores-mul": Case(lambda q, k, v: sm(qkT(q, k) * SC) @ v, (BNTH, BNSH, BNSH)),
    "scores-div": Case(lambda q, k, v: sm(qkT(q, k) / math.sqrt(H)) @ v, (BNTH, BNSH, BNSH)),
    "scores-const-lhs": Case(lambda q, k, v: sm(0.3 * qkT(q, k)) @ v, (BNTH, BNSH, BNSH), scale=0.3),
    "q-mul": Case(lambda q, k, v: sm(qkT(q * SC, k)) @ v, (BNTH, BNSH, BNSH)),
    "q-div": Case(lambda q, k, v: sm(qkT(q / math.sqrt(H), k)) @ v, (BNTH, BNSH, BNSH)),
    "k-mul": Case(lambda q, k, v: sm(qkT(q, k * SC)) @ v, (BNTH, BNSH, BNSH)),
    "k-div-custom": Case(lambda q, k, v: sm(qkT(q, k / 3.0)) @ v, (BNTH, BNSH, BNSH), scale=1 / 3),
    "q-and-k": Case(lambda q, k, v: sm(qkT(q * H ** -0.25, k * H ** -0.25)) @ v, (BNTH, BNSH, BNSH)),
    "no-scale": Case(lambda q, k, v: sm(qkT(q, k)) @ v, (BNTH, BNSH, BNSH), scale=1.0),
    # softmax forms
    "softmax-naive": Case(lambda q, k, v: naive_softmax(qkT(q, k) * SC) @ v, (BNTH, BNSH, BNSH)),
    "softmax-stable": Case(lambda q, k, v: stable_softmax(qkT(q, k) * SC) @ v, (BNTH, BNSH, BNSH)),
    "bf16-f32-softmax": Case(lambda q, k, v: sm(qkT(q, k).astype(F32) * SC).astype(BF16) @ v,
                             BF16_QKV),
    "bf16-naive-upcast": Case(lambda q, k, v: naive_softmax((qkT(q, k) * SC).astype(F32)).astype(BF16) @ v,
                              BF16_QKV,
                              scale=float(jnp.asarray(SC, BF16))),  # scaled in bf16: the scale is bf16's
    # layouts and batched matmul forms
    "einsum-bnth": Case(lambda q, k, v: jnp.einsum("bnts,bnsh->bnth", sm(jnp.einsum("bnth,bnsh->bnts", q, k) * SC), v),
                        (BNTH, BNSH, BNSH)),
    "einsum-btnh": Case(lambda q, k, v: jnp.einsum("bnts,bsnh->btnh", sm(jnp.einsum("btnh,bsnh->bnts", q, k) * SC), v),
                        (BTNH, BSNH, BSNH)),
    "einsum-mixed": Case(lambda q, k, v: jnp.einsum("bnts,bnsh->btnh", sm(jnp.einsum("btnh,bnsh->bnts", q, k) * SC), v),
                         (BTNH, BNSH, BNSH)),
    "einsum-nb-scores": Case(lambda q, k, v: jnp.einsum("nbts,bsnh->btnh", sm(jnp.einsum("btnh,bsnh->nbts", q, k) * SC),
                                                         v),
                             (BTNH, BSNH, BSNH)),
    "dot-general-nb": Case(lambda q, k, v: jax.lax.dot_general(
        sm(jax.lax.dot_general(q, k, (((3,), (3,)), ((1, 0), (1, 0)))) * SC), v, (((3,), (2,)), ((0, 1), (1, 0)))),
        (BNTH, BNSH, BNSH)),
    "merged-bn-3d": Case(lambda q, k, v: (sm(qkT(q.reshape(B * N, T, H), k.reshape(B * N, S, H)) * SC)
                                          @ v.reshape(B * N, S, H)).reshape(B, N, T, H), (BNTH, BNSH, BNSH)),
    "k-times-q": Case(lambda q, k, v: jnp.einsum("bnst,bnsh->bnth", jax.nn.softmax(
        jnp.einsum("bnsh,bnth->bnst", k, q) * SC, axis=-2), v), (BNTH, BNSH, BNSH)),
    "v-times-p": Case(lambda q, k, v: jnp.einsum("bnsh,bnts->bnth", v, sm(qkT(q, k) * SC)), (BNTH, BNSH, BNSH)),
    "unbatched-3d": Case(lambda q, k, v: sm(qkT(q, k) * SC) @ v, (spec(N, T, H), spec(N, S, H), spec(N, S, H)),
                         q=(1, T, N, H), kv=(1, S, N, H)),
    "decode-t1": Case(lambda q, k, v: sm(qkT(q, k) * SC) @ v, (spec(B, N, 1, H), BNSH, BNSH),
                      q=(B, 1, N, H), mask=(1, 1, 1, S)),
    # masks
    "mask-b1ts": Case(lambda q, k, v, m: sm(qkT(q, k) * SC + m) @ v, (BNTH, BNSH, BNSH, spec(B, 1, T, S)),
                      mask=(B, 1, T, S)),
    "mask-11ts": Case(lambda q, k, v, m: sm(qkT(q, k) * SC + m) @ v, (BNTH, BNSH, BNSH, spec(1, 1, T, S))),
    "mask-ts-lhs": Case(lambda q, k, v, m: sm(m + qkT(q, k) * SC) @ v, (BNTH, BNSH, BNSH, spec(T, S))),
    "mask-bts": Case(lambda q, k, v, m: sm(qkT(q, k) * SC + m[:, None]) @ v, (BNTH, BNSH, BNSH, spec(B, T, S)),
                     mask=(B, 1, T, S)),
    "mask-per-head": Case(lambda q, k, v, m: sm(qkT(q, k) * SC + m) @ v, (BNTH, BNSH, BNSH, spec(B, N, T, S)),
                          mask=(B, N, T, S)),  # a per-head bias (T5's relative positions): [B, N, T, S] as it is
    "t5-bias-unscaled": Case(lambda q, k, v, m: sm(qkT(q, k) + m) @ v, (BNTH, BNSH, BNSH, spec(1, N, T, S)),
                             scale=1.0, mask=(1, N, T, S)),
    "alibi": Case(lambda q, k, v, m: sm(qkT(q, rep(k, 2)) * SC + m) @ rep(v, 2), (BNTH, KV2, KV2, spec(B, N, 1, S)),
                  kv=(B, S, 2, H),
                  mask=(B, N, T, S)),  # one bias row per head, spread over the queries; with GQA heads (2 K/V)
    "mask-st-transposed": Case(lambda q, k, v, m: sm(qkT(q, k) * SC + m.T) @ v, (BNTH, BNSH, BNSH, spec(S, T))),
    "padding-bool-bs": Case(lambda q, k, v, m: sm(jnp.where(m[:, None, None, :], qkT(q, k) * SC, -1e9)) @ v,
                            (BNTH, BNSH, BNSH, spec(B, S, dtype=jnp.bool_)), mask=(B, 1, T, S)),
    "bool-where": Case(lambda q, k, v, m: sm(jnp.where(m, qkT(q, k) * SC, -jnp.inf)) @ v,
                       (BNTH, BNSH, BNSH, spec(B, 1, T, S, dtype=jnp.bool_)), mask=(B, 1, T, S)),
    "bool-where-inverted": Case(lambda q, k, v, m: sm(jnp.where(m, jnp.finfo(F32).min, qkT(q, k) * SC)) @ v,
                                (BNTH, BNSH, BNSH, spec(B, 1, T, S, dtype=jnp.bool_)), mask=(B, 1, T, S),
                                keep_first=False),
    "bool-where-then-scale": Case(lambda q, k, v, m: sm(jnp.where(m, qkT(q, k), -1e9) * SC) @ v,
                                  (BNTH, BNSH, BNSH, spec(1, 1, T, S, dtype=jnp.bool_))),
    "causal-constant": Case(lambda q, k, v: sm(jnp.where(jnp.asarray(np.tril(np.ones((TT, TT), bool))),
                                                         qkT(q, k) * SC, -jnp.inf)) @ v,
                            (CQ, CK, CK), q=(B, TT, N, H), kv=(B, TT, N, H), mask=(1, 1, TT, TT)),
    "causal-iota": Case(lambda q, k, v: sm(jnp.where(causal(TT, TT), qkT(q, k) * SC, jnp.finfo(F32).min)) @ v,
                        (CQ, CK, CK), q=(B, TT, N, H), kv=(B, TT, N, H), mask=(1, 1, TT, TT)),
    "causal-additive": Case(lambda q, k, v: sm(qkT(q, k) * SC + jnp.where(causal(T, S), 0.0, -1e9)) @ v,
                            (BNTH, BNSH, BNSH)),
    "torch-guard-masked-rows": Case(lambda q, k, v, m: (lambda s: jnp.where(
        jnp.all(s == -jnp.inf, axis=-1, keepdims=True), 0.0, sm(s)) @ v)(jnp.where(m, qkT(q, k) * SC, -jnp.inf)),
        (BNTH, BNSH, BNSH, spec(B, 1, T, S, dtype=jnp.bool_)), mask=(B, 1, T, S)),
    # soft capping
    "softcap": Case(lambda q, k, v: sm(50.0 * jnp.tanh(qkT(q, k) * SC / 50.0)) @ v, (BNTH, BNSH, BNSH), cap=50.0),
    "softcap-masked-scaled": Case(lambda q, k, v, m: sm(jnp.tanh(qkT(q * SC, k) * (1 / 30.0)) * 30.0 + m) @ v,
                                  (BNTH, BNSH, BNSH, spec(B, 1, T, S)), cap=30.0, mask=(B, 1, T, S)),
    "softcap-rescaled": Case(lambda q, k, v: sm(2.0 * (20.0 * jnp.tanh(qkT(q, k) / 10.0))) @ v, (BNTH, BNSH, BNSH),
                             cap=40.0, scale=4.0),
    # grouped-query / multi-query attention
    "gqa-repeat": Case(lambda q, k, v: sm(qkT(q, rep(k, 2)) * SC) @ rep(v, 2), (BNTH, KV2, KV2), kv=(B, S, 2, H)),
    "gqa-repeat-btnh": Case(lambda q, k, v: jnp.einsum("bnts,bsnh->btnh", sm(
        jnp.einsum("btnh,bsnh->bnts", q, rep(k, 2, 2)) * SC), rep(v, 2, 2)), (BTNH, spec(B, S, 2, H), spec(B, S, 2, H)),
        kv=(B, S, 2, H)),
    "gqa-broadcast": Case(lambda q, k, v: sm(qkT(q, bcast_heads(k, 2)) * SC) @ bcast_heads(v, 2),
                          (BNTH, spec(B, 2, S, H), spec(B, 2, S, H)), kv=(B, S, 2, H)),
    "mqa-broadcast": Case(lambda q, k, v: sm(qkT(q, bcast_heads(k, N)) * SC) @ bcast_heads(v, N),
                          (BNTH, spec(B, 1, S, H), spec(B, 1, S, H)), kv=(B, S, 1, H)),
    "mqa-3d-kv": Case(lambda q, k, v: sm(qkT(q, k[:, None]) * SC) @ v[:, None], (BNTH, spec(B, S, H), spec(B, S, H)),
                      kv=(B, S, 1, H)),
    "gqa-grouped-einsum": Case(lambda q, k, v: jnp.einsum("bkgts,bksh->bkgth", sm(jnp.einsum(
        "bkgth,bksh->bkgts", q.reshape(B, 2, 2, T, H), k) * SC), v).reshape(B, N, T, H),
        (BNTH, spec(B, 2, S, H), spec(B, 2, S, H)), kv=(B, S, 2, H)),
    "gqa-interleaved-tile": Case(lambda q, k, v: sm(qkT(q, jnp.tile(k, (1, 2, 1, 1))) * SC) @ jnp.tile(v, (1, 2, 1, 1)),
                                 (BNTH, spec(B, 2, S, H), spec(B, 2, S, H))),  # n reads n % 2: K/V fused repeated
    "gqa-allow-gqa-false": Case(lambda q, k, v: sm(qkT(q, rep(k, 2)) * SC) @ rep(v, 2),
                                (BNTH, spec(B, 2, S, H), spec(B, 2, S, H)), pipeline=PIPELINE.replace(
                                    "fuse-sdpa", "fuse-sdpa{allow-gqa=false}")),
    "k-broadcast-over-keys": Case(lambda q, k, v: sm(qkT(q, jnp.broadcast_to(k, (B, N, S, H))) * SC) @ v,
                                  (BNTH, spec(B, N, 1, H), BNSH)),  # K taken after the broadcast
    # jax.nn.dot_product_attention (XLA implementation: plain ops)
    "dpa": Case(lambda q, k, v: jax.nn.dot_product_attention(q, k, v), (BTNH, BSNH, BSNH)),
    "dpa-causal": Case(lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=True),
                       (spec(B, TT, N, H),) * 3, q=(B, TT, N, H), kv=(B, TT, N, H), mask=(1, 1, TT, TT)),
    "dpa-bias-scale": Case(lambda q, k, v, m: jax.nn.dot_product_attention(q, k, v, bias=m, scale=0.2),
                           (BTNH, BSNH, BSNH, spec(B, 1, T, S)), scale=0.2, mask=(B, 1, T, S)),
    "dpa-bool-mask": Case(lambda q, k, v, m: jax.nn.dot_product_attention(q, k, v, mask=m),
                          (BTNH, BSNH, BSNH, spec(B, 1, T, S, dtype=jnp.bool_)), mask=(B, 1, T, S)),
    "dpa-gqa": Case(lambda q, k, v: jax.nn.dot_product_attention(q, k, v), (BTNH, spec(B, S, 2, H), spec(B, S, 2, H)),
                    kv=(B, S, 2, H)),
    "dpa-mqa-bf16": Case(lambda q, k, v: jax.nn.dot_product_attention(q, k, v),
                         (spec(B, T, N, H, dtype=BF16), spec(B, S, 1, H, dtype=BF16), spec(B, S, 1, H, dtype=BF16)),
                         kv=(B, S, 1, H)),
}
CASES["gqa-interleaved-tile"].kv = (B, S, N, H)
CASES["gqa-allow-gqa-false"].kv = (B, S, N, H)


@pytest.mark.parametrize("name", list(CASES))
def test_variant_fuses_to_one_composite_that_means_the_same(name):
    case = CASES[name]
    _, after, (op,) = fuse(case.fn, *case.specs, pipeline=case.pipeline, keep_first=case.keep_first)
    a = attrs(op)
    assert a["scale"] == pytest.approx(case.scale, rel=1e-6)
    assert a.get("logit_cap") == (pytest.approx(case.cap, rel=1e-6) if case.cap else None)
    q, k, v, mask = operand_shapes(op)
    assert (q, k, v, mask) == (case.q, case.kv, case.kv, case.mask)
    assert shape(op.results[0]) == case.q
    again = hp.run(after, "fuse-sdpa")  # nothing left to fuse, nothing nested
    assert ir.to_text(again) == ir.to_text(after)


def test_two_attentions_in_one_function():
    def f(q, k, v):
        first = sm(qkT(q, k) * SC) @ v
        return sm(qkT(first, k) * 0.5) @ v

    _, _, ops = fuse(f, BNTH, BNSH, BNSH, count=2)
    assert sorted(attrs(op)["scale"] for op in ops) == [pytest.approx(SC), 0.5]


def test_two_layers_sharing_a_mask_broadcast():
    def f(q, k, v, m):  # after CSE both layers add the same broadcast of the mask
        first = sm(qkT(q, k) * SC + m) @ v
        return sm(qkT(first, k) * 0.5 + m) @ v

    _, _, ops = fuse(f, BNTH, BNSH, BNSH, spec(B, 1, T, S), count=2)
    assert {operand_shapes(op)[3] for op in ops} == {(B, 1, T, S)}


def test_min_seq_len_leaves_decode_steps():
    f = CASES["decode-t1"].fn
    before, _, _ = fuse(f, spec(B, N, 1, H), BNSH, BNSH, count=0, pipeline=PIPELINE.replace(
        "fuse-sdpa", "fuse-sdpa{min-seq-len=2}"))
    fuse(f, spec(B, N, 2, H), BNSH, BNSH, count=1, pipeline=PIPELINE.replace("fuse-sdpa", "fuse-sdpa{min-seq-len=2}"))
    pre = hp.run(before, CLEANUP)
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        hp.run(pre, "fuse-sdpa{min-seq-len=2}", debug=frozenset({"fuse-sdpa"}))
    assert "query length 1 is below min-seq-len=2" in buf.getvalue()


def test_statistics_count_composites():
    from hlo_passes.instrumentation import Statistics

    stats = Statistics()
    case = CASES["gqa-repeat"]
    hp.run(lower(case.fn, *case.specs), PIPELINE, instruments=[stats])
    (section,) = [x for x in stats.sections if x.startswith("fuse-sdpa")]
    assert "composites created: 1" in section and "+1  stablehlo.composite" in section


# ------------------------------------------------------------------------------------------------ negatives

NEGATIVES = {
    # softmax over the query axis, then contracted over the keys: not attention
    "softmax-over-queries": (lambda q, k, v: jax.nn.softmax(qkT(q, k) * SC, axis=-2) @ v, (BNTH, BNSH, BNSH),
                             "the softmax is not over the key axis"),
    # two additive terms (a per-head bias, then a padding mask): the composite adds one mask
    "bias-and-mask": (lambda q, k, v, b, m: sm(qkT(q, k) * SC + b + m) @ v,
                      (BNTH, BNSH, BNSH, spec(1, N, T, S), spec(B, 1, 1, S)), "a second mask"),
    # the max and the sum reduce different axes
    "max-sum-different-axes": (lambda q, k, v: (lambda s: (lambda e: e / e.sum(-1, keepdims=True))(
        jnp.exp(s - s.max(-2, keepdims=True))))(qkT(q, k) * SC) @ v, (BNTH, BNSH, BNSH), "reduce different axes"),
    # the sum is over the right axis but comes back transposed (square scores, so the shapes still fit)
    "sum-broadcast-transposed": (lambda q, k, v: (lambda e: e / jax.lax.broadcast_in_dim(
        e.sum(-1), e.shape, (0, 1, 3)))(jnp.exp(qkT(q, k) * SC)) @ v, (CQ, CK, CK), "not broadcast back"),
    # the probabilities are also returned: fusing would compute them twice
    "probabilities-used-twice": (lambda q, k, v: (lambda p: (p @ v, p))(sm(qkT(q, k) * SC)), (BNTH, BNSH, BNSH),
                                 "users outside the match"),
    # the scores are also returned
    "scores-used-twice": (lambda q, k, v: (lambda s: (sm(s) @ v, s))(qkT(q, k) * SC), (BNTH, BNSH, BNSH),
                          "users outside the match"),
    # scaled after an additive mask: the mask would be scaled too, the composite does not
    "scale-after-additive-mask": (lambda q, k, v, m: sm((qkT(q, k) + m) * SC) @ v, (BNTH, BNSH, BNSH, spec(B, 1, T, S)),
                                  "scaled after the mask"),
    # a mask inside the soft cap
    "mask-inside-cap": (lambda q, k, v, m: sm(50.0 * jnp.tanh((qkT(q, k) * SC + m) / 50.0)) @ v,
                        (BNTH, BNSH, BNSH, spec(B, 1, T, S)), "before the soft cap"),
    # masked scores filled with 0 are not masked out
    "select-fill-zero": (lambda q, k, v, m: sm(jnp.where(m, qkT(q, k) * SC, 0.0)) @ v,
                         (BNTH, BNSH, BNSH, spec(B, 1, T, S, dtype=jnp.bool_)), "not a large negative value"),
    # a sum that is not a softmax's (exp(x) / sum(x))
    "divide-by-other-sum": (lambda q, k, v: (lambda s: jnp.exp(s) / s.sum(-1, keepdims=True))(qkT(q, k) * SC) @ v,
                            (BNTH, BNSH, BNSH), "does not divide exp(x) by its own sum"),
    # probabilities zeroed by something other than torch's fully-masked-row guard
    "probabilities-sparsified": (lambda q, k, v: (lambda p: jnp.where(p < 0.1, 0.0, p) @ v)(sm(qkT(q, k) * SC)),
                                 (BNTH, BNSH, BNSH), "zeroes probabilities other than fully masked rows"),
    # P.V contracts the query axis
    "pv-contracts-queries": (lambda q, k, v: jnp.einsum("bnts,bnth->bnsh", sm(qkT(q, k) * SC), v),
                             (BNTH, BNSH, BNTH), "contract"),
}


@pytest.mark.parametrize("name", list(NEGATIVES))
def test_near_miss_is_left_alone_and_explained(name):
    f, specs, reason = NEGATIVES[name]
    before, _, _ = fuse(f, *specs, count=0)
    said = explain(before)
    assert "no match: " in said and reason in said, said
    if "users outside" not in reason:  # that one is the region check, after the analysis
        assert reason in why_not(before)


def test_debug_output_names_the_source_location():
    f, specs, _ = NEGATIVES["scale-after-additive-mask"]
    module = ir.parse(jax.jit(f).lower(*specs).as_text(debug_info=True))
    said = explain(module)
    assert re.search(r"\[sdpa\] stablehlo\.dot_general at .*test_fuse_sdpa\.py:\d+:\d+: no match: .*scaled after "
                     r"the mask is added at .*test_fuse_sdpa\.py:\d+:\d+", said), said


def test_per_head_mask_false_refuses_per_head_biases_with_that_reason():
    f, specs = CASES["mask-per-head"].fn, CASES["mask-per-head"].specs
    fuse(f, *specs, count=0, pipeline=PIPELINE.replace("fuse-sdpa", "fuse-sdpa{per-head-mask=false}"))
    pre = hp.run(lower(f, *specs), CLEANUP)
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        hp.run(pre, "fuse-sdpa{per-head-mask=false}", debug=frozenset({"fuse-sdpa"}))
    assert "differs between heads, a per-head bias (T5's relative positions, ALiBi): with per-head-mask=false" \
        in buf.getvalue()


# ------------------------------------------------------------------------------------------------ property

@settings(max_examples=12, deadline=None)
@given(b=st.integers(1, 3), n_kv=st.integers(1, 3), group=st.integers(1, 3), t=st.integers(1, 6),
       s=st.integers(2, 6), h=st.sampled_from([2, 4, 8]), q_layout=st.sampled_from(["bnth", "btnh"]),
       kv_layout=st.sampled_from(["bnth", "btnh"]), heads=st.sampled_from(["repeat", "broadcast", "dpa"]),
       mask=st.sampled_from(["none", "additive", "bool"]))
def test_property_any_shape_and_layout(b, n_kv, group, t, s, h, q_layout, kv_layout, heads, mask):
    n = n_kv * group
    if heads == "dpa":  # jax.nn.dot_product_attention takes [B, T, N, H]
        q_layout = kv_layout = "btnh"
    qe, ke = ("bnth" if q_layout == "bnth" else "btnh"), ("bnsh" if kv_layout == "bnth" else "bsnh")
    kv_axis = ke.index("n")
    scale = 1 / math.sqrt(h)

    def f(q, k, v, *m):
        if heads == "dpa":
            kw = {} if mask == "none" else {"bias": m[0]} if mask == "additive" else {"mask": m[0]}
            return jax.nn.dot_product_attention(q, k, v, scale=scale, **kw)
        if heads == "repeat":
            k, v = rep(k, group, kv_axis), rep(v, group, kv_axis)
        else:
            move = (lambda x: x) if kv_axis == 1 else (lambda x: jnp.swapaxes(x, 1, 2))
            k, v = move(bcast_heads(move(k), group)), move(bcast_heads(move(v), group))
        sc = jnp.einsum(f"{qe},{ke}->bnts", q, k) * scale
        if mask == "additive":
            sc = sc + m[0]
        elif mask == "bool":
            sc = jnp.where(m[0], sc, -1e30)
        return jnp.einsum(f"bnts,{ke}->{qe}", sm(sc), v)

    def qshape(layout, seq, heads_):
        return (b, heads_, seq, h) if layout == "bnth" else (b, seq, heads_, h)

    specs = [spec(*qshape(q_layout, t, n)), spec(*qshape(kv_layout, s, n_kv)), spec(*qshape(kv_layout, s, n_kv))]
    if mask != "none":
        specs.append(spec(b, 1, t, s, dtype=F32 if mask == "additive" else jnp.bool_))
    _, _, (op,) = fuse(f, *specs)
    assert attrs(op)["scale"] == pytest.approx(scale, rel=1e-6)
    assert operand_shapes(op) == [(b, t, n, h), (b, s, n_kv, h), (b, s, n_kv, h), (b if mask != "none" else 1, 1, t, s)]


# ------------------------------------------------------------------------------------------------ torch

@pytest.mark.parametrize("family,attn", [(f, a) for f in ("llama", "qwen2", "gpt2") for a in ("sdpa", "eager")])
def test_torch_exports_one_composite_per_layer(family, attn):
    model, text, ids, _ = exported_lm(family, attn)
    module = ir.parse(text)
    out = hp.run(module, PIPELINE)
    ops = composites(out)
    assert len(ops) == 2  # two layers
    cfg = model.config
    heads = getattr(cfg, "num_attention_heads", None) or cfg.n_head
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    hd = cfg.hidden_size // heads if hasattr(cfg, "hidden_size") else cfg.n_embd // heads
    t = ids.shape[1]
    for op in ops:
        assert attrs(op)["scale"] == pytest.approx(1 / math.sqrt(hd), rel=1e-6)
        assert operand_shapes(op) == [(1, t, heads, hd), (1, t, kv_heads, hd), (1, t, kv_heads, hd), (1, 1, t, t)]
    (want,) = numerics.execute(module, [ids])
    (got,) = numerics.execute(out, [ids])
    assert np.abs(got - want).max() <= 1e-5
    (meant,) = numerics.execute(with_reference(out), [ids])
    assert np.abs(meant - want).max() <= 1e-5
