"""The differential fold fuzzer (tests/fold_fuzz.py) in the suite: fold-constants against XLA CPU, bit for
bit, on random ops over every claimed element type with edge values. A few hundred cases here; the
`slow` campaign and bench/fuzz_fold.py run thousands. Also: the classes of issue 7 pinned by name."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fold_fuzz
import hlo_passes as hp
from hlo_passes import ir, numerics


def _no_failures(tally):
    assert tally.counts["crashes"] == 0 and tally.counts["wrong"] == 0, \
        tally.line() + "\n" + "\n".join(tally.failures[:10])
    assert tally.counts["folded"] > tally.counts["tried"] // 2, tally.line()  # the fuzzer exercises folds


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_folds_match_xla_bit_for_bit(seed):
    _no_failures(fold_fuzz.campaign(150, seed=seed, batch=150))


@pytest.mark.slow
def test_fold_campaign_of_10000_cases():
    _no_failures(fold_fuzz.campaign(10_000, seed=12345, batch=300))


def fold(text: str) -> str:
    return ir.to_text(hp.run(ir.parse(text), "fold-constants"))


def test_fuzzer_catches_a_wrong_fold(monkeypatch):
    """The comparison is live: a floor-dividing i4 divide (issue 7's bug) is reported as wrong."""
    from hlo_passes.patterns import dtypes as dt
    from hlo_passes.patterns import folding

    monkeypatch.setitem(folding.EVALUATORS, "stablehlo.divide",
                        lambda op, a, b: dt.wrap(np.floor_divide(dt.wide(a), dt.wide(b)), a.dtype))
    i4 = fold_fuzz.npd("i4")
    case = fold_fuzz.Case("divide:i4", [np.array([-7, 7]).astype(i4), np.array([2, -2]).astype(i4)], ["i4", "i4"],
                          "tensor<2xi4>", "{r} = stablehlo.divide {0}, {1} : tensor<2xi4>")
    tally = fold_fuzz.Tally()
    fold_fuzz.run_batch([case], tally)
    assert tally.counts["wrong"] == 1, tally.line()


# ------------------------------------------------------------------ issue 7's classes, one test each

def run_both(text: str, inputs=()):
    """(outputs of the module as written, outputs after fold-constants), on XLA CPU."""
    module = ir.parse(text)
    folded = hp.run(module, "fold-constants")
    return numerics.execute(module, list(inputs)), numerics.execute(folded, list(inputs)), ir.to_text(folded)


def test_max_min_of_signed_zeros_fold_as_xla():
    """max(+0, -0) = +0 and min(+0, -0) = -0 in either order (numpy's tie rule gave the second argument),
    so 1 / max(0.0, -0.0) is +inf, not -inf."""
    text = """func.func @main() -> (tensor<4xf32>, tensor<4xf32>, tensor<f32>) {
  %a = stablehlo.constant dense<[0.0, -0.0, -0.0, 0.0]> : tensor<4xf32>
  %b = stablehlo.constant dense<[-0.0, 0.0, -0.0, 0.0]> : tensor<4xf32>
  %0 = stablehlo.maximum %a, %b : tensor<4xf32>
  %1 = stablehlo.minimum %a, %b : tensor<4xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %n = stablehlo.constant dense<-0.0> : tensor<f32>
  %one = stablehlo.constant dense<1.0> : tensor<f32>
  %m = stablehlo.maximum %z, %n : tensor<f32>
  %2 = stablehlo.divide %one, %m : tensor<f32>
  return %0, %1, %2 : tensor<4xf32>, tensor<4xf32>, tensor<f32>
}"""
    before, after, printed = run_both(text)
    assert "maximum" not in printed and "minimum" not in printed
    for x, y in zip(before, after):
        assert x.tobytes() == y.tobytes(), (x, y)
    assert np.signbit(after[0]).tolist() == [False, False, True, False] and after[2] == np.inf


@pytest.mark.parametrize("op, ty, a, b", [
    ("divide", "i4", [-7, 7, -8, 5], [2, -2, 3, -1]),   # truncation, not floor
    ("remainder", "i4", [-7, 7, -8, 5], [2, -2, 3, -3]),
    ("shift_right_logical", "i4", [-8, -1, 7, -3], [1, 3, 2, 0]),
    ("shift_right_arithmetic", "ui4", [8, 15, 7, 12], [1, 3, 2, 0]),
    ("shift_left", "i4", [3, -1, 7, 1], [1, 3, 2, 3]),
    ("multiply", "ui4", [15, 9, 7, 12], [15, 3, 2, 2]),
])
def test_four_bit_integer_arithmetic_folds_as_xla(op, ty, a, b):
    t = f"tensor<4x{ty}>"
    text = f"""func.func @main() -> {t} {{
  %a = stablehlo.constant dense<{a}> : {t}
  %b = stablehlo.constant dense<{b}> : {t}
  %0 = stablehlo.{op} %a, %b : {t}
  return %0 : {t}
}}"""
    before, after, printed = run_both(text)
    assert op not in printed, printed
    assert before[0].tolist() == after[0].tolist()


def test_four_bit_compares_reduces_and_converts_fold_as_xla():
    text = """func.func @main() -> (tensor<4xi1>, tensor<i4>, tensor<ui4>, tensor<4xui4>, tensor<4xi4>) {
  %a = stablehlo.constant dense<[-8, -1, 7, 0]> : tensor<4xi4>
  %b = stablehlo.constant dense<[1, 2, -3, 0]> : tensor<4xi4>
  %0 = stablehlo.compare LT, %a, %b, UNSIGNED : (tensor<4xi4>, tensor<4xi4>) -> tensor<4xi1>
  %z = stablehlo.constant dense<0> : tensor<i4>
  %1 = stablehlo.reduce(%a init: %z) applies stablehlo.add across dimensions = [0] : (tensor<4xi4>, tensor<i4>) -> tensor<i4>
  %u = stablehlo.constant dense<[15, 9, 1, 0]> : tensor<4xui4>
  %one = stablehlo.constant dense<1> : tensor<ui4>
  %2 = stablehlo.reduce(%u init: %one) applies stablehlo.multiply across dimensions = [0] : (tensor<4xui4>, tensor<ui4>) -> tensor<ui4>
  %3 = stablehlo.convert %a : (tensor<4xi4>) -> tensor<4xui4>
  %4 = stablehlo.convert %u : (tensor<4xui4>) -> tensor<4xi4>
  return %0, %1, %2, %3, %4 : tensor<4xi1>, tensor<i4>, tensor<ui4>, tensor<4xui4>, tensor<4xi4>
}"""
    before, after, printed = run_both(text)
    assert printed.count("stablehlo.") == printed.count("stablehlo.constant"), printed
    for x, y in zip(before, after):
        assert x.tolist() == y.tolist()


UNCLAIMED = {
    "complex": ("complex<f32>", "[(1.0, 2.0), (3.0, -4.0)]"),
    "ui64 above 2^63": None,
    "i2": ("i2", "[1, -1]"), "f4E2M1FN": ("f4E2M1FN", "[1.0, 2.0]"), "f8E8M0FNU": ("f8E8M0FNU", "[1.0, 2.0]"),
    "f8E4M3": ("f8E4M3", "[1.0, 2.0]"), "f8E3M4": ("f8E3M4", "[1.0, 2.0]"),
}


@pytest.mark.parametrize("what", list(UNCLAIMED))
@pytest.mark.parametrize("pipeline", ["fold-constants", "simplify"])
def test_unclaimed_types_are_left_alone_and_the_rest_folds(what, pipeline):
    """An op on a type the folder does not claim stays (no exception for the module); the rest folds.
    ui64 values of 2^63 and above are claimed: they fold (as XLA computes them) instead of raising."""
    if UNCLAIMED[what] is None:
        ty, values, op = "ui64", "[18446744073709551615, 9223372036854775808]", "add"
    else:
        (ty, values), op = UNCLAIMED[what], "add" if what != "f8E8M0FNU" else "multiply"
    t = f"tensor<2x{ty}>"
    text = f"""func.func @main() -> ({t}, tensor<2xi32>) {{
  %c = stablehlo.constant dense<{values}> : {t}
  %0 = stablehlo.{op} %c, %c : {t}
  %i = stablehlo.constant dense<[1, 2]> : tensor<2xi32>
  %1 = stablehlo.add %i, %i : tensor<2xi32>
  return %0, %1 : {t}, tensor<2xi32>
}}"""
    out = ir.to_text(hp.run(ir.parse(text), pipeline))
    assert "dense<[2, 4]> : tensor<2xi32>" in out, out
    if UNCLAIMED[what] is None:
        assert "dense<[18446744073709551614, 0]>" in out, out
    else:
        assert f"stablehlo.{op}" in out, out


def test_splats_stay_splats_and_reductions_of_splats_are_cheap():
    """A slice of a 2^28-element splat is a splat (nothing materialized); a sum of an 8192x8192 broadcast
    is computed from its one value (it took 63 s); a reduce_window over a big splat declines at once."""
    import time

    text = """func.func @main() -> (tensor<4xf32>, tensor<f32>, tensor<i32>, tensor<268435455xi8>, tensor<8191x8191xf32>) {
  %c = stablehlo.constant dense<0.5> : tensor<f32>
  %b = stablehlo.broadcast_in_dim %c, dims = [] : (tensor<f32>) -> tensor<8192x8192xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%b init: %z) applies stablehlo.add across dimensions = [0, 1] : (tensor<8192x8192xf32>, tensor<f32>) -> tensor<f32>
  %big = stablehlo.constant dense<3> : tensor<268435456xi8>
  %sl = stablehlo.slice %big [1:268435456] : (tensor<268435456xi8>) -> tensor<268435455xi8>
  %ic = stablehlo.constant dense<7> : tensor<65536xi32>
  %zi = stablehlo.constant dense<0> : tensor<i32>
  %si = stablehlo.reduce(%ic init: %zi) applies stablehlo.add across dimensions = [0] : (tensor<65536xi32>, tensor<i32>) -> tensor<i32>
  %r = "stablehlo.reduce_window"(%b, %z) ({
    ^bb0(%x: tensor<f32>, %y: tensor<f32>):
      %m = stablehlo.add %x, %y : tensor<f32>
      stablehlo.return %m : tensor<f32>
  }) {window_dimensions = array<i64: 2, 2>} : (tensor<8192x8192xf32>, tensor<f32>) -> tensor<8191x8191xf32>
  %q = stablehlo.slice %b [0:4, 0:1] : (tensor<8192x8192xf32>) -> tensor<4x1xf32>
  %q1 = stablehlo.reshape %q : (tensor<4x1xf32>) -> tensor<4xf32>
  return %q1, %s, %si, %sl, %r : tensor<4xf32>, tensor<f32>, tensor<i32>, tensor<268435455xi8>, tensor<8191x8191xf32>
}"""
    start = time.time()
    out = ir.to_text(hp.run(ir.parse(text), "fold-constants"))
    assert time.time() - start < 5, time.time() - start
    assert "dense<0x4C000000> : tensor<f32>" in out, out  # 0.5 * 8192^2 = 2^25
    assert "dense<458752> : tensor<i32>" in out and "dense<3> : tensor<268435455xi8>" in out, out
    assert "dense<5.000000e-01> : tensor<4xf32>" in out and "reduce_window" in out, out


@pytest.mark.parametrize("ty, one, zero", [
    ("complex<f32>", "(1.0, 0.0)", "(0.0, 0.0)"), ("i2", "1", "0"), ("ui2", "1", "0"), ("f4E2M1FN", "1.0", "0.0"),
    ("f8E8M0FNU", "1.0", "1.0"), ("f8E4M3", "1.0", "0.0"), ("f8E3M4", "1.0", "0.0"), ("f6E2M3FN", "1.0", "0.0"),
])
def test_every_rule_leaves_unclaimed_types_alone(ty, one, zero):
    """Each simplify rule and fold meets an unclaimed type (as a constant, an argument, a convert source
    or target): the pipeline finishes, the module verifies, and the rewrites that need no values still run."""
    t = f"tensor<2x{ty}>"
    text = f"""func.func @main(%x: {t}, %f: tensor<2xf32>) -> ({t}, {t}, {t}, tensor<2xf32>, {t}, {t}, tensor<2x{ty}>) {{
  %one = stablehlo.constant dense<{one}> : {t}
  %zero = stablehlo.constant dense<{zero}> : {t}
  %0 = stablehlo.multiply %x, %one : {t}
  %1 = stablehlo.add %x, %zero : {t}
  %n = stablehlo.negate %x : {t}
  %2 = stablehlo.negate %n : {t}
  %c = stablehlo.convert %x : ({t}) -> tensor<2xf32>
  %3 = stablehlo.convert %c : (tensor<2xf32>) -> tensor<2xf32>
  %d = stablehlo.convert %f : (tensor<2xf32>) -> {t}
  %4 = stablehlo.convert %d : ({t}) -> {t}
  %p = stablehlo.constant dense<true> : tensor<2xi1>
  %5 = stablehlo.select %p, %x, %one : tensor<2xi1>, {t}
  %r = stablehlo.reshape %one : ({t}) -> tensor<1x2x{ty}>
  %6 = stablehlo.reshape %r : (tensor<1x2x{ty}>) -> {t}
  return %0, %1, %2, %3, %4, %5, %6 : {t}, {t}, {t}, tensor<2xf32>, {t}, {t}, tensor<2x{ty}>
}}"""
    for pipeline in ("fold-constants", "simplify", "fold-constants,simplify,cse"):
        out = hp.run(ir.parse(text), pipeline)
        out.verify()
        if pipeline != "fold-constants":
            printed = ir.to_text(out)
            assert "stablehlo.negate" not in printed and "stablehlo.reshape" not in printed, printed


def _reduce_case(name, kind, x, init, dims):
    s, t = fold_fuzz.tensor((), name), fold_fuzz.tensor(x.shape, name)
    out = [n for i, n in enumerate(x.shape) if i not in dims]
    body = (f'{{r}} = "stablehlo.reduce"({{0}}, {{1}}) ({{{{\n  ^bb0(%a: {s}, %b: {s}):\n'
            f"    %s = stablehlo.{kind} %a, %b : {s}\n    stablehlo.return %s : {s}\n  }}}}) "
            f"{{{{dimensions = array<i64: {', '.join(map(str, dims))}>}}}} : ({t}, {s}) -> {fold_fuzz.tensor(out, name)}")
    d = fold_fuzz.npd(name)
    return fold_fuzz.Case(f"reduce-{kind}:{name}", [x.astype(d), np.array(init).astype(d)], [name, name],
                          fold_fuzz.tensor(out, name), body)


def test_what_the_fuzzer_found_stays_fixed():
    """Each of these folded wrong once: f64 -> i64 of 2^63 (passed a range check done in floats), a
    bf16 product with a subnormal factor (XLA's kernels flush it), a 1-element add reduction of -0.0
    (XLA returns the element), an f8 dot (XLA runs it in f16), TOTALORDER on an FNUZ NaN, an f64 sum of
    eight equal values (XLA does not add them in order), an f16 reduce_window sum (rounded every step), a
    broadcast of a bf16 subnormal (XLA flushes it even there), integer powers with exponents of 64 and up
    (XLA reads 6 bits of them)."""
    F = fold_fuzz
    d8 = F.npd("f8E4M3FN")
    dot_body = ('{r} = "stablehlo.dot_general"({0}, {1}) {{dot_dimension_numbers = #stablehlo.dot<'
                "lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>}} : "
                "(tensor<1x3xf8E4M3FN>, tensor<3x1xf8E4M3FN>) -> tensor<1x1xf8E4M3FN>")
    cases = [
        F.Case("convert", [np.array([2.0 ** 63, -(2.0 ** 63), 1.5])], ["f64"], "tensor<3xi64>",
               "{r} = stablehlo.convert {0} : (tensor<3xf64>) -> tensor<3xi64>"),
        _reduce_case("bf16", "multiply", np.array([[127.5, 1.1663108012064884e-38]]), 1.0, [1]),
        _reduce_case("f32", "add", np.array([[-0.0]]), 0.0, [1]),
        F.Case("dot", [np.array([[-0.015625, 240.0, -6.0]]).astype(d8), np.array([[0.5], [0.0], [-9.0]]).astype(d8)],
               ["f8E4M3FN"] * 2, "tensor<1x1xf8E4M3FN>", dot_body),
        F.Case("compare", [np.array([-0.0234375, 1.0]).astype(F.npd("f8E4M3FNUZ")),
                           np.array([np.nan, 2.0]).astype(F.npd("f8E4M3FNUZ"))], ["f8E4M3FNUZ"] * 2, "tensor<2xi1>",
               "{r} = stablehlo.compare LT, {0}, {1}, TOTALORDER : (tensor<2xf8E4M3FNUZ>, tensor<2xf8E4M3FNUZ>) -> "
               "tensor<2xi1>"),
        _reduce_case("f64", "add", np.full((2, 4), 6.739577274354763e+67), 0.0, [0, 1]),
        F.Case("reduce_window", [np.full((2, 5), 3780.0, np.float16), np.array(0.0, np.float16)], ["f16", "f16"],
               "tensor<1x4xf16>",
               '{r} = "stablehlo.reduce_window"({0}, {1}) ({{\n  ^bb0(%a: tensor<f16>, %b: tensor<f16>):\n'
               "    %s = stablehlo.add %a, %b : tensor<f16>\n    stablehlo.return %s : tensor<f16>\n  }}) "
               "{{window_dimensions = array<i64: 2, 4>, window_strides = array<i64: 2, 1>, padding = "
               "dense<[[0, 1], [1, 1]]> : tensor<2x2xi64>}} : (tensor<2x5xf16>, tensor<f16>) -> tensor<1x4xf16>"),
        F.Case("power", [np.array([100, 3, 7]), np.array([32768, 63, 200])], ["i64", "i64"], "tensor<3xi64>",
               "{r} = stablehlo.power {0}, {1} : tensor<3xi64>"),
        F.Case("power", [np.array([3, 2], np.uint8), np.array([128, 7], np.uint8)], ["ui8", "ui8"], "tensor<2xui8>",
               "{r} = stablehlo.power {0}, {1} : tensor<2xui8>"),
        F.Case("broadcast", [np.array([-1.5, -9.183549615799121e-41]).astype(F.npd("bf16"))], ["bf16"],
               "tensor<2x2xbf16>", "{r} = stablehlo.broadcast_in_dim {0}, dims = [1] : (tensor<2xbf16>) -> "
               "tensor<2x2xbf16>"),
    ]
    tally = F.Tally()
    F.run_batch(cases, tally)
    assert tally.counts["wrong"] == 0 and tally.counts["crashes"] == 0, "\n".join(tally.failures)
    assert tally.counts["folded"] >= 3, tally.line()  # -0.0 reduce, f8 dot, f16 window fold (right, now)
