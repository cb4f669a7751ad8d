"""Run modules on XLA CPU and compare their results: how every rewrite proves it kept semantics.

- `random_inputs(module, seed)`: arguments for `main` built from its signature (floats ~ N(0, 1),
  integers in a small non-negative range, booleans at random), the same for the same seed.
- `execute(module, inputs)`: compiles with XLA CPU and runs. dense_resource constants are inlined first
  (XLA accepts only dense ones) and 64-bit types are kept (x64 on: torch token ids are i64).
- `compare(a, b, rtol, atol)`: a report naming the first output that differs and by how much.

XLA CPU kills the whole process with SIGFPE on an integer division by zero, so by default execution runs
in a child process (one, kept alive between calls): a bad module gives an error, not a dead `hlo-opt`.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import ir
from .diagnostics import HloError

_jax_ready = False


def _quiet_xla() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # XLA's INFO lines about devices are noise here


def _jax():
    global _jax_ready
    _quiet_xla()
    import jax

    if not _jax_ready:
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        _jax_ready = True
    return jax


def entry_function(module) -> ir.mlir.Operation:
    """`main`, or the only public function: what XLA runs."""
    funcs = [op for op in ir.module_ops(module) if op.operation.name == "func.func"]
    for f in funcs:
        if ir.mlir.StringAttr(f.attributes["sym_name"]).value == "main":
            return f
    public = [f for f in funcs if "sym_visibility" not in f.attributes
              or ir.mlir.StringAttr(f.attributes["sym_visibility"]).value != "private"]
    if len(public) == 1:
        return public[0]
    raise HloError("module has no function 'main' to run")


def signature(module) -> list[tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each argument of the entry function."""
    fn = entry_function(module)
    ftype = ir.mlir.FunctionType(ir.mlir.TypeAttr(fn.attributes["function_type"]).value)
    result = []
    for i, t in enumerate(ftype.inputs):
        rt = t.maybe_downcast()
        if not isinstance(rt, ir.mlir.RankedTensorType):
            raise HloError(f"argument {i} of main has type {t}: only ranked tensors can be generated")
        if not rt.has_static_shape:
            raise HloError(f"argument {i} of main has a dynamic shape ({t}): pass inputs explicitly")
        result.append((tuple(rt.shape), ir.np_dtype(rt.element_type)))
    return result


def random_inputs(module, seed: int = 0, int_range: tuple[int, int] = (0, 8)) -> list[np.ndarray]:
    """Seeded random arguments for the module's entry function."""
    rng = np.random.default_rng(seed)
    inputs = []
    for shape, dtype in signature(module):
        if dtype == np.bool_:
            inputs.append(rng.integers(0, 2, shape).astype(np.bool_))
        elif dtype.kind in "iu" or "int" in dtype.name:
            inputs.append(rng.integers(int_range[0], int_range[1], shape).astype(dtype))
        elif dtype.kind == "c":
            inputs.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype))
        else:
            inputs.append(rng.standard_normal(shape).astype(dtype))
    return inputs


def executable_bytes(module) -> bytes:
    """The module as bytecode XLA accepts: a copy with dense_resource constants made dense."""
    copy = ir.clone(module)
    ir.inline_resources(copy)
    return ir.to_bytecode(copy)


def _execute_bytes(code: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    jax = _jax()
    from jax.extend import backend as jb

    be = jb.get_backend("cpu")
    try:
        exe = be.compile_and_load(code, be.devices()[:1], jb.get_compile_options(1, 1))
    except Exception as e:  # noqa: BLE001 -- XLA reports with its own exception types
        raise HloError(f"XLA cannot compile the module: {str(e).strip().splitlines()[0]}") from None
    args = [jax.device_put(np.asarray(x), be.devices()[0]) for x in inputs]
    try:
        outs = exe.execute(args)
    except Exception as e:  # noqa: BLE001
        raise HloError(f"XLA failed to run the module: {str(e).strip().splitlines()[0]}") from None
    return [np.asarray(o) for o in outs]


class _Worker:
    """A child Python running `python -m hlo_passes.numerics`: requests and replies are pickles over its
    stdin/stdout. A plain subprocess rather than multiprocessing, so that user scripts need no
    `if __name__ == "__main__"` guard (spawn would re-import them)."""

    def __init__(self):
        _quiet_xla()  # the child inherits the environment
        self.proc = subprocess.Popen([sys.executable, "-m", "hlo_passes.numerics"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def call(self, code: bytes, inputs) -> list[np.ndarray]:
        try:
            pickle.dump((code, [np.asarray(x) for x in inputs]), self.proc.stdin)
            self.proc.stdin.flush()
            status, value = pickle.load(self.proc.stdout)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):
            code = self.proc.wait()
            sig = f" (signal {signal.Signals(-code).name})" if code < 0 and -code in signal.valid_signals() else ""
            raise HloError(f"XLA CPU crashed while running the module{sig}; an integer division by zero in"
                           " constants is a known cause") from None
        if status == "error":
            raise HloError(value)
        return value


_worker: _Worker | None = None


def _isolated(code: bytes, inputs) -> list[np.ndarray]:
    global _worker
    if _worker is None or _worker.proc.poll() is not None:
        _worker = _Worker()
    return _worker.call(code, inputs)


def _serve() -> None:
    """The child's loop. Its real stdout carries only replies; stray prints go to stderr."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    while True:
        try:
            code, inputs = pickle.load(requests)
        except EOFError:
            return
        try:
            reply = ("ok", _execute_bytes(code, inputs))
        except HloError as e:
            reply = ("error", e.message)
        pickle.dump(reply, replies)
        replies.flush()


def execute(module, inputs: Sequence[np.ndarray] | None = None, *, seed: int = 0,
            isolate: bool = True) -> list[np.ndarray]:
    """Run the module's entry function on XLA CPU; `inputs` default to `random_inputs(module, seed)`."""
    if inputs is None:
        inputs = random_inputs(module, seed)
    expected = signature(module)
    if len(inputs) != len(expected):
        raise HloError(f"main takes {len(expected)} arguments, {len(inputs)} given")
    code = executable_bytes(module)
    return _isolated(code, inputs) if isolate else _execute_bytes(code, inputs)


@dataclass(frozen=True)
class Comparison:
    """How two runs' outputs differ. `ok` is the verdict; `detail` names the first offending output."""

    ok: bool
    max_abs: float
    max_rel: float
    detail: str

    def __bool__(self) -> bool:
        return self.ok


def compare(a: Sequence[np.ndarray], b: Sequence[np.ndarray], *, rtol: float = 1e-5,
            atol: float = 1e-6) -> Comparison:
    """Outputs agree when every element satisfies |a-b| <= atol + rtol*|b| (NaN matches NaN)."""
    if len(a) != len(b):
        return Comparison(False, np.inf, np.inf, f"{len(a)} outputs vs {len(b)}")
    worst_abs = worst_rel = 0.0
    for i, (x, y) in enumerate(zip(a, b)):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return Comparison(False, np.inf, np.inf,
                              f"output {i}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
        xf, yf = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), \
            y.astype(np.complex128 if y.dtype.kind == "c" else np.float64)
        both_nan = np.isnan(xf) & np.isnan(yf)
        same_inf = np.isinf(xf) & (xf == yf)
        with np.errstate(invalid="ignore"):
            diff = np.where(both_nan | same_inf, 0.0, np.abs(xf - yf))
            diff = np.where(np.isnan(diff), np.inf, diff)
            rel = diff / np.maximum(np.abs(yf), np.finfo(np.float64).tiny)
        bad = diff > atol + rtol * np.abs(np.where(np.isfinite(yf), yf, 0))
        if diff.size:
            worst_abs, worst_rel = max(worst_abs, float(diff.max())), max(worst_rel, float(rel.max()))
        if bad.any():
            idx = tuple(int(k) for k in np.argwhere(bad)[0])
            return Comparison(False, worst_abs, worst_rel,
                              f"output {i} differs at {list(idx)}: {x[idx]} vs {y[idx]} "
                              f"(max abs diff {float(diff.max()):.3g}, {int(bad.sum())} of {bad.size} elements)")
    return Comparison(True, worst_abs, worst_rel, "")


def check_same(before, after, *, seed: int = 0, inputs=None, rtol: float = 1e-5, atol: float = 1e-6,
               isolate: bool = True) -> Comparison:
    """Run two modules on the same inputs and compare: the one-line semantic check tests use."""
    if inputs is None:
        inputs = random_inputs(before, seed)
    return compare(execute(after, inputs, isolate=isolate), execute(before, inputs, isolate=isolate),
                   rtol=rtol, atol=atol)


if __name__ == "__main__":
    _serve()
