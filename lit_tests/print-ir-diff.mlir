// --print-ir-diff prints a unified diff of the IR before/after each pass that changed it (stderr), and
// nothing for a pass that changed nothing.
// RUN: %hlo-opt %s --pass-pipeline=cse,simplify,cse --print-ir-diff -o %t 2>&1 | %FileCheck %s

// CHECK-NOT: IR Dump Diff After cse (#1)
// CHECK: // -----// IR Dump Diff After simplify (#2) //----- //
// CHECK-NEXT: --- before simplify (#2)
// CHECK-NEXT: +++ after simplify (#2)
// CHECK-NEXT: @@
// CHECK: -    %0 = stablehlo.add %arg0, %cst : tensor<4xf32>
// CHECK: -    return %0 : tensor<4xf32>
// CHECK-NEXT: +    return %arg0 : tensor<4xf32>
// CHECK-NOT: IR Dump Diff After cse (#3)
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<4xf32>
  %0 = stablehlo.add %x, %z : tensor<4xf32>
  return %0 : tensor<4xf32>
}
