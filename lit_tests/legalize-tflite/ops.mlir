// RUN: %hlo-opt %s --split-input-file --pass legalize-tflite | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass 'legalize-tflite{cleanup=false}' | %FileCheck %s --check-prefix=RAW
// StableHLO -> TFL builtins, as generic `tfl.*` ops; constants become tfl.pseudo_const.

// CHECK-LABEL: func.func @fc
// CHECK: %[[W:.*]] = "tfl.pseudo_const"() {value = dense<{{\[\[}}1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>}
// CHECK: %[[B:.*]] = "tfl.pseudo_const"() {{.*}}dense<[5.000000e-01, -1.000000e+00]> : tensor<2xf32>
// CHECK: %[[FC:.*]] = "tfl.fully_connected"(%arg0, %[[W]], %[[B]]) {fused_activation_function = "NONE", keep_num_dims = true} : (tensor<3x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
// CHECK: return %[[FC]]
// RAW-LABEL: func.func @fc
// RAW: "tfl.fully_connected"(%arg0, %{{.*}}, %{{.*}}) {{.*}} (tensor<3x2xf32>, tensor<2x2xf32>, none)
// RAW: "tfl.broadcast_to"
// RAW: "tfl.add"
func.func @fc(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %w = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %b = stablehlo.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %0 = stablehlo.dot_general %x, %w, contracting_dims = [1] x [0] : (tensor<3x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>
  %1 = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<2xf32>) -> tensor<3x2xf32>
  %2 = stablehlo.add %0, %1 : tensor<3x2xf32>
  return %2 : tensor<3x2xf32>
}

// -----
// Activations as matrices: BATCH_MATMUL over the batch dims.
// CHECK-LABEL: func.func @bmm
// CHECK: "tfl.batch_matmul"(%arg0, %{{.*}}) {adj_x = false, adj_y = false} : (tensor<2x4x8xf32>, tensor<2x8x5xf32>) -> tensor<2x4x5xf32>
func.func @bmm(%q: tensor<2x4x8xf32>, %k: tensor<2x5x8xf32>) -> tensor<2x4x5xf32> {
  %0 = stablehlo.dot_general %q, %k, batching_dims = [0] x [0], contracting_dims = [2] x [2] : (tensor<2x4x8xf32>, tensor<2x5x8xf32>) -> tensor<2x4x5xf32>
  return %0 : tensor<2x4x5xf32>
}

// -----
// A sum reduction and a softmax-style division; elementwise ops broadcast implicitly after the clean-ups.
// CHECK-LABEL: func.func @reduce
// CHECK: %[[S:.*]] = "tfl.sum"(%arg0, %{{.*}}) {keep_dims = false} : (tensor<4x8xf32>, tensor<1xi32>) -> tensor<4xf32>
// CHECK: %[[R:.*]] = "tfl.reshape"(%[[S]], %{{.*}}) : (tensor<4xf32>, tensor<2xi32>) -> tensor<4x1xf32>
// CHECK: "tfl.div"(%arg0, %[[R]]) {fused_activation_function = "NONE"} : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
// CHECK-NOT: tfl.broadcast_to
func.func @reduce(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %0 = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [1] : (tensor<4x8xf32>, tensor<f32>) -> tensor<4xf32>
  %1 = stablehlo.broadcast_in_dim %0, dims = [0] : (tensor<4xf32>) -> tensor<4x8xf32>
  %2 = stablehlo.divide %x, %1 : tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}

// -----
// Composites stay: SDPA (kept by the default xnnpack policy) with its decomposition legalized too.
// CHECK-LABEL: func.func @attention
// CHECK: stablehlo.composite "odml.scaled_dot_product_attention" %arg0, %arg1, %arg2, %arg3 {{.*}}decomposition = @sdpa.impl
// CHECK-LABEL: func.func private @sdpa.impl
// CHECK: "tfl.batch_matmul"
// CHECK-NOT: stablehlo.dot_general
func.func @attention(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x2x8xf32>, %v: tensor<1x4x2x8xf32>, %m: tensor<1x1x4x4xf32>) -> tensor<1x4x2x8xf32> {
  %0 = stablehlo.composite "odml.scaled_dot_product_attention" %q, %k, %v, %m {composite_attributes = {scale = 0.5 : f32}, decomposition = @sdpa.impl} : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x1x4x4xf32>) -> tensor<1x4x2x8xf32>
  return %0 : tensor<1x4x2x8xf32>
}
func.func private @sdpa.impl(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x2x8xf32>, %v: tensor<1x4x2x8xf32>, %m: tensor<1x1x4x4xf32>) -> tensor<1x4x2x8xf32> {
  %s = stablehlo.dot_general %q, %k, batching_dims = [0, 2] x [0, 2], contracting_dims = [3] x [3] : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>) -> tensor<1x2x4x4xf32>
  %o = stablehlo.dot_general %s, %v, batching_dims = [0, 1] x [0, 2], contracting_dims = [3] x [1] : (tensor<1x2x4x4xf32>, tensor<1x4x2x8xf32>) -> tensor<1x2x4x8xf32>
  %t = stablehlo.transpose %o, dims = [0, 2, 1, 3] : (tensor<1x2x4x8xf32>) -> tensor<1x4x2x8xf32>
  return %t : tensor<1x4x2x8xf32>
}
