// Nested pipelines of MLIR's own passes (`func.func(cse)`) run and print back as pipeline text (in the
// reproducer's header here); list, enum and optional pass options use MLIR's syntax: `opt=a,b` in braces.
// RUN: %hlo-opt %s --pass-pipeline='builtin.module(func.func(canonicalize,cse),symbol-dce)' | %FileCheck %s
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass-pipeline='func.func(cse),test-raise,func.func(canonicalize)' --reproducer %t.repro -o %t 2>&1 | %FileCheck %s --check-prefix=ERR
// RUN: %FileCheck %s --check-prefix=REPRO < %t.repro
// RUN: not %hlo-opt %s --pass-pipeline='func.func(optimize)' 2>&1 | %FileCheck %s --check-prefix=OURS
// RUN: not %hlo-opt %s --pass 'quantize-int8-dynamic{skip=}' --pass 'func.func(nope)' 2>&1 | %FileCheck %s --check-prefix=MLIR

// CHECK-LABEL: func.func @main
// CHECK: %[[A:.*]] = stablehlo.add %arg0, %arg0
// CHECK-NEXT: stablehlo.multiply %[[A]], %[[A]]
// ERR: error: pass 'test-raise' raised ZeroDivisionError
// REPRO: // pipeline: test-raise,func.func(canonicalize)
// OURS: hlo-opt: error: nested pipeline 'func.func(optimize)': 'optimize' is an hlo_passes pass or pipeline
// MLIR: hlo-opt: error: nested pipeline 'func.func(nope)': MLIR does not accept it: 'nope' does not refer to a registered pass or pass pipeline
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  %1 = stablehlo.add %a, %a : tensor<4xf32>
  %2 = stablehlo.multiply %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}
