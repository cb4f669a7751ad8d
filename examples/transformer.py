"""A small decoder-only transformer as StableHLO text, sized by its number of layers.

Why it exists: the core's performance bars (load+save within 2x of the bindings' own parse+print, the
whole `hlo-opt` CLI under 3 s) are measured on a realistic ~20k-op module; `bench/core.py` builds one
with this. The layers are unrolled (no `scan`), so ops grow linearly with `layers`, and the weights are
function arguments rather than constants, so the text stays small (a few MB) however many layers.

    python examples/transformer.py [LAYERS] [OUT.mlir]      # defaults: DEFAULT_LAYERS, stdout

Per layer: RMSNorm, causal multi-head attention (softmax), residual, RMSNorm, SiLU-gated MLP (SwiGLU),
residual. Then a final RMSNorm and the logits against the (tied) token embedding.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp

DEFAULT_LAYERS = 256  # ~21.6k ops (84 per layer + 80) with the other defaults


def rms_norm(x, scale, eps=1e-6):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * scale


def attention(x, wq, wk, wv, wo, heads):
    seq, d_model = x.shape
    hd = d_model // heads

    def split(t):  # [seq, d_model] -> [heads, seq, hd]
        return t.reshape(seq, heads, hd).transpose(1, 0, 2)

    q, k, v = split(x @ wq), split(x @ wk), split(x @ wv)
    scores = jnp.einsum("hqd,hkd->hqk", q, k) / jnp.sqrt(jnp.float32(hd))
    mask = jnp.tril(jnp.ones((seq, seq), dtype=bool))
    scores = jnp.where(mask, scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1)
    out = jnp.einsum("hqk,hkd->hqd", probs, v).transpose(1, 0, 2).reshape(seq, d_model)
    return out @ wo


def mlp(x, w_gate, w_up, w_down):
    return (jax.nn.silu(x @ w_gate) * (x @ w_up)) @ w_down  # SwiGLU


def make_forward(heads: int):
    def forward(tokens, embed, final_scale, layers):
        x = jnp.take(embed, tokens, axis=0)  # [seq, d_model]
        for p in layers:
            x = x + attention(rms_norm(x, p["norm1"]), p["wq"], p["wk"], p["wv"], p["wo"], heads)
            x = x + mlp(rms_norm(x, p["norm2"]), p["w_gate"], p["w_up"], p["w_down"])
        return rms_norm(x, final_scale) @ embed.T  # logits [seq, vocab]

    return forward


def transformer_text(layers: int, d_model: int = 64, heads: int = 4, seq: int = 16, vocab: int = 256) -> str:
    """StableHLO text of the forward pass; only shapes are used, so no weights are materialised."""
    f32 = jnp.float32
    ff = 4 * d_model

    def w(*shape):
        return jax.ShapeDtypeStruct(shape, f32)

    layer = {"norm1": w(d_model), "wq": w(d_model, d_model), "wk": w(d_model, d_model),
             "wv": w(d_model, d_model), "wo": w(d_model, d_model), "norm2": w(d_model),
             "w_gate": w(d_model, ff), "w_up": w(d_model, ff), "w_down": w(ff, d_model)}
    tokens = jax.ShapeDtypeStruct((seq,), jnp.int32)
    with jax.enable_x64(False):  # an f32 model whatever the process's x64 setting (numerics turns it on)
        lowered = jax.jit(make_forward(heads)).lower(tokens, w(vocab, d_model), w(d_model), [layer] * layers)
    return lowered.as_text()


def main(argv: list[str]) -> int:
    layers = int(argv[0]) if argv else DEFAULT_LAYERS
    text = transformer_text(layers)
    if len(argv) > 1:
        with open(argv[1], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
