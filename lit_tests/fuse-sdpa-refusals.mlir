// fuse-sdpa's refusals, each with the reason `--debug-patterns=fuse-sdpa` must give: the real blocker, not the
// complaint of whichever wrong reading of q, k and v was tried last. With per-head-mask=false every case stays as
// it is; by default the per-head biases (T5, ALiBi) fuse with a [B|1, N, T, S] mask (PERHEAD), which XNNPACK's
// attention computes by the definition, and the other two are still refused.
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{per-head-mask=false}' | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-sdpa{per-head-mask=false}' --debug-patterns=fuse-sdpa -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa | %FileCheck %s --check-prefix=PERHEAD

// torch-mlir (Hugging Face T5, sdpa): the relative position bias, folded with the padding mask into one
// [B, N, T, S] term, is per head; batched as 3-D bmm on [B*N, T, H], with torch's guard of fully masked rows.
// Readings of v as [B*N, S, H] fail on their batch axes; the right reading fails at the mask, which is the
// reason to give (it was "the value batch axes do not pair with the probabilities'").
// CHECK-LABEL: func.func @torch_t5_bias
// CHECK-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at t5.py:10:3: no match: the mask at {{.*}} differs between heads, a per-head bias (T5's relative positions, ALiBi): with per-head-mask=false the composite's mask is [B|1, 1, T, S]
// PERHEAD-LABEL: func.func @torch_t5_bias
// PERHEAD-SAME: %[[BIAS:[a-z0-9_]+]]: tensor<2x4x8x8xf32>)
// PERHEAD: %[[C:.*]] = stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[BIAS]] {composite_attributes = {scale = 1.000000e+00 : f32}, {{.*}} : (tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x8x4x16xf32>, tensor<2x4x8x8xf32>) -> tensor<2x8x4x16xf32>
// PERHEAD: %[[R:.*]] = stablehlo.reduce(%[[BIAS]] init: %{{.*}}) applies stablehlo.maximum across dimensions = [3] : (tensor<2x4x8x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
// PERHEAD: stablehlo.select %{{.*}}, %{{.*}}, %[[C]] : tensor<2x8x4x16xi1>, tensor<2x8x4x16xf32>
func.func @torch_t5_bias(%q: tensor<2x4x8x16xf32>, %k: tensor<2x8x4x16xf32>, %v: tensor<2x4x8x16xf32>, %bias: tensor<2x4x8x8xf32>) -> tensor<2x8x4x16xf32> {
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %true = stablehlo.constant dense<true> : tensor<i1>
  %ninf4 = stablehlo.constant dense<0xFF800000> : tensor<2x4x8x8xf32>
  %zero4 = stablehlo.constant dense<0.000000e+00> : tensor<2x4x8x8xf32>
  %29 = stablehlo.transpose %k, dims = [0, 2, 3, 1] : (tensor<2x8x4x16xf32>) -> tensor<2x4x16x8xf32>
  %30 = stablehlo.reshape %q : (tensor<2x4x8x16xf32>) -> tensor<8x8x16xf32>
  %31 = stablehlo.reshape %29 : (tensor<2x4x16x8xf32>) -> tensor<8x16x8xf32>
  %32 = stablehlo.dot_general %30, %31, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<8x8x16xf32>, tensor<8x16x8xf32>) -> tensor<8x8x8xf32>
  %33 = stablehlo.reshape %32 : (tensor<8x8x8xf32>) -> tensor<2x4x8x8xf32>
  %34 = stablehlo.add %33, %bias : tensor<2x4x8x8xf32>
  %35 = stablehlo.reduce(%34 init: %ninf) applies stablehlo.maximum across dimensions = [3] : (tensor<2x4x8x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %36 = stablehlo.broadcast_in_dim %35, dims = [0, 1, 2] : (tensor<2x4x8xf32>) -> tensor<2x4x8x8xf32>
  %37 = stablehlo.subtract %34, %36 : tensor<2x4x8x8xf32>
  %38 = stablehlo.exponential %37 : tensor<2x4x8x8xf32>
  %39 = stablehlo.reduce(%38 init: %zero) applies stablehlo.add across dimensions = [3] : (tensor<2x4x8x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %40 = stablehlo.broadcast_in_dim %39, dims = [0, 1, 2] : (tensor<2x4x8xf32>) -> tensor<2x4x8x8xf32>
  %41 = stablehlo.divide %38, %40 : tensor<2x4x8x8xf32>
  %42 = stablehlo.compare EQ, %34, %ninf4, FLOAT : (tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xi1>
  %43 = stablehlo.reduce(%42 init: %true) applies stablehlo.and across dimensions = [3] : (tensor<2x4x8x8xi1>, tensor<i1>) -> tensor<2x4x8xi1>
  %44 = stablehlo.broadcast_in_dim %43, dims = [0, 1, 2] : (tensor<2x4x8xi1>) -> tensor<2x4x8x8xi1>
  %45 = stablehlo.select %44, %zero4, %41 : tensor<2x4x8x8xi1>, tensor<2x4x8x8xf32>
  %46 = stablehlo.reshape %45 : (tensor<2x4x8x8xf32>) -> tensor<8x8x8xf32>
  %47 = stablehlo.reshape %v : (tensor<2x4x8x16xf32>) -> tensor<8x8x16xf32>
  %48 = stablehlo.dot_general %46, %47, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<8x8x8xf32>, tensor<8x8x16xf32>) -> tensor<8x8x16xf32> loc("t5.py":10:3)
  %49 = stablehlo.reshape %48 : (tensor<8x8x16xf32>) -> tensor<2x4x8x16xf32>
  %50 = stablehlo.transpose %49, dims = [0, 2, 1, 3] : (tensor<2x4x8x16xf32>) -> tensor<2x8x4x16xf32>
  return %50 : tensor<2x8x4x16xf32>
}

// -----

// jax: ALiBi, a [B, N, 1, S] slope-times-distance bias added to the scaled scores: per head.
// CHECK-LABEL: func.func @jax_alibi
// CHECK-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at refusals.py:20:3: no match: the mask at {{.*}} differs between heads, a per-head bias (T5's relative positions, ALiBi): with per-head-mask=false
// PERHEAD-LABEL: func.func @jax_alibi
// PERHEAD-SAME: %[[B:[a-z0-9_]+]]: tensor<2x4x1x5xf32>)
// PERHEAD: %[[B3:.*]] = stablehlo.reshape %[[B]] : (tensor<2x4x1x5xf32>) -> tensor<2x4x5xf32>
// PERHEAD: %[[M:.*]] = stablehlo.broadcast_in_dim %[[B3]], dims = [0, 1, 3] : (tensor<2x4x5xf32>) -> tensor<2x4x3x5xf32>
// PERHEAD: stablehlo.composite "odml.scaled_dot_product_attention" %{{.*}}, %{{.*}}, %{{.*}}, %[[M]] {{.*}} : (tensor<2x3x4x8xf32>, tensor<2x5x4x8xf32>, tensor<2x5x4x8xf32>, tensor<2x4x3x5xf32>) -> tensor<2x3x4x8xf32>
func.func @jax_alibi(%arg0: tensor<2x4x3x8xf32>, %arg1: tensor<2x4x5x8xf32>, %arg2: tensor<2x4x5x8xf32>, %arg3: tensor<2x4x1x5xf32>) -> (tensor<2x4x3x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x4x5x8xf32>) -> tensor<2x4x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x8xf32>, tensor<2x4x8x5xf32>) -> tensor<2x4x3x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x4x3x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x4x3x5xf32>
  %4 = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<2x4x1x5xf32>) -> tensor<2x4x3x5xf32>
  %5 = stablehlo.add %3, %4 : tensor<2x4x3x5xf32>
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
  %17 = stablehlo.dot_general %16, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x5xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x3x8xf32> loc("refusals.py":20:3)
  return %17 : tensor<2x4x3x8xf32>
}

// -----

// jax: a per-head bias and then a padding mask, two additive terms: the composite adds one mask.
// CHECK-LABEL: func.func @jax_bias_then_mask
// CHECK-NOT: stablehlo.composite
// PERHEAD-LABEL: func.func @jax_bias_then_mask
// PERHEAD-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at refusals.py:30:3: no match: a second mask at {{.*}} between the scores and the softmax
func.func @jax_bias_then_mask(%arg0: tensor<2x4x3x8xf32>, %arg1: tensor<2x4x5x8xf32>, %arg2: tensor<2x4x5x8xf32>, %arg3: tensor<1x4x3x5xf32>, %arg4: tensor<2x1x1x5xf32>) -> (tensor<2x4x3x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x4x5x8xf32>) -> tensor<2x4x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x8xf32>, tensor<2x4x8x5xf32>) -> tensor<2x4x3x5xf32>
  %cst = stablehlo.constant dense<0.353553385> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x4x3x5xf32>
  %3 = stablehlo.multiply %1, %2 : tensor<2x4x3x5xf32>
  %4 = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<1x4x3x5xf32>) -> tensor<2x4x3x5xf32>
  %5 = stablehlo.add %3, %4 : tensor<2x4x3x5xf32>
  %6 = stablehlo.broadcast_in_dim %arg4, dims = [0, 1, 2, 3] : (tensor<2x1x1x5xf32>) -> tensor<2x4x3x5xf32>
  %7 = stablehlo.add %5, %6 : tensor<2x4x3x5xf32>
  %cst_0 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %8 = stablehlo.reduce(%7 init: %cst_0) applies stablehlo.maximum across dimensions = [3] : (tensor<2x4x3x5xf32>, tensor<f32>) -> tensor<2x4x3xf32>
  %cst_1 = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %9 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x4x3xf32>
  %10 = stablehlo.maximum %9, %8 : tensor<2x4x3xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<2x4x3xf32>) -> tensor<2x4x3x1xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2, 3] : (tensor<2x4x3x1xf32>) -> tensor<2x4x3x5xf32>
  %13 = stablehlo.subtract %7, %12 : tensor<2x4x3x5xf32>
  %14 = stablehlo.exponential %13 : tensor<2x4x3x5xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %15 = stablehlo.reduce(%14 init: %cst_2) applies stablehlo.add across dimensions = [3] : (tensor<2x4x3x5xf32>, tensor<f32>) -> tensor<2x4x3xf32>
  %16 = stablehlo.broadcast_in_dim %15, dims = [0, 1, 2] : (tensor<2x4x3xf32>) -> tensor<2x4x3x1xf32>
  %17 = stablehlo.broadcast_in_dim %16, dims = [0, 1, 2, 3] : (tensor<2x4x3x1xf32>) -> tensor<2x4x3x5xf32>
  %18 = stablehlo.divide %14, %17 : tensor<2x4x3x5xf32>
  %19 = stablehlo.dot_general %18, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x5xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x3x8xf32> loc("refusals.py":30:3)
  return %19 : tensor<2x4x3x8xf32>
}

// -----

// jax: the bias is added before the scale, so the composite's mask would be scaled too.
// CHECK-LABEL: func.func @jax_bias_before_scale
// CHECK-NOT: stablehlo.composite
// PERHEAD-LABEL: func.func @jax_bias_before_scale
// PERHEAD-NOT: stablehlo.composite
// DEBUG: [sdpa] stablehlo.dot_general at refusals.py:40:3: no match: the scores are scaled after the mask is added at {{.*}} (the composite scales before adding the mask)
func.func @jax_bias_before_scale(%arg0: tensor<2x4x3x8xf32>, %arg1: tensor<2x4x5x8xf32>, %arg2: tensor<2x4x5x8xf32>, %arg3: tensor<1x4x3x5xf32>) -> (tensor<2x4x3x8xf32>) {
  %0 = stablehlo.transpose %arg1, dims = [0, 1, 3, 2] : (tensor<2x4x5x8xf32>) -> tensor<2x4x8x5xf32>
  %1 = stablehlo.dot_general %arg0, %0, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x8xf32>, tensor<2x4x8x5xf32>) -> tensor<2x4x3x5xf32>
  %2 = stablehlo.broadcast_in_dim %arg3, dims = [0, 1, 2, 3] : (tensor<1x4x3x5xf32>) -> tensor<2x4x3x5xf32>
  %3 = stablehlo.add %1, %2 : tensor<2x4x3x5xf32>
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
  %17 = stablehlo.dot_general %16, %arg2, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2], precision = [DEFAULT, DEFAULT] : (tensor<2x4x3x5xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x3x8xf32> loc("refusals.py":40:3)
  return %17 : tensor<2x4x3x8xf32>
}
