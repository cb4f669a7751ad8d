// RUN: %hlo-opt %s --pass inline-calls --statistics 2>&1 | %FileCheck %s
// Calls of private functions are inlined (nested ones too) and the functions dropped; public functions
// and their calls stay.

// CHECK-LABEL: func.func @main
// CHECK-NOT: call @twice
// CHECK: %[[A:.*]] = stablehlo.add %arg0, %arg0
// CHECK: %[[M:.*]] = stablehlo.multiply %[[A]], %[[A]]
// CHECK: %[[P:.*]] = call @public_helper(%[[M]])
// CHECK: return %[[P]]
// CHECK-NOT: func.func private @twice
// CHECK-NOT: func.func private @square
// CHECK: func.func public @public_helper
// CHECK: calls inlined: 3
// CHECK: functions erased: 2
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = call @square(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = call @public_helper(%0) : (tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}
func.func private @square(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = call @twice(%a) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = stablehlo.multiply %0, %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}
func.func private @twice(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func public @public_helper(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}
