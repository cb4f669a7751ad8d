"""Our backend against Google's converter (litert-converter 0.5.0) on the same optimized StableHLO, where it
can convert: the same outputs in LiteRT, and no more operators in the entry subgraph (with the composites
kept as it keeps them). See reference_converter.py for why it runs in a venv of its own."""

import sys

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import numerics
from hlo_passes.tflite.export import export
from hlo_passes.tflite.inspect import load_model
from hlo_passes.tflite.runtime import TFLiteModel

import reference_converter as ref
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))


def _operators(path) -> tuple[int, int]:
    """(operators in the entry subgraph, how many of them are GATHER)."""
    from hlo_passes.tflite import schema

    model = load_model(path)[1]
    ops = model.subgraphs[0].operators
    gathers = sum(schema.op_name(model.operatorCodes[op.opcodeIndex].builtinCode) == "GATHER" for op in ops)
    return len(ops), gathers


def test_same_outputs_and_no_more_ops_than_litert_converter(tmp_path):
    from tflite import jax_decoder  # bench/tflite.py: a 2-layer JAX decoder with constant weights

    module = hp.parse(jax_decoder(2, constants=True))
    inputs = [np.abs(x) % 256 for x in numerics.random_inputs(module, 0)]
    optimized = hp.run(module, "optimize")
    src = tmp_path / "decoder.mlir"
    src.write_text(hp.ir.to_text(optimized))
    theirs = tmp_path / "theirs.tflite"
    ref.convert(src, theirs)
    ours = tmp_path / "ours.tflite"
    export(hp.run(hp.parse(src.read_text()), "legalize-tflite{keep=all}")).write(ours)
    (n_ours, gathers), (n_theirs, _) = _operators(ours), _operators(theirs)
    # ours clamps gather indices as XLA does (2 ops per GATHER); theirs does not, and fails on an
    # out-of-range token id where XLA (and ours) give the model's NaN rows: checked below
    assert n_ours <= n_theirs + 2 * gathers
    feed = {f"args_{i}": x for i, x in enumerate(inputs)}
    (a,) = TFLiteModel(ours).run("main", **feed).values()
    (b,) = TFLiteModel(theirs).run("main", **feed).values()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    (expected,) = numerics.execute(module, inputs)
    np.testing.assert_allclose(a, expected, rtol=1e-4, atol=1e-5)
    bad_ids = np.array([3, 300, -1, 5] * 4, np.int32)
    (expected,) = numerics.execute(module, [bad_ids])
    (a,) = TFLiteModel(ours).run("main", args_0=bad_ids).values()
    assert numerics.compare([a], [expected], rtol=1e-4, atol=1e-5).ok
    with pytest.raises(hp.HloError, match="gather_nd index out of bounds"):
        TFLiteModel(theirs).run("main", args_0=bad_ids)
