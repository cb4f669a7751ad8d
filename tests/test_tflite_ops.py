"""Every legalization rule, differentially: the StableHLO module on XLA CPU vs our `.tflite` in LiteRT, on the
same seeded random inputs (integer inputs include their dtype's edges), with XNNPACK on and off.

Each case is a one-function module written as StableHLO text; a case passes only if legalize-tflite converts
every op, the exporter writes it, LiteRT runs it, and the results agree (f32: 1e-5 relative + 1e-5 absolute;
integers and booleans exactly)."""

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import numerics
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel


def _module(args: str, results: str, body: str) -> str:
    return f"func.func @main({args}) -> {results} {{\n{body}\n}}\n"


def _binary(op: str, t: str = "tensor<2x3xf32>") -> str:
    return _module(f"%a: {t}, %b: {t}", t, f"  %0 = stablehlo.{op} %a, %b : {t}\n  return %0 : {t}")


def _unary(op: str, t: str = "tensor<2x3xf32>") -> str:
    return _module(f"%a: {t}", t, f"  %0 = stablehlo.{op} %a : {t}\n  return %0 : {t}")


def _compare(direction: str, t: str = "tensor<6xf32>") -> str:
    return _module(f"%a: {t}, %b: {t}", "tensor<6xi1>",
                   f"  %0 = stablehlo.compare {direction}, %a, %b : ({t}, {t}) -> tensor<6xi1>\n"
                   "  return %0 : tensor<6xi1>")


W = "dense<[[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [3.0, -2.0, 1.0], [0.0, 1.0, -1.0]]> : tensor<4x3xf32>"

CASES = {
    **{f"binary-{op}": _binary(op) for op in ("add", "subtract", "multiply", "divide", "maximum", "minimum")},
    "binary-power": _module("%a: tensor<4xf32>", "tensor<4xf32>",
                            "  %e = stablehlo.constant dense<[2.0, 3.0, 0.5, 1.0]> : tensor<4xf32>\n"
                            "  %p = stablehlo.abs %a : tensor<4xf32>\n"
                            "  %0 = stablehlo.power %p, %e : tensor<4xf32>\n  return %0 : tensor<4xf32>"),
    "binary-add-i32": _binary("add", "tensor<5xi32>"),
    "binary-divide-i32": _module("%a: tensor<5xi32>", "tensor<5xi32>",
                                 "  %d = stablehlo.constant dense<[3, -3, 7, 2, -5]> : tensor<5xi32>\n"
                                 "  %0 = stablehlo.divide %a, %d : tensor<5xi32>\n  return %0 : tensor<5xi32>"),
    **{f"unary-{op}": _unary(op) for op in ("negate", "exponential", "tanh", "logistic", "abs", "sine", "cosine",
                                            "floor", "ceil", "round_nearest_even", "sign")},
    "unary-rsqrt-sqrt-log": _module("%a: tensor<2x3xf32>", "tensor<2x3xf32>",
                                    "  %p = stablehlo.abs %a : tensor<2x3xf32>\n"
                                    "  %0 = stablehlo.rsqrt %p : tensor<2x3xf32>\n"
                                    "  %1 = stablehlo.sqrt %p : tensor<2x3xf32>\n"
                                    "  %2 = stablehlo.log %p : tensor<2x3xf32>\n"
                                    "  %3 = stablehlo.add %0, %1 : tensor<2x3xf32>\n"
                                    "  %4 = stablehlo.add %3, %2 : tensor<2x3xf32>\n  return %4 : tensor<2x3xf32>"),
    **{f"compare-{d}": _compare(d) for d in ("EQ", "NE", "LT", "LE", "GT", "GE")},
    "compare-i32": _compare("LT", "tensor<6xi32>"),
    "logical": _module("%a: tensor<6xi1>, %b: tensor<6xi1>", "tensor<6xi1>",
                       "  %0 = stablehlo.and %a, %b : tensor<6xi1>\n  %1 = stablehlo.not %0 : tensor<6xi1>\n"
                       "  %2 = stablehlo.or %1, %b : tensor<6xi1>\n  return %2 : tensor<6xi1>"),
    "select": _module("%p: tensor<2x3xi1>, %a: tensor<2x3xf32>, %b: tensor<2x3xf32>", "tensor<2x3xf32>",
                      "  %0 = stablehlo.select %p, %a, %b : tensor<2x3xi1>, tensor<2x3xf32>\n"
                      "  return %0 : tensor<2x3xf32>"),
    "clamp": _module("%a: tensor<6xf32>", "tensor<6xf32>",
                     "  %lo = stablehlo.constant dense<-0.5> : tensor<6xf32>\n"
                     "  %hi = stablehlo.constant dense<0.5> : tensor<6xf32>\n"
                     "  %0 = stablehlo.clamp %lo, %a, %hi : tensor<6xf32>\n  return %0 : tensor<6xf32>"),
    "convert-f32-i32": _module("%a: tensor<6xf32>", "tensor<6xi32>",
                               "  %c = stablehlo.constant dense<10.0> : tensor<6xf32>\n"
                               "  %m = stablehlo.multiply %a, %c : tensor<6xf32>\n"
                               "  %0 = stablehlo.convert %m : (tensor<6xf32>) -> tensor<6xi32>\n"
                               "  return %0 : tensor<6xi32>"),
    "convert-i32-f32": _module("%a: tensor<6xi32>", "tensor<6xf32>",
                               "  %0 = stablehlo.convert %a : (tensor<6xi32>) -> tensor<6xf32>\n"
                               "  return %0 : tensor<6xf32>"),
    "reshape-transpose": _module("%a: tensor<2x3x4xf32>", "tensor<4x6xf32>",
                                 "  %0 = stablehlo.transpose %a, dims = [2, 0, 1] : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>\n"
                                 "  %1 = stablehlo.reshape %0 : (tensor<4x2x3xf32>) -> tensor<4x6xf32>\n"
                                 "  return %1 : tensor<4x6xf32>"),
    "broadcast-in-dim": _module("%a: tensor<3xf32>, %b: tensor<2x3x4xf32>", "tensor<2x3x4xf32>",
                                "  %0 = stablehlo.broadcast_in_dim %a, dims = [1] : (tensor<3xf32>) -> tensor<2x3x4xf32>\n"
                                "  %1 = stablehlo.add %0, %b : tensor<2x3x4xf32>\n  return %1 : tensor<2x3x4xf32>"),
    "broadcast-in-dim-permuted": _module("%a: tensor<4x2xf32>", "tensor<2x3x4xf32>",
                                         "  %0 = stablehlo.broadcast_in_dim %a, dims = [2, 0] : (tensor<4x2xf32>) -> tensor<2x3x4xf32>\n"
                                         "  return %0 : tensor<2x3x4xf32>"),
    "slice": _module("%a: tensor<4x6xf32>", "tensor<2x3xf32>",
                     "  %0 = stablehlo.slice %a [1:3, 2:5] : (tensor<4x6xf32>) -> tensor<2x3xf32>\n"
                     "  return %0 : tensor<2x3xf32>"),
    "slice-strided": _module("%a: tensor<4x6xf32>", "tensor<2x3xf32>",
                             "  %0 = stablehlo.slice %a [0:4:2, 0:6:2] : (tensor<4x6xf32>) -> tensor<2x3xf32>\n"
                             "  return %0 : tensor<2x3xf32>"),
    "concatenate": _module("%a: tensor<2x3xf32>, %b: tensor<2x1xf32>", "tensor<2x4xf32>",
                           "  %0 = stablehlo.concatenate %a, %b, dim = 1 : (tensor<2x3xf32>, tensor<2x1xf32>) -> tensor<2x4xf32>\n"
                           "  return %0 : tensor<2x4xf32>"),
    "iota": _module("%a: tensor<2x3xi32>", "tensor<2x3xi32>",
                    "  %0 = stablehlo.iota dim = 1 : tensor<2x3xi32>\n"
                    "  %1 = stablehlo.add %0, %a : tensor<2x3xi32>\n  return %1 : tensor<2x3xi32>"),
    "dynamic-slice-clamped": _module("%a: tensor<5x4xf32>, %i: tensor<i32>", "tensor<2x4xf32>",
                                     "  %z = stablehlo.constant dense<0> : tensor<i32>\n"
                                     "  %0 = stablehlo.dynamic_slice %a, %i, %z, sizes = [2, 4] : (tensor<5x4xf32>, tensor<i32>, tensor<i32>) -> tensor<2x4xf32>\n"
                                     "  return %0 : tensor<2x4xf32>"),
    "dynamic-update-slice": _module("%a: tensor<6x4xf32>, %u: tensor<2x4xf32>, %i: tensor<i32>", "tensor<6x4xf32>",
                                    "  %z = stablehlo.constant dense<0> : tensor<i32>\n"
                                    "  %0 = stablehlo.dynamic_update_slice %a, %u, %i, %z : (tensor<6x4xf32>, tensor<2x4xf32>, tensor<i32>, tensor<i32>) -> tensor<6x4xf32>\n"
                                    "  return %0 : tensor<6x4xf32>"),
    "dot-fc-weight-kn": _module("%x: tensor<2x5x4xf32>", "tensor<2x5x3xf32>",
                                f"  %w = stablehlo.constant {W}\n"
                                "  %0 = stablehlo.dot_general %x, %w, contracting_dims = [2] x [0] : (tensor<2x5x4xf32>, tensor<4x3xf32>) -> tensor<2x5x3xf32>\n"
                                "  return %0 : tensor<2x5x3xf32>"),
    "dot-fc-weight-nk": _module("%x: tensor<5x3xf32>", "tensor<5x4xf32>",
                                f"  %w = stablehlo.constant {W}\n"
                                "  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [1] : (tensor<5x3xf32>, tensor<4x3xf32>) -> tensor<5x4xf32>\n"
                                "  return %0 : tensor<5x4xf32>"),
    "dot-batch-attention": _module("%q: tensor<1x2x5x4xf32>, %k: tensor<1x2x6x4xf32>", "tensor<1x2x5x6xf32>",
                                   "  %0 = stablehlo.dot_general %q, %k, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [3] : (tensor<1x2x5x4xf32>, tensor<1x2x6x4xf32>) -> tensor<1x2x5x6xf32>\n"
                                   "  return %0 : tensor<1x2x5x6xf32>"),
    "dot-contract-first": _module("%a: tensor<4x5xf32>, %b: tensor<4x3xf32>", "tensor<5x3xf32>",
                                  "  %0 = stablehlo.dot_general %a, %b, contracting_dims = [0] x [0] : (tensor<4x5xf32>, tensor<4x3xf32>) -> tensor<5x3xf32>\n"
                                  "  return %0 : tensor<5x3xf32>"),
    "reduce-sum-max": _module("%a: tensor<2x3x4xf32>", "(tensor<2x4xf32>, tensor<3xf32>)",
                              "  %z = stablehlo.constant dense<0.0> : tensor<f32>\n"
                              "  %m = stablehlo.constant dense<0xFF800000> : tensor<f32>\n"
                              "  %0 = stablehlo.reduce(%a init: %z) applies stablehlo.add across dimensions = [1] : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<2x4xf32>\n"
                              "  %1 = stablehlo.reduce(%a init: %m) applies stablehlo.maximum across dimensions = [0, 2] : (tensor<2x3x4xf32>, tensor<f32>) -> tensor<3xf32>\n"
                              "  return %0, %1 : tensor<2x4xf32>, tensor<3xf32>"),
    "reduce-init-not-identity": _module("%a: tensor<2x3xf32>", "tensor<2xf32>",
                                        "  %z = stablehlo.constant dense<1.5> : tensor<f32>\n"
                                        "  %0 = stablehlo.reduce(%a init: %z) applies stablehlo.add across dimensions = [1] : (tensor<2x3xf32>, tensor<f32>) -> tensor<2xf32>\n"
                                        "  return %0 : tensor<2xf32>"),
    "gather-embedding": _module("%ids: tensor<1x4xi32>", "tensor<1x4x3xf32>",
                                f"  %w = stablehlo.constant {W}\n"
                                "  %c = stablehlo.constant dense<3> : tensor<1x4xi32>\n"
                                "  %z = stablehlo.constant dense<0> : tensor<1x4xi32>\n"
                                "  %i0 = stablehlo.maximum %ids, %z : tensor<1x4xi32>\n"
                                "  %i = stablehlo.minimum %i0, %c : tensor<1x4xi32>\n"
                                "  %r = stablehlo.reshape %i : (tensor<1x4xi32>) -> tensor<1x4x1xi32>\n"
                                '  %0 = "stablehlo.gather"(%w, %r) {dimension_numbers = #stablehlo.gather<offset_dims = [2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, slice_sizes = array<i64: 1, 3>} : (tensor<4x3xf32>, tensor<1x4x1xi32>) -> tensor<1x4x3xf32>\n'
                                "  return %0 : tensor<1x4x3xf32>"),
    "gather-raw-ids": _module("%ids: tensor<1x4xi32>", "tensor<1x4x3xf32>",
                              f"  %w = stablehlo.constant {W}\n"
                              "  %r = stablehlo.reshape %ids : (tensor<1x4xi32>) -> tensor<1x4x1xi32>\n"
                              '  %0 = "stablehlo.gather"(%w, %r) {dimension_numbers = #stablehlo.gather<offset_dims = [2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, slice_sizes = array<i64: 1, 3>} : (tensor<4x3xf32>, tensor<1x4x1xi32>) -> tensor<1x4x3xf32>\n'
                              "  return %0 : tensor<1x4x3xf32>"),
    "gather-points-constant": _module("%m: tensor<3x8xi1>", "tensor<3x1x1x8xi1>",  # torch's padding-mask read
                                      "  %i = stablehlo.constant dense<[[[[[0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [0, 7]]]], [[[[1, 0], [1, 1], [1, 2], [1, 3], [1, 4], [1, 5], [1, 6], [9, -7]]]], [[[[2, 7], [2, 6], [2, 5], [2, 4], [2, 3], [2, 2], [2, 1], [2, 0]]]]]> : tensor<3x1x1x8x2xi64>\n"
                                      '  %0 = "stablehlo.gather"(%m, %i) {dimension_numbers = #stablehlo.gather<collapsed_slice_dims = [0, 1], start_index_map = [0, 1], index_vector_dim = 4>, slice_sizes = array<i64: 1, 1>} : (tensor<3x8xi1>, tensor<3x1x1x8x2xi64>) -> tensor<3x1x1x8xi1>\n'
                                      "  return %0 : tensor<3x1x1x8xi1>"),
    "gather-points": _module("%x: tensor<4x5xf32>, %i: tensor<6x2xi32>", "tensor<6xf32>",
                             '  %0 = "stablehlo.gather"(%x, %i) {dimension_numbers = #stablehlo.gather<collapsed_slice_dims = [0, 1], start_index_map = [0, 1], index_vector_dim = 1>, slice_sizes = array<i64: 1, 1>} : (tensor<4x5xf32>, tensor<6x2xi32>) -> tensor<6xf32>\n'
                             "  return %0 : tensor<6xf32>"),
    "f64-intermediates": _module("%a: tensor<2x3xf32>", "tensor<2xf32>",
                                 "  %d = stablehlo.convert %a : (tensor<2x3xf32>) -> tensor<2x3xf64>\n"
                                 "  %z = stablehlo.constant dense<0.0> : tensor<f64>\n"
                                 "  %s = stablehlo.reduce(%d init: %z) applies stablehlo.add across dimensions = [1] : (tensor<2x3xf64>, tensor<f64>) -> tensor<2xf64>\n"
                                 "  %0 = stablehlo.convert %s : (tensor<2xf64>) -> tensor<2xf32>\n"
                                 "  return %0 : tensor<2xf32>"),
}


def _tflite(text: str) -> bytes:
    module = hp.parse(text)
    legal = hp.run(module, "legalize-tflite")
    return export(legal).to_bytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_xla(name):
    _check_case(name, CASES[name])


def _check_case(name, text):
    module = hp.parse(text)
    data = _tflite(text)
    for seed in (0, 1):
        inputs = numerics.random_inputs(module, seed)
        if name == "dynamic-slice-clamped" or name == "dynamic-update-slice":
            inputs[-1] = np.array(7 * (seed + 1) - 10, np.int32)  # out of range both ways: must clamp
        if name == "gather-points":
            inputs[1] = np.array([[0, 0], [3, 4], [-1, 2], [9, 9], [2, -5], [1, 3]], np.int32)  # clamped too
        if name == "gather-raw-ids":
            inputs[0] = np.array([[-5, 0, 3, 99]], np.int32)  # XLA clamps out-of-range rows; so must we
        expected = numerics.execute(module, inputs)
        for xnnpack in (True, False):
            got = list(TFLiteModel(data, xnnpack=xnnpack).run(None, *inputs).values())
            assert numerics.compare(got, expected, rtol=1e-5, atol=1e-5).ok, \
                f"{name} (xnnpack={xnnpack}, seed {seed}): {numerics.compare(got, expected, rtol=1e-5, atol=1e-5).detail}"


def test_unsupported_op_is_named_with_its_place():
    text = _module("%a: tensor<4xf32>", "tensor<4xf32>",
                   '  %0 = stablehlo.custom_call @my_kernel(%a) : (tensor<4xf32>) -> tensor<4xf32>\n'
                   '  %1 = "stablehlo.sort"(%0) ({\n'
                   '  ^bb0(%x: tensor<f32>, %y: tensor<f32>):\n'
                   '    %c = stablehlo.compare LT, %x, %y : (tensor<f32>, tensor<f32>) -> tensor<i1>\n'
                   '    stablehlo.return %c : tensor<i1>\n'
                   '  }) {dimension = 0 : i64} : (tensor<4xf32>) -> tensor<4xf32>\n'
                   "  return %1 : tensor<4xf32>")
    with pytest.raises(hp.HloError) as err:
        hp.run(hp.parse(text, filename="model.mlir"), "legalize-tflite")
    text_err = str(err.value)
    assert "2 op(s) could not be converted" in text_err
    assert ":2:8: stablehlo.custom_call" in text_err and ":3:8: stablehlo.sort" in text_err
    assert "stablehlo.compare" not in text_err  # the sort's comparator is not a separate problem


def test_declined_op_says_why():
    text = _module("%a: tensor<4xi32>, %b: tensor<4xi32>", "tensor<4xi32>",
                   "  %0 = stablehlo.and %a, %b : tensor<4xi32>\n  return %0 : tensor<4xi32>")
    with pytest.raises(hp.HloError, match="bitwise and of integers has no TFL builtin"):
        hp.run(hp.parse(text), "legalize-tflite")


CLEANUPS = {  # module -> the TFL ops left in main after legalize-tflite's clean-ups
    "sigmoid-as-jax-writes-it": (_module("%a: tensor<4x8xf32>", "tensor<4x8xf32>",
                                         "  %one = stablehlo.constant dense<1.0> : tensor<4x8xf32>\n"
                                         "  %0 = stablehlo.negate %a : tensor<4x8xf32>\n"
                                         "  %1 = stablehlo.exponential %0 : tensor<4x8xf32>\n"
                                         "  %2 = stablehlo.add %one, %1 : tensor<4x8xf32>\n"
                                         "  %3 = stablehlo.divide %one, %2 : tensor<4x8xf32>\n"
                                         "  %4 = stablehlo.multiply %a, %3 : tensor<4x8xf32>\n"
                                         "  return %4 : tensor<4x8xf32>"), {"tfl.logistic": 1, "tfl.mul": 1}),
    "rms-norm-mean-square": (_module("%a: tensor<4x8xf32>", "tensor<4x8xf32>",
                                     "  %two = stablehlo.constant dense<2.0> : tensor<4x8xf32>\n"
                                     "  %n = stablehlo.constant dense<8.0> : tensor<4x1xf32>\n"
                                     "  %z = stablehlo.constant dense<0.0> : tensor<f32>\n"
                                     "  %0 = stablehlo.power %a, %two : tensor<4x8xf32>\n"
                                     "  %1 = stablehlo.reduce(%0 init: %z) applies stablehlo.add across dimensions = [1] : (tensor<4x8xf32>, tensor<f32>) -> tensor<4xf32>\n"
                                     "  %2 = stablehlo.reshape %1 : (tensor<4xf32>) -> tensor<4x1xf32>\n"
                                     "  %3 = stablehlo.divide %2, %n : tensor<4x1xf32>\n"
                                     "  %4 = stablehlo.rsqrt %3 : tensor<4x1xf32>\n"
                                     "  %5 = stablehlo.broadcast_in_dim %4, dims = [0, 1] : (tensor<4x1xf32>) -> tensor<4x8xf32>\n"
                                     "  %6 = stablehlo.multiply %a, %5 : tensor<4x8xf32>\n"
                                     "  return %6 : tensor<4x8xf32>"),
                             {"tfl.mul": 2, "tfl.mean": 1, "tfl.rsqrt": 1}),
    "fc-bias-and-reshapes": (_module("%x: tensor<1x5x3xf32>", "tensor<1x5x4xf32>",
                                     f"  %w = stablehlo.constant {W}\n"
                                     "  %b = stablehlo.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>\n"
                                     "  %0 = stablehlo.reshape %x : (tensor<1x5x3xf32>) -> tensor<5x3xf32>\n"
                                     "  %1 = stablehlo.dot_general %0, %w, contracting_dims = [1] x [1] : (tensor<5x3xf32>, tensor<4x3xf32>) -> tensor<5x4xf32>\n"
                                     "  %2 = stablehlo.reshape %1 : (tensor<5x4xf32>) -> tensor<1x5x4xf32>\n"
                                     "  %3 = stablehlo.broadcast_in_dim %b, dims = [2] : (tensor<4xf32>) -> tensor<1x5x4xf32>\n"
                                     "  %4 = stablehlo.add %2, %3 : tensor<1x5x4xf32>\n"
                                     "  return %4 : tensor<1x5x4xf32>"), {"tfl.fully_connected": 1}),
    "fc-on-a-transposed-table": (_module("%x: tensor<5x3xf32>", "tensor<5x4xf32>",  # an LM head's [vocab, d] table
                                         f"  %w = stablehlo.constant {W}\n"
                                         "  %t = stablehlo.transpose %w, dims = [1, 0] : (tensor<4x3xf32>) -> tensor<3x4xf32>\n"
                                         "  %0 = stablehlo.dot_general %x, %t, contracting_dims = [1] x [0] : (tensor<5x3xf32>, tensor<3x4xf32>) -> tensor<5x4xf32>\n"
                                         "  return %0 : tensor<5x4xf32>"), {"tfl.fully_connected": 1}),
    "softmax-as-jax-writes-it": (_module("%a: tensor<2x3x8xf32>", "tensor<2x3x8xf32>",
                                         "  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>\n"
                                         "  %z = stablehlo.constant dense<0.0> : tensor<f32>\n"
                                         "  %m = stablehlo.reduce(%a init: %ninf) applies stablehlo.maximum across dimensions = [2] : (tensor<2x3x8xf32>, tensor<f32>) -> tensor<2x3xf32>\n"
                                         "  %g0 = stablehlo.broadcast_in_dim %ninf, dims = [] : (tensor<f32>) -> tensor<2x3xf32>\n"
                                         "  %g = stablehlo.maximum %g0, %m : tensor<2x3xf32>\n"
                                         "  %b = stablehlo.broadcast_in_dim %g, dims = [0, 1] : (tensor<2x3xf32>) -> tensor<2x3x8xf32>\n"
                                         "  %d = stablehlo.subtract %a, %b : tensor<2x3x8xf32>\n"
                                         "  %e = stablehlo.exponential %d : tensor<2x3x8xf32>\n"
                                         "  %s = stablehlo.reduce(%e init: %z) applies stablehlo.add across dimensions = [2] : (tensor<2x3x8xf32>, tensor<f32>) -> tensor<2x3xf32>\n"
                                         "  %sb = stablehlo.broadcast_in_dim %s, dims = [0, 1] : (tensor<2x3xf32>) -> tensor<2x3x8xf32>\n"
                                         "  %0 = stablehlo.divide %e, %sb : tensor<2x3x8xf32>\n"
                                         "  return %0 : tensor<2x3x8xf32>"), {"tfl.softmax": 1}),
    "layout-round-trip": (_module("%a: tensor<1x8x4x16xf32>", "tensor<8x64xf32>",
                                  "  %0 = stablehlo.reshape %a : (tensor<1x8x4x16xf32>) -> tensor<8x4x16xf32>\n"
                                  "  %1 = stablehlo.transpose %0, dims = [1, 0, 2] : (tensor<8x4x16xf32>) -> tensor<4x8x16xf32>\n"
                                  "  %2 = stablehlo.reshape %1 : (tensor<4x8x16xf32>) -> tensor<1x4x8x16xf32>\n"
                                  "  %3 = stablehlo.transpose %2, dims = [0, 2, 1, 3] : (tensor<1x4x8x16xf32>) -> tensor<1x8x4x16xf32>\n"
                                  "  %4 = stablehlo.reshape %3 : (tensor<1x8x4x16xf32>) -> tensor<8x64xf32>\n"
                                  "  return %4 : tensor<8x64xf32>"), {"tfl.reshape": 1}),
}


@pytest.mark.parametrize("name", sorted(CLEANUPS))
def test_cleanups_leave_the_lean_form_and_keep_results(name):
    text, want = CLEANUPS[name]
    module = hp.parse(text)
    legal = hp.run(module, "legalize-tflite")
    from hlo_passes.instrumentation import op_histogram

    left = {k: v for k, v in op_histogram(legal).items() if k.startswith("tfl.") and k not in ("tfl.pseudo_const", "tfl.no_value")}
    assert left == want
    inputs = numerics.random_inputs(module, 0)
    got = list(TFLiteModel(export(legal).to_bytes()).run(None, *inputs).values())
    assert numerics.compare(got, numerics.execute(module, inputs), rtol=1e-5, atol=1e-5).ok


NN_CASES = {
    "conv-nchw-padded-strided": _module(
        "%x: tensor<1x3x9x9xf32>", "tensor<1x4x5x5xf32>",
        "  %w = stablehlo.constant dense<0.125> : tensor<4x3x3x3xf32>\n"
        "  %0 = stablehlo.convolution(%x, %w) dim_numbers = [b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1], "
        "window = {stride = [2, 2], pad = [[1, 1], [1, 1]]} {batch_group_count = 1 : i64, feature_group_count = 1 : i64}"
        " : (tensor<1x3x9x9xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x5x5xf32>\n  return %0 : tensor<1x4x5x5xf32>"),
    "conv-nhwc-dilated": _module(
        "%x: tensor<1x8x8x2xf32>, %w: tensor<3x3x2x5xf32>", "tensor<1x4x4x5xf32>",
        "  %0 = stablehlo.convolution(%x, %w) dim_numbers = [b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f], "
        "window = {rhs_dilate = [2, 2]} {batch_group_count = 1 : i64, feature_group_count = 1 : i64}"
        " : (tensor<1x8x8x2xf32>, tensor<3x3x2x5xf32>) -> tensor<1x4x4x5xf32>\n  return %0 : tensor<1x4x4x5xf32>"),
    "conv-depthwise": _module(
        "%x: tensor<1x4x6x6xf32>", "tensor<1x8x6x6xf32>",
        "  %w = stablehlo.constant dense<0.5> : tensor<8x1x3x3xf32>\n"
        "  %0 = stablehlo.convolution(%x, %w) dim_numbers = [b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1], "
        "window = {pad = [[1, 1], [1, 1]]} {batch_group_count = 1 : i64, feature_group_count = 4 : i64}"
        " : (tensor<1x4x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32>\n  return %0 : tensor<1x8x6x6xf32>"),
    "max-pool-nchw": _module(
        "%x: tensor<1x2x6x6xf32>", "tensor<1x2x3x3xf32>",
        "  %m = stablehlo.constant dense<0xFF800000> : tensor<f32>\n"
        '  %0 = "stablehlo.reduce_window"(%x, %m) ({\n  ^bb0(%a: tensor<f32>, %b: tensor<f32>):\n'
        "    %r = stablehlo.maximum %a, %b : tensor<f32>\n    stablehlo.return %r : tensor<f32>\n"
        "  }) {window_dimensions = array<i64: 1, 1, 3, 3>, window_strides = array<i64: 1, 1, 2, 2>,"
        " padding = dense<[[0, 0], [0, 0], [1, 1], [1, 1]]> : tensor<4x2xi64>}"
        " : (tensor<1x2x6x6xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>\n  return %0 : tensor<1x2x3x3xf32>"),
    "sum-pool-nhwc": _module(
        "%x: tensor<1x4x4x3xf32>", "tensor<1x2x2x3xf32>",
        "  %z = stablehlo.constant dense<0.0> : tensor<f32>\n"
        '  %0 = "stablehlo.reduce_window"(%x, %z) ({\n  ^bb0(%a: tensor<f32>, %b: tensor<f32>):\n'
        "    %r = stablehlo.add %a, %b : tensor<f32>\n    stablehlo.return %r : tensor<f32>\n"
        "  }) {window_dimensions = array<i64: 1, 2, 2, 1>, window_strides = array<i64: 1, 2, 2, 1>}"
        " : (tensor<1x4x4x3xf32>, tensor<f32>) -> tensor<1x2x2x3xf32>\n  return %0 : tensor<1x2x2x3xf32>"),
    "pad-reverse": _module(
        "%x: tensor<2x3xf32>", "tensor<4x6xf32>",
        "  %c = stablehlo.constant dense<1.5> : tensor<f32>\n"
        "  %0 = stablehlo.pad %x, %c, low = [1, 2], high = [1, 1], interior = [0, 0] : (tensor<2x3xf32>, tensor<f32>) -> tensor<4x6xf32>\n"
        "  %1 = stablehlo.reverse %0, dims = [1] : tensor<4x6xf32>\n  return %1 : tensor<4x6xf32>"),
    "atan2": _binary("atan2"),
}


@pytest.mark.parametrize("name", sorted(NN_CASES))
def test_vision_op_matches_xla(name):
    _check_case(name, NN_CASES[name])


BF16 = _module("%a: tensor<4x8xbf16>, %b: tensor<8xbf16>", "tensor<4x8xbf16>",
               "  %0 = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<8xbf16>) -> tensor<4x8xbf16>\n"
               "  %1 = stablehlo.multiply %a, %0 : tensor<4x8xbf16>\n"
               "  %2 = stablehlo.tanh %1 : tensor<4x8xbf16>\n  return %2 : tensor<4x8xbf16>")


def test_bf16_is_refused_unless_asked_to_compute_in_f32():
    module = hp.parse(BF16)
    with pytest.raises(hp.HloError, match=r"computes in bf16 .*legalize-tflite\{bf16=f32\}"):
        hp.run(module, "legalize-tflite")
    legal = hp.run(module, "legalize-tflite{bf16=f32}")
    lite = TFLiteModel(export(legal).to_bytes())
    assert [t.dtype for t in lite.signatures["main"].inputs] == [np.float32, np.float32]
    inputs = numerics.random_inputs(module, 0)
    (expected,) = numerics.execute(module, inputs)
    (got,) = lite.run(None, *[x.astype(np.float32) for x in inputs]).values()
    np.testing.assert_allclose(got, expected.astype(np.float32), rtol=2e-2, atol=2e-2)  # bf16's own precision


def test_f64_interface_is_refused():
    text = _module("%a: tensor<4xf64>", "tensor<4xf64>", "  %0 = stablehlo.tanh %a : tensor<4xf64>\n"
                   "  return %0 : tensor<4xf64>")
    with pytest.raises(hp.HloError, match="takes or returns tensor<4xf64>"):
        hp.run(hp.parse(text), "legalize-tflite")
