// When --check-numerics rejects a pass, every other aid still shows what that pass did: its IR is printed
// (--print-ir-after=PASS, --print-ir-after-change, --print-ir-after-failure) and dumped (--dump-dir),
// --statistics prints, and the reproducer records seed, tolerances and input sets so that replaying it
// fails the same way (and writes no reproducer of its own). The culprit is a plugin pass: x * 2 -> x * 3.
// RUN: rm -rf %t.dump %t.repro %t.first
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass-pipeline=cse,test-times-three,cse --check-numerics --seed 3 --rtol 1e-3 --atol 1e-4 --numerics-inputs typical --print-ir-after=test-times-three --print-ir-after-failure --statistics --dump-dir %t.dump --reproducer %t.repro -o %t.first 2>&1 | %FileCheck %s
// RUN: %FileCheck %s --check-prefix=DUMP < %t.dump/02-test-times-three.mlir
// RUN: %FileCheck %s --check-prefix=REPRO < %t.repro
// RUN: not %hlo-opt --run-reproducer %t.repro -o %t.out 2>&1 | %FileCheck %s --check-prefix=REPLAY
// A flag given on the replay's command line wins over the recorded one: loose enough, it passes.
// RUN: %hlo-opt --run-reproducer %t.repro --atol 100 -o %t.out 2>&1 | %FileCheck %s --check-prefix=LOOSE
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass-pipeline=cse,test-times-three --check-numerics --print-ir-after-change --reproducer %t.repro2 -o %t.out 2>&1 | %FileCheck %s --check-prefix=CHANGE
// --timing and --op-histogram report too, the failing pass marked as such.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass-pipeline=cse,test-times-three,cse --check-numerics --timing --op-histogram --reproducer %t.repro3 -o %t.out 2>&1 | %FileCheck %s --check-prefix=TIMING
// No output is written by a failed run.
// RUN: not ls %t.first

// CHECK: check-numerics: reference run of the input, seed 3
// CHECK: check-numerics: after cse (#1): same results
// CHECK: // -----// IR Dump After test-times-three (#2) //----- //
// CHECK: stablehlo.constant dense<3.000000e+00>
// CHECK: // -----// IR Dump After Failure test-times-three (#2) //----- //
// CHECK: stablehlo.constant dense<3.000000e+00>
// CHECK: ... Pass statistics report ...
// CHECK: test-times-three (#2)
// CHECK: pattern times-three: 1
// CHECK: error: check-numerics: pass 'test-times-three' (#2) changed the results: output 0 differs at [{{[0-9]+}}]: got {{.*}}, expected {{.*}}
// CHECK-NEXT: note: rtol=0.001 atol=0.0001, seed 3; got = after the pass
// CHECK-NEXT: note: reproducer written to {{.*}}.repro (replay: hlo-opt --run-reproducer {{.*}}.repro)
// CHECK-NOT: Traceback
// CHECK-NOT: after cse (#3)
// DUMP: stablehlo.constant dense<3.000000e+00>
// REPRO: // hlo-opt reproducer
// REPRO-NEXT: // pipeline: test-times-three,cse
// REPRO-NEXT: // plugin: {{.*}}bisect_passes.py
// REPRO-NEXT: // check-numerics: seed=3 rtol=0.001 atol=0.0001 inputs=typical timeout=
// REPRO: stablehlo.constant dense<2.000000e+00>
// REPLAY: check-numerics: reference run of the input, seed 3
// REPLAY: error: check-numerics: pass 'test-times-three' (#1) changed the results: output 0 differs at
// REPLAY-NEXT: note: rtol=0.001 atol=0.0001, seed 3
// REPLAY-NOT: reproducer written
// LOOSE: check-numerics: after test-times-three (#1): same results
// TIMING: op histogram (after: as failing pass test-times-three (#2) left it):
// TIMING: stablehlo.multiply 1 1
// TIMING: test-times-three (#2, failed)
// TIMING-NOT: cse (#3)
// TIMING: error: check-numerics: pass 'test-times-three' (#2) changed the results
// CHANGE: // -----// IR Dump After test-times-three (#2) //----- //
// CHANGE: stablehlo.constant dense<3.000000e+00>
// CHANGE: error: check-numerics: pass 'test-times-three' (#2) changed the results
func.func @main(%a: tensor<8xf32>) -> tensor<8xf32> {
  %two = stablehlo.constant dense<2.0> : tensor<8xf32>
  %0 = stablehlo.multiply %a, %two : tensor<8xf32>
  %1 = stablehlo.add %0, %a : tensor<8xf32>
  return %1 : tensor<8xf32>
}
