"""A synthetic module with large weights, for the memory and speed benchmarks (bench/tflite_large.py,
bench/quant.py): `main` is a chain of `n` dot_generals against [dim, dim] f32 weights held as
dense_resource blobs, attached zero-copy from numpy, the way torch-mlir exports hold their weights."""

from __future__ import annotations

import numpy as np

from hlo_passes import ir


def weight_chain(n: int, dim: int, seed: int = 0):
    """(module, weights): the module references the numpy weights without copying them."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((dim, dim), dtype=np.float32) for _ in range(n)]
    t, w = f"tensor<8x{dim}xf32>", f"tensor<{dim}x{dim}xf32>"
    lines = [f"func.func @main(%x: {t}) -> {t} {{"]
    prev = "%x"
    for i in range(n):
        lines.append(f"  %w{i} = stablehlo.constant dense_resource<w{i}> : {w}")
        lines.append(f"  %y{i} = stablehlo.dot_general {prev}, %w{i}, contracting_dims = [1] x [1] : ({t}, {w}) -> {t}")
        prev = f"%y{i}"
    lines += [f"  return {prev} : {t}", "}"]
    ctx = ir.make_context()
    with ctx, ir.mlir.Location.unknown():
        module = ir.mlir.Module.parse("\n".join(lines))
        ops = [o for o in module.body.operations[0].regions[0].blocks[0].operations
               if o.operation.name == "stablehlo.constant"]
        for i, (op, weight) in enumerate(zip(ops, weights)):
            op.attributes["value"] = ir.from_numpy(weight, resource=f"w{i}")
    return module, weights
