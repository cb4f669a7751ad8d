// fuse-layer-norm: LayerNorm as torch-mlir and JAX write it becomes one `odml.layer_norm` composite
// (operands x, weight, bias; {epsilon}) whose decomposition is the matched ops. A missing weight or bias
// is passed as ones or zeros. Running the pass twice changes nothing more. Run before fuse-rms-norm, it
// keeps fuse-rms-norm from taking rms_norm(x - mean) out of a LayerNorm.
// RUN: %hlo-opt %s --split-input-file --pass fuse-layer-norm | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-layer-norm,fuse-layer-norm,fuse-rms-norm | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass fuse-layer-norm --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS
// RUN: %hlo-opt %s --split-input-file --pass fuse-layer-norm --debug-patterns=fuse-layer-norm -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG
// RUN: %hlo-opt %s --split-input-file --pass fuse-rms-norm | %FileCheck %s --check-prefix=RMS

// JAX after fold-constants,simplify,cse: m = mean(x); (x - m) * rsqrt(mean((x - m)^2) + eps) * w + b.
// CHECK-LABEL: func.func @jax_centered_variance
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>, %[[W:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.layer_norm" %[[X]], %[[W]], %[[B]] {composite_attributes = {epsilon = 9.99999974E-6 : f32}, decomposition = @[[IMPL:odml.layer_norm.impl[_0-9]*]]} : (tensor<2x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8xf32>, %[[AW:.*]]: tensor<8xf32>, %[[AB:.*]]: tensor<8xf32>)
// CHECK: %[[SUM:.*]] = stablehlo.reduce(%[[A]] init: %{{.*}}) applies stablehlo.add across dimensions = [1]
// CHECK: %[[C:.*]] = stablehlo.subtract %[[A]], %{{.*}}
// CHECK-NEXT: stablehlo.multiply %[[C]], %[[C]]
// CHECK: stablehlo.rsqrt
// CHECK: stablehlo.broadcast_in_dim %[[AW]], dims = [1]
// CHECK: stablehlo.broadcast_in_dim %[[AB]], dims = [1]
// CHECK-NEXT: %[[Y:.*]] = stablehlo.add
// CHECK-NEXT: return %[[Y]]
// STATS: fuse-layer-norm (#1)
// STATS: composites created: 1
// DEBUG: [layer-norm] stablehlo.add at {{.*}}: rewritten
// RMS-LABEL: func.func @jax_centered_variance
// RMS: stablehlo.composite "odml.rms_norm"
func.func @jax_centered_variance(%arg0: tensor<2x8xf32>, %arg1: tensor<8xf32>, %arg2: tensor<8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<9.99999974E-6> : tensor<2x1xf32>
  %cst_0 = stablehlo.constant dense<8.000000e+00> : tensor<2x1xf32>
  %cst_1 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.reduce(%arg0 init: %cst_1) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = stablehlo.broadcast_in_dim %0, dims = [0] : (tensor<2xf32>) -> tensor<2x1xf32>
  %2 = stablehlo.divide %1, %cst_0 : tensor<2x1xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %4 = stablehlo.subtract %arg0, %3 : tensor<2x8xf32>
  %5 = stablehlo.multiply %4, %4 : tensor<2x8xf32>
  %6 = stablehlo.reduce(%5 init: %cst_1) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %7 = stablehlo.broadcast_in_dim %6, dims = [0] : (tensor<2xf32>) -> tensor<2x1xf32>
  %8 = stablehlo.divide %7, %cst_0 : tensor<2x1xf32>
  %9 = stablehlo.add %8, %cst : tensor<2x1xf32>
  %10 = stablehlo.rsqrt %9 : tensor<2x1xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %12 = stablehlo.multiply %4, %11 : tensor<2x8xf32>
  %13 = stablehlo.broadcast_in_dim %arg1, dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
  %14 = stablehlo.multiply %12, %13 : tensor<2x8xf32>
  %15 = stablehlo.broadcast_in_dim %arg2, dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
  %16 = stablehlo.add %14, %15 : tensor<2x8xf32>
  return %16 : tensor<2x8xf32>
}

// -----

// JAX as flax writes it: var = max(E[x^2] - m^2, 0), the weight folded into the rsqrt first.
// CHECK-LABEL: func.func @jax_moments_weight_in_rsqrt
// CHECK-NEXT: stablehlo.composite "odml.layer_norm" %arg0, %arg1, %arg2 {composite_attributes = {epsilon = 9.99999997E-7 : f32}
// CHECK-NEXT: return
// STATS: composites created: 1
// DEBUG: [layer-norm] stablehlo.add at {{.*}}: rewritten
func.func @jax_moments_weight_in_rsqrt(%arg0: tensor<2x8xf32>, %arg1: tensor<8xf32>, %arg2: tensor<8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<9.99999997E-7> : tensor<2x1xf32>
  %cst_0 = stablehlo.constant dense<0.000000e+00> : tensor<2x1xf32>
  %cst_1 = stablehlo.constant dense<8.000000e+00> : tensor<2x1xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.reduce(%arg0 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = stablehlo.broadcast_in_dim %0, dims = [0] : (tensor<2xf32>) -> tensor<2x1xf32>
  %2 = stablehlo.divide %1, %cst_1 : tensor<2x1xf32>
  %3 = stablehlo.multiply %arg0, %arg0 : tensor<2x8xf32>
  %4 = stablehlo.reduce(%3 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %5 = stablehlo.broadcast_in_dim %4, dims = [0] : (tensor<2xf32>) -> tensor<2x1xf32>
  %6 = stablehlo.divide %5, %cst_1 : tensor<2x1xf32>
  %7 = stablehlo.multiply %2, %2 : tensor<2x1xf32>
  %8 = stablehlo.subtract %6, %7 : tensor<2x1xf32>
  %9 = stablehlo.broadcast_in_dim %2, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %10 = stablehlo.subtract %arg0, %9 : tensor<2x8xf32>
  %11 = stablehlo.maximum %8, %cst_0 : tensor<2x1xf32>
  %12 = stablehlo.add %11, %cst : tensor<2x1xf32>
  %13 = stablehlo.rsqrt %12 : tensor<2x1xf32>
  %14 = stablehlo.broadcast_in_dim %13, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %15 = stablehlo.broadcast_in_dim %arg1, dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
  %16 = stablehlo.multiply %14, %15 : tensor<2x8xf32>
  %17 = stablehlo.multiply %10, %16 : tensor<2x8xf32>
  %18 = stablehlo.broadcast_in_dim %arg2, dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
  %19 = stablehlo.add %17, %18 : tensor<2x8xf32>
  return %19 : tensor<2x8xf32>
}

// -----

// torch nn.LayerNorm(8) via torch-mlir, after fold-constants: the variance in f64, weight and bias
// folded into constants of x's shape (rows equal). The composite takes the rows; the decomposition
// broadcasts them back.
// CHECK-LABEL: func.func @torch_layer_norm
// CHECK-DAG: %[[W:.*]] = stablehlo.constant dense<[1.500000e+00, -2.500000e-01, 2.000000e+00, 5.000000e-01, 1.000000e+00, 1.250000e+00, -1.000000e+00, 7.500000e-01]> : tensor<8xf32>
// CHECK-DAG: %[[B:.*]] = stablehlo.constant dense<[-5.000000e-01, 0.000000e+00, 2.500000e-01, 1.000000e+00, -1.000000e+00, 5.000000e-01, 2.000000e+00, -2.000000e+00]> : tensor<8xf32>
// CHECK: stablehlo.composite "odml.layer_norm" %arg0, %[[W]], %[[B]] {composite_attributes = {epsilon = 9.99999974E-6 : f32}, decomposition = @[[IMPL:odml.layer_norm.impl[_0-9]*]]}
// CHECK: func.func private @[[IMPL]](%{{.*}}: tensor<2x8xf32>, %[[AW:.*]]: tensor<8xf32>, %[[AB:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[BW:.*]] = stablehlo.broadcast_in_dim %[[AW]], dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %[[BB:.*]] = stablehlo.broadcast_in_dim %[[AB]], dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
// CHECK: stablehlo.convert %{{.*}} : (tensor<2x8xf32>) -> tensor<2x8xf64>
// CHECK: %[[N:.*]] = stablehlo.multiply %{{.*}}, %[[BW]]
// CHECK-NEXT: %[[Y:.*]] = stablehlo.add %[[N]], %[[BB]]
// CHECK-NEXT: return %[[Y]]
// STATS: composites created: 1
// DEBUG: [layer-norm] stablehlo.add at {{.*}}: rewritten
func.func @torch_layer_norm(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<[[-5.000000e-01, 0.000000e+00, 2.500000e-01, 1.000000e+00, -1.000000e+00, 5.000000e-01, 2.000000e+00, -2.000000e+00], [-5.000000e-01, 0.000000e+00, 2.500000e-01, 1.000000e+00, -1.000000e+00, 5.000000e-01, 2.000000e+00, -2.000000e+00]]> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<[[1.500000e+00, -2.500000e-01, 2.000000e+00, 5.000000e-01, 1.000000e+00, 1.250000e+00, -1.000000e+00, 7.500000e-01], [1.500000e+00, -2.500000e-01, 2.000000e+00, 5.000000e-01, 1.000000e+00, 1.250000e+00, -1.000000e+00, 7.500000e-01]]> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<9.99999974E-6> : tensor<2x1xf32>
  %cst_2 = stablehlo.constant dense<8.000000e+00> : tensor<2x1xf32>
  %cst_3 = stablehlo.constant dense<8.000000e+00> : tensor<2x1xf64>
  %cst_4 = stablehlo.constant dense<0.000000e+00> : tensor<f64>
  %cst_5 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.convert %arg0 : (tensor<2x8xf32>) -> tensor<2x8xf64>
  %1 = stablehlo.reduce(%0 init: %cst_4) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf64>, tensor<f64>) -> tensor<2xf64>
  %2 = stablehlo.reshape %1 : (tensor<2xf64>) -> tensor<2x1xf64>
  %3 = stablehlo.divide %2, %cst_3 : tensor<2x1xf64>
  %4 = stablehlo.broadcast_in_dim %3, dims = [0, 1] : (tensor<2x1xf64>) -> tensor<2x8xf64>
  %5 = stablehlo.subtract %0, %4 : tensor<2x8xf64>
  %6 = stablehlo.multiply %5, %5 : tensor<2x8xf64>
  %7 = stablehlo.reduce(%6 init: %cst_4) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf64>, tensor<f64>) -> tensor<2xf64>
  %8 = stablehlo.reshape %7 : (tensor<2xf64>) -> tensor<2x1xf64>
  %9 = stablehlo.divide %8, %cst_3 : tensor<2x1xf64>
  %10 = stablehlo.convert %9 : (tensor<2x1xf64>) -> tensor<2x1xf32>
  %11 = stablehlo.reduce(%arg0 init: %cst_5) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %12 = stablehlo.reshape %11 : (tensor<2xf32>) -> tensor<2x1xf32>
  %13 = stablehlo.divide %12, %cst_2 : tensor<2x1xf32>
  %14 = stablehlo.add %10, %cst_1 : tensor<2x1xf32>
  %15 = stablehlo.rsqrt %14 : tensor<2x1xf32>
  %16 = stablehlo.broadcast_in_dim %13, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %17 = stablehlo.subtract %arg0, %16 : tensor<2x8xf32>
  %18 = stablehlo.broadcast_in_dim %15, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %19 = stablehlo.multiply %17, %18 : tensor<2x8xf32>
  %20 = stablehlo.multiply %19, %cst_0 : tensor<2x8xf32>
  %21 = stablehlo.add %20, %cst : tensor<2x8xf32>
  return %21 : tensor<2x8xf32>
}

// -----

// torch nn.LayerNorm(8, bias=False) with its initial weight (ones, folded away): no weight, no bias.
// The composite takes ones and zeros, which the decomposition does not read.
// CHECK-LABEL: func.func @torch_no_affine
// CHECK-DAG: %[[ONES:.*]] = stablehlo.constant dense<1.000000e+00> : tensor<8xf32>
// CHECK-DAG: %[[ZEROS:.*]] = stablehlo.constant dense<0.000000e+00> : tensor<8xf32>
// CHECK: stablehlo.composite "odml.layer_norm" %arg0, %[[ONES]], %[[ZEROS]] {composite_attributes = {epsilon = 9.99999974E-6 : f32}
// STATS: composites created: 1
// DEBUG: [layer-norm-plain] stablehlo.multiply at {{.*}}: rewritten
func.func @torch_no_affine(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<9.99999974E-6> : tensor<2x1xf32>
  %cst_0 = stablehlo.constant dense<8.000000e+00> : tensor<2x1xf32>
  %cst_1 = stablehlo.constant dense<8.000000e+00> : tensor<2x1xf64>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f64>
  %cst_3 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.convert %arg0 : (tensor<2x8xf32>) -> tensor<2x8xf64>
  %1 = stablehlo.reduce(%0 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf64>, tensor<f64>) -> tensor<2xf64>
  %2 = stablehlo.reshape %1 : (tensor<2xf64>) -> tensor<2x1xf64>
  %3 = stablehlo.divide %2, %cst_1 : tensor<2x1xf64>
  %4 = stablehlo.broadcast_in_dim %3, dims = [0, 1] : (tensor<2x1xf64>) -> tensor<2x8xf64>
  %5 = stablehlo.subtract %0, %4 : tensor<2x8xf64>
  %6 = stablehlo.multiply %5, %5 : tensor<2x8xf64>
  %7 = stablehlo.reduce(%6 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf64>, tensor<f64>) -> tensor<2xf64>
  %8 = stablehlo.reshape %7 : (tensor<2xf64>) -> tensor<2x1xf64>
  %9 = stablehlo.divide %8, %cst_1 : tensor<2x1xf64>
  %10 = stablehlo.convert %9 : (tensor<2x1xf64>) -> tensor<2x1xf32>
  %11 = stablehlo.reduce(%arg0 init: %cst_3) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %12 = stablehlo.reshape %11 : (tensor<2xf32>) -> tensor<2x1xf32>
  %13 = stablehlo.divide %12, %cst_0 : tensor<2x1xf32>
  %14 = stablehlo.add %10, %cst : tensor<2x1xf32>
  %15 = stablehlo.rsqrt %14 : tensor<2x1xf32>
  %16 = stablehlo.broadcast_in_dim %13, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %17 = stablehlo.subtract %arg0, %16 : tensor<2x8xf32>
  %18 = stablehlo.broadcast_in_dim %15, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x8xf32>
  %19 = stablehlo.multiply %17, %18 : tensor<2x8xf32>
  return %19 : tensor<2x8xf32>
}

// -----

// NEGATIVE: normalized over the last two axes (nn.LayerNorm([4, 8])): not odml.layer_norm's meaning.
// CHECK-LABEL: func.func @two_axes
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: composites created: 0
// DEBUG: [layer-norm-plain] stablehlo.multiply at {{.*}}: no match: the sum at {{.*}} is not over the last axis alone
func.func @two_axes(%arg0: tensor<2x4x8xf32>) -> tensor<2x4x8xf32> {
  %cst = stablehlo.constant dense<9.99999974E-6> : tensor<2x1x1xf32>
  %cst_0 = stablehlo.constant dense<3.200000e+01> : tensor<2x1x1xf32>
  %cst_1 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.reduce(%arg0 init: %cst_1) applies stablehlo.add across dimensions = [1, 2] : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = stablehlo.reshape %0 : (tensor<2xf32>) -> tensor<2x1x1xf32>
  %2 = stablehlo.divide %1, %cst_0 : tensor<2x1x1xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1, 2] : (tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %4 = stablehlo.subtract %arg0, %3 : tensor<2x4x8xf32>
  %5 = stablehlo.multiply %4, %4 : tensor<2x4x8xf32>
  %6 = stablehlo.reduce(%5 init: %cst_1) applies stablehlo.add across dimensions = [1, 2] : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2xf32>
  %7 = stablehlo.reshape %6 : (tensor<2xf32>) -> tensor<2x1x1xf32>
  %8 = stablehlo.divide %7, %cst_0 : tensor<2x1x1xf32>
  %9 = stablehlo.add %8, %cst : tensor<2x1x1xf32>
  %10 = stablehlo.rsqrt %9 : tensor<2x1x1xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %12 = stablehlo.multiply %4, %11 : tensor<2x4x8xf32>
  return %12 : tensor<2x4x8xf32>
}

// -----

// NEGATIVE (partly): an x-shaped constant bias whose rows differ is not a per-feature bias: the
// normalization and weight fuse, the add stays outside.
// CHECK-LABEL: func.func @bias_differs_by_row
// CHECK: %[[N:.*]] = stablehlo.composite "odml.layer_norm" %arg0, %arg1, %{{.*}}
// CHECK-NEXT: %[[Y:.*]] = stablehlo.add %[[N]], %{{.*}} : tensor<2x4xf32>
// CHECK-NEXT: return %[[Y]]
// STATS: composites created: 1
// DEBUG: [layer-norm] stablehlo.add at {{.*}}: no match: the bias: the constant factor at {{.*}} differs between rows
// DEBUG: [layer-norm-no-bias] stablehlo.multiply at {{.*}}: rewritten
func.func @bias_differs_by_row(%arg0: tensor<2x4xf32>, %arg1: tensor<4xf32>) -> tensor<2x4xf32> {
  %cst = stablehlo.constant dense<[[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 5.0]]> : tensor<2x4xf32>
  %cst_0 = stablehlo.constant dense<9.99999974E-6> : tensor<2x1xf32>
  %cst_1 = stablehlo.constant dense<4.000000e+00> : tensor<2x1xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.reduce(%arg0 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = stablehlo.reshape %0 : (tensor<2xf32>) -> tensor<2x1xf32>
  %2 = stablehlo.divide %1, %cst_1 : tensor<2x1xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %4 = stablehlo.subtract %arg0, %3 : tensor<2x4xf32>
  %5 = stablehlo.multiply %4, %4 : tensor<2x4xf32>
  %6 = stablehlo.reduce(%5 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  %7 = stablehlo.reshape %6 : (tensor<2xf32>) -> tensor<2x1xf32>
  %8 = stablehlo.divide %7, %cst_1 : tensor<2x1xf32>
  %9 = stablehlo.add %8, %cst_0 : tensor<2x1xf32>
  %10 = stablehlo.rsqrt %9 : tensor<2x1xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %12 = stablehlo.multiply %4, %11 : tensor<2x4xf32>
  %13 = stablehlo.broadcast_in_dim %arg1, dims = [1] : (tensor<4xf32>) -> tensor<2x4xf32>
  %14 = stablehlo.multiply %12, %13 : tensor<2x4xf32>
  %15 = stablehlo.add %14, %cst : tensor<2x4xf32>
  return %15 : tensor<2x4xf32>
}

// -----

// NEGATIVE: epsilon is a function argument, not a constant.
// CHECK-LABEL: func.func @epsilon_not_constant
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: composites created: 0
// DEBUG: [layer-norm-plain] stablehlo.multiply at {{.*}}: no match: epsilon is not a non-negative constant but a block argument (tensor<2x1xf32>)
func.func @epsilon_not_constant(%arg0: tensor<2x4xf32>, %arg1: tensor<2x1xf32>) -> tensor<2x4xf32> {
  %cst_1 = stablehlo.constant dense<4.000000e+00> : tensor<2x1xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %0 = stablehlo.reduce(%arg0 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = stablehlo.reshape %0 : (tensor<2xf32>) -> tensor<2x1xf32>
  %2 = stablehlo.divide %1, %cst_1 : tensor<2x1xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %4 = stablehlo.subtract %arg0, %3 : tensor<2x4xf32>
  %5 = stablehlo.multiply %4, %4 : tensor<2x4xf32>
  %6 = stablehlo.reduce(%5 init: %cst_2) applies stablehlo.add across dimensions = [1] : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  %7 = stablehlo.reshape %6 : (tensor<2xf32>) -> tensor<2x1xf32>
  %8 = stablehlo.divide %7, %cst_1 : tensor<2x1xf32>
  %9 = stablehlo.add %8, %arg1 : tensor<2x1xf32>
  %10 = stablehlo.rsqrt %9 : tensor<2x1xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %12 = stablehlo.multiply %4, %11 : tensor<2x4xf32>
  return %12 : tensor<2x4xf32>
}
