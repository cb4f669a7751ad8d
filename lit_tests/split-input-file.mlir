// --split-input-file: each chunk is its own module; output chunks are joined by '// -----'; an error in
// one chunk is reported on the file's own line numbers and the others still go through.
// RUN: not %hlo-opt %s --split-input-file --pass cse 2>/dev/null | %FileCheck %s
// RUN: not %hlo-opt %s --split-input-file --pass cse 2>&1 >/dev/null | %FileCheck %s --check-prefix=ERR

// CHECK-LABEL: func.func @first
// CHECK-COUNT-1: stablehlo.negate
// CHECK: // -----
// CHECK-LABEL: func.func @third
func.func @first(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %a : tensor<4xf32>
  %1 = stablehlo.negate %a : tensor<4xf32>
  %2 = stablehlo.add %0, %1 : tensor<4xf32>
  return %2 : tensor<4xf32>
}

// -----

// ERR: split-input-file.mlir:[[# @LINE + 2]]:8: error: custom op 'stablehlo.not_an_op' is unknown
func.func @second(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.not_an_op %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @third(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}
