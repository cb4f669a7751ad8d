"""Debugging that keeps its evidence (issue 8): pass options beyond scalars, nested MLIR pipelines, the
numerics diff's sides, the rewrite budget behind --bisect, errors inside a user's rewrite, and the CLI's
aids when --check-numerics fails. CLI behaviour that reads best as text is in lit_tests/ too."""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import ir, numerics

HLO_OPT = str(Path(sys.executable).parent / "hlo-opt")


@hp.register_pass
@dataclass(frozen=True)
class Opts(hp.Pass):
    """Options of every kind, changing nothing."""

    name = "test-debugging-opts"
    types: tuple[str, ...] = hp.option(("f32",), "element types")
    sizes: tuple[int, ...] = hp.option((), "sizes")
    mode: Literal["tanh", "erf"] = hp.option("tanh", "which form")
    limit: int | None = hp.option(None, "a bound, unset by default")

    def run(self, module, ctx):
        pass


# ----------------------------------------------------------------------------------------- options

@pytest.mark.parametrize("text,want", [
    ("test-debugging-opts", Opts()),
    ("test-debugging-opts{types=f32,bf16 sizes=1,2,3}", Opts(types=("f32", "bf16"), sizes=(1, 2, 3))),
    ("test-debugging-opts{sizes=}", Opts(sizes=())),
    ("test-debugging-opts{mode=erf limit=0}", Opts(mode="erf", limit=0)),
])
def test_list_enum_and_optional_options_read_and_print_back(text, want):
    (p,) = hp.parse_pipeline(text)
    assert p == want
    assert hp.parse_pipeline(str(p)) == [p]  # the printed text is pipeline text for the same pass


def test_options_print_only_what_differs_from_the_default():
    assert str(Opts(types=("f32", "bf16"), limit=4)) == "test-debugging-opts{types=f32,bf16 limit=4}"
    assert str(Opts()) == "test-debugging-opts"


@pytest.mark.parametrize("text,says", [
    ("test-debugging-opts{mode=er}", r"must be one of tanh, erf; got 'er' \(did you mean 'erf'\?\)"),
    ("test-debugging-opts{sizes=1,x}", "expects list of int, got 'x'"),
    ("test-debugging-opts{limit=many}", "expects int\\?, got 'many'"),
])
def test_bad_option_values_are_one_error(text, says):
    with pytest.raises(hp.HloError, match=says):
        hp.parse_pipeline(text)


def test_unsupported_option_types_are_refused_at_registration():
    with pytest.raises(TypeError, match="is not a pass option type"):
        @hp.register_pass
        @dataclass(frozen=True)
        class Bad(hp.Pass):
            name = "test-debugging-bad-type"
            table: dict = hp.option(None, "no")


# ------------------------------------------------------------------------------------ nested pipelines

TWICE = b"""func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  %1 = stablehlo.add %a, %a : tensor<4xf32>
  %2 = stablehlo.multiply %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}
"""


def test_nested_mlir_pipeline_runs_and_prints_back():
    pm = hp.PassManager("builtin.module(func.func(canonicalize,cse),cse)")
    assert str(pm) == "func.func(canonicalize,cse),cse"
    assert hp.parse_pipeline(str(pm)) == pm.passes
    module = ir.parse(TWICE)
    out = pm.run(module)
    assert ir.to_text(out).count("stablehlo.add") == 1  # cse ran inside the function
    assert ir.to_text(module).count("stablehlo.add") == 2  # on a copy
    assert numerics.check_same(module, out, isolate=False)


@pytest.mark.parametrize("text,says", [
    ("func.func(fuse-sdpa)", "'fuse-sdpa' is an hlo_passes pass or pipeline; only MLIR's own passes"),
    ("func.func(optimize)", "'optimize' is an hlo_passes pass or pipeline"),
    ("func.func(no-such-pass)", "MLIR does not accept it: 'no-such-pass' does not refer to a registered pass"),
    ("func.func(cse", "unbalanced"),
    ("9x(cse)", "expected OP-NAME\\(PASSES\\)"),
])
def test_bad_nested_pipelines_are_one_error(text, says):
    with pytest.raises(hp.HloError, match=says):
        hp.parse_pipeline(text)
