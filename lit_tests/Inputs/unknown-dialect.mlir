func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "tfl.neg"(%a) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "foo.bar"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}
