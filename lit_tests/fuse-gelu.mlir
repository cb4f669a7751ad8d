// fuse-gelu: GELU as JAX and torch-mlir write it (tanh and erf forms, before or after
// inline-calls,fold-constants,simplify,cse) becomes one `odml.gelu` composite (operand x; {approximate})
// whose decomposition is the matched ops. Running the pass twice changes nothing more.
// RUN: %hlo-opt %s --split-input-file --pass fuse-gelu | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-gelu,fuse-gelu | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass fuse-gelu --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS
// RUN: %hlo-opt %s --split-input-file --pass fuse-gelu --debug-patterns=fuse-gelu -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG

// JAX, straight from jax.jit(lambda x: jax.nn.gelu(x, approximate=True)).lower(...): scalars broadcast.
// CHECK-LABEL: func.func @jax_tanh_raw
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.gelu" %[[X]] {composite_attributes = {approximate = true}, decomposition = @[[IMPL:odml.gelu.impl[_0-9]*]]} : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %[[SQ:.*]] = stablehlo.multiply %[[A]], %[[A]]
// CHECK-NEXT: stablehlo.multiply %[[SQ]], %[[A]]
// CHECK: stablehlo.tanh
// CHECK: %[[Y:.*]] = stablehlo.multiply %[[A]], %{{.*}}
// CHECK-NEXT: return %[[Y]]
// STATS: fuse-gelu (#1)
// STATS: composites created: 1
// DEBUG: [gelu-tanh] stablehlo.multiply at {{.*}}: rewritten
func.func @jax_tanh_raw(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8xf32>
  %1 = stablehlo.multiply %0, %arg0 : tensor<2x8xf32>
  %cst = stablehlo.constant dense<4.471500e-02> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x8xf32>
  %3 = stablehlo.multiply %2, %1 : tensor<2x8xf32>
  %4 = stablehlo.add %arg0, %3 : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<0.797884583> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8xf32>
  %6 = stablehlo.multiply %5, %4 : tensor<2x8xf32>
  %7 = stablehlo.tanh %6 : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<1.000000e+00> : tensor<f32>
  %8 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8xf32>
  %9 = stablehlo.add %8, %7 : tensor<2x8xf32>
  %cst_2 = stablehlo.constant dense<5.000000e-01> : tensor<f32>
  %10 = stablehlo.broadcast_in_dim %cst_2, dims = [] : (tensor<f32>) -> tensor<2x8xf32>
  %11 = stablehlo.multiply %10, %9 : tensor<2x8xf32>
  %12 = stablehlo.multiply %arg0, %11 : tensor<2x8xf32>
  return %12 : tensor<2x8xf32>
}

// -----

// torch F.gelu(x, approximate='tanh') via torch-mlir, after fold-constants: pow(x, 3), sqrt(2/pi)
// computed in f32 (0.797884523, one ulp from JAX's 0.797884583), (1 + tanh(...)) * (x * 0.5).
// CHECK-LABEL: func.func @torch_tanh
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.gelu" %[[X]] {composite_attributes = {approximate = true}, decomposition = @[[IMPL:odml.gelu.impl[_0-9]*]]}
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8xf32>)
// CHECK: stablehlo.power %[[A]], %{{.*}}
// STATS: composites created: 1
// DEBUG: [gelu-tanh] stablehlo.multiply at {{.*}}: rewritten
func.func @torch_tanh(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<0.797884523> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<1.000000e+00> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<3.000000e+00> : tensor<2x8xf32>
  %cst_2 = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %cst_3 = stablehlo.constant dense<4.471500e-02> : tensor<2x8xf32>
  %0 = stablehlo.multiply %arg0, %cst_2 : tensor<2x8xf32>
  %1 = stablehlo.power %arg0, %cst_1 : tensor<2x8xf32>
  %2 = stablehlo.multiply %cst_3, %1 : tensor<2x8xf32>
  %3 = stablehlo.add %arg0, %2 : tensor<2x8xf32>
  %4 = stablehlo.multiply %cst, %3 : tensor<2x8xf32>
  %5 = stablehlo.tanh %4 : tensor<2x8xf32>
  %6 = stablehlo.add %5, %cst_0 : tensor<2x8xf32>
  %7 = stablehlo.multiply %6, %0 : tensor<2x8xf32>
  return %7 : tensor<2x8xf32>
}

// -----

// JAX jax.nn.gelu(x, approximate=False): (0.5 * x) * erfc(-x * (1/sqrt 2)).
// CHECK-LABEL: func.func @jax_erfc
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.gelu" %[[X]] {composite_attributes = {approximate = false}, decomposition = @[[IMPL:odml.gelu.impl[_0-9]*]]}
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8xf32>)
// CHECK: chlo.erfc
// STATS: composites created: 1
// DEBUG: [gelu-erf] stablehlo.multiply at {{.*}}: rewritten
func.func @jax_erfc(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<0.707106769> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %0 = stablehlo.multiply %cst_0, %arg0 : tensor<2x8xf32>
  %1 = stablehlo.negate %arg0 : tensor<2x8xf32>
  %2 = stablehlo.multiply %1, %cst : tensor<2x8xf32>
  %3 = chlo.erfc %2 : tensor<2x8xf32> -> tensor<2x8xf32>
  %4 = stablehlo.multiply %0, %3 : tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// Hand-written JAX: 0.5 * x * (1 + jax.lax.erf(x / jnp.sqrt(2.))).
// CHECK-LABEL: func.func @jax_erf
// CHECK-NEXT: stablehlo.composite "odml.gelu" %arg0 {composite_attributes = {approximate = false}
// STATS: composites created: 1
func.func @jax_erf(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<1.000000e+00> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<1.41421354> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %0 = stablehlo.multiply %cst_1, %arg0 : tensor<2x8xf32>
  %1 = stablehlo.divide %arg0, %cst_0 : tensor<2x8xf32>
  %2 = chlo.erf %1 : tensor<2x8xf32> -> tensor<2x8xf32>
  %3 = stablehlo.add %cst, %2 : tensor<2x8xf32>
  %4 = stablehlo.multiply %0, %3 : tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// torch F.gelu(x) via torch-mlir: erf written out as XLA's f32 rational approximation.
// CHECK-LABEL: func.func @torch_erf_polynomial
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.gelu" %[[X]] {composite_attributes = {approximate = false}, decomposition = @[[IMPL:odml.gelu.impl[_0-9]*]]}
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]]
// CHECK: stablehlo.clamp
// CHECK: stablehlo.divide
// STATS: composites created: 1
// DEBUG: [gelu-erf] stablehlo.multiply at {{.*}}: rewritten
func.func @torch_erf_polynomial(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<0.707106769> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<1.000000e+00> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %cst_2 = stablehlo.constant dense<-4.000000e+00> : tensor<2x8xf32>
  %cst_3 = stablehlo.constant dense<4.000000e+00> : tensor<2x8xf32>
  %cst_4 = stablehlo.constant dense<-2.72614237E-10> : tensor<2x8xf32>
  %cst_5 = stablehlo.constant dense<2.77068146E-8> : tensor<2x8xf32>
  %cst_6 = stablehlo.constant dense<-2.10102394E-6> : tensor<2x8xf32>
  %cst_7 = stablehlo.constant dense<-5.69250624E-5> : tensor<2x8xf32>
  %cst_8 = stablehlo.constant dense<-7.34990637E-4> : tensor<2x8xf32>
  %cst_9 = stablehlo.constant dense<-2.954600e-03> : tensor<2x8xf32>
  %cst_10 = stablehlo.constant dense<-0.0160960332> : tensor<2x8xf32>
  %cst_11 = stablehlo.constant dense<-1.45660715E-5> : tensor<2x8xf32>
  %cst_12 = stablehlo.constant dense<-2.13374049E-4> : tensor<2x8xf32>
  %cst_13 = stablehlo.constant dense<-0.00168282702> : tensor<2x8xf32>
  %cst_14 = stablehlo.constant dense<-0.00737332925> : tensor<2x8xf32>
  %cst_15 = stablehlo.constant dense<-0.0142647391> : tensor<2x8xf32>
  %cst_16 = stablehlo.constant dense<-1.000000e+00> : tensor<2x8xf32>
  %0 = stablehlo.multiply %arg0, %cst_1 : tensor<2x8xf32>
  %1 = stablehlo.multiply %arg0, %cst : tensor<2x8xf32>
  %2 = stablehlo.clamp %cst_2, %1, %cst_3 : tensor<2x8xf32>
  %3 = stablehlo.multiply %2, %2 : tensor<2x8xf32>
  %4 = stablehlo.multiply %cst_4, %3 : tensor<2x8xf32>
  %5 = stablehlo.add %4, %cst_5 : tensor<2x8xf32>
  %6 = stablehlo.multiply %5, %3 : tensor<2x8xf32>
  %7 = stablehlo.add %6, %cst_6 : tensor<2x8xf32>
  %8 = stablehlo.multiply %7, %3 : tensor<2x8xf32>
  %9 = stablehlo.add %8, %cst_7 : tensor<2x8xf32>
  %10 = stablehlo.multiply %9, %3 : tensor<2x8xf32>
  %11 = stablehlo.add %10, %cst_8 : tensor<2x8xf32>
  %12 = stablehlo.multiply %11, %3 : tensor<2x8xf32>
  %13 = stablehlo.add %12, %cst_9 : tensor<2x8xf32>
  %14 = stablehlo.multiply %13, %3 : tensor<2x8xf32>
  %15 = stablehlo.add %14, %cst_10 : tensor<2x8xf32>
  %16 = stablehlo.multiply %cst_11, %3 : tensor<2x8xf32>
  %17 = stablehlo.add %16, %cst_12 : tensor<2x8xf32>
  %18 = stablehlo.multiply %17, %3 : tensor<2x8xf32>
  %19 = stablehlo.add %18, %cst_13 : tensor<2x8xf32>
  %20 = stablehlo.multiply %19, %3 : tensor<2x8xf32>
  %21 = stablehlo.add %20, %cst_14 : tensor<2x8xf32>
  %22 = stablehlo.multiply %21, %3 : tensor<2x8xf32>
  %23 = stablehlo.add %22, %cst_15 : tensor<2x8xf32>
  %24 = stablehlo.multiply %2, %15 : tensor<2x8xf32>
  %25 = stablehlo.divide %24, %23 : tensor<2x8xf32>
  %26 = stablehlo.clamp %cst_16, %25, %cst_0 : tensor<2x8xf32>
  %27 = stablehlo.add %26, %cst_0 : tensor<2x8xf32>
  %28 = stablehlo.multiply %27, %0 : tensor<2x8xf32>
  return %28 : tensor<2x8xf32>
}

// -----

// NEGATIVE: 0.04 is not GELU's 0.044715 (a different function); the reason names the constant.
// CHECK-LABEL: func.func @wrong_cubic_coefficient
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: composites created: 0
// DEBUG: [gelu-tanh] stablehlo.multiply at {{.*}}: no match: constant 0.03999{{[0-9]*}} at {{.*}} is not 0.044715
func.func @wrong_cubic_coefficient(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<1.000000e+00> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<0.797884583> : tensor<2x8xf32>
  %cst_2 = stablehlo.constant dense<4.000000e-02> : tensor<2x8xf32>
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8xf32>
  %1 = stablehlo.multiply %0, %arg0 : tensor<2x8xf32>
  %2 = stablehlo.multiply %cst_2, %1 : tensor<2x8xf32>
  %3 = stablehlo.add %arg0, %2 : tensor<2x8xf32>
  %4 = stablehlo.multiply %cst_1, %3 : tensor<2x8xf32>
  %5 = stablehlo.tanh %4 : tensor<2x8xf32>
  %6 = stablehlo.add %cst_0, %5 : tensor<2x8xf32>
  %7 = stablehlo.multiply %cst, %6 : tensor<2x8xf32>
  %8 = stablehlo.multiply %arg0, %7 : tensor<2x8xf32>
  return %8 : tensor<2x8xf32>
}

// -----

// NEGATIVE: the tanh is also returned; outlining would compute it twice, so nothing is fused.
// CHECK-LABEL: func.func @inner_value_used_outside
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: composites created: 0
// DEBUG: [gelu-tanh] stablehlo.multiply at {{.*}}: no match: stablehlo.tanh at {{.*}} has users outside the match (they would be duplicated)
func.func @inner_value_used_outside(%arg0: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %cst = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<1.000000e+00> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<0.797884583> : tensor<2x8xf32>
  %cst_2 = stablehlo.constant dense<4.471500e-02> : tensor<2x8xf32>
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8xf32>
  %1 = stablehlo.multiply %0, %arg0 : tensor<2x8xf32>
  %2 = stablehlo.multiply %cst_2, %1 : tensor<2x8xf32>
  %3 = stablehlo.add %arg0, %2 : tensor<2x8xf32>
  %4 = stablehlo.multiply %cst_1, %3 : tensor<2x8xf32>
  %5 = stablehlo.tanh %4 : tensor<2x8xf32>
  %6 = stablehlo.add %cst_0, %5 : tensor<2x8xf32>
  %7 = stablehlo.multiply %cst, %6 : tensor<2x8xf32>
  %8 = stablehlo.multiply %arg0, %7 : tensor<2x8xf32>
  return %8, %5 : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// NEGATIVE: an erf polynomial with another coefficient (not XLA's f32 erf) is refused, naming it.
// CHECK-LABEL: func.func @other_erf_polynomial
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: composites created: 0
// DEBUG: [gelu-erf] stablehlo.multiply at {{.*}}: no match: the erf polynomial's numerator coefficient 6 is -0.0170960333, not -0.0160960332 (XLA's f32 erf)
func.func @other_erf_polynomial(%arg0: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %cst = stablehlo.constant dense<0.707106769> : tensor<2x8xf32>
  %cst_0 = stablehlo.constant dense<1.000000e+00> : tensor<2x8xf32>
  %cst_1 = stablehlo.constant dense<5.000000e-01> : tensor<2x8xf32>
  %cst_2 = stablehlo.constant dense<-4.000000e+00> : tensor<2x8xf32>
  %cst_3 = stablehlo.constant dense<4.000000e+00> : tensor<2x8xf32>
  %cst_4 = stablehlo.constant dense<-2.72614237E-10> : tensor<2x8xf32>
  %cst_5 = stablehlo.constant dense<2.77068146E-8> : tensor<2x8xf32>
  %cst_6 = stablehlo.constant dense<-2.10102394E-6> : tensor<2x8xf32>
  %cst_7 = stablehlo.constant dense<-5.69250624E-5> : tensor<2x8xf32>
  %cst_8 = stablehlo.constant dense<-7.34990637E-4> : tensor<2x8xf32>
  %cst_9 = stablehlo.constant dense<-2.954600e-03> : tensor<2x8xf32>
  %cst_10 = stablehlo.constant dense<-0.0170960332> : tensor<2x8xf32>
  %cst_11 = stablehlo.constant dense<-1.45660715E-5> : tensor<2x8xf32>
  %cst_12 = stablehlo.constant dense<-2.13374049E-4> : tensor<2x8xf32>
  %cst_13 = stablehlo.constant dense<-0.00168282702> : tensor<2x8xf32>
  %cst_14 = stablehlo.constant dense<-0.00737332925> : tensor<2x8xf32>
  %cst_15 = stablehlo.constant dense<-0.0142647391> : tensor<2x8xf32>
  %cst_16 = stablehlo.constant dense<-1.000000e+00> : tensor<2x8xf32>
  %0 = stablehlo.multiply %arg0, %cst_1 : tensor<2x8xf32>
  %1 = stablehlo.multiply %arg0, %cst : tensor<2x8xf32>
  %2 = stablehlo.clamp %cst_2, %1, %cst_3 : tensor<2x8xf32>
  %3 = stablehlo.multiply %2, %2 : tensor<2x8xf32>
  %4 = stablehlo.multiply %cst_4, %3 : tensor<2x8xf32>
  %5 = stablehlo.add %4, %cst_5 : tensor<2x8xf32>
  %6 = stablehlo.multiply %5, %3 : tensor<2x8xf32>
  %7 = stablehlo.add %6, %cst_6 : tensor<2x8xf32>
  %8 = stablehlo.multiply %7, %3 : tensor<2x8xf32>
  %9 = stablehlo.add %8, %cst_7 : tensor<2x8xf32>
  %10 = stablehlo.multiply %9, %3 : tensor<2x8xf32>
  %11 = stablehlo.add %10, %cst_8 : tensor<2x8xf32>
  %12 = stablehlo.multiply %11, %3 : tensor<2x8xf32>
  %13 = stablehlo.add %12, %cst_9 : tensor<2x8xf32>
  %14 = stablehlo.multiply %13, %3 : tensor<2x8xf32>
  %15 = stablehlo.add %14, %cst_10 : tensor<2x8xf32>
  %16 = stablehlo.multiply %cst_11, %3 : tensor<2x8xf32>
  %17 = stablehlo.add %16, %cst_12 : tensor<2x8xf32>
  %18 = stablehlo.multiply %17, %3 : tensor<2x8xf32>
  %19 = stablehlo.add %18, %cst_13 : tensor<2x8xf32>
  %20 = stablehlo.multiply %19, %3 : tensor<2x8xf32>
  %21 = stablehlo.add %20, %cst_14 : tensor<2x8xf32>
  %22 = stablehlo.multiply %21, %3 : tensor<2x8xf32>
  %23 = stablehlo.add %22, %cst_15 : tensor<2x8xf32>
  %24 = stablehlo.multiply %2, %15 : tensor<2x8xf32>
  %25 = stablehlo.divide %24, %23 : tensor<2x8xf32>
  %26 = stablehlo.clamp %cst_16, %25, %cst_0 : tensor<2x8xf32>
  %27 = stablehlo.add %26, %cst_0 : tensor<2x8xf32>
  %28 = stablehlo.multiply %27, %0 : tensor<2x8xf32>
  return %28 : tensor<2x8xf32>
}
