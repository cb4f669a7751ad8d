"""A legalized module (tfl ops, composites, func.func/return) -> a `.tflite` model.

Every public function becomes a subgraph and a signature named after the function (inputs `args_0..`,
outputs from `jax.result_info` where JAX gave names, else `output_0..`); the first public function is
subgraph 0, the one LiteRT runs when no signature is named. Composite decompositions become subgraphs
of their own, referenced by STABLEHLO_COMPOSITE operators. Constants become tensors whose buffers the
writer shares by content, so the prefill and decode signatures of one model hold each weight once.

Anything the module holds that this step does not know (a StableHLO op that was not legalized, a tfl op
outside the op table, a call) ends the export with its name and place, before a byte is written.
"""

from __future__ import annotations

import numpy as np

from .. import ir
from ..diagnostics import HloError, SourceLoc
from ..ir import mlir
from . import ops as T
from . import schema
from .writer import BlockwiseQuantization, ModelWriter, Quantization, Subgraph, pack_int4


def _where(op) -> str:
    loc = SourceLoc.parse(str(op.location))
    return f"{loc}: " if loc else ""


def _fname(fn) -> str:
    return mlir.StringAttr(fn.attributes["sym_name"]).value


def _public(fn) -> bool:
    return "sym_visibility" not in fn.attributes or mlir.StringAttr(fn.attributes["sym_visibility"]).value != "private"


def _io_names(fn, count: int, attrs_name: str, key: str, default: str) -> list[str]:
    """Signature names from JAX's `jax.result_info` / `jax.arg_info` where present, else `output_i` /
    `args_i`; any clash or unprintable name and all of them fall back to the defaults."""
    names = []
    attrs = fn.attributes[attrs_name] if attrs_name in fn.attributes else None
    for i in range(count):
        name = f"{default}_{i}"
        if attrs is not None:
            d = mlir.DictAttr(attrs[i])
            if key in d:
                info = mlir.StringAttr(d[key]).value
                if info and info.isprintable():
                    name = info
        names.append(name)
    if len(set(names)) != len(names):
        names = [f"{default}_{i}" for i in range(count)]
    return names


def _result_names(fn, count: int) -> list[str]:
    return _io_names(fn, count, "res_attrs", "jax.result_info", "output")


def _composite_attributes(op) -> dict:
    result = {}
    if "composite_attributes" not in op.attributes:
        return result
    for named in mlir.DictAttr(op.attributes["composite_attributes"]):
        attr = named.attr
        if isinstance(attr, (mlir.DenseElementsAttr, mlir.DenseResourceElementsAttr)):
            value = ir.to_numpy(attr)
            attr_value = value.item() if value.size == 1 else value.reshape(-1).tolist()
        else:
            try:
                attr_value = T.py_value(attr)
            except HloError:
                raise HloError(f"{_where(op)}composite attribute {named.name} = {attr} has no flexbuffer"
                               " form") from None
        result[named.name] = attr_value
    return result


class _Exporter:
    def __init__(self, module, writer: ModelWriter):
        self.module = module
        self.writer = writer
        self.funcs = {_fname(f): f for f in ir.module_ops(module) if f.operation.name == "func.func"}
        self.subgraphs: dict[str, Subgraph] = {}
        self.by_body: dict[str, str] = {}

    def run(self) -> None:
        public = [n for n, f in self.funcs.items() if _public(f)]
        if not public:
            raise HloError("the module has no public function to export as a signature")
        for name in public:  # public functions first: subgraph 0 is the first signature
            self.subgraphs[name] = self.writer.subgraph(name)
        for name in public:
            sg = self._fill(name)
            fn = self.funcs[name]
            arg_names = _io_names(fn, len(sg.inputs), "arg_attrs", "jax.arg_info", "args")
            self.writer.signature(name, sg, dict(zip(arg_names, sg.inputs)),
                                  dict(zip(_result_names(fn, len(sg.outputs)), sg.outputs)))

    def _subgraph_for(self, name: str) -> Subgraph:
        """The subgraph of a decomposition (made and filled on first use). Identical decompositions (one
        per layer, differing only in their names) share one subgraph."""
        if name not in self.subgraphs:
            if name not in self.funcs:
                raise HloError(f"composite decomposition @{name} is not a function of the module")
            text = str(self.funcs[name].operation).replace(f"@{name}(", "@(", 1)
            twin = self.by_body.get(text)
            if twin is not None:
                self.subgraphs[name] = self.subgraphs[twin]
            else:
                self.by_body[text] = name
                self.subgraphs[name] = self.writer.subgraph(name)
                self._fill(name)
        return self.subgraphs[name]

    def _fill(self, name: str) -> Subgraph:
        fn = self.funcs[name]
        sg = self.subgraphs[name]
        if len(fn.regions[0].blocks) != 1:
            raise HloError(f"{_where(fn)}function @{name} has several blocks: TFLite subgraphs are straight-line")
        block = fn.regions[0].blocks[0]
        w = _BlockWriter(self, sg, name)
        for i, arg in enumerate(block.arguments):
            if not isinstance(arg.type, mlir.RankedTensorType):
                raise HloError(f"{_where(fn)}argument {i} of @{name} is {arg.type}: only ranked tensors")
        sg.inputs = [w.arg(a, f"args_{i}") for i, a in enumerate(block.arguments)]
        outs, ret = w.body(block)
        sg.outputs = w.distinct_outputs(outs, ret.operands)
        return sg

    @staticmethod
    def _extra(op) -> dict:
        """Options fields that come from types rather than attributes."""
        if op.name == "tfl.cast":
            src = mlir.RankedTensorType(op.operands[0].type).element_type
            dst = mlir.RankedTensorType(op.result.type).element_type
            return {"inDataType": schema.tensor_type(ir.np_dtype(src)),
                    "outDataType": schema.tensor_type(ir.np_dtype(dst))}
        if op.name == "tfl.reshape":
            return {"newShape": [int(d) for d in mlir.RankedTensorType(op.result.type).shape]}
        return {}

class _BlockWriter:
    """Fills one subgraph from one block: tensors for its values, operators for its ops. Loop and branch
    bodies become subgraphs of their own; what they use from outside comes in as extra inputs (constants
    are simply repeated: they share their buffer)."""

    def __init__(self, exporter: _Exporter, sg: Subgraph, name: str):
        self.exporter, self.sg, self.name = exporter, sg, name
        self.tensors: dict = {}

    def new_tensor(self, value, base: str) -> int:
        t = mlir.RankedTensorType(value.type)
        return self.sg.tensor(t.shape, ir.np_dtype(t.element_type), base)

    def arg(self, value, base: str) -> int:
        self.tensors[value] = self.new_tensor(value, base)
        return self.tensors[value]

    def operand(self, value, op) -> int:
        if value in self.tensors:
            return self.tensors[value]
        producer = _producer(value)
        if producer is not None and producer.name in (T.CONST, T.QCONST):  # a constant from outside the body
            self.constant(producer, f"outer_{len(self.tensors)}")
            return self.tensors[value]
        raise HloError(f"{_where(op)}{op.name} uses a value defined outside its function")

    def body(self, block) -> tuple[list[int], object]:
        """Emit every op of `block`; returns the tensors its terminator returns, and the terminator."""
        for k, item in enumerate(block.operations):
            op = item.operation
            if op.name in ("func.return", "stablehlo.return"):
                return [self.operand(v, op) for v in op.operands], op
            self.emit(op, k)
        raise HloError(f"a block of @{self.name} has no terminator")

    def distinct_outputs(self, outs: list[int], values) -> list[int]:
        """Signature outputs must be tensors computed in the subgraph, each once: an input returned as it is,
        a constant, or a value returned twice goes through a copy (a RESHAPE to its own shape)."""
        result, seen = [], set(self.sg.inputs)
        constants = {t for v, t in self.tensors.items() if _producer(v) is not None
                     and _producer(v).name in (T.CONST, T.QCONST)}
        for t, v in zip(outs, values):
            if t in seen or t in constants:
                shape = list(mlir.RankedTensorType(v.type).shape)
                copy = self.new_tensor(v, f"output_copy_{len(result)}")
                self.sg.op("RESHAPE", [t, self.sg.constant(np.asarray(shape, np.int32), "shape")],
                           [copy], options=schema.options("ReshapeOptions", newShape=shape))
                t = copy
            seen.add(t)
            result.append(t)
        return result

    def constant(self, op, base: str) -> None:
        """A constant tensor. Weights (resource blobs, int8/int4 weights, any dense constant the writer stores
        outside the flatbuffer) are not read here: the writer reads each one when it streams it into the file,
        and shares one buffer per attribute (MLIR uniques dense attributes by content; a resource is one blob)."""
        sg = self.sg
        if op.name == T.QCONST and T.qconst_block(op.result):  # int4 blocks: [N, K], blocks along K
            values, scale, _ = T.qconst_attrs(op.result)
            scales = sg.constant(ir.to_numpy(scale).astype(np.float16), f"{base}_scales")
            quant = BlockwiseQuantization(scales, T.qconst_block(op.result))
            self.tensors[op.result] = self._lazy(values, base, quantization=quant)
            return
        perm = [int(p) for p in op.attributes[T.TRANSPOSED]] if T.is_transposed(op) else None
        if op.name == T.QCONST:
            axis = int(op.attributes["axis"].value)
            scale = ir.to_numpy(op.attributes["scale"])
            quant = Quantization(scale, np.zeros(scale.size, np.int64), 0 if axis < 0 else axis)
            self.tensors[op.result] = self._lazy(op.attributes["value"], base, quantization=quant, perm=perm)
            return
        self.tensors[op.result] = self._lazy(ir.downcast(op.attributes["value"]), base, perm=perm)

    def _lazy(self, attr, base: str, quantization=None, perm: list[int] | None = None) -> int:
        """A tensor of `attr`'s elements (transposed by `perm`): read when written if the writer stores it
        outside the flatbuffer, else now (small constants are packed into the flatbuffer, by content)."""
        t = mlir.RankedTensorType(attr.type)
        dtype = ir.np_dtype(t.element_type)
        shape = list(t.shape) if perm is None else [t.shape[p] for p in perm]
        count = int(np.prod(shape, dtype=np.int64))
        packed = str(dtype) == "int4"  # stored two to a byte
        nbytes = (count + 1) // 2 if packed else count * dtype.itemsize

        def values(copy: bool) -> np.ndarray:  # (copy=False: a view of the attribute's storage, when it has one)
            array = ir.to_numpy(attr, copy=copy)
            return array if perm is None else np.ascontiguousarray(array.transpose(perm))

        if nbytes < self.exporter.writer.external_threshold:
            return self.sg.constant(values(True), base, quantization=quantization)
        if perm is not None and not packed:
            # by content (hashed now, read again when written): optimize's folded transposes are one blob per
            # signature with the same bytes, which the uniqued copies legalize used to make shared by chance
            return self.sg.constant(values(False), base, quantization=quantization, reload=lambda: values(False))
        key = str(attr) if isinstance(attr, mlir.DenseResourceElementsAttr) else attr  # a name; or uniqued
        key = key if perm is None else (key, tuple(perm))
        load = (lambda: pack_int4(values(False))) if packed else (lambda: values(False))
        return self.sg.constant_lazy(key, shape, np.dtype(dtype), nbytes, base, load, quantization=quantization)

    def results(self, op, base: str) -> list[int]:
        outputs = [self.new_tensor(r, base) for r in op.results]
        for r, t in zip(op.results, outputs):
            self.tensors[r] = t
        return outputs

    def emit(self, op, k: int) -> None:
        oname = op.name
        if oname in (T.CONST, T.QCONST):
            self.constant(op, f"{'q' if oname == T.QCONST else ''}const_{k}")
        elif oname == T.NO_VALUE:
            self.tensors[op.result] = -1
        elif oname == "stablehlo.composite":
            self.composite(op, k)
        elif oname == "stablehlo.while":
            self.loop(op, k)
        elif oname == "stablehlo.if":
            self.branch(op, k)
        elif oname in T.OPS:
            inputs = [self.operand(v, op) for v in op.operands]
            outputs = self.results(op, f"{oname[4:]}_{k}")
            self.sg.op(T.OPS[oname].builtin, inputs, outputs, options=T.options_of(op, _Exporter._extra(op)),
                       version=T.OPS[oname].version)
        else:
            hint = " (run legalize-tflite first)" if not oname.startswith("tfl.") else \
                " (not in the backend's op table)"
            raise HloError(f"{_where(op)}{oname} cannot be written to a .tflite{hint}")

    def composite(self, op, k: int) -> None:
        decomposition = mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value
        body = self.exporter._subgraph_for(decomposition)
        comp_name = mlir.StringAttr(op.attributes["name"]).value
        version = int(op.attributes["version"].value) if "version" in op.attributes else 0
        attrs = schema.flexbuffer(_composite_attributes(op))
        inputs = [self.operand(v, op) for v in op.operands]
        outputs = self.results(op, f"{comp_name}_{k}")
        options = schema.options("StableHLOCompositeOptions", name=comp_name, decompositionSubgraphIndex=body.index,
                                 compositeAttributes=np.frombuffer(attrs, np.uint8),
                                 compositeAttributesFormat=schema.enum("CustomOptionsFormat", "FLEXBUFFERS"),
                                 version=version)
        self.sg.op("STABLEHLO_COMPOSITE", inputs, outputs, options=options)

    def _region(self, region, name: str, captured: list, args_first: bool = True):
        """A subgraph from a single-block region: its block arguments, then the captured values, as inputs."""
        if len(region.blocks) != 1:
            raise HloError(f"a region of @{self.name} has several blocks: TFLite subgraphs are straight-line")
        block = region.blocks[0]
        sg = self.exporter.writer.subgraph(name)
        w = _BlockWriter(self.exporter, sg, name)
        ins = [w.arg(a, f"arg_{i}") for i, a in enumerate(block.arguments)]
        ins += [w.arg(v, f"captured_{i}") for i, v in enumerate(captured)]
        sg.inputs = ins
        outs, _ = w.body(block)
        return sg, w, outs

    def loop(self, op, k: int) -> None:
        """stablehlo.while -> WHILE with cond and body subgraphs; outside values ride along as loop inputs."""
        captured = _captures(op)
        base = f"{self.name}.while_{k}"
        cond, _, cond_outs = self._region(op.regions[0], f"{base}.cond", captured)
        cond.outputs = cond_outs
        body, w, body_outs = self._region(op.regions[1], f"{base}.body", captured)
        body.outputs = body_outs + [w.tensors[v] for v in captured]  # unchanged from one iteration to the next
        inputs = [self.operand(v, op) for v in op.operands] + [self.operand(v, op) for v in captured]
        outputs = self.results(op, f"while_{k}")
        outputs += [self.new_tensor(v, f"while_{k}_passthrough") for v in captured]
        self.sg.op("WHILE", inputs, outputs,
                   options=schema.options("WhileOptions", condSubgraphIndex=cond.index, bodySubgraphIndex=body.index))

    def branch(self, op, k: int) -> None:
        """stablehlo.if -> IF with then/else subgraphs taking what the branches use from outside."""
        captured = _captures(op)
        base = f"{self.name}.if_{k}"
        then, _, then_outs = self._region(op.regions[0], f"{base}.then", captured)
        then.outputs = then_outs
        other, _, else_outs = self._region(op.regions[1], f"{base}.else", captured)
        other.outputs = else_outs
        inputs = [self.operand(op.operands[0], op)] + [self.operand(v, op) for v in captured]
        outputs = self.results(op, f"if_{k}")
        self.sg.op("IF", inputs, outputs,
                   options=schema.options("IfOptions", thenSubgraphIndex=then.index, elseSubgraphIndex=other.index))


_producer = T.producer


def _captures(op) -> list:
    """Values that ops nested in `op` use but that are defined outside it (constants excepted: a body
    repeats those itself), in first-use order."""
    inside: set = set()
    used: list = []

    def visit(inner):
        if inner != op:
            for r in inner.results:
                inside.add(r)
        for region in inner.regions:
            for block in region.blocks:
                inside.update(block.arguments)
        if inner != op:
            used.extend(inner.operands)
        return mlir.WalkResult.ADVANCE

    op.walk(visit, mlir.WalkOrder.PRE_ORDER)
    seen: set = set()
    result = []
    for v in used:
        if v in inside or v in seen:
            continue
        producer = _producer(v)
        if producer is not None and producer.name in (T.CONST, T.QCONST):
            continue
        seen.add(v)
        result.append(v)
    return result


def export(module, writer: ModelWriter | None = None) -> ModelWriter:
    """Fill a ModelWriter from a legalized module (nothing is written yet: `writer.write(path)`)."""
    writer = writer or ModelWriter()
    _Exporter(ir.as_operation(module), writer).run()
    return writer
