// MLIR bytecode out and back in; weights held as dense_resource blobs survive with their data.
// RUN: %hlo-opt %s --emit bytecode -o %t.mlirbc
// RUN: %hlo-opt %t.mlirbc | %FileCheck %s

// CHECK-LABEL: func.func @main
// CHECK: stablehlo.constant dense_resource<[[W:.*]]> : tensor<4xf32>
// CHECK: stablehlo.add
// CHECK: dialect_resources
// CHECK: [[W]]: "0x040000000000803F000000400000404000008040"
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %c = stablehlo.constant dense_resource<weights> : tensor<4xf32>
  %0 = stablehlo.add %a, %c : tensor<4xf32>
  return %0 : tensor<4xf32>
}
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
