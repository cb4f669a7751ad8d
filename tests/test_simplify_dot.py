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


@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 1, 0), (0, 2, 1), (1, 2, 0), (2, 0, 1)])
@pytest.mark.parametrize("side", [0, 1])
def test_dot_reads_through_a_transpose_of_either_operand(perm, side):
    """dot(x, transpose(w)) with every permutation of a rank-3 operand (one batch, one contracting, one free
    dim): either the transpose goes into the dot's dimension numbers, or (when it would reorder free dims,
    never the case with one free dim) it stays; the results are the same on XLA CPU either way."""
    shape = [2, 3, 4]  # the transposed operand: [batch 2, contracting 3, free 4]
    w_shape = [0, 0, 0]
    for i, p in enumerate(perm):
        w_shape[p] = shape[i]
    ws, ts = "x".join(map(str, w_shape)), "x".join(map(str, shape))
    if side == 1:
        dot = (f"stablehlo.dot_general %x, %t, batching_dims = [0] x [0], contracting_dims = [2] x [1] : "
               f"(tensor<2x5x3xf32>, tensor<{ts}xf32>) -> tensor<2x5x4xf32>")
        out_t = "tensor<2x5x4xf32>"
    else:
        dot = (f"stablehlo.dot_general %t, %x, batching_dims = [0] x [0], contracting_dims = [1] x [2] : "
               f"(tensor<{ts}xf32>, tensor<2x5x3xf32>) -> tensor<2x4x5xf32>")
        out_t = "tensor<2x4x5xf32>"
    text = (f"func.func @main(%x: tensor<2x5x3xf32>, %w: tensor<{ws}xf32>) -> {out_t} {{\n"
            f"  %t = stablehlo.transpose %w, dims = {list(perm)} : (tensor<{ws}xf32>) -> tensor<{ts}xf32>\n"
            f"  %0 = {dot}\n  return %0 : {out_t}\n}}")
    module = hp.parse(text)
    out = hp.run(module, "simplify")
    assert "stablehlo.transpose" not in hp.ir.to_text(out)
    assert numerics.check_same(module, out, rtol=1e-6, atol=1e-6)
