"""Op-tree templates and the matcher behind every pattern.

A template describes the values feeding a root op, by op class rather than by string:

    Op(stablehlo.AddOp, V("x"), Const(value=0))          # x + 0, either operand order (add commutes)
    Op(stablehlo.DivOp, V("x"), Alt(Const("d"), Op(stablehlo.SqrtOp, V("v"))))
    Opt(stablehlo.ConvertOp, V("x"))                      # x, or convert(x)

Matching never mutates anything. It is a backtracking search (commutative operands and alternatives try
each way), and when it fails it says why: the deepest point it reached, with the op's location, which is
what `--debug-patterns` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from ..diagnostics import Decline
from ..ir import mlir
from . import values as vals

Bindings = dict  # capture name -> mlir.Value


class Trace:
    """The deepest failure seen while matching: the explanation of a near-miss. At equal depth a failed
    constraint on the right kind of op ("constant is not all 0") explains more than a wrong kind."""

    __slots__ = ("rank", "reason", "explain")

    def __init__(self, explain: bool = True):
        self.rank, self.reason, self.explain = -1, "no candidate", explain

    def fail(self, depth: int, reason: Callable[[], str], constraint: bool = False) -> None:
        """`reason` is a thunk: formatting locations costs more than matching, so only when explaining."""
        if not self.explain:
            return
        rank = 2 * depth + constraint
        if rank > self.rank:
            self.rank, self.reason = rank, reason()


class Template:
    """Base: `match(value, binds, trace, depth)` yields extended bindings, once per way of matching."""

    def match(self, value, binds: Bindings, trace: Trace, depth: int) -> Iterator[Bindings]:
        raise NotImplementedError

    def root_names(self) -> tuple[str, ...]:
        raise TypeError(f"{self!r} cannot be the root of a pattern: use Op(...)")

    def producers(self) -> frozenset | None:
        """The op names that may define a value this template matches, or None for "anything" (block
        arguments included). Only a necessary condition: the driver's quick rejection (`Op.quick_check`)
        reads it, the matcher does not."""
        return None

    def op_check(self) -> Callable[[Any], bool] | None:
        """A necessary condition on the op defining a matched value beyond its name (see `Op.op_check`);
        None: none."""
        return None

    def shallow(self) -> bool:
        """Looks no further than the op defining the value (and values' types): then, as an operand
        template, whatever the match depends on is something MLIR's driver re-queues the root for when it
        changes (see `Op.local_root`)."""
        return False


def _bind(name: str | None, value, binds: Bindings, trace: Trace, depth: int, what: str) -> Bindings | None:
    if name is None:
        return binds
    if name in binds:
        if binds[name] == value:
            return binds
        trace.fail(depth, lambda: f"{what}: '{name}' must be the same value at every place it appears")
        return None
    out = dict(binds)
    out[name] = value
    return out


@dataclass(frozen=True)
class V(Template):
    """Any value, captured as `name`; a name used twice must be the same SSA value."""

    name: str | None = None
    where: Callable[[Any], bool] | None = None  # value -> bool

    def match(self, value, binds, trace, depth):
        if self.where is not None and not self.where(value):
            trace.fail(depth, lambda: f"value {self.name or ''} does not satisfy {_fn_name(self.where)}", True)
            return
        out = _bind(self.name, value, binds, trace, depth, "value")
        if out is not None:
            yield out

    def shallow(self) -> bool:
        return True


@dataclass(frozen=True)
class Const(Template):
    """A value defined by a constant op (stablehlo.constant or arith.constant).

    `value=` requires every element to equal that scalar (checked without materializing splats and only
    for small non-splat constants); `where=` takes the numpy array.
    """

    name: str | None = None
    value: float | int | bool | None = None
    where: Callable[[np.ndarray], bool] | None = None

    def producers(self):
        return _CONSTANTS

    def shallow(self) -> bool:
        return True

    def match(self, value, binds, trace, depth):
        op = vals.defining_op(value)
        attr = vals.constant_attr(op) if op is not None else None
        if attr is None:
            trace.fail(depth, lambda: f"expected a constant, got {_describe(value)}")
            return
        if self.value is not None and not vals.all_equal(attr, self.value):
            trace.fail(depth, lambda: f"constant at {vals.loc(op)} is not all {self.value}", True)
            return
        if self.where is not None and not self.where(vals.constant_array(attr)):
            trace.fail(depth, lambda: f"constant at {vals.loc(op)} does not satisfy {_fn_name(self.where)}", True)
            return
        out = _bind(self.name, value, binds, trace, depth, "constant")
        if out is not None:
            yield out


_CONSTANTS = frozenset(vals.CONSTANT_OPS)

COMMUTATIVE = {"stablehlo.add", "stablehlo.multiply", "stablehlo.maximum", "stablehlo.minimum",
               "stablehlo.and", "stablehlo.or", "stablehlo.xor"}


def _op_name(cls) -> str:
    return cls if isinstance(cls, str) else cls.OPERATION_NAME


@dataclass(frozen=True)
class Op(Template):
    """A value produced by an op of class `cls` (or one of a tuple of classes), with operand templates.

    With no operand templates the operands are not looked at; a trailing `...` matches a prefix. `where`
    gets the op; `attrs` maps an attribute name to a python value (compared with `values.attr_value`) or a
    predicate on it.
    `commutative` defaults to True for add/multiply/maximum/minimum/and/or/xor with two operands.
    """

    cls: Any
    operands: tuple = ()
    name: str | None = None
    where: Callable[[Any], bool] | None = None
    attrs: dict = field(default_factory=dict)
    commutative: bool | None = None
    one_use: bool = False  # the value must have no other user (so replacing its consumer frees it)

    def __init__(self, cls, *operands, name=None, where=None, attrs=None, commutative=None, one_use=False):
        object.__setattr__(self, "cls", cls)
        object.__setattr__(self, "operands", tuple(operands))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "where", where)
        object.__setattr__(self, "attrs", dict(attrs or {}))
        object.__setattr__(self, "commutative", commutative)
        object.__setattr__(self, "one_use", one_use)
        classes = cls if isinstance(cls, tuple) else (cls,)
        object.__setattr__(self, "_names", tuple(_op_name(c) for c in classes))  # asked at every match
        plain = [t for t in self.operands if t is not Ellipsis]
        object.__setattr__(self, "_leaves", all(type(t) is V and t.where is None for t in plain))  # plain captures
        names = [t.name for t in plain if type(t) is V and t.name is not None] + ([name] if name is not None else [])
        # `Op(cls, V("x"), ...)` with nothing to check but the op's name and arity: bound in one step
        swaps = (commutative if commutative is not None else any(n in COMMUTATIVE for n in self._names)) \
            and len(plain) == 2  # (the matcher would try the other order too)
        flat = type(self) is Op and self._leaves and not self.attrs and where is None and not one_use
        object.__setattr__(self, "_flat", flat and len(set(names)) == len(names) and len(plain) == len(self.operands)
                           and not swaps)

    def __hash__(self):
        return id(self)

    def root_names(self):
        return self._names

    def producers(self):
        return frozenset(self._names)

    def shallow(self) -> bool:
        # (its own use count is a sibling's business: a user that goes away re-queues this op, not the root)
        return not self.one_use and all(t is Ellipsis or type(t) is V for t in self.operands)

    def local_root(self) -> bool:
        """As a pattern's root: its operand templates are all `shallow`. A match then depends on the root,
        its own users and the ops defining its operands, and MLIR's driver re-queues the root whenever one
        of those changes (a replaced producer, a replaced operand, a user erased): one sweep leaves no such
        match behind, whatever the order of rewrites. A `one_use` below the root, or an op two levels up,
        can change without the root being visited again."""
        return all(t is Ellipsis or t.shallow() for t in self.operands)

    def quick_check(self) -> Callable[[Producers], bool] | None:
        """A necessary condition for matching, from `producers` (the name of each operand's defining op,
        None for a block argument; see `Producers`): False when an operand's producer is of a kind its
        template never accepts, or when an operand template is an op whose own operands' producers are
        of the wrong kind (two levels: a LayerNorm's `(x - mean) * rsqrt(...)` turns down an RMSNorm's
        `x * rsqrt(...)` at once). None when the template constrains nothing at the first level. Most
        candidate roots fail here for the cost of a few set lookups instead of the matcher's generators
        (the greedy driver asks every op of the module, twice per fixpoint)."""
        return self._quick(deep=True)

    def op_check(self) -> Callable[[Any], bool] | None:
        """A necessary condition on the op defining a value this template matches, beyond its name
        (`producers`): its own operands' producers (`quick_check` one level down). None: nothing beyond
        the name."""
        inner = self._quick(deep=False)
        if inner is None:
            return None
        names = self._names
        return lambda op: op.name in names and inner(Producers(op))

    def _quick(self, deep: bool):
        templates = self.operands
        prefix = bool(templates) and templates[-1] is Ellipsis
        if prefix:
            templates = templates[:-1]
        if not templates:  # `Op(cls)` or `Op(cls, ...)`: the operands are not looked at
            return None
        count = len(templates)
        checks = tuple((i, t.producers()) for i, t in enumerate(templates) if t.producers() is not None)
        below = tuple((i, c) for i, t in enumerate(templates) if deep and (c := t.op_check()) is not None)
        commutes = self.commutative if self.commutative is not None else any(n in COMMUTATIVE for n in self._names)
        swapped = tuple((1 - i, s) for i, s in checks) if commutes and count == 2 else None
        swapped_below = tuple((1 - i, c) for i, c in below) if swapped is not None else ()

        def quick(producers: Producers) -> bool:
            if len(producers) != count and (not prefix or len(producers) < count):
                return False
            for i, names in checks:
                if producers[i] not in names:
                    break
            else:
                for i, check in below:
                    if not check(producers.op(i)):
                        break
                else:
                    return True
            if swapped is None:  # (with a trailing `...` the matcher swaps the first two as well)
                return False
            for i, names in swapped:
                if producers[i] not in names:
                    return False
            for i, check in swapped_below:
                if not check(producers.op(i)):
                    return False
            return True

        return quick

    def match(self, value, binds, trace, depth):
        op = vals.defining_op(value)
        names = self.root_names()
        if op is None or op.name not in names:
            trace.fail(depth, lambda: f"expected {' or '.join(names)}, got {_describe(value)}")
            return
        if self.one_use and not vals.has_one_use(value):
            trace.fail(depth, lambda: f"{op.name} at {vals.loc(op)} has other users", True)
            return
        yield from self.match_op(op, binds, trace, depth, value)

    def match_op(self, op, binds, trace, depth, value=None):
        for key, want in self.attrs.items():
            if key not in op.attributes:
                trace.fail(depth, lambda: f"{op.name} at {vals.loc(op)} has no attribute {key}")
                return
            got = vals.attr_value(op.attributes[key])
            ok = want(got) if callable(want) else got == want
            if not ok:
                trace.fail(depth, lambda: f"{op.name} at {vals.loc(op)}: {key} is {got}, expected "
                                  f"{_fn_name(want) if callable(want) else want}", True)
                return
        if self.where is not None and not self.where(op):
            trace.fail(depth, lambda: f"{op.name} at {vals.loc(op)} does not satisfy {_fn_name(self.where)}", True)
            return
        if value is not None:
            binds = _bind(self.name, value, binds, trace, depth, op.name)
            if binds is None:
                return
        elif self.name is not None:
            binds = _bind(self.name, op.results[0], binds, trace, depth, op.name)
        if not self.operands:
            yield binds
            return
        operands = list(op.operands)
        templates = self.operands
        if templates[-1] is Ellipsis:  # `Op(cls, a, b, ...)`: a prefix; the rest are not looked at
            templates = templates[:-1]
            operands = operands[:len(templates)]
        if len(operands) != len(templates):
            trace.fail(depth, lambda: f"{op.name} at {vals.loc(op)} has {len(operands)} operands, template has "
                              f"{len(self.operands)}")
            return
        orders = [operands]
        commutes = self.commutative if self.commutative is not None else op.name in COMMUTATIVE
        if commutes and len(operands) == 2:
            orders.append(operands[::-1])
        for order in orders:
            if self._leaves:  # (plain captures: bound here, without a generator per operand)
                b = binds
                for i, (t, v) in enumerate(zip(templates, order)):
                    b = _bind(t.name, v, b, trace, depth + 1 + i, "value")
                    if b is None:
                        break
                else:
                    yield b
                continue
            yield from _match_all(templates, order, binds, trace, depth + 1, op)


class Producers:
    """The name of the op defining each operand of `op` (None for a block argument), each worked out when
    first asked: getting an operand's owner is most of a quick check's cost, and most checks fail on the
    first operand they look at. `op(i)`: that op itself (None for a block argument)."""

    __slots__ = ("operands", "names", "owners")
    _UNSEEN = object()

    def __init__(self, op):
        self.operands = op.operands
        self.names = [Producers._UNSEEN] * len(self.operands)
        self.owners = [None] * len(self.operands)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> str | None:
        name = self.names[i]
        if name is Producers._UNSEEN:
            owner = self.operands[i].owner
            if isinstance(owner, mlir.Block):
                name = self.names[i] = None
            else:
                owner = self.owners[i] = owner.operation  # (an OpView's `name` may be an attribute's)
                name = self.names[i] = owner.name
        return name

    def op(self, i: int):
        return self.owners[i] if self[i] is not None else None

    def __iter__(self):
        return (self[i] for i in range(len(self.names)))


def _match_flat(template: Op, op, where) -> tuple[Match | None, str]:
    """`match_root` for a flat template (see `Op._flat`), not explaining: the same verdict, no generators."""
    operands = op.operands
    if template.operands and len(operands) != len(template.operands):
        return None, ""
    binds = {t.name: v for t, v in zip(template.operands, operands) if t.name is not None}
    if template.name is not None:
        binds[template.name] = op.results[0]
    m = Match(op, binds)
    if where is None:
        return m, ""
    try:
        verdict = where(m)
    except Decline:
        return None, ""
    return (m, "") if verdict is True or (verdict and not isinstance(verdict, str)) else (None, "")


def _match_all(templates, operands, binds, trace, depth, op) -> Iterator[Bindings]:
    if not templates:
        yield binds
        return
    for b in templates[0].match(operands[0], binds, trace, depth):
        yield from _match_all(templates[1:], operands[1:], b, trace, depth + 1, op)


@dataclass(frozen=True)
class Alt(Template):
    """The first of several templates that matches (each is tried, with backtracking)."""

    options: tuple

    def __init__(self, *options):
        object.__setattr__(self, "options", tuple(options))

    def match(self, value, binds, trace, depth):
        for option in self.options:
            yield from option.match(value, binds, trace, depth)

    def root_names(self):
        return tuple(n for o in self.options for n in o.root_names())

    def producers(self):
        sets = [o.producers() for o in self.options]
        return None if any(x is None for x in sets) else frozenset().union(*sets)

    def op_check(self):
        names = [o.producers() for o in self.options]
        checks = [o.op_check() for o in self.options]
        if any(n is None for n in names) or all(c is None for c in checks):
            return None
        pairs = tuple(zip(names, checks))
        return lambda op: any(op.name in n and (c is None or c(op)) for n, c in pairs)

    def shallow(self) -> bool:
        return all(o.shallow() for o in self.options)


def Opt(cls, inner: Template, **kw) -> Template:  # noqa: N802 -- reads as a template constructor
    """`inner`, optionally wrapped in an op of class `cls`: `Opt(ConvertOp, V("x"))`."""
    return Alt(Op(cls, inner, **kw), inner)


def _fn_name(fn) -> str:
    return getattr(fn, "__name__", repr(fn))


def _describe(value) -> str:
    op = vals.defining_op(value)
    if op is None:
        return f"block argument of type {value.type}"
    return f"{op.name} at {vals.loc(op)}"


@dataclass
class Match:
    """What a rewrite receives: captures by name (`m["x"]`), the root op, and helpers."""

    root: Any
    binds: Bindings
    memo: dict = field(default_factory=dict)  # what `where` worked out, for the rewrite to reuse

    def __getitem__(self, name: str):
        return self.binds[name]

    def __contains__(self, name: str) -> bool:
        return name in self.binds

    def op(self, name: str):
        """The op that defines capture `name`."""
        return vals.defining_op(self.binds[name])

    def const(self, name: str) -> np.ndarray:
        """The numpy value of a captured constant."""
        return vals.constant_array(vals.constant_attr(vals.defining_op(self.binds[name])))

    def scalar(self, name: str):
        """The single value of a splat constant capture, as a python number."""
        return vals.splat_scalar(vals.constant_attr(vals.defining_op(self.binds[name])))

    def type(self, name: str | None = None):
        return (self.binds[name] if name else self.root.results[0]).type


def match_root(template: Op, op, where: Callable[[Match], Any] | None = None,
               explain: bool = True) -> tuple[Match | None, str]:
    """Match `template` at `op`. Returns (match, "") or (None, reason); without `explain` the reason is
    not worked out (the driver's fast path)."""
    if template._flat and not explain:  # (the generators below cost more than such a match itself)
        return _match_flat(template, op, where)
    trace = Trace(explain)
    for binds in template.match_op(op, {}, trace, 0):
        m = Match(op, binds)
        if where is None:
            return m, ""
        try:
            verdict = where(m)
        except Decline as refusal:  # the same as returning the reason
            verdict = str(refusal) or f"condition {_fn_name(where)} declined"
        if verdict is True or (verdict and not isinstance(verdict, str)):
            return m, ""
        trace.fail(10**6, lambda: verdict if isinstance(verdict, str) else f"condition {_fn_name(where)} is false")
    return None, trace.reason

