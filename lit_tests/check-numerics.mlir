// --check-numerics runs the module on XLA CPU before the pipeline and after each pass, and names the
// first pass whose results differ: here the deliberately wrong test-wrong-add, not the cse after it.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass-pipeline=cse,test-wrong-add,cse --check-numerics -o %t 2>&1 | %FileCheck %s
// RUN: %hlo-opt %s --pass-pipeline=canonicalize,cse --check-numerics -o %t 2>&1 | %FileCheck %s --check-prefix=GOOD
// A loose enough tolerance accepts the change: a*b+b vs a*b-b differ by 2|b| ~ N(0,1) samples.
// RUN: %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass test-wrong-add --check-numerics --atol 100 -o %t 2>&1 | %FileCheck %s --check-prefix=LOOSE
// Tolerances are finite numbers >= 0: one line, exit 1, before any work.
// RUN: not %hlo-opt %s --pass cse --check-numerics --rtol nan -o %t 2>&1 | %FileCheck %s --check-prefix=NAN
// RUN: not %hlo-opt %s --pass cse --check-numerics --atol -1 -o %t 2>&1 | %FileCheck %s --check-prefix=NEG
// RUN: not env HLO_OPT_NUMERICS_TIMEOUT=soon %hlo-opt %s --pass cse --check-numerics -o %t 2>&1 | %FileCheck %s --check-prefix=BADTIME

// CHECK: check-numerics: reference run of the input, seed 0, 2 inputs, 1 outputs (floats N(0,1)
// CHECK: check-numerics: after cse (#1): same results
// CHECK: error: check-numerics: pass 'test-wrong-add' (#2) changed the results: output 0 differs at
// CHECK-NEXT: note: rtol=1e-05 atol=1e-06, seed 0
// CHECK-NOT: after cse (#3)
// GOOD: after canonicalize (#1): same results
// GOOD: after cse (#2): same results
// LOOSE: after test-wrong-add (#1): same results
// NAN: hlo-opt: error: {{.*}}--rtol{{.*}}finite number >= 0{{.*}}nan
// NAN-NOT: Traceback
// NEG: hlo-opt: error: {{.*}}--atol{{.*}}finite number >= 0{{.*}}-1
// BADTIME: hlo-opt: error: $HLO_OPT_NUMERICS_TIMEOUT must be a number of seconds > 0 (inf for no limit), got 'soon'
func.func @main(%a: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<8xf32> {
  %0 = stablehlo.multiply %a, %b : tensor<8xf32>
  %1 = stablehlo.add %0, %b : tensor<8xf32>
  return %1 : tensor<8xf32>
}
