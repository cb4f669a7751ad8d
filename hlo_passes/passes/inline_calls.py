"""`inline-calls`: inline `func.call`s of private functions, then drop the functions nobody calls.

jaxlib's build of MLIR's `inline` pass does not inline `func.call`, and JAX puts `jnp.where`, `tril` and
friends in private functions: patterns cannot see through a call, so the fusion pipeline inlines first.
Composite decompositions are left alone (they are called by composites, not by func.call).

Why it works top-down from the functions that stay: inlining callees first (bottom-up) flattens every
private function on the way, and a chain of N functions then costs N^2 copies; inlining into the
surviving functions only, following the calls that each copied body brings in, copies each op once per
place it ends up, which is the size of the result. Recursive functions (a cycle in the call graph) are
never inlined, so the pass always ends; `max-ops` bounds the growth of call trees that fan out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import ir
from ..ir import mlir
from ..pass_manager import Pass, option, register_pass
from ..patterns.outline import replace_by_block

_REFERRING = (mlir.FlatSymbolRefAttr, mlir.SymbolRefAttr, mlir.ArrayAttr, mlir.DictAttr)
_SYMBOL = re.compile(r'@"((?:[^"\\]|\\.)*)"|@([\w.$-]+)')


def _name(fn) -> str:
    return mlir.StringAttr(fn.attributes["sym_name"]).value


def _private(fn) -> bool:
    return "sym_visibility" in fn.attributes and mlir.StringAttr(fn.attributes["sym_visibility"]).value == "private"


def _callee(call) -> str:
    return mlir.FlatSymbolRefAttr(call.attributes["callee"]).value


def _calls_in(op) -> list:
    """The func.call ops nested in `op` (itself included), in order."""
    found = []

    def visit(inner):
        if inner.name == "func.call":
            found.append(inner)
        return mlir.WalkResult.ADVANCE

    op.walk(visit)
    return found


def _refs(attrs, names: set) -> None:
    """Add the symbol names that `attrs` (an op's attributes) refer to."""
    for key in attrs:  # iterating yields the names; the values come downcast
        attr = attrs[key]
        if isinstance(attr, _REFERRING):  # never print a weight to look for symbols in it
            names.update(a or b for a, b in _SYMBOL.findall(str(attr)))


def _scan(fn) -> tuple[list, set]:
    """One walk of a function: its func.call ops in order, and the names that its other ops refer to."""
    calls, names = [], set()

    def visit(op):
        if op.name == "func.call":
            calls.append(op)
        else:
            _refs(op.attributes, names)
        return mlir.WalkResult.ADVANCE

    fn.walk(visit)
    return calls, names


def _recursive(graph: dict[str, list[str]]) -> set[str]:
    """Functions on a cycle of the call graph (Tarjan's algorithm, iterative: call chains can be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: set[str] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    result.update(component)
    return result


def _symbol_uses(op) -> set[str]:
    """Names referenced from attributes of the ops nested in `op` (func.call callees included)."""
    names: set[str] = set()
    op.walk(lambda inner: _refs(inner.attributes, names) or mlir.WalkResult.ADVANCE)
    return names


@register_pass
@dataclass(frozen=True)
class InlineCalls(Pass):
    """Replaces each call of a private, single-block, non-recursive function by a copy of its body (calls
    inside the copied bodies too), then erases the private functions nobody references any more.

    Statistics: `calls inlined`, `functions erased`, `recursive functions kept`, and `calls left (max-ops)`
    when the budget stopped the inlining."""

    name = "inline-calls"
    summary = "inlines func.call of private functions (MLIR's inline does not, in jaxlib's build)"
    max_ops: int = option(10_000_000, "stop inlining once this many ops have been copied (call trees that "
                                      "fan out grow exponentially)")

    def __post_init__(self):
        if self.max_ops < 0:
            raise ValueError(f"max-ops must be >= 0, got {self.max_ops}")

    def run(self, module, ctx):
        body = module.regions[0].blocks[0]
        funcs, others = {}, []
        for op in body.operations:
            if op.operation.name == "func.func":
                funcs[_name(op)] = op
            else:
                others.append(op)
        scans = {name: _scan(fn.operation) for name, fn in funcs.items()}
        calls_of = {name: calls for name, (calls, _) in scans.items()}
        recursive = _recursive({name: [_callee(c) for c in calls] for name, calls in calls_of.items()})
        if recursive:
            ctx.count("recursive functions kept", len(recursive))
        sizes: dict[str, int] = {}

        def inlinable(name: str) -> bool:
            fn = funcs.get(name)
            return (fn is not None and _private(fn) and name not in recursive
                    and len(fn.regions[0].blocks) == 1)

        def size(name: str) -> int:
            if name not in sizes:
                sizes[name] = ir.op_count(funcs[name])
            return sizes[name]

        # The functions that stay: inline into them. A private function that is only ever called (and
        # inlinable) disappears, so copying into it first would be wasted work.
        outside = set().union(*(_symbol_uses(op.operation) for op in others))
        referenced = outside.union(*(names for _, names in scans.values()))
        roots = [n for n in funcs if not inlinable(n) or n in referenced]
        refs: dict[str, set] = {}  # what each function refers to once inlining is done (for _dead)
        copied = 0
        left = 0
        for root in roots:
            mine = set(scans[root][1])
            work = list(calls_of[root])
            while work:
                call = work.pop()
                callee = _callee(call)
                if not inlinable(callee) or copied + size(callee) > self.max_ops:
                    left += inlinable(callee)
                    mine |= _symbol_uses(call)  # the call stays
                    continue
                copied += size(callee)
                mine |= refs.get(callee, scans[callee][1])  # (a root already inlined into: as it is now)
                clones = replace_by_block(call, funcs[callee].regions[0].blocks[0])
                if calls_of[callee]:  # (a copied body holds calls only where its function did)
                    work.extend(c for clone in clones for c in _calls_in(clone))
                ctx.count("calls inlined")
            refs[root] = mine
        if left:
            ctx.count("calls left (max-ops)", left)
        for name in _dead(funcs, refs, outside):
            funcs[name].operation.erase()
            ctx.count("functions erased")


def _dead(funcs: dict, refs: dict, outside: set) -> list[str]:
    """Private functions that nothing reachable from a public function (or a non-function top-level op,
    which refer to `outside`) refers to: by call, as a composite's decomposition, or from any other
    attribute. `refs`: what the functions inlined into refer to now; the others are as they were, and are
    scanned only if reached."""
    live = [name for name, fn in funcs.items() if not _private(fn)] + list(outside)
    seen = set(live)
    while live:
        name = live.pop()
        if name not in refs and name in funcs:
            refs[name] = _symbol_uses(funcs[name].operation)
        for nxt in refs.get(name, ()):
            if nxt not in seen:
                seen.add(nxt)
                live.append(nxt)
    return [name for name in funcs if name not in seen]
