// fuse-parallel-dots: dot_generals of one activation against constant rank-2 weights (q/k/v; gate/up) become
// one dot against the weights concatenated along their output axis, then one slice per original result.
// Weights as [in, out] (contracting [.] x [0]) or as [out, in] ([.] x [1]); composites' decompositions, dots
// of other activations, batched dots and non-constant weights are left alone. Running it twice changes
// nothing more.
// RUN: %hlo-opt %s --split-input-file --pass fuse-parallel-dots | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-parallel-dots,fuse-parallel-dots | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass fuse-parallel-dots --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS

// q, k, v of different widths, weights [in, out]: one [2, 2+1+1] weight, slices in the dots' order.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.*]]: tensor<1x3x2xf32>)
// CHECK-NEXT: %[[W:.*]] = stablehlo.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00, 5.000000e+00, 7.000000e+00], [3.000000e+00, 4.000000e+00, 6.000000e+00, 8.000000e+00]]> : tensor<2x4xf32>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dot_general %[[X]], %[[W]], contracting_dims = [2] x [0] : (tensor<1x3x2xf32>, tensor<2x4xf32>) -> tensor<1x3x4xf32>
// CHECK-NEXT: %[[Q:.*]] = stablehlo.slice %[[D]] [0:1, 0:3, 0:2] : (tensor<1x3x4xf32>) -> tensor<1x3x2xf32>
// CHECK-NEXT: %[[K:.*]] = stablehlo.slice %[[D]] [0:1, 0:3, 2:3] : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
// CHECK-NEXT: %[[V:.*]] = stablehlo.slice %[[D]] [0:1, 0:3, 3:4] : (tensor<1x3x4xf32>) -> tensor<1x3x1xf32>
// CHECK-NOT: dot_general
// CHECK: return %[[Q]], %[[K]], %[[V]]
// STATS: fuse-parallel-dots (#1)
// STATS-DAG: dots fused: 3
// STATS-DAG: fused dots made: 1
func.func @qkv(%x: tensor<1x3x2xf32>) -> (tensor<1x3x2xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>) {
  %wq = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wk = stablehlo.constant dense<[[5.0], [6.0]]> : tensor<2x1xf32>
  %wv = stablehlo.constant dense<[[7.0], [8.0]]> : tensor<2x1xf32>
  %q = stablehlo.dot_general %x, %wq, contracting_dims = [2] x [0] : (tensor<1x3x2xf32>, tensor<2x2xf32>) -> tensor<1x3x2xf32>
  %k = stablehlo.dot_general %x, %wk, contracting_dims = [2] x [0] : (tensor<1x3x2xf32>, tensor<2x1xf32>) -> tensor<1x3x1xf32>
  %v = stablehlo.dot_general %x, %wv, contracting_dims = [2] x [0] : (tensor<1x3x2xf32>, tensor<2x1xf32>) -> tensor<1x3x1xf32>
  return %q, %k, %v : tensor<1x3x2xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>
}

// -----

// gate and up as torch keeps them, [out, in] (contracting [1] x [1]): concatenated along axis 0; the users
// (here the SwiGLU product) read the slices.
// CHECK-LABEL: func.func @gate_up_out_in
// CHECK-SAME: (%[[X:.*]]: tensor<4x2xf32>)
// CHECK-NEXT: %[[W:.*]] = stablehlo.constant dense<{{\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00], [5.000000e+00, 6.000000e+00], [7.000000e+00, 8.000000e+00]]> : tensor<4x2xf32>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dot_general %[[X]], %[[W]], contracting_dims = [1] x [1] : (tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<4x4xf32>
// CHECK-NEXT: %[[G:.*]] = stablehlo.slice %[[D]] [0:4, 0:2]
// CHECK-NEXT: %[[U:.*]] = stablehlo.slice %[[D]] [0:4, 2:4]
// CHECK-NEXT: %[[S:.*]] = stablehlo.logistic %[[G]]
// CHECK-NEXT: stablehlo.multiply %[[S]], %[[U]]
// STATS: fuse-parallel-dots (#1)
// STATS-DAG: dots fused: 2
func.func @gate_up_out_in(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %wg = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wu = stablehlo.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %g = stablehlo.dot_general %x, %wg, contracting_dims = [1] x [1] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %u = stablehlo.dot_general %x, %wu, contracting_dims = [1] x [1] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %s = stablehlo.logistic %g : tensor<4x2xf32>
  %r = stablehlo.multiply %s, %u : tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

// Not fused: a dot of another activation, a weight laid out the other way round, a weight that is an
// argument, a batched dot. Each group has a single member, so nothing changes.
// CHECK-LABEL: func.func @nothing_to_fuse
// CHECK-COUNT-5: stablehlo.dot_general
// CHECK-NOT: stablehlo.slice
// STATS: fuse-parallel-dots (#1)
// STATS-NOT: dots fused
func.func @nothing_to_fuse(%x: tensor<4x2xf32>, %y: tensor<4x2xf32>, %w: tensor<2x2xf32>, %b: tensor<3x4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<3x4x4xf32>) {
  %wa = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wb = stablehlo.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %0 = stablehlo.dot_general %x, %wa, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %1 = stablehlo.dot_general %y, %wb, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %2 = stablehlo.dot_general %x, %wb, contracting_dims = [1] x [1] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %3 = stablehlo.dot_general %y, %w, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %4 = stablehlo.dot_general %b, %b, batching_dims = [0] x [0], contracting_dims = [2] x [2] : (tensor<3x4x2xf32>, tensor<3x4x2xf32>) -> tensor<3x4x4xf32>
  return %0, %1, %2, %3, %4 : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<3x4x4xf32>
}

// -----

// A composite's decomposition holds exactly what a fusion matched: its dots stay as they are, while the
// same two dots in the caller's body are fused.
// CHECK-LABEL: func.func @outside_composite
// CHECK: stablehlo.composite "test.pair"
// CHECK: stablehlo.dot_general {{.*}} -> tensor<4x4xf32>
// CHECK-LABEL: func.func private @test.pair.impl
// CHECK-COUNT-2: stablehlo.dot_general {{.*}} -> tensor<4x2xf32>
// CHECK-NOT: stablehlo.slice
// STATS: fuse-parallel-dots (#1)
// STATS-DAG: dots fused: 2
// STATS-DAG: fused dots made: 1
func.func @outside_composite(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) {
  %c = stablehlo.composite "test.pair" %x {decomposition = @test.pair.impl} : (tensor<4x2xf32>) -> tensor<4x2xf32>
  %wa = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wb = stablehlo.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %0 = stablehlo.dot_general %x, %wa, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %1 = stablehlo.dot_general %x, %wb, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  return %c, %0, %1 : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>
}
func.func private @test.pair.impl(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %wa = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wb = stablehlo.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %0 = stablehlo.dot_general %x, %wa, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %1 = stablehlo.dot_general %x, %wb, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
  %2 = stablehlo.add %0, %1 : tensor<4x2xf32>
  return %2 : tensor<4x2xf32>
}

// -----

// A result of dynamic size: the slices could not be written, so nothing is fused.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK-COUNT-2: stablehlo.dot_general
// CHECK-NOT: stablehlo.slice
func.func @dynamic_rows(%x: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %wa = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wb = stablehlo.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %0 = stablehlo.dot_general %x, %wa, contracting_dims = [1] x [0] : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %1 = stablehlo.dot_general %x, %wb, contracting_dims = [1] x [0] : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %0, %1 : tensor<?x2xf32>, tensor<?x2xf32>
}
