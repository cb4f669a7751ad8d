"""Writing a large model: time and peak memory of `legalize-tflite` + the `.tflite` writer on a synthetic
module with about 1 GB of f32 weights held as dense_resource blobs (as torch-mlir exports hold them).

    .venv/bin/python bench/tflite_large.py [--gb 1.0]     # from the repo root

The work runs in a fresh child process, whose peak RSS (ru_maxrss) is reported against the weight bytes.
The module itself holds the weights once (zero-copy from numpy), so the bar is peak RSS <= 1.5x the weight
bytes beyond the interpreter's own start-up footprint (jaxlib alone takes ~0.3 GB), and the write in
seconds. A benchmark, not a test: it prints and exits 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[3])
import hlo_passes as hp
from hlo_passes.tflite.export import export

sys.path.insert(0, sys.argv[3] + "/bench")
from synthetic import weight_chain

n_layers, dim, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[4]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
module, weights = weight_chain(n_layers, dim)
held = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
legal = hp.run(module, "legalize-tflite", inplace=True)
t1 = time.perf_counter()
export(legal).write(out)
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(base, held, peak, t1 - t0, t2 - t1, sum(w.nbytes for w in weights))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    dim = 4096
    layers = max(1, round(args.gb * (1 << 30) / (dim * dim * 4)))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "big.tflite"
        done = subprocess.run([sys.executable, "-c", CHILD, str(layers), str(dim), str(ROOT), str(out)],
                              capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if done.returncode != 0:
            print(done.stderr[-2000:])
            return 0
        base, held, peak, t_leg, t_write, weight_bytes = (float(x) for x in done.stdout.split())
        size = out.stat().st_size
        from hlo_passes.tflite.runtime import TFLiteModel  # noqa: E402 -- the file loads and runs

        model = TFLiteModel(out)
        import numpy as np

        y = model.run(None, np.ones((8, dim), np.float32))
        ok_run = all(np.isfinite(v).all() for v in y.values())
    gb = weight_bytes / (1 << 30)
    extra = (peak - base) / weight_bytes
    print(f"weights: {gb:.2f} GB in {layers} dense_resource blobs of {dim}x{dim} f32")
    print(f"legalize-tflite: {t_leg:.2f} s   write: {t_write:.2f} s   file: {size / (1 << 30):.2f} GB"
          f"   runs in LiteRT: {'yes' if ok_run else 'NO'}")
    print(f"peak RSS beyond start-up: {(peak - base) / (1 << 30):.2f} GB = {extra:.2f}x the weights"
          f" (module built: {(held - base) / (1 << 30):.2f} GB)  bar <= 1.5x: {'PASS' if extra <= 1.5 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
