"""The public fusion vocabulary on its own: `Scalar` sees one number through every spelling exporters use
and compares it within ulps of its type; `Plumbed` reports the real near-miss, not the plumbing it skipped;
nothing expands a large splat; `fusion()` refuses what it cannot outline and passes missing operands as
splats; and the README's "A fusion is one file" plugin runs as written."""

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import hlo_passes as hp
from hlo_passes import ir
from hlo_passes.ir import stablehlo as hlo
from hlo_passes.patterns import Op, Operand, PatternSet, Plumbed, Scalar, V, fusion, match_root, scalar_of
from hlo_passes.patterns.fusion import FusionPass

ROOT = Path(__file__).resolve().parent.parent


def func(body: str, args: str = "%arg0: tensor<2x8xf32>", result: str = "tensor<2x8xf32>") -> str:
    return f"func.func @main({args}) -> {result} {{\n{body}\n}}"


def root_of(module):
    """The op that feeds the entry function's return."""
    block = ir.module_ops(module)[0].regions[0].blocks[0]
    ret = list(block.operations)[-1]
    owner = ret.operands[0].owner
    return getattr(owner, "operation", owner)


SPELLINGS = {
    "splat": "%c = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>",
    "broadcast": """%s = stablehlo.constant dense<5.000000e-01> : tensor<f32>
  %c = stablehlo.broadcast_in_dim %s, dims = [] : (tensor<f32>) -> tensor<2x8xf32>""",
    "reshape-broadcast": """%s = stablehlo.constant dense<5.000000e-01> : tensor<1x1xf32>
  %r = stablehlo.reshape %s : (tensor<1x1xf32>) -> tensor<1xf32>
  %c = stablehlo.broadcast_in_dim %r, dims = [1] : (tensor<1xf32>) -> tensor<2x8xf32>""",
    "f64-converted": """%s = stablehlo.constant dense<5.000000e-01> : tensor<f64>
  %v = stablehlo.convert %s : (tensor<f64>) -> tensor<f32>
  %c = stablehlo.broadcast_in_dim %v, dims = [] : (tensor<f32>) -> tensor<2x8xf32>""",
    "arith": "%c = arith.constant dense<5.000000e-01> : tensor<2x8xf32>",
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_scalar_sees_through_every_spelling(spelling):
    module = hp.parse(func(f"  {SPELLINGS[spelling]}\n  %y = stablehlo.multiply %arg0, %c : tensor<2x8xf32>\n"
                           "  return %y : tensor<2x8xf32>"))
    m, why = match_root(Op(hlo.MulOp, V("x"), Scalar("half", value=0.5)), root_of(module))
    assert m is not None, why
    assert float(scalar_of(m["half"])) == 0.5
    m, why = match_root(Op(hlo.MulOp, V("x"), Scalar(value=0.25)), root_of(module))
    assert m is None and "is not 0.25" in why


def test_scalar_tolerance_is_in_ulps_of_the_type():
    """sqrt(2/pi) as JAX rounds it (0.797884583) and as torch computes it (0.797884523) are one constant;
    a value 100 ulps away is not."""
    for text, ok in (("0.797884583", True), ("0.797884523", True), ("0.797890", False)):
        module = hp.parse(func(f"  %c = stablehlo.constant dense<{text}> : tensor<2x8xf32>\n"
                               "  %y = stablehlo.multiply %arg0, %c : tensor<2x8xf32>\n  return %y : tensor<2x8xf32>"))
        m, _ = match_root(Op(hlo.MulOp, V("x"), Scalar(value=0.7978845608028654)), root_of(module))
        assert (m is not None) == ok, text


def test_scalar_says_what_the_value_really_is():
    module = hp.parse(func("  %y = stablehlo.multiply %arg0, %arg1 : tensor<2x8xf32>\n  return %y : tensor<2x8xf32>",
                           args="%arg0: tensor<2x8xf32>, %arg1: tensor<2x8xf32>"))
    m, why = match_root(Op(hlo.MulOp, V("x"), Scalar("eps")), root_of(module))
    assert m is None and "expected a scalar constant, got a block argument (tensor<2x8xf32>)" in why


def test_plumbed_reports_the_real_near_miss():
    """rsqrt behind a reshape and a broadcast, but of the wrong thing: the reason is about the operand, not
    'expected rsqrt, got broadcast_in_dim' from the plumbing levels that were skipped."""
    module = hp.parse(func("""  %0 = stablehlo.sqrt %arg1 : tensor<2xf32>
  %1 = stablehlo.reshape %0 : (tensor<2xf32>) -> tensor<2x1xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = stablehlo.multiply %arg0, %2 : tensor<2x8xf32>
  return %y : tensor<2x8xf32>""", args="%arg0: tensor<2x8xf32>, %arg1: tensor<2xf32>"))
    template = Op(hlo.MulOp, V("x"), Plumbed(Op(hlo.RsqrtOp, V("v"))))
    m, why = match_root(template, root_of(module))
    assert m is None and "expected stablehlo.rsqrt, got stablehlo.sqrt" in why, why
    m, why = match_root(Op(hlo.MulOp, V("x"), Plumbed(Op(hlo.SqrtOp, V("v")))), root_of(module))
    assert m is not None and str(m["v"].type) == "tensor<2xf32>"


def test_large_splats_are_never_expanded():
    """GELU on a [8192, 8192] tensor (64M elements; its constants are full-shape splats): fused without
    materializing any of them (peak memory grows by far less than one 256 MB constant would take)."""
    shape = "tensor<8192x8192xf32>"
    consts = {"h": "5.000000e-01", "o": "1.000000e+00", "c": "0.797884583", "k": "4.471500e-02"}
    body = "\n".join(f"  %{n} = stablehlo.constant dense<{v}> : {shape}" for n, v in consts.items()) + f"""
  %0 = stablehlo.multiply %arg0, %arg0 : {shape}
  %1 = stablehlo.multiply %0, %arg0 : {shape}
  %2 = stablehlo.multiply %k, %1 : {shape}
  %3 = stablehlo.add %arg0, %2 : {shape}
  %4 = stablehlo.multiply %c, %3 : {shape}
  %5 = stablehlo.tanh %4 : {shape}
  %6 = stablehlo.add %o, %5 : {shape}
  %7 = stablehlo.multiply %h, %6 : {shape}
  %8 = stablehlo.multiply %arg0, %7 : {shape}
  return %8 : {shape}"""
    module = hp.parse(func(body, args=f"%arg0: {shape}", result=shape))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = hp.run(module, "fuse-gelu")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert 'stablehlo.composite "odml.gelu"' in ir.to_text(out, elide_above=16)
    assert grown_mb < 64, grown_mb


def test_fusion_refuses_what_it_cannot_outline_and_fills_missing_operands():
    """`region` refuses a match whose inner value is used outside; an absent optional operand is passed as
    a [D] splat of `missing`."""
    pattern = fusion("test.scale", Op(hlo.MulOp, Op(hlo.TanhOp, V("x"), name="t"), V("w")),
                     inputs=["x", Operand("b", missing=0.0)], attrs={"k": 1})

    class Fuse(FusionPass):
        name = "test-fuse-scale"

        def patterns(self):
            return PatternSet([pattern], name=self.name)

    used_twice = hp.parse(func("""  %t = stablehlo.tanh %arg0 : tensor<2x8xf32>
  %y = stablehlo.multiply %t, %arg0 : tensor<2x8xf32>
  return %y, %t : tensor<2x8xf32>, tensor<2x8xf32>""", result="(tensor<2x8xf32>, tensor<2x8xf32>)"))
    m, why = pattern.match(root_of(used_twice))
    assert m is None and "has users outside the match" in why
    once = hp.parse(func("""  %t = stablehlo.tanh %arg0 : tensor<2x8xf32>
  %y = stablehlo.multiply %t, %arg0 : tensor<2x8xf32>
  return %y : tensor<2x8xf32>"""))
    ctx = hp.PassContext()
    Fuse().run(ir.as_operation(once), ctx)
    text = ir.to_text(once)
    assert ctx.statistics["composites created"] == 1
    assert re.search(r"stablehlo.constant dense<0.000000e\+00> : tensor<8xf32>", text)
    assert 'stablehlo.composite "test.scale" %arg0, %' in text


def test_readme_fusion_plugin_runs(tmp_path):
    """The README's "A fusion is one file" example, run as a plugin on the lit test's JAX GELU."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### A fusion is one file", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    plugin = tmp_path / "gelu.py"
    plugin.write_text(code)
    hlo_opt = Path(sys.executable).with_name("hlo-opt")
    done = subprocess.run([str(hlo_opt), "--load-pass-plugin", str(plugin), "--pass", "fuse-my-gelu",
                           "--split-input-file", str(ROOT / "lit_tests" / "fuse-gelu.mlir")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('stablehlo.composite "my.gelu"') == 1  # the JAX form it was written for
