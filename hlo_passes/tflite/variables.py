"""KV caches kept inside LiteRT as resource variables, instead of passed in and out of every call.

A signature that takes a cache `k_0` and returns the updated `k_0` (the Generative API's external KV cache:
what `hlo-export` writes by default) makes its caller copy every cache in and out of the interpreter at
every step: 4 MB per decode step for the 8x1024 example, 92 MB for TinyLlama-1.1B's shapes. LiteRT keeps
resource variables across calls and signatures instead. `bench/kv_variables.py` measures a decode step's
cache work both ways: 2.3 ms as inputs/outputs against 0.27 ms as variables at 8x1024 (0.12x), 70 against
21 ms at TinyLlama's shapes.

`caches_as_variables(writer)` rewrites a filled `ModelWriter` (after `export`, before `write`): every
signature input that is also an output of the same name (a cache, by the Generative API's convention)
becomes a variable of that name, shared by all signatures:

    CALL_ONCE(kv_cache_init)                      first op of every signature's subgraph
    k_0 = READ_VARIABLE(VAR_HANDLE("k_0"))        where the input was
    ... the signature's own ops, unchanged ...
    ASSIGN_VARIABLE(VAR_HANDLE("k_0"), k_0')      where the output was

and a subgraph `kv_cache_init`, run once per interpreter, fills each with zeros (FILL: no zeros stored in
the file). The signatures then take only what is not a cache (tokens, input_pos) and return the rest
(logits). A new sequence needs no reset: every position a query can see was written by this sequence's own
prefill or decode before (the causal mask hides later positions), as with zeroed input caches.
`variable_caches(model_bytes)` reads the caches' names and shapes back from a file (for `generate`'s
bounds checks).
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import HloError
from . import schema
from .writer import ModelWriter, Subgraph

INIT = "kv_cache_init"


def _name(tensor_map) -> str:
    n = tensor_map.name
    return n.decode() if isinstance(n, bytes) else n


def _caches(writer: ModelWriter) -> dict[str, tuple[list[int], int]]:
    """name -> (shape, TFLite tensor type) of every cache (an input that is also an output, same name)."""
    found: dict[str, tuple[list[int], int]] = {}
    for sig in writer.signatures:
        sg = writer.subgraphs[sig.subgraphIndex]
        outs = {_name(m): m.tensorIndex for m in sig.outputs}
        for m in sig.inputs:
            name = _name(m)
            if name not in outs:
                continue
            t_in, t_out = sg.tensors[m.tensorIndex], sg.tensors[outs[name]]
            kind = (list(t_in.shape), t_in.type)
            if kind != (list(t_out.shape), t_out.type):
                raise HloError(f"signature '{sig.signatureKey}': cache '{name}' goes in as {kind[0]} and comes out "
                               f"as {list(t_out.shape)}: a variable has one shape and type")
            if found.setdefault(name, kind) != kind:
                raise HloError(f"cache '{name}' is {found[name][0]} in one signature and {kind[0]} in "
                               f"'{sig.signatureKey}': signatures share one variable per name")
    return found


def _handle(sg: Subgraph, name: str) -> int:
    h = sg.tensor([], np.int32, f"{name}_handle")
    sg.tensors[h].type = schema.fb.TensorType.RESOURCE  # (the writer makes numpy-typed tensors)
    sg.op("VAR_HANDLE", [], [h], options=schema.options("VarHandleOptions", container="", sharedName=name))
    return h


def caches_as_variables(writer: ModelWriter) -> list[str]:
    """Turn every signature's caches into shared resource variables (see the module docstring); returns
    their names. A model with no cache is left as it is."""
    caches = _caches(writer)
    if not caches:
        return []
    init = writer.subgraph(INIT)
    for name, (shape, ttype) in caches.items():
        dims = init.constant(np.asarray(shape, np.int32), f"{name}_shape")
        zero = init.constant(np.zeros((), schema.np_dtype(ttype)), f"{name}_zero")
        zeros = init.tensor(shape, schema.np_dtype(ttype), f"{name}_zeros")
        init.op("FILL", [dims, zero], [zeros])
        init.op("ASSIGN_VARIABLE", [_handle(init, name), zeros], [])
    for sig in writer.signatures:
        sg = writer.subgraphs[sig.subgraphIndex]
        body, sg.operators = sg.operators, []
        sg.op("CALL_ONCE", [], [], options=schema.options("CallOnceOptions", initSubgraphIndex=init.index))
        outs = {_name(m): m.tensorIndex for m in sig.outputs}
        mine = [(_name(m), m.tensorIndex) for m in sig.inputs if _name(m) in caches and _name(m) in outs]
        handles = {}
        for name, tensor in mine:
            handles[name] = _handle(sg, name)
            sg.op("READ_VARIABLE", [handles[name]], [tensor])
        sg.operators += body
        for name, _ in mine:
            sg.op("ASSIGN_VARIABLE", [handles[name], outs[name]], [])
        gone_in = {t for _, t in mine}
        gone_out = {outs[name] for name, _ in mine}
        sg.inputs = [t for t in sg.inputs if t not in gone_in]
        sg.outputs = [t for t in sg.outputs if t not in gone_out]
        names = {name for name, _ in mine}
        sig.inputs = [m for m in sig.inputs if _name(m) not in names]
        sig.outputs = [m for m in sig.outputs if _name(m) not in names]
    return list(caches)


def variable_caches(model: bytes) -> dict[str, list[int]]:
    """The caches a `.tflite` keeps as variables (made by `caches_as_variables`): name -> shape, read from
    its init subgraph, where each cache's FILL is followed by the VAR_HANDLE it is assigned to."""
    m = schema.model_from_bytes(model)
    init = next((sg for sg in m.subgraphs or [] if sg.name in (INIT, INIT.encode())), None)
    if init is None:
        return {}
    codes = [schema.op_name(max(c.builtinCode, c.deprecatedBuiltinCode)) for c in m.operatorCodes]
    found, shape = {}, None
    for op in init.operators or []:
        if codes[op.opcodeIndex] == "FILL":
            shape = [int(d) for d in init.tensors[op.outputs[0]].shape]
        elif codes[op.opcodeIndex] == "VAR_HANDLE":
            name = op.builtinOptions.sharedName
            found[name.decode() if isinstance(name, bytes) else name] = shape
    return found
