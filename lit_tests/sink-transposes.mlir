// sink-transposes: identity reshape/transpose chains become one reshape; transposes move through elementwise ops,
// slices, concatenates, constants and broadcasts until they meet their inverse, when that removes more than it adds.
// RUN: %hlo-opt %s --split-input-file --pass sink-transposes | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass sink-transposes --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS

// On a real export (a 1-layer torch-mlir Llama, fused): the 6 transposes of the layer go (the histogram counts the
// program apart from the composites' decompositions, where 5 remain), 2 reshapes with them, nothing else
// changes and the results stay the same.
// RUN: %hlo-opt %inputs/sink-transposes-llama.mlir --pass sink-transposes --op-histogram --check-numerics -o %t.llama 2>&1 | %FileCheck %s --check-prefix=HIST
// RUN: %FileCheck %s --check-prefix=MAIN < %t.llama
// HIST: after sink-transposes (#1): same results
// HIST: op histogram:
// HIST-DAG: stablehlo.constant {{ +}}15 {{ +}}15
// HIST-DAG: stablehlo.reshape {{ +}}7 {{ +}}5
// HIST-DAG: stablehlo.transpose {{ +}}6 {{ +}}0
// HIST-DAG: stablehlo.composite {{ +}}4 {{ +}}4
// HIST-DAG: stablehlo.multiply {{ +}}6 {{ +}}6
// HIST-DAG: stablehlo.slice {{ +}}4 {{ +}}4
// HIST-DAG: stablehlo.concatenate {{ +}}2 {{ +}}2
// HIST: total {{ +}}62 {{ +}}54
// HIST-NEXT: (in composite decompositions, not above) {{ +}}84 {{ +}}84
// MAIN-LABEL: func.func @main
// MAIN-NOT: stablehlo.transpose
// MAIN: stablehlo.composite "odml.scaled_dot_product_attention"
// MAIN-NOT: stablehlo.transpose
// MAIN: return
// MAIN: func.func private @odml.scaled_dot_product_attention.impl

// STATS: sink-transposes (#1)
// STATS-NEXT: ops: 7 -> 3 (-4)
// STATS: identity chains: 1
// STATS: sink-transposes (#1)
// STATS-NEXT: ops: 5 -> 5 (+0)
// STATS: sink-transposes (#1)
// STATS-NEXT: ops: 13 -> 11 (-2)
// STATS-NEXT: -2  stablehlo.transpose
// STATS-NEXT: regions: 1
// STATS-NEXT: transposes removed: 2

// The chain torch leaves after an attention composite: [B,T,N,H] -> [T,N,H] -> [N,T,H] -> [B,N,T,H] -> [B,T,N,H].
// CHECK-LABEL: func.func @identity_chain
// CHECK-SAME: (%[[X:.*]]: tensor<1x8x4x16xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.reshape %[[X]] : (tensor<1x8x4x16xf32>) -> tensor<8x64xf32>
// CHECK-NEXT: return %[[R]]
func.func @identity_chain(%x: tensor<1x8x4x16xf32>) -> tensor<8x64xf32> {
  %0 = stablehlo.reshape %x : (tensor<1x8x4x16xf32>) -> tensor<8x4x16xf32>
  %1 = stablehlo.transpose %0, dims = [1, 0, 2] : (tensor<8x4x16xf32>) -> tensor<4x8x16xf32>
  %2 = stablehlo.reshape %1 : (tensor<4x8x16xf32>) -> tensor<1x4x8x16xf32>
  %3 = stablehlo.transpose %2, dims = [0, 2, 1, 3] : (tensor<1x4x8x16xf32>) -> tensor<1x8x4x16xf32>
  %4 = stablehlo.reshape %3 : (tensor<1x8x4x16xf32>) -> tensor<8x64xf32>
  return %4 : tensor<8x64xf32>
}

// -----

// A chain that moves data stays.
// CHECK-LABEL: func.func @real_chain
// CHECK: stablehlo.transpose %{{.*}}, dims = [1, 0, 2]
func.func @real_chain(%x: tensor<1x8x4x16xf32>) -> tensor<8x64xf32> {
  %0 = stablehlo.reshape %x : (tensor<1x8x4x16xf32>) -> tensor<8x4x16xf32>
  %1 = stablehlo.transpose %0, dims = [1, 0, 2] : (tensor<8x4x16xf32>) -> tensor<4x8x16xf32>
  %2 = stablehlo.reshape %1 : (tensor<4x8x16xf32>) -> tensor<8x64xf32>
  return %2 : tensor<8x64xf32>
}

// -----

// The rotary embedding in [B,N,T,H] between two [B,T,N,H] tensors, x*cos + rotate_half(x)*sin: the slices, the
// concatenate and the broadcast of cos are renumbered, the sin table is transposed in place.
// CHECK-LABEL: func.func @rotary
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x2x4xf32>, %[[COS:.*]]: tensor<1x2x4xf32>)
// CHECK-NOT: stablehlo.transpose
// CHECK-DAG: %[[C:.*]] = stablehlo.broadcast_in_dim %[[COS]], dims = [0, 1, 3] : (tensor<1x2x4xf32>) -> tensor<1x2x2x4xf32>
// CHECK-DAG: %[[XC:.*]] = stablehlo.multiply %[[X]], %[[C]] : tensor<1x2x2x4xf32>
// CHECK-DAG: %[[LO:.*]] = stablehlo.slice %[[X]] [0:1, 0:2, 0:2, 0:2]
// CHECK-DAG: %[[HI:.*]] = stablehlo.slice %[[X]] [0:1, 0:2, 0:2, 2:4]
// CHECK-DAG: %[[NEG:.*]] = stablehlo.negate %[[HI]]
// CHECK-DAG: %[[ROT:.*]] = stablehlo.concatenate %[[NEG]], %[[LO]], dim = 3
// CHECK-DAG: %[[SIN:.*]] = stablehlo.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00], [-1.000000e+00, -2.000000e+00, -3.000000e+00, -4.000000e+00]], {{\[\[}}5.000000e+00, 6.000000e+00, 7.000000e+00, 8.000000e+00], [-5.000000e+00, -6.000000e+00, -7.000000e+00, -8.000000e+00]]]]> : tensor<1x2x2x4xf32>
// CHECK-DAG: %[[RS:.*]] = stablehlo.multiply %[[ROT]], %[[SIN]]
// CHECK: %[[OUT:.*]] = stablehlo.add %[[XC]], %[[RS]] : tensor<1x2x2x4xf32>
// CHECK-NEXT: return %[[OUT]]
func.func @rotary(%x: tensor<1x2x2x4xf32>, %cos: tensor<1x2x4xf32>) -> tensor<1x2x2x4xf32> {
  %sin = stablehlo.constant dense<[[[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]], [[-1.0, -2.0, -3.0, -4.0], [-5.0, -6.0, -7.0, -8.0]]]]> : tensor<1x2x2x4xf32>
  %t = stablehlo.transpose %x, dims = [0, 2, 1, 3] : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %c = stablehlo.broadcast_in_dim %cos, dims = [0, 2, 3] : (tensor<1x2x4xf32>) -> tensor<1x2x2x4xf32>
  %0 = stablehlo.multiply %t, %c : tensor<1x2x2x4xf32>
  %1 = stablehlo.slice %t [0:1, 0:2, 0:2, 0:2] : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x2xf32>
  %2 = stablehlo.slice %t [0:1, 0:2, 0:2, 2:4] : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x2xf32>
  %3 = stablehlo.negate %2 : tensor<1x2x2x2xf32>
  %4 = stablehlo.concatenate %3, %1, dim = 3 : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x4xf32>
  %5 = stablehlo.multiply %4, %sin : tensor<1x2x2x4xf32>
  %6 = stablehlo.add %0, %5 : tensor<1x2x2x4xf32>
  %7 = stablehlo.transpose %6, dims = [0, 2, 1, 3] : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  return %7 : tensor<1x2x2x4xf32>
}

// -----

// Two transposes by the same permutation meet at an add: one transpose comes out, after the exponential.
// CHECK-LABEL: func.func @merge
// CHECK-SAME: (%[[A:.*]]: tensor<2x3xf32>, %[[B:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: %[[S:.*]] = stablehlo.add %[[A]], %[[B]] : tensor<2x3xf32>
// CHECK-NEXT: %[[E:.*]] = stablehlo.exponential %[[S]] : tensor<2x3xf32>
// CHECK-NEXT: %[[T:.*]] = stablehlo.transpose %[[E]], dims = [1, 0]
// CHECK-NEXT: return %[[T]]
func.func @merge(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = stablehlo.transpose %a, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = stablehlo.transpose %b, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %2 = stablehlo.add %0, %1 : tensor<3x2xf32>
  %3 = stablehlo.exponential %2 : tensor<3x2xf32>
  return %3 : tensor<3x2xf32>
}

// -----

// Moving would not pay (the transposed value meets an argument and leaves through a dot): nothing changes.
// CHECK-LABEL: func.func @stays
// CHECK-NEXT: stablehlo.transpose
// CHECK-NEXT: stablehlo.add
// CHECK-NEXT: stablehlo.dot_general
func.func @stays(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>, %w: tensor<2x5xf32>) -> tensor<3x5xf32> {
  %0 = stablehlo.transpose %a, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = stablehlo.add %0, %b : tensor<3x2xf32>
  %2 = stablehlo.dot_general %1, %w, contracting_dims = [1] x [0] : (tensor<3x2xf32>, tensor<2x5xf32>) -> tensor<3x5xf32>
  return %2 : tensor<3x5xf32>
}

// -----

// A transpose whose value is only returned is not worth moving (one would come back at the return).
// CHECK-LABEL: func.func @returned
// CHECK-NEXT: stablehlo.transpose
// CHECK-NEXT: stablehlo.negate
func.func @returned(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = stablehlo.transpose %a, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = stablehlo.negate %0 : tensor<3x2xf32>
  return %1 : tensor<3x2xf32>
}

// -----

// A loop body is a block of its own: the pair inside it cancels; the value that enters the loop is left transposed
// (moving it would put a transpose back at both of its uses). A complex constant is transposed like any other.
// CHECK-LABEL: func.func @loop
// CHECK: stablehlo.transpose %arg0, dims = [1, 0]
// CHECK: do {
// CHECK-NOT: stablehlo.transpose
// CHECK: stablehlo.exponential %iterArg_0 : tensor<3x2xf32>
// CHECK-NOT: stablehlo.transpose
// CHECK: return
func.func @loop(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = stablehlo.transpose %a, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %1 = stablehlo.negate %0 : tensor<3x2xf32>
  %c = stablehlo.constant dense<0> : tensor<i32>
  %r:2 = stablehlo.while(%i = %c, %x = %1) : tensor<i32>, tensor<3x2xf32>
    cond {
      %k = stablehlo.constant dense<3> : tensor<i32>
      %p = stablehlo.compare LT, %i, %k : (tensor<i32>, tensor<i32>) -> tensor<i1>
      stablehlo.return %p : tensor<i1>
    } do {
      %one = stablehlo.constant dense<1> : tensor<i32>
      %n = stablehlo.add %i, %one : tensor<i32>
      %t = stablehlo.transpose %x, dims = [1, 0] : (tensor<3x2xf32>) -> tensor<2x3xf32>
      %e = stablehlo.exponential %t : tensor<2x3xf32>
      %b = stablehlo.transpose %e, dims = [1, 0] : (tensor<2x3xf32>) -> tensor<3x2xf32>
      %y = stablehlo.add %b, %1 : tensor<3x2xf32>
      stablehlo.return %n, %y : tensor<i32>, tensor<3x2xf32>
    }
  return %r#1 : tensor<3x2xf32>
}

// -----

// CHECK-LABEL: func.func @complex
// CHECK-SAME: (%[[A:.*]]: tensor<2x3xcomplex<f32>>)
// CHECK-NEXT: %[[C:.*]] = stablehlo.constant dense<{{\[\[}}(1.000000e+00,2.000000e+00), (1.000000e+00,2.000000e+00), (1.000000e+00,2.000000e+00)], {{\[}}(3.000000e+00,4.000000e+00), (3.000000e+00,4.000000e+00), (3.000000e+00,4.000000e+00)]]> : tensor<2x3xcomplex<f32>>
// CHECK-NEXT: %[[M:.*]] = stablehlo.multiply %[[A]], %[[C]]
// CHECK-NEXT: return %[[M]]
func.func @complex(%a: tensor<2x3xcomplex<f32>>) -> tensor<2x3xcomplex<f32>> {
  %c = stablehlo.constant dense<[[(1.0, 2.0), (3.0, 4.0)], [(1.0, 2.0), (3.0, 4.0)], [(1.0, 2.0), (3.0, 4.0)]]> : tensor<3x2xcomplex<f32>>
  %0 = stablehlo.transpose %a, dims = [1, 0] : (tensor<2x3xcomplex<f32>>) -> tensor<3x2xcomplex<f32>>
  %1 = stablehlo.multiply %0, %c : tensor<3x2xcomplex<f32>>
  %2 = stablehlo.transpose %1, dims = [1, 0] : (tensor<3x2xcomplex<f32>>) -> tensor<2x3xcomplex<f32>>
  return %2 : tensor<2x3xcomplex<f32>>
}
