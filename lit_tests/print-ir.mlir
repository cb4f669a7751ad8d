// --print-ir-before/after=PASS, -before-all, -after-all, -after-change go to stderr, one dump per pass run.
// RUN: %hlo-opt %s --pass-pipeline=canonicalize,cse --print-ir-before=cse -o %t 2>&1 | %FileCheck %s --check-prefix=BEFORE
// RUN: %hlo-opt %s --pass-pipeline=canonicalize,cse --print-ir-after=canonicalize -o %t 2>&1 | %FileCheck %s --check-prefix=AFTER
// RUN: %hlo-opt %s --pass-pipeline=canonicalize,cse --print-ir-after-all -o %t 2>&1 | %FileCheck %s --check-prefix=ALL
// RUN: %hlo-opt %s --pass-pipeline=canonicalize,cse --print-ir-before-all -o %t 2>&1 | %FileCheck %s --check-prefix=BALL
// RUN: %hlo-opt %s --pass-pipeline=cse,cse,symbol-dce --print-ir-after-change -o %t 2>&1 | %FileCheck %s --check-prefix=CHANGE

// BEFORE-NOT: IR Dump Before canonicalize
// BEFORE: // -----// IR Dump Before cse (#2) //----- //
// BEFORE: stablehlo.add
// BEFORE-NOT: IR Dump

// AFTER: // -----// IR Dump After canonicalize (#1) //----- //
// AFTER-NOT: IR Dump

// ALL: IR Dump After canonicalize (#1)
// ALL: IR Dump After cse (#2)

// BALL: IR Dump Before canonicalize (#1)
// BALL: IR Dump Before cse (#2)

// The first cse merges the duplicate multiply, the second finds nothing, symbol-dce drops @unused.
// CHANGE: IR Dump After cse (#1)
// CHANGE-COUNT-1: stablehlo.multiply
// CHANGE: func.func private @unused
// CHANGE-NOT: IR Dump After cse (#2)
// CHANGE: IR Dump After symbol-dce (#3)
// CHANGE-NOT: @unused
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.multiply %a, %a : tensor<4xf32>
  %1 = stablehlo.multiply %a, %a : tensor<4xf32>
  %2 = stablehlo.add %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}

func.func private @unused(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}
