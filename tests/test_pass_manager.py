"""The pass manager from Python: registering passes, options, pipelines, instruments, plugins."""

import subprocess
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import EXAMPLES, HLO_OPT, func

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.instrumentation import NumericsCheck, PrintIR, Statistics, Timing, op_histogram
from hlo_passes.ir import mlir, stablehlo

DOUBLE_NEG = func("  %0 = stablehlo.negate %a : tensor<4xf32>\n  %1 = stablehlo.negate %0 : tensor<4xf32>\n"
                  "  return %1 : tensor<4xf32>", "%a: tensor<4xf32>", "tensor<4xf32>")


@hp.register_pass
@dataclass(frozen=True)
class DropDoubleNegate(hp.Pass):
    """neg(neg x) -> x, written against the raw bindings."""

    name = "test-drop-double-negate"
    summary = "removes negate(negate(x))"
    max_rewrites: int = hp.option(-1, "stop after this many rewrites (-1: no limit)")
    note: str = hp.option("", "free text, to test string options")
    dry_run: bool = hp.option(False, "count but do not rewrite")

    def run(self, module, ctx):
        done = 0
        candidates = []
        module.walk(lambda op: (candidates.append(op) if op.name == "stablehlo.negate" else None)
                    or mlir.WalkResult.ADVANCE)
        for op in candidates:
            inner = getattr(op.operands[0].owner, "operation", op.operands[0].owner)  # OpView -> Operation
            if not isinstance(inner, mlir.Operation) or inner.name != "stablehlo.negate":
                continue
            if self.max_rewrites >= 0 and done >= self.max_rewrites:
                break
            ctx.count("double negations")
            if not self.dry_run:
                op.result.replace_all_uses_with(inner.operands[0])
                op.erase()
            done += 1


def test_registered_pass_runs_and_keeps_semantics():
    module = ir.parse(DOUBLE_NEG)
    out = hp.run(module, "test-drop-double-negate,cse")
    assert "negate" in ir.to_text(module)  # the caller's module is left alone
    assert op_histogram(out)["stablehlo.negate"] == 0  # cse also erases the inner negate, now dead
    assert numerics.check_same(module, out, isolate=False)


def test_options_parse_convert_and_print_back():
    (p,) = hp.parse_pipeline("test-drop-double-negate{max-rewrites=3 note='a b' dry-run}")
    assert p == DropDoubleNegate(max_rewrites=3, note="a b", dry_run=True)
    assert str(p) == "test-drop-double-negate{max-rewrites=3 note='a b' dry-run=true}"  # reads back the same
    assert str(DropDoubleNegate()) == "test-drop-double-negate"
    with pytest.raises(hp.HloError, match=r"no option 'max-rewrite' \(did you mean 'max-rewrites'\?\)"):
        hp.parse_pipeline("test-drop-double-negate{max-rewrite=1}")
    with pytest.raises(hp.HloError, match="expects bool, got 'maybe'"):
        hp.parse_pipeline("test-drop-double-negate{dry-run=maybe}")
    with pytest.raises(hp.HloError, match="did you mean 'test-drop-double-negate'"):
        hp.parse_pipeline("test-drop-doble-negate")


def test_pass_classes_are_checked_at_registration():
    with pytest.raises(TypeError, match="needs a default"):
        @hp.register_pass
        @dataclass(frozen=True)
        class NoDefault(hp.Pass):
            name = "test-no-default"
            x: int

    with pytest.raises(TypeError, match="is not a pass option type"):
        @hp.register_pass
        @dataclass(frozen=True)
        class BadType(hp.Pass):
            name = "test-bad-type"
            x: list = hp.option(None, "?")

    with pytest.raises(hp.HloError, match="already registered"):
        hp.register_pass(DropDoubleNegate)


def test_named_pipelines_expand_and_cycles_are_caught():
    hp.register_pipeline("test-cleanup", "test-drop-double-negate,cse,canonicalize", "test pipeline")
    names = [p.pass_name for p in hp.parse_pipeline("test-cleanup,symbol-dce")]
    assert names == ["test-drop-double-negate", "cse", "canonicalize", "symbol-dce"]
    hp.register_pipeline("test-loop", "cse,test-loop", "includes itself")
    with pytest.raises(hp.HloError, match="includes itself"):
        hp.parse_pipeline("test-loop")


def test_instruments_from_python():
    module = ir.parse(DOUBLE_NEG)
    timing, stats = Timing(), Statistics()
    import io

    dumps = io.StringIO()
    hp.run(module, "test-drop-double-negate,cse", instruments=[PrintIR(after_all=True, out=dumps), stats, timing])
    assert [name for name, _ in timing.rows] == ["test-drop-double-negate (#1)", "cse (#2)"]
    assert "double negations: 1" in stats.report()
    assert dumps.getvalue().count("IR Dump After") == 2


def test_numerics_check_names_the_wrong_pass():
    @dataclass(frozen=True)
    class Sabotage(hp.Pass):
        name = "test-sabotage"

        def run(self, module, ctx):
            for op in list(ir.module_ops(module)[0].regions[0].blocks[0].operations):
                if op.name == "stablehlo.negate":
                    with mlir.InsertionPoint(op), op.location:
                        new = stablehlo.AbsOp(op.operands[0])
                    op.result.replace_all_uses_with(new.result)
                    op.erase()
                    return

    module = ir.parse(DOUBLE_NEG)
    log = __import__("io").StringIO()
    with pytest.raises(hp.HloError, match=r"pass 'test-sabotage' \(#2\) changed the results"):
        hp.run(module, [hp.parse_pipeline("cse")[0], Sabotage()], instruments=[NumericsCheck(out=log)])
    assert "after cse (#1): same results" in log.getvalue()


def test_verifier_runs_after_each_pass():
    @dataclass(frozen=True)
    class Breaker(hp.Pass):
        name = "test-breaker"

        def run(self, module, ctx):
            ret = ir.module_ops(module)[0].regions[0].blocks[0].operations[-1]
            ret.operands[0] = ir.module_ops(module)[0].regions[0].blocks[0].arguments[0]
            ir.module_ops(module)[0].attributes["function_type"] = mlir.TypeAttr.get(
                mlir.FunctionType.get([mlir.F32Type.get()], []))

    with pytest.raises(hp.PassFailure, match="'test-breaker' left an invalid module"):
        hp.run(ir.parse(DOUBLE_NEG), [Breaker()])
    hp.run(ir.parse(DOUBLE_NEG), [Breaker()], verify=False)  # on request, the check is skipped


def _hlo_opt(*args, env=None, cwd=None):
    return subprocess.run([HLO_OPT, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd)


PLUGIN = '''
from dataclasses import dataclass
import hlo_passes as hp
from hlo_passes.ir import mlir

@hp.register_pass
@dataclass(frozen=True)
class Rename(hp.Pass):
    """Renames the entry function (a user's own pass, from a plugin file)."""
    name = "user-rename"
    summary = "renames @main"
    to: str = hp.option("entry", "the new name")

    def run(self, module, ctx):
        for op in module.regions[0].blocks[0].operations:
            if mlir.StringAttr(op.attributes["sym_name"]).value == "main":
                op.attributes["sym_name"] = mlir.StringAttr.get(self.to)
'''


def test_custom_pass_from_a_plugin_file_runs_in_the_cli(tmp_path):
    plugin = tmp_path / "my_passes.py"
    plugin.write_text(PLUGIN)
    src = tmp_path / "in.mlir"
    src.write_text(DOUBLE_NEG)
    done = _hlo_opt(src, "--load-pass-plugin", plugin, "--pass", "user-rename{to=forward}")
    assert done.returncode == 0, done.stderr
    assert "func.func @forward" in done.stdout
    listed = _hlo_opt("--list-passes", "--load-pass-plugin", plugin)
    assert "user-rename" in listed.stdout and "to=<str>" in listed.stdout


def test_custom_pass_from_an_entry_point(tmp_path):
    """A pip-installed package advertises passes under the `hlo_passes.passes` entry-point group."""
    (tmp_path / "acme_passes.py").write_text(PLUGIN.replace("@hp.register_pass\n", ""))
    dist = tmp_path / "acme_passes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-passes\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hlo_passes.passes]\nrename = acme_passes:Rename\n")
    src = tmp_path / "in.mlir"
    src.write_text(DOUBLE_NEG)
    import os

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = _hlo_opt(src, "--pass", "user-rename", env=env)
    assert done.returncode == 0, done.stderr
    assert "func.func @entry" in done.stdout


def test_cli_error_is_one_line_without_traceback(tmp_path):
    done = _hlo_opt(EXAMPLES / "attention.mlir", "--pass", "no-such-pass")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_numerics_worker_survives_sigfpe():
    """XLA CPU dies of SIGFPE folding an integer division of constants by zero; execution runs in a child
    process, so that is an error message, and the next execution gets a fresh child."""
    crash = ir.parse(func("  %z = stablehlo.constant dense<0> : tensor<4xi32>\n"
                          "  %c = stablehlo.constant dense<7> : tensor<4xi32>\n"
                          "  %0 = stablehlo.divide %c, %z : tensor<4xi32>\n  return %0 : tensor<4xi32>",
                          "%a: tensor<4xi32>", "tensor<4xi32>"))
    with pytest.raises(hp.HloError, match=r"XLA CPU crashed .*SIGFPE"):
        numerics.execute(crash, [np.array([1, 2, 3, 4], np.int32)])
    out = numerics.execute(ir.parse(DOUBLE_NEG), [np.arange(4, dtype=np.float32)])
    np.testing.assert_array_equal(out[0], np.arange(4))
