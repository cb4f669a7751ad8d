"""The TFLite backend: StableHLO -> TFL ops (`legalize`, `legalize_nn`, `cleanup`, `retype`), the TFL op table
(`ops`), a `.tflite` writer (`writer`, `export`), LiteRT's schema behind one door (`schema`), a runner
(`runtime`) and `inspect`. The writer, schema, runner and inspector need no MLIR."""
