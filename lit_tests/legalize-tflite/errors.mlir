// RUN: not %hlo-opt %s --pass legalize-tflite -o %t.mlir 2>&1 | %FileCheck %s
// RUN: not test -e %t.mlir
// Every op that cannot be converted is listed with its place and why; nothing is written.

// CHECK: error: pass 'legalize-tflite' failed: legalize-tflite: 3 op(s) could not be converted; first: stablehlo.custom_call: no rule converts stablehlo.custom_call
// CHECK-NEXT: note: {{.*}}errors.mlir:10:8: stablehlo.custom_call: no rule converts stablehlo.custom_call
// CHECK-NEXT: note: {{.*}}errors.mlir:11:8: stablehlo.and: bitwise and of integers has no TFL builtin (only logical and of booleans)
// CHECK-NEXT: note: {{.*}}errors.mlir:12:8: stablehlo.convolution: 1-D convolutions have no TFL kernel here (CONV_2D is 2-D)
func.func @main(%a: tensor<4xf32>, %i: tensor<4xi32>, %x: tensor<1x8x3xf32>, %w: tensor<2x3x4xf32>) -> (tensor<4xf32>, tensor<4xi32>, tensor<1x7x4xf32>) {
  %0 = stablehlo.custom_call @my_kernel(%a) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = stablehlo.and %i, %i : tensor<4xi32>
  %2 = stablehlo.convolution(%x, %w) dim_numbers = [b, 0, f]x[0, i, o]->[b, 0, f], window = {} {batch_group_count = 1 : i64, feature_group_count = 1 : i64} : (tensor<1x8x3xf32>, tensor<2x3x4xf32>) -> tensor<1x7x4xf32>
  return %0, %1, %2 : tensor<4xf32>, tensor<4xi32>, tensor<1x7x4xf32>
}
