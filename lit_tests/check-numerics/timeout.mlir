// A stablehlo.while whose condition is always true: the reference run never ends. The timeout stops
// XLA's worker process and hlo-opt says so in one line, exit 1.
// RUN: not env HLO_OPT_NUMERICS_TIMEOUT=3 %hlo-opt %s --pass cse --check-numerics -o %t 2>&1 | %FileCheck %s

// CHECK: hlo-opt: error: check-numerics: running the input: XLA CPU did not finish running the module within 3 s (--numerics-timeout, or $HLO_OPT_NUMERICS_TIMEOUT); its worker process was stopped
// CHECK-NOT: Traceback
func.func @main(%a: tensor<i32>) -> tensor<i32> {
  %0 = stablehlo.while(%it = %a) : tensor<i32>
   cond {
    %t = stablehlo.constant dense<true> : tensor<i1>
    stablehlo.return %t : tensor<i1>
  } do {
    %1 = stablehlo.add %it, %it : tensor<i32>
    stablehlo.return %1 : tensor<i32>
  }
  return %0 : tensor<i32>
}
