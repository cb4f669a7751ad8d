// RUN: %hlo-opt %s --split-input-file --pass simplify | %FileCheck %s

// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %z = stablehlo.constant dense<0.0> : tensor<4xf32>
  %o = stablehlo.constant dense<1.0> : tensor<4xf32>
  %0 = stablehlo.add %z, %x : tensor<4xf32>
  %1 = stablehlo.subtract %x, %z : tensor<4xf32>
  %2 = stablehlo.multiply %o, %x : tensor<4xf32>
  %3 = stablehlo.divide %x, %o : tensor<4xf32>
  %n = stablehlo.negate %x : tensor<4xf32>
  %4 = stablehlo.negate %n : tensor<4xf32>
  return %0, %1, %2, %3, %4 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// x*0 is 0 for integers; for floats it is not (inf*0 = nan), and 0-x and x/0 are not identities.
// CHECK-LABEL: func.func @zeros
// CHECK-DAG: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<4xi32>
// CHECK-DAG: %[[F:.*]] = stablehlo.multiply %arg1, %{{.*}} : tensor<4xf32>
// CHECK-DAG: %[[S:.*]] = stablehlo.subtract %{{.*}}, %arg1
// CHECK: return %[[Z]], %[[F]], %[[S]]
func.func @zeros(%i: tensor<4xi32>, %x: tensor<4xf32>) -> (tensor<4xi32>, tensor<4xf32>, tensor<4xf32>) {
  %zi = stablehlo.constant dense<0> : tensor<4xi32>
  %zf = stablehlo.constant dense<0.0> : tensor<4xf32>
  %0 = stablehlo.multiply %i, %zi : tensor<4xi32>
  %1 = stablehlo.multiply %x, %zf : tensor<4xf32>
  %2 = stablehlo.subtract %zf, %x : tensor<4xf32>
  return %0, %1, %2 : tensor<4xi32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Converts: to the same type goes; a chain through a wider type collapses; a lossy chain stays.
// CHECK-LABEL: func.func @converts
// CHECK-DAG: %[[W:.*]] = stablehlo.convert %arg0 : (tensor<4xf16>) -> tensor<4xf64>
// CHECK-DAG: %[[L1:.*]] = stablehlo.convert %arg1 : (tensor<4xf32>) -> tensor<4xf16>
// CHECK-DAG: %[[L2:.*]] = stablehlo.convert %[[L1]] : (tensor<4xf16>) -> tensor<4xf32>
// CHECK: return %[[W]], %arg0, %[[L2]], %arg1
func.func @converts(%h: tensor<4xf16>, %f: tensor<4xf32>) -> (tensor<4xf64>, tensor<4xf16>, tensor<4xf32>, tensor<4xf32>) {
  %0 = stablehlo.convert %h : (tensor<4xf16>) -> tensor<4xf32>
  %1 = stablehlo.convert %0 : (tensor<4xf32>) -> tensor<4xf64>
  %2 = stablehlo.convert %0 : (tensor<4xf32>) -> tensor<4xf16>
  %3 = stablehlo.convert %f : (tensor<4xf32>) -> tensor<4xf16>
  %4 = stablehlo.convert %3 : (tensor<4xf16>) -> tensor<4xf32>
  %5 = stablehlo.convert %f : (tensor<4xf32>) -> tensor<4xf32>
  return %1, %2, %4, %5 : tensor<4xf64>, tensor<4xf16>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Reshape of reshape, reshape to the same shape, transpose of transpose (composed, or gone when the
// composition is the identity), identity transpose.
// CHECK-LABEL: func.func @shapes
// CHECK-DAG: %[[R:.*]] = stablehlo.reshape %arg0 : (tensor<2x3x4xf32>) -> tensor<4x6xf32>
// CHECK-DAG: %[[T:.*]] = stablehlo.transpose %arg0, dims = [2, 0, 1]
// CHECK: return %[[R]], %arg0, %[[T]], %arg0
func.func @shapes(%x: tensor<2x3x4xf32>) -> (tensor<4x6xf32>, tensor<2x3x4xf32>, tensor<4x2x3xf32>, tensor<2x3x4xf32>) {
  %r1 = stablehlo.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %r2 = stablehlo.reshape %r1 : (tensor<24xf32>) -> tensor<4x6xf32>
  %r3 = stablehlo.reshape %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  %t1 = stablehlo.transpose %x, dims = [1, 0, 2] : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  %t2 = stablehlo.transpose %t1, dims = [2, 1, 0] : (tensor<3x2x4xf32>) -> tensor<4x2x3xf32>
  %t3 = stablehlo.transpose %t1, dims = [1, 0, 2] : (tensor<3x2x4xf32>) -> tensor<2x3x4xf32>
  return %r2, %r3, %t2, %t3 : tensor<4x6xf32>, tensor<2x3x4xf32>, tensor<4x2x3xf32>, tensor<2x3x4xf32>
}

// -----

// Broadcast of broadcast composes; a broadcast to the same shape goes; a real broadcast stays.
// CHECK-LABEL: func.func @broadcasts
// CHECK-DAG: %[[B:.*]] = stablehlo.broadcast_in_dim %arg0, dims = [2] : (tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK: return %[[B]], %arg0
func.func @broadcasts(%x: tensor<4xf32>) -> (tensor<2x3x4xf32>, tensor<4xf32>) {
  %b1 = stablehlo.broadcast_in_dim %x, dims = [1] : (tensor<4xf32>) -> tensor<3x4xf32>
  %b2 = stablehlo.broadcast_in_dim %b1, dims = [1, 2] : (tensor<3x4xf32>) -> tensor<2x3x4xf32>
  %b3 = stablehlo.broadcast_in_dim %x, dims = [0] : (tensor<4xf32>) -> tensor<4xf32>
  return %b2, %b3 : tensor<2x3x4xf32>, tensor<4xf32>
}

// -----

// Full slices, one-operand concatenates, constant selects, a dynamic_update_slice over everything.
// CHECK-LABEL: func.func @structural
// CHECK-DAG: %[[S:.*]] = stablehlo.slice %arg0 [0:2, 1:3]
// CHECK: return %arg0, %arg0, %arg1, %[[S]], %arg1
func.func @structural(%x: tensor<2x3xf32>, %y: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>, tensor<2x3xf32>) {
  %s = stablehlo.slice %x [0:2, 0:3] : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %c = stablehlo.concatenate %x, dim = 0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %f = stablehlo.constant dense<false> : tensor<2x3xi1>
  %sel = stablehlo.select %f, %x, %y : tensor<2x3xi1>, tensor<2x3xf32>
  %part = stablehlo.slice %x [0:2, 1:3] : (tensor<2x3xf32>) -> tensor<2x2xf32>
  %k = stablehlo.constant dense<0> : tensor<i32>
  %u = stablehlo.dynamic_update_slice %x, %y, %k, %k : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<i32>, tensor<i32>) -> tensor<2x3xf32>
  return %s, %c, %sel, %part, %u : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>, tensor<2x3xf32>
}

// -----

// compare(x, x): known for integers; for floats NaN != NaN, so it stays.
// CHECK-LABEL: func.func @compares
// CHECK-DAG: %[[T:.*]] = stablehlo.constant dense<true> : tensor<4xi1>
// CHECK-DAG: %[[F:.*]] = stablehlo.constant dense<false> : tensor<4xi1>
// CHECK-DAG: %[[K:.*]] = stablehlo.compare  EQ, %arg1, %arg1
// CHECK: return %[[T]], %[[F]], %[[K]]
func.func @compares(%i: tensor<4xi32>, %x: tensor<4xf32>) -> (tensor<4xi1>, tensor<4xi1>, tensor<4xi1>) {
  %0 = stablehlo.compare LE, %i, %i, SIGNED : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi1>
  %1 = stablehlo.compare LT, %i, %i, SIGNED : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi1>
  %2 = stablehlo.compare EQ, %x, %x, FLOAT : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  return %0, %1, %2 : tensor<4xi1>, tensor<4xi1>, tensor<4xi1>
}

// -----

// Dead ops go; duplicate constants become one.
// CHECK-LABEL: func.func @dead_and_duplicates
// CHECK-COUNT-1: stablehlo.constant
// CHECK-NOT: stablehlo.exponential
func.func @dead_and_duplicates(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = stablehlo.constant dense<3.0> : tensor<4xf32>
  %b = stablehlo.constant dense<3.0> : tensor<4xf32>
  %dead = stablehlo.exponential %x : tensor<4xf32>
  %0 = stablehlo.multiply %x, %a : tensor<4xf32>
  %1 = stablehlo.multiply %0, %b : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Boolean identities; a reshape that only adds unit dims folds into the broadcast after it.
// CHECK-LABEL: func.func @masks_and_broadcasts
// CHECK-DAG: %[[B:.*]] = stablehlo.broadcast_in_dim %arg1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x16xf32>
// CHECK: return %arg0, %arg0, %[[B]]
func.func @masks_and_broadcasts(%p: tensor<4xi1>, %r: tensor<2x8xf32>) -> (tensor<4xi1>, tensor<4xi1>, tensor<2x8x16xf32>) {
  %t = stablehlo.constant dense<true> : tensor<4xi1>
  %f = stablehlo.constant dense<false> : tensor<4xi1>
  %0 = stablehlo.and %t, %p : tensor<4xi1>
  %1 = stablehlo.or %p, %f : tensor<4xi1>
  %2 = stablehlo.reshape %r : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  return %0, %1, %3 : tensor<4xi1>, tensor<4xi1>, tensor<2x8x16xf32>
}

// -----

// A linear layer as exporters write it (flatten, 2-D dot, unflatten) becomes one dot on the 3-D input;
// not when the flattened product has another user, or the unflatten is not the inverse.
// CHECK-LABEL: func.func @linear
// CHECK-DAG: %[[D:.*]] = stablehlo.dot_general %arg0, %arg1, contracting_dims = [2] x [0] : (tensor<2x8x64xf32>, tensor<64x32xf32>) -> tensor<2x8x32xf32>
// CHECK-DAG: %[[F:.*]] = stablehlo.reshape %arg0 : (tensor<2x8x64xf32>) -> tensor<16x64xf32>
// CHECK-DAG: %[[E:.*]] = stablehlo.dot_general %[[F]], %arg1, contracting_dims = [1] x [0] {keep}
// CHECK-DAG: %[[R:.*]] = stablehlo.reshape %[[E]] : (tensor<16x32xf32>) -> tensor<2x8x32xf32>
// CHECK: return %[[D]], %[[R]], %[[E]]
func.func @linear(%x: tensor<2x8x64xf32>, %w: tensor<64x32xf32>) -> (tensor<2x8x32xf32>, tensor<2x8x32xf32>, tensor<16x32xf32>) {
  %0 = stablehlo.reshape %x : (tensor<2x8x64xf32>) -> tensor<16x64xf32>
  %1 = stablehlo.dot_general %0, %w, contracting_dims = [1] x [0] : (tensor<16x64xf32>, tensor<64x32xf32>) -> tensor<16x32xf32>
  %2 = stablehlo.reshape %1 : (tensor<16x32xf32>) -> tensor<2x8x32xf32>
  %3 = stablehlo.dot_general %0, %w, contracting_dims = [1] x [0] {keep} : (tensor<16x64xf32>, tensor<64x32xf32>) -> tensor<16x32xf32>
  %4 = stablehlo.reshape %3 : (tensor<16x32xf32>) -> tensor<2x8x32xf32>
  return %2, %4, %3 : tensor<2x8x32xf32>, tensor<2x8x32xf32>, tensor<16x32xf32>
}

// -----

// x - 0 goes only for +0: x - (-0.0) is +0.0 when x is -0.0, not x.
// CHECK-LABEL: func.func @signed_zero
// CHECK: %[[S:.*]] = stablehlo.subtract %arg0, %{{.*}}
// CHECK: return %arg0, %[[S]]
func.func @signed_zero(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %p = stablehlo.constant dense<0.0> : tensor<2xf32>
  %n = stablehlo.constant dense<-0.0> : tensor<2xf32>
  %0 = stablehlo.subtract %x, %p : tensor<2xf32>
  %1 = stablehlo.subtract %x, %n : tensor<2xf32>
  return %0, %1 : tensor<2xf32>, tensor<2xf32>
}

// -----

// Convert chains merge only when the direct convert computes the same on every value (issue 7):
// ui8 -> f32 -> i8 saturates where ui8 -> i8 wraps, so it stays; i8 -> f32 -> i16 never leaves i16's range
// and merges; ui8 -> i16 -> f32 holds every value exactly and merges; f8E5M2 -> f8E5M2FNUZ loses inf and
// -0.0, so that chain stays; bool -> anything -> anything merges.
// CHECK-LABEL: func.func @convert_chains
// CHECK-DAG: %[[S1:.*]] = stablehlo.convert %arg0 : (tensor<3xui8>) -> tensor<3xf32>
// CHECK-DAG: %[[S2:.*]] = stablehlo.convert %[[S1]] : (tensor<3xf32>) -> tensor<3xi8>
// CHECK-DAG: %[[M1:.*]] = stablehlo.convert %arg1 : (tensor<3xi8>) -> tensor<3xi16>
// CHECK-DAG: %[[M2:.*]] = stablehlo.convert %arg0 : (tensor<3xui8>) -> tensor<3xf32>
// CHECK-DAG: %[[F1:.*]] = stablehlo.convert %arg2 : (tensor<3xf8E5M2>) -> tensor<3xf8E5M2FNUZ>
// CHECK-DAG: %[[F2:.*]] = stablehlo.convert %[[F1]] : (tensor<3xf8E5M2FNUZ>) -> tensor<3xf32>
// CHECK-DAG: %[[B:.*]] = stablehlo.convert %arg3 : (tensor<3xi1>) -> tensor<3xi4>
// CHECK: return %[[S2]], %[[M1]], %[[M2]], %[[F2]], %[[B]]
func.func @convert_chains(%u: tensor<3xui8>, %s: tensor<3xi8>, %e: tensor<3xf8E5M2>, %p: tensor<3xi1>)
    -> (tensor<3xi8>, tensor<3xi16>, tensor<3xf32>, tensor<3xf32>, tensor<3xi4>) {
  %0 = stablehlo.convert %u : (tensor<3xui8>) -> tensor<3xf32>
  %1 = stablehlo.convert %0 : (tensor<3xf32>) -> tensor<3xi8>
  %2 = stablehlo.convert %s : (tensor<3xi8>) -> tensor<3xf32>
  %3 = stablehlo.convert %2 : (tensor<3xf32>) -> tensor<3xi16>
  %4 = stablehlo.convert %u : (tensor<3xui8>) -> tensor<3xi16>
  %5 = stablehlo.convert %4 : (tensor<3xi16>) -> tensor<3xf32>
  %6 = stablehlo.convert %e : (tensor<3xf8E5M2>) -> tensor<3xf8E5M2FNUZ>
  %7 = stablehlo.convert %6 : (tensor<3xf8E5M2FNUZ>) -> tensor<3xf32>
  %8 = stablehlo.convert %p : (tensor<3xi1>) -> tensor<3xf32>
  %9 = stablehlo.convert %8 : (tensor<3xf32>) -> tensor<3xi4>
  return %1, %3, %5, %7, %9 : tensor<3xi8>, tensor<3xi16>, tensor<3xf32>, tensor<3xf32>, tensor<3xi4>
}

// -----

// Constants of types the rules do not read (complex, i2, f4) leave those ops alone, and the module is kept.
// CHECK-LABEL: func.func @unclaimed_types
// CHECK: stablehlo.add %arg0, %{{.*}} : tensor<2xcomplex<f32>>
// CHECK: stablehlo.multiply %arg1, %{{.*}} : tensor<2xi2>
// CHECK: stablehlo.add %arg2, %{{.*}} : tensor<2xf4E2M1FN>
func.func @unclaimed_types(%c: tensor<2xcomplex<f32>>, %i: tensor<2xi2>, %f: tensor<2xf4E2M1FN>)
    -> (tensor<2xcomplex<f32>>, tensor<2xi2>, tensor<2xf4E2M1FN>) {
  %z = stablehlo.constant dense<(0.0, 0.0)> : tensor<2xcomplex<f32>>
  %0 = stablehlo.add %c, %z : tensor<2xcomplex<f32>>
  %one = stablehlo.constant dense<1> : tensor<2xi2>
  %1 = stablehlo.multiply %i, %one : tensor<2xi2>
  %fz = stablehlo.constant dense<0.0> : tensor<2xf4E2M1FN>
  %2 = stablehlo.add %f, %fz : tensor<2xf4E2M1FN>
  return %0, %1, %2 : tensor<2xcomplex<f32>>, tensor<2xi2>, tensor<2xf4E2M1FN>
}

// -----
// torch-mlir's batched matmul against a shared weight: the broadcast only adds the batch dim, so the batch
// becomes a free dim of an unbatched dot (and the weight stays one [K, N] constant that FC and
// quantization see). A broadcast that varies along another dim is left alone.
// CHECK-LABEL: func.func @unbatch_weight
// CHECK-NEXT: %[[D:.*]] = stablehlo.dot_general %arg0, %arg1, contracting_dims = [2] x [0] : (tensor<4x16x8xf32>, tensor<8x6xf32>) -> tensor<4x16x6xf32>
// CHECK: stablehlo.broadcast_in_dim %arg2, dims = [0, 1]
// CHECK: stablehlo.dot_general %arg0, %{{.*}}, batching_dims = [0] x [0]
func.func @unbatch_weight(%x: tensor<4x16x8xf32>, %w: tensor<8x6xf32>, %v: tensor<4x8xf32>) -> (tensor<4x16x6xf32>, tensor<4x16x6xf32>) {
  %b = stablehlo.broadcast_in_dim %w, dims = [1, 2] : (tensor<8x6xf32>) -> tensor<4x8x6xf32>
  %0 = stablehlo.dot_general %x, %b, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<4x16x8xf32>, tensor<4x8x6xf32>) -> tensor<4x16x6xf32>
  %c = stablehlo.broadcast_in_dim %v, dims = [0, 1] : (tensor<4x8xf32>) -> tensor<4x8x6xf32>
  %1 = stablehlo.dot_general %x, %c, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<4x16x8xf32>, tensor<4x8x6xf32>) -> tensor<4x16x6xf32>
  return %0, %1 : tensor<4x16x6xf32>, tensor<4x16x6xf32>
}

// -----
// A dot reads through a transpose of its operand (a JAX LM head's embed.T, a K transposed for q @ k^T): the
// transposed dims are renumbered in the dot. Left alone: a transpose that reorders the operand's free dims
// (the result's dims would move) and one with another user (it would stay anyway).
// CHECK-LABEL: func.func @dot_through_transpose
// CHECK-NEXT: %[[A:.*]] = stablehlo.dot_general %arg0, %arg1, contracting_dims = [1] x [1] : (tensor<3x4xf32>, tensor<5x4xf32>) -> tensor<3x5xf32>
// CHECK-NEXT: %[[B:.*]] = stablehlo.dot_general %arg3, %arg2, batching_dims = [0] x [0], contracting_dims = [2] x [1]
// CHECK-NEXT: %[[T:.*]] = stablehlo.transpose %arg4, dims = [2, 1, 0]
// CHECK-NEXT: stablehlo.dot_general %arg0, %[[T]]
// CHECK-NEXT: %[[U:.*]] = stablehlo.transpose %arg1
// CHECK-NEXT: stablehlo.dot_general %arg0, %[[U]]
func.func @dot_through_transpose(%x: tensor<3x4xf32>, %w: tensor<5x4xf32>, %b: tensor<2x4x6xf32>, %c: tensor<2x3x4xf32>, %r: tensor<6x5x4xf32>) -> (tensor<3x5xf32>, tensor<2x3x6xf32>, tensor<3x5x6xf32>, tensor<3x5xf32>, tensor<4x5xf32>) {
  %t = stablehlo.transpose %w, dims = [1, 0] : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %0 = stablehlo.dot_general %x, %t, contracting_dims = [1] x [0] : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  %tc = stablehlo.transpose %c, dims = [0, 2, 1] : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %1 = stablehlo.dot_general %tc, %b, batching_dims = [0] x [0], contracting_dims = [1] x [1] : (tensor<2x4x3xf32>, tensor<2x4x6xf32>) -> tensor<2x3x6xf32>
  %tr = stablehlo.transpose %r, dims = [2, 1, 0] : (tensor<6x5x4xf32>) -> tensor<4x5x6xf32>
  %2 = stablehlo.dot_general %x, %tr, contracting_dims = [1] x [0] : (tensor<3x4xf32>, tensor<4x5x6xf32>) -> tensor<3x5x6xf32>
  %u = stablehlo.transpose %w, dims = [1, 0] : (tensor<5x4xf32>) -> tensor<4x5xf32>
  %3 = stablehlo.dot_general %x, %u, contracting_dims = [1] x [0] : (tensor<3x4xf32>, tensor<4x5xf32>) -> tensor<3x5xf32>
  return %0, %1, %2, %3, %u : tensor<3x5xf32>, tensor<2x3x6xf32>, tensor<3x5x6xf32>, tensor<3x5xf32>, tensor<4x5xf32>
}
