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
from .writer import ModelWriter, Quantization, Subgraph


def _where(op) -> str:
    loc = SourceLoc.parse(str(op.location))
    return f"{loc}: " if loc else ""


def _fname(fn) -> str:
    return mlir.StringAttr(fn.attributes["sym_name"]).value


def _public(fn) -> bool:
    return "sym_visibility" not in fn.attributes or mlir.StringAttr(fn.attributes["sym_visibility"]).value != "private"


def _result_names(fn, count: int) -> list[str]:
    names = []
    attrs = fn.attributes["res_attrs"] if "res_attrs" in fn.attributes else None
    for i in range(count):
        name = f"output_{i}"
        if attrs is not None:
            d = mlir.DictAttr(attrs[i])
            if "jax.result_info" in d:
                info = mlir.StringAttr(d["jax.result_info"]).value
                if info and info.isprintable():
                    name = info
        names.append(name)
    if len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(count)]
    return names


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
                raise HloError(f"{_where(op)}composite attribute {named.name} = {attr} has no flexbuffer form") from None
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
            self.writer.signature(name, sg, {f"args_{i}": t for i, t in enumerate(sg.inputs)},
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
        tensors: dict = {}
        used_names: set[str] = set()

        def tensor_name(base: str) -> str:
            candidate, k = base, 0
            while candidate in used_names:
                k += 1
                candidate = f"{base}_{k}"
            used_names.add(candidate)
            return candidate

        def new_tensor(value, base: str) -> int:
            t = mlir.RankedTensorType(value.type)
            return sg.tensor(t.shape, ir.np_dtype(t.element_type), tensor_name(base))

        for i, arg in enumerate(block.arguments):
            if not isinstance(arg.type, mlir.RankedTensorType):
                raise HloError(f"{_where(fn)}argument {i} of @{name} is {arg.type}: only ranked tensors")
            tensors[arg] = new_tensor(arg, f"args_{i}")
        sg.inputs = [tensors[a] for a in block.arguments]
        for k, item in enumerate(block.operations):
            op = item.operation
            oname = op.name
            if oname == T.CONST:
                attr = ir.downcast(op.attributes["value"])
                if isinstance(attr, mlir.DenseResourceElementsAttr):  # a weight: read once, when written
                    t = mlir.RankedTensorType(attr.type)
                    dtype = ir.np_dtype(t.element_type)
                    nbytes = int(np.prod(t.shape, dtype=np.int64)) * dtype.itemsize
                    tensors[op.result] = sg.constant_lazy((str(attr), str(t)), t.shape, dtype, nbytes,
                                                          tensor_name(f"const_{k}"),
                                                          lambda attr=attr: ir.to_numpy(attr))
                else:
                    tensors[op.result] = sg.constant(ir.to_numpy(attr), tensor_name(f"const_{k}"),
                                                     reload=lambda attr=attr: ir.to_numpy(attr))
            elif oname == T.QCONST:
                values, scale, axis = T.qconst_parts(op.result)
                quant = Quantization(scale, np.zeros(scale.size, np.int64), 0 if axis is None else axis)
                tensors[op.result] = sg.constant(values, tensor_name(f"qconst_{k}"), quantization=quant)
            elif oname == T.NO_VALUE:
                tensors[op.result] = -1
            elif oname == "func.return":
                outs = []
                for v in op.operands:
                    if v not in tensors:
                        raise HloError(f"{_where(op)}@{name} returns a value the export did not see")
                    outs.append(tensors[v])
                if len(set(outs)) != len(outs) or set(outs) & set(sg.inputs) or -1 in outs:
                    raise HloError(f"{_where(op)}@{name} returns an input, a constant or one value twice:"
                                   " TFLite outputs must be distinct computed tensors")
                sg.outputs = outs
            elif oname == "stablehlo.composite":
                self._composite(sg, op, tensors, new_tensor, k)
            elif oname in T.OPS:
                inputs = [self._operand(tensors, v, op) for v in op.operands]
                outputs = [new_tensor(r, f"{oname[4:]}_{k}") for r in op.results]
                for r, t in zip(op.results, outputs):
                    tensors[r] = t
                sg.op(T.OPS[oname].builtin, inputs, outputs, options=T.options_of(op, self._extra(op)),
                      version=T.OPS[oname].version)
            else:
                hint = " (run legalize-tflite first)" if not oname.startswith("tfl.") else \
                    " (not in the backend's op table)"
                raise HloError(f"{_where(op)}{oname} cannot be written to a .tflite{hint}")
        return sg

    @staticmethod
    def _operand(tensors, value, op) -> int:
        if value not in tensors:
            raise HloError(f"{_where(op)}{op.name} uses a value defined outside its function")
        return tensors[value]

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

    def _composite(self, sg: Subgraph, op, tensors, new_tensor, k: int) -> None:
        decomposition = mlir.FlatSymbolRefAttr(op.attributes["decomposition"]).value
        body = self._subgraph_for(decomposition)
        comp_name = mlir.StringAttr(op.attributes["name"]).value
        version = int(op.attributes["version"].value) if "version" in op.attributes else 0
        attrs = schema.flexbuffer(_composite_attributes(op))
        inputs = [self._operand(tensors, v, op) for v in op.operands]
        outputs = [new_tensor(r, f"{comp_name}_{k}") for r in op.results]
        for r, t in zip(op.results, outputs):
            tensors[r] = t
        options = schema.options("StableHLOCompositeOptions", name=comp_name, decompositionSubgraphIndex=body.index,
                                 compositeAttributes=np.frombuffer(attrs, np.uint8),
                                 compositeAttributesFormat=schema.enum("CustomOptionsFormat", "FLEXBUFFERS"),
                                 version=version)
        sg.op("STABLEHLO_COMPOSITE", inputs, outputs, options=options)


def export(module, writer: ModelWriter | None = None) -> ModelWriter:
    """Fill a ModelWriter from a legalized module (nothing is written yet: `writer.write(path)`)."""
    writer = writer or ModelWriter()
    _Exporter(ir.as_operation(module), writer).run()
    return writer
