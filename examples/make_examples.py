"""Regenerate the bundled example modules (committed, so the demo needs no exporter at run time).

    python examples/make_examples.py

- attention.mlir: one multi-head attention block (projections, scaled scores, causal mask, softmax,
  output projection) as `jax.jit(...).lower(...)` prints it.
- attention.vhlo: the same function as a StableHLO portable artifact (VHLO bytecode), as
  `jax.export` embeds it.
- attention.jax_exported: the whole serialized `jax.export.Exported` (a flatbuffer around that artifact).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).parent
B, T, D, N = 1, 8, 32, 4


def attention_block(x, wq, wk, wv, wo):
    """x: [B, T, D]. Causal multi-head self-attention written the way model code writes it."""
    h = D // N
    q = (x @ wq).reshape(B, T, N, h).transpose(0, 2, 1, 3)
    k = (x @ wk).reshape(B, T, N, h).transpose(0, 2, 1, 3)
    v = (x @ wv).reshape(B, T, N, h).transpose(0, 2, 1, 3)
    scores = (q @ k.transpose(0, 1, 3, 2)) / jnp.sqrt(jnp.float32(h))
    mask = jnp.tril(jnp.ones((T, T), dtype=bool))
    scores = jnp.where(mask, scores, -jnp.inf)
    probs = jax.nn.softmax(scores, axis=-1)
    out = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
    return out @ wo


def example_args():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    ws = [(rng.standard_normal((D, D)) / np.sqrt(D)).astype(np.float32) for _ in range(4)]
    return x, *ws


def main():
    args = example_args()
    text = jax.jit(attention_block).lower(*args).as_text()
    (HERE / "attention.mlir").write_text(text)
    exported = jax.export.export(jax.jit(attention_block))(*args)
    (HERE / "attention.vhlo").write_bytes(exported.mlir_module_serialized)
    (HERE / "attention.jax_exported").write_bytes(exported.serialize())
    print("wrote attention.mlir, attention.vhlo and attention.jax_exported in", HERE)


if __name__ == "__main__":
    main()
