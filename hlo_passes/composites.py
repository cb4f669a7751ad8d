"""What each composite the project creates means: one written definition and one reference kernel per name.

Why this exists: a composite's decomposition is the subgraph it was raised from, so running the fused module
on XLA (which runs decompositions) can only show that the graph was cut out correctly. A runtime that
implements the composite from its name and attributes -- XNNPACK's attention, a GPU delegate, LiteRT's
custom ops -- computes the *definition* instead. Where the two differ (a wrong scale, a mask that is -inf on a
whole row, a head grouping read the other way), the model silently changes on device. The kernels here are
written in jax.numpy from the composite's operands and attributes alone, never from the decomposition, and
`composite_check.check_composites` runs them in place of the decompositions to find such composites.

    DEFINITIONS["odml.rms_norm"].text      # the sentence the README table shows
    DEFINITIONS["odml.rms_norm"].kernel    # kernel(*operands, **attributes) -> result(s), jax.numpy
    define(name, text, kernel)             # a plugin's own composite

A kernel may raise `Broken(why)` when the operands and attributes cannot mean anything under the definition
(kv_cache_max is not the cache's length, heads that do not group); the check reports it as that composite's
failure. Arithmetic is float32 (upcast, result cast back to the composite's result type), so a bf16
composite is compared within bf16's rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFINITIONS", "Broken", "Definition", "define", "definition"]


class Broken(Exception):
    """The operands and attributes of a composite contradict its definition (raised while building the
    reference kernel, before anything runs)."""


@dataclass(frozen=True)
class Definition:
    """`signature`: operands and attributes as the README shows them; `text`: what the result is."""

    name: str
    signature: str
    text: str
    kernel: Callable


DEFINITIONS: dict[str, Definition] = {}


def define(name: str, signature: str, text: str, kernel: Callable) -> Definition:
    """Register (or replace) the definition of composite `name`; plugins use this for their own
    composites so that `--check-composites` checks them too."""
    d = Definition(name, signature, text, kernel)
    DEFINITIONS[name] = d
    return d


def definition(name: str) -> Definition | None:
    return DEFINITIONS.get(name)


def _jnp():
    import jax.numpy as jnp

    return jnp


def _f32(x):
    return x.astype(_jnp().float32)


def _need(cond: bool, why: str) -> None:
    if not cond:
        raise Broken(why)


# ------------------------------------------------------------------------------------------------ kernels

def sdpa(q, k, v, mask, *, scale, logit_cap=None):
    """softmax(scale * q.k^T, capped, + mask) . v, query head n reading K/V head n // (N / Nkv)."""
    import jax

    jnp = _jnp()
    _need(q.ndim == k.ndim == v.ndim == mask.ndim == 4, "q, k, v and mask must all be 4-D")
    (b, t, n, h), (bk, s, nkv, hk) = q.shape, k.shape
    _need(v.shape[:3] == k.shape[:3], f"k {list(k.shape)} and v {list(v.shape)} differ in B, S or heads")
    _need(bk == b and hk == h, f"q {list(q.shape)} and k {list(k.shape)} differ in B or H")
    _need(nkv > 0 and n % nkv == 0, f"{n} query heads do not split into groups over {nkv} K/V heads")
    want = (b, n, t, s)
    _need(all(m in (1, w) for m, w in zip(mask.shape, want)),
          f"mask {list(mask.shape)} does not broadcast to the scores [B, N, T, S] = {list(want)}")
    group = n // nkv
    k, v = jnp.repeat(_f32(k), group, axis=2), jnp.repeat(_f32(v), group, axis=2)
    hi = jax.lax.Precision.HIGHEST
    scores = jnp.einsum("btnh,bsnh->bnts", _f32(q), k, precision=hi) * jnp.float32(scale)
    if logit_cap is not None:
        cap = jnp.float32(logit_cap)
        scores = cap * jnp.tanh(scores / cap)
    x = scores + _f32(mask)
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))  # a row that is -inf everywhere: 0/0, NaN
    p = e / jnp.sum(e, axis=-1, keepdims=True)
    return jnp.einsum("bnts,bsnh->btnh", p, v, precision=hi).astype(q.dtype)


def rms_norm(x, w, *, epsilon):
    jnp = _jnp()
    _need(w.shape in ((x.shape[-1],), ()), f"w {list(w.shape)} is not one weight per feature of x {list(x.shape)}")
    xf = _f32(x)
    inv = 1.0 / jnp.sqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + jnp.float32(epsilon))
    return (xf * inv * _f32(w)).astype(x.dtype)


def layer_norm(x, weight, bias, *, epsilon):
    jnp = _jnp()
    d = x.shape[-1]
    for what, p in (("weight", weight), ("bias", bias)):
        _need(p.shape in ((d,), ()), f"{what} {list(p.shape)} is not one value per feature of x {list(x.shape)}")
    xf = _f32(x)
    mean = jnp.mean(xf, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(xf - mean), axis=-1, keepdims=True)
    return ((xf - mean) / jnp.sqrt(var + jnp.float32(epsilon)) * _f32(weight) + _f32(bias)).astype(x.dtype)


def gelu(x, *, approximate=False):
    jnp = _jnp()
    from jax.scipy.special import erf

    if isinstance(approximate, str):
        _need(approximate in ("tanh", "none"), f"approximate = {approximate!r}: expected tanh or none (or a bool)")
        approximate = approximate == "tanh"
    xf = _f32(x)
    if approximate:
        c = jnp.float32(math.sqrt(2 / math.pi))
        y = 0.5 * xf * (1 + jnp.tanh(c * (xf + jnp.float32(0.044715) * xf ** 3)))
    else:
        y = 0.5 * xf * (1 + erf(xf / jnp.float32(math.sqrt(2))))
    return y.astype(x.dtype)


def update_kv_cache(cache, input_pos, update, *, kv_cache_max, seq_dim):
    import jax

    _need(0 <= seq_dim < cache.ndim, f"seq_dim = {seq_dim} is not an axis of the cache {list(cache.shape)}")
    _need(cache.shape[seq_dim] == kv_cache_max,
          f"kv_cache_max = {kv_cache_max}, but the cache holds {cache.shape[seq_dim]} rows on axis {seq_dim}")
    _need(update.ndim == cache.ndim and all(u == c for d, (u, c) in enumerate(zip(update.shape, cache.shape))
                                            if d != seq_dim),
          f"update {list(update.shape)} does not match the cache {list(cache.shape)} off axis {seq_dim}")
    _need(input_pos.size == 1, f"input_pos has {input_pos.size} elements; the definition takes one start")
    start = input_pos.reshape(())
    starts = [start * 0] * cache.ndim
    starts[seq_dim] = start
    return jax.lax.dynamic_update_slice(cache, update.astype(cache.dtype), starts)


define("odml.scaled_dot_product_attention", "(q [B,T,N,H], k [B,S,Nkv,H], v [B,S,Nkv,H], mask [B|1,N|1,T,S]) "
       "{scale: f32, logit_cap?: f32}",
       "out[b,t,n] = softmax_s(c(scale * q[b,t,n] . k[b,s,n/g]) + mask[b,n,t,s]) . v[b,s,n/g], g = N/Nkv (query "
       "head n reads K/V head floor(n/g)); the mask's size-1 axes broadcast (a per-head bias has N); "
       "c(x) = logit_cap * tanh(x / logit_cap), or x without logit_cap; a row "
       "whose mask is -inf for every key is 0/0 = NaN (fuse-sdpa keeps torch's zeroing of such rows outside)",
       sdpa)
define("odml.rms_norm", "(x [..., D], w [D]) {epsilon: f32}",
       "x / sqrt(mean(x^2 over the last axis) + epsilon) * w", rms_norm)
define("odml.layer_norm", "(x [..., D], weight [D], bias [D]) {epsilon: f32}",
       "(x - mean) / sqrt(var + epsilon) * weight + bias, mean and (biased) var over the last axis", layer_norm)
define("odml.gelu", "(x) {approximate: bool}",
       "0.5 x (1 + erf(x / sqrt 2)); with approximate: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))", gelu)
define("odml.update_kv_cache", "(cache, input_pos: scalar int, update) {kv_cache_max: int, seq_dim: int}",
       "the cache with `update` written at input_pos .. input_pos + T - 1 along seq_dim (as dynamic_update_slice: "
       "the start clamped to [0, kv_cache_max - T]); kv_cache_max is the cache's length on seq_dim",
       update_kv_cache)
