"""The same TinyLlama-shaped decoder as `llm_torch.py`, in JAX, and its export with `prefill` and `decode`.

    python examples/llm_jax.py [CONFIG] [OUT]        # like llm_torch.py
    hlo-export examples/llm_jax.py:export --set config=tiny -p optimize -o llm.tflite

`forward(params, tokens, input_pos, kv_cache)`: the weights are an explicit pytree (JAX's way), the rest is
the Generative API's interface (see llm_common). The cache write is `lax.dynamic_update_slice` at
input_pos[0]; attention is written out (einsum, float mask, softmax) with `jnp.repeat` for GQA, as JAX
model code usually is. `from_jax` turns `params` into the module's shared weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

try:
    from . import llm_common as common
except ImportError:  # run as a script, or loaded by file path: the examples folder is on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import llm_common as common


def rms_norm(x, w, eps):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def params_from(cfg: common.Config, weights: dict[str, np.ndarray]) -> dict:
    """common's flat weights -> the pytree `forward` takes (linear weights transposed to [in, out]).
    CONSUMES `weights` (each entry is popped as it is converted), so that at TinyLlama sizes the weights are
    never held twice: the transposed copy replaces the original one weight at a time."""

    def take(name: str) -> np.ndarray:
        w = weights.pop(name)
        return w if w.ndim == 1 else np.ascontiguousarray(w.T)

    layers = [{k: take(f"layers.{i}.{k}") for k in ("attn_norm", "wq", "wk", "wv", "wo", "mlp_norm", "w_gate", "w_up",
                                                     "w_down")} for i in range(cfg.layers)]
    cos, sin = common.rope_tables(cfg)
    return {"embed": weights.pop("embed"), "layers": layers, "norm": take("norm"), "lm_head": take("lm_head"),
            "rope_cos": cos, "rope_sin": sin}


def block(cfg: common.Config, p: dict, x, cos, sin, mask, start, k_cache, v_cache):
    b, t, _ = x.shape
    h, g = cfg.head_dim, cfg.kv_heads
    y = rms_norm(x, p["attn_norm"], cfg.eps)
    q = (y @ p["wq"]).reshape(b, t, cfg.heads, h)
    k = (y @ p["wk"]).reshape(b, t, g, h)
    v = (y @ p["wv"]).reshape(b, t, g, h)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    zero = jnp.zeros((), start.dtype)
    k_cache = jax.lax.dynamic_update_slice(k_cache, k, (zero, start, zero, zero))
    v_cache = jax.lax.dynamic_update_slice(v_cache, v, (zero, start, zero, zero))
    keys = jnp.repeat(k_cache, cfg.heads // g, axis=2)  # [B, S, N, H]
    values = jnp.repeat(v_cache, cfg.heads // g, axis=2)
    scores = jnp.einsum("btnh,bsnh->bnts", q, keys) / np.float32(np.sqrt(h)) + mask
    probs = jax.nn.softmax(scores, axis=-1)
    out = jnp.einsum("bnts,bsnh->btnh", probs, values).reshape(b, t, cfg.heads * h)
    x = x + out @ p["wo"]
    y = rms_norm(x, p["mlp_norm"], cfg.eps)
    x = x + (jax.nn.silu(y @ p["w_gate"]) * (y @ p["w_up"])) @ p["w_down"]
    return x, k_cache, v_cache


def make_forward(cfg: common.Config):
    """forward(params, tokens i64[1, T], input_pos i64[T], kv_cache {k_i, v_i}) -> {logits, kv_cache}."""

    def forward(params, tokens, input_pos, kv_cache):
        x = jnp.take(params["embed"], tokens, axis=0)
        cos = jnp.take(params["rope_cos"], input_pos, axis=0)[None, :, None, :]
        sin = jnp.take(params["rope_sin"], input_pos, axis=0)[None, :, None, :]
        slots = jnp.arange(cfg.kv_cache_max, dtype=input_pos.dtype)
        mask = jnp.where(slots[None, :] <= input_pos[:, None], np.float32(0), np.float32(-np.inf))[None, None]
        new_cache = {}
        for i, p in enumerate(params["layers"]):
            x, new_cache[f"k_{i}"], new_cache[f"v_{i}"] = block(cfg, p, x, cos, sin, mask, input_pos[0],
                                                                kv_cache[f"k_{i}"], kv_cache[f"v_{i}"])
        logits = rms_norm(x, params["norm"], cfg.eps) @ params["lm_head"]
        return {"logits": logits, "kv_cache": new_cache}

    return forward


def example_args(cfg: common.Config, signature: str):
    """Example inputs (after params) of `prefill` (T = cfg.prefill_len) or `decode` (T = 1). int64 ids, as
    torch's, so both models' `.tflite` files take the same inputs (needs jax_enable_x64)."""
    t = cfg.prefill_len if signature == "prefill" else 1
    return (np.zeros((1, t), np.int64), np.arange(t, dtype=np.int64), common.empty_cache(cfg))


def step_fn(cfg: common.Config, params: dict):
    """A `common.greedy` step running the model on XLA CPU (jit, one compile per input shape)."""
    fn = jax.jit(make_forward(cfg))

    def step(tokens, input_pos, cache):
        out = fn(params, tokens, input_pos, cache)
        return np.asarray(out["logits"]), {k: np.asarray(v) for k, v in out["kv_cache"].items()}

    return step


def export(config: str = "tiny", seed: int = 0, prefill_len: int | None = None):
    """The factory `hlo-export` calls: one module with `prefill` and `decode` functions sharing `params`."""
    from hlo_passes.frontends.signatures import from_jax

    cfg = common.config(config, **({"prefill_len": int(prefill_len)} if prefill_len else {}))
    params = params_from(cfg, common.random_weights(cfg, int(seed)))
    forward = make_forward(cfg)
    return from_jax({"prefill": forward, "decode": forward},
                    {s: example_args(cfg, s) for s in ("prefill", "decode")}, params=params)


def main(argv: list[str]) -> int:
    return common.script_main(__file__, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
