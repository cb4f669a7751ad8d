"""Random elementwise/broadcast/reduce programs keep their results through load/save in every format and
through `canonicalize,cse`: the core must never change what a module computes."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hlo_passes as hp
from hlo_passes import ir, numerics

UNARY = ["negate", "exponential", "tanh", "abs", "logistic", "sine", "sqrt_abs"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum"]


@st.composite
def programs(draw):
    """Straight-line StableHLO text over two inputs of one shape, using values more than once (for cse)."""
    rank = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    ty = f"tensor<{'x'.join(map(str, shape))}xf32>"
    lines, values, n = [], ["%a", "%b"], 0

    def fresh():
        nonlocal n
        n += 1
        return f"%v{n}"

    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "const", "reduce_bcast"]))
        out = fresh()
        if kind == "unary":
            op, x = draw(st.sampled_from(UNARY)), draw(st.sampled_from(values))
            if op == "sqrt_abs":
                tmp = fresh()
                lines.append(f"{tmp} = stablehlo.abs {x} : {ty}")
                lines.append(f"{out} = stablehlo.sqrt {tmp} : {ty}")
            else:
                lines.append(f"{out} = stablehlo.{op} {x} : {ty}")
        elif kind == "binary":
            op = draw(st.sampled_from(BINARY))
            x, y = draw(st.sampled_from(values)), draw(st.sampled_from(values))
            lines.append(f"{out} = stablehlo.{op} {x}, {y} : {ty}")
        elif kind == "const":
            value = draw(st.sampled_from(["0.0", "1.0", "-2.5", "0.5"]))
            c = fresh()
            lines.append(f"{c} = stablehlo.constant dense<{value}> : {ty}")
            lines.append(f"{out} = stablehlo.multiply {draw(st.sampled_from(values))}, {c} : {ty}")
        else:  # reduce over the last axis, then broadcast back: the reduce/broadcast_in_dim pair
            x = draw(st.sampled_from(values))
            body = draw(st.sampled_from(["add", "maximum"]))
            rshape = shape[:-1]
            rty = f"tensor<{'x'.join(map(str, rshape))}{'x' if rshape else ''}f32>"
            init, red = fresh(), fresh()
            init_value = "0.0" if body == "add" else "0xFF800000"
            lines.append(f"{init} = stablehlo.constant dense<{init_value}> : tensor<f32>")
            lines.append(f"{red} = stablehlo.reduce({x} init: {init}) applies stablehlo.{body} across "
                         f"dimensions = [{rank - 1}] : ({ty}, tensor<f32>) -> {rty}")
            dims = ", ".join(map(str, range(rank - 1)))
            lines.append(f"{out} = stablehlo.broadcast_in_dim {red}, dims = [{dims}] : ({rty}) -> {ty}")
        values.append(out)
    body = "\n".join("  " + line for line in lines)
    result = values[-1]
    return (f"func.func @main(%a: {ty}, %b: {ty}) -> {ty} {{\n{body}\n  return {result} : {ty}\n}}\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=programs(), seed=st.integers(0, 1000), fmt=st.sampled_from(["text", "bytecode", "portable"]))
def test_round_trip_and_canonicalize_cse_keep_results(text, seed, fmt):
    module = ir.parse(text)
    inputs = numerics.random_inputs(module, seed)
    expected = numerics.execute(module, inputs, isolate=False)
    reloaded = ir.parse(ir.save(module, format=fmt))
    assert numerics.compare(numerics.execute(reloaded, inputs, isolate=False), expected, rtol=0, atol=0)
    optimized = hp.run(reloaded, "canonicalize,cse")
    optimized.verify()
    result = numerics.compare(numerics.execute(optimized, inputs, isolate=False), expected, rtol=1e-6, atol=1e-6)
    assert result, f"{result.detail}\n{text}"
