"""Patterns as values, pattern sets that compose, and the driver that applies them to a fixpoint.

    ADD_ZERO = Pattern("add-zero", Op(stablehlo.AddOp, V("x"), Const(value=0)), lambda m: m["x"])
    CLEANUP = PatternSet([ADD_ZERO, MUL_ONE]) + OTHER_SET
    CLEANUP.apply(module, ctx)

A rewrite runs only once its match is certain (the template matched and `where` said yes); it builds
new ops with the bindings (the insertion point is before the root, the root's location is active) and
returns the value(s) that replace the root's results, or an existing value. The driver is MLIR's greedy
driver (worklist, dead-op removal, folding, constant dedup), reached through `ir.apply_greedily`.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .. import ir
from ..diagnostics import Decline, HloError, SourceLoc
from . import values as vals
from .template import Match, Op, Producers, match_root


@dataclass(frozen=True)
class Pattern:
    """`name`: for statistics and --debug-patterns. `root`: an `Op` template. `rewrite(m)` returns the
    replacement value(s). `where(m)` may veto a match: False, a string saying why, or `raise Decline(why)`
    (from any depth of helper code: the one failure type that evaluators and conversion rules raise too).

    `local=True` declares that `where` (and any `where` in the template) reads nothing but the root, its
    own users, the ops defining its operands and types, and that the rewrite builds at most one op: the
    one whose result it returns (the driver shows that op to the rules at once; MLIR never sees it).
    With a template that looks no further either (`Op.local_root`), the greedy driver needs no confirming
    sweep for this pattern: see `is_local`."""

    name: str
    root: Op
    rewrite: Callable[[Match], Any]
    benefit: int = 1
    where: Callable[[Match], Any] | None = None
    local: bool = False

    def __post_init__(self):
        if not isinstance(self.root, Op):
            raise TypeError(f"pattern {self.name}: the root must be an Op template, not {self.root!r}")

    def match(self, op, explain: bool = True) -> tuple[Match | None, str]:
        """Match at `op` without changing anything: (match, "") or (None, why not)."""
        return match_root(self.root, op, self.where, explain)

    def quick_check(self) -> Callable[[Producers], bool] | None:
        """A necessary condition on the names of the ops defining the root's operands (None for a block
        argument), asked before `match`: False means `match` would certainly fail. From the template; a
        subclass with an early refusal of its own may replace it. None: nothing to check."""
        return self.root.quick_check()

    def is_local(self) -> bool:
        """Whether one sweep of the greedy driver leaves no match of this pattern behind: MLIR re-queues an
        op when its producers, its operands or its users change, so a pattern that depends on nothing else
        is rechecked by the driver itself whenever it might start to match. (What MLIR does not queue is an
        op built from Python: hence a local rewrite builds one op, which ir.sweep shows to the rules.)"""
        return self.local and self.root.local_root()


@dataclass(frozen=True)
class PatternSet:
    patterns: tuple = ()
    name: str = ""

    def __init__(self, patterns: Iterable[Pattern] = (), name: str = ""):
        object.__setattr__(self, "patterns", tuple(patterns))
        object.__setattr__(self, "name", name)
        seen = Counter(p.name for p in self.patterns)
        dup = [n for n, k in seen.items() if k > 1]
        if dup:
            raise ValueError(f"pattern names must be unique in a set: {', '.join(dup)}")

    def __add__(self, other: PatternSet) -> PatternSet:
        return PatternSet(self.patterns + other.patterns, name=self.name or other.name)

    def __iter__(self):
        return iter(self.patterns)

    def __len__(self):
        return len(self.patterns)

    def apply(self, module, ctx=None, *, max_iterations: int = 10, fold: bool = True) -> Counter:
        """Rewrite `module` in place to a fixpoint; returns hits per pattern (also added to ctx)."""
        return apply_patterns(module, self, ctx, max_iterations=max_iterations, fold=fold)


class RewriteBudget:
    """MLIR's `--debug-counter` for our patterns: the driver asks `allow(pattern, op)` before each rewrite,
    and a budget of `limit` lets the first `limit` through and declines the rest (the op stays as it is).
    `applied` lists (pattern name, root op name, its location) of every rewrite allowed, in order, so that
    `--bisect` can name the k-th one. It lives on a pass's context (`ctx.rewrites`), never on the module."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.applied: list[tuple[str, str, str]] = []
        self.declined = 0

    def allow(self, pattern: str, op) -> bool:
        if self.limit is not None and len(self.applied) >= self.limit:
            self.declined += 1
            return False
        self.applied.append((pattern, op.name, vals.loc(op)))
        return True


class PatternError(HloError):
    """An exception raised inside a pattern's `where` or `rewrite`: located at the user's own line."""


_LIBRARIES = tuple(os.path.dirname(m.__file__) + os.sep for m in (ir.mlir, np) if getattr(m, "__file__", None))
_OURS = (os.path.join(os.path.dirname(__file__), "driver.py"), os.path.join(os.path.dirname(__file__), "template.py"))


def _user_site(exc: BaseException, fn) -> SourceLoc | None:
    """Where in the user's code the exception came from: the innermost frame in the file that defines the
    pattern's function `fn`, else the innermost that is not jaxlib's generated op builders, numpy, this
    driver or the template matcher."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_LIBRARIES) and f.filename not in _OURS]
    code = getattr(fn, "__code__", None)
    own = [f for f in frames if code is not None and f.filename == code.co_filename]
    if not (own or frames):
        return None
    f = (own or frames)[-1]
    return SourceLoc(f.filename, f.lineno or 0, (getattr(f, "colno", None) or 0) + 1)


def _pattern_error(pattern: Pattern, doing: str, op, e: Exception) -> PatternError:
    site = _user_site(e, pattern.where if doing == "where" else pattern.rewrite)
    err = PatternError(f"pattern '{pattern.name}' raised {type(e).__name__} in its {doing}: {e}", site,
                       (f"while {'matching' if doing == 'where' else 'rewriting'} {op.name} at {vals.loc(op)}",))
    err.__cause__ = e
    return err


@dataclass
class _Run:
    hits: Counter = field(default_factory=Counter)
    debug: Callable[[str], bool] = lambda name: False
    out: Any = None
    said: set = field(default_factory=set)  # the driver sweeps more than once: explain each thing once
    budget: RewriteBudget | None = None  # (ctx.rewrites: --bisect's limit on applications)

    def say(self, line: str) -> None:
        if line not in self.said:
            self.said.add(line)
            print(line, file=self.out)


def _check_types(pattern: Pattern, op, values) -> None:
    if len(values) != len(op.results):
        raise HloError(f"pattern '{pattern.name}' returned {len(values)} values for {op.name} with "
                       f"{len(op.results)} results")
    for new, old in zip(values, op.results):
        if new.type != old.type:
            raise HloError(f"pattern '{pattern.name}' would replace a {old.type} by a {new.type} at "
                           f"{vals.loc(op)}")


def _callback(patterns: list[Pattern], run: _Run):
    """One callback per root op name: tries its patterns in benefit order, matching without building
    anything; the winner's rewrite runs later, under the driver's insertion point."""
    explaining = [run.debug(p.name) for p in patterns]
    # (an explained near-miss needs the whole matcher's reason: no quick check for those)
    quick = [None if explain else p.quick_check() for p, explain in zip(patterns, explaining)]
    tries = list(zip(patterns, explaining, quick))

    def fn(op):
        producers = None
        for pattern, explain, check in tries:
            if check is not None:
                if producers is None:
                    producers = Producers(op)
                if not check(producers):
                    continue
            try:
                m, why = pattern.match(op, explain)
            except HloError:
                raise
            except Exception as e:  # noqa: BLE001 -- the user's `where` (or a template's check) raised
                raise _pattern_error(pattern, "where", op, e) from e
            if m is None:
                if explain:
                    run.say(f"[{pattern.name}] {op.name} at {vals.loc(op)}: no match: {why}")
                continue
            if run.budget is not None and not run.budget.allow(pattern.name, op):
                if explain:
                    run.say(f"[{pattern.name}] {op.name} at {vals.loc(op)}: matched, not applied (rewrite budget)")
                return None
            return lambda pattern=pattern, m=m, explain=explain: _rewrite(pattern, m, op, run, explain)
        return None

    return fn


def _rewrite(pattern: Pattern, m: Match, op, run: _Run, explain: bool):
    try:
        out = pattern.rewrite(m)
    except HloError:
        raise
    except Exception as e:  # noqa: BLE001 -- the user's rewrite raised: point at their line, not jaxlib's
        raise _pattern_error(pattern, "rewrite", op, e) from e
    if out is None:
        raise HloError(f"pattern '{pattern.name}' matched at {vals.loc(op)} but its rewrite returned None: "
                       "a rewrite must return the replacement (put conditions in `where`)")
    values = [out] if not isinstance(out, (list, tuple)) else list(out)
    values = [v.result if hasattr(v, "result") and not hasattr(v, "owner") else v for v in values]
    _check_types(pattern, op, values)
    run.hits[pattern.name] += 1
    if explain:
        run.say(f"[{pattern.name}] {op.name} at {vals.loc(op)}: rewritten")
    return values


def apply_patterns(module, patterns: PatternSet | Iterable[Pattern], ctx=None, *, max_iterations: int = 10,
                   fold: bool = True) -> Counter:
    """Apply patterns greedily until nothing changes. Hits are counted into `ctx` (`pattern NAME: k`).

    MLIR's driver sweeps until a sweep changes nothing, so its last sweep only confirms. Here a sweep that
    changed something is followed by MLIR's own sweeps without rules (what MLIR does to the constants the
    sweep built: moved up, deduplicated), then by a sweep of the patterns that are not `local` alone: a
    local one would have been re-queued by MLIR whenever it could start to match. Only if that sweep
    rewrites does everything get swept again. A set of local patterns (fold-constants) takes one sweep.
    `max_iterations` bounds the sweeps with rules."""
    set_name = getattr(patterns, "name", "")
    patterns = list(patterns)
    whole_set = ctx is not None and bool(set_name) and ctx.debugging(set_name)
    run = _Run(debug=(lambda name: ctx.debugging(name) or whole_set) if ctx is not None else (lambda name: False),
               out=ctx.out if ctx is not None else sys.stderr, budget=getattr(ctx, "rewrites", None))
    everything = _rules(patterns, run)
    distant = _rules([p for p in patterns if not p.is_local()], run)
    try:
        for target in _targets(module):
            rules = everything
            for _ in range(max_iterations):
                if not ir.sweep(target, rules, fold=fold):
                    break
                if rules is everything:
                    ir.apply_greedily(target, [], max_iterations=max_iterations, fold=fold)
                    if not distant:
                        break
                rules = distant if rules is everything else everything
            else:
                raise ir.NotConverged()
    except ir.NotConverged:
        busiest = ", ".join(f"{n} ({k} rewrites)" for n, k in run.hits.most_common(4)) or "none"
        raise HloError(f"rewriting did not converge after {max_iterations} sweeps (or too many rewrites in one);"
                       f" patterns still firing: {busiest}") from None
    if ctx is not None:
        for name, k in run.hits.items():
            ctx.count(f"pattern {name}", k)
    return run.hits


def _rules(patterns: list[Pattern], run: _Run) -> list:
    """(root op name, callback, benefit) for the greedy driver: one callback per root name."""
    by_root: dict[str, list[Pattern]] = {}
    for p in sorted(patterns, key=lambda p: -p.benefit):  # stable: equal benefits keep their order
        for name in p.root.root_names():
            by_root.setdefault(name, []).append(p)
    return [(name, _callback(group, run), group[0].benefit) for name, group in by_root.items()]


def _targets(module) -> list:
    """What to rewrite: the module's functions, but not composite decompositions (they hold exactly what a
    fusion matched; rewriting them is wasted work and would blur what the composite stands for). Anything
    that is not a module is rewritten whole."""
    op = ir.as_operation(module)
    if op.name != "builtin.module":
        return [op]
    from .outline import decomposition_names

    skip = decomposition_names(op)
    if not skip:
        return [op]
    return [f for f in ir.module_ops(op) if f.operation.name != "func.func"
            or ir.mlir.StringAttr(f.attributes["sym_name"]).value not in skip]


def explain(pattern: Pattern, module) -> list[str]:
    """For every candidate root in `module`: `loc: matched` or `loc: why not` (for tests and notebooks)."""
    lines = []
    names = set(pattern.root.root_names())

    def visit(op):
        if op.name in names:
            m, why = pattern.match(op)
            lines.append(f"{vals.loc(op)}: {'matched' if m else why}")
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return lines


def apply_once(module, patterns: PatternSet | Iterable[Pattern], ctx=None) -> Counter:
    """One walk over every function (composite decompositions excluded), last op first, trying the
    patterns at each op; a rewrite's replaced ops are erased at once. For fusions: a match swallows a whole
    subgraph, and matching again inside what was just outlined would nest composites forever."""
    from .outline import symbol_scope

    with symbol_scope():  # the walk's symbol names and outlined bodies, gone with the walk
        return _apply_once(module, patterns, ctx)


def _apply_once(module, patterns, ctx) -> Counter:
    set_name = getattr(patterns, "name", "")
    patterns = sorted(patterns, key=lambda p: -p.benefit)
    whole_set = ctx is not None and bool(set_name) and ctx.debugging(set_name)
    run = _Run(debug=(lambda name: ctx.debugging(name) or whole_set) if ctx is not None else (lambda name: False),
               out=ctx.out if ctx is not None else sys.stderr, budget=getattr(ctx, "rewrites", None))
    by_root: dict[str, list[Pattern]] = {}
    for p in patterns:
        for name in p.root.root_names():
            by_root.setdefault(name, []).append(p)
    callbacks = {name: _callback(group, run) for name, group in by_root.items()}
    for ops in _candidates(module, callbacks):
        # Erased ops must never be touched again (that crashes the process), and an op's hash only means
        # something while it lives: every key is taken now, and compared before an op is used.
        keys = [hash(op) for op, _ in ops]
        gone: set = set()
        for (op, callback), key in zip(ops, keys):
            if key in gone:
                continue
            rewrite = callback(op)
            if rewrite is None:
                continue
            with ir.mlir.InsertionPoint(op), op.location:
                values = rewrite()
            for old, new in zip(op.results, values):
                old.replace_all_uses_with(new)
            gone |= _erase_dead_from(op)
    if ctx is not None:
        for name, k in run.hits.items():
            ctx.count(f"pattern {name}", k)
    return run.hits


_CONTROL_FLOW = ("stablehlo.while", "stablehlo.if", "stablehlo.case")


def _candidates(module, callbacks: dict) -> list[list]:
    """Per function a walk will rewrite, its candidate roots with their callbacks: every block, loop and
    branch bodies included (decode loops write their KV cache inside a while), each last op first. Composite
    decompositions are left out (see outline.program_functions); they are found in the same pass over the
    ops, which spares each fusion a walk of the whole module of its own."""
    op = ir.as_operation(module)
    functions = [f.operation for f in ir.module_ops(op) if f.operation.name == "func.func"] \
        if op.name == "builtin.module" else [op]
    found, decompositions = [], set()
    for fn in functions:
        ops = []
        for block in _blocks(fn):
            for inner in reversed(block):
                name = inner.name
                if name in callbacks:
                    ops.append((inner, callbacks[name]))
                if name == "stablehlo.composite":
                    decompositions.add(ir.mlir.FlatSymbolRefAttr(inner.attributes["decomposition"]).value)
        found.append((fn, ops))
    return [ops for fn, ops in found if fn.name != "func.func"
            or ir.mlir.StringAttr(fn.attributes["sym_name"]).value not in decompositions]


def _blocks(op) -> list[list]:
    """The ops of the function's blocks and of the loop and branch bodies in them, outer blocks first,
    each in program order. (Reducer and scatter bodies hold nothing worth fusing.) Iterative: inputs may
    nest thousands of levels deep, far past Python's recursion limit."""
    def blocks_of(o):
        return [block for region in o.regions for block in region.blocks]

    found = []
    todo = [iter(blocks_of(op))]  # each block's nested bodies are finished before its next sibling block
    while todo:
        block = next(todo[-1], None)
        if block is None:
            todo.pop()
            continue
        ops = [o.operation for o in block.operations]
        found.append(ops)
        todo.append(iter([b for o in ops if o.name in _CONTROL_FLOW for b in blocks_of(o)]))
    return found


def _nested_keys(op) -> set:
    keys = set()

    def visit(inner):
        keys.add(hash(inner))
        return ir.mlir.WalkResult.ADVANCE

    op.walk(visit)
    return keys


def _erase_dead_from(root) -> set:
    """Erase `root` and then every op that became unused because of it; returns their hashes (taken
    while each op lived: see `apply_once`)."""
    gone, todo = set(), [(root, hash(root))]
    while todo:
        op, key = todo.pop()
        if key in gone or op.name == "func.return" or any(vals.has_uses(r) for r in op.results):
            continue
        defs = [(d, hash(d)) for d in (vals.defining_op(v) for v in op.operands) if d is not None]
        gone.add(key)
        if len(op.regions):  # its nested ops go with it
            gone |= _nested_keys(op)
        op.erase()
        todo.extend(item for item in defs if item[1] not in gone)
    return gone


# ------------------------------------------------------------------------------------------- conversion

@dataclass(frozen=True)
class Leftover:
    """An op a conversion left behind: where it is, what it is, and why no rule took it."""

    op_name: str
    where: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.op_name}: {self.why}"


class ConversionFailed(HloError):
    def __init__(self, what: str, leftovers: list[Leftover], limit: int = 20):
        shown = [str(x) for x in leftovers[:limit]]
        if len(leftovers) > limit:
            shown.append(f"... and {len(leftovers) - limit} more")
        first = leftovers[0]
        super().__init__(f"{what}: {len(leftovers)} op(s) could not be converted; first: {first.op_name}: {first.why}",
                         None, tuple(shown))
        self.leftovers = leftovers


def apply_conversion(module, rules: dict[str, Callable], *, illegal: tuple[str, ...], legal: frozenset = frozenset(),
                     what: str = "conversion", ctx=None, functions: Iterable | None = None) -> Counter:
    """Convert every op whose dialect is in `illegal` (unless its name is in `legal`) with `rules[op.name]`.

    One walk in program order over each function's top-level blocks, so a rule sees its operands already
    converted. A rule runs with the insertion point before the op and the op's location active; it returns
    the values that replace the op's results (their types may differ: a conversion may change types) or
    raises `Decline(reason)`. Ops nested in a converted op (a reduce's body) go with it. Afterwards, every
    illegal op still present is listed with its location and the reason (a decline's, or "no rule"), and
    the conversion fails as a whole: a half-converted module is never returned as if it were done.
    """
    hits: Counter = Counter()
    why: dict[int, str] = {}
    budget = getattr(ctx, "rewrites", None)
    targets = list(functions) if functions is not None else \
        [f for f in ir.module_ops(module) if f.operation.name == "func.func"]
    for fn in targets:
        for block in _blocks(fn.operation):
            for op in block:
                rule = rules.get(op.name)
                if rule is None:
                    continue
                if budget is not None and not budget.allow(f"{what}: {op.name}", op):
                    why[hash(op)] = "not converted: the rewrite budget (--bisect) ran out"
                    continue
                try:
                    with ir.mlir.InsertionPoint(op), op.location:
                        values = rule(op)
                except Decline as d:
                    why[hash(op)] = str(d)
                    continue
                values = [values] if not isinstance(values, (list, tuple)) else list(values)
                if len(values) != len(op.results):
                    raise HloError(f"{what}: the rule for {op.name} returned {len(values)} values for"
                                   f" {len(op.results)} results at {vals.loc(op)}")
                for old, new in zip(op.results, values):
                    old.replace_all_uses_with(new)
                hits[op.name] += 1
                op.erase()
    leftovers: list[Leftover] = []

    def visit(op):
        name = op.name
        if name.split(".", 1)[0] in illegal and name not in legal:
            reason = why.get(hash(op)) or (f"no rule converts {name}" if name not in rules else "not converted")
            leftovers.append(Leftover(name, vals.loc(op), reason))
            return ir.mlir.WalkResult.SKIP  # its body (a reducer's add) is not a separate problem
        return ir.mlir.WalkResult.ADVANCE

    for fn in targets:
        fn.operation.walk(visit, ir.mlir.WalkOrder.PRE_ORDER)
    if leftovers:
        raise ConversionFailed(what, leftovers)
    if ctx is not None:
        for name, k in hits.items():
            ctx.count(f"converted {name}", k)
    return hits
