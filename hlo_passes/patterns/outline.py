"""Outlining a matched subgraph into a `stablehlo.composite` whose decomposition is exactly that subgraph.

    ops, why = region(inputs, outputs)                 # what would move, or why it cannot
    results = outline_composite("odml.rms_norm", inputs, outputs, {"epsilon": 1e-6}, ops)

The decomposition is a private function holding clones of the matched ops, so inlining the composite
gives back the original computation bit for bit. Operands and results can be adapted on the way in and
out (an `Adapter` is a pair of functions: how the composite's operand is built from the original value
outside, and how the decomposition turns its argument back into the original value inside); this is how
attention's operands are put in the [B, T, N, H] layout LiteRT expects without changing what is computed.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass
from typing import Callable

from .. import ir
from ..ir import func, mlir
from . import values as vals


@dataclass(frozen=True)
class Adapter:
    """`outside(v)` builds the composite's operand (or the replacement of an output) from `v`;
    `inside(v)` undoes it in the decomposition. Both run with an insertion point set."""

    outside: Callable
    inside: Callable


def transposed(perm: list[int]) -> Adapter:
    """Operand passed as transpose(v, perm); the decomposition transposes it back."""
    inverse = [perm.index(i) for i in range(len(perm))]
    return Adapter(lambda v: ir.stablehlo.TransposeOp(v, perm).result,
                   lambda v: ir.stablehlo.TransposeOp(v, inverse).result)


def _users_outside(value, members: set) -> bool:
    return any(vals.user(use) not in members for use in value.uses)


def region(inputs: list, outputs: list) -> tuple[list | None, str]:
    """The ops computing `outputs` from `inputs` (and constants), in program order, or (None, why)."""
    stop = set(inputs)
    seen, ops, block = set(), [], None
    todo = [v for v in outputs]
    while todo:
        v = todo.pop()
        if v in stop:
            continue
        op = vals.defining_op(v)
        if op is None:
            return None, f"depends on a function argument ({v.type}) that is not one of the inputs"
        if op in seen:
            continue
        if block is None:
            block = op.block
        elif op.block != block:
            return None, "spans more than one block"
        seen.add(op)
        ops.append(op)
        todo.extend(op.operands)
    for op in ops:
        if vals.constant_attr(op) is not None:
            continue  # constants are cloned, so other users keep theirs
        for r in op.results:
            if r not in outputs and _users_outside(r, seen):
                return None, f"{op.name} at {vals.loc(op)} has users outside the match (they would be duplicated)"
    # program order by pairwise comparison: MLIR caches op order per block, and numbering the whole block
    # for each match would make fusing a model quadratic in its size
    before = functools.cmp_to_key(lambda a, b: -1 if a.is_before_in_block(b) else (1 if a != b else 0))
    return sorted(ops, key=before), ""


class _Symbols:
    """The run's view of a module's symbol names, and of the decompositions it outlined (by body), so that a
    fusion walk scans the symbol table once (scanning per composite made fusion quadratic) and N identical
    bodies become one private function."""

    def __init__(self):
        self.taken: dict = {}  # hash(module op) -> symbol names in use
        self.bodies: dict = {}  # (hash(module op), body text) -> the decomposition holding that body
        self.unused: list = []  # (module op, name) of duplicate bodies, erased when the scope closes
        self.suffix: dict = {}  # (hash(module op), base) -> the last suffix given: names only get taken
        self.hoisted: dict = {}  # key -> a value built once for the walk (see `hoisted`)

    def drop_unused(self) -> None:
        """Erase the duplicates, found afresh by name: erasing an op while Python still holds wrappers of
        the ops inside it (the clones just made) lets a later op reuse their memory under a stale wrapper."""
        by_module: dict = {}
        for module_op, name in self.unused:
            by_module.setdefault(hash(module_op), (module_op, set()))[1].add(name)
        for module_op, names in by_module.values():
            for op in ir.module_ops(module_op):
                if "sym_name" in op.attributes and mlir.StringAttr(op.attributes["sym_name"]).value in names:
                    op.erase()


_SCOPE: contextvars.ContextVar[_Symbols | None] = contextvars.ContextVar("outline_symbols", default=None)


@contextlib.contextmanager
def symbol_scope():
    """One walk's cache of symbol names and decomposition bodies (the driver opens one per `apply_once`).
    Outside a scope every call scans afresh: correct, only slower. The cache lives on the run, never on
    the module or in a global, so two runs never see each other's names."""
    scope = _Symbols()
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
    scope.drop_unused()


def hoisted(key, source, build: Callable[[], object]):
    """`build()`, run right after `source` is defined, once per fusion walk for `key`: an operand adapter
    that computes from `source` and constants alone (a composite's mask from the one causal mask all
    layers read) then serves every composite that would build the same, instead of N copies for
    `simplify` to fold and deduplicate. `key` must say everything `build` depends on besides `source`.
    Outside a walk (`symbol_scope`), it is built each time, at the current insertion point."""
    scope = _SCOPE.get()
    if scope is None:
        return build()
    key = (source, key)
    if key not in scope.hoisted:
        owner = source.owner
        at = mlir.InsertionPoint.at_block_begin(owner) if isinstance(owner, mlir.Block) else \
            mlir.InsertionPoint.after(getattr(owner, "operation", owner))
        with at:
            scope.hoisted[key] = build()
    return scope.hoisted[key]


def _taken(module_op) -> set:
    scope = _SCOPE.get()
    key = hash(module_op)
    if scope is not None and key in scope.taken:
        return scope.taken[key]
    names = {mlir.StringAttr(op.attributes["sym_name"]).value for op in ir.module_ops(module_op)
             if "sym_name" in op.attributes}
    if scope is not None:
        scope.taken[key] = names
    return names


def _unique_name(module_op, base: str) -> str:
    taken = _taken(module_op)
    scope = _SCOPE.get()
    key = (hash(module_op), base)
    # The smallest free suffix, so the same input always gives the same names. Within a scope names are
    # only ever taken, so the search resumes at the last suffix given (from 0 each time, N composites of
    # one kind cost N^2/2 set lookups: duplicates keep their names until the scope closes).
    k = scope.suffix.get(key, 0) if scope is not None else 0
    name = f"{base}.impl" if k == 0 else f"{base}.impl_{k}"
    while name in taken:
        k += 1
        name = f"{base}.impl_{k}"
    taken.add(name)
    if scope is not None:
        scope.suffix[key] = k
    return name


def _shared(module_op, fn, fname: str) -> str:
    """`fname`, or the name of an identical decomposition this walk outlined before (then `fn` goes)."""
    scope = _SCOPE.get()
    if scope is None:
        return fname
    body = ir.local_text(fn).replace(f"@{fname}(".encode(), b"@(", 1)
    key = (hash(module_op), body)
    if key not in scope.bodies:
        scope.bodies[key] = fname
        return fname
    scope.unused.append((module_op, fname))  # erased when the walk ends: Python may still hold its ops
    return scope.bodies[key]


def _module_of(op):
    while op.name != "builtin.module":
        op = op.parent
    return op


def outline_composite(name: str, inputs: list, outputs: list, attributes: dict, ops: list, *,
                      in_adapters: dict | None = None, out_adapters: dict | None = None) -> list:
    """Replace `outputs` (computed by `ops` from `inputs`) by a composite; returns its (adapted) results.

    The ops are left in place, now unused, for the caller (or the driver) to erase. Inside a fusion walk
    (`symbol_scope`), a body identical to one outlined before reuses that decomposition: N identical
    RMSNorms are N composites and one private function.
    """
    in_adapters, out_adapters = in_adapters or {}, out_adapters or {}
    root = ops[-1]
    module = _module_of(root)
    loc = root.location
    with loc, mlir.InsertionPoint(root):
        operands = [in_adapters[i].outside(v) if i in in_adapters else v for i, v in enumerate(inputs)]
    fname = _unique_name(module, name)
    out_types = []
    with loc:
        body = module.regions[0].blocks[0]
        with mlir.InsertionPoint(body):
            probe_types = [o.type for o in outputs]
            fn = func.FuncOp(fname, ([v.type for v in operands], probe_types), visibility="private")
        entry = fn.add_entry_block()
        with mlir.InsertionPoint(entry):
            mapping = {}
            for i, (arg, original) in enumerate(zip(entry.arguments, inputs)):
                mapping[original] = in_adapters[i].inside(arg) if i in in_adapters else arg
            for op in ops:
                clone = op.clone()
                for k, operand in enumerate(clone.operands):
                    if operand in mapping:
                        clone.operands[k] = mapping[operand]
                for old, new in zip(op.results, clone.results):
                    mapping[old] = new
            results = []
            for i, o in enumerate(outputs):
                results.append(out_adapters[i].inside(mapping[o]) if i in out_adapters else mapping[o])
            out_types = [r.type for r in results]
            func.ReturnOp(results)
        fn.attributes["function_type"] = mlir.TypeAttr.get(
            mlir.FunctionType.get([v.type for v in operands], out_types))
    fname = _shared(module, fn, fname)
    with loc, mlir.InsertionPoint(root):
        attrs = {k: _attr(v) for k, v in attributes.items()}
        composite = mlir.Operation.create(
            "stablehlo.composite", results=out_types, operands=operands,
            attributes={"name": mlir.StringAttr.get(name), "composite_attributes": mlir.DictAttr.get(attrs),
                        "decomposition": mlir.FlatSymbolRefAttr.get(fname),
                        "version": mlir.IntegerAttr.get(mlir.IntegerType.get_signless(32), 0)})
        replaced = []
        for i, r in enumerate(composite.results):
            replaced.append(out_adapters[i].outside(r) if i in out_adapters else r)
    for old, new in zip(outputs, replaced):
        old.replace_all_uses_with(new)
    return replaced


def _attr(value):
    if isinstance(value, mlir.Attribute):
        return value
    if isinstance(value, bool):
        return mlir.BoolAttr.get(value)
    if isinstance(value, int):
        return mlir.IntegerAttr.get(mlir.IntegerType.get_signless(64), value)
    if isinstance(value, float):
        return mlir.FloatAttr.get(mlir.F32Type.get(), value)
    if isinstance(value, str):
        return mlir.StringAttr.get(value)
    raise TypeError(f"composite attribute of unsupported type: {value!r}")


def erase_dead(ops: list) -> int:
    """Erase the ops of a replaced match, users first; ops still in use (shared constants) stay."""
    erased = 0
    for op in reversed(ops):
        if all(not list(r.uses) for r in op.results):
            op.erase()
            erased += 1
    return erased


def inline_block(block, operands, clones: list | None = None) -> list:
    """Copy a single-block body (a function's, a decomposition's) at the current insertion point, its
    arguments bound to `operands`; returns the values its `func.return` returns, and appends the copied
    top-level ops to `clones` when given.

    Ops nested in a copied op's regions may use values of the body directly (StableHLO's while/case
    regions are not isolated from above): those uses are remapped too, or the copy would point into the
    function it came from.
    """
    mapping = dict(zip(block.arguments, operands))
    results = []
    for op in block.operations:
        if op.operation.name == "func.return":
            results = [mapping.get(v, v) for v in op.operands]
            continue
        clone = op.operation.clone()
        for k, v in enumerate(clone.operands):
            if v in mapping:
                clone.operands[k] = mapping[v]
        if len(clone.regions):
            _remap_nested(clone, mapping)
        mapping.update(zip(op.results, clone.results))
        if clones is not None:
            clones.append(clone)
    return results


def _remap_nested(op, mapping: dict) -> None:
    """Point uses of values from `mapping` inside `op`'s regions at their copies."""
    def visit(inner):
        if inner != op:
            for k, v in enumerate(inner.operands):
                if v in mapping:
                    inner.operands[k] = mapping[v]
        return mlir.WalkResult.ADVANCE

    op.walk(visit)


def replace_by_block(op, block) -> list:
    """Replace a call-like `op` (func.call, stablehlo.composite) by a copy of the body it stands for;
    returns the copied top-level ops."""
    clones: list = []
    with mlir.InsertionPoint(op):
        results = inline_block(block, list(op.operands), clones)
    for old, new in zip(op.results, results):
        old.replace_all_uses_with(new)
    op.erase()
    return clones


def decomposition_names(module) -> set[str]:
    """Functions that are some composite's decomposition: fusion must not look inside them. A module with
    one function has none (that function could only decompose a composite inside itself, which never
    ends), and is not walked."""
    op = ir.as_operation(module)
    if op.name == "builtin.module" and sum(f.operation.name == "func.func" for f in ir.module_ops(op)) < 2:
        return set()
    names = set()

    def visit(op):
        if op.name == "stablehlo.composite":
            names.add(mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value)
        return mlir.WalkResult.ADVANCE

    op.walk(visit)
    return names


def program_functions(module) -> list:
    """The functions a pass rewrites: every func.func of the module but composite decompositions (they hold
    exactly what a fusion matched); an op that is not a module is rewritten itself."""
    op = ir.as_operation(module)
    if op.name != "builtin.module":
        return [op]
    skip = decomposition_names(op)
    return [f for f in ir.module_ops(op) if f.operation.name == "func.func"
            and mlir.StringAttr(f.attributes["sym_name"]).value not in skip]


def inline_composites(module, should_inline) -> int:
    """Replace each composite whose name `should_inline(name)` approves by its decomposition, then erase
    the decomposition functions no composite refers to any more. Returns how many were inlined."""
    module = ir.as_operation(module)
    body = module.regions[0].blocks[0]
    funcs = {mlir.StringAttr(op.attributes["sym_name"]).value: op for op in body.operations
             if op.operation.name == "func.func"}
    found = []
    module.walk(lambda op: (found.append(op) if op.name == "stablehlo.composite" else None)
                or mlir.WalkResult.ADVANCE)
    count = 0
    for comp in found:
        if not should_inline(mlir.StringAttr(comp.attributes["name"]).value):
            continue
        fn = funcs[mlir.FlatSymbolRefAttr(comp.attributes["decomposition"]).value]
        replace_by_block(comp, fn.regions[0].blocks[0])
        count += 1
    still = decomposition_names(module)
    for name, fn in funcs.items():
        if name not in still and ".impl" in name and "sym_visibility" in fn.attributes:
            fn.operation.erase()
    return count
