// A torch-mlir-style module (dense_resource weights, a tensor arith.constant) written as a VHLO portable
// artifact: the artifact holds the weights inline, the input keeps its resources. A blob of the wrong
// size is refused where the constant is, with the resource's name and both sizes.
// RUN: %hlo-opt %s --emit portable -o %t.vhlo
// RUN: %hlo-opt %t.vhlo | %FileCheck %s
// RUN: %hlo-opt %s | %FileCheck %s --check-prefix=KEEP
// RUN: %python -c "import sys; d = open(sys.argv[1]).read(); open(sys.argv[2], 'w').write(d.replace('4000008040', '40'))" %s %t.short.mlir
// RUN: not %hlo-opt %t.short.mlir -o %t.out 2>&1 | %FileCheck %s --check-prefix=SHORT
// RUN: %python -c "import os, sys; sys.exit(os.path.exists(sys.argv[1]))" %t.out

// CHECK-LABEL: func.func @main
// CHECK-DAG: stablehlo.constant dense<{{\[}}[1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: stablehlo.constant dense<[5.000000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK-NOT: dense_resource
// KEEP: stablehlo.constant dense_resource<torch_tensor_2_2_torch.float32>
// KEEP: arith.constant
// SHORT: short.mlir:19:27: error: dense_resource 'torch_tensor_2_2_torch.float32' holds 12 bytes, but its type tensor<2x2xf32> needs 16
func.func @main(%a: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = stablehlo.constant dense_resource<torch_tensor_2_2_torch.float32> : tensor<2x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %0 = stablehlo.dot_general %a, %w, contracting_dims = [1] x [0] : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %1 = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<2xf32>) -> tensor<3x2xf32>
  %2 = stablehlo.add %0, %1 : tensor<3x2xf32>
  return %2 : tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      torch_tensor_2_2_torch.float32: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
