"""Random StableHLO programs for the fold-constants/simplify property tests
(tests/test_fold_simplify_hypothesis.py): the element types, constant values and the op-by-op builder.

`Builder` emits a straight-line function body one random op at a time, every choice drawn through
hypothesis; this module has its helpers, elementwise ops and data movement, fold_programs_ops.py the
reductions, dot, gather, the shapes simplify looks for and `programs()` itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

# ------------------------------------------------------------------------------------------ types

NP = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16, "f64": np.float64, "i32": np.int32,
      "i64": np.int64, "ui8": np.uint8, "i1": np.bool_}
FLOATS = ("f32", "f16", "bf16")
INTS = ("i32", "i64", "ui8")
DTYPES = FLOATS + INTS + ("i1",)
BITS = {"f32": 32, "f16": 16, "bf16": 16, "f64": 64, "i32": 32, "i64": 64, "ui8": 8, "i1": 1}


def is_float(dt: str) -> bool:
    return dt in FLOATS or dt == "f64"


def tensor(shape, dt: str) -> str:
    return f"tensor<{''.join(f'{n}x' for n in shape)}{dt}>"


def i64s(xs) -> str:
    return f"array<i64{': ' if len(xs) else ''}{', '.join(map(str, xs))}>"


def brackets(xs) -> str:
    return f"[{', '.join(map(str, xs))}]"


def literal(array: np.ndarray, dt: str) -> str:
    """dense<...> text of `array`, bit-exact (floats that do not print exactly go as their bits)."""
    def one(x):
        if dt == "i1":
            return "true" if x else "false"
        if not is_float(dt):
            return str(int(x))
        f = float(x)
        if math.isfinite(f) and f == int(f) and abs(f) < 1e6 and not (f == 0 and math.copysign(1, f) < 0):
            return f"{int(f)}.0"
        bits = np.asarray(x).view(np.dtype(f"u{BITS[dt] // 8}"))
        return f"0x{int(bits):0{BITS[dt] // 4}X}"

    def nest(a):
        return one(a) if a.ndim == 0 else "[" + ", ".join(nest(s) for s in a) + "]"

    if array.size == 0:
        return "dense<>"
    if (array.reshape(-1).view(np.uint8).reshape(array.size, -1) == array.reshape(-1)[:1]
                       .view(np.uint8)).all():
        return f"dense<{one(array.reshape(-1)[0])}>"  # a splat
    return f"dense<{nest(array)}>"


# zeros of both signs, infinities, NaN, huge, tiny, f16's subnormal, out of int ranges, rounding ties and the
# float just below 0.5 (which floor(x + 0.5) rounds the wrong way), an odd f32 integer above 2**23
FLOAT_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -1.5, 2.5, 2.0, np.inf, -np.inf, np.nan, 1e30, -3e38, 1e-30, 6e-8,
                  65504.0, 70000.0, 3.0e9, -2.5e9, 255.5, 128.0, -129.0, 0.49999997, -0.49999997, 8388609.0]


def constant_values(rng: np.random.Generator, shape, dt: str, flavor: str, nonzero: bool = False) -> np.ndarray:
    n = int(np.prod(shape))
    if dt == "i1":
        flat = rng.integers(0, 2, n).astype(np.bool_)
    elif is_float(dt):
        if flavor == "normal":
            flat = rng.standard_normal(n) * rng.choice([1.0, 4.0, 100.0])
        elif flavor == "small":
            flat = rng.integers(-4, 5, n).astype(np.float64) * rng.choice([1.0, 0.5])
        else:
            flat = rng.choice(np.array(FLOAT_SPECIALS), n)
        with np.errstate(over="ignore"):
            flat = flat.astype(NP[dt])
        if nonzero:
            flat[flat == 0] = 1
    else:
        info = np.iinfo(NP[dt])
        if flavor == "normal":  # the whole range
            flat = rng.integers(info.min, info.max, n, dtype=np.int64, endpoint=True)
        elif flavor == "small":
            flat = rng.integers(max(info.min, -4), 9, n)
        else:  # edges, and integers that f32 rounds onto a bf16 tie (bf16 must round them once)
            tie = {"i32": 2**30 + 2**22 + 1, "i64": 2**60 + 2**52 + 1}.get(dt, 129)
            flat = rng.choice(np.array([info.min, info.max, 0, 1, -1 if info.min else 2, 2, 7, info.max - 1,
                                        info.min + 1, tie, -tie if info.min else tie],
                                       dtype=np.int64 if dt != "ui8" else np.uint64), n)
        flat = flat.astype(NP[dt])
        if nonzero:
            flat[flat == 0] = 1
    return flat.reshape(shape)


# ------------------------------------------------------------------------------------ the builder


@dataclass
class Val:
    name: str
    shape: tuple
    dt: str
    const: bool  # computed from constants only: fold-constants may replace it
    loose: bool = False  # may legitimately be 1 ulp off after folding (see the module docstring)
    op: str = ""  # what made it


@dataclass
class BuilderBase:
    """Emits a straight-line function body one random op at a time (every draw goes through hypothesis)."""

    draw: object
    lines: list = field(default_factory=list)
    args: list = field(default_factory=list)
    values: list = field(default_factory=list)
    used: set = field(default_factory=set)
    n: int = 0
    p_arg: float = 0.3  # how often a new leaf is an argument rather than a constant

    def __post_init__(self):
        self.p_arg = self.draw(st.sampled_from([0.05, 0.2, 0.4]))

    # ------------------------------------------------------------------ helpers

    def fresh(self, prefix="v") -> str:
        self.n += 1
        return f"%{prefix}{self.n}"

    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def flip(self, p: float = 0.5) -> bool:
        return self.draw(st.integers(0, 999)) < p * 1000

    def int_in(self, lo, hi) -> int:
        return self.draw(st.integers(lo, hi))

    def shape(self, min_rank=0, max_rank=3, zero=True) -> tuple:
        rank = self.int_in(min_rank, max_rank)
        dims = [self.int_in(1, 4) for _ in range(rank)]
        if zero and rank and self.flip(0.04):
            dims[self.int_in(0, rank - 1)] = 0
        return tuple(dims)

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def result(self, shape, dt, operands, *, loose=False, op="") -> Val:
        """A new value computed from `operands`; constness and looseness propagate."""
        for v in operands:
            self.used.add(v.name)
        v = Val(self.fresh(), tuple(shape), dt, all(o.const for o in operands),
                loose or any(o.loose for o in operands), op)
        self.values.append(v)
        return v

    def constant(self, shape, dt, *, flavor=None, nonzero=False, values=None) -> Val:
        if values is None:
            flavor = flavor or self.pick(["normal", "small", "special"])
            rng = np.random.default_rng(self.int_in(0, 2**32 - 1))
            if self.flip(0.3):  # a splat
                values = np.full(shape, constant_values(rng, (1,), dt, flavor, nonzero)[0], NP[dt])
            else:
                values = constant_values(rng, shape, dt, flavor, nonzero)
        v = Val(self.fresh("c"), tuple(shape), dt, True)
        self.emit(f"{v.name} = stablehlo.constant {literal(np.asarray(values, NP[dt]), dt)} : {tensor(shape, dt)}")
        return v

    def splat(self, value, shape, dt) -> Val:
        return self.constant(shape, dt, values=np.full(shape, value, NP[dt]))

    def arg(self, shape, dt) -> Val:
        v = Val(f"%arg{len(self.args)}", tuple(shape), dt, False)
        self.args.append(v)
        return v

    def leaf(self, shape, dt) -> Val:
        return self.arg(shape, dt) if self.flip(self.p_arg) else self.constant(shape, dt)

    def operand(self, shape=None, dt=None, *, loose_ok=False, min_rank=0, max_rank=3, empty_ok=True,
                p_new=0.35) -> Val:
        """An existing value of that shape/dtype/rank (any, when None), else a new constant or argument."""
        dts = None if dt is None else (dt,) if isinstance(dt, str) else tuple(dt)
        pool = [v for v in self.values + self.args
                if (shape is None or v.shape == tuple(shape)) and (dts is None or v.dt in dts)
                and (loose_ok or not v.loose) and min_rank <= len(v.shape) <= max_rank
                and (empty_ok or 0 not in v.shape)]
        if pool and not self.flip(p_new):
            consts = [v for v in pool if v.const]
            return self.pick(consts if consts and not self.flip(self.p_arg) else pool)
        if shape is None:
            shape = self.shape(min_rank, max_rank, zero=empty_ok)
        return self.leaf(shape, self.pick(dts or DTYPES))

    # ------------------------------------------------------------------ elementwise

    def unary(self):
        x = self.operand(loose_ok=True)
        if x.loose:
            op = self.pick(["negate", "abs"])
        elif is_float(x.dt):
            op = self.pick(["negate", "abs", "sqrt", "floor", "ceil", "sign", "round_nearest_even",
                            "round_nearest_afz", "rsqrt", "exponential", "exponential_minus_one", "log",
                            "log_plus_one", "tanh", "sine", "cosine", "tan", "cbrt", "logistic"])
        elif x.dt == "i1":
            op = "not"
        elif x.dt == "ui8":
            op = self.pick(["negate", "not"])
        elif x.op in ("multiply", "power"):  # XLA drops abs(x*x), abs(pow(c, y)): wrong once they wrap
            op = self.pick(["negate", "sign", "not"])
        else:
            op = self.pick(["negate", "abs", "sign", "not"])
        exact = op in ("negate", "abs", "sqrt", "floor", "ceil", "sign", "round_nearest_even", "round_nearest_afz",
                       "not")
        v = self.result(x.shape, x.dt, [x], loose=x.const and not exact)
        self.emit(f"{v.name} = stablehlo.{op} {x.name} : {tensor(x.shape, x.dt)}")
        return v

    def nonzero_divisor(self, shape, dt) -> Val:
        """A divisor that is never 0: a constant without zeros, or max(v, 1)."""
        if self.flip(0.5):
            return self.constant(shape, dt, nonzero=True)
        x = self.operand(shape, dt)
        one = self.splat(1, shape, dt)
        v = self.result(shape, dt, [x, one])
        self.emit(f"{v.name} = stablehlo.maximum {x.name}, {one.name} : {tensor(shape, dt)}")
        return v

    def binary(self):
        a = self.operand()
        shape, dt = a.shape, a.dt
        if is_float(dt):
            op = self.pick(["add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "power",
                            "atan2"])
        elif dt == "i1":
            op = self.pick(["and", "or", "xor", "maximum", "minimum"])
        else:
            op = self.pick(["add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "power",
                            "and", "or", "xor", "shift_left", "shift_right_arithmetic", "shift_right_logical"])
        if op in ("divide", "remainder") and not is_float(dt):
            if dt != "ui8" and self.flip(0.2):  # INT_MIN / -1: XLA defines it, the evaluator declines
                a = self.constant(shape, dt, values=np.full(shape, np.iinfo(NP[dt]).min, NP[dt]))
                b = self.constant(shape, dt, values=np.full(shape, -1, NP[dt]))
            else:
                b = self.nonzero_divisor(shape, dt)
        elif op == "power" and not is_float(dt):
            b = self.constant(shape, dt, values=np.random.default_rng(self.int_in(0, 99)).integers(
                0 if dt == "ui8" else -1, 12, shape)) if self.flip(0.6) else self.operand(shape, dt)
        elif op.startswith("shift"):
            b = self.constant(shape, dt, values=np.random.default_rng(self.int_in(0, 99)).integers(
                0 if dt == "ui8" else -1, BITS[dt] + 2, shape)) if self.flip(0.6) else self.operand(shape, dt)
        else:
            b = self.operand(shape, dt)
        if (is_float(dt) or op not in ("divide", "remainder")) and self.flip(0.3):
            b = a
        v = self.result(shape, dt, [a, b], loose=a.const and b.const and op in ("power", "atan2") and is_float(dt),
                        op=op)
        self.emit(f"{v.name} = stablehlo.{op} {a.name}, {b.name} : {tensor(shape, dt)}")
        return v

    def compare(self):
        a = self.operand()
        b = a if self.flip(0.15) else self.operand(a.shape, a.dt)
        direction = self.pick(["EQ", "NE", "LT", "LE", "GT", "GE"])
        kinds = {"f": ["FLOAT", "TOTALORDER", None], "s": ["SIGNED", None], "u": ["UNSIGNED", None]}
        kind = self.pick(kinds["f" if is_float(a.dt) else "s" if a.dt in ("i32", "i64") else "u"])
        if kind == "TOTALORDER" and a.const and b.const:
            kind = "FLOAT"  # see test_totalorder_compare_folds_as_xla_runs_it
        v = self.result(a.shape, "i1", [a, b])
        suffix = f", {kind}" if kind else ""
        self.emit(f"{v.name} = stablehlo.compare {direction}, {a.name}, {b.name}{suffix} : "
                  f"({tensor(a.shape, a.dt)}, {tensor(a.shape, a.dt)}) -> {tensor(a.shape, 'i1')}")
        return v

    def select(self):
        a = self.operand(loose_ok=True)
        b = self.operand(a.shape, a.dt, loose_ok=True)
        pshape = () if self.flip(0.2) else a.shape
        p = self.operand(pshape, "i1") if not self.flip(0.3) else self.constant(pshape, "i1")
        v = self.result(a.shape, a.dt, [p, a, b])
        self.emit(f'{v.name} = "stablehlo.select"({p.name}, {a.name}, {b.name}) : ({tensor(pshape, "i1")}, '
                  f"{tensor(a.shape, a.dt)}, {tensor(a.shape, a.dt)}) -> {tensor(a.shape, a.dt)}")
        return v

    def clamp(self):
        x = self.operand(dt=FLOATS + INTS)
        bshape = () if self.flip(0.4) else x.shape
        lo, hi = self.operand(bshape, x.dt), self.operand(bshape, x.dt)
        v = self.result(x.shape, x.dt, [lo, x, hi])
        self.emit(f'{v.name} = "stablehlo.clamp"({lo.name}, {x.name}, {hi.name}) : ({tensor(bshape, x.dt)}, '
                  f"{tensor(x.shape, x.dt)}, {tensor(bshape, x.dt)}) -> {tensor(x.shape, x.dt)}")
        return v

    def convert(self):
        x = self.operand()
        to = self.pick(DTYPES + ("f64",))
        v = self.result(x.shape, to, [x])
        self.emit(f"{v.name} = stablehlo.convert {x.name} : ({tensor(x.shape, x.dt)}) -> {tensor(x.shape, to)}")
        return v

    # ------------------------------------------------------------------ data movement

    def new_shape(self, size: int) -> tuple:
        """A random shape with `size` elements (rank 0-3, unit dims sprinkled in)."""
        if size == 0:
            return self.pick([(0,), (2, 0), (0, 3)])
        factors, k = [], size
        for p in (2, 3, 5, 7):
            while k % p == 0:
                factors.append(p)
                k //= p
        if k > 1:
            factors.append(k)
        rank = self.int_in(1 if factors else 0, 3)
        dims = [1] * rank
        for f in factors:
            dims[self.int_in(0, rank - 1)] *= f
        return tuple(dims)

    def reshape(self):
        x = self.operand(loose_ok=True)
        shape = self.new_shape(int(np.prod(x.shape)))
        v = self.result(shape, x.dt, [x])
        self.emit(f"{v.name} = stablehlo.reshape {x.name} : ({tensor(x.shape, x.dt)}) -> {tensor(shape, x.dt)}")
        return v

    def broadcast(self, x=None):
        x = x or self.operand(loose_ok=True, max_rank=3)
        rank = self.int_in(len(x.shape), min(len(x.shape) + 2, 4))
        dims = sorted(self.draw(st.permutations(range(rank)))[:len(x.shape)])
        if self.flip(0.2):
            dims = list(self.draw(st.permutations(dims)))
        out = [self.int_in(1, 3) for _ in range(rank)]
        for i, d in enumerate(dims):
            out[d] = x.shape[i] if x.shape[i] != 1 else self.int_in(1, 3)
        v = self.result(out, x.dt, [x])
        self.emit(f"{v.name} = stablehlo.broadcast_in_dim {x.name}, dims = {brackets(dims)} : "
                  f"({tensor(x.shape, x.dt)}) -> {tensor(out, x.dt)}")
        return v

    def transpose(self, x=None):
        x = x or self.operand(loose_ok=True)
        perm = list(self.draw(st.permutations(range(len(x.shape)))))
        shape = [x.shape[p] for p in perm]
        v = self.result(shape, x.dt, [x])
        self.emit(f"{v.name} = stablehlo.transpose {x.name}, dims = {brackets(perm)} : "
                  f"({tensor(x.shape, x.dt)}) -> {tensor(shape, x.dt)}")
        return v

    def reverse(self):
        x = self.operand(loose_ok=True)
        dims = sorted(self.draw(st.sets(st.integers(0, max(len(x.shape) - 1, 0)), max_size=len(x.shape))))
        v = self.result(x.shape, x.dt, [x])
        self.emit(f"{v.name} = stablehlo.reverse {x.name}, dims = {brackets(dims)} : {tensor(x.shape, x.dt)}")
        return v

    def iota(self):
        shape = self.shape(min_rank=1)
        dt = self.pick(FLOATS + INTS)
        dim = self.int_in(0, len(shape) - 1)
        if self.flip(0.3):  # dynamic_iota with a constant shape
            it = self.pick(["i32", "i64"])
            s = self.constant((len(shape),), it, values=np.array(shape))
            v = self.result(shape, dt, [s])
            self.emit(f"{v.name} = stablehlo.dynamic_iota {s.name}, dim = {dim} : ({tensor((len(shape),), it)}) -> "
                      f"{tensor(shape, dt)}")
            return v
        v = self.result(shape, dt, [])
        self.emit(f"{v.name} = stablehlo.iota dim = {dim} : {tensor(shape, dt)}")
        return v

    def slice(self):
        x = self.operand(loose_ok=True, min_rank=1)
        starts, limits, strides = [], [], []
        for n in x.shape:
            s = self.int_in(0, n)
            starts.append(s)
            limits.append(self.int_in(s, n))
            strides.append(self.int_in(1, 3))
        shape = [-(-(e - s) // k) for s, e, k in zip(starts, limits, strides)]
        v = self.result(shape, x.dt, [x])
        self.emit(f'{v.name} = "stablehlo.slice"({x.name}) {{start_indices = {i64s(starts)}, limit_indices = '
                  f"{i64s(limits)}, strides = {i64s(strides)}}} : ({tensor(x.shape, x.dt)}) -> {tensor(shape, x.dt)}")
        return v

    def dynamic_slice(self):
        x = self.operand(loose_ok=True, min_rank=1)
        sizes = [self.int_in(0, n) for n in x.shape]
        it = self.pick(["i32", "i64"])
        starts = [self.constant((), it, values=np.array(self.int_in(-2, n + 1))) if self.flip(0.8)
                  else self.arg((), it) for n in x.shape]
        v = self.result(sizes, x.dt, [x, *starts])
        operands = ", ".join(s.name for s in starts)
        self.emit(f"{v.name} = stablehlo.dynamic_slice {x.name}, {operands}, sizes = {brackets(sizes)} : "
                  f"({tensor(x.shape, x.dt)}, {', '.join(tensor((), it) for _ in starts)}) -> {tensor(sizes, x.dt)}")
        return v

    def concatenate(self):
        x = self.operand(loose_ok=True, min_rank=1)
        dim = self.int_in(0, len(x.shape) - 1)
        parts = [x]
        for _ in range(self.int_in(1, 2)):
            shape = list(x.shape)
            shape[dim] = self.int_in(0, 3)
            parts.append(x if self.flip(0.3) else self.operand(tuple(shape), x.dt, loose_ok=True))
        out = list(x.shape)
        out[dim] = sum(p.shape[dim] for p in parts)
        v = self.result(out, x.dt, parts)
        self.emit(f"{v.name} = stablehlo.concatenate {', '.join(p.name for p in parts)}, dim = {dim} : "
                  f"({', '.join(tensor(p.shape, p.dt) for p in parts)}) -> {tensor(out, x.dt)}")
        return v

    def pad(self):
        x = self.operand(loose_ok=True)
        value = self.operand((), x.dt, loose_ok=True, p_new=0.7)
        low, high, interior, out = [], [], [], []
        for n in x.shape:
            k = self.int_in(0, 2)
            grown = n + max(n - 1, 0) * k
            lo = self.int_in(-min(grown, 2), 2)
            hi = self.int_in(-min(grown + lo, 2) if grown + lo > 0 else 0, 2)
            low.append(lo), high.append(hi), interior.append(k), out.append(grown + lo + hi)
        v = self.result(out, x.dt, [x, value])
        self.emit(f"{v.name} = stablehlo.pad {x.name}, {value.name}, low = {brackets(low)}, high = {brackets(high)}, "
                  f"interior = {brackets(interior)} : ({tensor(x.shape, x.dt)}, {tensor((), x.dt)}) -> "
                  f"{tensor(out, x.dt)}")
        return v
