"""legalize-tflite over random shapes and dtypes (hypothesis): elementwise ops, broadcasts, reductions,
transposes/reshapes and matmuls, each module run on XLA CPU and, written as a .tflite, in LiteRT (XNNPACK
on and off). f32 within 1e-5 relative (plus 1e-5 absolute), integers exactly."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hlo_passes as hp
from hlo_passes import numerics
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4)


def _t(shape, et):
    return f"tensor<{'x'.join(map(str, shape))}x{et}>" if shape else f"tensor<{et}>"


def _check(text: str, seed: int = 0):
    module = hp.parse(text)
    data = export(hp.run(module, "legalize-tflite")).to_bytes()
    inputs = numerics.random_inputs(module, seed)
    expected = numerics.execute(module, inputs)
    for xnnpack in (True, False):
        got = list(TFLiteModel(data, xnnpack=xnnpack).run(None, *inputs).values())
        result = numerics.compare(got, expected, rtol=1e-5, atol=1e-5)
        assert result.ok, f"xnnpack={xnnpack}: {result.detail}\n{text}"


@SETTINGS
@given(shapes, st.sampled_from(["f32", "i32"]),
       st.sampled_from(["add", "subtract", "multiply", "maximum", "minimum"]),
       st.sampled_from(["negate", "abs", None]), st.integers(0, 3))
def test_elementwise(shape, et, binary, unary, seed):
    t = _t(shape, et)
    body = f"  %0 = stablehlo.{binary} %a, %b : {t}\n"
    last = "%0"
    if unary:
        body += f"  %1 = stablehlo.{unary} %0 : {t}\n"
        last = "%1"
    _check(f"func.func @main(%a: {t}, %b: {t}) -> {t} {{\n{body}  return {last} : {t}\n}}", seed)


@SETTINGS
@given(shapes, st.data())
def test_broadcast_and_reduce(shape, data):
    rank = len(shape)
    kept = sorted(data.draw(st.sets(st.integers(0, rank - 1), max_size=rank)))
    small = [shape[d] for d in kept]
    reduced = sorted(data.draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank)))
    out = [shape[d] for d in range(rank) if d not in reduced]
    kind = data.draw(st.sampled_from(["add", "maximum"]))
    init = "0.0" if kind == "add" else "0xFF800000"
    t, ts, to = _t(shape, "f32"), _t(small, "f32"), _t(out, "f32")
    text = (f"func.func @main(%a: {t}, %b: {ts}) -> {to} {{\n"
            f"  %0 = stablehlo.broadcast_in_dim %b, dims = {kept} : ({ts}) -> {t}\n"
            f"  %1 = stablehlo.multiply %a, %0 : {t}\n"
            f"  %z = stablehlo.constant dense<{init}> : tensor<f32>\n"
            f"  %2 = stablehlo.reduce(%1 init: %z) applies stablehlo.{kind} across dimensions = {reduced}"
            f" : ({t}, tensor<f32>) -> {to}\n  return %2 : {to}\n}}")
    _check(text)


@SETTINGS
@given(shapes, st.data())
def test_transpose_reshape(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    moved = [shape[p] for p in perm]
    flat = int(np.prod(shape))
    t, tm, tf = _t(shape, "f32"), _t(moved, "f32"), _t([flat], "f32")
    text = (f"func.func @main(%a: {t}) -> {tf} {{\n"
            f"  %0 = stablehlo.transpose %a, dims = {list(perm)} : ({t}) -> {tm}\n"
            f"  %1 = stablehlo.reshape %0 : ({tm}) -> {tf}\n  return %1 : {tf}\n}}")
    _check(text)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_matmul(batch, m, k, n, weight_constant):
    lhs, out = _t([batch, m, k], "f32"), _t([batch, m, n], "f32")
    if weight_constant:  # FULLY_CONNECTED with the weight as [N, K]
        w = np.random.default_rng(m * 31 + k * 7 + n).standard_normal((k, n)).astype(np.float32)
        body = (f"  %w = stablehlo.constant dense<{w.tolist()}> : {_t([k, n], 'f32')}\n"
                f"  %0 = stablehlo.dot_general %a, %w, contracting_dims = [2] x [0] : ({lhs}, {_t([k, n], 'f32')})"
                f" -> {out}\n")
        args = f"%a: {lhs}"
    else:  # BATCH_MATMUL
        rhs = _t([batch, n, k], "f32")
        body = (f"  %0 = stablehlo.dot_general %a, %b, batching_dims = [0] x [0], contracting_dims = [2] x [2]"
                f" : ({lhs}, {rhs}) -> {out}\n")
        args = f"%a: {lhs}, %b: {rhs}"
    _check(f"func.func @main({args}) -> {out} {{\n{body}  return %0 : {out}\n}}")
