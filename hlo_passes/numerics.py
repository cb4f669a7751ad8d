"""Run modules on XLA CPU and compare their results: how every rewrite proves it kept semantics.

Inputs, built from `main`'s signature and the same for the same seed:
- `random_inputs(module, seed)`, the *typical* set: floats ~ N(0, 1), integers uniform in [0, 8),
  booleans at random. Small non-negative integers because integer arguments of real models are ids and
  indices (torch token ids feed an embedding gather; JAX's `jnp.take` turns an out-of-range id into NaN
  rows that causal attention then spreads over the whole output, which would leave nothing to compare).
- `random_inputs(module, seed, edges=True)`, the *edge* set: the typical set with about a quarter of
  every integer argument's elements (rounded at random, so a scalar is an edge one seed in four) replaced
  by the dtype's edges: min, max, 0, 1, -1, the values either side of 2^7, 2^8, 2^15, 2^16, 2^31, 2^32
  and 2^63 where a conversion saturates or wraps, and 2^24+1, 2^53+1, which f32/f64 cannot hold.
  Every edge appears once an argument has four times as many elements as its dtype has edges. These
  stay defined on XLA: gathers and dynamic slices clamp indices, scatters drop out-of-range rows, and
  integer division by 0 or of min by -1 has a StableHLO result.
  With `float_edges=True`, an eighth of every float argument's elements become finite edges too:
  +-0, +-1, +-max, +-the smallest normal and +-the smallest subnormal. Not by default: one `max` in a
  float model makes infs and then NaNs everywhere, and NaN matching NaN proves nothing.
- `input_sets(module, seed, mode)`: what `check_same` and `--check-numerics` run: the typical set, plus
  the edge set when the module has integer arguments (`mode="edges"`, the default), or always, with
  float edges (`mode="float-edges"`), or the typical set alone (`mode="typical"`).

`compare(a, b, rtol, atol)`: integers and booleans must be EQUAL, whatever the tolerances say: a
tolerance is how much a float rewrite may round, and integers do not round. Floats agree elementwise
when |a-b| <= atol + rtol*|b|; NaN matches NaN, an inf only the same inf, and -0.0 equals +0.0 (IEEE
equality: the sign of a zero shows only through 1/x, atan2 or copysign, whose own outputs would differ)
unless `signed_zeros=True`. Complex numbers compare as two floats. Tolerances are finite and >= 0.

`execute(module, inputs)` compiles with XLA CPU and runs. dense_resource constants are inlined first
(XLA accepts only dense ones) and 64-bit types are kept (x64 on: torch token ids are i64). Inputs must
have exactly the dtype and shape of the signature: numpy would otherwise hand XLA the bits of an int32
array as an f32 argument.

XLA CPU kills its whole process with SIGFPE on an integer division of constants by zero, and a
`stablehlo.while` whose condition never turns false runs forever, so by default execution runs in a
worker process (one, kept alive between calls, in its own session so a terminal's Ctrl-C reaches only
`hlo-opt`). A call that does not finish within the timeout (`DEFAULT_TIMEOUT`, 300 s, unless
$HLO_OPT_NUMERICS_TIMEOUT or an explicit `timeout=` says otherwise) kills the worker and raises; so does a
crash, naming the signal; the next call starts a fresh worker. The worker dies with its parent
(PR_SET_PDEATHSIG on Linux, atexit elsewhere), so it never outlives `hlo-opt`.
"""

from __future__ import annotations

import atexit
import dataclasses
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Sequence

import ml_dtypes
import numpy as np

from . import ir
from .diagnostics import HloError
from .worker_messages import read_exactly as _read_exactly
from .worker_messages import read_into as _read_into
from .worker_messages import receive as _receive
from .worker_messages import send as _send

# Compiling and running the tiny models of the tests takes a few seconds here; 5 minutes is far above
# what a real export needs on XLA CPU, and still an answer for someone waiting on a hung check.
DEFAULT_TIMEOUT = 300.0
TIMEOUT_ENV = "HLO_OPT_NUMERICS_TIMEOUT"
INPUT_MODES = ("typical", "edges", "float-edges")
_PARENT_ENV = "HLO_PASSES_NUMERICS_PARENT"
_jax_ready = False


def _quiet_xla() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # XLA's INFO lines about devices are noise here


def _jax():
    global _jax_ready
    _quiet_xla()
    import jax

    if not _jax_ready:
        jax.config.update("jax_platforms", "cpu")
        _jax_ready = True
    if not jax.config.jax_enable_x64:  # every time: code in the same process may have turned it off since
        jax.config.update("jax_enable_x64", True)
    return jax


# ----------------------------------------------------------------------------------- checked settings

def check_tolerance(value, what: str = "tolerance") -> float:
    """`value` as a float when it is a finite number >= 0; otherwise an HloError naming `what`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise HloError(f"{what} must be a finite number >= 0, got {value!r}")
    return number


def check_seed(value, what: str = "seed") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise HloError(f"{what} must be an integer >= 0, got {value!r}")
    return int(value)


def check_timeout(value, what: str = "timeout") -> float:
    """Seconds > 0 (inf: no limit); None means $HLO_OPT_NUMERICS_TIMEOUT, else DEFAULT_TIMEOUT."""
    if value is None:
        env = os.environ.get(TIMEOUT_ENV)
        if env is None or not env.strip():
            return DEFAULT_TIMEOUT
        value, what = env, f"${TIMEOUT_ENV}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or math.isnan(number) or number <= 0:
        raise HloError(f"{what} must be a number of seconds > 0 (inf for no limit), got {value!r}")
    return number


def check_input_mode(value, what: str = "input mode") -> str:
    if value not in INPUT_MODES:
        raise HloError(f"{what} must be one of {', '.join(INPUT_MODES)}; got {value!r}")
    return value


# ----------------------------------------------------------------------------------- signature and inputs

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


def kind(dtype) -> str:
    """'b' boolean, 'i' integer (int4 too), 'f' float (bf16, fp8 too), 'c' complex, '?' anything else."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "b"
    if dtype.kind in "iufc":
        return "i" if dtype.kind in "iu" else dtype.kind
    for probe, k in ((ml_dtypes.iinfo, "i"), (ml_dtypes.finfo, "f")):
        try:
            probe(dtype)
            return k
        except (ValueError, TypeError):
            pass
    return "?"


def int_edge_values(dtype) -> np.ndarray:
    """The values of an integer dtype where arithmetic and conversions misbehave first (sorted)."""
    info = ml_dtypes.iinfo(dtype)
    values = {info.min, info.max, 0, 1, -1}
    for k in (7, 8, 15, 16, 31, 32, 63):  # saturation / wrap-around of i8, u8, i16, u16, i32, u32, i64
        values |= {2**k - 1, 2**k, -2**k, -2**k - 1}
    for k in (24, 53):  # the first integers f32 and f64 cannot represent
        values |= {2**k + 1, -(2**k + 1)}
    return np.array(sorted(v for v in values if info.min <= v <= info.max), dtype)


def float_edge_values(dtype) -> np.ndarray:
    """Finite float edges: +-0, +-1, +-max, +-smallest normal, +-smallest subnormal."""
    info = ml_dtypes.finfo(dtype)
    magnitudes = [0.0, 1.0, float(info.max), float(info.tiny), float(info.smallest_subnormal)]
    return np.array([s * m for m in magnitudes for s in (1.0, -1.0)], np.float64).astype(dtype)


def _scatter_edges(x: np.ndarray, edges: np.ndarray, fraction: int, rng) -> None:
    """Overwrite about 1/fraction of x's elements (at random places) with edges, every edge once before
    any repeats."""
    flat = x.reshape(-1)
    n = flat.size
    count = n // fraction + int(rng.random() < (n % fraction) / fraction)
    if count == 0:
        return
    where = rng.choice(n, count, replace=False)
    values = np.resize(edges[rng.permutation(len(edges))], count)
    flat[where] = values


def random_inputs(module, seed: int = 0, int_range: tuple[int, int] = (0, 8), *, edges: bool = False,
                  float_edges: bool = False) -> list[np.ndarray]:
    """Seeded random arguments for the module's entry function (see the module docstring): the typical
    set, with integer edges mixed in when `edges`, and finite float edges when `float_edges`."""
    seed = check_seed(seed)
    lo, hi = int_range
    if not lo < hi:
        raise HloError(f"int_range must be (low, high) with low < high, got {int_range!r}")
    rng = np.random.default_rng(seed)
    inputs = []
    sig = signature(module)
    for shape, dtype in sig:  # the typical set: the same draws as ever for the same seed
        k = kind(dtype)
        if k == "b":
            inputs.append(rng.integers(0, 2, shape).astype(np.bool_))
        elif k == "i":
            inputs.append(rng.integers(lo, hi, shape).astype(dtype))
        elif k == "c":
            inputs.append((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype))
        else:
            inputs.append(rng.standard_normal(shape).astype(dtype))
    if edges or float_edges:
        rng = np.random.default_rng([seed, 0xED6E5])  # its own stream: the typical draws stay as they are
        for x, (_, dtype) in zip(inputs, sig):
            k = kind(dtype)
            if k == "i" and edges:
                _scatter_edges(x, int_edge_values(dtype), 4, rng)
            elif k == "f" and float_edges:
                _scatter_edges(x, float_edge_values(dtype), 8, rng)
            elif k == "c" and float_edges:
                for view in (x.real, x.imag):  # views into x: write each part back
                    plane = view.copy()
                    _scatter_edges(plane, float_edge_values(plane.dtype), 8, rng)
                    view[...] = plane
    return inputs


def describe_inputs(mode: str = "edges") -> str:
    """How `input_sets` builds its inputs, in words (what `--check-numerics` tells the user)."""
    text = "floats N(0,1), integers in [0, 8), booleans at random"
    if mode == "edges":
        text += "; then again with integer edges (min, max, 0, +-1, 2^k-1 and 2^k around 8/16/32/64 bits)"
    elif mode == "float-edges":
        text += "; then again with integer and float edges (min, max, 0, +-1, 2^k; +-0, +-max, subnormals)"
    return text


def input_sets(module, seed: int = 0, mode: str = "edges") -> list[tuple[str, list[np.ndarray]]]:
    """(label, inputs) pairs to run: the typical set, then the edge set where it adds something."""
    check_input_mode(mode)
    sets = [("typical", random_inputs(module, seed))]
    has_ints = any(kind(dtype) == "i" for _, dtype in signature(module))
    if (mode == "edges" and has_ints) or mode == "float-edges":
        sets.append(("edge", random_inputs(module, seed, edges=True, float_edges=mode == "float-edges")))
    return sets


# ----------------------------------------------------------------------------------- execution

def executable_bytes(module) -> bytes:
    """The module as bytecode XLA accepts: a copy with dense_resource constants made dense."""
    copy = ir.clone(module)
    ir.inline_resources(copy)
    return ir.to_bytecode(copy)


def _run_sets(code: bytes, input_sets_: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """Compile once, run on every input set (in this process)."""
    jax = _jax()
    from jax.extend import backend as jb

    be = jb.get_backend("cpu")
    try:
        exe = be.compile_and_load(code, be.devices()[:1], jb.get_compile_options(1, 1))
    except Exception as e:  # noqa: BLE001 -- XLA reports with its own exception types
        raise HloError(f"XLA cannot compile the module: {str(e).strip().splitlines()[0]}") from None
    results = []
    for inputs in input_sets_:
        args = [jax.device_put(np.asarray(x), be.devices()[0]) for x in inputs]
        try:
            outs = exe.execute(args)
        except Exception as e:  # noqa: BLE001
            raise HloError(f"XLA failed to run the module: {str(e).strip().splitlines()[0]}") from None
        results.append([np.asarray(o) for o in outs])
    return results


def death_message(returncode: int) -> str:
    """Why the worker died, from its exit status, saying only what the status tells."""
    if returncode >= 0:
        return f"XLA CPU's worker process exited with status {returncode} while running the module"
    signo = -returncode
    name = signal.Signals(signo).name if signo in signal.valid_signals() else f"signal {signo}"
    if signo == signal.SIGFPE:
        return ("XLA CPU crashed while running the module (SIGFPE, an arithmetic fault: an integer division"
                " by zero in constants is a known cause)")
    if signo == signal.SIGKILL:
        return ("XLA CPU's worker process was killed (SIGKILL) while running the module: by another"
                " process, or by the kernel when memory ran out")
    if signo == signal.SIGABRT:
        return "XLA CPU crashed while running the module (SIGABRT: it aborted; its message, if any, is above)"
    return f"XLA CPU crashed while running the module ({name})"


def _set_parent_death_signal() -> None:
    """Linux: the kernel SIGKILLs this process when its parent dies (even of SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get(_PARENT_ENV)
    if parent and os.getppid() != int(parent):  # the parent died before prctl took effect
        os._exit(0)


class _Worker:
    """A child Python running `python -m hlo_passes.numerics`: requests and replies are length-prefixed
    pickles over its stdin/stdout. A plain subprocess rather than multiprocessing, so that user scripts
    need no `if __name__ == "__main__"` guard (spawn would re-import them). Its own session: a terminal's
    Ctrl-C goes to `hlo-opt`, which stops the worker, instead of printing the worker's traceback."""

    def __init__(self):
        _quiet_xla()  # the child inherits the environment
        env = dict(os.environ, **{_PARENT_ENV: str(os.getpid())})
        self.proc = subprocess.Popen([sys.executable, "-m", "hlo_passes.numerics"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def call(self, code: bytes, sets, timeout: float) -> list[list[np.ndarray]]:
        deadline = time.monotonic() + timeout
        try:
            _send(self.proc.stdin, (code, [[np.asarray(x) for x in inputs] for inputs in sets]))
            reply = _receive(lambda n: _read_exactly(self.proc.stdout.fileno(), n, deadline))
        except TimeoutError:
            self.stop()
            raise HloError(f"XLA CPU did not finish running the module within {timeout:g} s "
                           f"(--numerics-timeout, or ${TIMEOUT_ENV}); its worker process was stopped") from None
        except BrokenPipeError:
            reply = None
        except BaseException:  # Ctrl-C, SIGTERM: the worker may be mid-run; it must not outlive us
            self.stop()
            raise
        if reply is None:
            self.proc.wait()
            message = death_message(self.proc.returncode)
            self.stop()
            raise HloError(message)
        status, value = reply
        if status == "error":
            raise HloError(value)
        return value


_worker: _Worker | None = None


def _stop_worker() -> None:
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


atexit.register(_stop_worker)


def start_worker() -> None:
    """Start the worker process now if none is running, without waiting for it: it imports jax and sets up
    XLA CPU (~1 s) while the caller goes on (the torch front end calls this before tracing, so that its check
    finds the worker ready)."""
    global _worker
    if _worker is None or _worker.proc.poll() is not None:
        _stop_worker()
        _worker = _Worker()


def _isolated(code: bytes, sets, timeout: float) -> list[list[np.ndarray]]:
    start_worker()
    return _worker.call(code, sets, timeout)


def _serve() -> None:
    """The worker's loop. Its real stdout carries only replies; stray prints go to stderr. SIGINT is
    ignored (the parent decides when the worker stops); the parent's death kills it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    from jax.extend import backend

    _jax()
    backend.get_backend("cpu")  # set up before the first request arrives (see `start_worker`)
    while True:
        request = _receive(lambda n: _read_into(requests, n))
        if request is None:
            return
        code, sets = request
        try:
            reply = ("ok", _run_sets(code, sets))
        except HloError as e:
            reply = ("error", e.message)
        _send(replies, reply)


def _describe(shape, dtype) -> str:
    return f"{np.dtype(dtype).name}[{', '.join(map(str, shape))}]"


def _checked_inputs(module, inputs) -> list[np.ndarray]:
    expected = signature(module)
    if len(inputs) != len(expected):
        raise HloError(f"main takes {len(expected)} arguments, {len(inputs)} given")
    arrays = [np.asarray(x) for x in inputs]
    for i, (x, (shape, dtype)) in enumerate(zip(arrays, expected)):
        if x.dtype != dtype or x.shape != shape:
            raise HloError(f"argument {i} of main: expected {_describe(shape, dtype)}, "
                           f"given {_describe(x.shape, x.dtype)}")
    return arrays


def execute_many(module, sets: Sequence[Sequence[np.ndarray]], *, isolate: bool = True,
                 timeout: float | None = None) -> list[list[np.ndarray]]:
    """Compile the module once and run it on each input set; `timeout` (seconds, isolated runs only)
    covers the compile and all runs."""
    sets = [_checked_inputs(module, inputs) for inputs in sets]
    timeout = check_timeout(timeout)
    code = executable_bytes(module)
    return _isolated(code, sets, timeout) if isolate else _run_sets(code, sets)


def execute(module, inputs: Sequence[np.ndarray] | None = None, *, seed: int = 0, isolate: bool = True,
            timeout: float | None = None) -> list[np.ndarray]:
    """Run the module's entry function on XLA CPU; `inputs` default to `random_inputs(module, seed)`."""
    if inputs is None:
        inputs = random_inputs(module, seed)
    return execute_many(module, [inputs], isolate=isolate, timeout=timeout)[0]


# ----------------------------------------------------------------------------------- comparison

SIDES = "got = after the pass (the module under test), expected = before it (the reference)"


@dataclass(frozen=True)
class Comparison:
    """How two runs' outputs differ. `ok` is the verdict; `detail` names the first offending output."""

    ok: bool
    max_abs: float
    max_rel: float
    detail: str

    def __bool__(self) -> bool:
        return self.ok


def _ints_differ(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int, float]:
    """(mismatch mask, max |x-y|, max |x-y|/max(|y|, 1)) for integer or boolean arrays, exact: 64-bit
    differences go through Python integers (float64 would round them, int64 would wrap)."""
    bad = x != y
    if not bad.any():
        return bad, 0, 0.0
    if x.dtype == np.bool_:
        return bad, 1, 1.0
    wide = np.int64 if x.dtype.itemsize < 8 else object
    xs, ys = x[bad].astype(wide), y[bad].astype(wide)
    diff = np.abs(xs - ys)
    return bad, int(diff.max()), float(np.max(diff / np.maximum(np.abs(ys), 1)))


def _floats_differ(x: np.ndarray, y: np.ndarray, rtol: float, atol: float, signed_zeros: bool):
    """(bad mask, |x-y| array) for float arrays: NaN matches NaN, an inf only itself."""
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        special = (np.isnan(xf) & np.isnan(yf)) | (np.isinf(xf) & (xf == yf))
        diff = np.where(special, 0.0, np.abs(xf - yf))
        diff = np.where(np.isnan(diff), np.inf, diff)
        bad = diff > atol + rtol * np.abs(np.where(np.isfinite(yf), yf, 0))
    if signed_zeros:
        bad |= (xf == 0) & (yf == 0) & (np.signbit(xf) != np.signbit(yf))
    return bad, diff


def compare(a: Sequence[np.ndarray], b: Sequence[np.ndarray], *, rtol: float = 1e-5, atol: float = 1e-6,
            signed_zeros: bool = False) -> Comparison:
    """`a` (got) against `b` (expected; `SIDES`): integers and booleans exactly; floats |a-b| <= atol + rtol*|b|
    (NaN matches NaN, inf the same inf; -0.0 == +0.0 unless signed_zeros); complex as two floats."""
    rtol, atol = check_tolerance(rtol, "rtol"), check_tolerance(atol, "atol")
    if len(a) != len(b):
        return Comparison(False, np.inf, np.inf, f"{len(a)} outputs vs {len(b)}")
    worst_abs = worst_rel = 0.0
    for i, (x, y) in enumerate(zip(a, b)):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return Comparison(False, np.inf, np.inf,
                              f"output {i}: {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}")
        k = kind(x.dtype)
        if k in "bi?":
            if k == "?":  # no arithmetic known: bit-exact
                x, y = x.view(f"u{x.dtype.itemsize}"), y.view(f"u{y.dtype.itemsize}")
            bad, big, rel = _ints_differ(x, y)
            worst_abs, worst_rel = max(worst_abs, float(big)), max(worst_rel, rel)
            why = f"integers must match exactly; max abs diff {big}"
            parts = [(x, y, bad, why)]
        else:
            planes = [("", x, y)] if k != "c" else [(" (real part)", x.real, y.real),
                                                    (" (imaginary part)", x.imag, y.imag)]
            parts = []
            for label, xp, yp in planes:
                bad, diff = _floats_differ(xp, yp, rtol, atol, signed_zeros)
                if diff.size:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        scale = np.maximum(np.abs(yp.astype(np.float64)), np.finfo(np.float64).tiny)
                        rel = np.where(diff == 0, 0.0, diff / np.where(np.isnan(scale), 1.0, scale))
                    worst_abs = max(worst_abs, float(diff.max()))
                    worst_rel = max(worst_rel, float(rel.max()))
                parts.append((xp, yp, bad, f"max abs diff {float(diff.max()) if diff.size else 0:.3g}{label}"))
        for xp, yp, bad, why in parts:
            if bad.any():
                idx = tuple(int(j) for j in np.argwhere(bad)[0])
                return Comparison(False, worst_abs, worst_rel,
                                  f"output {i} differs at {list(idx)}: got {xp[idx]}, expected {yp[idx]} "
                                  f"({why}, {int(bad.sum())} of {bad.size} elements)")
    return Comparison(True, worst_abs, worst_rel, "")


def compare_sets(got: Sequence[Sequence[np.ndarray]], want: Sequence[Sequence[np.ndarray]],
                 labels: Sequence[str], **tolerances) -> Comparison:
    """`compare` on each input set's outputs; the first difference is reported with its set's label."""
    worst_abs = worst_rel = 0.0
    for label, g, w in zip(labels, got, want):
        result = compare(g, w, **tolerances)
        if not result.ok:
            return dataclasses.replace(result, detail=f"on the {label} inputs, {result.detail}"
                                       if label != "typical" else result.detail)
        worst_abs, worst_rel = max(worst_abs, result.max_abs), max(worst_rel, result.max_rel)
    return Comparison(True, worst_abs, worst_rel, "")


def check_same(before, after, *, seed: int = 0, inputs=None, rtol: float = 1e-5, atol: float = 1e-6,
               isolate: bool = True, input_mode: str = "edges", signed_zeros: bool = False,
               timeout: float | None = None) -> Comparison:
    """Run two modules on the same inputs and compare: the one-line semantic check tests use. Without
    explicit `inputs`, on every set of `input_sets(before, seed, input_mode)`. A difference reads as in
    `--check-numerics`: `got` is `after`'s output, `expected` is `before`'s."""
    check_tolerance(rtol, "rtol"), check_tolerance(atol, "atol")
    sets = [("typical", inputs)] if inputs is not None else input_sets(before, seed, input_mode)
    labels, arrays = [s[0] for s in sets], [s[1] for s in sets]
    want = execute_many(before, arrays, isolate=isolate, timeout=timeout)
    got = execute_many(after, arrays, isolate=isolate, timeout=timeout)
    return compare_sets(got, want, labels, rtol=rtol, atol=atol, signed_zeros=signed_zeros)


if __name__ == "__main__":
    _serve()
