// fuse-sdpa, negative cases: look-alikes that are not attention as the composite defines it stay unfused,
// and --debug-patterns says why. (Refusals of real attention the composite cannot express: fuse-sdpa-refusals.mlir.)
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS
// RUN: %hlo-opt %s --split-input-file --pass fuse-sdpa --debug-patterns=fuse-sdpa -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG

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
