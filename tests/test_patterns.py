"""The pattern language itself: captures, commutativity, constraints, alternatives, failure reasons, and
the driver's guarantees (type checks, non-convergence as an error, hit counts, --debug-patterns)."""

import io

import numpy as np
import pytest
from conftest import func

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.ir import stablehlo as hlo
from hlo_passes.pass_manager import PassContext
from hlo_passes.patterns import Alt, Const, Op, Opt, Pattern, PatternSet, V, explain

MODULE = func("""  %z = stablehlo.constant dense<0.0> : tensor<4xf32>
  %two = stablehlo.constant dense<2.0> : tensor<4xf32>
  %0 = stablehlo.add %z, %a : tensor<4xf32>
  %1 = stablehlo.multiply %a, %b : tensor<4xf32>
  %2 = stablehlo.add %1, %1 : tensor<4xf32>
  %3 = stablehlo.convert %2 : (tensor<4xf32>) -> tensor<4xf64>
  %4 = stablehlo.convert %3 : (tensor<4xf64>) -> tensor<4xf32>
  %5 = stablehlo.divide %4, %two : tensor<4xf32>
  %6 = stablehlo.sqrt %0 : tensor<4xf32>
  %7 = stablehlo.divide %5, %6 : tensor<4xf32>
  return %7 : tensor<4xf32>""", "%a: tensor<4xf32>, %b: tensor<4xf32>", "tensor<4xf32>")


def ops_named(module, name):
    found = []
    ir.as_operation(module).walk(lambda op: (found.append(op) if op.name == name else None)
                                 or ir.mlir.WalkResult.ADVANCE)
    return found


def first(module, name, i=0):
    return ops_named(module, name)[i]


def test_captures_and_commutativity():
    m = ir.parse(MODULE)
    add0 = first(m, "stablehlo.add")  # add %z, %a: the constant is on the left
    match, why = Pattern("p", Op(hlo.AddOp, V("x"), Const("c", value=0)), lambda m: m["x"]).match(add0)
    assert match and not why
    assert match["x"] == add0.operands[1] and match["c"] == add0.operands[0]
    assert match.scalar("c") == 0
    no_swap = Pattern("p", Op(hlo.AddOp, V("x"), Const(value=0), commutative=False), lambda m: m["x"])
    assert no_swap.match(add0)[0] is None


def test_same_name_means_same_value():
    m = ir.parse(MODULE)
    double = Pattern("x+x", Op(hlo.AddOp, V("x"), V("x")), lambda m: m["x"])
    assert double.match(first(m, "stablehlo.add", 1))[0] is not None
    match, why = double.match(first(m, "stablehlo.add", 0))
    assert match is None and "'x' must be the same value" in why


def test_nested_templates_optional_and_alternatives():
    m = ir.parse(MODULE)
    div = first(m, "stablehlo.divide", 1)  # (convert(convert(...)) / 2) / sqrt(0 + a)
    template = Op(hlo.DivOp, Op(hlo.DivOp, Opt(hlo.ConvertOp, Opt(hlo.ConvertOp, V("num"))), Const("two")),
                  Alt(Op(hlo.RsqrtOp, V("v")), Op(hlo.SqrtOp, Op(hlo.AddOp, V("v"), Const(value=0)))))
    match, why = Pattern("p", template, lambda m: None).match(div)
    assert match, why
    assert match.op("num").name == "stablehlo.add" and match.const("two").tolist() == [2.0] * 4
    assert ir.mlir.BlockArgument.isinstance(match["v"]) if hasattr(ir.mlir.BlockArgument, "isinstance") \
        else match["v"].owner is not None


def test_constraints_and_failure_reasons_name_the_place():
    m = ir.parse(MODULE)
    div = first(m, "stablehlo.divide", 0)
    p = Pattern("halve", Op(hlo.DivOp, V("x"), Const(where=lambda a: (a == 3).all())), lambda m: m["x"])
    match, why = p.match(div)
    assert match is None and "constant at -:3:10" in why and "does not satisfy" in why
    veto = Pattern("veto", Op(hlo.DivOp, V("x"), Const()), lambda m: m["x"], where=lambda m: "divisor is even")
    assert veto.match(div) == (None, "divisor is even")
    wrong_op = Pattern("w", Op(hlo.MulOp, Op(hlo.AddOp), V()), lambda m: None).match(first(m, "stablehlo.multiply"))
    assert wrong_op[0] is None and "expected stablehlo.add, got block argument" in wrong_op[1]
    lines = explain(p, m)
    assert len(lines) == 2 and all("does not satisfy" in line or "expected a constant" in line for line in lines)


def test_rewrites_keep_semantics_and_count_hits():
    m = ir.parse(MODULE)
    before = ir.clone(m)
    rules = PatternSet([
        Pattern("add-zero", Op(hlo.AddOp, V("x"), Const(value=0)), lambda m: m["x"]),
        Pattern("x+x", Op(hlo.AddOp, V("x"), V("x")),
                lambda m: hlo.MulOp(m["x"], hlo.ConstantOp(ir.splat(2.0, m["x"].type)).result)),
    ])
    ctx = PassContext()
    hits = rules.apply(m, ctx)
    assert hits == {"add-zero": 1, "x+x": 1}
    assert ctx.statistics["pattern add-zero"] == 1
    assert not ops_named(m, "stablehlo.add")
    inputs = [np.abs(x) for x in numerics.random_inputs(before, 1)]
    assert numerics.compare(numerics.execute(m, inputs, isolate=False),
                            numerics.execute(before, inputs, isolate=False))


def test_ping_pong_patterns_do_not_converge_with_a_clear_error():
    m = ir.parse(MODULE)
    ping = Pattern("mul-to-add", Op(hlo.MulOp, V("x"), V("y")), lambda m: hlo.AddOp(m["x"], m["y"]).result)
    pong = Pattern("add-to-mul", Op(hlo.AddOp, V("x"), V("y")), lambda m: hlo.MulOp(m["x"], m["y"]).result)
    with pytest.raises(hp.HloError, match=r"did not converge after 3 sweeps .*; patterns still firing: .*"
                                          r"(mul-to-add|add-to-mul)"):
        PatternSet([ping, pong]).apply(m, max_iterations=3)


def test_a_rewrite_of_the_wrong_type_is_refused():
    m = ir.parse(MODULE)
    bad = Pattern("bad", Op(hlo.ConvertOp, V("x")), lambda m: m["x"])  # f32 -> f64 replaced by the f32
    with pytest.raises(hp.HloError, match=r"pattern 'bad' would replace a tensor<4xf64> by a tensor<4xf32>"):
        PatternSet([bad]).apply(m)


def test_debug_output_explains_each_candidate():
    m = ir.parse(MODULE)
    out = io.StringIO()
    ctx = PassContext(debug=frozenset({"add-zero"}), out=out)
    PatternSet([Pattern("add-zero", Op(hlo.AddOp, V("x"), Const(value=0)), lambda m: m["x"])]).apply(m, ctx)
    text = out.getvalue()
    assert "[add-zero] stablehlo.add at -:4:8: rewritten" in text
    assert "[add-zero] stablehlo.add at -:6:8: no match: expected a constant, got stablehlo.multiply at -:5:8" in text


def test_pattern_sets_compose_and_reject_duplicates():
    a = Pattern("a", Op(hlo.AddOp), lambda m: None)
    b = Pattern("b", Op(hlo.MulOp), lambda m: None)
    assert [p.name for p in PatternSet([a]) + PatternSet([b])] == ["a", "b"]
    with pytest.raises(ValueError, match="unique"):
        PatternSet([a]) + PatternSet([a])
    with pytest.raises(TypeError, match="root must be an Op"):
        Pattern("c", V("x"), lambda m: None)


def test_decline_is_one_failure_type_for_where_evaluators_and_conversions():
    """A `where` (or any helper it calls) may raise Decline(why): the match fails with that reason, the op
    stays, and the class is the same one the constant evaluators and the conversion rules raise."""
    from hlo_passes import diagnostics
    from hlo_passes.patterns import Decline, dtypes, folding
    from hlo_passes.patterns import driver as drv

    assert Decline is diagnostics.Decline is dtypes.Decline is folding.Decline is drv.Decline

    def deep_check(m):
        def helper():
            raise Decline("the left operand is not a constant here")
        helper()

    rule = Pattern("declining", Op(hlo.AddOp, V("x"), V("y")), lambda m: m["x"], where=deep_check)
    assert any(line.endswith("the left operand is not a constant here") for line in explain(rule, ir.parse(MODULE)))
    m = ir.parse(MODULE)
    assert PatternSet([rule]).apply(m) == {}
    assert len(ops_named(m, "stablehlo.add")) == 2
