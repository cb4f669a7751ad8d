"""`fuse-rms-norm`: raise RMSNorm subgraphs into `odml.rms_norm` composites (see patterns/rms_norm.py)."""

from dataclasses import dataclass

from ..pass_manager import Pass, register_pass
from ..patterns.driver import apply_once
from ..patterns.rms_norm import rms_norm_patterns


@register_pass
@dataclass(frozen=True)
class FuseRmsNorm(Pass):
    """Finds x * rsqrt(mean(x^2) + eps) * w in its exported variants (x / sqrt, pow(x, 2), sum/N, an f32
    upcast around it, Gemma's (1 + w), no weight) and outlines each into an `odml.rms_norm` composite
    with operands (x, w) and {epsilon}; its decomposition is the matched subgraph itself."""

    name = "fuse-rms-norm"
    summary = "raises RMSNorm subgraphs into odml.rms_norm composites"

    def run(self, module, ctx):
        hits = apply_once(module, rms_norm_patterns(), ctx)
        ctx.count("composites created", sum(hits.values()))
        if not hits:
            ctx.mark_unchanged()
