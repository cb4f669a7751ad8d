// --timing prints a wall-time table on stderr: parse, every pass, output, total.
// RUN: %hlo-opt %s --pass-pipeline=canonicalize,cse --timing -o %t 2>&1 | %FileCheck %s

// CHECK: ... Execution time report ...
// CHECK: Total Execution Time: {{[0-9.]+}} seconds
// CHECK: ----Wall Time----  ----Name----
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  parse
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  canonicalize (#1)
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  cse (#2)
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  output
// CHECK-NEXT: {{[0-9.]+}} (100.0%)  Total
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
