// RUN: %hlo-opt %s --split-input-file --pass inline-calls | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass inline-calls --statistics 2>&1 >/dev/null | %FileCheck %s --check-prefix=STATS
// Calls of private functions are inlined (nested ones too) and the functions dropped; public functions
// and their calls stay; recursive functions are kept and called, never unrolled.

// CHECK-LABEL: func.func @main
// CHECK-NOT: call @twice
// CHECK: %[[A:.*]] = stablehlo.add %arg0, %arg0
// CHECK: %[[M:.*]] = stablehlo.multiply %[[A]], %[[A]]
// CHECK: %[[P:.*]] = call @public_helper(%[[M]])
// CHECK: return %[[P]]
// CHECK-NOT: func.func private @twice
// CHECK-NOT: func.func private @square
// CHECK: func.func public @public_helper
// STATS: inline-calls (#1)
// STATS: calls inlined: 2
// STATS: functions erased: 2
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

// -----
// A self-recursive function and a mutually recursive pair: kept, their calls stay (the pass ends).
// The non-recursive helper they call is still inlined into them.

// CHECK-LABEL: func.func @rec_main
// CHECK: call @fact
// CHECK: call @even
// CHECK: func.func private @fact
// CHECK-NOT: call @helper
// CHECK: stablehlo.negate
// CHECK: call @fact
// CHECK: func.func private @even
// CHECK: call @odd
// CHECK: func.func private @odd
// CHECK: call @even
// CHECK-NOT: func.func private @helper
// STATS: inline-calls (#1)
// STATS: calls inlined: 1
// STATS: functions erased: 1
// STATS: recursive functions kept: 3
func.func @rec_main(%x: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %0 = call @fact(%x) : (tensor<f32>) -> tensor<f32>
  %1 = call @even(%x) : (tensor<f32>) -> tensor<f32>
  return %0, %1 : tensor<f32>, tensor<f32>
}
func.func private @fact(%a: tensor<f32>) -> tensor<f32> {
  %0 = call @helper(%a) : (tensor<f32>) -> tensor<f32>
  %1 = call @fact(%0) : (tensor<f32>) -> tensor<f32>
  return %1 : tensor<f32>
}
func.func private @helper(%a: tensor<f32>) -> tensor<f32> {
  %0 = stablehlo.negate %a : tensor<f32>
  return %0 : tensor<f32>
}
func.func private @even(%a: tensor<f32>) -> tensor<f32> {
  %0 = call @odd(%a) : (tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}
func.func private @odd(%a: tensor<f32>) -> tensor<f32> {
  %0 = call @even(%a) : (tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----
// A private function referenced other than by a call (a custom_call's called computation) stays; a while
// body that uses a value of the inlined function directly (StableHLO regions are not isolated) points at
// the copy, not into the erased function.

// CHECK-LABEL: func.func @ref_main
// CHECK: %[[N:.*]] = stablehlo.negate %arg0
// CHECK: stablehlo.while
// CHECK: stablehlo.add %{{.*}}, %[[N]]
// CHECK: stablehlo.custom_call @foo(%arg0) {called_computations = [@callback]}
// CHECK: func.func private @callback
// CHECK-NOT: func.func private @looper
func.func @ref_main(%x: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %0 = call @looper(%x) : (tensor<f32>) -> tensor<f32>
  %1 = stablehlo.custom_call @foo(%x) {called_computations = [@callback]} : (tensor<f32>) -> tensor<f32>
  return %0, %1 : tensor<f32>, tensor<f32>
}
func.func private @callback(%a: tensor<f32>) -> tensor<f32> {
  return %a : tensor<f32>
}
func.func private @looper(%a: tensor<f32>) -> tensor<f32> {
  %n = stablehlo.negate %a : tensor<f32>
  %c = stablehlo.constant dense<3> : tensor<i32>
  %z = stablehlo.constant dense<0> : tensor<i32>
  %one = stablehlo.constant dense<1> : tensor<i32>
  %r:2 = stablehlo.while(%i = %z, %acc = %a) : tensor<i32>, tensor<f32>
   cond {
    %lt = stablehlo.compare LT, %i, %c : (tensor<i32>, tensor<i32>) -> tensor<i1>
    stablehlo.return %lt : tensor<i1>
  } do {
    %i1 = stablehlo.add %i, %one : tensor<i32>
    %s = stablehlo.add %acc, %n : tensor<f32>
    stablehlo.return %i1, %s : tensor<i32>, tensor<f32>
  }
  return %r#1 : tensor<f32>
}
