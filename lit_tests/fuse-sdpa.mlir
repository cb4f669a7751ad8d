// fuse-sdpa: attention as exporters write it becomes one `odml.scaled_dot_product_attention` composite: operands
// q, k, v in [B, T, N, H] (k and v with the K/V head count) and an additive float mask [B|1, 1, T, S] (zeros when
// there is none), attributes {scale} (+ {logit_cap}). The decomposition is the matched ops themselves, with the
// operands transposed into [B, T, N, H] outside and back inside (simplify then cancels the pairs: CLEAN).
// Inputs are `jax.jit(f).lower(...)` output as it comes (only `jax.result_info` dropped), and torch-mlir's bmm form.
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-sdpa,simplify | %FileCheck %s --check-prefix=CLEAN
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{allow-gqa=false}' | %FileCheck %s --check-prefix=NOGQA
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS

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
