"""The differential fold fuzzer: random single ops on constants of every element type fold-constants
claims, folded by the pass and compared bit for bit with XLA CPU running the unfolded module.

A case is one op on constant operands (values drawn from each type's edges: min, max, 0, -1, -0.0,
+-inf, NaN, subnormals, values that saturate or round on conversion, plus random bit patterns). Many
cases share one module (one output each), so one XLA compile checks a hundred folds:
- the module with the operands as constants runs on XLA (which folds them itself, with its evaluator);
- the same ops with the operands as arguments run on XLA (its run-time kernels);
- fold-constants rewrites the constant module; an output that became a constant is a fold, else a decline.
A fold is right when it equals either XLA result bit for bit (transcendental ops, which the folder computes
in f64 and rounds once while XLA uses its own libm, within 1 ulp; any NaN matches any NaN: XLA's folder keeps
NaN payloads, its kernels make them canonical; XLA's folder keeps subnormals its kernels flush; the two
also disagree on TOTALORDER compares). Integer division by zero is never generated (XLA dies of SIGFPE);
XLA runs in a child process, and a batch it cannot compile or run is split until the culprit is alone
(then counted as `xla_failed`, not compared).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.diagnostics import HloError
from hlo_passes.patterns import dtypes as dt

TYPES = list(dt.CLAIMED)
FLOATS = [t for t in TYPES if dt.is_float(dt.CLAIMED[t])]
INTS = [t for t in TYPES if dt.is_int(dt.CLAIMED[t])]


def npd(name: str) -> np.dtype:
    return np.dtype(dt.CLAIMED[name])


def tensor(shape, et: str) -> str:
    return f"tensor<{''.join(f'{n}x' for n in shape)}{et}>"


# ------------------------------------------------------------------------------------------- values

_FLOAT_EDGES = [0.5, 1.5, 2.5, -2.5, 0.49999997, -0.49999997, 3.0, 7.0, 127.5, 128.0, 255.5, 256.0, -129.0,
                -128.5, 32767.5, 32768.0, 65504.0, 65520.0, 2.0 ** 31, -(2.0 ** 31) - 1, 2.0 ** 63, 2.0 ** 64,
                1e30, -1e30, 1e-30, 1e-45, 6e-8, 16777217.0, 240.0, 448.0, 464.0, 57344.0]


def edges(name: str) -> np.ndarray:
    """The values worth trying for a type, as an array of that type."""
    d = npd(name)
    if dt.is_bool(d):
        return np.array([False, True])
    if dt.is_int(d):
        lo, hi = dt.int_range(d)
        picks = {lo, hi, 0, 1, 2, 3, 7, lo + 1, hi - 1, -1, -2, hi // 2, hi // 2 + 1, lo // 2, 100, -100, 127, 128,
                 255, 256, -129, 32767, 32768, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 63 - 1}
        return dt.wrap(np.array([p for p in picks if -(2 ** 63) <= p < 2 ** 63], np.int64), d)
    f = dt.finfo(d)
    special = [0.0, -0.0, 1.0, -1.0, float(f.max), -float(f.max), float(f.tiny), -float(f.tiny),
               float(f.smallest_subnormal), -float(f.smallest_subnormal),
               float(f.tiny) - float(f.smallest_subnormal), np.inf, -np.inf, np.nan, -np.nan]
    with np.errstate(all="ignore"):
        return np.array(special + _FLOAT_EDGES, np.float64).astype(d)


def random_values(rng: np.random.Generator, name: str, n: int) -> np.ndarray:
    """Edges and random bit patterns, mixed."""
    d = npd(name)
    pool = edges(name)
    picked = pool[rng.integers(0, pool.size, n)]
    if dt.is_bool(d):
        return picked
    if dt.is_int(d):
        lo, hi = dt.int_range(d)
        rand = dt.wrap(rng.integers(-(2 ** 63), 2 ** 63 - 1, n, dtype=np.int64, endpoint=True), d)
        small = dt.wrap(rng.integers(-9, 10, n), d)
    else:
        bits = rng.integers(0, 2 ** min(8 * d.itemsize, 63), n, dtype=np.int64).astype(np.uint64)
        rand = bits.astype(np.dtype(f"u{d.itemsize}")).view(d)
        with np.errstate(all="ignore"):
            small = (rng.integers(-16, 17, n) * rng.choice([1.0, 0.5, 0.25], n)).astype(d)
    which = rng.choice([0, 0, 1, 2], n)  # edges half of the time
    return np.where(which == 0, picked, np.where(which == 1, rand, small)).astype(d)


# -------------------------------------------------------------------------------------------- cases


@dataclass
class Case:
    kind: str
    operands: list  # numpy arrays
    types: list  # MLIR element type names of the operands
    result: str  # result type text
    body: str  # the op text with {0}, {1}... for operand names and {r} for the result name
    ulps: int = 0  # 1 for transcendental ops (computed in f64 and rounded once; XLA's libm may differ)

    def describe(self) -> str:
        vals = "; ".join(f"{t}{list(a.shape)}={a.reshape(-1).tolist()}" for a, t in zip(self.operands, self.types))
        return f"{self.kind}: {self.body} on {vals}"


EXACT_UNARY = ["negate", "abs", "sign", "floor", "ceil", "round_nearest_even", "round_nearest_afz", "sqrt"]
INT_BINARY = ["add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "power", "and", "or",
              "xor", "shift_left", "shift_right_arithmetic", "shift_right_logical"]
FLOAT_BINARY = ["add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum"]
TRANSCENDENTAL = ["exponential", "exponential_minus_one", "log", "log_plus_one", "tanh", "sine", "cosine", "tan",
                  "cbrt", "logistic", "rsqrt", "power", "atan2"]


def _elementwise(rng, name: str) -> Case:
    d = npd(name)
    n = int(rng.integers(1, 9))
    shape = (n,)
    t = tensor(shape, name)
    if dt.is_bool(d):
        op = rng.choice(["not", "and", "or", "xor", "maximum", "minimum", "add", "multiply"])
    elif dt.is_int(d):
        op = rng.choice(["negate", "not"] + (["abs", "sign"] if dt.is_signed(d) else []) + INT_BINARY * 2)
    else:
        op = rng.choice(EXACT_UNARY + FLOAT_BINARY * 2 + TRANSCENDENTAL)
    arity = 1 if op in EXACT_UNARY or op == "not" or (op in TRANSCENDENTAL and op not in ("power", "atan2")) else 2
    xs = [random_values(rng, name, n) for _ in range(arity)]
    if op in ("divide", "remainder") and dt.is_int(d):
        xs[1] = np.where(dt.wide(xs[1]) == 0, np.ones_like(xs[1]), xs[1]).astype(d)  # XLA: SIGFPE
    if op.startswith("shift") and rng.random() < 0.7:
        xs[1] = dt.wrap(rng.integers(0, dt.bits(d) + 1, n), d)
    if op == "power" and rng.random() < 0.7:
        xs[1] = dt.wrap(rng.integers(0, 9, n), d)
    args = ", ".join(f"{{{i}}}" for i in range(arity))
    return Case(f"{op}:{name}", xs, [name] * arity, t, f"{{r}} = stablehlo.{op} {args} : {t}",
                ulps=int(op in TRANSCENDENTAL and dt.is_float(d)))


def _compare(rng, name: str) -> Case:
    d = npd(name)
    n = int(rng.integers(1, 9))
    a, b = random_values(rng, name, n), random_values(rng, name, n)
    if rng.random() < 0.3:
        b = a.copy()
    direction = rng.choice(["EQ", "NE", "LT", "LE", "GT", "GE"])
    if dt.is_float(d):
        kind = rng.choice(["FLOAT", "TOTALORDER"])
    elif dt.is_signed(d):
        kind = "SIGNED"
    else:
        kind = "UNSIGNED"
    t = tensor((n,), name)
    return Case(f"compare-{kind}:{name}", [a, b], [name, name], tensor((n,), "i1"),
                f"{{r}} = stablehlo.compare {direction}, {{0}}, {{1}}, {kind} : ({t}, {t}) -> {tensor((n,), 'i1')}")


def _convert(rng, name: str) -> Case:
    n = int(rng.integers(1, 9))
    to = str(rng.choice(TYPES))
    x = random_values(rng, name, n)
    if rng.random() < 0.5 and not dt.is_bool(npd(name)):  # values that are in range more often
        lo, hi = (-100, 100) if not dt.is_int(npd(to)) else dt.int_range(npd(to))
        with np.errstate(all="ignore"):
            f = x.astype(np.float64)
            ok = np.isfinite(f) & (f >= lo) & (f <= hi)
            x = np.where(ok, x, np.zeros_like(x)).astype(x.dtype)
    return Case(f"convert:{name}->{to}", [x], [name], tensor((n,), to),
                f"{{r}} = stablehlo.convert {{0}} : ({tensor((n,), name)}) -> {tensor((n,), to)}")


def _select_clamp(rng, name: str) -> Case:
    n = int(rng.integers(1, 9))
    t = tensor((n,), name)
    if rng.random() < 0.5 or dt.is_bool(npd(name)):
        p = rng.integers(0, 2, n).astype(np.bool_)
        a, b = random_values(rng, name, n), random_values(rng, name, n)
        return Case(f"select:{name}", [p, a, b], ["i1", name, name], t,
                    f'{{r}} = "stablehlo.select"({{0}}, {{1}}, {{2}}) : ({tensor((n,), "i1")}, {t}, {t}) -> {t}')
    lo, x, hi = (random_values(rng, name, n) for _ in range(3))
    return Case(f"clamp:{name}", [lo, x, hi], [name] * 3, t,
                f'{{r}} = "stablehlo.clamp"({{0}}, {{1}}, {{2}}) : ({t}, {t}, {t}) -> {t}')


def _identity(kind: str, name: str):
    d = npd(name)
    if dt.is_bool(d):
        return kind in ("multiply", "minimum", "and")
    if dt.is_float(d):
        return {"add": 0.0, "multiply": 1.0, "maximum": -np.inf, "minimum": np.inf}[kind]
    lo, hi = dt.int_range(d)
    return {"add": 0, "multiply": 1, "maximum": lo, "minimum": hi, "and": -1 if lo else hi, "or": 0}[kind]


def _reduce(rng, name: str) -> Case:
    d = npd(name)
    if dt.is_float(d):
        kinds = ["maximum", "minimum"] + (["add", "multiply"] if dt.has_inf(d) else [])
        if not dt.has_inf(d):
            kinds = ["add", "multiply"]
    elif dt.is_bool(d):
        kinds = ["and", "or"]
    else:
        kinds = ["add", "multiply", "maximum", "minimum", "and", "or"]
    kind = str(rng.choice(kinds))
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 6)))
    x = random_values(rng, name, int(np.prod(shape))).reshape(shape)
    if rng.random() < 0.3:
        x = np.full(shape, x.reshape(-1)[0], d)  # a splat: reduced without expanding
    with np.errstate(all="ignore"):
        init = np.array(_identity(kind, name)).astype(d)
    dims = [[0], [1], [0, 1]][int(rng.integers(0, 3))]
    out = [n for i, n in enumerate(shape) if i not in dims]
    s, t = tensor((), name), tensor(shape, name)
    body = (f'{{r}} = "stablehlo.reduce"({{0}}, {{1}}) ({{{{\n  ^bb0(%a: {s}, %b: {s}):\n'
            f"    %s = stablehlo.{kind} %a, %b : {s}\n    stablehlo.return %s : {s}\n  }}}}) "
            f"{{{{dimensions = array<i64: {', '.join(map(str, dims))}>}}}} : ({t}, {s}) -> {tensor(out, name)}")
    return Case(f"reduce-{kind}:{name}", [x, init], [name, name], tensor(out, name), body)


def _movement(rng, name: str) -> Case:
    d = npd(name)
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)))
    x = random_values(rng, name, int(np.prod(shape))).reshape(shape)
    if rng.random() < 0.4:
        x = np.full(shape, x.reshape(-1)[0], d)
    t = tensor(shape, name)
    what = rng.choice(["transpose", "reverse", "slice", "broadcast", "reshape", "pad"])
    if what == "transpose":
        out = (shape[1], shape[0])
        body = f"{{r}} = stablehlo.transpose {{0}}, dims = [1, 0] : ({t}) -> {tensor(out, name)}"
    elif what == "reverse":
        out = shape
        body = f"{{r}} = stablehlo.reverse {{0}}, dims = [1] : {t}"
    elif what == "slice":
        out = (shape[0], (shape[1] + 1) // 2)
        body = (f'{{r}} = "stablehlo.slice"({{0}}) {{{{start_indices = array<i64: 0, 0>, limit_indices = '
                f"array<i64: {shape[0]}, {shape[1]}>, strides = array<i64: 1, 2>}}}} : ({t}) -> {tensor(out, name)}")
    elif what == "broadcast":
        out = (2, *shape)
        body = f"{{r}} = stablehlo.broadcast_in_dim {{0}}, dims = [1, 2] : ({t}) -> {tensor(out, name)}"
    elif what == "reshape":
        out = (shape[0] * shape[1],)
        body = f"{{r}} = stablehlo.reshape {{0}} : ({t}) -> {tensor(out, name)}"
    else:
        value = x.reshape(-1)[:1].reshape(()) if rng.random() < 0.5 else random_values(rng, name, 1).reshape(())
        out = (shape[0] + 1, shape[1] + 2)
        return Case(f"pad:{name}", [x, value], [name, name], tensor(out, name),
                    f"{{r}} = stablehlo.pad {{0}}, {{1}}, low = [1, 0], high = [0, 2], interior = [0, 0] : "
                    f"({t}, {tensor((), name)}) -> {tensor(out, name)}")
    return Case(f"{what}:{name}", [x], [name], tensor(out, name), body)


def _reduce_window(rng, name: str) -> Case:
    d = npd(name)
    case = _reduce(rng, name)  # the same bodies and inits
    kind = case.kind.split(":")[0].split("-", 1)[1]
    x, init = case.operands
    window = [int(rng.integers(1, n + 1)) for n in x.shape]
    strides = [int(rng.integers(1, 3)) for _ in x.shape]
    pads = [[int(rng.integers(0, 2)), int(rng.integers(0, 2))] for _ in x.shape]
    out = [(n + lo + hi - w) // s + 1 for n, w, s, (lo, hi) in zip(x.shape, window, strides, pads)]
    s_, t = tensor((), name), tensor(x.shape, name)
    padding = f"dense<[{', '.join(f'[{lo}, {hi}]' for lo, hi in pads)}]> : tensor<{len(pads)}x2xi64>"
    body = (f'{{r}} = "stablehlo.reduce_window"({{0}}, {{1}}) ({{{{\n  ^bb0(%a: {s_}, %b: {s_}):\n'
            f"    %s = stablehlo.{kind} %a, %b : {s_}\n    stablehlo.return %s : {s_}\n  }}}}) "
            f"{{{{window_dimensions = array<i64: {', '.join(map(str, window))}>, window_strides = "
            f"array<i64: {', '.join(map(str, strides))}>, padding = {padding}}}}} : ({t}, {s_}) -> {tensor(out, name)}")
    del d
    return Case(f"reduce_window-{kind}:{name}", [x, init], [name, name], tensor(out, name), body)


def _gather_like(rng, name: str) -> Case:
    """concatenate, dynamic_slice (clamped start indices), iota-free data movement with index operands."""
    n = int(rng.integers(1, 6))
    x, y = random_values(rng, name, n), random_values(rng, name, int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        if rng.random() < 0.5:
            y = np.full(y.shape, x[0], x.dtype)
            x = np.full(x.shape, x[0], x.dtype)  # equal splats: a splat
        out = tensor((x.size + y.size,), name)
        return Case(f"concatenate:{name}", [x, y], [name, name], out,
                    f"{{r}} = stablehlo.concatenate {{0}}, {{1}}, dim = 0 : ({tensor(x.shape, name)}, "
                    f"{tensor(y.shape, name)}) -> {out}")
    size = int(rng.integers(1, n + 1))
    start = np.array(int(rng.integers(-2, n + 2)), np.int32)
    return Case(f"dynamic_slice:{name}", [x, start], [name, "i32"], tensor((size,), name),
                f"{{r}} = stablehlo.dynamic_slice {{0}}, {{1}}, sizes = [{size}] : ({tensor(x.shape, name)}, "
                f"tensor<i32>) -> {tensor((size,), name)}")


def _dot(rng, name: str) -> Case:
    m, k, n = (int(rng.integers(1, 4)) for _ in range(3))
    a = random_values(rng, name, m * k).reshape(m, k)
    b = random_values(rng, name, k * n).reshape(k, n)
    out = tensor((m, n), name)
    return Case(f"dot:{name}", [a, b], [name, name], out,
                f'{{r}} = "stablehlo.dot_general"({{0}}, {{1}}) {{{{dot_dimension_numbers = #stablehlo.dot<'
                f"lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>}}}} : "
                f"({tensor((m, k), name)}, {tensor((k, n), name)}) -> {out}")


GENERATORS = [(_elementwise, 6), (_compare, 2), (_convert, 4), (_select_clamp, 1), (_reduce, 2),
              (_reduce_window, 1), (_movement, 2), (_gather_like, 1), (_dot, 1)]
_MENU = [g for g, w in GENERATORS for _ in range(w)]


def random_case(rng: np.random.Generator, name: str | None = None) -> Case:
    name = name or str(rng.choice(TYPES))
    gen = _MENU[int(rng.integers(0, len(_MENU)))]
    if gen is _dot and dt.is_bool(npd(name)):
        gen = _elementwise  # bool dots are not folded
    return gen(rng, name)


# ------------------------------------------------------------------------------------------ running

_CTX = None


def literal(array: np.ndarray, name: str) -> str:
    """`dense<...> : tensor<...>` holding `array` bit for bit (built by ir.from_numpy, then printed)."""
    global _CTX
    if _CTX is None:
        _CTX = ir.make_context()
    with _CTX, ir.mlir.Location.unknown():
        ttype = ir.mlir.RankedTensorType.get(list(array.shape), ir.mlir.Type.parse(name))
        return str(ir.from_numpy(array.copy(), type=ttype))


def module_texts(cases: list[Case]) -> tuple[str, str, list]:
    """(module with constant operands, module with the operands as arguments, the argument arrays)."""
    consts, ops, args, inputs, results = [], [], [], [], []
    for i, c in enumerate(cases):
        names = [f"%c{i}_{j}" for j in range(len(c.operands))]
        for nm, x, t in zip(names, c.operands, c.types):
            consts.append(f"{nm} = stablehlo.constant {literal(x, t)}")
        ops.append((c.body, names, f"%r{i}"))
        results.append(c.result)
        for j, (x, t) in enumerate(zip(c.operands, c.types)):
            args.append(f"%a{i}_{j}: {tensor(x.shape, t)}")
            inputs.append(x)
    rets = ", ".join(f"%r{i}" for i in range(len(cases)))
    rtypes = ", ".join(results)

    def body(prefix):
        lines = []
        for text, names, r in ops:
            operands = [n.replace("%c", prefix) for n in names]
            lines.append(text.format(*operands, r=r))
        return "\n  ".join(lines)

    const_text = (f"func.func @main() -> ({rtypes}) {{\n  " + "\n  ".join(consts) + "\n  " + body("%c") +
                  f"\n  return {rets} : {rtypes}\n}}\n")
    arg_text = (f"func.func @main({', '.join(args)}) -> ({rtypes}) {{\n  " + body("%a") +
                f"\n  return {rets} : {rtypes}\n}}\n")
    return const_text, arg_text, inputs


def _ordered(x: np.ndarray) -> np.ndarray:
    """Float bits as integers in value order (adjacent floats differ by 1; -0.0 and +0.0 are 0 and -0)."""
    n = 8 * x.dtype.itemsize
    bits = x.view(np.dtype(f"u{x.dtype.itemsize}")).astype(np.uint64)
    magnitude = (bits & np.uint64((1 << (n - 1)) - 1)).astype(np.int64)
    return np.where((bits >> np.uint64(n - 1)) != 0, -magnitude, magnitude)


def same(x: np.ndarray, y: np.ndarray, ulps: int = 0) -> bool:
    """Equal bits (within `ulps` for floats when given), or both NaN, element by element."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if dt.is_float(x.dtype):
        u = np.dtype(f"u{x.dtype.itemsize}")
        with np.errstate(invalid="ignore"):
            xf, yf = x.astype(np.float64), y.astype(np.float64)
        nan = np.isnan(xf) & np.isnan(yf)
        ok = x.view(u) == y.view(u)
        if ulps:
            ok |= ~np.isnan(xf) & ~np.isnan(yf) & (np.abs(_ordered(x) - _ordered(y)) <= ulps)
        return bool((nan | ok).all())
    if dt.is_int(x.dtype):
        return bool((dt.as_unsigned(x) == dt.as_unsigned(y)).all())
    return bool((x == y).all())


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)  # descriptions of crashes and wrong folds
    kinds: Counter = field(default_factory=Counter)  # folds per case kind

    def line(self) -> str:
        c = self.counts
        return (f"cases tried: {c['tried']}, folded: {c['folded']} (bit-exact: {c['folded'] - c['loose']}, "
                f"transcendental within 1 ulp: {c['loose']}), declines: {c['declined']}, crashes: "
                f"{c['crashes']}, wrong folds: {c['wrong']}, XLA failed (not compared): {c['xla_failed']}")


def _folded_values(cases: list[Case], const_text: str):
    """The pass's result per output: a numpy array (folded) or None (declined)."""
    out = hp.run(ir.parse(const_text), "fold-constants")
    out.verify()
    func = ir.module_ops(out)[0]
    ret = list(func.regions[0].blocks[0].operations)[-1]
    values = []
    for v in ret.operands:
        owner = v.owner
        op = getattr(owner, "operation", owner)
        values.append(ir.to_numpy(op.attributes["value"]) if op.name == "stablehlo.constant" else None)
    return values


def run_batch(cases: list[Case], tally: Tally) -> None:
    """Fold and check `cases`; a batch the pass or XLA fails on is split until the culprit is alone."""
    const_text, arg_text, inputs = module_texts(cases)
    try:
        folded = _folded_values(cases, const_text)
    except Exception as e:  # noqa: BLE001 -- any exception from the pass is a crash to report
        if len(cases) > 1:
            half = len(cases) // 2
            run_batch(cases[:half], tally), run_batch(cases[half:], tally)
            return
        tally.counts["tried"] += 1
        tally.counts["crashes"] += 1
        tally.failures.append(f"CRASH {type(e).__name__}: {str(e).splitlines()[0]}\n  {cases[0].describe()}")
        return
    try:
        by_folder = numerics.execute(ir.parse(const_text), [])
    except HloError as e:
        if len(cases) > 1:
            half = len(cases) // 2
            run_batch(cases[:half], tally), run_batch(cases[half:], tally)
            return
        tally.counts["tried"] += 1
        tally.counts["xla_failed"] += 1
        tally.failures.append(f"(XLA failed, not compared: {e.message.splitlines()[0]})\n  {cases[0].describe()}")
        return
    suspects = []
    for case, got, want in zip(cases, folded, by_folder):
        tally.counts["tried"] += 1
        if got is None:
            tally.counts["declined"] += 1
            continue
        tally.counts["folded"] += 1
        tally.counts["loose"] += case.ulps > 0
        tally.kinds[case.kind.split(":")[0]] += 1
        if not same(got, want, case.ulps):
            suspects.append((case, got, want))
    if suspects:  # XLA's kernels may be the ones that agree (TOTALORDER, flushed subnormals)
        _, arg_text, inputs = module_texts([s[0] for s in suspects])
        try:
            by_kernels = numerics.execute(ir.parse(arg_text), inputs)
        except HloError:
            by_kernels = [None] * len(suspects)
        for (case, got, want), other in zip(suspects, by_kernels):
            if other is None or not same(got, other, case.ulps):
                tally.counts["wrong"] += 1
                shown = "failed" if other is None else other.reshape(-1).tolist()
                tally.failures.append(f"WRONG: folded {got.reshape(-1).tolist()}, XLA folder "
                                      f"{want.reshape(-1).tolist()}, XLA kernels {shown}\n  {case.describe()}")


def campaign(n: int, seed: int = 0, batch: int = 150, types=None, progress=None) -> Tally:
    """`n` random cases over `types` (default: every claimed type, in turn), `batch` per XLA compile."""
    rng = np.random.default_rng(seed)
    types = list(types or TYPES)
    tally = Tally()
    done = 0
    while done < n:
        size = min(batch, n - done)
        cases = [random_case(rng, types[(done + i) % len(types)]) for i in range(size)]
        run_batch(cases, tally)
        done += size
        if progress:
            progress(tally)
    return tally
