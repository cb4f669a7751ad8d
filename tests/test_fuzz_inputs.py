"""No byte string can take hlo-opt down: bad UTF-8, names that are not UTF-8, corrupt bytecode and VHLO,
inputs cut off anywhere, deep nesting; and a byte-level fuzzer over every input format that runs the real
CLI code path (bench/fuzz_inputs.py holds it; its long run is the slow test here)."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import HLO_OPT, ROOT, func

import hlo_passes as hp
from hlo_passes import ir, numerics, safe_parse

sys.path.insert(0, str(ROOT / "bench"))
import fuzz_inputs  # noqa: E402

ADD = func("  %0 = stablehlo.add %a, %a : tensor<4xf32>\n  return %0 : tensor<4xf32>", "%a: tensor<4xf32>",
           "tensor<4xf32>")


def cli(*args, timeout=120):
    return subprocess.run([HLO_OPT, *map(str, args)], capture_output=True, text=True, errors="replace",
                          timeout=timeout)


def nested_ifs(depth: int) -> str:
    """`depth` stablehlo.if ops, each inside the true branch of the one before."""
    lines, pad = ["func.func @main(%p: tensor<i1>, %a: tensor<4xf32>) -> tensor<4xf32> {"], " "
    for i in range(depth):
        lines.append(f'{pad}%r{i} = "stablehlo.if"(%p) ({{')
    lines += [f"{pad}%x = stablehlo.exponential %a : tensor<4xf32>", f"{pad}stablehlo.return %x : tensor<4xf32>"]
    for i in reversed(range(depth)):
        lines += [f"{pad}}}, {{", f"{pad}stablehlo.return %a : tensor<4xf32>",
                  f"{pad}}}) : (tensor<i1>) -> tensor<4xf32>"]
        if i:
            lines.append(f"{pad}stablehlo.return %r{i} : tensor<4xf32>")
    return "\n".join([*lines, "  return %r0 : tensor<4xf32>", "}", ""])


# ------------------------------------------------------------------------------------------ UTF-8

def test_text_that_is_not_utf8_is_refused_at_the_bad_byte(tmp_path):
    path = tmp_path / "bad.mlir"
    path.write_bytes(ADD.encode().replace(b"stablehlo.add", b'"stablehlo.a\xffdd"', 1))
    with pytest.raises(hp.HloError) as info:
        ir.load(path)
    assert str(info.value.loc) == f"{path}:2:20" and "not UTF-8" in info.value.message
    proc = cli(path, "-o", tmp_path / "out.mlir")  # before: "terminate called ... conversion error", 134
    assert proc.returncode == 1 and "bad.mlir:2:20: error: input is not UTF-8" in proc.stderr
    assert not (tmp_path / "out.mlir").exists()


@pytest.mark.parametrize("spelling,bad", [
    ('"stablehlo.a\\FFdd"(%a, %a) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>', '"stablehlo.a\\FFdd"'),
    ('stablehlo.add %a, %a {"k\\FE" = "v"} : tensor<4xf32>', '"k\\FE"'),
    ('stablehlo.add %a, %a {k = "\\C3"} : tensor<4xf32>', '"\\C3"')])
def test_escapes_that_spell_bad_utf8_are_refused_at_the_string(spelling, bad):
    text = ADD.replace("stablehlo.add %a, %a : tensor<4xf32>", spelling)
    with pytest.raises(hp.HloError, match="is not UTF-8 once its escapes are read") as info:
        ir.parse(text, filename="m.mlir")
    line = text.splitlines()[1]
    assert (info.value.loc.line, info.value.loc.col) == (2, line.index(bad) + 1)


def test_escapes_that_spell_utf8_are_fine():
    text = ADD.replace("stablehlo.add %a, %a :", 'stablehlo.add %a, %a {note = "caf\\C3\\A9 \\22x\\22"} :')
    module = ir.parse(text)
    assert "caf\\C3\\A9" in ir.to_text(module)


NAMED = func('  %0 = stablehlo.add %a, %a {kX = "vX"} : tensor<4xf32>\n  return %0 : tensor<4xf32>',
             "%a: tensor<4xf32>", "tensor<4xf32>", name="maXin")


def _bytecode_with(old: bytes, new: bytes) -> bytes:
    data = ir.serialize(ir.parse(NAMED), "bytecode")
    assert old in data
    return data.replace(old, new)


@pytest.mark.parametrize("old,new", [(b"maXin", b"ma\xffin"), (b"add", b"a\xffd"), (b"kX", b"k\xff")])
def test_bytecode_with_names_that_are_not_utf8_is_an_error_not_an_abort(tmp_path, old, new):
    path = tmp_path / "bad.mlirbc"
    path.write_bytes(_bytecode_with(old, new))
    with pytest.raises(hp.HloError) as info:  # this process survives: the child read it first
        ir.load(path)
    assert str(info.value.loc).startswith(str(path))
    proc = cli(path, "--pass-pipeline=optimize", "-o", tmp_path / "out.mlir")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "error:" in proc.stderr
    assert not (tmp_path / "out.mlir").exists()


def test_a_child_that_dies_is_an_error_naming_the_signal():
    with pytest.raises(hp.HloError, match="crashed \\(SIGSEGV\\)") as info:
        safe_parse.check_in_child(lambda: os.kill(os.getpid(), signal.SIGSEGV), "x.mlirbc")
    assert str(info.value.loc) == "x.mlirbc:1:1"
    with pytest.raises(hp.HloError, match="exited with status 7"):
        safe_parse.check_in_child(lambda: os._exit(7), "x.mlirbc")
    safe_parse.check_in_child(lambda: None, "x.mlirbc")  # a clean child: no error


def test_text_cut_off_inside_a_resource_string_is_an_error():
    """Found by the fuzzer: MLIR's resource-section reader SIGSEGVs on a hex string cut off at EOF."""
    text = fuzz_inputs.RESOURCES[:fuzz_inputs.RESOURCES.index(b"0x0400") + 6]
    with pytest.raises(hp.HloError, match="unterminated string") as info:
        ir.parse(text, filename="cut.mlir")
    assert (info.value.loc.line, info.value.loc.col) == (9, 16)


# ------------------------------------------------------------------------------------------ nesting

def test_nesting_depth_skips_strings_and_comments():
    assert safe_parse.nesting_depth(b'{ "((((" // [[[[\n ( ) } a -> b >= c') == 2
    assert safe_parse.nesting_depth(nested_ifs(10).encode()) == 1 + 2 * 10 + 1  # func {, ({ per if, tensor<
    assert safe_parse.nesting_depth(b"{ a -> <b> >= } {-# k: { w: \"0x0400\" } #-}") == 2  # weights: skipped
    assert safe_parse.nesting_depth(b'x = "{-#" ' + b"{" * 5000) == 5000  # a string is no resource section


def test_too_deep_nesting_is_refused_where_the_limit_is_crossed(tmp_path):
    path = tmp_path / "deep.mlir"
    path.write_text(nested_ifs(3000))  # about 6,000 brackets deep: MLIR's parser would SIGSEGV at ~4,200
    with pytest.raises(hp.HloError, match="nests deeper than 4096") as info:
        ir.load(path)
    line = path.read_text().splitlines()[info.value.loc.line - 1]
    assert line[info.value.loc.col - 1] in "({"


def test_deep_nesting_under_the_limit_parses_and_prints(tmp_path):
    path = tmp_path / "deep.mlir"
    path.write_text(nested_ifs(2040))  # crashed the text parser on the main thread's 8 MB stack
    proc = cli(path, "-o", tmp_path / "out.mlir")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.mlir").read_text().count('"stablehlo.if"') == 2040


def test_optimize_on_a_module_nested_1000_deep(tmp_path):
    path, out = tmp_path / "deep.mlir", tmp_path / "out.mlir"
    path.write_text(nested_ifs(1000))  # fuse-sdpa's block walk hit Python's recursion limit here
    proc = cli(path, "--pass-pipeline=optimize", "-o", out)
    assert proc.returncode == 0, proc.stderr
    result = ir.load(out)
    result.operation.verify()
    assert ir.to_text(result).count('"stablehlo.if"') == 1000


def test_optimize_keeps_the_results_of_nested_control_flow():
    module = ir.parse(nested_ifs(40))  # XLA itself overflows its stack on 1,000 nested ifs
    optimized = hp.run(module, "optimize")
    for flag in (True, False):
        inputs = [np.array(flag), np.linspace(-1, 1, 4, dtype=np.float32)]
        assert numerics.compare(numerics.execute(optimized, inputs, isolate=False),
                                numerics.execute(module, inputs, isolate=False), rtol=0, atol=0)


# ------------------------------------------------------------------------------------------ the fuzzer

def test_fuzzer_cases_are_reproducible_and_mutated():
    seeds = fuzz_inputs.seed_inputs()
    assert {"attention.mlir", "attention.mlirbc", "attention.portable", "attention.jax_exported",
            "resources.mlirbc"} <= set(seeds)
    first = [fuzz_inputs.make_case(3, i, seeds) for i in range(50)]
    assert first == [fuzz_inputs.make_case(3, i, seeds) for i in range(50)]
    assert all(data != seeds[desc.split(":")[0]] for desc, data in first if "duplicate" not in desc)


def test_fuzz_campaign_in_process():
    """Two hundred mutated inputs through tools/hlo_opt.py's main in a worker process: exit 0 or 1
    only, no traceback, no output file on failure, parseable output on success."""
    result = fuzz_inputs.campaign(200, seed=20261201, batch=200, log=lambda _: None, save_crashes=False)
    counts = result["counts"]
    assert result["problems"] == [], result["problems"][:5]
    assert counts["cases"] == 200 and counts["exit1"] > 100 and counts["exit0"] > 0


def test_fuzzed_inputs_through_the_installed_cli(tmp_path):
    """A handful of cases as real `hlo-opt` processes (the campaign runs main in-process)."""
    seeds = fuzz_inputs.seed_inputs()
    for index in range(4):
        desc, data = fuzz_inputs.make_case(99, index, seeds)
        path, out = tmp_path / f"case{index}", tmp_path / f"out{index}.mlir"
        path.write_bytes(data)
        status, stderr = fuzz_inputs.run_cli(path, out, tmp_path / "rep.mlir")
        assert fuzz_inputs.check_outcome(status, stderr, out) is None, (desc, status, stderr)


@pytest.mark.slow
def test_fuzz_campaign_long():
    result = fuzz_inputs.campaign(3000, seed=7, batch=1000, log=lambda _: None, save_crashes=False)
    assert result["problems"] == [], result["problems"][:5]


def test_the_check_also_runs_in_a_fresh_interpreter():
    """The fallback when a forked child waits on a lock instead of working: same verdicts, new process."""
    good = ir.serialize(ir.parse(NAMED), "bytecode")
    safe_parse._check_spawned(["good.mlirbc"], good, "good.mlirbc", 120)
    with pytest.raises(hp.HloError, match='string "ma\\\\FFin" is not UTF-8'):
        safe_parse._check_spawned(["bad.mlirbc"], _bytecode_with(b"maXin", b"ma\xffin"), "bad.mlirbc", 120)
    with pytest.raises(hp.HloError, match="crashed \\(SIGABRT\\)"):
        safe_parse._check_spawned(["op.mlirbc"], _bytecode_with(b"add", b"a\xffd"), "op.mlirbc", 120)


@pytest.mark.parametrize("index,signame", [(258, "SIGSEGV"), (366, "SIGSEGV"), (64, "SIGABRT")])
def test_inputs_that_kill_the_bindings_are_errors_here(index, signame):
    """Fuzz cases (seed 5) on which jaxlib 0.10.2's own reader dies: ir.parse reports them and lives."""
    seeds = {k: v for k, v in fuzz_inputs.seed_inputs().items() if not k.endswith(".mlir")}
    _, data = fuzz_inputs.make_case(5, index, seeds)
    raw = ir._embedded_artifact(data) or data

    def bindings_alone():
        ctx = ir.make_context()
        if ir._portable_producer(raw):
            ir.stablehlo.deserialize_portable_artifact(ctx, raw)
        else:
            ir.mlir.Module.parse(raw, ctx)

    with pytest.raises(hp.HloError, match=f"crashed \\({signame}\\)"):
        safe_parse.check_in_child(bindings_alone, "case")
    with pytest.raises(hp.HloError):
        ir.parse(data, filename="case")
