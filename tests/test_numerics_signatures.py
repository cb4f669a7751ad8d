"""--check-numerics on a module with several signatures (prefill and decode): each public function runs on
its own inputs, on XLA and, after legalize-tflite, in LiteRT by signature name; a pass that breaks one of
them is named together with the signature it broke."""

import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import hlo_passes as hp

ROOT = Path(__file__).resolve().parent.parent
HLO_OPT = str(Path(sys.executable).parent / "hlo-opt")
W = np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)


def _merged(tmp_path) -> Path:
    from hlo_passes.frontends.signatures import from_jax

    def prefill(x):
        return jnp.tanh(x @ W) * 2.0

    def decode(x, y):
        return x @ W + y

    module = from_jax({"prefill": prefill, "decode": decode},
                      {"prefill": (np.zeros((3, 4), np.float32),),
                       "decode": (np.zeros((1, 4), np.float32), np.zeros((1, 4), np.float32))})
    path = tmp_path / "merged.mlir"
    hp.save(module, path)
    return path


def test_each_signature_is_checked_on_xla_and_in_litert(tmp_path):
    done = subprocess.run([HLO_OPT, str(_merged(tmp_path)), "-p", "optimize", "--check-numerics",
                           "-o", str(tmp_path / "m.tflite")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "each of the signatures prefill, decode" in done.stderr
    assert "after legalize-tflite" in done.stderr and "same results in LiteRT" in done.stderr


TWO = """
func.func @prefill(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %two = stablehlo.constant dense<2.0> : tensor<3x4xf32>
  %0 = stablehlo.multiply %x, %two : tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}
func.func @decode(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %0 = stablehlo.add %x, %x : tensor<1x4xf32>
  return %0 : tensor<1x4xf32>
}
"""


def test_a_pass_that_breaks_one_signature_is_named_with_it(tmp_path):
    plugin = ROOT / "lit_tests" / "Inputs" / "bisect_passes.py"
    path = tmp_path / "two.mlir"
    path.write_text(TWO)
    done = subprocess.run([HLO_OPT, str(path), "--load-pass-plugin", str(plugin),
                           "-p", "test-times-three", "--check-numerics"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "pass 'test-times-three' (#1) changed the results" in done.stderr
    assert "prefill" in done.stderr and "decode:" not in done.stderr.split("changed the results")[1].split("\n")[0]
