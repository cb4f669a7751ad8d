// --debug-patterns=NAME explains, for each candidate root, the match or why it failed (which part of
// the template, at which source location). A pass name explains all of its patterns.
// RUN: %hlo-opt %s --pass simplify --debug-patterns=add-zero -o %t 2>&1 | %FileCheck %s
// RUN: %hlo-opt %s --pass simplify --debug-patterns=simplify -o %t 2>&1 | %FileCheck %s --check-prefix=ALL
// RUN: %hlo-opt %s --pass simplify -o %t 2>&1 | %FileCheck %s --check-prefix=QUIET --allow-empty

// CHECK-DAG: [add-zero] stablehlo.add at model.py:10:3: rewritten
// CHECK-DAG: [add-zero] stablehlo.add at model.py:11:3: no match: constant at model.py:2:3 is not all 0
// CHECK-DAG: [add-zero] stablehlo.add at model.py:12:3: no match: expected a constant, got block argument of type tensor<4xf32>
// CHECK-NOT: [add-zero]
// CHECK-NOT: [mul-one]
// ALL-DAG: [add-zero] stablehlo.add at model.py:10:3: rewritten
// ALL-DAG: [mul-one] stablehlo.multiply at model.py:13:3: no match
// QUIET-NOT: [add-zero]
func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<4xf32> loc("model.py":1:3)
  %h = stablehlo.constant dense<0.5> : tensor<4xf32> loc("model.py":2:3)
  %0 = stablehlo.add %x, %z : tensor<4xf32> loc("model.py":10:3)
  %1 = stablehlo.add %0, %h : tensor<4xf32> loc("model.py":11:3)
  %m = stablehlo.multiply %1, %y : tensor<4xf32> loc("model.py":13:3)
  %2 = stablehlo.add %m, %y : tensor<4xf32> loc("model.py":12:3)
  return %2 : tensor<4xf32>
}
