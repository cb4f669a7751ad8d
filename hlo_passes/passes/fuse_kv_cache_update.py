"""`fuse-kv-cache-update`: raise KV-cache writes into `odml.update_kv_cache` composites (see
patterns/kv_cache.py for the convention and the evidence behind it)."""

from dataclasses import dataclass

from ..pass_manager import Pass, option, register_pass
from ..patterns.driver import apply_once
from ..patterns.kv_cache import kv_cache_patterns


@register_pass
@dataclass(frozen=True)
class FuseKvCacheUpdate(Pass):
    """Finds writes of T new positions into a KV cache ([B, S, N, H] or [B, N, S, H]; or K and V stacked as
    [2, B, S, N, H] or [2, B, N, S, H], written by one update of both) as exporters write
    them -- dynamic_update_slice (JAX, litert-torch), and scatters with contiguous positions (torch
    index_copy_/index_put_, JAX .at[].set) -- and outlines each into an `odml.update_kv_cache` composite with
    operands (cache, input_pos, update) and {kv_cache_max, seq_dim}; its decomposition is one
    dynamic_update_slice. Scatters fuse only when their positions provably form one contiguous run."""

    name = "fuse-kv-cache-update"
    summary = "raises KV-cache writes (dynamic_update_slice, contiguous scatters) into odml.update_kv_cache composites"
    dynamic_positions: bool = option(True, "also fuse scatters at runtime positions start + iota (exact for runs "
                                           "inside the cache; scatter drops out-of-range rows, the composite clamps)")

    def run(self, module, ctx):
        hits = apply_once(module, kv_cache_patterns(self.dynamic_positions), ctx)
        ctx.count("composites created", sum(hits.values()))
        if not hits:
            ctx.mark_unchanged()
