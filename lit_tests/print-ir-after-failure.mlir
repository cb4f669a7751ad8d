// --print-ir-after-failure prints the module as the failing pass left it (generic form: it may be invalid).
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass-pipeline=cse,test-fail,cse --print-ir-after-failure --reproducer %t.repro -o %t 2>&1 | %FileCheck %s
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass-pipeline=cse,test-fail --reproducer %t.repro -o %t 2>&1 | %FileCheck %s --check-prefix=QUIET

// CHECK: // -----// IR Dump After Failure test-fail (#2) //----- //
// CHECK: "stablehlo.multiply"
// CHECK: print-ir-after-failure.mlir:[[# @LINE + 5]]:8: error: pass 'test-fail' failed: found a multiply, which this pass refuses
// CHECK-NOT: Traceback
// QUIET-NOT: IR Dump
// QUIET: error: pass 'test-fail' failed
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.multiply %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
