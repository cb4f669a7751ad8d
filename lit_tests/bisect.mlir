// --bisect: when --check-numerics rejects a pass, re-run it allowing only its first k pattern rewrites
// (binary search over k) and name the first rewrite that changes the results: its pattern and the root
// op's file:line:col. test-four-rules has four rules; only negate-is-identity (-x -> x) is wrong.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass-pipeline=cse,test-four-rules --check-numerics --bisect --reproducer %t.repro -o %t 2>&1 | %FileCheck %s
// The reproducer replays under --bisect too, and finds the same rewrite.
// RUN: not %hlo-opt --run-reproducer %t.repro --bisect -o %t 2>&1 | %FileCheck %s --check-prefix=REPLAY
// A pass whose change is not a pattern rewrite is said to be so.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass test-wrong-add --check-numerics --bisect --reproducer %t.repro2 -o %t 2>&1 | %FileCheck %s --check-prefix=NOPATTERN
// --bisect needs --check-numerics.
// RUN: not %hlo-opt %s --pass cse --bisect -o %t 2>&1 | %FileCheck %s --check-prefix=ALONE
// A replay writes no reproducer, so asking it for one is a usage error.
// RUN: not %hlo-opt --run-reproducer %t.repro --reproducer %t.again -o %t 2>&1 | %FileCheck %s --check-prefix=AGAIN

// CHECK: bisect: test-four-rules (#2) with all of its rewrites: results differ (5 applied)
// CHECK: bisect: test-four-rules (#2) with 0 of its rewrites: same results
// CHECK: error: check-numerics: pass 'test-four-rules' (#2) changed the results
// CHECK: note: bisect: rewrite [[K:[0-9]]] of 5 is the first that changes the results: pattern 'negate-is-identity' on stablehlo.negate at model.py:13:5 (pass 'test-four-rules' (#2))
// CHECK-NEXT: note: reproducer written to
// CHECK-NOT: Traceback
// REPLAY: note: bisect: rewrite [[K:[0-9]]] of 5 is the first that changes the results: pattern 'negate-is-identity' on stablehlo.negate at model.py:13:5 (pass 'test-four-rules' (#1))
// NOPATTERN: note: bisect: 'test-wrong-add' applies no pattern rewrite: the change comes from its own code
// ALONE: hlo-opt: error: --bisect needs --check-numerics
// AGAIN: hlo-opt: error: --reproducer with --run-reproducer: a replay writes no reproducer
func.func @main(%a: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<8xf32> {
  %zero = stablehlo.constant dense<0.0> : tensor<8xf32>
  %one = stablehlo.constant dense<1.0> : tensor<8xf32>
  %two = stablehlo.constant dense<2.0> : tensor<8xf32>
  %0 = stablehlo.add %a, %zero : tensor<8xf32> loc("model.py":10:5)
  %1 = stablehlo.multiply %0, %one : tensor<8xf32> loc("model.py":11:5)
  %2 = stablehlo.multiply %1, %two : tensor<8xf32> loc("model.py":12:5)
  %3 = stablehlo.negate %2 : tensor<8xf32> loc("model.py":13:5)
  %4 = stablehlo.add %3, %b : tensor<8xf32> loc("model.py":14:5)
  %5 = stablehlo.add %4, %zero : tensor<8xf32> loc("model.py":15:5)
  return %5 : tensor<8xf32>
}
