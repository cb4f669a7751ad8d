"""Check that every composite of a module means what its name says (`hlo-opt --check-composites`).

    report = check_composites(module)          # a CompositeReport; report.ok, print(report.text())

Why: `--check-numerics` runs composites through their decompositions, which are the ops they were raised
from, so it cannot see a composite whose *definition* (hlo_passes/composites.py) differs from those ops --
the definition is what a runtime that implements the composite by name computes. Here each composite's
reference kernel is lowered with jax on the composite's operand types (once per name, types and attributes)
and spliced into a copy of the module, the *probe*:

- every composite's decomposition becomes its reference kernel, so the probe's outputs are the module's
  outputs as a runtime that trusts the names would compute them (compared with the module's own outputs);
- each composite in the entry function's body also calls its old decomposition on the same operands, and
  both results become extra outputs, so each composite is judged on its own, at its own location, on the
  operands it really receives (a composite in a called function or a loop body is judged through the
  outputs only, and the report says so).

Two XLA compilations in all (the module, the probe), on the same input sets as `--check-numerics`.
A composite whose name has no definition is reported and fails the check: nothing passes unexamined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from . import composites, ir, numerics
from .diagnostics import HloError, SourceLoc
from .ir import func, mlir
from .patterns import values as vals
from .patterns.outline import decomposition_names

LOW_PRECISION_TOL = 2e-2  # bf16 / f16 results: the kernel computes in f32, the exporter may not (a bf16 step)


@dataclass(frozen=True)
class CompositeResult:
    """One composite: `status` is "ok", "FAIL", "broken" (operands/attributes contradict the definition),
    "unknown" (no definition) or "outputs-only" (not in the entry function's body: judged through the
    outputs)."""

    name: str
    where: str
    status: str
    max_abs: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "outputs-only")


@dataclass(frozen=True)
class CompositeReport:
    composites: list = field(default_factory=list)
    outputs: numerics.Comparison | None = None  # the module's outputs with every composite by its definition

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.composites) and (self.outputs is None or self.outputs.ok)

    @property
    def failures(self) -> list:
        return [c for c in self.composites if not c.ok]

    def text(self) -> str:
        names = sorted({c.name for c in self.composites})
        lines = [f"composite check: {len(self.composites)} composites ({', '.join(names) or 'none'})"]
        for c in self.composites:
            diff = f"  max diff {c.max_abs:.3g}" if c.status in ("ok", "FAIL") else ""
            lines.append(f"  {c.status:<12} {c.name} at {c.where}{diff}{': ' + c.detail if c.detail else ''}")
        if self.outputs is not None:
            o = self.outputs
            verdict = f"same within tolerance (max diff {o.max_abs:.3g})" if o.ok else o.detail
            lines.append(f"  outputs with every composite by its definition: {verdict}")
        why = [f"{len(self.failures)} of {len(self.composites)} composites"] if self.failures else []
        why += ["the outputs differ"] if self.outputs is not None and not self.outputs.ok else []
        lines.append("composite check: " + ("passed" if self.ok else f"FAILED ({', '.join(why)})"))
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- reference functions

def _attributes(op) -> dict:
    d = mlir.DictAttr(op.attributes["composite_attributes"]) if "composite_attributes" in op.attributes else []
    return {d[i].name: vals.attr_value(d[i].attr) for i in range(len(d))}


def _types(values) -> list:
    return [mlir.RankedTensorType(v.type) for v in values]


def _spec(t):
    import jax

    return jax.ShapeDtypeStruct(tuple(t.shape), ir.np_dtype(t.element_type))


def _lowered(defn, operand_types, result_types, attrs: dict) -> str:
    """The reference kernel as StableHLO text (a module with a public @main), or Broken(why)."""
    numerics._quiet_xla()
    import jax

    def kernel(*operands):
        out = defn.kernel(*operands, **attrs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(outs) != len(result_types):
            raise composites.Broken(f"the definition gives {len(outs)} results, the composite has {len(result_types)}")
        fixed = []
        for o, t in zip(outs, result_types):
            if tuple(o.shape) != tuple(t.shape):
                raise composites.Broken(f"the definition gives a {list(o.shape)} result, the composite a "
                                        f"{list(t.shape)} one")
            fixed.append(o.astype(ir.np_dtype(t.element_type)))
        return tuple(fixed)

    try:
        # x64 for i64 operands (torch positions), scoped: the caller's jax settings stay as they were. jax's
        # first use of its CPU client logs device lines on the C++ stderr.
        with jax.enable_x64(True), ir.captured_stderr():
            return jax.jit(kernel).lower(*[_spec(t) for t in operand_types]).as_text()
    except composites.Broken:
        raise
    except (TypeError, ValueError) as e:  # jax's own shape/dtype complaints: the operands do not fit
        raise composites.Broken(str(e).strip().splitlines()[0]) from None
    except Exception as e:  # noqa: BLE001 -- a plugin's kernel that fails: that composite's verdict, not a crash
        first = (str(e).strip().splitlines() or [""])[0]
        raise composites.Broken(f"its reference kernel failed: {type(e).__name__}: {first}") from None


_SYMBOL = re.compile(r"@([A-Za-z_][\w.$]*)")


def _splice(module_op, text: str, prefix: str) -> str:
    """Add the functions of lowered module `text` to `module_op`, renamed `prefix` + name and private;
    returns the name of its entry."""
    head = text.partition("{-#")[0]
    renamed = _SYMBOL.sub(lambda m: f"@{prefix}{m.group(1)}", head)
    lowered = ir.parse(renamed, context=module_op.context)
    body = module_op.regions[0].blocks[0]
    for fn in ir.module_ops(lowered):
        if fn.operation.name != "func.func":
            continue
        copy = fn.operation.clone(ip=mlir.InsertionPoint(body))
        copy.attributes["sym_visibility"] = mlir.StringAttr.get("private", context=module_op.context)
    return f"{prefix}main"


# ----------------------------------------------------------------------------------- the probe

def _composites(module_op) -> list:
    """Composite ops outside decomposition functions, in module order."""
    skip = decomposition_names(module_op)
    found = []
    for fn in ir.module_ops(module_op):
        if fn.operation.name == "func.func" and mlir.StringAttr(fn.attributes["sym_name"]).value in skip:
            continue
        fn.operation.walk(lambda op: (found.append(op) if op.name == "stablehlo.composite" else None)
                          or mlir.WalkResult.ADVANCE)
    return found


def _probe(module) -> tuple:
    """(probe module, per composite: [name, where, status, detail, (first, count) of its extra outputs])."""
    probe = ir.clone(module)
    entry = numerics.entry_function(probe)
    entry_block = entry.regions[0].blocks[0]
    made: dict = {}  # (name, types, attrs) -> ref function name, or Broken
    rows, extra = [], []
    for op in _composites(probe):
        name = mlir.StringAttr(op.attributes["name"]).value
        where = vals.loc(op)
        defn = composites.definition(name)
        if defn is None:
            rows.append([name, where, "unknown", "no definition of this composite name (hlo_passes/composites.py)",
                         None])
            continue
        attrs = _attributes(op)
        in_types, out_types = _types(op.operands), _types(op.results)
        key = (name, tuple(map(str, in_types)), tuple(map(str, out_types)), repr(sorted(attrs.items())))
        if key not in made:
            try:
                made[key] = _splice(probe, _lowered(defn, in_types, out_types, attrs), f"__ref{len(made)}_")
            except composites.Broken as e:
                made[key] = e
        ref = made[key]
        if isinstance(ref, composites.Broken):
            rows.append([name, where, "broken", str(ref), None])
            continue
        old = mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value
        op.attributes["decomposition"] = mlir.FlatSymbolRefAttr.get(ref, context=op.context)
        if op.block != entry_block:
            rows.append([name, where, "outputs-only", "not in the entry function's body: judged through the outputs",
                         None])
            continue
        with op.location, mlir.InsertionPoint(op):
            call = func.CallOp([v.type for v in op.results], mlir.FlatSymbolRefAttr.get(old), list(op.operands))
        rows.append([name, where, "ok", "", (len(extra), len(op.results))])
        extra += [*op.results, *call.results]
    if extra:
        ret = entry_block.operations[len(entry_block.operations) - 1]
        values = [*ret.operands, *extra]
        with ret.location, mlir.InsertionPoint(ret):
            func.ReturnOp(values)
        ret.erase()
        ftype = mlir.FunctionType(mlir.TypeAttr(entry.attributes["function_type"]).value)
        with entry.context:
            entry.attributes["function_type"] = mlir.TypeAttr.get(
                mlir.FunctionType.get(list(ftype.inputs), [v.type for v in values]))
        if "res_attrs" in entry.attributes:
            del entry.attributes["res_attrs"]
    return probe, rows


def _tolerances(arrays, rtol: float, atol: float) -> tuple[float, float]:
    low = any(numerics.kind(a.dtype) == "f" and np.dtype(a.dtype).itemsize < 4 for a in arrays)
    return (max(rtol, LOW_PRECISION_TOL), max(atol, LOW_PRECISION_TOL)) if low else (rtol, atol)


def check_composites(module, *, seed: int = 0, inputs=None, rtol: float = 1e-4, atol: float = 1e-5,
                     input_mode: str = "edges", isolate: bool = True, timeout: float | None = None) -> CompositeReport:
    """Judge every composite of `module` against its definition (see the module docstring). The module is
    not changed. `rtol`/`atol` are for float32 results; bf16/f16 ones get at least LOW_PRECISION_TOL."""
    numerics.check_tolerance(rtol, "rtol"), numerics.check_tolerance(atol, "atol")
    probe, rows = _probe(module)
    if not any(r[2] in ("ok", "outputs-only") for r in rows):
        return CompositeReport([CompositeResult(r[0], r[1], r[2], detail=r[3]) for r in rows])
    sets = [("typical", inputs)] if inputs is not None else numerics.input_sets(module, seed, input_mode)
    labels, arrays = [s[0] for s in sets], [s[1] for s in sets]
    want = numerics.execute_many(module, arrays, isolate=isolate, timeout=timeout)
    got = numerics.execute_many(probe, arrays, isolate=isolate, timeout=timeout)
    n_out = len(want[0])
    results = []
    for name, where, status, detail, span in rows:
        if status != "ok":
            results.append(CompositeResult(name, where, status, detail=detail))
            continue
        first, count = span
        worst, verdict = 0.0, None
        for label, g in zip(labels, got):
            ref = g[n_out + first: n_out + first + count]
            dec = g[n_out + first + count: n_out + first + 2 * count]
            r, a = _tolerances(dec, rtol, atol)
            c = numerics.compare(ref, dec, rtol=r, atol=a)
            worst = max(worst, c.max_abs)
            if not c.ok and verdict is None:
                verdict = (f"on the {label} inputs, " if label != "typical" else "") + \
                    f"definition vs decomposition: {c.detail}"
        results.append(CompositeResult(name, where, "ok" if verdict is None else "FAIL", worst, verdict or ""))
    r, a = _tolerances(want[0], rtol, atol)
    outputs = numerics.compare_sets([g[:n_out] for g in got], want, labels, rtol=r, atol=a)
    return CompositeReport(results, outputs)


def require_composites_ok(module, *, display: str | None = None, **options) -> str:
    """`check_composites` for the CLI: the report's text, or an HloError at the first failing composite
    (`display` names the input file where locations say `-`), the report as its note."""
    report = check_composites(module, **options)
    if report.ok:
        return report.text()
    first = report.failures[0] if report.failures else None
    why = f"{first.name} does not mean what its name says ({first.status}): {first.detail}" if first else \
        f"the outputs change when every composite computes its definition: {report.outputs.detail}"
    at = re.fullmatch(r"(.*):(\d+):(\d+)", first.where) if first else None
    err = HloError(f"--check-composites: {why}", SourceLoc(at[1], int(at[2]), int(at[3])) if at else None,
                   notes=(report.text().rstrip(),))
    return_error = err.with_filename(display) if display else err
    raise return_error
