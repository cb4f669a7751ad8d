"""`fuse-sdpa`: raise scaled dot-product attention into `odml.scaled_dot_product_attention` composites
(see patterns/sdpa.py for what is recognised and how)."""

from dataclasses import dataclass

from ..pass_manager import Pass, option, register_pass
from ..patterns.driver import apply_once
from ..patterns.sdpa import prune_decompositions, sdpa_patterns


@register_pass
@dataclass(frozen=True)
class FuseSdpa(Pass):
    """Finds softmax(scale * Q.K^T + mask).V however it was exported (scale on q, k or the scores; float,
    boolean or causal masks; stable or naive softmax with or without upcasts; [B,N,T,H] or [B,T,N,H];
    merged batch axes; K/V heads repeated for GQA/MQA; soft-capped scores) and outlines it into an
    `odml.scaled_dot_product_attention` composite with q, k, v, mask in [B, T, N, H] and {scale}."""

    name = "fuse-sdpa"
    summary = "raises attention subgraphs into odml.scaled_dot_product_attention composites"
    min_seq_len: int = option(1, "only fuse attention whose query length is at least this")
    allow_gqa: bool = option(True, "absorb the K/V head repetition of grouped-query attention")
    per_head_mask: bool = option(True, "fuse per-head additive biases (T5, ALiBi) as a [B|1, N, T, S] mask, which"
                                       " XNNPACK's attention computes; false keeps the mask [B|1, 1, T, S]")

    def __post_init__(self):
        if self.min_seq_len < 1:
            raise ValueError("min-seq-len must be >= 1")

    def run(self, module, ctx):
        hits = apply_once(module, sdpa_patterns(self.allow_gqa, self.min_seq_len, self.per_head_mask), ctx)
        prune_decompositions(module)  # what a guard moved outside the composite left in its decomposition
        ctx.count("composites created", sum(hits.values()))
