// The input's loop ends after 3 trips; test-endless-loop makes its condition always true. The run after
// that pass times out, and the error says which module did not finish.
// RUN: not env HLO_OPT_NUMERICS_TIMEOUT=3 %hlo-opt %s --load-pass-plugin %inputs/numerics_passes.py --pass test-endless-loop --check-numerics --reproducer %t.repro -o %t 2>&1 | %FileCheck %s

// CHECK: check-numerics: reference run of the input, seed 0, 1 inputs, 1 outputs
// CHECK-NEXT: hlo-opt: error: check-numerics: running the result of pass 'test-endless-loop' (#1): XLA CPU did not finish running the module within 3 s
// An output that never finishes is the pass's failure like different results: it leaves a reproducer.
// CHECK-NEXT: note: reproducer written to
// CHECK-NOT: Traceback
func.func @main(%a: tensor<i32>) -> tensor<i32> {
  %zero = stablehlo.constant dense<0> : tensor<i32>
  %one = stablehlo.constant dense<1> : tensor<i32>
  %three = stablehlo.constant dense<3> : tensor<i32>
  %0:2 = stablehlo.while(%i = %zero, %acc = %a) : tensor<i32>, tensor<i32>
   cond {
    %c = stablehlo.compare LT, %i, %three : (tensor<i32>, tensor<i32>) -> tensor<i1>
    stablehlo.return %c : tensor<i1>
  } do {
    %n = stablehlo.add %i, %one : tensor<i32>
    %s = stablehlo.add %acc, %acc : tensor<i32>
    stablehlo.return %n, %s : tensor<i32>, tensor<i32>
  }
  return %0#1 : tensor<i32>
}
