"""The TFLite backend: a `.tflite` writer (`writer`), LiteRT's schema behind one door (`schema`), and a runner
(`runtime`). Nothing here imports MLIR: the legalization that turns StableHLO into TFL ops feeds the writer."""
