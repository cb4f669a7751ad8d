"""simplify's dot-unbatch-weight rule on random inputs (XLA CPU before and after), over batch counts and
orders of contracting dims, and the shape it declines."""

import pytest

import hlo_passes as hp
from hlo_passes import numerics


@pytest.mark.parametrize("batch,rc", [(1, 1), (3, 1), (2, 2)])
def test_batched_matmul_against_a_shared_weight(batch, rc):
    w_shape = "8x6" if rc == 1 else "6x8"
    contract = 0 if rc == 1 else 1
    bdims = "[1, 2]"
    rhs = f"{batch}x8x6" if rc == 1 else f"{batch}x6x8"
    text = f"""func.func @main(%x: tensor<{batch}x5x8xf32>, %w: tensor<{w_shape}xf32>) -> tensor<{batch}x5x6xf32> {{
  %b = stablehlo.broadcast_in_dim %w, dims = {bdims} : (tensor<{w_shape}xf32>) -> tensor<{rhs}xf32>
  %0 = stablehlo.dot_general %x, %b, batching_dims = [0] x [0], contracting_dims = [2] x [{rc}] : (tensor<{batch}x5x8xf32>, tensor<{rhs}xf32>) -> tensor<{batch}x5x6xf32>
  return %0 : tensor<{batch}x5x6xf32>
}}"""
    module = hp.parse(text)
    out = hp.run(module, "simplify")
    printed = hp.ir.to_text(out)
    assert "batching_dims" not in printed and f"contracting_dims = [2] x [{contract}]" in printed
    assert numerics.check_same(module, out, rtol=1e-6, atol=1e-6)
