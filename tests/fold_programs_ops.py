"""The rest of the random-program builder (see fold_programs.py): reductions, reduce_window, dot_general,
gather, the shapes the simplify rules look for, and `programs()`, the hypothesis strategy."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from fold_programs import DTYPES, FLOATS, NP, BuilderBase, Val, brackets, i64s, is_float, tensor


class Builder(BuilderBase):
    # ------------------------------------------------------------------ reductions, dot, gather

    def body(self, kind: str, dt: str) -> str:
        a, b = self.fresh("a"), self.fresh("b")
        s = self.fresh("s")
        lhs, rhs = (a, b) if not self.flip(0.1) else (b, a)
        ret = s
        if self.flip(0.06):  # not a reduction of both arguments: the evaluator must not take it for one
            if self.flip(0.5):
                lhs = rhs = self.pick([a, b])
            else:
                ret = self.pick([a, b])
        t = tensor((), dt)
        return (f"({{\n    ^bb0({a}: {t}, {b}: {t}):\n      {s} = stablehlo.{kind} {lhs}, {rhs} : {t}\n"
                f"      stablehlo.return {ret} : {t}\n  }})")

    def reducer(self, x: Val) -> tuple[str, Val]:
        if x.dt == "i1":
            kind = self.pick(["and", "or", "maximum", "minimum"])
        elif is_float(x.dt):
            kind = self.pick(["add", "multiply", "maximum", "minimum"])
        else:
            kind = self.pick(["add", "multiply", "maximum", "minimum", "and", "or"])
        if self.flip(0.6):
            identity = {"add": 0, "or": 0, "multiply": 1, "and": -1 if x.dt in ("i32", "i64") else 1}
            if kind in identity:
                value = identity[kind] if x.dt != "ui8" or kind != "and" else 255
                value = bool(value) if x.dt == "i1" else value
            elif is_float(x.dt):
                value = -np.inf if kind == "maximum" else np.inf
            else:
                info = np.iinfo(NP[x.dt]) if x.dt != "i1" else None
                value = (info.min if kind == "maximum" else info.max) if info else kind == "minimum"
            init = self.splat(value, (), x.dt)
        else:
            init = self.operand((), x.dt)
        return kind, init

    def reduce(self):
        x = self.operand(min_rank=1)
        kind, init = self.reducer(x)
        dims = sorted(self.draw(st.sets(st.integers(0, len(x.shape) - 1), max_size=len(x.shape))))
        if self.flip(0.2):
            dims = list(self.draw(st.permutations(dims)))  # any order
        out = [n for i, n in enumerate(x.shape) if i not in dims]
        loose = x.const and init.const and is_float(x.dt) and kind in ("add", "multiply")
        v = self.result(out, x.dt, [x, init], loose=loose)
        self.emit(f'{v.name} = "stablehlo.reduce"({x.name}, {init.name}) {self.body(kind, x.dt)} '
                  f"{{dimensions = {i64s(dims)}}} : ({tensor(x.shape, x.dt)}, {tensor((), x.dt)}) -> "
                  f"{tensor(out, x.dt)}")
        return v

    def reduce_window(self):
        x = self.operand(min_rank=1, empty_ok=False)
        kind, init = self.reducer(x)
        window, strides, base, wdil, pads, out = [], [], [], [], [], []
        for n in x.shape:
            b, d = self.int_in(1, 2) if self.flip(0.2) else 1, self.int_in(1, 2) if self.flip(0.2) else 1
            lo, hi = self.int_in(0, 2), self.int_in(0, 2)
            padded = (n - 1) * b + 1 + lo + hi
            w = self.int_in(1, max(1, min(3, (padded - 1) // d + 1)))
            s = self.int_in(1, 2)
            span = (w - 1) * d + 1
            window.append(w), strides.append(s), base.append(b), wdil.append(d), pads.append([lo, hi])
            out.append((padded - span) // s + 1 if padded >= span else 0)
        loose = x.const and init.const and is_float(x.dt) and kind in ("add", "multiply")
        v = self.result(out, x.dt, [x, init], loose=loose)
        padding = f"dense<{brackets(brackets(p) for p in pads)}> : tensor<{len(pads)}x2xi64>"
        self.emit(f'{v.name} = "stablehlo.reduce_window"({x.name}, {init.name}) {self.body(kind, x.dt)} '
                  f"{{window_dimensions = {i64s(window)}, window_strides = {i64s(strides)}, "
                  f"base_dilations = {i64s(base)}, window_dilations = {i64s(wdil)}, padding = {padding}}} : "
                  f"({tensor(x.shape, x.dt)}, {tensor((), x.dt)}) -> {tensor(out, x.dt)}")
        return v

    def dot_general(self):
        dt = self.pick(FLOATS + ("i32", "i64"))
        batch = [self.int_in(1, 3) for _ in range(self.int_in(0, 1))]
        contract = [self.int_in(1, 4) for _ in range(self.int_in(0, 2))]
        lfree = [self.int_in(1, 3) for _ in range(self.int_in(0, 1))]
        rfree = [self.int_in(1, 3) for _ in range(self.int_in(0, 1))]

        def side(free):
            kinds = [("b", i) for i in range(len(batch))] + [("c", i) for i in range(len(contract))] + \
                    [("f", i) for i in range(len(free))]
            order = list(self.draw(st.permutations(kinds)))
            sizes = {"b": batch, "c": contract, "f": free}
            shape = tuple(sizes[k][i] for k, i in order)
            where = {key: pos for pos, key in enumerate(order)}
            return shape, where

        (ls, lw), (rs, rw) = side(lfree), side(rfree)
        a, b = self.operand(ls, dt), self.operand(rs, dt)
        nums = (f"lhs_batching_dimensions = {brackets(lw['b', i] for i in range(len(batch)))}, "
                f"rhs_batching_dimensions = {brackets(rw['b', i] for i in range(len(batch)))}, "
                f"lhs_contracting_dimensions = {brackets(lw['c', i] for i in range(len(contract)))}, "
                f"rhs_contracting_dimensions = {brackets(rw['c', i] for i in range(len(contract)))}")
        # the result: batch dims, then the lhs free dims in lhs order, then the rhs free dims in rhs order
        out = batch + [ls[p] for p in sorted(lw[k] for k in lw if k[0] == "f")] + \
            [rs[p] for p in sorted(rw[k] for k in rw if k[0] == "f")]
        v = self.result(out, dt, [a, b], loose=a.const and b.const and is_float(dt))
        self.emit(f'{v.name} = "stablehlo.dot_general"({a.name}, {b.name}) {{dot_dimension_numbers = '
                  f"#stablehlo.dot<{nums}>}} : ({tensor(ls, dt)}, {tensor(rs, dt)}) -> {tensor(out, dt)}")
        return v

    def gather(self):
        x = self.operand(loose_ok=True, min_rank=1, empty_ok=False)
        rank = len(x.shape)
        dims = list(range(rank))
        obatch = []
        if rank > 1 and self.flip(0.2):
            obatch = [self.pick(dims)]
        rest = [d for d in dims if d not in obatch]
        start_map = list(self.draw(st.permutations(rest)))[:self.int_in(1, len(rest))]
        collapsed = sorted(d for d in start_map if self.flip(0.5))
        sizes = [1 if d in collapsed or d in obatch else self.int_in(0 if d not in start_map else 1, x.shape[d])
                 for d in dims]
        # indices: batch dims (the operand batching dims' sizes first) + the index vector
        nbatch = self.int_in(len(obatch), len(obatch) + 1)
        ibatch_sizes = [x.shape[d] for d in obatch] + [self.int_in(1, 3) for _ in range(nbatch - len(obatch))]
        ibatch_perm = list(self.draw(st.permutations(range(nbatch))))
        ibatch_sizes = [ibatch_sizes[p] for p in ibatch_perm]
        ivd = self.int_in(0, nbatch)
        ishape = list(ibatch_sizes)
        ishape.insert(ivd, len(start_map))
        # which indices dims (after the index vector is inserted) are the batching ones
        pos_of = [i if i < ivd else i + 1 for i in range(nbatch)]
        ibatch = [pos_of[ibatch_perm.index(k)] for k in range(len(obatch))]
        it = self.pick(["i32", "i64", "ui8"])
        if self.flip(0.7):
            rng = np.random.default_rng(self.int_in(0, 2**32 - 1))
            hi = max(x.shape) + 2
            idx = self.constant(tuple(ishape), it, values=rng.integers(0 if it == "ui8" else -2, hi, ishape))
        else:
            idx = self.arg(tuple(ishape), it)
        offset_operand = [d for d in dims if d not in collapsed and d not in obatch]
        out_rank = nbatch + len(offset_operand)
        offset_dims = sorted(self.draw(st.permutations(range(out_rank)))[:len(offset_operand)])
        out, bi, oi = [], iter(ibatch_sizes), iter(offset_operand)
        for i in range(out_rank):
            out.append(sizes[next(oi)] if i in offset_dims else next(bi))
        v = self.result(out, x.dt, [x, idx])
        nums = (f"offset_dims = {brackets(offset_dims)}, collapsed_slice_dims = {brackets(collapsed)}, "
                + (f"operand_batching_dims = {brackets(obatch)}, start_indices_batching_dims = {brackets(ibatch)}, "
                   if obatch else "")
                + f"start_index_map = {brackets(start_map)}, index_vector_dim = {ivd}")
        self.emit(f'{v.name} = "stablehlo.gather"({x.name}, {idx.name}) {{dimension_numbers = '
                  f"#stablehlo.gather<{nums}>, slice_sizes = {i64s(sizes)}}} : ({tensor(x.shape, x.dt)}, "
                  f"{tensor(ishape, it)}) -> {tensor(out, x.dt)}")
        return v

    # ------------------------------------------------------------------ what simplify looks for

    def identity_arith(self):
        x = self.operand(loose_ok=True, p_new=0.5)
        shape, dt = x.shape, x.dt
        if dt == "i1":
            op, unit = self.pick([("and", True), ("or", False), ("xor", False), ("multiply", True),
                                  ("add", False)])
        elif is_float(dt):
            op, unit = self.pick([("add", 0.0), ("add", -0.0), ("subtract", 0.0), ("multiply", 1.0),
                                  ("divide", 1.0), ("multiply", 0.0)])
        else:
            op, unit = self.pick([("add", 0), ("subtract", 0), ("multiply", 1), ("divide", 1), ("multiply", 0),
                                  ("or", 0), ("and", 1), ("and", -1 if dt != "ui8" else 255), ("xor", 0)])
        if x.loose and (op, unit) == ("multiply", 0.0):
            op = "add"
        c = self.splat(unit, shape, dt) if self.flip(0.8) else self.splat(unit, shape, dt)
        a, b = (x, c) if op in ("subtract", "divide") or self.flip(0.5) else (c, x)
        v = self.result(shape, dt, [a, b])
        self.emit(f"{v.name} = stablehlo.{op} {a.name}, {b.name} : {tensor(shape, dt)}")
        return v

    def double_unary(self):
        x = self.operand(loose_ok=True, p_new=0.5)
        op = "not" if x.dt == "i1" else "negate" if x.loose or is_float(x.dt) or self.flip(0.5) else "not"
        t = tensor(x.shape, x.dt)
        first = self.result(x.shape, x.dt, [x])
        self.emit(f"{first.name} = stablehlo.{op} {x.name} : {t}")
        v = self.result(x.shape, x.dt, [first])
        self.emit(f"{v.name} = stablehlo.{op} {first.name} : {t}")
        return v

    def convert_chain(self):
        x = self.operand(p_new=0.5)
        for _ in range(self.int_in(1, 3)):
            to = x.dt if self.flip(0.2) else self.pick(DTYPES + ("f64",))
            v = self.result(x.shape, to, [x])
            self.emit(f"{v.name} = stablehlo.convert {x.name} : ({tensor(x.shape, x.dt)}) -> {tensor(x.shape, to)}")
            x = v
        return x

    def shape_chain(self):
        x = self.operand(loose_ok=True, p_new=0.5)
        for _ in range(self.int_in(2, 3)):
            kind = self.pick(["reshape", "same_reshape", "transpose", "broadcast", "same_broadcast", "full_slice",
                              "unit_reshape", "concat_one"])
            if kind == "reshape":
                x = self.reshape_of(x, self.new_shape(int(np.prod(x.shape))))
            elif kind == "same_reshape":
                x = self.reshape_of(x, x.shape)
            elif kind == "unit_reshape" and len(x.shape) < 3:  # then a broadcast: reshape-broadcast
                shape = list(x.shape)
                shape.insert(self.int_in(0, len(shape)), 1)
                x = self.broadcast(self.reshape_of(x, tuple(shape)))
            elif kind == "transpose":
                x = self.transpose(x)
            elif kind == "broadcast" and len(x.shape) <= 3:
                x = self.broadcast(x)
            elif kind == "same_broadcast":
                v = self.result(x.shape, x.dt, [x])
                self.emit(f"{v.name} = stablehlo.broadcast_in_dim {x.name}, dims = {brackets(range(len(x.shape)))}"
                          f" : ({tensor(x.shape, x.dt)}) -> {tensor(x.shape, x.dt)}")
                x = v
            elif kind == "full_slice" and x.shape:
                v = self.result(x.shape, x.dt, [x])
                self.emit(f'{v.name} = "stablehlo.slice"({x.name}) {{start_indices = {i64s([0] * len(x.shape))}, '
                          f"limit_indices = {i64s(x.shape)}, strides = {i64s([1] * len(x.shape))}}} : "
                          f"({tensor(x.shape, x.dt)}) -> {tensor(x.shape, x.dt)}")
                x = v
            elif kind == "concat_one" and x.shape:
                v = self.result(x.shape, x.dt, [x])
                self.emit(f"{v.name} = stablehlo.concatenate {x.name}, dim = 0 : ({tensor(x.shape, x.dt)}) -> "
                          f"{tensor(x.shape, x.dt)}")
                x = v
        return x

    def reshape_of(self, x: Val, shape) -> Val:
        v = self.result(shape, x.dt, [x])
        self.emit(f"{v.name} = stablehlo.reshape {x.name} : ({tensor(x.shape, x.dt)}) -> {tensor(shape, x.dt)}")
        return v

    def select_const_pred(self):
        a = self.operand(loose_ok=True, p_new=0.5)
        b = self.operand(a.shape, a.dt, loose_ok=True)
        pshape = () if self.flip(0.3) else a.shape
        p = self.splat(self.flip(), pshape, "i1") if self.flip(0.8) else self.constant(pshape, "i1")
        v = self.result(a.shape, a.dt, [p, a, b])
        self.emit(f'{v.name} = "stablehlo.select"({p.name}, {a.name}, {b.name}) : ({tensor(pshape, "i1")}, '
                  f"{tensor(a.shape, a.dt)}, {tensor(a.shape, a.dt)}) -> {tensor(a.shape, a.dt)}")
        return v

    def compare_same(self):
        x = self.operand(p_new=0.5)
        direction = self.pick(["EQ", "NE", "LT", "LE", "GT", "GE"])
        kind = self.pick(["FLOAT", "TOTALORDER"] if is_float(x.dt) else ["SIGNED"] if x.dt in ("i32", "i64")
                         else ["UNSIGNED"])
        if kind == "TOTALORDER" and x.const:
            kind = "FLOAT"  # see test_totalorder_compare_folds_as_xla_runs_it
        v = self.result(x.shape, "i1", [x])
        self.emit(f"{v.name} = stablehlo.compare {direction}, {x.name}, {x.name}, {kind} : "
                  f"({tensor(x.shape, x.dt)}, {tensor(x.shape, x.dt)}) -> {tensor(x.shape, 'i1')}")
        return v

    def dot_unflatten(self):
        dt = self.pick(FLOATS + ("i32",))
        lead = [self.int_in(1, 3) for _ in range(self.int_in(1, 2))]
        k, n = self.int_in(1, 4), self.int_in(1, 3)
        # x is an argument: on constants XLA itself treats the 2-D and the 3-D dot differently (several
        # ulps apart), although they are the same sums in the same order
        x = self.arg((*lead, k), dt)
        transposed = self.flip(0.3)
        w = self.operand((n, k) if transposed else (k, n), dt)
        m = int(np.prod(lead))
        flat = self.reshape_of(x, (m, k))
        d = self.result((m, n), dt, [flat, w], loose=flat.const and w.const and is_float(dt))
        self.emit(f'{d.name} = "stablehlo.dot_general"({flat.name}, {w.name}) {{dot_dimension_numbers = '
                  f"#stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = "
                  f"[{1 if transposed else 0}]>}} : ({tensor((m, k), dt)}, {tensor(w.shape, dt)}) -> "
                  f"{tensor((m, n), dt)}")
        return self.reshape_of(d, (*lead, n))

    def dus_full(self):
        x = self.operand(loose_ok=True, min_rank=1)
        u = self.operand(x.shape, x.dt, loose_ok=True)
        starts = [self.constant((), "i32", values=np.array(self.int_in(-1, 2))) if self.flip(0.7)
                  else self.arg((), "i32") for _ in x.shape]
        v = self.result(x.shape, x.dt, [x, u, *starts])
        self.emit(f"{v.name} = stablehlo.dynamic_update_slice {x.name}, {u.name}, "
                  f"{', '.join(s.name for s in starts)} : ({tensor(x.shape, x.dt)}, {tensor(x.shape, x.dt)}, "
                  f"{', '.join(tensor((), 'i32') for _ in starts)}) -> {tensor(x.shape, x.dt)}")
        return v


FOLD_KINDS = {"unary": 4, "binary": 5, "compare": 2, "select": 1, "clamp": 1, "convert": 3, "reshape": 1,
              "broadcast": 1, "transpose": 1, "reverse": 1, "iota": 1, "slice": 1, "dynamic_slice": 1,
              "concatenate": 1, "pad": 2, "reduce": 2, "reduce_window": 2, "dot_general": 2, "gather": 2}
SIMPLIFY_KINDS = {"identity_arith": 5, "double_unary": 2, "convert_chain": 3, "shape_chain": 4,
                  "select_const_pred": 2, "compare_same": 2, "dot_unflatten": 1, "dus_full": 1,
                  "unary": 1, "binary": 2, "convert": 1, "reduce": 1}


@st.composite
def programs(draw, mode: str = "fold"):
    """(MLIR text of a random straight-line @main, for each output whether it may be 1 ulp off)."""
    b = Builder(draw)
    kinds = FOLD_KINDS if mode == "fold" else SIMPLIFY_KINDS
    menu = [k for k, w in kinds.items() for _ in range(w)]
    for _ in range(draw(st.integers(1, 8))):
        getattr(b, draw(st.sampled_from(menu)))()
    if not b.values:
        b.unary()
    outs = [v for v in b.values if v.name not in b.used] or b.values[-1:]
    body = "\n".join("  " + line for line in b.lines)
    args = ", ".join(f"{a.name}: {tensor(a.shape, a.dt)}" for a in b.args)
    types = ", ".join(tensor(v.shape, v.dt) for v in outs)
    text = (f"func.func @main({args}) -> ({types}) {{\n{body}\n  return {', '.join(v.name for v in outs)} : "
            f"{types}\n}}\n")
    return text, [v.loose for v in outs]
