// VHLO portable artifacts: written for the current or an older StableHLO version, read back as
// StableHLO. A version this build cannot write is an error, not a crash.
// RUN: %hlo-opt %s --emit portable -o %t.vhlo
// RUN: %hlo-opt %t.vhlo | %FileCheck %s
// RUN: %hlo-opt %s --emit portable --target-version minimum -o %t.min.vhlo
// RUN: %hlo-opt %t.min.vhlo | %FileCheck %s
// RUN: not %hlo-opt %s --emit portable --target-version 99.0.0 -o %t.bad.vhlo 2>&1 | %FileCheck %s --check-prefix=BADVER
// RUN: not %hlo-opt %s --emit portable --target-version banana -o %t.bad.vhlo 2>&1 | %FileCheck %s --check-prefix=BADFORM
// RUN: not %hlo-opt %t.bad.vhlo 2>&1 | %FileCheck %s --check-prefix=NOFILE

// CHECK-LABEL: func.func @main
// CHECK: %[[E:.*]] = stablehlo.exponential %arg0
// CHECK: stablehlo.reduce(%[[E]] init: %{{.*}}) applies stablehlo.add across dimensions = [0]
// BADVER: error: target version 99.0.0 is outside what this build can write
// BADFORM: error: target version 'banana' is not of the form X.Y.Z
// NOFILE: error: no such file
func.func @main(%a: tensor<4xf32>) -> tensor<f32> {
  %0 = stablehlo.exponential %a : tensor<4xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %z) applies stablehlo.add across dimensions = [0] : (tensor<4xf32>, tensor<f32>) -> tensor<f32>
  return %1 : tensor<f32>
}
