// --dump-dir writes the input and the module after every pass, numbered in pipeline order.
// RUN: rm -rf %t.dir
// RUN: %hlo-opt %s --pass-pipeline=cse,canonicalize --dump-dir %t.dir -o %t
// RUN: %python -c "import os,sys; print(sorted(os.listdir(sys.argv[1])))" %t.dir | %FileCheck %s --check-prefix=FILES
// RUN: cat %t.dir/00-input.mlir | %FileCheck %s --check-prefix=INPUT
// RUN: cat %t.dir/01-cse.mlir | %FileCheck %s --check-prefix=CSE
// A dump directory that cannot be made is one error, and nothing is written:
// RUN: not %hlo-opt %s --pass cse --dump-dir /dev/null/dump -o %t.never 2>&1 | %FileCheck %s --check-prefix=NODIR
// RUN: not ls %t.never
// Dumping over the input (here 00-input.mlir of an earlier dump) is refused up front:
// RUN: not %hlo-opt %t.dir/00-input.mlir --pass cse --dump-dir %t.dir 2>&1 | %FileCheck %s --check-prefix=OVER
// RUN: cat %t.dir/00-input.mlir | %FileCheck %s --check-prefix=INPUT

// FILES: ['00-input.mlir', '01-cse.mlir', '02-canonicalize.mlir']
// INPUT-COUNT-2: stablehlo.negate
// NODIR: hlo-opt: error: cannot create dump directory /dev/null/dump: Not a directory
// OVER: hlo-opt: error: refusing to dump into {{.*}}: 00-input.mlir there is the input file
// CSE: stablehlo.negate
// CSE-NOT: stablehlo.negate
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %a : tensor<4xf32>
  %1 = stablehlo.negate %a : tensor<4xf32>
  %2 = stablehlo.add %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}
