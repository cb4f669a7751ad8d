// fuse-sdpa: attention as exporters write it becomes one `odml.scaled_dot_product_attention` composite: operands
// q, k, v in [B, T, N, H] (k and v with the K/V head count) and an additive float mask [B|1, 1, T, S] (zeros when
// there is none), attributes {scale} (+ {logit_cap}). The decomposition is the matched ops themselves, with the
// operands transposed into [B, T, N, H] outside and back inside (simplify then cancels the pairs: CLEAN).
// Inputs are `jax.jit(f).lower(...)` output as it comes (only `jax.result_info` dropped), and torch-mlir's bmm form.
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-sdpa,simplify | %FileCheck %s --check-prefix=CLEAN
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{allow-gqa=false}' | %FileCheck %s --check-prefix=NOGQA
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --debug-patterns=fuse-sdpa -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{min-seq-len=2}' --debug-patterns=fuse-sdpa -o %t 2>&1 | %FileCheck %s --check-prefix=MINSEQ

// jax: jax.nn.softmax(q @ k.swapaxes(-1, -2) * d**-0.5) @ v on [B, N, T, H]: q, k, v go in transposed to
// [B, T, N, H]; the decomposition transposes them back and is the original subgraph, op for op.
// CHECK-LABEL: func.func @jax_matmul_scale_scores
// CHECK-SAME: (%[[Q:.*]]: tensor<2x3x4x8xf32>, %[[K:.*]]: tensor<2x3x5x8xf32>, %[[V:.*]]: tensor<2x3x5x8xf32>)
// CHECK-DAG: %[[ZERO:.*]] = stablehlo.constant dense<0.000000e+00> : tensor<1x1x4x5xf32>
// CHECK-DAG: %[[QT:.*]] = stablehlo.transpose %[[Q]], dims = [0, 2, 1, 3] : (tensor<2x3x4x8xf32>) -> tensor<2x4x3x8xf32>
// CHECK-DAG: %[[KT:.*]] = stablehlo.transpose %[[K]], dims = [0, 2, 1, 3] : (tensor<2x3x5x8xf32>) -> tensor<2x5x3x8xf32>
// CHECK-DAG: %[[VT:.*]] = stablehlo.transpose %[[V]], dims = [0, 2, 1, 3] : (tensor<2x3x5x8xf32>) -> tensor<2x5x3x8xf32>
// CHECK: %[[R:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" %[[QT]], %[[KT]], %[[VT]], %[[ZERO]] {composite_attributes = {scale = 0.353553385 : f32}, decomposition = @[[IMPL:odml.scaled_dot_product_attention.impl[_0-9]*]]} : (tensor<2x4x3x8xf32>, tensor<2x5x3x8xf32>, tensor<2x5x3x8xf32>, tensor<1x1x4x5xf32>) -> tensor<2x4x3x8xf32>
// CHECK-NEXT: %[[OUT:.*]] = stablehlo.transpose %[[R]], dims = [0, 2, 1, 3] : (tensor<2x4x3x8xf32>) -> tensor<2x3x4x8xf32>
// CHECK-NEXT: return %[[OUT]]
// CHECK: func.func private @[[IMPL]](%[[A0:.*]]: tensor<2x4x3x8xf32>, %[[A1:.*]]: tensor<2x5x3x8xf32>, %[[A2:.*]]: tensor<2x5x3x8xf32>, %{{.*}}: tensor<1x1x4x5xf32>) -> tensor<2x4x3x8xf32>
// CHECK-NEXT: %[[Q2:.*]] = stablehlo.transpose %[[A0]], dims = [0, 2, 1, 3] : (tensor<2x4x3x8xf32>) -> tensor<2x3x4x8xf32>
// CHECK-NEXT: %[[K2:.*]] = stablehlo.transpose %[[A1]], dims = [0, 2, 1, 3]
// CHECK-NEXT: %[[V2:.*]] = stablehlo.transpose %[[A2]], dims = [0, 2, 1, 3]
// CHECK-NEXT: %[[KK:.*]] = stablehlo.transpose %[[K2]], dims = [0, 1, 3, 2]
// CHECK-NEXT: stablehlo.dot_general %[[Q2]], %[[KK]], batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2]
// CHECK: stablehlo.reduce({{.*}}) applies stablehlo.maximum across dimensions = [3]
// CHECK: stablehlo.exponential
// CHECK: stablehlo.reduce({{.*}}) applies stablehlo.add across dimensions = [3]
// CHECK: %[[P:.*]] = stablehlo.divide
// CHECK-NEXT: %[[O:.*]] = stablehlo.dot_general %[[P]], %[[V2]]
// CHECK-NEXT: %[[OT:.*]] = stablehlo.transpose %[[O]], dims = [0, 2, 1, 3] : (tensor<2x3x4x8xf32>) -> tensor<2x4x3x8xf32>
// CHECK-NEXT: return %[[OT]]
// CLEAN-LABEL: func.func @jax_matmul_scale_scores
// CLEAN: stablehlo.composite "odml.scaled_dot_product_attention"
// NOGQA-LABEL: func.func @jax_matmul_scale_scores
// NOGQA: stablehlo.composite "odml.scaled_dot_product_attention"
// STATS: composites created: 1
func.func @jax_matmul_scale_scores(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x4xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x4x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x4x5xf32>
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %15 : tensor<2x3x4x8xf32>
}

// -----

// jax: einsum("bnts,bsnh->btnh", softmax(einsum("btnh,bsnh->bnts", q, k) * d**-0.5), v): already [B, T, N, H],
// nothing to transpose on the way in; P.V puts V first, and its [B, N, H, T] result is put back in the
// decomposition and outside, where simplify cancels the pair with the exporter's own transpose.
// CHECK-LABEL: func.func @jax_einsum_btnh
// CHECK-NOT: stablehlo.transpose
// CHECK: %[[R:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" %arg0, %arg1, %arg2, %{{.*}} {composite_attributes = {scale = 0.353553385 : f32}
// CHECK-SAME: (tensor<2x4x3x8xf32>, tensor<2x5x3x8xf32>, tensor<2x5x3x8xf32>, tensor<1x1x4x5xf32>) -> tensor<2x4x3x8xf32>
// CLEAN-LABEL: func.func @jax_einsum_btnh
// CLEAN-NEXT: %[[Z:.*]] = stablehlo.constant dense<0.000000e+00> : tensor<1x1x4x5xf32>
// CLEAN-NEXT: %[[R:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" %arg0, %arg1, %arg2, %[[Z]]
// CLEAN-NEXT: return %[[R]]
// STATS: composites created: 1
func.func @jax_einsum_btnh(%arg0: tensor<2x4x3x8xf32>, %arg1: tensor<2x5x3x8xf32>, %arg2: tensor<2x5x3x8xf32>) -> (tensor<2x4x3x8xf32>) {
  %0 = stablehlo.dot_general %arg0, %arg1, batching_dims = [0, 2] x [0, 2], contracting_dims = [3] x [3], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x8xf32>, tensor<2x5x3x8xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %1 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %2 = stablehlo.multiply %0, %1 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %3 = stablehlo.reduce(%2 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %5 = stablehlo.maximum %4, %3 : tensor<2x3x4xf32>
  %6 = stablehlo.broadcast_in_dim %5, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %8 = stablehlo.subtract %2, %7 : tensor<2x3x4x5xf32>
  %9 = stablehlo.exponential %8 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %10 = stablehlo.reduce(%9 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %13 = stablehlo.divide %9, %12 : tensor<2x3x4x5xf32>
  %14 = stablehlo.dot_general %arg2, %13, batching_dims = [0, 2] x [0, 1], contracting_dims = [1] x [3], precision = [DEFAULT, DEFAULT] : (tensor<2x5x3x8xf32>, tensor<2x3x4x5xf32>) -> tensor<2x3x8x4xf32>
  %15 = stablehlo.transpose %14, dims = [0, 3, 1, 2] : (tensor<2x3x8x4xf32>) -> tensor<2x4x3x8xf32>
  return %15 : tensor<2x4x3x8xf32>
}

// -----

// jax: softmax((q / sqrt(d)) @ k^T) @ v: the scale divides q.
// CHECK-LABEL: func.func @jax_scale_q_divide
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} {composite_attributes = {scale = 0.353553385 : f32}
// CHECK: func.func private
// CHECK: stablehlo.constant dense<2.82842708>
// CHECK: stablehlo.divide
// STATS: composites created: 1
func.func @jax_scale_q_divide(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %cst = stablehlo.constant dense<2.82842708> : tensor<f32>
  %0 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x8xf32>
  %1 = stablehlo.divide %arg0, %0 : tensor<2x3x4x8xf32>
  %2 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %3 = stablehlo.dot_general %1, %2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x4xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x4x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x4x5xf32>
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %15 : tensor<2x3x4x8xf32>
}

// -----

// jax: softmax(q @ (k * 0.125)^T) @ v: a custom scale, on k.
// CHECK-LABEL: func.func @jax_scale_k_custom
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} {composite_attributes = {scale = 1.250000e-01 : f32}
// STATS: composites created: 1
func.func @jax_scale_k_custom(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %cst = stablehlo.constant dense<1.250000e-01> : tensor<f32>
  %0 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x5x8xf32>
  %1 = stablehlo.multiply %arg1, %0 : tensor<2x3x5x8xf32>
  %2 = stablehlo.transpose %1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %3 = stablehlo.dot_general %arg0, %2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x4xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x4x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x4x5xf32>
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %15 : tensor<2x3x4x8xf32>
}

// -----

// jax: e = exp(s); e / e.sum(-1, keepdims=True): the softmax without the max.
// CHECK-LABEL: func.func @jax_naive_softmax
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} {composite_attributes = {scale = 0.353553385 : f32}
// CHECK-NOT: stablehlo.maximum
// CHECK: return
// STATS: composites created: 1
func.func @jax_naive_softmax(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %4 = stablehlo.exponential %3 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %5 = stablehlo.reduce(%4 init: %cst_0) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %6 = stablehlo.broadcast_in_dim %5, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %8 = stablehlo.divide %4, %7 : tensor<2x3x4x5xf32>
  %9 = stablehlo.dot_general %8, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %9 : tensor<2x3x4x8xf32>
}

// -----

// jax: bf16 q, k, v; softmax(s.astype(f32) * scale).astype(bf16) @ v: the converts go inside; q, k, v stay bf16.
// CHECK-LABEL: func.func @jax_bf16_f32_softmax
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} {composite_attributes = {scale = 0.353553385 : f32}, {{.*}} : (tensor<2x4x3x8xbf16>, tensor<2x5x3x8xbf16>, tensor<2x5x3x8xbf16>, tensor<1x1x4x5xbf16>) -> tensor<2x4x3x8xbf16>
// CHECK: func.func private
// CHECK: stablehlo.convert {{.*}} : (tensor<2x3x4x5xbf16>) -> tensor<2x3x4x5xf32>
// CHECK: stablehlo.convert {{.*}} : (tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xbf16>
// STATS: composites created: 1
func.func @jax_bf16_f32_softmax(%arg0: tensor<2x3x4x8xbf16>, %arg1: tensor<2x3x5x8xbf16>, %arg2: tensor<2x3x5x8xbf16>) -> (tensor<2x3x4x8xbf16>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xbf16>) -> tensor<2x3x8x5xbf16>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xbf16>, tensor<2x3x8x5xbf16>) -> tensor<2x3x4x5xbf16>
  %2 = stablehlo.convert %1 : (tensor<2x3x4x5xbf16>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %4 = stablehlo.multiply %2, %3 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.reduce(%4 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %6 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %7 = stablehlo.maximum %6, %5 : tensor<2x3x4xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %10 = stablehlo.subtract %4, %9 : tensor<2x3x4x5xf32>
  %11 = stablehlo.exponential %10 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %12 = stablehlo.reduce(%11 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %15 = stablehlo.divide %11, %14 : tensor<2x3x4x5xf32>
  %16 = stablehlo.convert %15 : (tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xbf16>
  %17 = stablehlo.dot_general %16, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xbf16>, tensor<2x3x5x8xbf16>) -> tensor<2x3x4x8xbf16>
  return %17 : tensor<2x3x4x8xbf16>
}

// -----

// jax: softmax(s * scale + mask) @ v with mask [B, 1, T, S]: the mask is the composite's as it is.
// CHECK-LABEL: func.func @jax_additive_mask
// CHECK-SAME: %[[M:[a-z0-9_]+]]: tensor<2x1x4x5xf32>)
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {composite_attributes = {scale = 0.353553385 : f32}
// CHECK-SAME: tensor<2x1x4x5xf32>) -> tensor<2x4x3x8xf32>
// STATS: composites created: 1
func.func @jax_additive_mask(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>, %arg3: tensor<2x1x4x5xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %4 = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<2x1x4x5xf32>) -> tensor<2x3x4x5xf32>
  %5 = stablehlo.add %3, %4 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %6 = stablehlo.reduce(%5 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %7 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %8 = stablehlo.maximum %7, %6 : tensor<2x3x4xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %11 = stablehlo.subtract %5, %10 : tensor<2x3x4x5xf32>
  %12 = stablehlo.exponential %11 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %13 = stablehlo.reduce(%12 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %15 = stablehlo.broadcast_in_dim %14, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %16 = stablehlo.divide %12, %15 : tensor<2x3x4x5xf32>
  %17 = stablehlo.dot_general %16, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %17 : tensor<2x3x4x8xf32>
}

// -----

// jax: softmax(jnp.where(mask, s * scale, -inf)) @ v: the boolean mask becomes additive (0 / -inf) outside and
// boolean again inside.
// CHECK-LABEL: func.func @jax_bool_mask_where
// CHECK-SAME: %[[M:[a-z0-9_]+]]: tensor<2x1x4x5xi1>)
// CHECK-DAG: %[[Z:.*]] = stablehlo.constant dense<0.000000e+00> : tensor<2x1x4x5xf32>
// CHECK-DAG: %[[NINF:.*]] = stablehlo.constant dense<0xFF800000> : tensor<2x1x4x5xf32>
// CHECK: %[[ADD:.*]] = stablehlo.select %[[M]], %[[Z]], %[[NINF]]
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[ADD]] {composite_attributes = {scale = 0.353553385 : f32}
// CHECK: func.func private @{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %[[A3:[a-z0-9_]+]]: tensor<2x1x4x5xf32>)
// CHECK: %[[B:.*]] = stablehlo.compare EQ, %[[A3]], %{{.*}} : (tensor<2x1x4x5xf32>, tensor<2x1x4x5xf32>) -> tensor<2x1x4x5xi1>
// CHECK: stablehlo.broadcast_in_dim %[[B]], dims = [0, 1, 2, 3] : (tensor<2x1x4x5xi1>) -> tensor<2x3x4x5xi1>
// STATS: composites created: 1
func.func @jax_bool_mask_where(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>, %arg3: tensor<2x1x4x5xi1>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.convert %cst_0 : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<2x1x4x5xi1>) -> tensor<2x3x4x5xi1>
  %6 = stablehlo.broadcast_in_dim %4, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %7 = stablehlo.select %5, %3, %6 : tensor<2x3x4x5xi1>, tensor<2x3x4x5xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %8 = stablehlo.reduce(%7 init: %cst_1) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_2 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %9 = stablehlo.broadcast_in_dim %cst_2, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %10 = stablehlo.maximum %9, %8 : tensor<2x3x4xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %13 = stablehlo.subtract %7, %12 : tensor<2x3x4x5xf32>
  %14 = stablehlo.exponential %13 : tensor<2x3x4x5xf32>
  %cst_3 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %15 = stablehlo.reduce(%14 init: %cst_3) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %16 = stablehlo.broadcast_in_dim %15, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %17 = stablehlo.broadcast_in_dim %16, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %18 = stablehlo.divide %14, %17 : tensor<2x3x4x5xf32>
  %19 = stablehlo.dot_general %18, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %19 : tensor<2x3x4x8xf32>
}

// -----

// jax: jnp.where(arange(T)[:, None] >= arange(S)[None, :], s * scale, finfo.min): a causal mask built from
// iota/compare stays outside; the composite gets it as [1, 1, T, S].
// CHECK-LABEL: func.func @jax_causal_iota
// CHECK: %[[CMP:.*]] = stablehlo.compare GE, {{.*}} -> tensor<4x4xi1>
// CHECK: %[[M:.*]] = stablehlo.reshape %[[CMP]] : (tensor<4x4xi1>) -> tensor<1x1x4x4xi1>
// CHECK: %[[ADD:.*]] = stablehlo.select %[[M]], %{{.*}}, %{{.*}} : tensor<1x1x4x4xi1>, tensor<1x1x4x4xf32>
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[ADD]] {composite_attributes = {scale = 0.353553385 : f32}
// STATS: composites created: 1
func.func @jax_causal_iota(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x4x8xf32>, %arg2: tensor<2x3x4x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.iota dim = 0 : tensor<4xi32>
  %1 = stablehlo.broadcast_in_dim %0, dims = [0] : (tensor<4xi32>) -> tensor<4x1xi32>
  %c = stablehlo.constant dense<0> : tensor<i32>
  %2 = stablehlo.broadcast_in_dim %c, dims = [] : (tensor<i32>) -> tensor<4x1xi32>
  %3 = stablehlo.add %1, %2 : tensor<4x1xi32>
  %4 = stablehlo.iota dim = 0 : tensor<4xi32>
  %5 = stablehlo.broadcast_in_dim %4, dims = [1] : (tensor<4xi32>) -> tensor<1x4xi32>
  %6 = stablehlo.broadcast_in_dim %3, dims = [0, 1] : (tensor<4x1xi32>) -> tensor<4x4xi32>
  %7 = stablehlo.broadcast_in_dim %5, dims = [0, 1] : (tensor<1x4xi32>) -> tensor<4x4xi32>
  %8 = stablehlo.compare GE, %6, %7, SIGNED : (tensor<4x4xi32>, tensor<4x4xi32>) -> tensor<4x4xi1>
  %9 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x4x8xf32>) -> tensor<2x3x8x4xf32>
  %10 = stablehlo.dot_general %arg0, %9, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x4xf32>) -> tensor<2x3x4x4xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %11 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x4xf32>
  %12 = stablehlo.multiply %10, %11 : tensor<2x3x4x4xf32>
  %cst_0 = stablehlo.constant dense<-3.40282347E+38> : tensor<f32>
  %13 = stablehlo.broadcast_in_dim %8, dims = [2, 3] : (tensor<4x4xi1>) -> tensor<2x3x4x4xi1>
  %14 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x3x4x4xf32>
  %15 = stablehlo.select %13, %12, %14 : tensor<2x3x4x4xi1>, tensor<2x3x4x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %16 = stablehlo.reduce(%15 init: %cst_1) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_2 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %17 = stablehlo.broadcast_in_dim %cst_2, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %18 = stablehlo.maximum %17, %16 : tensor<2x3x4xf32>
  %19 = stablehlo.broadcast_in_dim %18, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %20 = stablehlo.broadcast_in_dim %19, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x4xf32>
  %21 = stablehlo.subtract %15, %20 : tensor<2x3x4x4xf32>
  %22 = stablehlo.exponential %21 : tensor<2x3x4x4xf32>
  %cst_3 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %23 = stablehlo.reduce(%22 init: %cst_3) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x4xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %24 = stablehlo.broadcast_in_dim %23, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %25 = stablehlo.broadcast_in_dim %24, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x4xf32>
  %26 = stablehlo.divide %22, %25 : tensor<2x3x4x4xf32>
  %27 = stablehlo.dot_general %26, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x4xf32>, tensor<2x3x4x8xf32>) -> tensor<2x3x4x8xf32>
  return %27 : tensor<2x3x4x8xf32>
}

// -----

// jax: softmax(30 * tanh(s * scale / 30)) @ v: a soft cap.
// CHECK-LABEL: func.func @jax_softcap
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} {composite_attributes = {logit_cap = 3.000000e+01 : f32, scale = 0.353553385 : f32}
// CHECK: func.func private
// CHECK: stablehlo.tanh
// STATS: composites created: 1
func.func @jax_softcap(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<3.000000e+01> : tensor<f32>
  %4 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %5 = stablehlo.divide %3, %4 : tensor<2x3x4x5xf32>
  %6 = stablehlo.tanh %5 : tensor<2x3x4x5xf32>
  %cst_1 = stablehlo.constant dense<3.000000e+01> : tensor<f32>
  %7 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %8 = stablehlo.multiply %7, %6 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %9 = stablehlo.reduce(%8 init: %cst_2) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_3 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %10 = stablehlo.broadcast_in_dim %cst_3, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %11 = stablehlo.maximum %10, %9 : tensor<2x3x4xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.subtract %8, %13 : tensor<2x3x4x5xf32>
  %15 = stablehlo.exponential %14 : tensor<2x3x4x5xf32>
  %cst_4 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %16 = stablehlo.reduce(%15 init: %cst_4) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %17 = stablehlo.broadcast_in_dim %16, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %18 = stablehlo.broadcast_in_dim %17, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %19 = stablehlo.divide %15, %18 : tensor<2x3x4x5xf32>
  %20 = stablehlo.dot_general %19, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %20 : tensor<2x3x4x8xf32>
}

// -----

// jax: jnp.repeat(k, 2, axis=1) (and v) for grouped-query attention: 4 query heads, 2 K/V heads. The composite
// takes K/V before the repeat (allow-gqa, the default); with allow-gqa=false, after it.
// CHECK-LABEL: func.func @jax_gqa_repeat
// CHECK-SAME: (%[[Q:.*]]: tensor<2x4x3x8xf32>, %[[K:.*]]: tensor<2x2x5x8xf32>, %[[V:.*]]: tensor<2x2x5x8xf32>)
// CHECK-DAG: %[[KT:.*]] = stablehlo.transpose %[[K]], dims = [0, 2, 1, 3] : (tensor<2x2x5x8xf32>) -> tensor<2x5x2x8xf32>
// CHECK-DAG: %[[VT:.*]] = stablehlo.transpose %[[V]], dims = [0, 2, 1, 3] : (tensor<2x2x5x8xf32>) -> tensor<2x5x2x8xf32>
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %[[KT]], %[[VT]], %{{.*}} {composite_attributes = {scale = 0.353553385 : f32}, {{.*}} : (tensor<2x3x4x8xf32>, tensor<2x5x2x8xf32>, tensor<2x5x2x8xf32>, tensor<1x1x3x5xf32>) -> tensor<2x3x4x8xf32>
// CHECK: func.func private
// CHECK: stablehlo.broadcast_in_dim %{{.*}}, dims = [0, 1, 3, 4] : (tensor<2x2x5x8xf32>) -> tensor<2x2x2x5x8xf32>
// NOGQA-LABEL: func.func @jax_gqa_repeat
// NOGQA: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} : (tensor<2x3x4x8xf32>, tensor<2x5x4x8xf32>, tensor<2x5x4x8xf32>, tensor<1x1x3x5xf32>) -> tensor<2x3x4x8xf32>
// STATS: composites created: 1
func.func @jax_gqa_repeat(%arg0: tensor<2x4x3x8xf32>, %arg1: tensor<2x2x5x8xf32>, %arg2: tensor<2x2x5x8xf32>) -> (tensor<2x4x3x8xf32>) {
  %0 = stablehlo.broadcast_in_dim %arg1, dims = [0, 1, 3, 4] : (tensor<2x2x5x8xf32>) -> tensor<2x2x2x5x8xf32>
  %1 = stablehlo.reshape %0 : (tensor<2x2x2x5x8xf32>) -> tensor<2x4x5x8xf32>
  %2 = stablehlo.transpose %1, dims = [0, 1, 3, 2] : (tensor<2x4x5x8xf32>) -> tensor<2x4x8x5xf32>
  %3 = stablehlo.dot_general %arg0, %2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x8xf32>, tensor<2x4x8x5xf32>) -> tensor<2x4x3x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %4 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x4x3x5xf32>
  %5 = stablehlo.multiply %3, %4 : tensor<2x4x3x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %6 = stablehlo.reduce(%5 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x4x3x5xf32>, tensor<f32>) -> tensor<2x4x3xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %7 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x4x3xf32>
  %8 = stablehlo.maximum %7, %6 : tensor<2x4x3xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2] : (tensor<2x4x3xf32>) -> tensor<2x4x3x1xf32>
  %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1, 2, 3] : (tensor<2x4x3x1xf32>) -> tensor<2x4x3x5xf32>
  %11 = stablehlo.subtract %5, %10 : tensor<2x4x3x5xf32>
  %12 = stablehlo.exponential %11 : tensor<2x4x3x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %13 = stablehlo.reduce(%12 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x4x3x5xf32>, tensor<f32>) -> tensor<2x4x3xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1, 2] : (tensor<2x4x3xf32>) -> tensor<2x4x3x1xf32>
  %15 = stablehlo.broadcast_in_dim %14, dims = [0, 1, 2, 3] : (tensor<2x4x3x1xf32>) -> tensor<2x4x3x5xf32>
  %16 = stablehlo.divide %12, %15 : tensor<2x4x3x5xf32>
  %17 = stablehlo.broadcast_in_dim %arg2, dims = [0, 1, 3, 4] : (tensor<2x2x5x8xf32>) -> tensor<2x2x2x5x8xf32>
  %18 = stablehlo.reshape %17 : (tensor<2x2x2x5x8xf32>) -> tensor<2x4x5x8xf32>
  %19 = stablehlo.dot_general %16, %18, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x5xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x3x8xf32>
  return %19 : tensor<2x4x3x8xf32>
}

// -----

// jax: K/V with one head broadcast to all 4 (multi-query attention).
// CHECK-LABEL: func.func @jax_mqa_broadcast
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} : (tensor<2x3x4x8xf32>, tensor<2x5x1x8xf32>, tensor<2x5x1x8xf32>, tensor<1x1x3x5xf32>) -> tensor<2x3x4x8xf32>
// STATS: composites created: 1
func.func @jax_mqa_broadcast(%arg0: tensor<2x4x3x8xf32>, %arg1: tensor<2x1x5x8xf32>, %arg2: tensor<2x1x5x8xf32>) -> (tensor<2x4x3x8xf32>) {
  %0 = stablehlo.broadcast_in_dim %arg1, dims = [0, 1, 3, 4] : (tensor<2x1x5x8xf32>) -> tensor<2x1x1x5x8xf32>
  %1 = stablehlo.broadcast_in_dim %0, dims = [0, 1, 2, 3, 4] : (tensor<2x1x1x5x8xf32>) -> tensor<2x1x4x5x8xf32>
  %2 = stablehlo.reshape %1 : (tensor<2x1x4x5x8xf32>) -> tensor<2x4x5x8xf32>
  %3 = stablehlo.transpose %2, dims = [0, 1, 3, 2] : (tensor<2x4x5x8xf32>) -> tensor<2x4x8x5xf32>
  %4 = stablehlo.dot_general %arg0, %3, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x8xf32>, tensor<2x4x8x5xf32>) -> tensor<2x4x3x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x4x3x5xf32>
  %6 = stablehlo.multiply %4, %5 : tensor<2x4x3x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %7 = stablehlo.reduce(%6 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x4x3x5xf32>, tensor<f32>) -> tensor<2x4x3xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %8 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x4x3xf32>
  %9 = stablehlo.maximum %8, %7 : tensor<2x4x3xf32>
  %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1, 2] : (tensor<2x4x3xf32>) -> tensor<2x4x3x1xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2, 3] : (tensor<2x4x3x1xf32>) -> tensor<2x4x3x5xf32>
  %12 = stablehlo.subtract %6, %11 : tensor<2x4x3x5xf32>
  %13 = stablehlo.exponential %12 : tensor<2x4x3x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %14 = stablehlo.reduce(%13 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x4x3x5xf32>, tensor<f32>) -> tensor<2x4x3xf32>
  %15 = stablehlo.broadcast_in_dim %14, dims = [0, 1, 2] : (tensor<2x4x3xf32>) -> tensor<2x4x3x1xf32>
  %16 = stablehlo.broadcast_in_dim %15, dims = [0, 1, 2, 3] : (tensor<2x4x3x1xf32>) -> tensor<2x4x3x5xf32>
  %17 = stablehlo.divide %13, %16 : tensor<2x4x3x5xf32>
  %18 = stablehlo.broadcast_in_dim %arg2, dims = [0, 1, 3, 4] : (tensor<2x1x5x8xf32>) -> tensor<2x1x1x5x8xf32>
  %19 = stablehlo.broadcast_in_dim %18, dims = [0, 1, 2, 3, 4] : (tensor<2x1x1x5x8xf32>) -> tensor<2x1x4x5x8xf32>
  %20 = stablehlo.reshape %19 : (tensor<2x1x4x5x8xf32>) -> tensor<2x4x5x8xf32>
  %21 = stablehlo.dot_general %17, %20, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x5xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x3x8xf32>
  return %21 : tensor<2x4x3x8xf32>
}

// -----

// jax.nn.dot_product_attention with 4 query heads and 2 K/V heads: JAX splits the query heads into
// [kv heads, group] instead of repeating K/V; the composite takes q, k, v as they come.
// CHECK-LABEL: func.func @jax_dot_product_attention_gqa
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant
// CHECK-NEXT: stablehlo.composite "odml.scaled_dot_product_attention" %arg0, %arg1, %arg2, %[[Z]] {composite_attributes = {scale = 0.353553385 : f32}, {{.*}} : (tensor<2x3x4x8xf32>, tensor<2x5x2x8xf32>, tensor<2x5x2x8xf32>, tensor<1x1x3x5xf32>) -> tensor<2x3x4x8xf32>
// CLEAN-LABEL: func.func @jax_dot_product_attention_gqa
// CLEAN-NEXT: stablehlo.constant
// CLEAN-NEXT: %[[R:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" %arg0, %arg1, %arg2
// CLEAN-NEXT: return %[[R]]
// NOGQA-LABEL: func.func @jax_dot_product_attention_gqa
// NOGQA-NOT: stablehlo.composite
// STATS: composites created: 1
func.func @jax_dot_product_attention_gqa(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x5x2x8xf32>, %arg2: tensor<2x5x2x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.reshape %arg0 : (tensor<2x3x4x8xf32>) -> tensor<2x3x2x2x8xf32>
  %1 = stablehlo.dot_general %0, %arg1, batching_dims = [0, 2] x [0, 2], contracting_dims = [4] x [3], precision = [DEFAULT, DEFAULT] : (tensor<2x3x2x2x8xf32>, tensor<2x5x2x8xf32>) -> tensor<2x2x3x2x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x2x3x2x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x2x3x2x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [4] : (tensor<2x2x3x2x5xf32>, tensor<f32>) -> tensor<2x2x3x2xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x2x3x2xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x2x3x2xf32>
  %7 = stablehlo.transpose %6, dims = [3, 0, 1, 2] : (tensor<2x2x3x2xf32>) -> tensor<2x2x2x3xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x2x2x3xf32>) -> tensor<2x2x2x3x1xf32>
  %9 = stablehlo.transpose %3, dims = [3, 0, 1, 2, 4] : (tensor<2x2x3x2x5xf32>) -> tensor<2x2x2x3x5xf32>
  %10 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2, 3, 4] : (tensor<2x2x2x3x1xf32>) -> tensor<2x2x2x3x5xf32>
  %11 = stablehlo.subtract %9, %10 : tensor<2x2x2x3x5xf32>
  %12 = stablehlo.exponential %11 : tensor<2x2x2x3x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %13 = stablehlo.reduce(%12 init: %cst_2) applies stablehlo.add across dimensions = [4] : (tensor<2x2x2x3x5xf32>, tensor<f32>) -> tensor<2x2x2x3xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1, 2, 3] : (tensor<2x2x2x3xf32>) -> tensor<2x2x2x3x1xf32>
  %15 = stablehlo.broadcast_in_dim %14, dims = [0, 1, 2, 3, 4] : (tensor<2x2x2x3x1xf32>) -> tensor<2x2x2x3x5xf32>
  %16 = stablehlo.divide %12, %15 : tensor<2x2x2x3x5xf32>
  %17 = stablehlo.dot_general %arg2, %16, batching_dims = [0, 2] x [1, 2], contracting_dims = [1] x [4], precision = [DEFAULT, DEFAULT] : (tensor<2x5x2x8xf32>, tensor<2x2x2x3x5xf32>) -> tensor<2x2x8x2x3xf32>
  %18 = stablehlo.transpose %17, dims = [3, 0, 4, 1, 2] : (tensor<2x2x8x2x3xf32>) -> tensor<2x2x3x2x8xf32>
  %19 = stablehlo.transpose %18, dims = [1, 2, 3, 0, 4] : (tensor<2x2x3x2x8xf32>) -> tensor<2x3x2x2x8xf32>
  %20 = stablehlo.reshape %19 : (tensor<2x3x2x2x8xf32>) -> tensor<2x3x4x8xf32>
  return %20 : tensor<2x3x4x8xf32>
}

// -----

// One query (decode): T = 1. min-seq-len=2 leaves it.
// CHECK-LABEL: func.func @jax_decode
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} : (tensor<2x1x3x8xf32>, tensor<2x5x3x8xf32>, tensor<2x5x3x8xf32>, tensor<1x1x1x5xf32>) -> tensor<2x1x3x8xf32>
// NOGQA-LABEL: func.func @jax_decode
// MINSEQ: [sdpa] stablehlo.dot_general at model.py:70:3: no match: query length 1 is below min-seq-len=2
// STATS: composites created: 1
func.func @jax_decode(%arg0: tensor<2x3x1x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x1x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x1x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x1x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x1x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x1x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x1x5xf32>, tensor<f32>) -> tensor<2x3x1xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x1xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x1xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2] : (tensor<2x3x1xf32>) -> tensor<2x3x1x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x1x1xf32>) -> tensor<2x3x1x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x1x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x1x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x1x5xf32>, tensor<f32>) -> tensor<2x3x1xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x1xf32>) -> tensor<2x3x1x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x1x1xf32>) -> tensor<2x3x1x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x1x5xf32>
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x1x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x1x8xf32> loc("model.py":70:3)
  return %15 : tensor<2x3x1x8xf32>
}

// -----

// torch-mlir (Hugging Face Llama, sdpa): heads repeated by broadcast+reshape, q and k^T each scaled by d**-0.25,
// batched as 3-D bmm on [B*N, T, H], float mask broadcast over heads, the guard that zeroes fully masked rows.
// The guard stays outside the composite (whose definition is a plain softmax, NaN on such rows): the result is
// zeroed where the composite's mask is -inf for every key, and the decomposition has no guard left.
// CHECK-LABEL: func.func @torch_bmm_gqa
// CHECK-SAME: %[[M:[a-z0-9_]+]]: tensor<1x1x8x8xf32>)
// CHECK: %[[C:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {composite_attributes = {scale = 2.500000e-01 : f32}, {{.*}} : (tensor<1x8x4x16xf32>, tensor<1x8x2x16xf32>, tensor<1x8x2x16xf32>, tensor<1x1x8x8xf32>) -> tensor<1x8x4x16xf32>
// CHECK: %[[R:.*]] = stablehlo.reduce(%[[M]] init: %{{.*}}) applies stablehlo.maximum across dimensions = [3]
// CHECK: %[[E:.*]] = stablehlo.compare EQ, %[[R]], %{{.*}} : (tensor<1x1x8xf32>, tensor<1x1x8xf32>) -> tensor<1x1x8xi1>
// CHECK: %[[B:.*]] = stablehlo.broadcast_in_dim %[[E]], dims = [0, 2, 1] : (tensor<1x1x8xi1>) -> tensor<1x8x4x16xi1>
// CHECK: stablehlo.select %[[B]], %{{.*}}, %[[C]]
// CHECK: func.func private
// CHECK-NOT: stablehlo.and
// CHECK-NOT: stablehlo.select
// CHECK: return
// STATS: composites created: 1
func.func @torch_bmm_gqa(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %mask: tensor<1x1x8x8xf32>) -> tensor<1x8x4x16xf32> {
  %half_q = stablehlo.constant dense<5.000000e-01> : tensor<1x4x8x16xf32>
  %half_k = stablehlo.constant dense<5.000000e-01> : tensor<1x4x16x8xf32>
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %true = stablehlo.constant dense<true> : tensor<i1>
  %ninf4 = stablehlo.constant dense<0xFF800000> : tensor<1x4x8x8xf32>
  %zero4 = stablehlo.constant dense<0.000000e+00> : tensor<1x4x8x8xf32>
  %0 = stablehlo.broadcast_in_dim %k, dims = [0, 1, 3, 4] : (tensor<1x2x8x16xf32>) -> tensor<1x2x2x8x16xf32>
  %1 = stablehlo.reshape %0 : (tensor<1x2x2x8x16xf32>) -> tensor<1x4x8x16xf32>
  %2 = stablehlo.broadcast_in_dim %v, dims = [0, 1, 3, 4] : (tensor<1x2x8x16xf32>) -> tensor<1x2x2x8x16xf32>
  %3 = stablehlo.multiply %q, %half_q : tensor<1x4x8x16xf32>
  %4 = stablehlo.transpose %1, dims = [0, 1, 3, 2] : (tensor<1x4x8x16xf32>) -> tensor<1x4x16x8xf32>
  %5 = stablehlo.multiply %4, %half_k : tensor<1x4x16x8xf32>
  %6 = stablehlo.reshape %3 : (tensor<1x4x8x16xf32>) -> tensor<4x8x16xf32>
  %7 = stablehlo.reshape %5 : (tensor<1x4x16x8xf32>) -> tensor<4x16x8xf32>
  %8 = stablehlo.dot_general %6, %7, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<4x8x8xf32>
  %9 = stablehlo.reshape %8 : (tensor<4x8x8xf32>) -> tensor<1x4x8x8xf32>
  %10 = stablehlo.broadcast_in_dim %mask, dims = [0, 1, 2, 3] : (tensor<1x1x8x8xf32>) -> tensor<1x4x8x8xf32>
  %11 = stablehlo.add %9, %10 : tensor<1x4x8x8xf32>
  %12 = stablehlo.reduce(%11 init: %ninf) applies stablehlo.maximum across dimensions = [3] : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2] : (tensor<1x4x8xf32>) -> tensor<1x4x8x8xf32>
  %14 = stablehlo.subtract %11, %13 : tensor<1x4x8x8xf32>
  %15 = stablehlo.exponential %14 : tensor<1x4x8x8xf32>
  %16 = stablehlo.reduce(%15 init: %zero) applies stablehlo.add across dimensions = [3] : (tensor<1x4x8x8xf32>, tensor<f32>) -> tensor<1x4x8xf32>
  %17 = stablehlo.broadcast_in_dim %16, dims = [0, 1, 2] : (tensor<1x4x8xf32>) -> tensor<1x4x8x8xf32>
  %18 = stablehlo.divide %15, %17 : tensor<1x4x8x8xf32>
  %19 = stablehlo.compare EQ, %11, %ninf4, FLOAT : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xi1>
  %20 = stablehlo.reduce(%19 init: %true) applies stablehlo.and across dimensions = [3] : (tensor<1x4x8x8xi1>, tensor<i1>) -> tensor<1x4x8xi1>
  %21 = stablehlo.broadcast_in_dim %20, dims = [0, 1, 2] : (tensor<1x4x8xi1>) -> tensor<1x4x8x8xi1>
  %22 = stablehlo.select %21, %zero4, %18 : tensor<1x4x8x8xi1>, tensor<1x4x8x8xf32>
  %23 = stablehlo.reshape %22 : (tensor<1x4x8x8xf32>) -> tensor<4x8x8xf32>
  %24 = stablehlo.reshape %2 : (tensor<1x2x2x8x16xf32>) -> tensor<4x8x16xf32>
  %25 = stablehlo.dot_general %23, %24, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<4x8x8xf32>, tensor<4x8x16xf32>) -> tensor<4x8x16xf32>
  %26 = stablehlo.reshape %25 : (tensor<4x8x16xf32>) -> tensor<1x4x8x16xf32>
  %27 = stablehlo.transpose %26, dims = [0, 2, 1, 3] : (tensor<1x4x8x16xf32>) -> tensor<1x8x4x16xf32>
  return %27 : tensor<1x8x4x16xf32>
}

// -----

// Two attentions in a row sharing k^T (CSE'd): each becomes its own composite, k^T staying outside both.
// CHECK-LABEL: func.func @jax_two_attentions
// CHECK: %[[R1:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" {{.*}} {composite_attributes = {scale = 0.353553385 : f32}
// CHECK: %[[O1:.*]] = stablehlo.transpose %[[R1]]
// CHECK: %[[Q2:.*]] = stablehlo.transpose %[[O1]]
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %[[Q2]], {{.*}} {composite_attributes = {scale = 5.000000e-01 : f32}
// STATS: composites created: 2
func.func @jax_two_attentions(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x4xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x4x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x4x5xf32>
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  %16 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %17 = stablehlo.dot_general %15, %16, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst_3 = stablehlo.constant dense<5.000000e-01> : tensor<f32>
  %18 = stablehlo.broadcast_in_dim %cst_3, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %19 = stablehlo.multiply %17, %18 : tensor<2x3x4x5xf32>
  %cst_4 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %20 = stablehlo.reduce(%19 init: %cst_4) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_5 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %21 = stablehlo.broadcast_in_dim %cst_5, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %22 = stablehlo.maximum %21, %20 : tensor<2x3x4xf32>
  %23 = stablehlo.broadcast_in_dim %22, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %24 = stablehlo.broadcast_in_dim %23, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %25 = stablehlo.subtract %19, %24 : tensor<2x3x4x5xf32>
  %26 = stablehlo.exponential %25 : tensor<2x3x4x5xf32>
  %cst_6 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %27 = stablehlo.reduce(%26 init: %cst_6) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %28 = stablehlo.broadcast_in_dim %27, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %29 = stablehlo.broadcast_in_dim %28, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %30 = stablehlo.divide %26, %29 : tensor<2x3x4x5xf32>
  %31 = stablehlo.dot_general %30, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %31 : tensor<2x3x4x8xf32>
}

// -----

// Negative: the softmax normalizes over the queries (axis -2), then P.V contracts the keys: not attention.
// CHECK-LABEL: func.func @neg_softmax_over_queries
// CHECK-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at model.py:20:3: no match: the softmax is not over the key axis
// STATS: composites created: 0
func.func @neg_softmax_over_queries(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [2] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x5xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x5xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x5xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 3] : (tensor<2x3x5xf32>) -> tensor<2x3x1x5xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x1x5xf32>) -> tensor<2x3x4x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x4x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [2] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x5xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 3] : (tensor<2x3x5xf32>) -> tensor<2x3x1x5xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x1x5xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x4x5xf32>
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32> loc("model.py":20:3)
  return %15 : tensor<2x3x4x8xf32>
}

// -----

// A [B, N, T, S] mask differs between heads (a per-head bias): it is the composite's mask as it is, [B, N, T, S]
// (per-head-mask=true, the default; fuse-sdpa-refusals.mlir has the refusal with per-head-mask=false).
// CHECK-LABEL: func.func @per_head_mask
// CHECK-SAME: %[[M:[a-z0-9_]+]]: tensor<2x3x4x5xf32>)
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {{.*}} : (tensor<2x4x3x8xf32>, tensor<2x5x3x8xf32>, tensor<2x5x3x8xf32>, tensor<2x3x4x5xf32>) -> tensor<2x4x3x8xf32>
// DEBUG: [sdpa] stablehlo.dot_general at model.py:30:3: rewritten
// STATS: composites created: 1
func.func @per_head_mask(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>, %arg3: tensor<2x3x4x5xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %4 = stablehlo.add %3, %arg3 : tensor<2x3x4x5xf32> loc("model.py":27:3)
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.reduce(%4 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %6 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %7 = stablehlo.maximum %6, %5 : tensor<2x3x4xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %10 = stablehlo.subtract %4, %9 : tensor<2x3x4x5xf32>
  %11 = stablehlo.exponential %10 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %12 = stablehlo.reduce(%11 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %15 = stablehlo.divide %11, %14 : tensor<2x3x4x5xf32>
  %16 = stablehlo.dot_general %15, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32> loc("model.py":30:3)
  return %16 : tensor<2x3x4x8xf32>
}

// -----

// Negative: the probabilities are also returned; fusing would compute them twice.
// CHECK-LABEL: func.func @neg_probabilities_used_twice
// CHECK-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at model.py:40:3: no match: stablehlo.divide at model.py:39:3 has users outside the match
// STATS: composites created: 0
func.func @neg_probabilities_used_twice(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>, tensor<2x3x4x5xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %6 = stablehlo.maximum %5, %4 : tensor<2x3x4xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %9 = stablehlo.subtract %3, %8 : tensor<2x3x4x5xf32>
  %10 = stablehlo.exponential %9 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %11 = stablehlo.reduce(%10 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %14 = stablehlo.divide %10, %13 : tensor<2x3x4x5xf32> loc("model.py":39:3)
  %15 = stablehlo.dot_general %14, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32> loc("model.py":40:3)
  return %15, %14 : tensor<2x3x4x8xf32>, tensor<2x3x4x5xf32>
}

// -----

// Negative: exp(s - max over the queries) / sum over the keys is not a softmax.
// CHECK-LABEL: func.func @neg_max_and_sum_over_different_axes
// CHECK-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at model.py:50:3: no match: the softmax's max and sum at {{.*}} reduce different axes
// STATS: composites created: 0
func.func @neg_max_and_sum_over_different_axes(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.maximum across dimensions = [2] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x5xf32>
  %5 = stablehlo.broadcast_in_dim %4, dims = [0, 1, 3] : (tensor<2x3x5xf32>) -> tensor<2x3x1x5xf32>
  %6 = stablehlo.broadcast_in_dim %5, dims = [0, 1, 2, 3] : (tensor<2x3x1x5xf32>) -> tensor<2x3x4x5xf32>
  %7 = stablehlo.subtract %3, %6 : tensor<2x3x4x5xf32>
  %8 = stablehlo.exponential %7 : tensor<2x3x4x5xf32>
  %cst_1 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %9 = stablehlo.reduce(%8 init: %cst_1) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %12 = stablehlo.divide %8, %11 : tensor<2x3x4x5xf32>
  %13 = stablehlo.dot_general %12, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32> loc("model.py":50:3)
  return %13 : tensor<2x3x4x8xf32>
}

// -----

// Negative: (s + mask) * scale scales the mask too; the composite adds the mask after scaling.
// CHECK-LABEL: func.func @neg_scaled_after_additive_mask
// CHECK-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at model.py:60:3: no match: the scores are scaled after the mask is added at model.py:57:3
// STATS: composites created: 0
func.func @neg_scaled_after_additive_mask(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>, %arg3: tensor<2x1x4x5xf32>) -> (tensor<2x3x4x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %2 = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<2x1x4x5xf32>) -> tensor<2x3x4x5xf32>
  %3 = stablehlo.add %1, %2 : tensor<2x3x4x5xf32> loc("model.py":57:3)
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %4 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %5 = stablehlo.multiply %3, %4 : tensor<2x3x4x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %6 = stablehlo.reduce(%5 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %7 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %8 = stablehlo.maximum %7, %6 : tensor<2x3x4xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %10 = stablehlo.broadcast_in_dim %9, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %11 = stablehlo.subtract %5, %10 : tensor<2x3x4x5xf32>
  %12 = stablehlo.exponential %11 : tensor<2x3x4x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %13 = stablehlo.reduce(%12 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %15 = stablehlo.broadcast_in_dim %14, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %16 = stablehlo.divide %12, %15 : tensor<2x3x4x5xf32>
  %17 = stablehlo.dot_general %16, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32> loc("model.py":60:3)
  return %17 : tensor<2x3x4x8xf32>
}
