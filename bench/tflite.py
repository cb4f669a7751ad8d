"""Our TFLite backend beside Google's converter (litert-converter 0.5.0) on the same optimized StableHLO.

    .venv/bin/python bench/tflite.py [--runs 500]     # from the repo root; a few minutes the first time

For a JAX decoder (2 layers, weights as constants) and the same with weights as arguments, and for a
torch-mlir tiny Llama: `optimize` once, then (a) our `legalize-tflite` + writer, (b) litert-converter's
`run_convert_to_tfl_passes` + flatbuffer export, on the very same module text. Printed side by side:
conversion wall time, `.tflite` size, operators in the entry subgraph, LiteRT latency (median of --runs
calls, 1 thread, XNNPACK on, same ai-edge-litert), the largest difference from XLA CPU, and the latency
ratio ours/theirs (bar: <= 1.0). The reference converter lives in its own venv (.cache/refvenv, made on
first use by tests/reference_converter.py): a cross-check, never a dependency of hlo_passes.
A benchmark, not a test: it prints and exits 0.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for sub in ("", "tests", "examples"):
    sys.path.insert(0, str(ROOT / sub))

import hlo_passes as hp  # noqa: E402
from hlo_passes import numerics  # noqa: E402
from hlo_passes.tflite.export import export  # noqa: E402
from hlo_passes.tflite.runtime import TFLiteModel  # noqa: E402

def jax_decoder(layers: int, constants: bool) -> str:
    import jax
    import jax.numpy as jnp
    from transformer import make_forward

    d, ff, vocab, seq, heads = 64, 256, 256, 16, 4
    rng = np.random.default_rng(0)

    def w(*shape):
        return jnp.asarray((rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32))

    layer = lambda: {"norm1": w(d), "wq": w(d, d), "wk": w(d, d), "wv": w(d, d), "wo": w(d, d),  # noqa: E731
                     "norm2": w(d), "w_gate": w(d, ff), "w_up": w(d, ff), "w_down": w(ff, d)}
    params = (w(vocab, d), w(d), [layer() for _ in range(layers)])
    forward = make_forward(heads)
    tokens = jax.ShapeDtypeStruct((seq,), jnp.int32)
    with jax.enable_x64(False):  # an f32 model whatever the process's x64 setting (numerics turns it on)
        if constants:
            return jax.jit(lambda t: forward(t, *params)).lower(tokens).as_text()
        return jax.jit(forward).lower(tokens, *params).as_text()


def inputs_for(module, ids=None):
    if ids is not None:
        return [np.asarray(ids)]
    inputs = numerics.random_inputs(module, 0)
    return [np.abs(x) % 256 if x.dtype.kind in "iu" else x for x in inputs]  # token ids in range


def operators(path: Path) -> int:
    from hlo_passes.tflite.inspect import load_model

    _, model = load_model(path)
    return len(model.subgraphs[0].operators or [])


def measure(path: Path, inputs, expected, runs: int) -> tuple[float, float]:
    model = TFLiteModel(path, xnnpack=True, threads=1)
    feed = {f"args_{i}": x for i, x in enumerate(inputs)}
    out = list(model.run("main", **feed).values())
    diff = max(float(np.abs(o.astype(np.float64) - e).max()) for o, e in zip(out, expected))
    return model.latency("main", feed, runs=runs, warmup=20), diff


def row(label: str, convert_s: float, path: Path, inputs, expected, runs: int) -> float:
    latency, diff = measure(path, inputs, expected, runs)
    print(f"  {label:<8} convert {convert_s:6.2f} s  size {path.stat().st_size:>9,} B  ops {operators(path):4d}  "
          f"latency {latency * 1e6:8.1f} us  max diff vs XLA {diff:.1e}")
    return latency


def compare(name: str, text: str, ids, runs: int, tmp: Path) -> None:
    print(f"{name}")
    module = hp.parse(text)
    inputs = inputs_for(module, ids)
    expected = numerics.execute(module, inputs)
    optimized = hp.run(module, "optimize")
    src = tmp / f"{name}.opt.mlir"
    src.write_text(hp.ir.to_text(optimized))
    ours = tmp / f"{name}.ours.tflite"
    t0 = time.perf_counter()
    export(hp.run(hp.parse(src.read_text()), "legalize-tflite")).write(ours)
    mine = row("ours", time.perf_counter() - t0, ours, inputs, expected, runs)
    import reference_converter as ref

    theirs_path = tmp / f"{name}.ref.tflite"
    t0 = time.perf_counter()
    try:
        ref.convert(src, theirs_path)
    except ref.ConversionFailed as e:
        print(f"  litert-converter cannot convert it: {str(e)[:160]}")
        return
    seconds = time.perf_counter() - t0
    theirs = row("theirs", seconds, theirs_path, inputs, expected, runs)
    ratio = mine / theirs
    print(f"  latency ours/theirs: {ratio:.2f} (bar <= 1.0) {'PASS' if ratio <= 1.0 else 'FAIL'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args()
    keep = os.environ.get("BENCH_KEEP")  # a folder to keep the modules and models in, for inspection
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(keep) if keep else Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        compare("jax-decoder-x2-const", jax_decoder(2, True), None, args.runs, tmp)
        compare("jax-decoder-x2-args", jax_decoder(2, False), None, args.runs, tmp)
        from conftest import exported_lm

        _, text, ids, _ = exported_lm("llama", "sdpa")
        compare("torch-llama-x2", text, ids, args.runs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
