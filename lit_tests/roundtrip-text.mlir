// The text form goes through load and save unchanged in meaning; no pipeline is a valid pipeline.
// RUN: %hlo-opt %s | %FileCheck %s
// RUN: %hlo-opt %s | %hlo-opt | %FileCheck %s

// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[A:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<3xf32>)
func.func @main(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
  // CHECK: %[[W:.*]] = stablehlo.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00]
  %w = stablehlo.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  // CHECK: %[[BB:.*]] = stablehlo.broadcast_in_dim %[[B]], dims = [1]
  %bb = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: %[[S:.*]] = stablehlo.add %[[A]], %[[BB]]
  %0 = stablehlo.add %a, %bb : tensor<2x3xf32>
  // CHECK: %[[M:.*]] = stablehlo.multiply %[[S]], %[[W]]
  %1 = stablehlo.multiply %0, %w : tensor<2x3xf32>
  // CHECK: return %[[M]]
  return %1 : tensor<2x3xf32>
}
