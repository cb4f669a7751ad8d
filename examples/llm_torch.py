"""A TinyLlama-shaped decoder in PyTorch with an explicit KV cache (AI Edge Torch's Generative API interface),
and how to export it as one StableHLO module with `prefill` and `decode` signatures.

    python examples/llm_torch.py [CONFIG] [OUT]      # CONFIG from llm_common.CONFIGS (default tiny);
                                                     # OUT .mlir / .mlirbc / .tflite (default: stdout, MLIR)
    hlo-export examples/llm_torch.py:export --set config=tiny -p optimize -o llm.tflite

Written the way such models are written for on-device export: the cache is a dict of per-layer tensors
passed in and returned (no module state), the write is `index_copy` at input_pos[0] + arange(T) (one
runtime start, which fuse-kv-cache-update proves contiguous), attention is `F.scaled_dot_product_attention`
with a float causal mask over the whole cache and Hugging Face's `repeat_kv` for GQA. The RoPE tables are
NON-persistent buffers, as in Hugging Face models: the front end must cope with them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

try:
    from . import llm_common as common
except ImportError:  # run as a script, or loaded by file path: the examples folder is on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import llm_common as common


class RMSNorm(torch.nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(torch.nn.Module):
    def __init__(self, cfg: common.Config):
        super().__init__()
        self.cfg = cfg
        h = cfg.head_dim
        self.attn_norm = RMSNorm(cfg.dim, cfg.eps)
        self.wq = torch.nn.Linear(cfg.dim, cfg.heads * h, bias=False)
        self.wk = torch.nn.Linear(cfg.dim, cfg.kv_heads * h, bias=False)
        self.wv = torch.nn.Linear(cfg.dim, cfg.kv_heads * h, bias=False)
        self.wo = torch.nn.Linear(cfg.heads * h, cfg.dim, bias=False)
        self.mlp_norm = RMSNorm(cfg.dim, cfg.eps)
        self.w_gate = torch.nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.w_up = torch.nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.w_down = torch.nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x, cos, sin, mask, slots, k_cache, v_cache):
        cfg = self.cfg
        b, t, _ = x.shape
        h, g = cfg.head_dim, cfg.kv_heads
        y = self.attn_norm(x)
        q = self.wq(y).view(b, t, cfg.heads, h)
        k = self.wk(y).view(b, t, g, h)
        v = self.wv(y).view(b, t, g, h)
        q = q * cos + rotate_half(q) * sin  # cos, sin: [1, T, 1, H]
        k = k * cos + rotate_half(k) * sin
        k_cache = k_cache.index_copy(1, slots, k)  # [B, S, G, H]: rows input_pos[0] .. + T - 1
        v_cache = v_cache.index_copy(1, slots, v)
        keys, values = (repeat_kv(c.transpose(1, 2), cfg.heads // g) for c in (k_cache, v_cache))
        out = F.scaled_dot_product_attention(q.transpose(1, 2), keys, values, attn_mask=mask)  # [B, N, T, H]
        x = x + self.wo(out.transpose(1, 2).reshape(b, t, cfg.heads * h))
        y = self.mlp_norm(x)
        x = x + self.w_down(F.silu(self.w_gate(y)) * self.w_up(y))
        return x, k_cache, v_cache


def repeat_kv(x, groups: int):
    """[B, G, S, H] -> [B, G * groups, S, H], each KV head repeated for its query heads (Hugging Face's form)."""
    if groups == 1:
        return x
    b, g, s, h = x.shape
    return x[:, :, None, :, :].expand(b, g, groups, s, h).reshape(b, g * groups, s, h)


class Decoder(torch.nn.Module):
    """forward(tokens i64[1, T], input_pos i64[T], kv_cache {k_i, v_i}) -> {logits, kv_cache}."""

    def __init__(self, cfg: common.Config):
        super().__init__()
        self.cfg = cfg
        self.embed = torch.nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = torch.nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.dim, cfg.eps)
        self.lm_head = torch.nn.Linear(cfg.dim, cfg.vocab, bias=False)
        cos, sin = common.rope_tables(cfg)
        self.register_buffer("rope_cos", torch.from_numpy(cos), persistent=False)
        self.register_buffer("rope_sin", torch.from_numpy(sin), persistent=False)
        self.register_buffer("cache_slots", torch.arange(cfg.kv_cache_max), persistent=False)

    def forward(self, tokens, input_pos, kv_cache):
        t = tokens.shape[1]
        x = self.embed(tokens)
        cos = self.rope_cos[input_pos][None, :, None, :]
        sin = self.rope_sin[input_pos][None, :, None, :]
        visible = self.cache_slots[None, :] <= input_pos[:, None]  # [T, S] causal over the whole cache
        mask = torch.where(visible, 0.0, float("-inf"))[None, None]
        slots = input_pos[0] + torch.arange(t, dtype=input_pos.dtype)
        new_cache = {}
        for i, layer in enumerate(self.layers):
            x, new_cache[f"k_{i}"], new_cache[f"v_{i}"] = layer(x, cos, sin, mask, slots, kv_cache[f"k_{i}"],
                                                                kv_cache[f"v_{i}"])
        return {"logits": self.lm_head(self.norm(x)), "kv_cache": new_cache}


def build(cfg: common.Config | str = "tiny", seed: int = 0) -> Decoder:
    """The decoder with `common.random_weights(cfg, seed)`, float32, in eval mode."""
    cfg = common.config(cfg) if isinstance(cfg, str) else cfg
    with torch.device("meta"):
        model = Decoder(cfg)
    model = model.to_empty(device="cpu")
    cos, sin = common.rope_tables(cfg)
    state = {k: torch.from_numpy(v) for k, v in common.random_weights(cfg, seed).items()}
    state = {_torch_name(k): v for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)  # the numpy arrays' memory: no second copy
    model.rope_cos.copy_(torch.from_numpy(cos))
    model.rope_sin.copy_(torch.from_numpy(sin))
    model.cache_slots.copy_(torch.arange(cfg.kv_cache_max))
    return model.eval()


def _torch_name(name: str) -> str:
    """`layers.0.wq` -> `layers.0.wq.weight`, `embed` -> `embed.weight`: common's names onto the modules'."""
    return name + ".weight"


def example_args(cfg: common.Config, signature: str):
    """Example inputs of one signature: `prefill` (T = cfg.prefill_len) or `decode` (T = 1)."""
    t = cfg.prefill_len if signature == "prefill" else 1
    cache = {k: torch.from_numpy(v) for k, v in common.empty_cache(cfg).items()}
    return (torch.zeros((1, t), dtype=torch.int64), torch.arange(t, dtype=torch.int64), cache)


def step_fn(model: Decoder):
    """A `common.greedy` step running the model eagerly."""

    def step(tokens, input_pos, cache):
        with torch.no_grad():
            out = model(torch.from_numpy(tokens), torch.from_numpy(input_pos),
                        {k: torch.from_numpy(np.asarray(v)) for k, v in cache.items()})
        return out["logits"].numpy(), {k: v.numpy() for k, v in out["kv_cache"].items()}

    return step


def export(config: str = "tiny", seed: int = 0, prefill_len: int | None = None):
    """The factory `hlo-export` calls: one module with `prefill` and `decode` functions."""
    from hlo_passes.frontends.signatures import from_torch

    cfg = common.config(config, **({"prefill_len": int(prefill_len)} if prefill_len else {}))
    model = build(cfg, int(seed))
    return from_torch(model, signatures={s: example_args(cfg, s) for s in ("prefill", "decode")})


def main(argv: list[str]) -> int:
    return common.script_main(__file__, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
