"""`sink-transposes`: layout clean-up after fusion. Cancels reshape/transpose chains that only reshape and
moves transposes through elementwise ops, slices, concatenates, constants and broadcasts until they meet
their inverse and vanish (see patterns/sink.py). Composite decompositions are left as they are: they hold
exactly what a fusion matched."""

from dataclasses import dataclass

from ..pass_manager import Pass, register_pass
from ..patterns.outline import program_functions
from ..patterns.sink import sink_transposes


@register_pass
@dataclass(frozen=True)
class SinkTransposes(Pass):
    """Removes the transposes that an export puts around layout-agnostic code (torch's rotary embedding in
    [B,N,T,H] between projections and an attention composite in [B,T,N,H]), and identity reshape/transpose
    chains. A group of transposes is moved only when that removes more transposes than it adds."""

    name = "sink-transposes"
    summary = "cancels identity reshape/transpose chains and sinks transposes until they meet and vanish"

    def run(self, module, ctx):
        functions = program_functions(module)
        counts = sink_transposes(functions)
        for key in ("identity chains", "regions", "transposes removed"):
            if counts[key]:
                ctx.count(key, counts[key])
