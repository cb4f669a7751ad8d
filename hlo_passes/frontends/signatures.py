"""Several entry points of one model (prefill, decode) -> ONE StableHLO module, weights held once.

    from hlo_passes.frontends.signatures import from_torch, from_jax
    m = from_torch(model, signatures={"prefill": (tokens, input_pos, kv_cache), "decode": (...)})
    m = from_jax({"prefill": forward, "decode": forward}, {"prefill": args, "decode": args}, params=params)

Why one module: an on-device LLM ships as one `.tflite` whose signatures share the weights and the KV cache
layout, and the passes should see (and fuse, quantize) both entry points in one run. The TFLite exporter makes
every public function a signature, names its tensors from `jax.arg_info` / `jax.result_info`, and shares
buffers by content; this module gives it exactly that:
- one public function per signature, named after it; the exporters' private helpers are renamed
  `<signature>.<name>` so that two exports never clash;
- inputs and outputs named from the example pytrees (`tokens`, `input_pos`, `kv_cache_k_0`, `logits`, ...):
  argument names from the callable's Python signature, then dict keys and sequence indices joined by `_`;
- each weight ONCE in the module: every constant of >= SHARE_BYTES bytes is keyed by its type and content,
  and all its uses point at one `dense_resource` blob (the first one met, or a new blob for a `dense`
  constant used by more than one function). MLIR prints (and writes as bytecode) only the blobs the ops
  reference, so the module is as large as one signature's, not the sum (see `weight_stats`).

Weights in, both front ends alike: they are lowered as the functions' leading arguments (torch: parameters and
buffers, `export_lifted`; JAX: `params`), so the exported modules stay small, and are then bound here to
resource blobs that reference the torch tensors' / numpy arrays' memory without a copy. The torch export is
checked on XLA before binding, weights as arguments (`check_signatures`).
"""

from __future__ import annotations

import hashlib
import inspect
import re
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..diagnostics import HloError
from ..heap import release_freed_heap
from ..ir import mlir
from ..ir import stablehlo as hlo

__all__ = ["from_torch", "from_jax", "merge", "bind_weights", "entry_of", "check_module", "check_signatures",
           "share_weights", "weight_stats", "select_signature", "leaf_name", "SHARE_BYTES"]

SHARE_BYTES = 64  # constants this large count as weights: hashed, shared, and dense ones become blobs


# ------------------------------------------------------------------------------------------------ names

def _key_text(key) -> str:
    """One step of a pytree path (torch's or JAX's key objects: dict key, sequence index, attribute)."""
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key).strip(".[]'\"")


def leaf_name(prefix: str, path) -> str:
    """`("kv_cache", ["k_0"])` -> `kv_cache_k_0`: tensor names as litert-torch's generative API writes them."""
    parts = [prefix] if prefix else []
    parts += [_key_text(k) for k in path]
    name = "_".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", name) or "tensor"


def _arg_names(fn, count: int, skip: int = 0) -> list[str]:
    """The Python parameter names of `fn` for its first `count` positional arguments after `skip`."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[skip:skip + count]]
    return names + [f"args_{i}" for i in range(len(names), count)]


def _result_prefix(path) -> tuple[str, list]:
    """Outputs: a top-level dict names its entries; a top-level tuple/list gives `output_i`."""
    if not path:
        return "output_0", []
    first = path[0]
    if hasattr(first, "key"):
        return _key_text(first), list(path[1:])
    return f"output_{_key_text(first)}", list(path[1:])


def _unique(names: list[str], what: str, signature: str) -> list[str]:
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise HloError(f"signature '{signature}': {what} names clash after flattening: {', '.join(dupes)}")
    return names


# ---------------------------------------------------------------------------------------------- merging

@dataclass
class Part:
    """One signature's export: its MLIR text, the names of its inputs and outputs, and (JAX) the leading
    arguments to bind to weights: `(resource name, numpy array)` each."""
    signature: str
    text: str | bytes  # MLIR text or bytecode
    inputs: list[str]
    outputs: list[str]
    bound: list[tuple[str, np.ndarray]] | None = None


def _fname(fn) -> str:
    return mlir.StringAttr(fn.attributes["sym_name"]).value


def _is_public(fn) -> bool:
    return "sym_visibility" not in fn.attributes or \
        mlir.StringAttr(fn.attributes["sym_visibility"]).value == "public"


def _functions(module) -> list:
    return [op for op in ir.module_ops(module) if op.operation.name == "func.func"]


def _rename(module, part: Part) -> object:
    """Rename the one public function to the signature and the private ones to `<signature>.<name>`."""
    funcs = _functions(module)
    public = [f for f in funcs if _is_public(f)]
    if len(public) != 1:
        raise HloError(f"signature '{part.signature}': the export has {len(public)} public functions, expected 1")
    entry = public[0]
    for fn in funcs:
        old = _fname(fn)
        new = part.signature if fn == entry else f"{part.signature}.{old}"
        if old != new:
            mlir.SymbolTable.replace_all_symbol_uses(old, new, ir.as_operation(module))
            fn.attributes["sym_name"] = mlir.StringAttr.get(new)
    return entry


def _with_names(fn, attr_name: str, key: str, names: list[str]) -> None:
    """Set `key = name` in each entry of the function's arg_attrs / res_attrs, keeping other entries."""
    old = list(mlir.ArrayAttr(fn.attributes[attr_name])) if attr_name in fn.attributes else []
    dicts = []
    for i, name in enumerate(names):
        entries = {}
        if i < len(old):
            for named in mlir.DictAttr(old[i]):
                entries[named.name] = named.attr
        entries[key] = mlir.StringAttr.get(name)
        dicts.append(mlir.DictAttr.get(entries))
    fn.attributes[attr_name] = mlir.ArrayAttr.get(dicts)


def entry_of(module) -> mlir.Operation:
    """The one public function of a single export (`main` for torch-mlir and JAX)."""
    public = [f for f in _functions(module) if _is_public(f)]
    if len(public) != 1:
        raise HloError(f"the export has {len(public)} public functions, expected 1")
    return public[0]


def bind_weights(fn, bound: list[tuple[str, np.ndarray]], attrs: dict) -> None:
    """Replace the function's first len(bound) arguments by constants of the given arrays: `dense_resource`
    attributes named after the weights that reference the arrays' memory, no copy. One attribute per name
    across all signatures (`attrs` caches them by resource name), so each weight is held once."""
    block = fn.regions[0].blocks[0]
    ftype = mlir.FunctionType(mlir.TypeAttr(fn.attributes["function_type"]).value)
    if len(bound) > len(ftype.inputs):
        raise HloError(f"{len(bound)} weights to bind, but the export takes {len(ftype.inputs)} arguments")
    loc = fn.location
    made: dict = {}  # name -> this function's constant (a tied weight is two arguments of one name)
    with mlir.InsertionPoint.at_block_begin(block), loc:
        for i, (name, array) in enumerate(bound):
            arg = block.arguments[i]
            if name not in attrs:
                attrs[name] = ir.from_numpy(array, resource=name)
            if str(attrs[name].type) != str(arg.type):
                raise HloError(f"weight {name} is {attrs[name].type}, but the export takes {arg.type}")
            if name not in made:
                made[name] = hlo.ConstantOp(attrs[name]).result
            arg.replace_all_uses_with(made[name])
    for i in reversed(range(len(bound))):
        block.erase_argument(i)
    fn.attributes["function_type"] = mlir.TypeAttr.get(
        mlir.FunctionType.get(list(ftype.inputs)[len(bound):], list(ftype.results)))
    if "arg_attrs" in fn.attributes:
        fn.attributes["arg_attrs"] = mlir.ArrayAttr.get(list(mlir.ArrayAttr(fn.attributes["arg_attrs"]))[len(bound):])


def merge(parts: list[Part], *, check=None) -> mlir.Module:
    """The parts' modules as one: renamed, named, weights bound and shared (see the module docstring).

    `check(module)`, if given, is called once on the merged module before the weights are bound (each
    signature still takes its `bound` weights as leading arguments): `from_torch` runs its XLA check there.
    """
    if not parts:
        raise HloError("no signatures to export")
    seen = set()
    for part in parts:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part.signature):
            raise HloError(f"signature name {part.signature!r}: use letters, digits and '_'")
        if part.signature in seen:
            raise HloError(f"signature '{part.signature}' given twice")
        seen.add(part.signature)
    ctx = ir.make_context()
    merged = None
    with ctx:
        for part in parts:
            module = ir.parse(part.text, filename=f"<{part.signature}>", context=ctx)
            _rename(module, part)
            if merged is None:
                merged = module
                continue
            body = merged.body
            for op in ir.module_ops(module):
                op.detach_from_parent()
                body.append(op)
        if check is not None:
            check(merged)
        funcs = {_fname(f): f for f in _functions(merged)}
        attrs: dict = {}
        for part in parts:
            entry = funcs[part.signature]
            if part.bound:
                bind_weights(entry, part.bound, attrs)
            ftype = mlir.FunctionType(mlir.TypeAttr(entry.attributes["function_type"]).value)
            for what, names, count in (("input", part.inputs, len(ftype.inputs)),
                                       ("output", part.outputs, len(ftype.results))):
                if len(names) != count:
                    raise HloError(f"signature '{part.signature}': the export has {count} {what}s, the example"
                                   f" pytree {len(names)}")
            _with_names(entry, "arg_attrs", "jax.arg_info", part.inputs)
            _with_names(entry, "res_attrs", "jax.result_info", part.outputs)
        arrays = {attrs[name]: array for part in parts for name, array in (part.bound or ())}
        share_weights(merged, arrays)
        try:
            merged.operation.verify()
        except ir.MLIRError as e:
            raise ir.error_from_mlir(e, what="the merged module") from None
    return merged


def check_module(module, parts: list[Part]) -> tuple[mlir.Operation, list[str], list[int]]:
    """A copy of a merged, not yet bound module whose `main` runs every signature at once: its arguments are
    the weights (each once, in first-use order), then each signature's inputs in `parts` order; its results
    are each signature's results in that order. Returns (copy, weight names, result count per signature).

    Why: one XLA compile and one transfer of the weights to the worker checks all signatures (weights as
    arguments compile in seconds; as constants XLA spends its time on them, and per signature)."""
    copy = ir.clone(module)
    funcs = {_fname(f): f for f in _functions(copy)}
    callee = {part.signature: part.signature for part in parts}
    if "main" in funcs:  # a signature named main: renamed in the copy, `main` is the check's
        new = next(f"main.{i}" for i in range(len(funcs) + 1) if f"main.{i}" not in funcs)
        with copy.context:
            mlir.SymbolTable.replace_all_symbol_uses("main", new, copy)
            funcs["main"].attributes["sym_name"] = mlir.StringAttr.get(new)
        funcs[new] = funcs.pop("main")
        callee = {k: new if v == "main" else v for k, v in callee.items()}
    names: list[str] = []
    index: dict[str, int] = {}
    for part in parts:
        for name, _ in part.bound or ():
            if name not in index:
                index[name] = len(names)
                names.append(name)
    types = {}
    for part in parts:
        ftype = mlir.FunctionType(mlir.TypeAttr(funcs[callee[part.signature]].attributes["function_type"]).value)
        types[part.signature] = ftype
        for (name, _), t in zip(part.bound or (), ftype.inputs):
            types.setdefault(("weight", name), t)
    arg_types = [types[("weight", n)] for n in names]
    result_types, counts = [], []
    for part in parts:
        ftype = types[part.signature]
        arg_types += list(ftype.inputs)[len(part.bound or ()):]
        result_types += list(ftype.results)
        counts.append(len(ftype.results))
    with copy.context, mlir.Location.unknown():
        for fn in funcs.values():
            fn.attributes["sym_visibility"] = mlir.StringAttr.get("private")
        main = ir.func.FuncOp("main", mlir.FunctionType.get(arg_types, result_types),
                              ip=mlir.InsertionPoint(copy.regions[0].blocks[0]))
        block = main.add_entry_block()
        with mlir.InsertionPoint(block):
            offset, outs = len(names), []
            for part in parts:
                ftype = types[part.signature]
                n_user = len(ftype.inputs) - len(part.bound or ())
                operands = [block.arguments[index[name]] for name, _ in part.bound or ()]
                operands += [block.arguments[offset + i] for i in range(n_user)]
                offset += n_user
                call = ir.func.CallOp(list(ftype.results), mlir.FlatSymbolRefAttr.get(callee[part.signature]),
                                      operands)
                outs += list(call.results)
            ir.func.ReturnOp(outs)
    return copy, names, counts


def _constants(module) -> list:
    found = []

    def visit(op):
        if op.name in ("stablehlo.constant", "arith.constant") and "value" in op.attributes:
            found.append(op)
        return mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return found


def _nbytes(attr) -> int:
    t = mlir.ShapedType(attr.type)
    if not t.has_static_shape:
        return 0
    try:
        return int(np.prod(t.shape, dtype=np.int64)) * ir.np_dtype(t.element_type).itemsize
    except HloError:  # an element type numpy has no form for: not a weight we share
        return 0


def _owner(op) -> str:
    parent = op.parent
    while parent is not None and parent.name != "func.func":
        parent = parent.parent
    return _fname(parent) if parent is not None else ""


def _fingerprint(data: np.ndarray) -> bytes:
    """~4 KB sampled evenly from a weight's bytes, plus its size: weights whose fingerprints differ differ, so
    only weights that agree on it are hashed in full (random or trained weights never do: hashing 623 MB took
    ~1 s of the export)."""
    step = max(1, data.size // 4096)
    return data.size.to_bytes(8, "little") + data[::step].tobytes() + data[-64:].tobytes()


def share_weights(module, arrays: dict | None = None) -> int:
    """Point every use of one weight (same type, same bytes) at one attribute; `dense` weights used by
    several functions become one `dense_resource` blob. Mutates `module`; returns how many constants now
    share another's weight. `arrays` maps attributes to the numpy arrays they were made from (bound
    weights): their bytes are read from there, not copied back out of MLIR."""
    arrays = arrays or {}
    uses: dict = {}  # attribute -> its constant ops, in walk order: each distinct attribute is read once
    for op in _constants(module):
        attr = ir.downcast(op.attributes["value"])
        if isinstance(attr, mlir.DenseElementsAttr) and attr.is_splat:
            continue
        if _nbytes(attr) < SHARE_BYTES:
            continue
        uses.setdefault(attr, []).append(op)

    def data_of(attr) -> np.ndarray:
        data = arrays.get(attr)
        data = ir.to_numpy(attr) if data is None else data
        return np.ascontiguousarray(data).view(np.uint8).reshape(-1)

    buckets: dict[tuple[str, bytes], list] = {}
    for attr in uses:
        buckets.setdefault((str(attr.type), _fingerprint(data_of(attr))), []).append(attr)
    groups: dict[tuple, list] = {}
    for key, attrs in buckets.items():
        for attr in attrs:  # the same fingerprint: the full hash decides
            digest = hashlib.blake2b(data_of(attr), digest_size=20).digest() if len(attrs) > 1 else b""
            groups.setdefault((key, digest), []).extend((op, attr) for op in uses[attr])
    shared = 0
    with ir.as_operation(module).context, mlir.Location.unknown():
        for n, members in enumerate(groups.values()):
            if len(members) < 2:
                continue
            first = next((a for _, a in members if isinstance(a, mlir.DenseResourceElementsAttr)), None)
            if first is None:
                if len({_owner(op) for op, _ in members}) < 2:
                    first = members[0][1]  # one function: MLIR already uniques the dense attribute
                else:
                    first = ir.from_numpy(ir.to_numpy(members[0][1]), type=members[0][1].type,
                                          resource=f"shared_weight_{n}")
            for op, attr in members:
                if attr != first:
                    op.attributes["value"] = first
                    shared += 1
    return shared


def weight_stats(module) -> dict:
    """What the module holds as weights (constants of >= SHARE_BYTES bytes): `constants` (ops), `distinct`
    (attributes), `bytes` (of the distinct ones: what the module stores), `referenced_bytes` (summed over
    the ops: what it would store without sharing)."""
    distinct: dict[str, int] = {}
    ops = referenced = 0
    for op in _constants(module):
        attr = ir.downcast(op.attributes["value"])
        size = _nbytes(attr)
        if size < SHARE_BYTES or (isinstance(attr, mlir.DenseElementsAttr) and attr.is_splat):
            continue
        ops += 1
        referenced += size
        distinct[str(attr)] = size
    return {"constants": ops, "distinct": len(distinct), "bytes": sum(distinct.values()),
            "referenced_bytes": referenced}


def select_signature(module, signature: str) -> mlir.Operation:
    """A copy of a merged module in which `signature` is `main` and the only public function (the others
    turn private): what XLA (`numerics.execute`, `--check-numerics`) runs. The caller's module is unchanged."""
    copy = ir.clone(module)
    funcs = {_fname(f): f for f in _functions(copy)}
    if signature not in funcs or not _is_public(funcs[signature]):
        raise HloError(f"no signature '{signature}' (public functions: "
                       f"{', '.join(n for n, f in funcs.items() if _is_public(f)) or 'none'})")
    with copy.context:
        for name, fn in funcs.items():
            if name != signature and _is_public(fn):
                fn.attributes["sym_visibility"] = mlir.StringAttr.get("private")
        if signature != "main":
            if "main" in funcs:
                mlir.SymbolTable.replace_all_symbol_uses("main", f"{signature}.main.renamed", copy)
                funcs["main"].attributes["sym_name"] = mlir.StringAttr.get(f"{signature}.main.renamed")
            mlir.SymbolTable.replace_all_symbol_uses(signature, "main", copy)
            funcs[signature].attributes["sym_name"] = mlir.StringAttr.get("main")
    return copy


# --------------------------------------------------------------------------------------------- PyTorch

def from_torch(module, signatures: dict[str, tuple], *, check: bool = True, rtol: float = 1e-3,
               atol: float = 1e-5) -> mlir.Module:
    """Export `module(*args)` for each `signature -> args` with torch.export + torch-mlir, and merge them.

    Arguments may be pytrees (a dict KV cache); their leaves become the function's inputs, named after
    `module.forward`'s parameters. The outputs are named from the eager result's pytree (run once per
    signature, under no_grad). Non-persistent buffers and i64 ids are handled by `export_lifted`.

    Weights: each export keeps the model's weights as leading arguments (`export_lifted`), so torch-mlir
    never copies them; `merge` binds each to ONE `dense_resource` blob over the torch tensor's own memory
    (the module keeps those tensors alive: deleting the model frees nothing, and copies nothing; a later
    in-place write to the model's weights shows in the module, so export again after changing the model).
    With `check` (the default), before binding, every signature runs on XLA CPU in one compile (see
    `check_module`) and must give torch's outputs, as `export_torch` checks them.
    """
    from . import torch as ft
    from .torch_fixes import fix_negative_gather_indices

    ft._require("torch")
    from torch.utils import _pytree as pytree

    if not signatures:
        raise HloError("from_torch: no signatures given")
    if check:
        from .. import numerics

        numerics.start_worker()  # it imports jax and sets up XLA (~1 s) while torch traces
    parts, wants, seen = [], {}, {}
    for name, args in signatures.items():
        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
        arg_names = _arg_names(module.forward, len(args))
        inputs = [leaf_name(arg_names[i], path[1:]) for path, _ in pytree.tree_flatten_with_path(args)[0]
                  for i in [int(_key_text(path[0]))]]
        out = ft.eager_run(module, args)  # (buffers restored: each signature is exported from the same state)
        outputs = [leaf_name(*_result_prefix(path)) for path, _ in pytree.tree_flatten_with_path(out)[0]] \
            if isinstance(out, (dict, tuple, list)) else ["output_0"]
        wants[name] = ft.tensor_leaves(out)  # what the check compares with: torch runs each signature once
        del out
        lifted = ft.export_lifted(module, *args)
        parsed = ir.parse(lifted.code)
        if fix_negative_gather_indices(parsed):
            lifted.code = ir.to_bytecode(parsed)
        del parsed
        parts.append(Part(name, lifted.code, _unique(inputs, "input", name), _unique(outputs, "output", name),
                          _distinct_names(lifted.weights, name, seen)))
    examples = {name: tuple(a) if isinstance(a, (tuple, list)) else (a,) for name, a in signatures.items()}

    def run_check(merged) -> None:
        check_signatures(merged, parts, module, examples, rtol=rtol, atol=atol, wants=wants)

    merged = merge(parts, check=run_check if check else None)
    release_freed_heap()  # (torch.export's and torch-mlir's garbage: 27 MB at 8x1024)
    return merged


def _distinct_names(weights: list, signature: str, seen: dict) -> list:
    """The weights of one export, a name that another export gave to a DIFFERENT tensor made
    `<signature>.<name>`: torch.export names the constants a forward creates per export (`lifted_tensor_0`),
    and their values may depend on the example's shapes. Parameters and buffers keep their names (the same
    tensor in every signature); `seen` maps each name to the memory it was first given to."""
    out = []
    for name, array in weights:
        key = (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)
        if seen.setdefault(name, key) != key:
            name = f"{signature}.{name}"
            seen[name] = key
        out.append((name, array))
    return out


def check_signatures(merged, parts: list[Part], model, examples: dict, *, rtol: float = 1e-3,
                     atol: float = 1e-5, wants: dict | None = None) -> None:
    """Run every signature of an unbound merged torch export on XLA CPU at once (`check_module`, the weights
    passed as arguments once) and compare each with torch's outputs on its example arguments (`wants`:
    signature -> torch's output leaves, when the caller has them; else torch runs here)."""
    from .. import numerics
    from . import torch as ft

    torch = ft._require("torch")
    from torch.utils import _pytree as pytree

    skip = "from_torch(..., check=False) skips this check"
    checked, names, counts = check_module(merged, parts)
    arrays = {name: array for part in parts for name, array in part.bound or ()}
    inputs = [arrays[n] for n in names]
    for part in parts:
        inputs += [ft._to_numpy(t) for t in pytree.tree_leaves(examples[part.signature])
                   if isinstance(t, torch.Tensor)]
    expected = numerics.signature(checked)
    if len(inputs) != len(expected):
        raise HloError(f"cannot check the export of {type(model).__name__}: it takes {len(expected)} inputs, "
                       f"the examples give {len(inputs)}; {skip}")
    try:
        got = numerics.execute(checked, inputs)
    finally:
        # the worker was sent every weight and keeps ~one request's worth of memory while idle (8x1024: 0.9 GB
        # after the check); a later check starts a new one in ~1 s
        numerics._stop_worker()
    del checked, inputs
    start = 0
    for part, count in zip(parts, counts):
        ft.compare_with_torch(got[start:start + count], model, examples[part.signature], rtol=rtol, atol=atol,
                              what=part.signature, skip=skip, want=(wants or {}).get(part.signature))
        start += count


# ------------------------------------------------------------------------------------------------- JAX

def _resource_name(path) -> str:
    """`params.layers.0.wq`: a weight's blob name, from its pytree path."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", ".".join(["params", *(_key_text(k) for k in path)]))


def _needs_x64(leaves) -> bool:
    return any(np.dtype(getattr(x, "dtype", np.asarray(x).dtype)).itemsize == 8 for x in leaves)


def from_jax(functions: dict, example_args: dict[str, tuple], *, params=None) -> mlir.Module:
    """Lower each `functions[signature]` at `example_args[signature]` (jax.jit(...).lower) and merge them.

    With `params`, each function is called as `fn(params, *args)` and `params` (a pytree of arrays) becomes
    the module's weights: lowered as arguments, then bound to shared resource blobs named after their
    pytree paths (`params.layers.0.wq`). Without it, weights the functions close over are embedded by JAX
    and shared by content. 64-bit example inputs (i64 token ids) lower with x64 enabled, so they stay i64.
    """
    import jax

    if not functions:
        raise HloError("from_jax: no signatures given")
    missing = sorted(set(functions) - set(example_args))
    if missing:
        raise HloError(f"from_jax: no example arguments for signature(s) {', '.join(missing)}")
    p_leaves = jax.tree_util.tree_flatten_with_path(params)[0] if params is not None else []
    bound = [(_resource_name(path), np.asarray(leaf)) for path, leaf in p_leaves]
    parts = []
    for name, fn in functions.items():
        args = example_args[name]
        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
        skip = 1 if params is not None else 0
        arg_names = _arg_names(fn, len(args), skip)
        a_leaves, a_def = jax.tree_util.tree_flatten_with_path(args)
        inputs = [leaf_name(arg_names[int(_key_text(path[0]))], path[1:]) for path, _ in a_leaves]
        n_params = len(p_leaves)
        p_tree = jax.tree_util.tree_structure(params)

        def flat(*leaves, fn=fn, a_def=a_def, n_params=n_params, p_tree=p_tree):
            call_args = a_def.unflatten(leaves[n_params:])
            if params is not None:
                return fn(p_tree.unflatten(leaves[:n_params]), *call_args)
            return fn(*call_args)

        specs = [jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype)
                 for x in [leaf for _, leaf in p_leaves] + [leaf for _, leaf in a_leaves]]
        try:
            with jax.enable_x64(_needs_x64(specs)):
                out_shape = jax.eval_shape(flat, *specs)
                text = jax.jit(flat, keep_unused=True).lower(*specs).as_text()
        except HloError:
            raise
        except Exception as e:  # noqa: BLE001 -- tracing errors come in many kinds
            first = (str(e).strip().splitlines() or [""])[0]
            raise HloError(f"jax cannot lower signature '{name}': {type(e).__name__}: {first}") from e
        out_leaves = jax.tree_util.tree_flatten_with_path(out_shape)[0]
        outputs = [leaf_name(*_result_prefix(path)) for path, _ in out_leaves]
        parts.append(Part(name, text, _unique(inputs, "input", name), _unique(outputs, "output", name),
                          bound or None))
    return merge(parts)
