"""The driver's quick check (`Pattern.quick_check`: a necessary condition read from the names of the ops
defining the root's operands) may only skip ops the full matcher would refuse anyway. Every built-in
pattern set is tried on every op of every lit test input, with and without the check: it must never
reject an op that matches, and it must reject something (or it saves nothing)."""

from conftest import lit_inputs
from hlo_passes import ir
from hlo_passes.passes.fuse_gelu import gelu_patterns
from hlo_passes.passes.fuse_layer_norm import layer_norm_patterns
from hlo_passes.patterns.algebra import simplify_patterns
from hlo_passes.patterns.fold import fold_patterns
from hlo_passes.patterns.kv_cache import kv_cache_patterns
from hlo_passes.patterns.rms_norm import rms_norm_patterns
from hlo_passes.patterns.sdpa import sdpa_patterns
from hlo_passes.patterns.template import Producers, match_root


def _modules():
    for name, text in lit_inputs():
        yield name, ir.load(text.encode())


def test_quick_check_never_rejects_a_match():
    sets = [simplify_patterns(), fold_patterns(), sdpa_patterns(), rms_norm_patterns(), layer_norm_patterns(),
            gelu_patterns(), kv_cache_patterns()]
    by_root: dict = {}
    for patterns in sets:
        for p in patterns:
            for name in p.root.root_names():
                by_root.setdefault(name, []).append((p, p.quick_check()))
    rejected = matched = 0
    for file, module in _modules():
        ops = []
        ir.as_operation(module).walk(lambda op: ops.append(op.operation) or ir.mlir.WalkResult.ADVANCE)
        for op in ops:
            for p, quick in by_root.get(op.name, ()):
                m, _ = p.match(op, explain=False)
                matched += m is not None
                if quick is not None and not quick(Producers(op)):
                    rejected += 1
                    assert m is None, f"{file}: the quick check of '{p.name}' rejected a match at {op.location}"
    assert matched > 200 and rejected > 2000, (matched, rejected)  # (342 and 4289 when written)


def test_folded_resources_are_named_the_same_on_every_run():
    """Folding a resource-backed weight names the new blob from the module alone: the same input prints
    the same on a second run in the same process (a process-wide counter made it folded_7, folded_8...)."""
    import numpy as np

    from hlo_passes import pass_manager as pm

    w = np.arange(4096, dtype=np.float32).reshape(64, 64)
    text = ("func.func @main(%x: tensor<64x64xf32>) -> tensor<64x64xf32> {\n"
            "  %w = stablehlo.constant dense_resource<w> : tensor<64x64xf32>\n"
            "  %t = stablehlo.transpose %w, dims = [1, 0] : (tensor<64x64xf32>) -> tensor<64x64xf32>\n"
            "  %n = stablehlo.negate %t : tensor<64x64xf32>\n"
            "  %y = stablehlo.add %x, %n : tensor<64x64xf32>\n"
            "  return %y : tensor<64x64xf32>\n}\n"
            "{-#\n  dialect_resources: {\n    builtin: {\n      w: \"0x04000000"
            + w.tobytes().hex().upper() + "\"\n    }\n  }\n#-}\n")
    runs = [ir.to_text(pm.run(ir.load(text.encode()), "fold-constants")) for _ in range(3)]
    assert "dense_resource<folded" in runs[0]
    assert runs[0] == runs[1] == runs[2]


def test_quick_check_agrees_with_the_matcher_on_prefixes_and_commuted_operands():
    """A trailing `...` matches a prefix, and a commutative template swaps that prefix's two operands: the quick
    check lets through what the matcher accepts, and refuses an operand kind the template never takes."""
    from conftest import func

    from hlo_passes.ir import stablehlo as hlo
    from hlo_passes.patterns import Const, Op, V

    module = ir.load(func("""  %c = stablehlo.constant dense<1.0> : tensor<2xf32>
  %0 = stablehlo.concatenate %a, %c, %a, dim = 0 : (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<6xf32>
  %1 = stablehlo.concatenate %a, %a, dim = 0 : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  return %0 : tensor<6xf32>""", "%a: tensor<2xf32>", "tensor<6xf32>").encode())
    three, two = [op for op in _ops(module) if op.name == "stablehlo.concatenate"]
    swapped = Op(hlo.ConcatenateOp, Const("c"), V("x"), ..., commutative=True)
    assert swapped.quick_check()(Producers(three)) and match_root(swapped, three)[0] is not None
    assert not swapped.quick_check()(Producers(two)) and match_root(swapped, two)[0] is None
    in_order = Op(hlo.ConcatenateOp, Const("c"), V("x"), ...)
    assert not in_order.quick_check()(Producers(three)) and match_root(in_order, three)[0] is None


def _ops(module):
    found = []
    ir.as_operation(module).walk(lambda op: found.append(op.operation) or ir.mlir.WalkResult.ADVANCE)
    return found


def test_two_level_checks_lose_no_match_on_real_exports():
    """The check also looks one level further (`Op.op_check`: the operands of an operand template that is
    an op). Real exports, raw and cleaned up, are where the fusions' templates nearly match most often."""
    import sys

    import hlo_passes as hp
    from conftest import EXAMPLES, exported_lm

    sys.path.insert(0, str(EXAMPLES))
    from transformer import transformer_text

    sets = [simplify_patterns(), fold_patterns(), rms_norm_patterns(), layer_norm_patterns(), gelu_patterns(),
            kv_cache_patterns()]
    pats = [(p, p.quick_check()) for patterns in sets for p in patterns]
    rejected = matched = 0
    for name, text in [("jax", transformer_text(2)), ("llama", exported_lm("llama")[1]), ("gpt2", exported_lm("gpt2")[1])]:
        for module in (ir.parse(text), hp.run(ir.parse(text), "inline-calls,fold-constants,simplify,cse")):
            for op in _ops(module):
                for p, quick in pats:
                    if quick is None or op.name not in p.root.root_names():
                        continue
                    m, _ = p.match(op, explain=False)
                    matched += m is not None
                    if not quick(Producers(op)):
                        rejected += 1
                        assert m is None, f"{name}: the quick check of '{p.name}' rejected a match at {op.location}"
    assert matched > 150 and rejected > 3000, (matched, rejected)  # (249 and 4509 when written)
