// A failing pass leaves a reproducer: the module as it entered that pass and the rest of the pipeline.
// Replaying it fails the same way; it is valid MLIR input on its own too.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass-pipeline='cse,test-raise,test-count{times=2}' --reproducer %t.repro -o %t 2>&1 | %FileCheck %s
// RUN: cat %t.repro | %FileCheck %s --check-prefix=REPRO
// RUN: not %hlo-opt --run-reproducer %t.repro 2>&1 | %FileCheck %s --check-prefix=REPLAY
// RUN: %hlo-opt %t.repro --pass cse | %FileCheck %s --check-prefix=VALID
// Without --reproducer it goes to a temporary file, and the message says where.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass test-raise 2>&1 | %FileCheck %s --check-prefix=TMP
// A reproducer that cannot be written (disk full) does not replace the pass's error: a note says why.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/test_passes.py --pass test-raise --reproducer /dev/full 2>&1 | %FileCheck %s --check-prefix=FULL

// CHECK: error: pass 'test-raise' raised ZeroDivisionError: integer division or modulo by zero
// CHECK-NEXT: note: raised at {{.*}}test_passes.py:{{[0-9]+}}:{{[0-9]+}}
// CHECK-NEXT: note: reproducer written to {{.*}}.repro (replay: hlo-opt --run-reproducer {{.*}}.repro)
// CHECK-NOT: Traceback
// REPRO: // hlo-opt reproducer
// REPRO-NEXT: // pipeline: test-raise,test-count{times=2}
// REPRO-NEXT: // plugin: {{.*}}test_passes.py
// REPRO: func.func @main
// REPLAY: error: pass 'test-raise' raised ZeroDivisionError
// VALID: stablehlo.multiply
// TMP: note: reproducer written to {{.*}}hlo-opt-reproducer-{{.*}}.mlir
// FULL: error: pass 'test-raise' raised ZeroDivisionError
// FULL-NEXT: note: raised at
// FULL-NEXT: note: no reproducer: cannot write /dev/full: No space left on device
// FULL-NOT: Traceback
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.multiply %a, %a : tensor<4xf32>
  return %0 : tensor<4xf32>
}
