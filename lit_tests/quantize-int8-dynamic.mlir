// RUN: %hlo-opt %s --split-input-file --pass 'quantize-int8-dynamic{min-elements=4}' | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass 'quantize-int8-dynamic{min-elements=4 granularity=tensor}' | %FileCheck %s --check-prefix=TENSOR
// RUN: %hlo-opt %s --split-input-file --pass 'quantize-int8-dynamic{min-elements=4 skip=head}' | %FileCheck %s --check-prefix=SKIP
// RUN: %hlo-opt %s --split-input-file --pass 'quantize-int8-dynamic{min-elements=4},fold-constants' | %FileCheck %s --check-prefix=KEPT
// Constant weights of dot_general (either operand), convolution and embedding gathers become int8 with one
// scale per output channel (max |w| / 127), behind a dequantization that XLA runs and fold-constants keeps.

// CHECK-LABEL: func.func @weight_rhs
// CHECK-DAG: %[[Q:.*]] = stablehlo.constant dense<{{\[\[}}127, -64, 0], [-127, 32, 0]]> : tensor<2x3xi8>
// CHECK-DAG: %[[S:.*]] = stablehlo.constant dense<[{{.*}}]> : tensor<2xf32>
// CHECK: %[[F:.*]] = stablehlo.convert %[[Q]] {hlo.dequantize} : (tensor<2x3xi8>) -> tensor<2x3xf32>
// CHECK: %[[B:.*]] = stablehlo.broadcast_in_dim %[[S]], dims = [0] {hlo.dequantize}
// CHECK: %[[W:.*]] = stablehlo.multiply %[[F]], %[[B]] {hlo.dequantize}
// CHECK: stablehlo.dot_general %arg0, %[[W]], contracting_dims = [1] x [1]
// CHECK-NOT: tensor<2x3xf32> = stablehlo.constant
// TENSOR-LABEL: func.func @weight_rhs
// TENSOR: stablehlo.constant dense<{{.*}}> : tensor<f32>
// TENSOR: stablehlo.broadcast_in_dim %{{.*}}, dims = [] {hlo.dequantize}
// SKIP-LABEL: func.func @weight_rhs
// SKIP: stablehlo.convert
// KEPT-LABEL: func.func @weight_rhs
// KEPT: stablehlo.convert %{{.*}} {hlo.dequantize} : (tensor<2x3xi8>)
func.func @weight_rhs(%x: tensor<4x3xf32>) -> tensor<4x2xf32> {
  %w = stablehlo.constant dense<[[1.0, -0.5, 0.0], [-2.0, 0.5, 0.0]]> : tensor<2x3xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [1] : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----
// The weight as the left operand, transposed ([K, N]): channels along its free dimension.
// CHECK-LABEL: func.func @weight_lhs
// CHECK: %[[B:.*]] = stablehlo.broadcast_in_dim %{{.*}}, dims = [1] {hlo.dequantize} : (tensor<2xf32>) -> tensor<3x2xf32>
// CHECK: stablehlo.dot_general %{{.*}}, %arg0, contracting_dims = [0] x [1]
func.func @weight_lhs(%x: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %w = stablehlo.constant dense<[[1.0, -2.0], [-0.5, 0.5], [0.25, 0.0]]> : tensor<3x2xf32>
  %0 = stablehlo.dot_general %w, %x, contracting_dims = [0] x [1] : (tensor<3x2xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----
// Convolution kernels: channels along the kernel's output feature dimension.
// CHECK-LABEL: func.func @conv
// CHECK: stablehlo.broadcast_in_dim %{{.*}}, dims = [0] {hlo.dequantize} : (tensor<2xf32>) -> tensor<2x1x2x2xf32>
// CHECK: stablehlo.convolution
func.func @conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x3x3xf32> {
  %w = stablehlo.constant dense<[[[[1.0, 2.0], [3.0, 4.0]]], [[[-1.0, 0.5], [0.25, 8.0]]]]> : tensor<2x1x2x2xf32>
  %0 = stablehlo.convolution(%x, %w) dim_numbers = [b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1], window = {} {batch_group_count = 1 : i64, feature_group_count = 1 : i64} : (tensor<1x1x4x4xf32>, tensor<2x1x2x2xf32>) -> tensor<1x2x3x3xf32>
  return %0 : tensor<1x2x3x3xf32>
}

// -----
// Embedding lookups: int8 rows and one scale per row, both gathered.
// CHECK-LABEL: func.func @embedding
// CHECK: %[[R:.*]] = "stablehlo.gather"(%{{.*}}, %arg0) {{.*}} : (tensor<4x3xi8>, tensor<2x1xi32>) -> tensor<2x3xi8>
// CHECK: %[[S:.*]] = "stablehlo.gather"(%{{.*}}, %arg0) {{.*}} : (tensor<4x1xf32>, tensor<2x1xi32>) -> tensor<2x1xf32>
// CHECK: stablehlo.multiply
func.func @embedding(%ids: tensor<2x1xi32>) -> tensor<2x3xf32> {
  %w = stablehlo.constant dense<[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-4.0, 0.5, 2.0], [9.0, -9.0, 1.0]]> : tensor<4x3xf32>
  %0 = "stablehlo.gather"(%w, %ids) {dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, slice_sizes = array<i64: 1, 3>} : (tensor<4x3xf32>, tensor<2x1xi32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----
// Not quantized: a weight that is not a constant, one below min-elements, and (SKIP) one whose location
// matches the skip regex.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: hlo.dequantize
// CHECK: stablehlo.dot_general %arg0, %arg1
// CHECK-NOT: hlo.dequantize
// CHECK: stablehlo.dot_general %arg0, %{{.*}} : (tensor<4x3xf32>, tensor<1x3xf32>)
// SKIP-LABEL: func.func @left_alone
// SKIP-NOT: hlo.dequantize
func.func @left_alone(%x: tensor<4x3xf32>, %w: tensor<2x3xf32>) -> (tensor<4x2xf32>, tensor<4x1xf32>, tensor<4x2xf32>) {
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [1] : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32>
  %small = stablehlo.constant dense<[[1.0, 2.0, 3.0]]> : tensor<1x3xf32>
  %1 = stablehlo.dot_general %x, %small, contracting_dims = [1] x [1] : (tensor<4x3xf32>, tensor<1x3xf32>) -> tensor<4x1xf32>
  %head = stablehlo.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %2 = stablehlo.dot_general %x, %head, contracting_dims = [1] x [1] : (tensor<4x3xf32>, tensor<2x3xf32>) -> tensor<4x2xf32> loc("head")
  return %0, %1, %2 : tensor<4x2xf32>, tensor<4x1xf32>, tensor<4x2xf32>
}
