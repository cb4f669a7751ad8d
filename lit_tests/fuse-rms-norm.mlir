// fuse-rms-norm: RMSNorm as JAX (`jax.jit(f).lower(...)`) and torch-mlir write it becomes one
// `odml.rms_norm` composite (operands x, w; {epsilon}) whose decomposition is the matched ops.
// Running the pass twice changes nothing more (no composite is ever nested).
// RUN: %hlo-opt %s --split-input-file --pass fuse-rms-norm | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass-pipeline=fuse-rms-norm,fuse-rms-norm | %FileCheck %s
// RUN: %hlo-opt %s --split-input-file --pass fuse-rms-norm --statistics -o %t 2>&1 | %FileCheck %s --check-prefix=STATS
// RUN: %hlo-opt %s --split-input-file --pass fuse-rms-norm --debug-patterns=fuse-rms-norm -o %t 2>&1 | %FileCheck %s --check-prefix=DEBUG

// JAX: x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + 1e-6) * w
// CHECK-LABEL: func.func @jax_rsqrt_mean
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %[[X]], %[[W]] {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:odml.rms_norm.impl[_0-9]*]]} : (tensor<2x8x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8x16xf32>, %[[B:.*]]: tensor<16xf32>) -> tensor<2x8x16xf32>
// CHECK-NEXT: %[[SQ:.*]] = stablehlo.multiply %[[A]], %[[A]]
// CHECK: %[[SUM:.*]] = stablehlo.reduce(%[[SQ]] init: %{{.*}}) applies stablehlo.add across dimensions = [2]
// CHECK: stablehlo.constant dense<1.600000e+01>
// CHECK: stablehlo.divide
// CHECK: stablehlo.constant dense<9.99999997E-7>
// CHECK: %[[INV:.*]] = stablehlo.rsqrt
// CHECK-NEXT: %[[INVB:.*]] = stablehlo.broadcast_in_dim %[[INV]], dims = [0, 1, 2]
// CHECK-NEXT: %[[N:.*]] = stablehlo.multiply %[[A]], %[[INVB]]
// CHECK-NEXT: %[[W1:.*]] = stablehlo.broadcast_in_dim %[[B]], dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
// CHECK-NEXT: %[[W2:.*]] = stablehlo.broadcast_in_dim %[[W1]], dims = [0, 1, 2]
// CHECK-NEXT: %[[Y:.*]] = stablehlo.multiply %[[N]], %[[W2]]
// CHECK-NEXT: return %[[Y]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @jax_rsqrt_mean(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x8x1xf32>
  %7 = stablehlo.rsqrt %6 : tensor<2x8x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.multiply %arg0, %8 : tensor<2x8x16xf32>
  %10 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %12 = stablehlo.multiply %9, %11 : tensor<2x8x16xf32>
  return %12 : tensor<2x8x16xf32>
}

// -----

// JAX: x / jnp.sqrt(jnp.mean(x ** 2, -1, keepdims=True) + 1e-6) * w   (x ** 2 lowers to x * x)
// CHECK-LABEL: func.func @jax_div_sqrt
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %arg1 {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:.*]]}
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8x16xf32>, %{{.*}}: tensor<16xf32>)
// CHECK: %[[S:.*]] = stablehlo.sqrt
// CHECK-NEXT: %[[SB:.*]] = stablehlo.broadcast_in_dim %[[S]]
// CHECK-NEXT: stablehlo.divide %[[A]], %[[SB]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @jax_div_sqrt(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x8x1xf32>
  %7 = stablehlo.sqrt %6 : tensor<2x8x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.divide %arg0, %8 : tensor<2x8x16xf32>
  %10 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %12 = stablehlo.multiply %9, %11 : tensor<2x8x16xf32>
  return %12 : tensor<2x8x16xf32>
}

// -----

// JAX: jnp.power(x, 2.0) (stablehlo.power of a broadcast 2), and sum * (1/N) instead of the mean.
// CHECK-LABEL: func.func @jax_pow_sum_times_inverse_n
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %arg1 {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:.*]]}
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8x16xf32>, %{{.*}}: tensor<16xf32>)
// CHECK: %[[P:.*]] = stablehlo.power %[[A]], %{{.*}}
// CHECK: stablehlo.reduce(%[[P]] init: {{.*}} across dimensions = [2]
// CHECK: stablehlo.constant dense<6.250000e-02>
// CHECK: stablehlo.multiply
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @jax_pow_sum_times_inverse_n(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %cst = stablehlo.constant dense<2.000000e+00> : tensor<f32>
  %0 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<2x8x16xf32>
  %1 = stablehlo.power %arg0, %0 : tensor<2x8x16xf32>
  %cst_0 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %2 = stablehlo.reduce(%1 init: %cst_0) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<6.250000e-02> : tensor<f32>
  %4 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %5 = stablehlo.multiply %3, %4 : tensor<2x8x1xf32>
  %cst_2 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %6 = stablehlo.broadcast_in_dim %cst_2, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %7 = stablehlo.add %5, %6 : tensor<2x8x1xf32>
  %8 = stablehlo.rsqrt %7 : tensor<2x8x1xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %10 = stablehlo.multiply %arg0, %9 : tensor<2x8x16xf32>
  %11 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %13 = stablehlo.multiply %10, %12 : tensor<2x8x16xf32>
  return %13 : tensor<2x8x16xf32>
}

// -----

// JAX: jnp.sum(jnp.square(x), -1, keepdims=True) / x.shape[-1] (chlo.square), no weight: w is ones,
// which the decomposition does not use.
// CHECK-LABEL: func.func @jax_square_sum_over_n_no_weight
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x16xf32>)
// CHECK-DAG: %[[ONES:.*]] = stablehlo.constant dense<1.000000e+00> : tensor<16xf32>
// CHECK-DAG: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %[[X]], %[[ONES]] {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:.*]]}
// CHECK: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8x16xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK-NEXT: chlo.square %[[A]]
// CHECK-NOT: %[[B]]
// CHECK: stablehlo.multiply %[[A]], %{{.*}}
// CHECK-NOT: %[[B]]
// CHECK: return
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @jax_square_sum_over_n_no_weight(%arg0: tensor<2x8x16xf32>) -> tensor<2x8x16xf32> {
  %0 = chlo.square %arg0 : tensor<2x8x16xf32> -> tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x8x1xf32>
  %7 = stablehlo.rsqrt %6 : tensor<2x8x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.multiply %arg0, %8 : tensor<2x8x16xf32>
  return %9 : tensor<2x8x16xf32>
}

// -----

// JAX, a bf16 model with an f32 upcast: xf = x.astype(f32); (xf * rsqrt(...)).astype(bf16) * w.
// The composite takes the bf16 x; the converts are in the decomposition.
// CHECK-LABEL: func.func @jax_bf16_upcast
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %arg1 {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:.*]]} : (tensor<2x8x16xbf16>, tensor<16xbf16>) -> tensor<2x8x16xbf16>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8x16xbf16>, %{{.*}}: tensor<16xbf16>)
// CHECK-NEXT: %[[UP:.*]] = stablehlo.convert %[[A]] : (tensor<2x8x16xbf16>) -> tensor<2x8x16xf32>
// CHECK-NEXT: stablehlo.multiply %[[UP]], %[[UP]]
// CHECK: stablehlo.convert %{{.*}} : (tensor<2x8x16xf32>) -> tensor<2x8x16xbf16>
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @jax_bf16_upcast(%arg0: tensor<2x8x16xbf16>, %arg1: tensor<16xbf16>) -> tensor<2x8x16xbf16> {
  %0 = stablehlo.convert %arg0 : (tensor<2x8x16xbf16>) -> tensor<2x8x16xf32>
  %1 = stablehlo.multiply %0, %0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %2 = stablehlo.reduce(%1 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %4 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %5 = stablehlo.divide %3, %4 : tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %6 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %7 = stablehlo.add %5, %6 : tensor<2x8x1xf32>
  %8 = stablehlo.rsqrt %7 : tensor<2x8x1xf32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %10 = stablehlo.multiply %0, %9 : tensor<2x8x16xf32>
  %11 = stablehlo.convert %10 : (tensor<2x8x16xf32>) -> tensor<2x8x16xbf16>
  %12 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xbf16>) -> tensor<1x1x16xbf16>
  %13 = stablehlo.broadcast_in_dim %12, dims = [0, 1, 2] : (tensor<1x1x16xbf16>) -> tensor<2x8x16xbf16>
  %14 = stablehlo.multiply %11, %13 : tensor<2x8x16xbf16>
  return %14 : tensor<2x8x16xbf16>
}

// -----

// torch-mlir, Hugging Face LlamaRMSNorm (f32): hs.pow(2).mean(-1, keepdim=True); scalars as
// arith.constant + convert/reshape/broadcast; the weight a dense_resource constant.
// CHECK-LABEL: func.func @torch_llama
// CHECK: %[[W:.*]] = stablehlo.constant dense_resource<torch_tensor_16_torch.float32> : tensor<16xf32>
// CHECK: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %[[W]] {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:.*]]} : (tensor<2x8x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
// CHECK-NEXT: return %[[R]]
// CHECK: func.func private @[[IMPL]](%[[A:.*]]: tensor<2x8x16xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK: stablehlo.power %[[A]]
// CHECK: stablehlo.reshape %{{.*}} : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
// CHECK: %[[WB:.*]] = stablehlo.broadcast_in_dim %[[B]], dims = [2]
// CHECK-NEXT: %[[Y:.*]] = stablehlo.multiply %{{.*}}, %[[WB]]
// CHECK-NEXT: return %[[Y]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @torch_llama(%arg0: tensor<2x8x16xf32>) -> tensor<2x8x16xf32> {
  %cst = stablehlo.constant dense_resource<torch_tensor_16_torch.float32> : tensor<16xf32>
  %cst_0 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %cst_1 = arith.constant dense<2> : tensor<1xi64>
  %cst_2 = arith.constant dense<16> : tensor<1xi64>
  %cst_3 = arith.constant dense<9.9999999999999995E-7> : tensor<1xf64>
  %0 = stablehlo.convert %cst_1 : (tensor<1xi64>) -> tensor<1xf32>
  %1 = stablehlo.reshape %0 : (tensor<1xf32>) -> tensor<f32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [] : (tensor<f32>) -> tensor<2x8x16xf32>
  %3 = stablehlo.power %arg0, %2 : tensor<2x8x16xf32>
  %4 = stablehlo.reduce(%3 init: %cst_0) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %5 = stablehlo.reshape %4 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.convert %cst_2 : (tensor<1xi64>) -> tensor<1xf32>
  %7 = stablehlo.reshape %6 : (tensor<1xf32>) -> tensor<f32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %9 = stablehlo.divide %5, %8 : tensor<2x8x1xf32>
  %10 = stablehlo.convert %cst_3 : (tensor<1xf64>) -> tensor<1xf32>
  %11 = stablehlo.reshape %10 : (tensor<1xf32>) -> tensor<f32>
  %12 = stablehlo.broadcast_in_dim %11, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %13 = stablehlo.add %9, %12 : tensor<2x8x1xf32>
  %14 = stablehlo.rsqrt %13 : tensor<2x8x1xf32>
  %15 = stablehlo.broadcast_in_dim %14, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %16 = stablehlo.multiply %arg0, %15 : tensor<2x8x16xf32>
  %17 = stablehlo.broadcast_in_dim %cst, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
  %18 = stablehlo.multiply %16, %17 : tensor<2x8x16xf32>
  return %18 : tensor<2x8x16xf32>
}

{-#
  dialect_resources: {
    builtin: {
      torch_tensor_16_torch.float32: "0x04000000B22D633FE47F623FCF95793F88E4743F0EDD8A3F93DB883FFBE8773FB3D9493F0820843F9CA85F3FD37A843FB1F1833FB288813F8FD78F3F754B8E3F70AB793F"
    }
  }
#-}

// -----

// torch-mlir, Hugging Face GemmaRMSNorm: output * (1.0 + self.weight.float()), then .type_as(x).
// CHECK-LABEL: func.func @torch_gemma
// CHECK: %[[W1:.*]] = stablehlo.add %{{.*}}, %{{.*}} : tensor<16xf32>
// CHECK-NEXT: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %[[W1]] {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @{{.*}}} : (tensor<2x8x16xbf16>, tensor<16xf32>) -> tensor<2x8x16xbf16>
// CHECK-NEXT: return %[[R]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @torch_gemma(%arg0: tensor<2x8x16xbf16>) -> tensor<2x8x16xbf16> {
  %cst = stablehlo.constant dense_resource<torch_tensor_16_torch.bfloat16> : tensor<16xbf16>
  %cst_0 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %cst_1 = arith.constant dense<2> : tensor<1xi64>
  %cst_2 = arith.constant dense<16> : tensor<1xi64>
  %cst_3 = arith.constant dense<9.9999999999999995E-7> : tensor<1xf64>
  %cst_4 = arith.constant dense<1.000000e+00> : tensor<1xf64>
  %0 = stablehlo.convert %arg0 : (tensor<2x8x16xbf16>) -> tensor<2x8x16xf32>
  %1 = stablehlo.convert %cst_1 : (tensor<1xi64>) -> tensor<1xf32>
  %2 = stablehlo.reshape %1 : (tensor<1xf32>) -> tensor<f32>
  %3 = stablehlo.broadcast_in_dim %2, dims = [] : (tensor<f32>) -> tensor<2x8x16xf32>
  %4 = stablehlo.power %0, %3 : tensor<2x8x16xf32>
  %5 = stablehlo.reduce(%4 init: %cst_0) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %6 = stablehlo.reshape %5 : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %7 = stablehlo.convert %cst_2 : (tensor<1xi64>) -> tensor<1xf32>
  %8 = stablehlo.reshape %7 : (tensor<1xf32>) -> tensor<f32>
  %9 = stablehlo.broadcast_in_dim %8, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %10 = stablehlo.divide %6, %9 : tensor<2x8x1xf32>
  %11 = stablehlo.convert %cst_3 : (tensor<1xf64>) -> tensor<1xf32>
  %12 = stablehlo.reshape %11 : (tensor<1xf32>) -> tensor<f32>
  %13 = stablehlo.broadcast_in_dim %12, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %14 = stablehlo.add %10, %13 : tensor<2x8x1xf32>
  %15 = stablehlo.rsqrt %14 : tensor<2x8x1xf32>
  %16 = stablehlo.broadcast_in_dim %15, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %17 = stablehlo.multiply %0, %16 : tensor<2x8x16xf32>
  %18 = stablehlo.convert %cst : (tensor<16xbf16>) -> tensor<16xf32>
  %19 = stablehlo.convert %cst_4 : (tensor<1xf64>) -> tensor<1xf32>
  %20 = stablehlo.reshape %19 : (tensor<1xf32>) -> tensor<f32>
  %21 = stablehlo.broadcast_in_dim %20, dims = [] : (tensor<f32>) -> tensor<16xf32>
  %22 = stablehlo.add %18, %21 : tensor<16xf32>
  %23 = stablehlo.broadcast_in_dim %22, dims = [2] : (tensor<16xf32>) -> tensor<2x8x16xf32>
  %24 = stablehlo.multiply %17, %23 : tensor<2x8x16xf32>
  %25 = stablehlo.convert %24 : (tensor<2x8x16xf32>) -> tensor<2x8x16xbf16>
  return %25 : tensor<2x8x16xbf16>
}

{-#
  dialect_resources: {
    builtin: {
      torch_tensor_16_torch.bfloat16: "0x02000000053EB63D49BDF0BD8DBD6FBE1A3CA6BCC3BB4E3E0ABD063D5B3D4A3EAABC48BB"
    }
  }
#-}

// -----

// torch-mlir LlamaRMSNorm after fold-constants,simplify,cse: the weight's broadcast is folded into an
// x-shaped constant. Its rows are all the same, so the composite takes one row and the decomposition
// broadcasts it back.
// CHECK-LABEL: func.func @folded_weight
// CHECK-DAG: %[[W:.*]] = stablehlo.constant dense<[5.000000e-01, 1.500000e+00, -2.000000e+00, 2.500000e-01]> : tensor<4xf32>
// CHECK-DAG: %[[R:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %[[W]] {composite_attributes = {epsilon = 9.99999997E-7 : f32}, decomposition = @[[IMPL:.*]]} : (tensor<1x2x4xf32>, tensor<4xf32>) -> tensor<1x2x4xf32>
// CHECK: return %[[R]]
// CHECK: func.func private @[[IMPL]](%{{.*}}: tensor<1x2x4xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK-NEXT: %[[WB:.*]] = stablehlo.broadcast_in_dim %[[B]], dims = [2] : (tensor<4xf32>) -> tensor<1x2x4xf32>
// CHECK: %[[Y:.*]] = stablehlo.multiply %{{.*}}, %[[WB]]
// CHECK-NEXT: return %[[Y]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
func.func @folded_weight(%arg0: tensor<1x2x4xf32>) -> tensor<1x2x4xf32> {
  %cst = stablehlo.constant dense<[[[5.000000e-01, 1.500000e+00, -2.000000e+00, 2.500000e-01], [5.000000e-01, 1.500000e+00, -2.000000e+00, 2.500000e-01]]]> : tensor<1x2x4xf32>
  %cst_0 = stablehlo.constant dense<9.99999997E-7> : tensor<1x2x1xf32>
  %cst_1 = stablehlo.constant dense<4.000000e+00> : tensor<1x2x1xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %cst_3 = stablehlo.constant dense<2.000000e+00> : tensor<1x2x4xf32>
  %0 = stablehlo.power %arg0, %cst_3 : tensor<1x2x4xf32>
  %1 = stablehlo.reduce(%0 init: %cst_2) applies stablehlo.add across dimensions = [2] : (tensor<1x2x4xf32>, tensor<f32>) -> tensor<1x2xf32>
  %2 = stablehlo.reshape %1 : (tensor<1x2xf32>) -> tensor<1x2x1xf32>
  %3 = stablehlo.divide %2, %cst_1 : tensor<1x2x1xf32>
  %4 = stablehlo.add %3, %cst_0 : tensor<1x2x1xf32>
  %5 = stablehlo.rsqrt %4 : tensor<1x2x1xf32>
  %6 = stablehlo.broadcast_in_dim %5, dims = [0, 1, 2] : (tensor<1x2x1xf32>) -> tensor<1x2x4xf32>
  %7 = stablehlo.multiply %arg0, %6 : tensor<1x2x4xf32>
  %8 = stablehlo.multiply %7, %cst : tensor<1x2x4xf32>
  return %8 : tensor<1x2x4xf32>
}

// -----

// The normalized x is also returned: the weight multiply cannot go in (it would duplicate x*rsqrt),
// but the unweighted norm can: composite with w = ones, the weight multiply stays outside.
// CHECK-LABEL: func.func @normed_value_also_used
// CHECK-DAG: %[[ONES:.*]] = stablehlo.constant dense<1.000000e+00> : tensor<16xf32>
// CHECK-DAG: %[[N:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %[[ONES]]
// CHECK: %[[Y:.*]] = stablehlo.multiply %[[N]], %{{.*}}
// CHECK-NEXT: return %[[Y]], %[[N]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
// DEBUG: [rms-norm] stablehlo.multiply at {{.*}}:[[# @LINE + 18]]:9: no match: stablehlo.multiply at {{.*}}:[[# @LINE + 15]]:8 has users outside the match (they would be duplicated)
// DEBUG: [rms-norm-unweighted] stablehlo.multiply at {{.*}}:[[# @LINE + 14]]:8: rewritten
func.func @normed_value_also_used(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>) -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>) {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x8x1xf32>
  %7 = stablehlo.rsqrt %6 : tensor<2x8x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.multiply %arg0, %8 : tensor<2x8x16xf32>
  %10 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %12 = stablehlo.multiply %9, %11 : tensor<2x8x16xf32>
  return %12, %9 : tensor<2x8x16xf32>, tensor<2x8x16xf32>
}

// -----

// NEGATIVE: the mean is over axis 1 (jnp.mean(x * x, 1, keepdims=True)), not the last axis.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 0
// DEBUG: [rms-norm] stablehlo.multiply at {{.*}}:[[# @LINE + 17]]:9: no match: the sum of squares is not over the last axis alone
func.func @wrong_axis(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [1] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 2] : (tensor<2x16xf32>) -> tensor<2x1x16xf32>
  %cst_0 = stablehlo.constant dense<8.000000e+00> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x1x16xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x1x16xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x1x16xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x1x16xf32>
  %7 = stablehlo.rsqrt %6 : tensor<2x1x16xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x1x16xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.multiply %arg0, %8 : tensor<2x8x16xf32>
  %10 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %12 = stablehlo.multiply %9, %11 : tensor<2x8x16xf32>
  return %12 : tensor<2x8x16xf32>
}

// -----

// NEGATIVE: epsilon is an argument (jax.jit(f) with eps traced), not a constant.
// CHECK-LABEL: func.func @eps_not_constant
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 0
// DEBUG: [rms-norm] stablehlo.multiply at {{.*}}:[[# @LINE + 16]]:9: no match: epsilon is not a constant scalar but a block argument (tensor<f32>)
func.func @eps_not_constant(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>, %arg2: tensor<f32>) -> tensor<2x8x16xf32> {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x8x1xf32>
  %5 = stablehlo.broadcast_in_dim %arg2, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x8x1xf32>
  %7 = stablehlo.rsqrt %6 : tensor<2x8x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.multiply %arg0, %8 : tensor<2x8x16xf32>
  %10 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %12 = stablehlo.multiply %9, %11 : tensor<2x8x16xf32>
  return %12 : tensor<2x8x16xf32>
}

// -----

// NEGATIVE: the rsqrt is also returned; outlining would duplicate it.
// CHECK-LABEL: func.func @rsqrt_has_another_user
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 0
// DEBUG: [rms-norm] stablehlo.multiply at {{.*}}:[[# @LINE + 17]]:9: no match: stablehlo.rsqrt at {{.*}}:[[# @LINE + 12]]:8 has users outside the match (they would be duplicated)
func.func @rsqrt_has_another_user(%arg0: tensor<2x8x16xf32>, %arg1: tensor<16xf32>) -> (tensor<2x8x16xf32>, tensor<2x8x1xf32>) {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<2x8x16xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [0, 1] : (tensor<2x8xf32>) -> tensor<2x8x1xf32>
  %cst_0 = stablehlo.constant dense<1.600000e+01> : tensor<f32>
  %3 = stablehlo.broadcast_in_dim %cst_0, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = stablehlo.divide %2, %3 : tensor<2x8x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<f32>
  %5 = stablehlo.broadcast_in_dim %cst_1, dims = [] : (tensor<f32>) -> tensor<2x8x1xf32>
  %6 = stablehlo.add %4, %5 : tensor<2x8x1xf32>
  %7 = stablehlo.rsqrt %6 : tensor<2x8x1xf32>
  %8 = stablehlo.broadcast_in_dim %7, dims = [0, 1, 2] : (tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %9 = stablehlo.multiply %arg0, %8 : tensor<2x8x16xf32>
  %10 = stablehlo.broadcast_in_dim %arg1, dims = [2] : (tensor<16xf32>) -> tensor<1x1x16xf32>
  %11 = stablehlo.broadcast_in_dim %10, dims = [0, 1, 2] : (tensor<1x1x16xf32>) -> tensor<2x8x16xf32>
  %12 = stablehlo.multiply %9, %11 : tensor<2x8x16xf32>
  return %12, %7 : tensor<2x8x16xf32>, tensor<2x8x1xf32>
}

// -----

// NEGATIVE: the per-row values are transposed on the way back (broadcast dims [1, 0]): the element
// counts agree, but each row would be scaled by another row's norm.
// CHECK-LABEL: func.func @transposed_normalizer
// CHECK-NOT: stablehlo.composite
// CHECK: return
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 0
// DEBUG: [rms-norm-unweighted] stablehlo.multiply at {{.*}}:[[# @LINE + 12]]:8: no match: the normalizer is not one value per row, broadcast along the last axis
func.func @transposed_normalizer(%arg0: tensor<4x4x8xf32>) -> tensor<4x4x8xf32> {
  %0 = stablehlo.multiply %arg0, %arg0 : tensor<4x4x8xf32>
  %cst = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %1 = stablehlo.reduce(%0 init: %cst) applies stablehlo.add across dimensions = [2] : (tensor<4x4x8xf32>, tensor<f32>) -> tensor<4x4xf32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [1, 0] : (tensor<4x4xf32>) -> tensor<4x4x1xf32>
  %cst_0 = stablehlo.constant dense<8.000000e+00> : tensor<4x4x1xf32>
  %3 = stablehlo.divide %2, %cst_0 : tensor<4x4x1xf32>
  %cst_1 = stablehlo.constant dense<9.99999997E-7> : tensor<4x4x1xf32>
  %4 = stablehlo.add %3, %cst_1 : tensor<4x4x1xf32>
  %5 = stablehlo.rsqrt %4 : tensor<4x4x1xf32>
  %6 = stablehlo.broadcast_in_dim %5, dims = [0, 1, 2] : (tensor<4x4x1xf32>) -> tensor<4x4x8xf32>
  %7 = stablehlo.multiply %arg0, %6 : tensor<4x4x8xf32>
  return %7 : tensor<4x4x8xf32>
}

// -----

// NEGATIVE (partly): an x-shaped constant factor whose rows differ is not a per-feature weight; only
// the unweighted norm fuses and the multiply stays.
// CHECK-LABEL: func.func @constant_factor_differs_by_row
// CHECK: %[[N:.*]] = stablehlo.composite "odml.rms_norm" %arg0, %{{.*}}
// CHECK-NEXT: %[[Y:.*]] = stablehlo.multiply %[[N]], %{{.*}} : tensor<1x2x4xf32>
// CHECK-NEXT: return %[[Y]]
// STATS: fuse-rms-norm (#1)
// STATS-NOT: fuse-rms-norm (#1)
// STATS: composites created: 1
// DEBUG: [rms-norm] stablehlo.multiply at {{.*}}:[[# @LINE + 15]]:8: no match: the constant factor at {{.*}}:[[# @LINE + 2]]:10 differs between rows
func.func @constant_factor_differs_by_row(%arg0: tensor<1x2x4xf32>) -> tensor<1x2x4xf32> {
  %cst = stablehlo.constant dense<[[[5.000000e-01, 1.500000e+00, -2.000000e+00, 2.500000e-01], [5.000000e-01, 1.500000e+00, -2.000000e+00, 2.000000e+00]]]> : tensor<1x2x4xf32>
  %cst_0 = stablehlo.constant dense<9.99999997E-7> : tensor<1x2x1xf32>
  %cst_1 = stablehlo.constant dense<4.000000e+00> : tensor<1x2x1xf32>
  %cst_2 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %cst_3 = stablehlo.constant dense<2.000000e+00> : tensor<1x2x4xf32>
  %0 = stablehlo.power %arg0, %cst_3 : tensor<1x2x4xf32>
  %1 = stablehlo.reduce(%0 init: %cst_2) applies stablehlo.add across dimensions = [2] : (tensor<1x2x4xf32>, tensor<f32>) -> tensor<1x2xf32>
  %2 = stablehlo.reshape %1 : (tensor<1x2xf32>) -> tensor<1x2x1xf32>
  %3 = stablehlo.divide %2, %cst_1 : tensor<1x2x1xf32>
  %4 = stablehlo.add %3, %cst_0 : tensor<1x2x1xf32>
  %5 = stablehlo.rsqrt %4 : tensor<1x2x1xf32>
  %6 = stablehlo.broadcast_in_dim %5, dims = [0, 1, 2] : (tensor<1x2x1xf32>) -> tensor<1x2x4xf32>
  %7 = stablehlo.multiply %arg0, %6 : tensor<1x2x4xf32>
  %8 = stablehlo.multiply %7, %cst : tensor<1x2x4xf32>
  return %8 : tensor<1x2x4xf32>
}
