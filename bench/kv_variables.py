"""KV caches as signature inputs/outputs, or as LiteRT resource variables: which costs a decode step less?

    .venv/bin/python bench/kv_variables.py [--config 8x1024] [--steps 200] [--rounds 5]

The end-to-end issue asks to keep the caches as inputs/outputs, or as variables "if LiteRT can keep them in
place -- measure both". Only the caches differ between the two, so this measures exactly that, on a model
that is nothing but the caches of the example LLM's config (`examples/llm_common.py`: layers x K and V, each
[1, S, G, H] f32) and what a decode step does with them: write one row at `pos` into each
(DYNAMIC_UPDATE_SLICE) and read each whole (a SUM, standing in for attention's reads).

- io: every cache is an input and an output of the `decode` signature; the caller feeds each output back
  as the next step's input (what `hlo_passes.generate` and litert-torch's external KV cache do).
- variables: the caches live in LiteRT resource variables (VAR_HANDLE by shared name; READ_VARIABLE ->
  DYNAMIC_UPDATE_SLICE -> ASSIGN_VARIABLE); an `init` subgraph run once by CALL_ONCE zeroes them. The
  signature takes only the new rows and the position.

Both files are written with our own flatbuffer writer and run in LiteRT (XNNPACK, 1 thread), alternated by
round; the outputs of the two are checked equal at every step of the first round. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import llm_common as common  # noqa: E402

from hlo_passes.tflite import schema  # noqa: E402
from hlo_passes.tflite.runtime import TFLiteModel  # noqa: E402
from hlo_passes.tflite.writer import ModelWriter  # noqa: E402


def _step_ops(sg, caches_in: list[int], rows: list[int], start: int, shape) -> tuple[list[int], list[int]]:
    """One decode step on the caches: write each row at `start`, then sum each whole cache. Returns (the
    updated caches, the per-cache sums)."""
    axes = sg.constant(np.arange(len(shape), dtype=np.int32), "axes")
    new, sums = [], []
    for i, (c, r) in enumerate(zip(caches_in, rows)):
        out = sg.tensor(shape, np.float32, f"cache_{i}_new")
        sg.op("DYNAMIC_UPDATE_SLICE", [c, r, start], [out])
        total = sg.tensor([], np.float32, f"sum_{i}")
        sg.op("SUM", [out, axes], [total], options=schema.options("ReducerOptions", keepDims=False))
        new.append(out)
        sums.append(total)
    return new, sums


def io_model(n: int, shape) -> bytes:
    w = ModelWriter("kv caches as inputs/outputs")
    sg = w.subgraph("decode")
    row_shape = [shape[0], 1, *shape[2:]]
    caches = [sg.tensor(shape, np.float32, f"cache_{i}") for i in range(n)]
    rows = [sg.tensor(row_shape, np.float32, f"row_{i}") for i in range(n)]
    start = sg.tensor([len(shape)], np.int32, "start")
    new, sums = _step_ops(sg, caches, rows, start, shape)
    sg.inputs, sg.outputs = caches + rows + [start], new + sums
    w.signature("decode", sg, {**{f"cache_{i}": t for i, t in enumerate(caches)},
                               **{f"row_{i}": t for i, t in enumerate(rows)}, "start": start},
                {**{f"cache_{i}": t for i, t in enumerate(new)}, **{f"sum_{i}": t for i, t in enumerate(sums)}})
    return w.to_bytes()


def _handle(sg, i: int) -> int:
    h = sg.tensor([], np.int32, f"handle_{i}")
    sg.tensors[h].type = schema.fb.TensorType.RESOURCE  # (the writer's tensors are numpy-typed)
    sg.op("VAR_HANDLE", [], [h], options=schema.options("VarHandleOptions", container="", sharedName=f"kv_{i}"))
    return h


def variables_model(n: int, shape) -> bytes:
    w = ModelWriter("kv caches as resource variables")
    sg = w.subgraph("decode")
    init = w.subgraph("init")
    zeros = init.constant(np.zeros(shape, np.float32), "zeros")
    for i in range(n):
        init.op("ASSIGN_VARIABLE", [_handle(init, i), zeros], [])
    sg.op("CALL_ONCE", [], [], options=schema.options("CallOnceOptions", initSubgraphIndex=init.index))
    handles = [_handle(sg, i) for i in range(n)]
    caches = []
    for i, h in enumerate(handles):
        c = sg.tensor(shape, np.float32, f"cache_{i}")
        sg.op("READ_VARIABLE", [h], [c])
        caches.append(c)
    row_shape = [shape[0], 1, *shape[2:]]
    rows = [sg.tensor(row_shape, np.float32, f"row_{i}") for i in range(n)]
    start = sg.tensor([len(shape)], np.int32, "start")
    new, sums = _step_ops(sg, caches, rows, start, shape)
    for h, c in zip(handles, new):
        sg.op("ASSIGN_VARIABLE", [h, c], [])
    sg.inputs, sg.outputs = rows + [start], sums
    w.signature("decode", sg, {**{f"row_{i}": t for i, t in enumerate(rows)}, "start": start},
                {f"sum_{i}": t for i, t in enumerate(sums)})
    return w.to_bytes()


def run(model: TFLiteModel, kind: str, n: int, shape, steps: int, rng, record: list | None = None) -> list[float]:
    """Decode `steps` positions (wrapping at S); per-step wall times. `record` gets each step's sums."""
    runner = model.interpreter.get_signature_runner("decode")
    caches = {f"cache_{i}": np.zeros(shape, np.float32) for i in range(n)} if kind == "io" else {}
    times = []
    for step in range(steps):
        rows = {f"row_{i}": rng.standard_normal([shape[0], 1, *shape[2:]]).astype(np.float32) for i in range(n)}
        start = np.array([0, step % shape[1], 0, 0], np.int32)
        t0 = time.perf_counter()
        out = runner(**caches, **rows, start=start)
        if kind == "io":
            caches = {f"cache_{i}": out[f"cache_{i}"] for i in range(n)}
        times.append(time.perf_counter() - t0)
        if record is not None:
            record.append(np.array([out[f"sum_{i}"] for i in range(n)]))
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="8x1024", help="a config of examples/llm_common.py (default 8x1024)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    cfg = common.config(args.config)
    n, shape = 2 * cfg.layers, list(cfg.cache_shape())
    files = {"io": io_model(n, shape), "variables": variables_model(n, shape)}
    models = {k: TFLiteModel(v) for k, v in files.items()}
    print(f"config {args.config}: {n} caches of {shape} f32 ({n * np.prod(shape) * 4 / 1e6:.1f} MB in all); "
          f".tflite {len(files['io']) / 1e6:.2f} MB (io), {len(files['variables']) / 1e6:.2f} MB (variables)")
    sums = {k: [] for k in models}
    for k, m in models.items():  # first round: the same rows in both, outputs compared step by step
        run(m, k, n, shape, args.steps, np.random.default_rng(0), sums[k])
    same = all(np.array_equal(a, b) for a, b in zip(sums["io"], sums["variables"]))
    medians = {k: [] for k in models}
    for r in range(args.rounds):
        for k in (list(models) if r % 2 == 0 else list(models)[::-1]):
            medians[k].append(statistics.median(run(models[k], k, n, shape, args.steps,
                                                    np.random.default_rng(r + 1))))
    io, var = (statistics.median(medians[k]) for k in ("io", "variables"))
    print(f"per decode step (median of {args.rounds} rounds x {args.steps} steps): io {io * 1e6:.0f} us, "
          f"variables {var * 1e6:.0f} us, ratio variables/io {var / io:.2f}; outputs equal: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
