// fuse-kv-cache-update: every exported form of a KV-cache write becomes an `odml.update_kv_cache` composite
// (operands cache, input_pos, update; {kv_cache_max, seq_dim}) whose decomposition is one
// dynamic_update_slice. Scatters fuse only when their positions provably form one contiguous run.
// RUN: %hlo-opt %s --split-input-file --pass fuse-kv-cache-update | %FileCheck %s
// Running it twice changes nothing (no composite inside a decomposition): the same checks hold.
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-kv-cache-update,fuse-kv-cache-update | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass 'fuse-kv-cache-update{dynamic-positions=false}' | %FileCheck %s --check-prefix=STATIC
// RUN: %hlo-opt %s --split-input-file --pass fuse-kv-cache-update --debug-patterns=fuse-kv-cache-update -o %t 2>&1 | %FileCheck %s --check-prefix=WHY

// JAX: lax.dynamic_update_slice(cache, new, (0, pos, 0, 0)) on a [B, S, N, H] cache. The negative-index
// wrap JAX puts before it stays outside: it computes the composite's input_pos.
// CHECK-LABEL: func.func @jax_dynamic_update_slice
// CHECK: %[[POS:.*]] = stablehlo.select
// CHECK-NOT: stablehlo.dynamic_update_slice
// CHECK: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %[[POS]], %arg1 {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 1 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x16x2x4xf32>, tensor<i32>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x16x2x4xf32>, %arg1: tensor<i32>, %arg2: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i32>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %arg1, %[[Z]], %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x16x2x4xf32>
// STATIC-LABEL: func.func @jax_dynamic_update_slice
// STATIC: stablehlo.composite "odml.update_kv_cache"
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: rewritten
func.func @jax_dynamic_update_slice(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>, %pos: tensor<i32>) -> tensor<1x16x2x4xf32> {
  %c = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.compare LT, %pos, %c, SIGNED : (tensor<i32>, tensor<i32>) -> tensor<i1>
  %c_0 = stablehlo.constant dense<16> : tensor<i32>
  %1 = stablehlo.add %pos, %c_0 : tensor<i32>
  %2 = stablehlo.select %0, %1, %pos : tensor<i1>, tensor<i32>
  %c_1 = stablehlo.constant dense<0> : tensor<i32>
  %3 = stablehlo.dynamic_update_slice %cache, %new, %c_1, %2, %c_1, %c_1 : (tensor<1x16x2x4xf32>, tensor<1x3x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<1x16x2x4xf32>
  return %3 : tensor<1x16x2x4xf32>
}

// -----

// [B, N, S, H] with i64 starts; the start on the full head axis is a runtime value, which
// dynamic_update_slice clamps to 0 there anyway: the decomposition says 0.
// CHECK-LABEL: func.func @dus_bnsh
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %arg2, %arg1 {composite_attributes = {kv_cache_max = 32 : i64, seq_dim = 2 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<2x4x32x8xf16>, tensor<i64>, tensor<2x4x1x8xf16>) -> tensor<2x4x32x8xf16>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<2x4x32x8xf16>, %arg1: tensor<i64>, %arg2: tensor<2x4x1x8xf16>) -> tensor<2x4x32x8xf16>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i64>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %[[Z]], %arg1, %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<2x4x32x8xf16>
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: rewritten
func.func @dus_bnsh(%cache: tensor<2x4x32x8xf16>, %new: tensor<2x4x1x8xf16>, %pos: tensor<i64>, %h: tensor<i64>) -> tensor<2x4x32x8xf16> {
  %z = stablehlo.constant dense<0> : tensor<i64>
  %0 = stablehlo.dynamic_update_slice %cache, %new, %z, %h, %pos, %z : (tensor<2x4x32x8xf16>, tensor<2x4x1x8xf16>, tensor<i64>, tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<2x4x32x8xf16>
  return %0 : tensor<2x4x32x8xf16>
}

// -----

// JAX: cache.at[:, 3:6].set(new): one index vector places the whole update window.
// CHECK-LABEL: func.func @jax_at_static_slice
// CHECK-NEXT: %[[POS:.*]] = stablehlo.constant dense<3> : tensor<i32>
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %[[POS]], %arg1 {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 1 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x16x2x4xf32>, tensor<i32>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x16x2x4xf32>, %arg1: tensor<i32>, %arg2: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i32>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %arg1, %[[Z]], %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x16x2x4xf32>
// STATIC-LABEL: func.func @jax_at_static_slice
// STATIC: stablehlo.composite "odml.update_kv_cache"
// WHY: [kv-cache-scatter] stablehlo.scatter at {{.*}}: rewritten
func.func @jax_at_static_slice(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32> {
  %c = stablehlo.constant dense<3> : tensor<i32>
  %0 = stablehlo.broadcast_in_dim %c, dims = [] : (tensor<i32>) -> tensor<1xi32>
  %1 = "stablehlo.scatter"(%cache, %0, %new) <{indices_are_sorted = true, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 1, 2, 3], scatter_dims_to_operand_dims = [1]>, unique_indices = true}> ({
  ^bb0(%arg2: tensor<f32>, %arg3: tensor<f32>):
    stablehlo.return %arg3 : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<1xi32>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %1 : tensor<1x16x2x4xf32>
}

// -----

// JAX: cache.at[:, pos].set(row): the row has no sequence axis (an inserted window dim); the composite
// gets it reshaped to [B, 1, N, H] and the wrapped position itself.
// CHECK-LABEL: func.func @jax_at_scalar
// CHECK: %[[POS:.*]] = stablehlo.select
// CHECK-NEXT: %[[ROW:.*]] = stablehlo.reshape %arg1 : (tensor<1x2x4xf32>) -> tensor<1x1x2x4xf32>
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %[[POS]], %[[ROW]] {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 1 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x16x2x4xf32>, tensor<i32>, tensor<1x1x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x16x2x4xf32>, %arg1: tensor<i32>, %arg2: tensor<1x1x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i32>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %arg1, %[[Z]], %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x16x2x4xf32>
// STATIC-LABEL: func.func @jax_at_scalar
// STATIC-NOT: stablehlo.composite
// STATIC: stablehlo.scatter
func.func @jax_at_scalar(%cache: tensor<1x16x2x4xf32>, %row: tensor<1x2x4xf32>, %pos: tensor<i32>) -> tensor<1x16x2x4xf32> {
  %c = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.compare LT, %pos, %c, SIGNED : (tensor<i32>, tensor<i32>) -> tensor<i1>
  %c_0 = stablehlo.constant dense<16> : tensor<i32>
  %1 = stablehlo.add %pos, %c_0 : tensor<i32>
  %2 = stablehlo.select %0, %1, %pos : tensor<i1>, tensor<i32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [] : (tensor<i32>) -> tensor<1xi32>
  %4 = "stablehlo.scatter"(%cache, %3, %row) <{indices_are_sorted = true, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 1, 2], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1]>, unique_indices = true}> ({
  ^bb0(%arg3: tensor<f32>, %arg4: tensor<f32>):
    stablehlo.return %arg4 : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<1xi32>, tensor<1x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %4 : tensor<1x16x2x4xf32>
}

// -----

// JAX: cache.at[:, pos + jnp.arange(3)].set(new): T rows at select(i < 0, i + S, i), i = pos + iota.
// For the non-negative positions of a cache write the select is i, so input_pos is pos.
// CHECK-LABEL: func.func @jax_at_arange
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %arg2, %arg1 {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 1 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x16x2x4xf32>, tensor<i32>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x16x2x4xf32>, %arg1: tensor<i32>, %arg2: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i32>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %arg1, %[[Z]], %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x16x2x4xf32>
// STATIC-LABEL: func.func @jax_at_arange
// STATIC-NOT: stablehlo.composite
// STATIC: stablehlo.scatter
func.func @jax_at_arange(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>, %pos: tensor<i32>) -> tensor<1x16x2x4xf32> {
  %0 = stablehlo.iota dim = 0 : tensor<3xi32>
  %1 = stablehlo.broadcast_in_dim %pos, dims = [] : (tensor<i32>) -> tensor<3xi32>
  %2 = stablehlo.add %1, %0 : tensor<3xi32>
  %c = stablehlo.constant dense<0> : tensor<i32>
  %3 = stablehlo.broadcast_in_dim %c, dims = [] : (tensor<i32>) -> tensor<3xi32>
  %4 = stablehlo.compare LT, %2, %3, SIGNED : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi1>
  %c_0 = stablehlo.constant dense<16> : tensor<i32>
  %5 = stablehlo.broadcast_in_dim %c_0, dims = [] : (tensor<i32>) -> tensor<3xi32>
  %6 = stablehlo.add %2, %5 : tensor<3xi32>
  %7 = stablehlo.select %4, %6, %2 : tensor<3xi1>, tensor<3xi32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0] : (tensor<3xi32>) -> tensor<3x1xi32>
  %9 = "stablehlo.scatter"(%cache, %8, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 2, 3], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%arg3: tensor<f32>, %arg4: tensor<f32>):
    stablehlo.return %arg4 : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<3x1xi32>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %9 : tensor<1x16x2x4xf32>
}

// -----

// torch: cache.index_copy(1, pos + torch.arange(2), new), exported by torch-mlir as it comes: a point
// scatter whose indices concatenate one coordinate per axis (iotas on B, N, H; pos + iota on S).
// CHECK-LABEL: func.func @torch_index_copy
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %arg2, %arg1 {composite_attributes = {kv_cache_max = 8 : i64, seq_dim = 1 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x8x2x2xf32>, tensor<i64>, tensor<1x2x2x2xf32>) -> tensor<1x8x2x2xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x8x2x2xf32>, %arg1: tensor<i64>, %arg2: tensor<1x2x2x2xf32>) -> tensor<1x8x2x2xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i64>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %arg1, %[[Z]], %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x8x2x2xf32>
func.func @torch_index_copy(%arg0: tensor<1x8x2x2xf32>, %arg1: tensor<1x2x2x2xf32>, %arg2: tensor<i64>) -> tensor<1x8x2x2xf32> {
  %c = stablehlo.constant dense<0> : tensor<1xi64>
  %c_0 = stablehlo.constant dense<1> : tensor<1xi64>
  %c_1 = stablehlo.constant dense<0> : tensor<2xi64>
  %c_2 = stablehlo.constant dense<1> : tensor<2xi64>
  %c_3 = stablehlo.constant dense<1> : tensor<i64>
  %c_4 = stablehlo.constant dense<2> : tensor<i64>
  %0 = stablehlo.convert %c_3 : (tensor<i64>) -> tensor<f64>
  %1 = stablehlo.convert %c_4 : (tensor<i64>) -> tensor<f64>
  %2 = stablehlo.divide %1, %0 : tensor<f64>
  %3 = stablehlo.ceil %2 : tensor<f64>
  %4 = stablehlo.convert %3 : (tensor<f64>) -> tensor<i64>
  %5 = stablehlo.reshape %4 : (tensor<i64>) -> tensor<1xi64>
  %6 = stablehlo.dynamic_iota %5, dim = 0 : (tensor<1xi64>) -> tensor<2xi64>
  %7 = stablehlo.multiply %6, %c_2 : tensor<2xi64>
  %8 = stablehlo.add %7, %c_1 : tensor<2xi64>
  %9 = stablehlo.broadcast_in_dim %arg2, dims = [] : (tensor<i64>) -> tensor<2xi64>
  %10 = stablehlo.add %9, %8 : tensor<2xi64>
  %11 = stablehlo.reshape %8 : (tensor<2xi64>) -> tensor<2x1xi64>
  %12 = stablehlo.reshape %10 : (tensor<2xi64>) -> tensor<2x1xi64>
  %13 = stablehlo.reshape %12 : (tensor<2x1xi64>) -> tensor<2x1x1xi64>
  %14 = stablehlo.convert %c_3 : (tensor<i64>) -> tensor<f64>
  %15 = stablehlo.divide %14, %0 : tensor<f64>
  %16 = stablehlo.ceil %15 : tensor<f64>
  %17 = stablehlo.convert %16 : (tensor<f64>) -> tensor<i64>
  %18 = stablehlo.reshape %17 : (tensor<i64>) -> tensor<1xi64>
  %19 = stablehlo.dynamic_iota %18, dim = 0 : (tensor<1xi64>) -> tensor<1xi64>
  %20 = stablehlo.multiply %19, %c_0 : tensor<1xi64>
  %21 = stablehlo.add %20, %c : tensor<1xi64>
  %22 = stablehlo.reshape %21 : (tensor<1xi64>) -> tensor<1x1xi64>
  %23 = stablehlo.reshape %22 : (tensor<1x1xi64>) -> tensor<1x1x1xi64>
  %24 = stablehlo.reshape %23 : (tensor<1x1x1xi64>) -> tensor<1x1x1x1xi64>
  %25 = stablehlo.broadcast_in_dim %24, dims = [0, 1, 2, 3] : (tensor<1x1x1x1xi64>) -> tensor<1x2x2x2xi64>
  %26 = stablehlo.reshape %25 : (tensor<1x2x2x2xi64>) -> tensor<1x2x2x2x1xi64>
  %27 = stablehlo.broadcast_in_dim %13, dims = [1, 2, 3] : (tensor<2x1x1xi64>) -> tensor<1x2x2x2xi64>
  %28 = stablehlo.reshape %27 : (tensor<1x2x2x2xi64>) -> tensor<1x2x2x2x1xi64>
  %29 = stablehlo.broadcast_in_dim %11, dims = [2, 3] : (tensor<2x1xi64>) -> tensor<1x2x2x2xi64>
  %30 = stablehlo.reshape %29 : (tensor<1x2x2x2xi64>) -> tensor<1x2x2x2x1xi64>
  %31 = stablehlo.broadcast_in_dim %8, dims = [3] : (tensor<2xi64>) -> tensor<1x2x2x2xi64>
  %32 = stablehlo.reshape %31 : (tensor<1x2x2x2xi64>) -> tensor<1x2x2x2x1xi64>
  %33 = stablehlo.concatenate %26, %28, %30, %32, dim = 4 : (tensor<1x2x2x2x1xi64>, tensor<1x2x2x2x1xi64>, tensor<1x2x2x2x1xi64>, tensor<1x2x2x2x1xi64>) -> tensor<1x2x2x2x4xi64>
  %34 = "stablehlo.scatter"(%arg0, %33, %arg1) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<inserted_window_dims = [0, 1, 2, 3], scatter_dims_to_operand_dims = [0, 1, 2, 3], index_vector_dim = 4>, unique_indices = false}> ({
  ^bb0(%arg3: tensor<f32>, %arg4: tensor<f32>):
    stablehlo.return %arg4 : tensor<f32>
  }) : (tensor<1x8x2x2xf32>, tensor<1x2x2x2x4xi64>, tensor<1x2x2x2xf32>) -> tensor<1x8x2x2xf32>
  return %34 : tensor<1x8x2x2xf32>
}

// -----

// torch, after fold-constants,simplify: index_put (c[:, pos + arange(3)] = new) on [B, N, S, H] with a
// start + 1 offset, the other coordinates folded into constants.
// CHECK-LABEL: func.func @torch_index_put_folded
// CHECK-NEXT: %[[ONE:.*]] = stablehlo.constant dense<1> : tensor<i64>
// CHECK-NEXT: %[[POS:.*]] = stablehlo.add %arg2, %[[ONE]] : tensor<i64>
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %[[POS]], %arg1 {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 2 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x2x16x2xf32>, tensor<i64>, tensor<1x2x3x2xf32>) -> tensor<1x2x16x2xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x2x16x2xf32>, %arg1: tensor<i64>, %arg2: tensor<1x2x3x2xf32>) -> tensor<1x2x16x2xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i64>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %[[Z]], %arg1, %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x2x16x2xf32>
func.func @torch_index_put_folded(%cache: tensor<1x2x16x2xf32>, %new: tensor<1x2x3x2xf32>, %pos: tensor<i64>) -> tensor<1x2x16x2xf32> {
  %h = stablehlo.constant dense<[[[[[0], [1]], [[0], [1]], [[0], [1]]], [[[0], [1]], [[0], [1]], [[0], [1]]]]]> : tensor<1x2x3x2x1xi64>
  %n = stablehlo.constant dense<[[[[[0], [0]], [[0], [0]], [[0], [0]]], [[[1], [1]], [[1], [1]], [[1], [1]]]]]> : tensor<1x2x3x2x1xi64>
  %b = stablehlo.constant dense<0> : tensor<1x2x3x2x1xi64>
  %r = stablehlo.constant dense<[1, 2, 3]> : tensor<3xi64>
  %0 = stablehlo.broadcast_in_dim %pos, dims = [] : (tensor<i64>) -> tensor<3xi64>
  %1 = stablehlo.add %0, %r : tensor<3xi64>
  %2 = stablehlo.broadcast_in_dim %1, dims = [2] : (tensor<3xi64>) -> tensor<1x2x3x2xi64>
  %3 = stablehlo.reshape %2 : (tensor<1x2x3x2xi64>) -> tensor<1x2x3x2x1xi64>
  %4 = stablehlo.concatenate %b, %n, %3, %h, dim = 4 : (tensor<1x2x3x2x1xi64>, tensor<1x2x3x2x1xi64>, tensor<1x2x3x2x1xi64>, tensor<1x2x3x2x1xi64>) -> tensor<1x2x3x2x4xi64>
  %5 = "stablehlo.scatter"(%cache, %4, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<inserted_window_dims = [0, 1, 2, 3], scatter_dims_to_operand_dims = [0, 1, 2, 3], index_vector_dim = 4>, unique_indices = false}> ({
  ^bb0(%a: tensor<f32>, %u: tensor<f32>):
    stablehlo.return %u : tensor<f32>
  }) : (tensor<1x2x16x2xf32>, tensor<1x2x3x2x4xi64>, tensor<1x2x3x2xf32>) -> tensor<1x2x16x2xf32>
  return %5 : tensor<1x2x16x2xf32>
}

// -----

// torch: c[:, :, 5:8] = new on [B, N, S, H]: constant positions 5, 6, 7.
// CHECK-LABEL: func.func @torch_slice_assign
// CHECK-NEXT: %[[POS:.*]] = stablehlo.constant dense<5> : tensor<i64>
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %[[POS]], %arg1 {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 2 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<1x2x16x4xf32>, tensor<i64>, tensor<1x2x3x4xf32>) -> tensor<1x2x16x4xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%arg0: tensor<1x2x16x4xf32>, %arg1: tensor<i64>, %arg2: tensor<1x2x3x4xf32>) -> tensor<1x2x16x4xf32>
// CHECK-NEXT: %[[Z:.*]] = stablehlo.constant dense<0> : tensor<i64>
// CHECK-NEXT: %[[D:.*]] = stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z]], %[[Z]], %arg1, %[[Z]]
// CHECK-NEXT: return %[[D]] : tensor<1x2x16x4xf32>
// STATIC-LABEL: func.func @torch_slice_assign
// STATIC: stablehlo.composite "odml.update_kv_cache"
func.func @torch_slice_assign(%cache: tensor<1x2x16x4xf32>, %new: tensor<1x2x3x4xf32>) -> tensor<1x2x16x4xf32> {
  %c = stablehlo.constant dense<[[5], [6], [7]]> : tensor<3x1xi64>
  %0 = "stablehlo.scatter"(%cache, %c, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 1, 3], inserted_window_dims = [2], scatter_dims_to_operand_dims = [2], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%a: tensor<f32>, %u: tensor<f32>):
    stablehlo.return %u : tensor<f32>
  }) : (tensor<1x2x16x4xf32>, tensor<3x1xi64>, tensor<1x2x3x4xf32>) -> tensor<1x2x16x4xf32>
  return %0 : tensor<1x2x16x4xf32>
}

// -----

// K and V written at the same position: one composite each; their decompositions are the same ops, so
// they share one private function.
// CHECK-LABEL: func.func @k_and_v
// CHECK-NEXT: %[[K:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %arg4, %arg2 {{.*}} decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]}
// CHECK-NEXT: %[[V:.*]] = stablehlo.composite "odml.update_kv_cache" %arg1, %arg4, %arg3 {{.*}} decomposition = @[[IMPL]]}
// CHECK-NEXT: return %[[K]], %[[V]]
// CHECK: func.func private @[[IMPL]](
// CHECK-NOT: func.func private
// CHECK-NOT: stablehlo.composite
func.func @k_and_v(%k: tensor<1x8x2x4xf32>, %v: tensor<1x8x2x4xf32>, %kn: tensor<1x1x2x4xf32>, %vn: tensor<1x1x2x4xf32>, %pos: tensor<i32>) -> (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>) {
  %z = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.dynamic_update_slice %k, %kn, %z, %pos, %z, %z : (tensor<1x8x2x4xf32>, tensor<1x1x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<1x8x2x4xf32>
  %1 = stablehlo.dynamic_update_slice %v, %vn, %z, %pos, %z, %z : (tensor<1x8x2x4xf32>, tensor<1x1x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<1x8x2x4xf32>
  return %0, %1 : tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>
}

// -----

// Not contiguous: positions 5, 7, 6 (index_copy with torch.tensor([5, 7, 6])).
// CHECK-LABEL: func.func @non_contiguous
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.scatter
// WHY: [kv-cache-scatter] stablehlo.scatter at {{.*}}: no match: the written positions are not one contiguous increasing run (axis 1: [5, 7, 6])
func.func @non_contiguous(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32> {
  %c = stablehlo.constant dense<[[5], [7], [6]]> : tensor<3x1xi64>
  %0 = "stablehlo.scatter"(%cache, %c, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 2, 3], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%a: tensor<f32>, %u: tensor<f32>):
    stablehlo.return %u : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<3x1xi64>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %0 : tensor<1x16x2x4xf32>
}

// -----

// index_add: the scatter adds to the cache instead of overwriting it.
// CHECK-LABEL: func.func @scatter_add
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.scatter
// WHY: [kv-cache-scatter] stablehlo.scatter at {{.*}}: no match: the update computation does not just return the new value
func.func @scatter_add(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32> {
  %c = stablehlo.constant dense<[[5], [6], [7]]> : tensor<3x1xi64>
  %0 = "stablehlo.scatter"(%cache, %c, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 2, 3], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%a: tensor<f32>, %u: tensor<f32>):
    %s = stablehlo.add %a, %u : tensor<f32>
    stablehlo.return %s : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<3x1xi64>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %0 : tensor<1x16x2x4xf32>
}

// -----

// Positions given as a runtime tensor of 3 (e.g. a cache_position input): nothing proves them contiguous.
// CHECK-LABEL: func.func @runtime_positions
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.scatter
// WHY: [kv-cache-scatter] stablehlo.scatter at {{.*}}: no match: the positions are a runtime tensor of shape [3]: nothing proves them contiguous
func.func @runtime_positions(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>, %p: tensor<3xi64>) -> tensor<1x16x2x4xf32> {
  %0 = stablehlo.reshape %p : (tensor<3xi64>) -> tensor<3x1xi64>
  %1 = "stablehlo.scatter"(%cache, %0, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 2, 3], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%a: tensor<f32>, %u: tensor<f32>):
    stablehlo.return %u : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<3x1xi64>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %1 : tensor<1x16x2x4xf32>
}

// -----

// Constant positions 14, 15, 16 in a cache of 16: scatter drops row 16, dynamic_update_slice would clamp.
// CHECK-LABEL: func.func @out_of_range
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.scatter
// WHY: [kv-cache-scatter] stablehlo.scatter at {{.*}}: no match: positions 14..16 run outside the cache (size 16)
func.func @out_of_range(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32> {
  %c = stablehlo.constant dense<[[14], [15], [16]]> : tensor<3x1xi64>
  %0 = "stablehlo.scatter"(%cache, %c, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 2, 3], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%a: tensor<f32>, %u: tensor<f32>):
    stablehlo.return %u : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<3x1xi64>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %0 : tensor<1x16x2x4xf32>
}

// -----

// A 2-D update (an embedding table row, a matrix patch) is not a cache write.
// CHECK-LABEL: func.func @two_d
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.dynamic_update_slice
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: no match: the cache has rank 2: a KV cache is [B, S, N, H]
func.func @two_d(%table: tensor<16x8xf32>, %row: tensor<1x8xf32>, %i: tensor<i32>) -> tensor<16x8xf32> {
  %z = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.dynamic_update_slice %table, %row, %i, %z : (tensor<16x8xf32>, tensor<1x8xf32>, tensor<i32>, tensor<i32>) -> tensor<16x8xf32>
  return %0 : tensor<16x8xf32>
}

// -----

// K and V stacked in one [2, B, S, N, H] cache, both written by one dynamic_update_slice (one op per layer
// instead of two): one composite, seq_dim 2.
// CHECK-LABEL: func.func @stacked_k_and_v
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.update_kv_cache" %arg0, %arg2, %arg1 {composite_attributes = {kv_cache_max = 16 : i64, seq_dim = 2 : i64}, decomposition = @[[IMPL:odml.update_kv_cache.impl[_0-9]*]]} : (tensor<2x1x16x2x4xf32>, tensor<i32>, tensor<2x1x3x2x4xf32>) -> tensor<2x1x16x2x4xf32>
// CHECK: func.func private @[[IMPL]]
// CHECK: stablehlo.dynamic_update_slice %arg0, %arg2, %[[Z:.*]], %[[Z]], %arg1, %[[Z]], %[[Z]]
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: rewritten
func.func @stacked_k_and_v(%cache: tensor<2x1x16x2x4xf32>, %new: tensor<2x1x3x2x4xf32>, %pos: tensor<i32>) -> tensor<2x1x16x2x4xf32> {
  %z = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.dynamic_update_slice %cache, %new, %z, %z, %pos, %z, %z : (tensor<2x1x16x2x4xf32>, tensor<2x1x3x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<2x1x16x2x4xf32>
  return %0 : tensor<2x1x16x2x4xf32>
}

// -----

// Rank 5 whose leading axis is not K and V (3 of something), and a stacked cache of which only K is written:
// neither is a KV-cache write. (The walk goes last op first.)
// CHECK-LABEL: func.func @rank5_not_stacked
// CHECK-NOT: stablehlo.composite
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: no match: the update [1, 1, 3, 2, 4] is smaller than the cache [2, 1, 16, 2, 4] on axes [0, 2]
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: no match: the cache has rank 5: a KV cache is [B, S, N, H] or [B, N, S, H], or K and V stacked as [2, B, S, N, H] or [2, B, N, S, H]
func.func @rank5_not_stacked(%a: tensor<3x1x16x2x4xf32>, %x: tensor<3x1x3x2x4xf32>, %kv: tensor<2x1x16x2x4xf32>, %k: tensor<1x1x3x2x4xf32>, %pos: tensor<i32>) -> (tensor<3x1x16x2x4xf32>, tensor<2x1x16x2x4xf32>) {
  %z = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.dynamic_update_slice %a, %x, %z, %z, %pos, %z, %z : (tensor<3x1x16x2x4xf32>, tensor<3x1x3x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<3x1x16x2x4xf32>
  %1 = stablehlo.dynamic_update_slice %kv, %k, %z, %z, %pos, %z, %z : (tensor<2x1x16x2x4xf32>, tensor<1x1x3x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<2x1x16x2x4xf32>
  return %0, %1 : tensor<3x1x16x2x4xf32>, tensor<2x1x16x2x4xf32>
}

// -----

// A write of one batch slot (axis 0) and of some positions: short on two axes, not a KV-cache write.
// CHECK-LABEL: func.func @batch_slot
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.dynamic_update_slice
// CHECK-NOT: stablehlo.composite
// WHY: [kv-cache-dynamic-update-slice] stablehlo.dynamic_update_slice at {{.*}}: no match: the update [1, 3, 2, 4] is smaller than the cache [4, 16, 2, 4] on axes [0, 1]
func.func @batch_slot(%cache: tensor<4x16x2x4xf32>, %new: tensor<1x3x2x4xf32>, %b: tensor<i32>, %pos: tensor<i32>) -> tensor<4x16x2x4xf32> {
  %z = stablehlo.constant dense<0> : tensor<i32>
  %0 = stablehlo.dynamic_update_slice %cache, %new, %b, %pos, %z, %z : (tensor<4x16x2x4xf32>, tensor<1x3x2x4xf32>, tensor<i32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<4x16x2x4xf32>
  return %0 : tensor<4x16x2x4xf32>
}

// -----

// The positions are one constant run or another, picked by a runtime flag: not provably one run.
// CHECK-LABEL: func.func @select_on_a_flag
// CHECK-NOT: stablehlo.composite
// CHECK: stablehlo.scatter
// WHY: [kv-cache-scatter] stablehlo.scatter at {{.*}}: no match: the positions go through a select on a runtime value
func.func @select_on_a_flag(%cache: tensor<1x16x2x4xf32>, %new: tensor<1x3x2x4xf32>, %flag: tensor<i1>) -> tensor<1x16x2x4xf32> {
  %a = stablehlo.constant dense<[[2], [3], [4]]> : tensor<3x1xi64>
  %b = stablehlo.constant dense<[[7], [8], [9]]> : tensor<3x1xi64>
  %f = stablehlo.broadcast_in_dim %flag, dims = [] : (tensor<i1>) -> tensor<3x1xi1>
  %i = stablehlo.select %f, %a, %b : tensor<3x1xi1>, tensor<3x1xi64>
  %0 = "stablehlo.scatter"(%cache, %i, %new) <{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [0, 2, 3], inserted_window_dims = [1], scatter_dims_to_operand_dims = [1], index_vector_dim = 1>, unique_indices = false}> ({
  ^bb0(%x: tensor<f32>, %u: tensor<f32>):
    stablehlo.return %u : tensor<f32>
  }) : (tensor<1x16x2x4xf32>, tensor<3x1xi64>, tensor<1x3x2x4xf32>) -> tensor<1x16x2x4xf32>
  return %0 : tensor<1x16x2x4xf32>
}
