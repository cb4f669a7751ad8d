// RUN: %hlo-opt %s --pass-pipeline=fuse-rms-norm --statistics -o %t.fused 2>&1 | %FileCheck %s --check-prefix=FUSED
// RUN: %hlo-opt %t.fused --pass inline-composites | %FileCheck %s
// RUN: %hlo-opt %t.fused --pass 'inline-composites{names=odml.other}' | %FileCheck %s --check-prefix=KEPT
// inline-composites undoes a fusion: the decomposition's ops come back where the composite was, and the
// decomposition function goes; a name filter leaves other composites alone.

// FUSED: composites created: 1
// CHECK-LABEL: func.func @main
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.rsqrt
// CHECK: %[[N:.*]] = stablehlo.multiply %arg0, %{{.*}}
// CHECK: stablehlo.multiply %[[N]], %{{.*}}
// CHECK-NOT: func.func private @odml.rms_norm.impl
// KEPT: stablehlo.composite "odml.rms_norm"
// KEPT: func.func private @odml.rms_norm.impl
func.func @main(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %sq = stablehlo.multiply %x, %x : tensor<2x8xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%sq init: %z) applies stablehlo.add across dimensions = [1] : (tensor<2x8xf32>, tensor<f32>) -> tensor<2xf32>
  %n = stablehlo.constant dense<8.0> : tensor<2xf32>
  %m = stablehlo.divide %s, %n : tensor<2xf32>
  %e = stablehlo.constant dense<1.0e-6> : tensor<2xf32>
  %v = stablehlo.add %m, %e : tensor<2xf32>
  %r = stablehlo.rsqrt %v : tensor<2xf32>
  %rb = stablehlo.broadcast_in_dim %r, dims = [0] : (tensor<2xf32>) -> tensor<2x8xf32>
  %y = stablehlo.multiply %x, %rb : tensor<2x8xf32>
  %wb = stablehlo.broadcast_in_dim %w, dims = [1] : (tensor<8xf32>) -> tensor<2x8xf32>
  %o = stablehlo.multiply %y, %wb : tensor<2x8xf32>
  return %o : tensor<2x8xf32>
}
