// --statistics: per pass, the op count before -> after, the change by op name, and the pass's counters.
// RUN: %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass-pipeline='cse,test-count{times=3},test-wrong-add' --statistics -o %t 2>&1 | %FileCheck %s

// CHECK: ... Pass statistics report ...
// CHECK: cse (#1)
// CHECK-NEXT: ops: 7 -> 5 (-2)
// CHECK-NEXT: -2  stablehlo.negate
// CHECK: test-count (#2)
// CHECK-NEXT: ops: 5 -> 5 (+0)
// CHECK-NEXT: stablehlo.add seen: 6
// CHECK: test-wrong-add (#3)
// CHECK-NEXT: ops: 5 -> 5 (+0)
// CHECK-DAG: -2  stablehlo.add
// CHECK-DAG: +2  stablehlo.subtract
// CHECK: adds rewritten: 2
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %a : tensor<4xf32>
  %1 = stablehlo.negate %a : tensor<4xf32>
  %2 = stablehlo.negate %a : tensor<4xf32>
  %3 = stablehlo.add %0, %1 : tensor<4xf32>
  %4 = stablehlo.add %3, %2 : tensor<4xf32>
  return %4 : tensor<4xf32>
}
