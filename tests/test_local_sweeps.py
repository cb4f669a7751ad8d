"""One sweep for a set of local patterns (`Pattern.is_local`; fold-constants): MLIR's loop of sweeps ends
with one that only confirms, and a local set needs none. That is only right if MLIR's worklist really
re-queues every op a local pattern could start to match at. Checked on every lit test input: after
`apply_patterns`, another sweep with every pattern of the set changes nothing, and the result is the one
MLIR's own loop of sweeps reaches. A set with one non-local pattern keeps MLIR's loop."""

from pathlib import Path

import pytest

from hlo_passes import ir
from hlo_passes.patterns import driver
from hlo_passes.patterns.algebra import simplify_patterns
from hlo_passes.patterns.fold import fold_patterns

LIT = Path(__file__).resolve().parent.parent / "lit_tests"
SETS = {"fold": fold_patterns, "simplify": lambda: simplify_patterns() + fold_patterns()}


def _inputs():
    for path in sorted(LIT.glob("*.mlir")):
        for k, chunk in enumerate(path.read_text().split("// -----")):
            try:
                ir.load(chunk.encode())
            except Exception:  # noqa: BLE001 -- negative inputs (parse errors) have nothing to rewrite
                continue
            yield f"{path.name}#{k}", chunk


INPUTS = list(_inputs())


def _full_fixpoint(module, patterns) -> None:
    """What the driver did before it knew about locality: MLIR's loop of full sweeps."""
    run = driver._Run()
    rules = driver._rules(list(patterns), run)
    for target in driver._targets(module):
        ir.apply_greedily(target, rules)


@pytest.mark.parametrize("which", SETS)
def test_one_sweep_of_local_patterns_leaves_nothing_to_match(which):
    patterns = SETS[which]()
    swept = changed = 0
    for name, text in INPUTS:
        module = ir.load(text.encode())
        try:
            hits = driver.apply_patterns(module, patterns)
        except Exception:  # noqa: BLE001 -- inputs of error tests (e.g. a rewrite budget) stay errors
            continue
        changed += bool(hits)
        rules = driver._rules(list(patterns), driver._Run())
        for target in driver._targets(module):
            assert not ir.sweep(target, rules), f"{name}: a sweep after {which} still changed something"
        reference = ir.load(text.encode())
        _full_fixpoint(reference, patterns)
        assert ir.to_text(module) == ir.to_text(reference), f"{name}: {which} ended elsewhere than MLIR's loop"
        swept += 1
    assert swept > 100 and changed > 40, (swept, changed)


def test_which_built_in_patterns_are_local():
    assert all(p.is_local() for p in fold_patterns())
    simplify = {p.name: p.is_local() for p in simplify_patterns()}
    assert not any(simplify.values())  # (rules build ops that other rules match: MLIR never queues those)


def test_a_set_with_non_local_patterns_still_reaches_its_fixpoint():
    """reshape(reshape(x)) with the outer one back at x's type: reshape-reshape builds a new reshape that
    reshape-same removes. The new op is built from Python, which MLIR's worklist never sees, so one sweep
    leaves it; the simplify set is not local and gets its confirming sweeps."""
    text = """func.func @main(%x: tensor<2x6xf32>) -> tensor<2x6xf32> {
  %a = stablehlo.reshape %x : (tensor<2x6xf32>) -> tensor<12xf32>
  %b = stablehlo.reshape %a : (tensor<12xf32>) -> tensor<2x6xf32>
  return %b : tensor<2x6xf32>
}"""
    patterns = simplify_patterns()
    once = ir.load(text.encode())
    for target in driver._targets(once):
        ir.sweep(target, driver._rules(list(patterns), driver._Run()))
    assert "stablehlo.reshape" in ir.to_text(once)  # (one sweep is not enough here: the test means something)
    module = ir.load(text.encode())
    assert driver.apply_patterns(module, patterns) == {"reshape-reshape": 1, "reshape-same": 1}
    assert "stablehlo.reshape" not in ir.to_text(module)
