"""The only door to jaxlib's MLIR bindings.

Everything else in hlo_passes imports MLIR through here (`from hlo_passes.ir import mlir, stablehlo`), so
that the private corners of jaxlib we rely on (the dialect registry hook, the bytecode layout of resource
blobs) sit in one file and a jaxlib upgrade is checked in one place.

What lives here and why:
- `make_context()`: a bare `Context()` knows only `builtin`; JAX's registry hook adds the rest.
- `load` / `save`: MLIR text, MLIR bytecode and VHLO portable artifacts (what `jax.export` writes), told
  apart by their first bytes. `save` never mutates the module it is given and writes files atomically.
- `to_numpy` / `from_numpy`: constants in both `dense<...>` and `dense_resource<...>` form. jaxlib has no
  reader for resource blobs, so we write the constant alone as bytecode (where the blob is stored raw)
  and take the bytes from its resource section: ~0.4 s for 256 MB, ten times faster than going via text.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile

from jaxlib.mlir import ir as mlir
from jaxlib.mlir import passmanager
from jaxlib.mlir._mlir_libs import _jax_mlir_ext
from jaxlib.mlir._mlir_libs._mlir import rewrite as _rewrite  # private: MLIR's greedy driver for Python
from jaxlib.mlir.dialects import arith, chlo, func, stablehlo

from .. import files, resources, safe_parse
from ..diagnostics import HloError, SourceLoc

__all__ = [
    "mlir", "stablehlo", "chlo", "func", "arith", "passmanager", "MLIRError",
    "make_context", "load", "parse", "save", "clone", "as_operation", "to_numpy", "from_numpy",
    "np_dtype", "known_dtype", "element_type", "inline_resources", "error_from_mlir", "module_ops", "op_count",
    "ops_named",
    "downcast", "apply_greedily", "sweep", "NotConverged",
]

MLIRError = mlir.MLIRError
_BYTECODE_MAGIC = b"ML\xefR"
_PASSES_REGISTERED = False
FORMATS = ("text", "bytecode", "portable")


def make_context() -> mlir.Context:
    """A context that knows every dialect JAX and torch-mlir emit (stablehlo, chlo, sdy, func, arith...).

    Each loaded module gets its own context: MLIR renames a resource blob whose name is already taken in
    the context (`w` becomes `w_1`), so sharing one context would quietly rename weights.
    """
    global _PASSES_REGISTERED
    registry = mlir.DialectRegistry()
    _jax_mlir_ext.register_dialects(registry)
    ctx = mlir.Context()
    ctx.append_dialect_registry(registry)
    ctx.load_all_available_dialects()
    stablehlo.register_dialect(ctx)
    chlo.register_dialect(ctx)
    if not _PASSES_REGISTERED:  # process-global in MLIR: registering twice aborts
        stablehlo.register_stablehlo_passes()
        _PASSES_REGISTERED = True
    return ctx


def quiet_unregistered_dialect(namespace: str) -> None:
    """Stop the bindings from searching for a Python module of an unregistered dialect (`tfl`) each time they
    wrap one of its ops: MLIR caches only the searches that succeed, so every `value.owner` of a tfl op cost
    a failed import (a quarter of legalize-tflite's time at 8x1024). An empty module under each search prefix
    is found once; the ops stay generic OpViews."""
    import types

    from jaxlib.mlir._mlir_libs._mlir import globals as _globals

    for prefix in _globals.dialect_search_modules:
        name = f"{prefix}.{namespace}"
        sys.modules.setdefault(name, types.ModuleType(name, f"placeholder: {namespace} has no Python bindings"))


# ----------------------------------------------------------------------------------------------- errors

class captured_stderr:
    """Capture what C++ writes to file descriptor 2 (MLIR's option parser reports there, not through
    diagnostics) so that it can become part of one clean error message instead of stray lines."""

    def __enter__(self):
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace").strip()
        self._file.close()
        return False


def error_from_mlir(err: Exception, filename: str | None = None, what: str | None = None) -> HloError:
    """Turn an `MLIRError` into one `HloError` located at its first diagnostic."""
    diags = list(getattr(err, "error_diagnostics", []) or [])
    if not diags:
        text = str(err).strip()
        return HloError(f"{what}: {text}" if what else text)
    first = diags[0]
    loc = SourceLoc.parse(str(first.location), filename)
    notes = []
    for d in [*first.notes, *diags[1:]]:
        dloc = SourceLoc.parse(str(d.location), filename)
        notes.append(f"{dloc}: {d.message}" if dloc else d.message)
    message = first.message if not what else f"{what}: {first.message}"
    return HloError(message, loc, tuple(notes))


# ------------------------------------------------------------------------------------------ load / save

def _portable_producer(data: bytes) -> bool:
    """True for bytecode written by StableHLO's portable-artifact serializer (producer `StableHLO_v...`)."""
    # header: magic, version (prefix varint, one byte for every version so far), NUL-terminated producer
    return data[:4] == _BYTECODE_MAGIC and data[5:16] == b"StableHLO_v"


def _embedded_artifact(data: bytes) -> bytes | None:
    """The VHLO artifact inside a serialized `jax.export.Exported` (a flatbuffer with no file identifier).

    Flatbuffer byte vectors are prefixed by their uint32 length, so the artifact is found by its magic and
    producer and cut out by that length; no need to import jax to read the wrapper.
    """
    if data[:4] == _BYTECODE_MAGIC:
        return None
    at = data.find(_BYTECODE_MAGIC)
    while at >= 4:
        size = int.from_bytes(data[at - 4:at], "little")
        if _portable_producer(data[at:at + 16]) and at + size <= len(data):
            return data[at:at + size]
        at = data.find(_BYTECODE_MAGIC, at + 1)
    return None


def is_binary(data: bytes) -> bool:
    """MLIR bytecode (portable artifacts included), as opposed to text."""
    return data[:4] == _BYTECODE_MAGIC


def parse(data: str | bytes, *, filename: str = "-", context: mlir.Context | None = None) -> mlir.Module:
    """Parse MLIR text, MLIR bytecode or a VHLO portable artifact held in memory (any bytes at all: see
    `checked_parse`)."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return checked_parse(raw, filename, context)


def checked_parse(raw: bytes, filename: str, context: mlir.Context | None = None,
                  path: str | None = None) -> mlir.Module:
    """Parse untrusted bytes so that no byte string can take the process down (see safe_parse.py): text
    is checked here first (UTF-8, strings, nesting) and parsed on a deep stack; binary inputs are read
    once in a forked child before they are read here. `path`: text whose file C++ reads again by name, so
    that locations carry the file's name."""
    if b"\0" in raw[:64]:  # a wrapper (flatbuffers start with offsets); text never has NULs up front
        raw = _embedded_artifact(raw) or raw
    if is_binary(raw):
        safe_parse.check_in_child(lambda: _check_binary(raw, filename), filename,
                                  spawn_args=[filename], data=raw)
        path = None
    else:
        safe_parse.check_text(raw, filename)
    module = _parse_checked(raw, filename, context or make_context(), path)
    if not is_binary(raw):
        resources.check_text(module, raw, filename)
    elif not _portable_producer(raw):
        sizes = resources.bytecode_blob_sizes(raw)
        if sizes:
            resources.check_module(module, sizes, filename)
    return module


def _check_binary(raw: bytes, filename: str) -> None:
    """What the child does with a binary input (also `safe_parse._child_main`'s work)."""
    ctx = make_context()
    ctx.enable_multithreading(False)  # a forked child has none of the parent's pool threads
    safe_parse.check_module(_parse_checked(raw, filename, ctx, None), filename)


def _deserialize(ctx: mlir.Context, raw: bytes, filename: str) -> mlir.Module:
    """A VHLO artifact's reader, whose reasons (`invalid section ID: 103`) go only to C++'s stderr: they
    become the one error message instead of stray `loc("-":0:0): error:` lines before it."""
    with captured_stderr() as cpp:
        try:
            return stablehlo.deserialize_portable_artifact(ctx, raw)
        except (MLIRError, ValueError, RuntimeError) as e:
            failure = str(e)
    reasons = [re.sub(r"^(loc\(.*?\):\s*)?error:\s*", "", line.strip()) for line in cpp.text.splitlines()]
    why = "; ".join(dict.fromkeys(r for r in reasons if r)) or failure
    raise HloError(f"cannot read portable artifact: {why}", SourceLoc(filename, 1, 1))


BACKEND_DIALECTS = ("tfl",)  # unregistered dialects our backends emit (legalize-tflite's ops)


def _allow_backend_ops(ctx: mlir.Context, raw: bytes) -> bool:
    """A legalized module holds `tfl.*` ops, a dialect jaxlib does not know: let the context take them (and
    only them: `_refuse_unknown_dialects` checks after the parse). A cheap byte search decides."""
    if any(name.encode() in raw for name in BACKEND_DIALECTS):
        ctx.allow_unregistered_dialects = True
        return True
    return False


def _refuse_unknown_dialects(module, filename: str) -> None:
    """With unregistered ops allowed, an op of any unknown dialect would parse: only ours may."""
    bad = []

    def visit(op):
        if not op.context.is_registered_operation(op.name) and op.name.split(".", 1)[0] not in BACKEND_DIALECTS:
            bad.append(op)
            return mlir.WalkResult.INTERRUPT
        return mlir.WalkResult.ADVANCE

    as_operation(module).walk(visit)
    if bad:
        op = bad[0]
        raise HloError(f"operation '{op.name}' is of an unknown dialect (this build knows stablehlo, chlo, func,"
                       f" arith, ... and the backends' {', '.join(BACKEND_DIALECTS)})",
                       SourceLoc.parse(str(op.location), filename))


def _parse_checked(raw: bytes, filename: str, ctx: mlir.Context, path: str | None) -> mlir.Module:
    """The bindings' reader, on bytes that passed `checked_parse`'s checks."""
    if _allow_backend_ops(ctx, raw):
        module = _parse_checked_inner(raw, filename, ctx, path)
        _refuse_unknown_dialects(module, filename)
        return module
    return _parse_checked_inner(raw, filename, ctx, path)


def _parse_checked_inner(raw: bytes, filename: str, ctx: mlir.Context, path: str | None) -> mlir.Module:
    try:
        if _portable_producer(raw):
            return _deserialize(ctx, raw, filename)
        if is_binary(raw):  # the bytecode reader needs no deep stack, and a corrupt file can make it recurse
            return mlir.Module.parse(raw, ctx)  # without end: that must overflow soon, in the child
        if path is not None:  # C++ reads the file: locations carry its name
            return safe_parse.deep_stack(lambda: mlir.Module.parseFile(path, ctx))
        return safe_parse.deep_stack(lambda: mlir.Module.parse(raw, ctx))
    except MLIRError as e:
        raise error_from_mlir(e, filename) from None
    except (ValueError, RuntimeError) as e:  # the artifact reader reports with plain exceptions
        raise HloError(f"cannot read portable artifact: {e}", SourceLoc(filename, 1, 1)) from None


file_error = files.file_error  # moved to files.py (no MLIR needed); kept here for old callers


def load(source: str | os.PathLike | bytes, *, context: mlir.Context | None = None) -> mlir.Module:
    """Load a module from a path (or from bytes already read): text, bytecode or portable artifact."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse(bytes(source), context=context)
    name = str(source)
    regular = files.regular_input(name)  # a FIFO or a device is read once, never again by name
    raw = files.read_input(name)
    return checked_parse(raw, name, context, name if regular else None)


def as_operation(module) -> mlir.Operation:
    """The `builtin.module` operation of a Module or of an Operation/OpView."""
    if isinstance(module, mlir.Module):
        return module.operation
    return getattr(module, "operation", module)


def clone(module) -> mlir.Operation:
    """A detached deep copy of a module (attributes, and so weights, are shared: they are immutable)."""
    return as_operation(module).clone(ip=False)


def ops_named(module, name: str) -> list[mlir.Operation]:
    """Every op called `name` in `module` (nested regions included), in walk order, collected before the
    caller changes anything (rewriting while walking would touch erased ops)."""
    found = []

    def visit(op):
        if op.name == name:
            found.append(op)
        return mlir.WalkResult.ADVANCE

    as_operation(module).walk(visit)
    return found


def module_ops(module) -> list[mlir.Operation]:
    """The operations at the top level of a module (functions, globals)."""
    return list(as_operation(module).regions[0].blocks[0].operations)


def op_count(op) -> int:
    """How many ops `op` holds, itself and every nested op included (one walk)."""
    count = [0]

    def visit(_):
        count[0] += 1
        return mlir.WalkResult.ADVANCE

    as_operation(op).walk(visit)
    return count[0]


def local_text(op) -> bytes:
    """One op printed on its own (local SSA names, no debug info), as bytes (not decoded): a key for
    comparing bodies. Why not `str(op)`: for an op inside a module that prints with the whole module's
    state, a cost per call that grows with the module (outlining N composites became quadratic)."""
    return as_operation(op).get_asm(use_local_scope=True, assume_verified=True, binary=True)


def to_text(module, *, debuginfo: bool = False, generic: bool = False, elide_above: int | None = None,
            verified: bool = False) -> str:
    return _print(module, debuginfo, generic, elide_above, verified).decode()


def _print(module, debuginfo: bool, generic: bool, elide_above: int | None, verified: bool) -> bytes:
    """Printed straight to bytes. `verified` skips the printer's own verifier run (a quarter of the time)
    for a module the caller has just verified; an unverified invalid module prints in generic form."""
    buf = io.BytesIO()
    as_operation(module).print(
        file=buf, binary=True, enable_debug_info=debuginfo, print_generic_op_form=generic,
        large_elements_limit=elide_above, assume_verified=verified)
    return buf.getvalue()


def to_bytecode(module) -> bytes:
    buf = io.BytesIO()
    as_operation(module).write_bytecode(buf)
    return buf.getvalue()


def _check_target_version(version: str) -> str:
    current, minimum = stablehlo.get_current_version(), stablehlo.get_minimum_version()
    if version in ("current", ""):
        return current
    if version == "minimum":
        return minimum
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise HloError(f"target version '{version}' is not of the form X.Y.Z (this build: {minimum} to {current})")

    def key(v):
        return tuple(int(p) for p in v.split("."))

    if not key(minimum) <= key(version) <= key(current):
        raise HloError(f"target version {version} is outside what this build can write ({minimum} to {current})")
    return version


def serialize(module, format: str = "text", *, target_version: str = "current",
              debuginfo: bool = False, generic: bool = False, verified: bool = False) -> bytes:
    """The module as bytes in `format`; the module itself is left as it was."""
    if format == "text":
        return _print(module, debuginfo, generic, None, verified)
    if format == "bytecode":
        return to_bytecode(module)
    if format == "portable":
        version = _check_target_version(target_version)
        module = _portable_copy(module)
        with captured_stderr() as cpp:  # the serializer reports why only on C++'s stderr
            try:  # the _str variant parses a copy; the Module variant would rewrite ours into VHLO in place
                return stablehlo.serialize_portable_artifact_str(to_bytecode(module), version)
            except (MLIRError, ValueError, RuntimeError) as e:
                failure = str(e)
        why = " ".join(cpp.text.replace('loc("-":0:0): ', "").split()) or failure
        m = re.search(r"dialect '([\w.]+)' is unknown", why)
        if m:  # the serializer's words are about contexts and command-line flags: say what it means here
            why = f"the module holds {m.group(1)} ops other than tensor constants"
        raise HloError(f"cannot write a portable artifact (VHLO has forms for stablehlo, chlo and func ops"
                       f" only): {why}")
    raise HloError(f"unknown output format '{format}' (expected one of {', '.join(FORMATS)})")


write_atomic = files.write_atomic  # moved to files.py (modes, symlinks, signals, protected inputs)


def save(module, path: str | os.PathLike | None = None, *, format: str = "text", target_version: str = "current",
         debuginfo: bool = False, generic: bool = False) -> bytes | None:
    """Save `module` to `path` atomically, or return its bytes when `path` is None."""
    data = serialize(module, format, target_version=target_version, debuginfo=debuginfo, generic=generic)
    if path is None:
        return data
    write_atomic(path, data)
    return None


# ------------------------------------------------------------------------------ types, constants <-> numpy

from .constants import (  # noqa: E402,F401 -- re-exported: hlo_passes.ir is the one door
    _DTYPES, _portable_copy, _resource_blob, downcast, element_type, from_numpy, inline_resources, known_dtype,
    np_dtype,
    splat, tensor_type, to_numpy,
)


# ------------------------------------------------------------------------------------- rewrite driver

class NotConverged(Exception):
    """MLIR's greedy driver gave up: rewrites were still happening after `max_iterations` sweeps."""


def apply_greedily(module, rules, *, max_iterations: int = 10, fold: bool = True, top_down: bool = True,
                   max_rewrites: int | None = None) -> None:
    """Apply `rules` (root op name, fn, benefit) to a fixpoint with MLIR's greedy driver.

    `fn(op)` only matches: it returns None when nothing applies, else a `rewrite()` thunk that runs with
    the insertion point before `op` and `op`'s location active and returns the values that replace
    `op`'s results. The driver owns the worklist, erases ops that become dead, folds ops with registered
    folders (`fold`) and dedups constants. It lives in jaxlib's private `_mlir.rewrite`; this function is
    the one place that knows that.

    A pair of patterns that undo each other would loop forever (the users of each replaced op are queued
    again): `max_rewrites` (default 16 per op, at least 10k) bounds the rewrites of one call, and both
    bounds end in `NotConverged`.
    """
    if _greedy(module, rules, max_iterations, fold, top_down, max_rewrites):
        raise NotConverged("pattern application failed to converge")


def sweep(module, rules, *, fold: bool = True, max_rewrites: int | None = None) -> bool:
    """One top-down sweep of MLIR's greedy driver with `rules` (as in `apply_greedily`); True when it
    changed anything (a rewrite, a fold, a dead op erased), False when `module` was already a fixpoint.

    Within a sweep the driver re-queues what a change may affect: the users of a replaced op, an op whose
    operand was replaced, the producer of an erased op's operand once it has one user left. It never
    queues an op built from Python (no listener sees it): the op a rewrite returns is shown to the rules
    right after that rewrite instead (`_greedy`). Nor does it queue an op whose match depends on anything
    further away (another op's use count, an op two levels up): the pattern driver decides from that
    whether a confirming sweep is needed (patterns/driver.py, `Pattern.local`). Rewrites beyond
    `max_rewrites` raise `NotConverged`.
    """
    return _greedy(module, rules, 1, fold, True, max_rewrites)


def _greedy(module, rules, max_iterations, fold, top_down, max_rewrites) -> bool:
    """MLIR's driver for at most `max_iterations` sweeps: True when the last sweep still changed something
    (not converged), False at a fixpoint. Too many rewrites raise `NotConverged`."""
    rewrites = [0]
    by_root: dict[str, list] = {}
    for root, fn, _benefit in sorted(rules, key=lambda r: -r[2]):
        by_root.setdefault(root, []).append(fn)

    def built(value) -> bool:
        """Made by the rewrite that returns it: no use yet (an existing value the rewrite returns has the
        matched op as a user), and no more than one result (the rewrite returned that one)."""
        made = value.owner
        return not isinstance(made, mlir.Block) and len(made.results) == 1 and next(iter(value.uses), None) is None

    def again(value, depth: int = 0) -> None:
        """Give the rules a look at the op a rewrite built for `value`, now that the matched op is gone.
        MLIR never queues an op built from Python (no listener sees it): without this, a rewrite whose
        result matches a rule again (dot(tr(a), tr(b)) read through one transpose, then the other) waits
        for the next sweep. The op is not on the driver's worklist, so replacing and erasing it here is
        safe; its users are (they were the matched op's users), and they will see the new value."""
        made = value.owner.operation
        for fn in by_root.get(made.name, ()):
            rewrite = fn(made)
            if rewrite is None:
                continue
            with mlir.InsertionPoint(made), made.location:
                (out,) = rewrite()
            fresh = depth < 8 and built(out)
            value.replace_all_uses_with(out)
            made.erase()
            rewrites[0] += 1
            if fresh:
                again(out, depth + 1)
            return

    op = as_operation(module)
    budget = [max_rewrites]  # None: 16 per op, at least 10k; the ops are counted only if 10k is reached
    floor = 10_000 if max_rewrites is None else min(10_000, max_rewrites)
    stopped = [False]

    def exhausted() -> bool:
        if budget[0] is None:
            budget[0] = max(10_000, 16 * op_count(op))
        stopped[0] = rewrites[0] >= budget[0]
        return stopped[0]

    def wrap(fn):
        def callback(op, rewriter):
            if rewrites[0] >= floor and exhausted():
                return True  # no more rewrites: the driver finishes its sweep, and we report it below
            rewrite = fn(op)
            if rewrite is None:
                return True  # "failure": the pattern did not apply
            with rewriter.ip, op.location:
                out = list(rewrite())
            fresh = [v for i, v in enumerate(out) if built(v) and v not in out[:i]]
            rewriter.replace_op(op, out)
            rewrites[0] += 1
            for v in fresh:
                again(v)
            return False
        return callback

    with op.context:
        patterns = _rewrite.RewritePatternSet()
        for root, fn, benefit in rules:
            patterns.add(root, wrap(fn), benefit)
        config = _rewrite.GreedyRewriteConfig()
        config.max_iterations = max_iterations
        config.enable_folding = fold
        config.use_top_down_traversal = top_down
        try:
            _rewrite.apply_patterns_and_fold_greedily(op, patterns.freeze(), config)
        except RuntimeError as e:
            if "converge" not in str(e):
                raise
            if stopped[0]:
                raise NotConverged(f"more than {budget[0]} rewrites") from None
            return True
    if stopped[0]:
        raise NotConverged(f"more than {budget[0]} rewrites")
    return False


# ------------------------------------------------------------------------------------------ guards

def _guarded_erase(self, _erase=mlir._OperationBase.erase):
    """`op.erase()` that refuses while a result of `op` still has uses.

    MLIR frees the op and leaves its users pointing at freed memory: the process dies later, at the next
    verify or print, far from the pass that did it (a SIGSEGV, no message). One bad line in a user's pass
    must end in an error that names the op, not in a dead `hlo-opt`.
    """
    for i, result in enumerate(self.results):
        users = [use.owner for use in result.uses]
        if users:
            first = users[0]
            first = getattr(first, "operation", first)
            raise RuntimeError(
                f"cannot erase {self.name} at {self.location}: its result #{i} still has {len(users)} use(s)"
                f" (first: {first.name}); replace its uses (value.replace_all_uses_with) before erasing it")
    _erase(self)


mlir._OperationBase.erase = _guarded_erase
