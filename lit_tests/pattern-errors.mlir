// An exception inside a user's pattern (its `where` or its `rewrite`) is one error located at the user's
// own line, naming the pattern and the op it was working on; not a traceback ending in jaxlib's generated
// op builders. --traceback shows the traceback as well.
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass test-buggy-rewrite --reproducer %t.repro -o %t 2>&1 | %FileCheck %s --check-prefix=REWRITE
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass test-buggy-where --reproducer %t.repro -o %t 2>&1 | %FileCheck %s --check-prefix=WHERE
// RUN: not %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass test-buggy-rewrite --reproducer %t.repro --traceback -o %t 2>&1 | %FileCheck %s --check-prefix=TRACE

// REWRITE: bisect_passes.py:{{[0-9]+}}:{{[0-9]+}}: error: pass 'test-buggy-rewrite' failed: pattern 'buggy-rewrite' raised ValueError in its rewrite: Operand 1 of operation "stablehlo.add" must be a Value
// REWRITE-NEXT: note: while rewriting stablehlo.multiply at model.py:3:8
// REWRITE-NOT: Traceback
// REWRITE-NOT: _ops_gen.py
// WHERE: bisect_passes.py:{{[0-9]+}}:{{[0-9]+}}: error: pass 'test-buggy-where' failed: pattern 'buggy-where' raised IndexError in its where: list index out of range
// WHERE-NEXT: note: while matching stablehlo.multiply at model.py:3:8
// WHERE-NOT: Traceback
// TRACE: Traceback (most recent call last):
// TRACE: _bad_rewrite
// TRACE: bisect_passes.py:{{[0-9]+}}:{{[0-9]+}}: error: pass 'test-buggy-rewrite' failed: pattern 'buggy-rewrite'
func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.multiply %a, %a : tensor<4xf32> loc("model.py":3:8)
  return %0 : tensor<4xf32>
}
