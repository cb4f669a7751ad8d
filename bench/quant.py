"""Our int8 weights beside Google's ai-edge-quantizer on the same float `.tflite`.

    .venv/bin/python bench/quant.py [--runs 300]          # from the repo root

For torch-mlir tiny Llama and GPT-2 exports: the float model (`optimize,legalize-tflite`), ours
(`optimize,quantize-int8-dynamic,legalize-tflite`), and ai-edge-quantizer 0.10.0's `dynamic_wi8_afp32`
recipe applied to our float `.tflite` (in a venv of its own, .cache/quantvenv, made on first use). Printed:
size, logits error vs the framework (||d|| / ||ref||), LiteRT latency (median, 1 thread, XNNPACK). Bars:
ours no larger, no less accurate, no slower. Then the speed of the pass itself on ~1 GB of f32 weights
(bar: under 10 s and under 2x the weight bytes of peak memory beyond start-up).
A benchmark, not a test: it prints and exits 0.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for sub in ("", "tests"):
    sys.path.insert(0, str(ROOT / sub))

import hlo_passes as hp  # noqa: E402
from hlo_passes.tflite.export import export  # noqa: E402
from hlo_passes.tflite.runtime import TFLiteModel  # noqa: E402

VENV = ROOT / ".cache" / "quantvenv"
PINS = ["ai-edge-quantizer==0.10.0", "ai-edge-litert==2.3.0"]
SCRIPT = r"""
import sys
from ai_edge_quantizer import quantizer, recipe
q = quantizer.Quantizer(sys.argv[1])
q.load_quantization_recipe(recipe.dynamic_wi8_afp32())
q.quantize().export_model(sys.argv[2], overwrite=True)
"""


def quantizer_python() -> Path | None:
    exe = VENV / "bin" / "python"
    stamp = VENV / ".pins"
    if not exe.exists() or not stamp.exists() or stamp.read_text() != "\n".join(PINS):
        print(f"making {VENV} ({', '.join(PINS)}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        done = subprocess.run([str(exe), "-m", "pip", "install", "-q", *PINS], capture_output=True, text=True)
        if done.returncode != 0:
            print("  cannot install ai-edge-quantizer:", done.stderr.strip().splitlines()[-1:])
            return None
        stamp.write_text("\n".join(PINS))
    return exe


def measure(label: str, path: Path, ids, ref, runs: int) -> tuple[int, float, float]:
    model = TFLiteModel(path, xnnpack=True, threads=1)
    (out,) = model.run("main", ids).values()
    err = float(np.linalg.norm(out - ref) / np.linalg.norm(ref))
    latency = model.latency("main", {model.signatures["main"].inputs[0].name: ids}, runs=runs)
    size = path.stat().st_size
    print(f"  {label:<18} size {size:>9,} B  logits error {err:7.3%}  latency {latency * 1e6:7.1f} us")
    return size, err, latency


def compare_models(runs: int, tmp: Path) -> None:
    from conftest import exported_lm

    python = quantizer_python()
    for family in ("llama", "gpt2"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, text, ids, logits = exported_lm(family)
        ids, ref = np.asarray(ids), np.asarray(logits)
        fp = hp.run(hp.parse(text), "optimize")
        paths = {"float": tmp / f"{family}.f32.tflite", "ours int8": tmp / f"{family}.ours.tflite",
                 "ai-edge-quantizer": tmp / f"{family}.aeq.tflite"}
        export(hp.run(fp, "legalize-tflite")).write(paths["float"])
        export(hp.run(fp, "quantize-int8-dynamic,legalize-tflite")).write(paths["ours int8"])
        print(f"torch {family}")
        results = {k: measure(k, paths[k], ids, ref, runs) for k in ("float", "ours int8")}
        if python is None:
            continue
        script = tmp / "aeq.py"
        script.write_text(SCRIPT)
        done = subprocess.run([str(python), str(script), str(paths["float"]), str(paths["ai-edge-quantizer"])],
                              capture_output=True, text=True)
        if done.returncode != 0:
            print("  ai-edge-quantizer failed:", done.stderr.strip().splitlines()[-1:])
            continue
        results["theirs"] = measure("ai-edge-quantizer", paths["ai-edge-quantizer"], ids, ref, runs)
        (s0, e0, l0), (s1, e1, l1) = results["ours int8"], results["theirs"]
        marks = [f"{name} {a / b:.2f} {'ok' if a <= b else 'WORSE'}"
                 for name, a, b in (("size", s0, s1), ("error", e0, e1), ("latency", l0, l1))]
        print(f"  ours/theirs (bar <= 1.00 each): {'  '.join(marks)}")


CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
import hlo_passes as hp
sys.path.insert(0, sys.argv[1] + "/bench")
from synthetic import weight_chain

n, dim = int(sys.argv[2]), int(sys.argv[3])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
module, weights = weight_chain(n, dim)
held = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
hp.run(module, "quantize-int8-dynamic", inplace=True)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(seconds, held - base, peak - held, sum(w.nbytes for w in weights))
"""


def quantize_speed(gb: float) -> None:
    dim = 4096
    n = max(1, round(gb * (1 << 30) / (dim * dim * 4)))
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(n), str(dim)], capture_output=True, text=True)
    if done.returncode != 0:
        print("quantize speed: failed", done.stderr[-500:])
        return
    seconds, held, extra, weights = (float(x) for x in done.stdout.split())
    print(f"quantize-int8-dynamic on {weights / (1 << 30):.2f} GB of f32 weights: {seconds:.1f} s (bar < 10 s)"
          f"  {'PASS' if seconds < 10 else 'FAIL'}; peak memory beyond the module: {extra / weights:.2f}x the"
          f" weights (bar < 2x) {'PASS' if (held + extra) / weights < 2 else 'FAIL'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--gb", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        compare_models(args.runs, Path(tmp))
    quantize_speed(args.gb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
