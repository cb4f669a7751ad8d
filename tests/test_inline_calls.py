"""inline-calls on call graphs that used to hang or blow up: long chains, recursion, fan-out trees.

Each case checks the result on XLA CPU against the module before the pass."""

import numpy as np
import pytest

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


_LEFT = """
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = call @a(%x) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = call @b(%0) : (tensor<2xf32>) -> tensor<2xf32>
  return %1 : tensor<2xf32>
}
func.func private @a(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = call @c(%x) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = call @c(%0) : (tensor<2xf32>) -> tensor<2xf32>
  return %1 : tensor<2xf32>
}
func.func private @b(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = stablehlo.negate %x : tensor<2xf32>
  %1 = stablehlo.negate %0 : tensor<2xf32>
  %2 = stablehlo.negate %1 : tensor<2xf32>
  return %2 : tensor<2xf32>
}
func.func private @c(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = stablehlo.abs %x : tensor<2xf32>
  %1 = stablehlo.composite "odml.x" %0 {decomposition = @d} : (tensor<2xf32>) -> tensor<2xf32>
  return %1 : tensor<2xf32>
}
func.func private @d(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = call @e(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
func.func private @e(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = stablehlo.sine %x : tensor<2xf32>
  return %0 : tensor<2xf32>
}
func.func private @unused(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = call @e(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
func.func private @rec(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = call @rec(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}
"""


@pytest.mark.parametrize("max_ops,kept", [
    (10_000_000, ["main", "d"]),           # all inlined; @d stays: the composite copied from @c names it
    (0, ["main", "a", "b", "c", "d", "e"]),  # nothing inlined: what main calls stays, the unused go
    (3, ["main", "a", "b", "c", "d"]),     # (the budget runs out at different calls: what stays differs)
    (5, ["main", "a", "c", "d", "e"]),
    (8, ["main", "a", "c", "d"]),
    (12, ["main", "c", "d"]),
])
def test_what_stays_is_what_the_result_still_names(max_ops, kept):
    """Calls left by max-ops, a decomposition named from an inlined body, a function called only from one
    that stays: each keeps its function; a recursive or unreferenced private function goes."""
    module = hp.parse(_LEFT)
    out = hp.run(module, f"inline-calls{{max-ops={max_ops}}}")
    assert _funcs(out) == kept
    x = np.array([0.5, -2.0], np.float32)
    np.testing.assert_allclose(numerics.execute(out, [x])[0], numerics.execute(module, [x])[0], rtol=1e-6)
