// RUN: %hlo-opt %s --split-input-file --pass 'quantize-int8-dynamic{min-elements=4 dtype=int4 block-size=4}' | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass 'quantize-int8-dynamic{min-elements=4 dtype=int4 block-size=4},fold-constants,legalize-tflite' | %FileCheck %s --check-prefix=TFL
// dtype=int4: a 2-D dot_general weight becomes int4 in blocks of block-size along its contracting axis, one
// scale per block (max |w| / 7, rounded up to a number float16 and bfloat16 both hold: 1/7 -> 0.1435...), behind a dequantization XLA runs: convert, split the
// contracting axis into [blocks, block], multiply by the scales, merge back. legalize-tflite writes it as an
// int4 weight with block-wise quantization under FULLY_CONNECTED.

// CHECK-LABEL: func.func @blocks_along_k
// CHECK-DAG: %[[Q:.*]] = stablehlo.constant dense<{{\[\[}}7, -7, 0, 7, 7, -7, 4, 0], [0, 0, 0, 0, 1, 2, 3, 7]]> : tensor<2x8xi4>
// CHECK-DAG: %[[S:.*]] = stablehlo.constant dense<{{\[\[}}0.143554688, 0.287109375], [1.000000e+00, 5.000000e-01]]> : tensor<2x2xf32>
// CHECK: %[[F:.*]] = stablehlo.convert %[[Q]] {hlo.dequantize} : (tensor<2x8xi4>) -> tensor<2x8xf32>
// CHECK: %[[R:.*]] = stablehlo.reshape %[[F]] {hlo.dequantize} : (tensor<2x8xf32>) -> tensor<2x2x4xf32>
// CHECK: %[[B:.*]] = stablehlo.broadcast_in_dim %[[S]], dims = [0, 1] {hlo.dequantize} : (tensor<2x2xf32>) -> tensor<2x2x4xf32>
// CHECK: %[[M:.*]] = stablehlo.multiply %[[R]], %[[B]] {hlo.dequantize}
// CHECK: %[[W:.*]] = stablehlo.reshape %[[M]] {hlo.dequantize} : (tensor<2x2x4xf32>) -> tensor<2x8xf32>
// CHECK: stablehlo.dot_general %arg0, %[[W]], contracting_dims = [1] x [1]
// TFL-LABEL: func.func @blocks_along_k
// TFL: %[[Q:.*]] = "tfl.pseudo_qconst"() {axis = 1 : i32, block = 4 : i32, {{.*}}} : () -> tensor<2x8xf32>
// TFL: "tfl.fully_connected"(%arg0, %[[Q]], %{{.*}})
func.func @blocks_along_k(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
  %w = stablehlo.constant dense<[[1.0, -1.0, 0.0, 1.0, 2.0, -2.0, 1.125, 0.0], [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 3.5]]> : tensor<2x8xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [1] : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----
// The weight as [K, N] (contracting axis 0): blocks run down the columns, the scales are [K / block, N].
// CHECK-LABEL: func.func @blocks_along_rows
// CHECK: stablehlo.reshape %{{.*}} {hlo.dequantize} : (tensor<8x2xf32>) -> tensor<2x4x2xf32>
// CHECK: stablehlo.broadcast_in_dim %{{.*}}, dims = [0, 2] {hlo.dequantize} : (tensor<2x2xf32>) -> tensor<2x4x2xf32>
// TFL-LABEL: func.func @blocks_along_rows
// TFL: "tfl.pseudo_qconst"() {axis = 1 : i32, block = 4 : i32, {{.*}}} : () -> tensor<2x8xf32>
// TFL: "tfl.fully_connected"
func.func @blocks_along_rows(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
  %w = stablehlo.constant dense<[[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [2.0, 0.5], [-2.0, 1.0], [1.125, 1.5], [0.0, 3.5]]> : tensor<8x2xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<3x8xf32>, tensor<8x2xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----
// Not int4: a contracting dimension that is not a multiple of block-size stays int8 (per channel), and a
// convolution's weight is always int8.
// CHECK-LABEL: func.func @k_not_a_multiple
// CHECK: stablehlo.constant dense<{{.*}}> : tensor<2x6xi8>
// CHECK-NOT: xi4>
func.func @k_not_a_multiple(%x: tensor<3x6xf32>) -> tensor<3x2xf32> {
  %w = stablehlo.constant dense<[[1.0, -1.0, 0.0, 1.0, 2.0, -2.0], [0.0, 0.5, 1.0, 1.5, 3.5, 0.0]]> : tensor<2x6xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [1] : (tensor<3x6xf32>, tensor<2x6xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}
