// fuse-sdpa, continued: grouped-query and multi-query attention (K/V heads shared by groups of query heads),
// decode steps, torch-mlir's bmm form, two attentions in one function, and a per-head mask.
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-sdpa,simplify | %FileCheck %s --check-prefix=CLEAN
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{allow-gqa=false}' | %FileCheck %s --check-prefix=NOGQA
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --debug-patterns=fuse-sdpa -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{min-seq-len=2}' --debug-patterns=fuse-sdpa -o %t 2>&1 | %FileCheck %s --check-prefix=MINSEQ

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

// Two attentions reading one boolean mask: the additive mask the composites take is built once, at the top
// (where the mask is defined), and both read it.
// CHECK-LABEL: func.func @jax_two_attentions_one_mask
// CHECK-SAME: %[[M:[a-z0-9_]+]]: tensor<2x1x4x5xi1>)
// CHECK: %[[ADD:.*]] = stablehlo.select %[[M]]
// CHECK-NOT: stablehlo.select
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[ADD]] {composite_attributes
// CHECK-NOT: stablehlo.select
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[ADD]] {composite_attributes
// CHECK: func.func private
// STATS: composites created: 2
func.func @jax_two_attentions_one_mask(%arg0: tensor<2x3x4x8xf32>, %arg1: tensor<2x3x5x8xf32>, %arg2: tensor<2x3x5x8xf32>, %arg3: tensor<2x1x4x5xi1>) -> (tensor<2x3x4x8xf32>) {
  %v0a = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %v1a = stablehlo.dot_general %arg0, %v0a, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %csta = stablehlo.constant dense<0.353553385> : tensor<f32>
  %v2a = stablehlo.broadcast_in_dim %csta, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %v3a = stablehlo.multiply %v1a, %v2a : tensor<2x3x4x5xf32>
  %cst_0a = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %v4a = stablehlo.convert %cst_0a : tensor<f32>
  %v5a = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<2x1x4x5xi1>) -> tensor<2x3x4x5xi1>
  %v6a = stablehlo.broadcast_in_dim %v4a, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %v7a = stablehlo.select %v5a, %v3a, %v6a : tensor<2x3x4x5xi1>, tensor<2x3x4x5xf32>
  %cst_1a = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %v8a = stablehlo.reduce(%v7a init: %cst_1a) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_2a = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %v9a = stablehlo.broadcast_in_dim %cst_2a, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %v10a = stablehlo.maximum %v9a, %v8a : tensor<2x3x4xf32>
  %v11a = stablehlo.broadcast_in_dim %v10a, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %v12a = stablehlo.broadcast_in_dim %v11a, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %v13a = stablehlo.subtract %v7a, %v12a : tensor<2x3x4x5xf32>
  %v14a = stablehlo.exponential %v13a : tensor<2x3x4x5xf32>
  %cst_3a = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %v15a = stablehlo.reduce(%v14a init: %cst_3a) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %v16a = stablehlo.broadcast_in_dim %v15a, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %v17a = stablehlo.broadcast_in_dim %v16a, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %v18a = stablehlo.divide %v14a, %v17a : tensor<2x3x4x5xf32>
  %v19a = stablehlo.dot_general %v18a, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  %v0b = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x3x5x8xf32>) -> tensor<2x3x8x5xf32>
  %v1b = stablehlo.dot_general %v19a, %v0b, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x8xf32>, tensor<2x3x8x5xf32>) -> tensor<2x3x4x5xf32>
  %cstb = stablehlo.constant dense<0.353553385> : tensor<f32>
  %v2b = stablehlo.broadcast_in_dim %cstb, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %v3b = stablehlo.multiply %v1b, %v2b : tensor<2x3x4x5xf32>
  %cst_0b = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %v4b = stablehlo.convert %cst_0b : tensor<f32>
  %v5b = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<2x1x4x5xi1>) -> tensor<2x3x4x5xi1>
  %v6b = stablehlo.broadcast_in_dim %v4b, dims = [] : (tensor<f32>) -> tensor<2x3x4x5xf32>
  %v7b = stablehlo.select %v5b, %v3b, %v6b : tensor<2x3x4x5xi1>, tensor<2x3x4x5xf32>
  %cst_1b = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %v8b = stablehlo.reduce(%v7b init: %cst_1b) applies stablehlo.maximum across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %cst_2b = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %v9b = stablehlo.broadcast_in_dim %cst_2b, dims = [] : (tensor<f32>) -> tensor<2x3x4xf32>
  %v10b = stablehlo.maximum %v9b, %v8b : tensor<2x3x4xf32>
  %v11b = stablehlo.broadcast_in_dim %v10b, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %v12b = stablehlo.broadcast_in_dim %v11b, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %v13b = stablehlo.subtract %v7b, %v12b : tensor<2x3x4x5xf32>
  %v14b = stablehlo.exponential %v13b : tensor<2x3x4x5xf32>
  %cst_3b = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %v15b = stablehlo.reduce(%v14b init: %cst_3b) applies stablehlo.add across dimensions = [3] : (tensor<2x3x4x5xf32>, tensor<f32>) -> tensor<2x3x4xf32>
  %v16b = stablehlo.broadcast_in_dim %v15b, dims = [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<2x3x4x1xf32>
  %v17b = stablehlo.broadcast_in_dim %v16b, dims = [0, 1, 2, 3] : (tensor<2x3x4x1xf32>) -> tensor<2x3x4x5xf32>
  %v18b = stablehlo.divide %v14b, %v17b : tensor<2x3x4x5xf32>
  %v19b = stablehlo.dot_general %v18b, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x3x4x5xf32>, tensor<2x3x5x8xf32>) -> tensor<2x3x4x8xf32>
  return %v19b : tensor<2x3x4x8xf32>
}
