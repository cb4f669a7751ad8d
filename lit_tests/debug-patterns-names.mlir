// --debug-patterns: a pass name explains every pattern the pass applies, whatever its pattern sets are
// called (test-four-rules's set is "cleanup-rules"); 'all' explains everything (see --help); a name no pass
// or pattern of the run answers to gets a warning with the closest name.
// RUN: %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass test-four-rules --debug-patterns=test-four-rules -o %t 2>&1 | %FileCheck %s --check-prefix=PASS
// RUN: %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass test-four-rules --debug-patterns=all -o %t 2>&1 | %FileCheck %s --check-prefix=PASS
// RUN: %hlo-opt %s --load-pass-plugin %inputs/bisect_passes.py --pass test-four-rules --debug-patterns=mul-one,add-zeo -o %t 2>&1 | %FileCheck %s --check-prefix=TYPO
// RUN: %hlo-opt --help | %FileCheck %s --check-prefix=HELP

// PASS-DAG: [add-zero] stablehlo.add at model.py:10:5: rewritten
// PASS-DAG: [mul-one] stablehlo.multiply at model.py:11:5: rewritten
// PASS-DAG: [double-to-add] stablehlo.multiply at model.py:12:5: rewritten
// PASS-NOT: warning
// TYPO: [mul-one] stablehlo.multiply at model.py:11:5: rewritten
// TYPO-NOT: [add-zero]
// TYPO: hlo-opt: warning: --debug-patterns: no pass or pattern of this run is called 'add-zeo' (did you mean 'add-zero'?)
// TYPO-NOT: 'mul-one'
// HELP: --debug-patterns NAMES
// HELP: a pass name
// HELP: or 'all'
func.func @main(%a: tensor<8xf32>) -> tensor<8xf32> {
  %zero = stablehlo.constant dense<0.0> : tensor<8xf32>
  %one = stablehlo.constant dense<1.0> : tensor<8xf32>
  %two = stablehlo.constant dense<2.0> : tensor<8xf32>
  %0 = stablehlo.add %a, %zero : tensor<8xf32> loc("model.py":10:5)
  %1 = stablehlo.multiply %0, %one : tensor<8xf32> loc("model.py":11:5)
  %2 = stablehlo.multiply %1, %two : tensor<8xf32> loc("model.py":12:5)
  return %2 : tensor<8xf32>
}
