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


# ------------------------------------------------------------------------------- numerics: which side

def test_check_same_says_got_after_and_expected_before():
    before = ir.parse(b"""func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}""")
    after = ir.parse(b"""func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}""")
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    result = numerics.check_same(before, after, inputs=[x], isolate=False)
    assert not result and "output 0 differs at [0]: got 1.0, expected -1.0" in result.detail
    assert "got" in numerics.SIDES and "after" in numerics.SIDES.split(",")[0]


# ------------------------------------------------------------------------------ the plugin's passes

PLUGIN = Path(__file__).parent.parent / "lit_tests" / "Inputs" / "bisect_passes.py"
if "test-four-rules" not in hp.registered_passes():
    hp.load_plugin(PLUGIN)
PLUGIN_MODULE = next(m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(PLUGIN.resolve()))

CHAIN = b"""func.func @main(%a: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<8xf32> {
  %zero = stablehlo.constant dense<0.0> : tensor<8xf32>
  %one = stablehlo.constant dense<1.0> : tensor<8xf32>
  %two = stablehlo.constant dense<2.0> : tensor<8xf32>
  %0 = stablehlo.add %a, %zero : tensor<8xf32> loc("model.py":10:5)
  %1 = stablehlo.multiply %0, %one : tensor<8xf32> loc("model.py":11:5)
  %2 = stablehlo.multiply %1, %two : tensor<8xf32> loc("model.py":12:5)
  %3 = stablehlo.negate %2 : tensor<8xf32> loc("model.py":13:5)
  %4 = stablehlo.add %3, %b : tensor<8xf32> loc("model.py":14:5)
  %5 = stablehlo.add %4, %zero : tensor<8xf32> loc("model.py":15:5)
  return %5 : tensor<8xf32>
}
"""


# ------------------------------------------------------------------------------------ rewrite budget

def _budgeted(module, pipeline: str, limit):
    from hlo_passes.pass_manager import PassContext, run_pass
    from hlo_passes.patterns.driver import RewriteBudget

    (p,) = hp.parse_pipeline(pipeline)
    copy = ir.clone(module)
    budget = RewriteBudget(limit)
    run_pass(p, copy, PassContext(rewrites=budget))
    return copy, budget


def test_rewrite_budget_applies_exactly_the_first_k_rewrites_and_each_prefix_keeps_numerics():
    module = ir.parse(CHAIN.replace(b"stablehlo.negate %2", b"stablehlo.abs %2"))  # (no wrong rule fires)
    _, full = _budgeted(module, "test-four-rules", None)
    assert [name for name, _, _ in full.applied] == ["add-zero", "mul-one", "double-to-add", "add-zero"]
    for k in range(len(full.applied) + 1):
        out, budget = _budgeted(module, "test-four-rules", k)
        assert budget.applied == full.applied[:k]  # the same rewrites, in the same order, cut at k
        assert (budget.declined > 0) == (k < len(full.applied))
        assert numerics.check_same(module, out, isolate=False)  # a prefix of right rewrites is right


def test_rewrite_budget_of_zero_leaves_the_module_unchanged_but_for_folding():
    module = ir.parse(CHAIN)
    out, budget = _budgeted(module, "test-four-rules", 0)
    assert budget.applied == [] and budget.declined > 0
    assert ir.to_text(out).count("stablehlo.negate") == 1


def test_rewrite_budget_counts_one_walk_and_conversion_rewrites_too():
    from hlo_passes.ir import stablehlo as hlo
    from hlo_passes.pass_manager import PassContext
    from hlo_passes.patterns.driver import ConversionFailed, RewriteBudget, apply_conversion, apply_once

    module = ir.parse(CHAIN)
    budget = RewriteBudget(1)
    with module.context:
        hits = apply_once(module, [PLUGIN_MODULE.ADD_ZERO], PassContext(rewrites=budget))
    assert hits["add-zero"] == 1 and budget.declined == 1  # two candidates, one allowed
    assert budget.applied[0][0] == "add-zero" and budget.applied[0][2].startswith("model.py:1")

    def negate_as_subtract(op):  # -x -> 0 - x
        zero = hlo.ConstantOp(ir.splat(0.0, op.operands[0].type)).result
        return hlo.SubtractOp(zero, op.operands[0]).result

    rules = {"stablehlo.negate": negate_as_subtract}
    with module.context, pytest.raises(ConversionFailed) as info:
        apply_conversion(module, rules, illegal=("stablehlo",), legal=frozenset({
            "stablehlo.constant", "stablehlo.add", "stablehlo.multiply", "stablehlo.subtract"}),
            ctx=PassContext(rewrites=RewriteBudget(0)))
    assert "the rewrite budget (--bisect) ran out" in info.value.message
    with module.context:
        budget = RewriteBudget(None)
        apply_conversion(module, rules, illegal=("stablehlo",), legal=frozenset({
            "stablehlo.constant", "stablehlo.add", "stablehlo.multiply", "stablehlo.subtract"}),
            ctx=PassContext(rewrites=budget))
    assert [(name, op) for name, op, _ in budget.applied] == [("conversion: stablehlo.negate", "stablehlo.negate")]


def test_rewrite_budget_lives_on_the_context_not_on_the_module():
    module = ir.parse(CHAIN)
    _budgeted(module, "test-four-rules", 1)
    out = hp.run(module, "test-four-rules")  # no budget: every rewrite, as if no budgeted run had happened
    assert "stablehlo.multiply" not in ir.to_text(out)


# ------------------------------------------------------------------------------------------ bisect

def test_bisect_names_the_wrong_pattern_and_where_it_applied():
    from hlo_passes.bisect import Bisect
    from hlo_passes.instrumentation import NumericsCheck
    from hlo_passes.pass_manager import CheckFailed

    check = NumericsCheck(out=open(__import__("os").devnull, "w"))
    bisect = Bisect(check, out=check.out)
    with pytest.raises(CheckFailed, match="pass 'test-four-rules' \\(#2\\) changed the results"):
        hp.run(ir.parse(CHAIN), "cse,test-four-rules,cse", instruments=[bisect, check])
    assert bisect.culprit == ("negate-is-identity", "stablehlo.negate", "model.py:13:5")
    assert "is the first that changes the results: pattern 'negate-is-identity'" in bisect.finding
    assert len(bisect.steps) <= 2 + 3  # all, none, then log2(5) rounded up


def test_bisect_takes_logarithmically_many_trials():
    from hlo_passes.bisect import Bisect
    from hlo_passes.instrumentation import NumericsCheck

    n, bad = 40, 23  # 40 right rewrites (x * 1 -> x), the wrong one (-x -> x) after the 23rd in program order
    lines, prev = ["  %one = stablehlo.constant dense<1.0> : tensor<4xf32>"], "%a"
    for i in range(n):
        lines.append(f'  %m{i} = stablehlo.multiply {prev}, %one : tensor<4xf32> loc("chain.py":{i + 1}:1)')
        prev = f"%m{i}"
        if i + 1 == bad:
            lines.append(f'  %neg = stablehlo.negate {prev} : tensor<4xf32> loc("chain.py":100:1)')
            prev = "%neg"
    text = ("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n" + "\n".join(lines)
            + f"\n  return {prev} : tensor<4xf32>\n}}\n")
    check = NumericsCheck(out=open(__import__("os").devnull, "w"))
    bisect = Bisect(check, out=check.out)
    with pytest.raises(hp.HloError, match="changed the results"):
        hp.run(ir.parse(text.encode()), "test-four-rules", instruments=[bisect, check])
    assert bisect.culprit == ("negate-is-identity", "stablehlo.negate", "chain.py:100:1")
    assert "of 41 is the first" in bisect.finding
    assert len(bisect.steps) <= 2 + 6  # all, none, and ceil(log2(41)) halvings


def test_dump_dir_names_nested_pipelines_as_plain_file_names(tmp_path):
    from hlo_passes.instrumentation import DumpDir

    hp.run(ir.parse(TWICE), "func.func(cse),cse", instruments=[DumpDir(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00-input.mlir", "01-func.func_cse_.mlir", "02-cse.mlir"]
    assert (tmp_path / "01-func.func_cse_.mlir").read_text().count("stablehlo.add") == 1


# ------------------------------------------------------------------------ failing checks keep evidence

class Log(hp.Instrument):
    def __init__(self):
        self.events = []

    def after_pass(self, index, p, module, ctx, seconds):
        self.events.append(("after", p.pass_name, ir.to_text(module).count("dense<3.0")))

    def after_failure(self, index, p, module, error):
        self.events.append(("failure", p.pass_name, type(error).__name__))


TIMES_TWO = b"""func.func @main(%a: tensor<8xf32>) -> tensor<8xf32> {
  %two = stablehlo.constant dense<2.0> : tensor<8xf32>
  %0 = stablehlo.multiply %a, %two : tensor<8xf32>
  return %0 : tensor<8xf32>
}
"""


@pytest.mark.parametrize("first", [True, False])
def test_a_numerics_failure_lets_every_instrument_see_the_pass_output_then_fails(first):
    from hlo_passes.instrumentation import NumericsCheck

    check, log = NumericsCheck(out=open(__import__("os").devnull, "w")), Log()
    instruments = [log, check] if first else [check, log]  # after_pass hooks run in reverse: both orders
    with pytest.raises(hp.HloError, match="test-times-three"):
        hp.run(ir.parse(TIMES_TWO), "cse,test-times-three,cse", instruments=instruments)
    assert log.events == [("after", "cse", 0), ("after", "test-times-three", 1),
                          ("failure", "test-times-three", "CheckFailed")]


def test_print_ir_diff_shows_only_passes_that_changed_the_module():
    import io

    from hlo_passes.instrumentation import PrintIRDiff

    out = io.StringIO()
    hp.run(ir.parse(TIMES_TWO), "cse,test-times-three,cse", instruments=[PrintIRDiff(out=out)])
    text = out.getvalue()
    assert text.count("IR Dump Diff After") == 1 and "--- before test-times-three (#2)" in text
    assert "-    %cst = stablehlo.constant dense<2.000000e+00>" in text
    assert "+    %cst = stablehlo.constant dense<3.000000e+00>" in text


# ------------------------------------------------------------------------- errors in a user's pattern

def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("pipeline,pattern,line", [
    ("test-buggy-rewrite", "buggy-rewrite", 'return hlo.AddOp(m["x"], 2).result'),
    ("test-buggy-where", "buggy-where", 'return m["x"].type.shape[5] > 0'),
])
def test_an_exception_in_a_pattern_points_at_the_users_line(pipeline, pattern, line):
    module = ir.parse(TIMES_TWO)
    with pytest.raises(hp.HloError) as info:
        hp.run(module, pipeline)
    err = info.value
    assert f"pattern '{pattern}' raised" in err.message
    assert err.loc is not None and Path(err.loc.file) == PLUGIN.resolve() and err.loc.line == _line_of(PLUGIN, line)
    assert any("stablehlo.multiply at" in n for n in err.notes)
    assert err.__cause__ is not None  # what --traceback prints


# ----------------------------------------------------------------------- the CLI: replay is the same

def _cli(*args, cwd=None, env=None):
    return subprocess.run([HLO_OPT, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def _failure_line(stderr: str) -> str:
    line = next(x for x in stderr.splitlines() if "changed the results" in x)
    return line.split("changed the results", 1)[1]


def test_replaying_the_reproducer_fails_with_the_same_numbers_and_writes_no_reproducer(tmp_path):
    import os

    src, repro = tmp_path / "in.mlir", tmp_path / "bug.repro.mlir"
    src.write_bytes(CHAIN)
    first = _cli(src, "--load-pass-plugin", PLUGIN, "--pass-pipeline=cse,test-four-rules,cse", "--check-numerics",
                 "--seed", 7, "--numerics-inputs", "float-edges", "--reproducer", repro, "-o", tmp_path / "out.mlir")
    assert first.returncode == 1 and "Traceback" not in first.stderr
    assert not (tmp_path / "out.mlir").exists()
    assert "// check-numerics: seed=7 rtol=1e-05 atol=1e-06 inputs=float-edges" in repro.read_text()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    replay = _cli("--run-reproducer", repro, "-o", tmp_path / "out2.mlir", env=env)
    assert replay.returncode == 1 and "Traceback" not in replay.stderr
    assert _failure_line(replay.stderr) == _failure_line(first.stderr)  # same output, index, values
    assert "seed 7" in replay.stderr and "reproducer written" not in replay.stderr
    assert list(scratch.iterdir()) == []  # no temporary reproducer either


def test_list_passes_shows_list_enum_and_optional_option_types():
    out = subprocess.run([sys.executable, "-c", "import sys; from tests.test_debugging import Opts;"
                          "from hlo_passes.tools.hlo_opt import main; sys.exit(main(['--list-passes']))"],
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=300).stdout
    assert "types=<list of str>" in out and "mode=<tanh|erf>" in out and "limit=<int?>" in out
    assert "(default: unset)" in out and "(default: f32)" in out
