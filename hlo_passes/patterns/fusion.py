"""A composite fusion in one call, and the pass base that runs a set of them.

    GELU = fusion("odml.gelu", Op(hlo.MulOp, ...), inputs=["x"], attrs={"approximate": True},
                  name="gelu-tanh")

    @register_pass
    @dataclass(frozen=True)
    class FuseGelu(FusionPass):
        name = "fuse-gelu"
        summary = "..."
        def patterns(self): return PatternSet([GELU], name=self.name)

`fusion` makes a `Pattern` whose root is the template's root op and whose rewrite outlines everything
between the `inputs` and the root into a `stablehlo.composite` (see outline.py: the decomposition is the
matched ops themselves, so inlining it gives the original computation back bit for bit). Before anything
changes, it checks with `region` that the subgraph can move: no op in it may have users outside, or they
would compute it twice; the refusal reason says which op. `where` (yours) runs first and may leave
values in `m.memo` for inputs and attributes to use: an input name is looked up in `m.memo` before the
captures, so `where` can resolve a broadcast weight to its [D] source, and `m.memo["adapters"][name]`
(an outline.Adapter, e.g. vocabulary.row_adapter) changes how that operand is passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from .. import ir
from ..ir import mlir
from ..pass_manager import Pass
from .driver import Pattern, PatternSet, apply_once
from .outline import Adapter, outline_composite, region
from .template import Alt, Match, Op
from .vocabulary import row_splat


@dataclass(frozen=True)
class Operand:
    """A composite operand: the capture (or memo entry) `name`; when the match has none, a [D] splat of
    `missing` (D = the first operand's last dim), which the decomposition does not read. `adapter` (see
    outline.Adapter) changes how the operand is passed without changing what is computed."""

    name: str
    missing: float | None = None
    adapter: Adapter | None = None


class _Either(Op):
    """A root that is one of several templates (`Alt` of `Op`s): a pattern's root must name its op classes,
    and `0.5 * x * t` grouped three ways is still one fusion."""

    def __init__(self, alt: Alt):
        flat, todo = [], list(alt.options)
        while todo:
            o = todo.pop(0)
            if isinstance(o, Alt):
                todo[:0] = list(o.options)
            elif isinstance(o, Op):
                flat.append(o)
            else:
                raise TypeError(f"a fusion's root must be an Op template or an Alt of them, not {type(o).__name__}")
        super().__init__(tuple(n for o in flat for n in o.root_names()))
        object.__setattr__(self, "options", tuple(flat))

    def match_op(self, op, binds, trace, depth, value=None):
        for o in self.options:
            if op.name in o.root_names():
                yield from o.match_op(op, binds, trace, depth, value)

    def quick_check(self):
        checks = [o.quick_check() for o in self.options]
        if any(c is None for c in checks):
            return None
        return lambda producers: any(c(producers) for c in checks)


def _lookup(m: Match, name: str):
    if name in m.memo:
        return m.memo[name]
    return m[name] if name in m else None


def fusion(composite: str, template: Op | Alt, *, inputs: list, attrs: dict | Callable[[Match], dict] | None = None,
           name: str | None = None, where: Callable[[Match], Any] | None = None, benefit: int = 1) -> Pattern:
    """A pattern that outlines what `template` matched into a `composite` with operands `inputs` (capture
    names or `Operand`s) and composite attributes `attrs` (a dict, or a function of the match)."""
    operands = [Operand(i) if isinstance(i, str) else i for i in inputs]
    root = template if isinstance(template, Op) else _Either(template)
    if not operands:
        raise ValueError(f"fusion {composite}: a composite needs at least one input")

    def check(m: Match):
        if where is not None:
            verdict = where(m)
            if verdict is not True and (isinstance(verdict, str) or not verdict):
                return verdict
        present = []
        for o in operands:
            v = _lookup(m, o.name)
            if v is None and o.missing is None:
                return f"the match has no value '{o.name}' for an operand of {composite}"
            if v is not None:
                present.append(v)
        ops, why = region(present, [m.root.results[0]])
        if ops is None:
            return why
        m.memo["_fusion_ops"] = ops
        return True

    def rewrite(m: Match):
        first = _lookup(m, operands[0].name)
        values, adapters = [], {}
        for i, o in enumerate(operands):
            v = _lookup(m, o.name)
            values.append(v if v is not None else row_splat(first, o.missing))
            adapter = m.memo.get("adapters", {}).get(o.name, o.adapter)
            if adapter is not None:
                adapters[i] = adapter
        attributes = attrs(m) if callable(attrs) else dict(attrs or {})
        (out,) = outline_composite(composite, values, [m.root.results[0]], attributes, m.memo["_fusion_ops"],
                                   in_adapters=adapters)
        return out

    return Pattern(name or composite.split(".")[-1].replace("_", "-"), root, rewrite, benefit=benefit,
                   where=check)


@dataclass(frozen=True)
class FusionPass(Pass):
    """Base of a fusion pass: subclass it as a frozen dataclass (fields are options), set `name` and
    `summary`, and return the pattern set from `patterns()`. Running it is one walk (`apply_once`: what
    was outlined is never matched again), counted as "composites created" for --statistics.

    `anchors`: op names one of which every match contains (GELU: a tanh, erf, erfc or the erf
    polynomial's clamp). A module with none of them is left after one cheap walk instead of trying the
    templates at every candidate root (fuse-gelu on bench/core.py's 21.6k-op JAX transformer, which has no
    GELU: 0.06 s instead of 1.3 s, measured with the machine loaded)."""

    anchors: ClassVar[frozenset] = frozenset()

    def patterns(self) -> PatternSet:
        raise NotImplementedError(f"fusion pass {type(self).__name__} has no patterns()")

    def run(self, module, ctx):
        if self.anchors and not _contains(module, self.anchors):
            ctx.count("composites created", 0)
            ctx.mark_unchanged()
            return
        hits = apply_once(module, self.patterns(), ctx)
        ctx.count("composites created", sum(hits.values()))
        if not hits:  # (a walk that outlined nothing changed nothing)
            ctx.mark_unchanged()


def _contains(module, names: frozenset) -> bool:
    found = []

    def visit(op):
        if op.name in names:
            found.append(op.name)
            return mlir.WalkResult.INTERRUPT
        return mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return bool(found)
