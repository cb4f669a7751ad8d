// Pipeline text: --pass and --pass-pipeline mix in command-line order; MLIR's builtin.module(...)
// wrapper is accepted; options are given in braces; the same pass may run several times.
// RUN: %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass cse --pass-pipeline='test-count{op=stablehlo.negate times=2},symbol-dce' --pass test-count --statistics -o %t 2>&1 | %FileCheck %s
// RUN: %hlo-opt %s --pass-pipeline='builtin.module(cse,symbol-dce)' | %FileCheck %s --check-prefix=WRAPPED
// RUN: %hlo-opt %s --pass-pipeline='canonicalize{max-iterations=2},cse' | %FileCheck %s --check-prefix=WRAPPED

// CHECK: cse (#1)
// CHECK: test-count (#2)
// CHECK: stablehlo.negate seen: 2
// CHECK: symbol-dce (#3)
// CHECK: test-count (#4)
// CHECK: stablehlo.add seen: 1
// WRAPPED-COUNT-1: stablehlo.negate
// WRAPPED-NOT: stablehlo.negate
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %a : tensor<4xf32>
  %1 = stablehlo.negate %a : tensor<4xf32>
  %2 = stablehlo.add %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}
