"""What the PyTorch and JAX example LLMs share: their configs, one set of random weights, and the RoPE tables.

Both `llm_torch.py` and `llm_jax.py` build the same TinyLlama-shaped decoder (RMSNorm, rotary embeddings,
grouped-query attention, SwiGLU) from the same numpy weights, so a test can hold the two frameworks, and
our `.tflite` of each, to the same tokens. The weights are random (there is no network here) and seeded.

The interface is AI Edge Torch's Generative API: `forward(tokens, input_pos, kv_cache)`, with
- tokens    i64[1, T]   (T = the prefill length, or 1 to decode)
- input_pos i64[T]      the positions of those tokens, contiguous: input_pos[0] + arange(T)
- kv_cache  {"k_0": f32[1, S, G, H], "v_0": ..., "k_1": ...}   S = kv_cache_max, G KV heads, layout BSNH
and it returns {"logits": f32[1, T, vocab], "kv_cache": the caches with T rows written at input_pos[0]}.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Config:
    vocab: int
    dim: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    kv_cache_max: int
    prefill_len: int = 8
    rope_base: float = 10000.0
    eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def cache_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.kv_cache_max, self.kv_heads, self.head_dim)

    def weight_count(self) -> int:
        h, g = self.head_dim, self.kv_heads
        per_layer = 2 * self.dim + self.dim * (2 * self.dim + 2 * g * h) + 3 * self.dim * self.ffn
        return 2 * self.vocab * self.dim + self.dim + self.layers * per_layer


CONFIGS = {
    # 2 layers, width 64, GQA 4/2: exports in a couple of seconds, what the tests use
    "tiny": Config(vocab=256, dim=64, layers=2, heads=4, kv_heads=2, ffn=128, kv_cache_max=64),
    # a size this 2-core machine converts in reasonable time (~120M weights)
    "8x1024": Config(vocab=32000, dim=1024, layers=8, heads=16, kv_heads=4, ffn=2816, kv_cache_max=256,
                     prefill_len=32),
    # TinyLlama-1.1B's shapes (22 layers, width 2048, GQA 32/4, SwiGLU 5632, vocab 32000)
    "tinyllama-1.1b": Config(vocab=32000, dim=2048, layers=22, heads=32, kv_heads=4, ffn=5632, kv_cache_max=2048,
                             prefill_len=128),
}


def config(name: str = "tiny", **overrides) -> Config:
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r} (known: {', '.join(CONFIGS)})")
    return replace(CONFIGS[name], **overrides)


def random_weights(cfg: Config, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded float32 weights, Hugging Face names, linear weights stored [out, in] as torch does.
    Scaled like an initializer (std 1/sqrt(fan_in)) so activations stay O(1) through the layers."""
    rng = np.random.default_rng(seed)

    def linear(out: int, inp: int) -> np.ndarray:
        w = rng.standard_normal((out, inp), dtype=np.float32)
        return np.divide(w, np.sqrt(inp), out=w, casting="same_kind")  # in place: no temporary the weight's size

    def norm() -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(cfg.dim, dtype=np.float32)).astype(np.float32)

    h, g = cfg.head_dim, cfg.kv_heads
    w = {"embed": rng.standard_normal((cfg.vocab, cfg.dim), dtype=np.float32)}
    for i in range(cfg.layers):
        p = f"layers.{i}."
        w[p + "attn_norm"] = norm()
        w[p + "wq"] = linear(cfg.heads * h, cfg.dim)
        w[p + "wk"] = linear(g * h, cfg.dim)
        w[p + "wv"] = linear(g * h, cfg.dim)
        w[p + "wo"] = linear(cfg.dim, cfg.heads * h)
        w[p + "mlp_norm"] = norm()
        w[p + "w_gate"] = linear(cfg.ffn, cfg.dim)
        w[p + "w_up"] = linear(cfg.ffn, cfg.dim)
        w[p + "w_down"] = linear(cfg.dim, cfg.ffn)
    w["norm"] = norm()
    w["lm_head"] = linear(cfg.vocab, cfg.dim)
    return w


def rope_tables(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin [kv_cache_max, head_dim] (Llama's rotate-half layout: the two halves share frequencies)."""
    h = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_base ** (np.arange(0, h, 2, dtype=np.float64) / h))
    angles = np.outer(np.arange(cfg.kv_cache_max, dtype=np.float64), inv_freq)
    angles = np.concatenate([angles, angles], axis=-1)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def empty_cache(cfg: Config) -> dict[str, np.ndarray]:
    zeros = np.zeros(cfg.cache_shape(), np.float32)
    return {f"{kind}_{i}": zeros.copy() for i in range(cfg.layers) for kind in ("k", "v")}


def greedy(step, prompt: list[int], max_new_tokens: int, cfg: Config) -> list[int]:
    """Greedy generation with any `step(tokens: i64[1, T], input_pos: i64[T], cache) -> (logits, cache)`:
    the prompt in one call (padded to prefill_len if it is shorter, like a fixed-length prefill signature),
    then one token per call. How the frameworks' references are made; `hlo_passes.generate` does the same
    with a `.tflite`."""
    n = len(prompt)
    if not 0 < n <= cfg.prefill_len:
        raise ValueError(f"the prompt has {n} tokens; the prefill takes 1 to {cfg.prefill_len}")
    if n + max_new_tokens > cfg.kv_cache_max:
        raise ValueError(f"{n} + {max_new_tokens} tokens do not fit a {cfg.kv_cache_max}-row KV cache")
    tokens = np.zeros((1, cfg.prefill_len), np.int64)
    tokens[0, :n] = prompt
    logits, cache = step(tokens, np.arange(cfg.prefill_len, dtype=np.int64), empty_cache(cfg))
    out = [int(np.argmax(logits[0, n - 1]))]
    while len(out) < max_new_tokens:
        pos = n + len(out) - 1
        logits, cache = step(np.array([[out[-1]]], np.int64), np.array([pos], np.int64), cache)
        out.append(int(np.argmax(logits[0, 0])))
    return out


def script_main(script: str, argv: list[str]) -> int:
    """`python examples/llm_X.py [CONFIG] [OUT]`: the example's export through hlo-export's own CLI."""
    from hlo_passes.frontends.cli import main as export_main

    name = argv[0] if argv else "tiny"
    out = ["-o", argv[1]] if len(argv) > 1 else []
    return export_main([f"{script}:export", "--set", f"config={name}", *out])
