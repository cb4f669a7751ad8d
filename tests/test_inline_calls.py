"""inline-calls on call graphs that used to hang or blow up: long chains, recursion, fan-out trees.

Each case checks the result on XLA CPU against the module before the pass."""

import numpy as np

import hlo_passes as hp
from hlo_passes import numerics


def _chain(n: int) -> str:
    """main -> f0 -> f1 -> ... -> f{n-1}, each adding one."""
    lines = ["func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {",
             "  %0 = call @f0(%x) : (tensor<2xf32>) -> tensor<2xf32>",
             "  return %0 : tensor<2xf32>", "}"]
    for i in range(n):
        inner = f"  %c = call @f{i + 1}(%s) : (tensor<2xf32>) -> tensor<2xf32>\n  return %c : tensor<2xf32>" \
            if i + 1 < n else "  return %s : tensor<2xf32>"
        lines += [f"func.func private @f{i}(%a: tensor<2xf32>) -> tensor<2xf32> {{",
                  "  %one = stablehlo.constant dense<1.0> : tensor<2xf32>",
                  "  %s = stablehlo.add %a, %one : tensor<2xf32>", inner, "}"]
    return "\n".join(lines)


def _tree(depth: int) -> str:
    """Each level calls the next twice: 2^depth leaves when fully inlined."""
    lines = ["func.func @main(%x: tensor<f32>) -> tensor<f32> {",
             "  %0 = call @t0(%x) : (tensor<f32>) -> tensor<f32>", "  return %0 : tensor<f32>", "}"]
    for i in range(depth):
        if i + 1 < depth:
            body = (f"  %l = call @t{i + 1}(%a) : (tensor<f32>) -> tensor<f32>\n"
                    f"  %r = call @t{i + 1}(%l) : (tensor<f32>) -> tensor<f32>\n  return %r : tensor<f32>")
        else:
            body = "  %r = stablehlo.negate %a : tensor<f32>\n  return %r : tensor<f32>"
        lines += [f"func.func private @t{i}(%a: tensor<f32>) -> tensor<f32> {{", body, "}"]
    return "\n".join(lines)


def _funcs(module) -> list[str]:
    return [hp.ir.mlir.StringAttr(op.attributes["sym_name"]).value for op in hp.ir.module_ops(module)]


def test_long_chain_is_flattened_into_main_and_keeps_results():
    module = hp.parse(_chain(3000))
    out = hp.run(module, "inline-calls")
    assert _funcs(out) == ["main"]
    x = np.array([0.5, -2.0], np.float32)
    (y,) = numerics.execute(out, [x])
    np.testing.assert_array_equal(y, x + 3000)


def test_recursion_ends_and_keeps_the_cycle():
    text = """
    func.func @main(%x: tensor<f32>) -> tensor<f32> {
      %0 = call @f(%x) : (tensor<f32>) -> tensor<f32>
      return %0 : tensor<f32>
    }
    func.func private @f(%a: tensor<f32>) -> tensor<f32> {
      %0 = call @f(%a) : (tensor<f32>) -> tensor<f32>
      %1 = call @f(%0) : (tensor<f32>) -> tensor<f32>
      return %1 : tensor<f32>
    }"""
    out = hp.run(hp.parse(text), "inline-calls")
    assert _funcs(out) == ["main", "f"]


def test_fan_out_stops_at_the_budget_and_stays_correct():
    module = hp.parse(_tree(12))
    from hlo_passes.instrumentation import Statistics

    stats = Statistics()
    out = hp.run(module, "inline-calls{max-ops=200}", instruments=[stats])
    report = stats.report()
    assert "calls left (max-ops)" in report
    x = [np.array(1.5, np.float32)]
    assert numerics.check_same(module, out, inputs=x, rtol=0, atol=0)
    full = hp.run(module, "inline-calls")
    assert _funcs(full) == ["main"]
    assert numerics.check_same(module, full, inputs=x, rtol=0, atol=0)
