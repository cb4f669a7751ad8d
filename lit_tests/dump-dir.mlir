// --dump-dir writes the input and the module after every pass, numbered in pipeline order.
// RUN: rm -rf %t.dir
// RUN: %hlo-opt %s --pass-pipeline=cse,canonicalize --dump-dir %t.dir -o %t
// RUN: %python -c "import os,sys; print(sorted(os.listdir(sys.argv[1])))" %t.dir | %FileCheck %s --check-prefix=FILES
// RUN: cat %t.dir/00-input.mlir | %FileCheck %s --check-prefix=INPUT
// RUN: cat %t.dir/01-cse.mlir | %FileCheck %s --check-prefix=CSE

// FILES: ['00-input.mlir', '01-cse.mlir', '02-canonicalize.mlir']
// INPUT-COUNT-2: stablehlo.negate
// CSE: stablehlo.negate
// CSE-NOT: stablehlo.negate
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %a : tensor<4xf32>
  %1 = stablehlo.negate %a : tensor<4xf32>
  %2 = stablehlo.add %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}
