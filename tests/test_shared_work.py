"""Work an export repeats is done once, and what is shared means the same as what it replaces.

A 256-layer export computes the same causal mask in every layer (an inlined `tril`: iota, compare,
select) and reads one mask in every attention. fold-constants evaluates each distinct op once per run;
fuse-sdpa builds the composite's mask once per walk, right after the mask it reads; a pass that changed
nothing skips the verifier. Each is checked for what it saves (counted) and for semantics (XLA CPU
before and after on the same inputs)."""

import sys

import numpy as np

import hlo_passes as hp
from conftest import EXAMPLES, composites_named, func
from hlo_passes import ir, numerics
from hlo_passes.patterns import fold

SDPA = "odml.scaled_dot_product_attention"


def _masks(layers: int, directions: list[str]) -> str:
    """`layers` copies of where(iota(0) DIR iota(1), x, -inf), each from its own iotas and constants."""
    lines, acc = [], "%x"
    for i in range(layers):
        d = directions[i % len(directions)]
        lines += [f"  %r{i} = stablehlo.iota dim = 0 : tensor<8x8xi32>",
                  f"  %c{i} = stablehlo.iota dim = 1 : tensor<8x8xi32>",
                  f"  %p{i} = stablehlo.compare {d}, %r{i}, %c{i} : (tensor<8x8xi32>, tensor<8x8xi32>) -> tensor<8x8xi1>",
                  f"  %n{i} = stablehlo.constant dense<0xFF800000> : tensor<8x8xf32>",
                  f"  %s{i} = stablehlo.select %p{i}, {acc}, %n{i} : tensor<8x8xi1>, tensor<8x8xf32>"]
        acc = f"%s{i}"
    return func("\n".join(lines + [f"  return {acc} : tensor<8x8xf32>"]), "%x: tensor<8x8xf32>", "tensor<8x8xf32>")


def _evaluations(monkeypatch) -> list:
    calls = []
    real = fold.evaluate

    def counted(op, arrays):
        calls.append(op.name)
        return real(op, arrays)

    monkeypatch.setattr(fold, "evaluate", counted)
    return calls


def test_repeated_folds_are_evaluated_once_and_keep_the_results(monkeypatch):
    calls = _evaluations(monkeypatch)
    module = hp.parse(_masks(6, ["GE", "LE"]))
    out = hp.run(module, "fold-constants")
    # two distinct masks (GE and LE), each: two iotas and a compare; the selects read x, so they stay
    assert sorted(calls) == sorted(["stablehlo.iota"] * 2 + ["stablehlo.compare"] * 2), calls
    text = ir.to_text(out)
    assert "stablehlo.compare" not in text and "stablehlo.iota" not in text
    x = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    got, want = numerics.execute(out, [x]), numerics.execute(module, [x])
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(np.isfinite(got[0]), np.eye(8, dtype=bool))  # GE and LE: the diagonal is kept


def test_a_decline_is_remembered_like_a_value(monkeypatch):
    """An evaluation the evaluator declines is declined again without being asked twice."""
    calls = _evaluations(monkeypatch)
    lines = []
    for i in range(3):
        lines += [f"  %a{i} = stablehlo.constant dense<[7, 8]> : tensor<2xi32>",
                  f"  %b{i} = stablehlo.constant dense<[0, 2]> : tensor<2xi32>",
                  f"  %q{i} = stablehlo.divide %a{i}, %b{i} : tensor<2xi32>"]  # x / 0: XLA's own answer
    body = "\n".join(lines) + "\n  return %q0, %q1, %q2 : tensor<2xi32>, tensor<2xi32>, tensor<2xi32>"
    out = hp.run(hp.parse(func(body, "", "(tensor<2xi32>, tensor<2xi32>, tensor<2xi32>)")), "fold-constants")
    assert calls == ["stablehlo.divide"]
    assert ir.to_text(out).count("stablehlo.divide") == 3


def _transformer(layers: int):
    sys.path.insert(0, str(EXAMPLES))
    from transformer import transformer_text

    return ir.parse(transformer_text(layers))


def test_every_attention_reads_one_mask_built_once():
    module = hp.run(_transformer(3), "inline-calls,fold-constants,simplify,cse")
    out = hp.run(module, "fuse-sdpa")
    composites = composites_named(out, SDPA)
    assert len(composites) == 3
    masks = {composites[0].operands[3]} | {c.operands[3] for c in composites[1:]}
    assert len(masks) == 1, "each attention built its own mask"
    inputs = numerics.random_inputs(module, 0)
    got, want = numerics.execute(out, inputs), numerics.execute(module, inputs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_a_pass_that_changed_nothing_skips_the_verifier(monkeypatch):
    verified = []
    real = ir.mlir._OperationBase.verify

    def counted(self):
        verified.append(self.name)
        return real(self)

    monkeypatch.setattr(ir.mlir._OperationBase, "verify", counted)
    module = hp.parse(func("  %0 = stablehlo.add %a, %a : tensor<4xf32>\n  return %0 : tensor<4xf32>",
                           "%a: tensor<4xf32>", "tensor<4xf32>"))
    hp.run(module, "fuse-gelu,fuse-rms-norm")  # nothing to fuse: the module is as it was
    assert verified == []
    hp.run(module, "cse")  # MLIR's own pass says nothing: verified
    assert verified == ["builtin.module"]


def test_reduces_with_the_same_operands_and_other_bodies_fold_apart():
    """A reduce's body says what it computes and no attribute does: a sum and an OR of the same i32
    constant, with the same init (0, the identity of both) and dimensions, must not share one evaluation."""
    def reduce(name, body_op):
        return (f"  {name} = stablehlo.reduce(%c init: %z) applies {body_op} across dimensions = [1]"
                " : (tensor<2x3xi32>, tensor<i32>) -> tensor<2xi32>")

    body = "\n".join([
        "  %c = stablehlo.constant dense<[[1, 5, 2], [4, 3, 6]]> : tensor<2x3xi32>",
        "  %z = stablehlo.constant dense<0> : tensor<i32>",
        reduce("%s", "stablehlo.add"), reduce("%o", "stablehlo.or"),
        "  return %s, %o : tensor<2xi32>, tensor<2xi32>"])
    module = hp.parse(func(body, "", "(tensor<2xi32>, tensor<2xi32>)"))
    out = hp.run(module, "fold-constants")
    assert "stablehlo.reduce" not in ir.to_text(out)
    got, want = numerics.execute(out, []), numerics.execute(module, [])
    np.testing.assert_array_equal(got[0], [8, 13])
    np.testing.assert_array_equal(got[1], [7, 7])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
