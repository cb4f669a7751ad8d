// RUN: %hlo-opt %s --split-input-file --pass fold-constants | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass 'fold-constants{max-elements=4}' | %FileCheck %s --check-prefix=SMALL

// Elementwise chains fold to one constant; ops on arguments stay.
// CHECK-LABEL: func.func @elementwise
// CHECK-DAG: %[[C:.*]] = stablehlo.constant dense<[1.000000e+00, 4.000000e+00, 9.000000e+00]> : tensor<3xf32>
// CHECK: %[[S:.*]] = stablehlo.add %arg0, %[[C]]
// CHECK-NEXT: return %[[S]]
func.func @elementwise(%x: tensor<3xf32>) -> tensor<3xf32> {
  %a = stablehlo.constant dense<[1.0, -2.0, 3.0]> : tensor<3xf32>
  %0 = stablehlo.multiply %a, %a : tensor<3xf32>
  %1 = stablehlo.abs %0 : tensor<3xf32>
  %2 = stablehlo.add %x, %1 : tensor<3xf32>
  return %2 : tensor<3xf32>
}

// -----

// A broadcast of a scalar stays a splat however big: nothing is materialized.
// CHECK-LABEL: func.func @splat_broadcast
// CHECK: %[[C:.*]] = stablehlo.constant dense<5.000000e-01> : tensor<1024x1024x64xf32>
// CHECK-NEXT: return %[[C]]
// SMALL-LABEL: func.func @splat_broadcast
// SMALL: stablehlo.constant dense<5.000000e-01> : tensor<1024x1024x64xf32>
func.func @splat_broadcast() -> tensor<1024x1024x64xf32> {
  %c = stablehlo.constant dense<2.0> : tensor<f32>
  %r = stablehlo.divide %c, %c : tensor<f32>
  %h = stablehlo.constant dense<0.5> : tensor<f32>
  %m = stablehlo.multiply %r, %h : tensor<f32>
  %b = stablehlo.broadcast_in_dim %m, dims = [] : (tensor<f32>) -> tensor<1024x1024x64xf32>
  return %b : tensor<1024x1024x64xf32>
}

// -----

// A causal mask built from iota/compare/select folds to a constant; with max-elements=4 it does not.
// CHECK-LABEL: func.func @causal_mask
// CHECK: %[[M:.*]] = stablehlo.constant dense<{{\[\[}}0.000000e+00, 0xFF800000, 0xFF800000], [0.000000e+00, 0.000000e+00, 0xFF800000], [0.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<3x3xf32>
// CHECK-NEXT: return %[[M]]
// SMALL-LABEL: func.func @causal_mask
// SMALL: stablehlo.compare
// SMALL: stablehlo.select
func.func @causal_mask() -> tensor<3x3xf32> {
  %i = stablehlo.iota dim = 0 : tensor<3x3xi64>
  %j = stablehlo.iota dim = 1 : tensor<3x3xi64>
  %p = stablehlo.compare GE, %i, %j, SIGNED : (tensor<3x3xi64>, tensor<3x3xi64>) -> tensor<3x3xi1>
  %z = stablehlo.constant dense<0.0> : tensor<3x3xf32>
  %n = stablehlo.constant dense<0xFF800000> : tensor<3x3xf32>
  %m = stablehlo.select %p, %z, %n : tensor<3x3xi1>, tensor<3x3xf32>
  return %m : tensor<3x3xf32>
}

// -----

// dynamic_iota with a constant shape, convert, reshape, transpose, slice, concatenate, pad, reverse.
// CHECK-LABEL: func.func @structural
// CHECK-DAG: stablehlo.constant dense<{{\[\[}}0.000000e+00, 2.000000e+00], [1.000000e+00, 3.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG: stablehlo.constant dense<[9, 1, 2, 9, 9]> : tensor<5xi32>
// CHECK-DAG: stablehlo.constant dense<[3, 2, 1, 0]> : tensor<4xi64>
// CHECK-NOT: stablehlo.dynamic_iota
// CHECK-NOT: stablehlo.transpose
func.func @structural() -> (tensor<2x2xf32>, tensor<5xi32>, tensor<4xi64>) {
  %s = stablehlo.constant dense<[4]> : tensor<1xi64>
  %i = stablehlo.dynamic_iota %s, dim = 0 : (tensor<1xi64>) -> tensor<4xi64>
  %f = stablehlo.convert %i : (tensor<4xi64>) -> tensor<4xf32>
  %r = stablehlo.reshape %f : (tensor<4xf32>) -> tensor<2x2xf32>
  %t = stablehlo.transpose %r, dims = [1, 0] : (tensor<2x2xf32>) -> tensor<2x2xf32>
  %c = stablehlo.constant dense<[0, 1, 2, 3]> : tensor<4xi32>
  %sl = stablehlo.slice %c [1:3] : (tensor<4xi32>) -> tensor<2xi32>
  %nine = stablehlo.constant dense<9> : tensor<i32>
  %p = stablehlo.pad %sl, %nine, low = [1], high = [2], interior = [0] : (tensor<2xi32>, tensor<i32>) -> tensor<5xi32>
  %rev = stablehlo.reverse %i, dims = [0] : tensor<4xi64>
  return %t, %p, %rev : tensor<2x2xf32>, tensor<5xi32>, tensor<4xi64>
}

// -----

// reduce (sum, max), dot_general, dynamic_slice with constant indices, gather of a constant table.
// CHECK-LABEL: func.func @compute
// CHECK-DAG: stablehlo.constant dense<[6.000000e+00, 1.500000e+01]> : tensor<2xf32>
// CHECK-DAG: stablehlo.constant dense<[4.000000e+00, 5.000000e+00, 6.000000e+00]> : tensor<3xf32>
// CHECK-DAG: stablehlo.constant dense<{{\[\[}}1.400000e+01, 3.200000e+01], [3.200000e+01, 7.700000e+01]]> : tensor<2x2xf32>
// CHECK-DAG: stablehlo.constant dense<{{\[\[}}5.000000e+00, 6.000000e+00]]> : tensor<1x2xf32>
// CHECK-DAG: stablehlo.constant dense<{{\[\[}}4.000000e+00, 5.000000e+00, 6.000000e+00], [1.000000e+00, 2.000000e+00, 3.000000e+00]]> : tensor<2x3xf32>
// CHECK-NOT: stablehlo.reduce
// CHECK-NOT: stablehlo.gather
func.func @compute() -> (tensor<2xf32>, tensor<3xf32>, tensor<2x2xf32>, tensor<1x2xf32>, tensor<2x3xf32>) {
  %a = stablehlo.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %sum = stablehlo.reduce(%a init: %z) applies stablehlo.add across dimensions = [1] : (tensor<2x3xf32>, tensor<f32>) -> tensor<2xf32>
  %max = stablehlo.reduce(%a init: %ninf) applies stablehlo.maximum across dimensions = [0] : (tensor<2x3xf32>, tensor<f32>) -> tensor<3xf32>
  %d = stablehlo.dot_general %a, %a, contracting_dims = [1] x [1] : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x2xf32>
  %one = stablehlo.constant dense<1> : tensor<i32>
  %ds = stablehlo.dynamic_slice %a, %one, %one, sizes = [1, 2] : (tensor<2x3xf32>, tensor<i32>, tensor<i32>) -> tensor<1x2xf32>
  %idx = stablehlo.constant dense<[1, 0]> : tensor<2xi32>
  %g = "stablehlo.gather"(%a, %idx) {dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, slice_sizes = array<i64: 1, 3>} : (tensor<2x3xf32>, tensor<2xi32>) -> tensor<2x3xf32>
  return %sum, %max, %d, %ds, %g : tensor<2xf32>, tensor<3xf32>, tensor<2x2xf32>, tensor<1x2xf32>, tensor<2x3xf32>
}

// -----

// arith.constant becomes stablehlo.constant.
// CHECK-LABEL: func.func @arith
// CHECK: %[[C:.*]] = stablehlo.constant dense<[1, 2]> : tensor<2xi64>
// CHECK: stablehlo.add %arg0, %[[C]]
// CHECK-NOT: arith.constant
func.func @arith(%x: tensor<2xi64>) -> tensor<2xi64> {
  %c = arith.constant dense<[1, 2]> : tensor<2xi64>
  %0 = stablehlo.add %x, %c : tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// Negative cases: XLA's own answers for integer division by zero and float->int conversion of NaN
// are implementation-defined, so those stay; so do results over max-elements (SMALL).
// CHECK-LABEL: func.func @not_folded
// CHECK: stablehlo.divide
// CHECK: stablehlo.convert
// SMALL-LABEL: func.func @not_folded
// SMALL: stablehlo.iota
func.func @not_folded() -> (tensor<2xi32>, tensor<2xi32>, tensor<8xi32>) {
  %a = stablehlo.constant dense<[7, 8]> : tensor<2xi32>
  %z = stablehlo.constant dense<[1, 0]> : tensor<2xi32>
  %d = stablehlo.divide %a, %z : tensor<2xi32>
  %n = stablehlo.constant dense<[0x7FC00000, 1.0]> : tensor<2xf32>
  %c = stablehlo.convert %n : (tensor<2xf32>) -> tensor<2xi32>
  %i = stablehlo.iota dim = 0 : tensor<8xi32>
  return %d, %c, %i : tensor<2xi32>, tensor<2xi32>, tensor<8xi32>
}

// -----

// A cumulative sum written as reduce_window (how torch exports cumsum) folds on constants.
// CHECK-LABEL: func.func @cumsum
// CHECK: stablehlo.constant dense<{{\[\[}}1, 3, 6, 10]]> : tensor<1x4xi64>
// CHECK-NOT: reduce_window
func.func @cumsum() -> tensor<1x4xi64> {
  %x = stablehlo.constant dense<[[1, 2, 3, 4]]> : tensor<1x4xi64>
  %z = stablehlo.constant dense<0> : tensor<i64>
  %0 = "stablehlo.reduce_window"(%x, %z) <{padding = dense<[[0, 0], [3, 0]]> : tensor<2x2xi64>, window_dimensions = array<i64: 1, 4>, window_strides = array<i64: 1, 1>}> ({
  ^bb0(%a: tensor<i64>, %b: tensor<i64>):
    %s = stablehlo.add %a, %b : tensor<i64>
    stablehlo.return %s : tensor<i64>
  }) : (tensor<1x4xi64>, tensor<i64>) -> tensor<1x4xi64>
  return %0 : tensor<1x4xi64>
}

// -----

// maximum/minimum as XLA computes them: +0.0 beats -0.0 in max, -0.0 wins min, in either order, so
// 1 / max(0.0, -0.0) is +inf (numpy's tie rule gave the second argument, and -inf).
// CHECK-LABEL: func.func @signed_zeros
// CHECK-DAG: stablehlo.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK-DAG: stablehlo.constant dense<-0.000000e+00> : tensor<2xf32>
// CHECK-DAG: stablehlo.constant dense<0x7F800000> : tensor<f32>
func.func @signed_zeros() -> (tensor<2xf32>, tensor<2xf32>, tensor<f32>) {
  %a = stablehlo.constant dense<[0.0, -0.0]> : tensor<2xf32>
  %b = stablehlo.constant dense<[-0.0, 0.0]> : tensor<2xf32>
  %0 = stablehlo.maximum %a, %b : tensor<2xf32>
  %1 = stablehlo.minimum %a, %b : tensor<2xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %n = stablehlo.constant dense<-0.0> : tensor<f32>
  %one = stablehlo.constant dense<1.0> : tensor<f32>
  %m = stablehlo.maximum %z, %n : tensor<f32>
  %2 = stablehlo.divide %one, %m : tensor<f32>
  return %0, %1, %2 : tensor<2xf32>, tensor<2xf32>, tensor<f32>
}

// -----

// 4-bit integers are integers: divide truncates, UNSIGNED compares read the bits unsigned, reduce and
// i4 <-> ui4 converts fold.
// CHECK-LABEL: func.func @four_bit
// CHECK-DAG: stablehlo.constant dense<-3> : tensor<2xi4>
// CHECK-DAG: stablehlo.constant dense<[false, true]> : tensor<2xi1>
// CHECK-DAG: stablehlo.constant dense<0> : tensor<i4>
// CHECK-DAG: stablehlo.constant dense<[9, 7]> : tensor<2xui4>
// CHECK-NOT: stablehlo.divide
// CHECK-NOT: stablehlo.compare
// CHECK-NOT: stablehlo.reduce
// CHECK-NOT: stablehlo.convert
func.func @four_bit() -> (tensor<2xi4>, tensor<2xi1>, tensor<i4>, tensor<2xui4>) {
  %a = stablehlo.constant dense<[-7, 7]> : tensor<2xi4>
  %b = stablehlo.constant dense<[2, -2]> : tensor<2xi4>
  %0 = stablehlo.divide %a, %b : tensor<2xi4>
  %1 = stablehlo.compare LT, %a, %b, UNSIGNED : (tensor<2xi4>, tensor<2xi4>) -> tensor<2xi1>
  %z = stablehlo.constant dense<0> : tensor<i4>
  %2 = stablehlo.reduce(%a init: %z) applies stablehlo.add across dimensions = [0] : (tensor<2xi4>, tensor<i4>) -> tensor<i4>
  %3 = stablehlo.convert %a : (tensor<2xi4>) -> tensor<2xui4>
  return %0, %1, %2, %3 : tensor<2xi4>, tensor<2xi1>, tensor<i4>, tensor<2xui4>
}

// -----

// Types the folder does not claim are left alone (the module is kept, the rest folds); ui64 values of
// 2^63 and above fold.
// CHECK-LABEL: func.func @unclaimed
// CHECK-DAG: stablehlo.negate %{{.*}} : tensor<2xcomplex<f32>>
// CHECK-DAG: stablehlo.add %{{.*}} : tensor<2xi2>
// CHECK-DAG: stablehlo.multiply %{{.*}} : tensor<2xf8E8M0FNU>
// CHECK-DAG: stablehlo.add %{{.*}} : tensor<2xf8E3M4>
// CHECK-DAG: stablehlo.constant dense<[18446744073709551614, 0]> : tensor<2xui64>
// CHECK-DAG: stablehlo.constant dense<18446744073709551615> : tensor<2xui64>
func.func @unclaimed() -> (tensor<2xcomplex<f32>>, tensor<2xi2>, tensor<2xf8E8M0FNU>, tensor<2xf8E3M4>, tensor<2xui64>, tensor<2xui64>) {
  %c = stablehlo.constant dense<[(1.0, 2.0), (3.0, -4.0)]> : tensor<2xcomplex<f32>>
  %0 = stablehlo.negate %c : tensor<2xcomplex<f32>>
  %i = stablehlo.constant dense<[1, -1]> : tensor<2xi2>
  %1 = stablehlo.add %i, %i : tensor<2xi2>
  %e = stablehlo.constant dense<[1.0, 2.0]> : tensor<2xf8E8M0FNU>
  %2 = stablehlo.multiply %e, %e : tensor<2xf8E8M0FNU>
  %f = stablehlo.constant dense<[1.0, 2.0]> : tensor<2xf8E3M4>
  %3 = stablehlo.add %f, %f : tensor<2xf8E3M4>
  %u = stablehlo.constant dense<[18446744073709551615, 9223372036854775808]> : tensor<2xui64>
  %4 = stablehlo.add %u, %u : tensor<2xui64>
  %one = stablehlo.constant dense<1> : tensor<2xui64>
  %5 = stablehlo.negate %one : tensor<2xui64>
  return %0, %1, %2, %3, %4, %5 : tensor<2xcomplex<f32>>, tensor<2xi2>, tensor<2xf8E8M0FNU>, tensor<2xf8E3M4>, tensor<2xui64>, tensor<2xui64>
}

// -----

// Splats stay splats: a slice of a 2^28-element splat, a sum of a 2^26-element broadcast computed from
// its one value (0.5 * 2^26 = 2^25), an integer sum in closed form; a reduce_window over the big splat
// is more work than folding does, so it stays.
// CHECK-LABEL: func.func @splat_work
// CHECK-DAG: stablehlo.constant dense<3> : tensor<268435455xi8>
// CHECK-DAG: stablehlo.constant dense<0x4C000000> : tensor<f32>
// CHECK-DAG: stablehlo.constant dense<458752> : tensor<i32>
// CHECK-DAG: stablehlo.reduce_window
// CHECK-NOT: stablehlo.slice
// SMALL-LABEL: func.func @splat_work
// SMALL-DAG: stablehlo.constant dense<3> : tensor<268435455xi8>
// SMALL-DAG: stablehlo.constant dense<0x4C000000> : tensor<f32>
func.func @splat_work() -> (tensor<268435455xi8>, tensor<f32>, tensor<i32>, tensor<8191x8191xf32>) {
  %big = stablehlo.constant dense<3> : tensor<268435456xi8>
  %0 = stablehlo.slice %big [1:268435456] : (tensor<268435456xi8>) -> tensor<268435455xi8>
  %c = stablehlo.constant dense<0.5> : tensor<f32>
  %b = stablehlo.broadcast_in_dim %c, dims = [] : (tensor<f32>) -> tensor<8192x8192xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %1 = stablehlo.reduce(%b init: %z) applies stablehlo.add across dimensions = [0, 1] : (tensor<8192x8192xf32>, tensor<f32>) -> tensor<f32>
  %ic = stablehlo.constant dense<7> : tensor<65536xi32>
  %zi = stablehlo.constant dense<0> : tensor<i32>
  %2 = stablehlo.reduce(%ic init: %zi) applies stablehlo.add across dimensions = [0] : (tensor<65536xi32>, tensor<i32>) -> tensor<i32>
  %3 = "stablehlo.reduce_window"(%b, %z) ({
    ^bb0(%x: tensor<f32>, %y: tensor<f32>):
      %m = stablehlo.add %x, %y : tensor<f32>
      stablehlo.return %m : tensor<f32>
  }) {window_dimensions = array<i64: 2, 2>} : (tensor<8192x8192xf32>, tensor<f32>) -> tensor<8191x8191xf32>
  return %0, %1, %2, %3 : tensor<268435455xi8>, tensor<f32>, tensor<i32>, tensor<8191x8191xf32>
}

// -----

// A torch Linear's W^T read by one dot stays a transpose (simplify makes the dot read W itself: no copy of
// the weight); the same transpose with a second user, or read by a non-dot, folds.
// CHECK-LABEL: func.func @weight_transposed_for_a_dot
// CHECK: %[[W:.*]] = stablehlo.constant dense<{{.*}}> : tensor<3x2xf32>
// CHECK-NEXT: %[[T:.*]] = stablehlo.transpose %[[W]], dims = [1, 0]
// CHECK-NEXT: stablehlo.dot_general %arg0, %[[T]]
func.func @weight_transposed_for_a_dot(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %t = stablehlo.transpose %w, dims = [1, 0] : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %y = stablehlo.dot_general %x, %t, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// CHECK-LABEL: func.func @weight_transposed_twice_used
// CHECK-NOT: stablehlo.transpose
// CHECK: stablehlo.constant dense<{{\[\[}}1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
func.func @weight_transposed_twice_used(%x: tensor<4x2xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>) {
  %w = stablehlo.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %t = stablehlo.transpose %w, dims = [1, 0] : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %y = stablehlo.dot_general %x, %t, contracting_dims = [1] x [0] : (tensor<4x2xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  return %y, %t : tensor<4x3xf32>, tensor<2x3xf32>
}

// -----

// Negative: a sum and an OR of the same constant, same init and dimensions, are two evaluations (a reduce's
// body is what says what it computes): [1+5+2, 4+3+6] and [1|5|2, 4|3|6].
// CHECK-LABEL: func.func @reduce_bodies
// CHECK-DAG: stablehlo.constant dense<[8, 13]> : tensor<2xi32>
// CHECK-DAG: stablehlo.constant dense<7> : tensor<2xi32>
// CHECK-NOT: stablehlo.reduce
func.func @reduce_bodies() -> (tensor<2xi32>, tensor<2xi32>) {
  %c = stablehlo.constant dense<[[1, 5, 2], [4, 3, 6]]> : tensor<2x3xi32>
  %z = stablehlo.constant dense<0> : tensor<i32>
  %s = stablehlo.reduce(%c init: %z) applies stablehlo.add across dimensions = [1] : (tensor<2x3xi32>, tensor<i32>) -> tensor<2xi32>
  %o = stablehlo.reduce(%c init: %z) applies stablehlo.or across dimensions = [1] : (tensor<2x3xi32>, tensor<i32>) -> tensor<2xi32>
  return %s, %o : tensor<2xi32>, tensor<2xi32>
}
