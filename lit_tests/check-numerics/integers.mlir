// Integers compare exactly, whatever --rtol says: 1000005 is within rtol=1e-5 of 1000000, and wrong.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/numerics_passes.py --pass test-bump-int-constants --check-numerics --rtol 1e-4 -o %t 2>&1 | %FileCheck %s
// An i32 -> i8 -> i32 round trip dropped: right on the typical inputs (0..7), wrong at the edges
// (128 wraps to -128), which run second because the module has an integer argument.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/numerics_passes.py --pass test-drop-narrowing --check-numerics -o %t 2>&1 | %FileCheck %s --check-prefix=EDGE

// CHECK: reference run of the input, seed 0, 1 inputs, 2 outputs (floats N(0,1), integers in [0, 8), booleans at random; then again with integer edges
// CHECK: error: check-numerics: pass 'test-bump-int-constants' (#1) changed the results: output 0 differs at [0]: got 1000005, expected 1000000 (integers must match exactly
// EDGE: error: check-numerics: pass 'test-drop-narrowing' (#1) changed the results: on the edge inputs, output 1 differs at
// EDGE-SAME: (integers must match exactly
func.func @main(%x: tensor<64xi32>) -> (tensor<4xi32>, tensor<64xi32>) {
  %c = stablehlo.constant dense<1000000> : tensor<4xi32>
  %0 = stablehlo.convert %x : (tensor<64xi32>) -> tensor<64xi8>
  %1 = stablehlo.convert %0 : (tensor<64xi8>) -> tensor<64xi32>
  return %c, %1 : tensor<4xi32>, tensor<64xi32>
}
