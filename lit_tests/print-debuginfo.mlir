// --print-debuginfo keeps locations in dumps and in the output; without it they are left out.
// RUN: %hlo-opt %s --pass cse --print-debuginfo | %FileCheck %s
// RUN: %hlo-opt %s --pass cse --print-ir-after-all --print-debuginfo -o %t 2>&1 | %FileCheck %s --check-prefix=DUMP
// RUN: %hlo-opt %s --pass cse | %FileCheck %s --check-prefix=PLAIN

// CHECK: stablehlo.add {{.*}} loc(#[[LOC:.*]])
// CHECK: #[[LOC]] = loc("model.py":42:7)
// DUMP: IR Dump After cse
// DUMP: loc("model.py":42:7)
// PLAIN-NOT: loc(
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32> loc("model.py":42:7)
  return %0 : tensor<4xf32>
}
