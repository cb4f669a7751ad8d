"""The backend half at scale (issue 12): passes after export, legalize-tflite and the writer must never copy or
print a weight they do not change. Timings are in bench/llm.py; these tests pin the structural facts that kept
(or would break) the linear cost: which reads happen, how many copies of a weight exist, what gets printed."""

import numpy as np

from hlo_passes import ir
from hlo_passes.ir import constants, mlir


def _module(body: str, args: str, result: str) -> mlir.Module:
    return ir.parse(f"func.func @main({args}) -> {result} {{\n{body}\n}}")


class _Recording:
    """Stands in for the bindings module inside `ir.constants`: the dense attribute classes record every cast
    that fails (a failed cast prints the whole attribute into its exception message)."""

    def __init__(self, real, failures: list):
        self._real, self._failures = real, failures

    def __getattr__(self, name):
        value = getattr(self._real, name)
        if name not in ("DenseFPElementsAttr", "DenseIntElementsAttr"):
            return value

        def cast(attr):
            try:
                return value(attr)
            except ValueError:
                self._failures.append(name)
                raise
        return cast


def test_reading_an_int8_weight_attribute_tries_no_failing_cast(monkeypatch):
    """`op.attributes["value"]` of an int8 weight went through a DenseFPElementsAttr cast that failed, and the
    failure's message held the weight printed in hex: 3.5 s of inline-calls and 8 s of legalize-tflite on the
    int8 8x1024 model. The caster now picks the class from the element type."""
    values = np.random.default_rng(0).integers(-127, 128, (64, 64)).astype(np.int8)
    floats = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = _module("%q = stablehlo.constant dense<0> : tensor<64x64xi8>\n"
                         "%f = stablehlo.constant dense<0.0> : tensor<8x8xf32>\n"
                         "return %q, %f : tensor<64x64xi8>, tensor<8x8xf32>", "", "(tensor<64x64xi8>, tensor<8x8xf32>)")
        block = ir.as_operation(module).regions[0].blocks[0].operations[0].regions[0].blocks[0]
        ops = list(block.operations)
        ops[0].attributes["value"] = ir.from_numpy(values)
        ops[1].attributes["value"] = ir.from_numpy(floats)
        failures: list = []
        monkeypatch.setattr(constants, "mlir", _Recording(mlir, failures))
        int_attr, float_attr = ops[0].attributes["value"], ops[1].attributes["value"]
        monkeypatch.undo()
        assert failures == []
        assert isinstance(int_attr, mlir.DenseIntElementsAttr) and isinstance(float_attr, mlir.DenseFPElementsAttr)
        np.testing.assert_array_equal(ir.to_numpy(int_attr), values)
        np.testing.assert_array_equal(ir.to_numpy(float_attr), floats)
