"""Figures for the fold-constants / simplify issue.

    .venv/bin/python bench/fold_simplify.py        # from the repo root; about half a minute

- On torch-mlir exports of tiny Hugging Face Llama (sdpa and eager), Qwen2 and GPT-2: ops before and
  after `fold-constants,simplify,cse`, the share removed (bar for Llama: >= 40%), and the largest logits
  difference on XLA CPU (bar: <= 1e-6).
- On the ~21.6k-op JAX transformer of bench/core.py: the wall time of
  `hlo-opt BIG --pass-pipeline=fold-constants,simplify,cse --timing` (bar: < 3 s) and the in-process
  time of the three passes.
A benchmark, not a test: it prints and exits 0.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from core import best_of, module_path, verdict  # noqa: E402

import hlo_passes as hp  # noqa: E402
from hlo_passes import ir, numerics  # noqa: E402
from hlo_passes.instrumentation import op_histogram  # noqa: E402

PIPELINE = "fold-constants,simplify,cse"


def ops(module) -> int:
    return sum(op_histogram(module).values())


def models() -> None:
    from conftest import exported_lm

    for family, attn in [("llama", "sdpa"), ("llama", "eager"), ("qwen2", "sdpa"), ("gpt2", "eager")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, text, ids, _ = exported_lm(family, attn)
        module = ir.parse(text)
        start = time.perf_counter()
        out = hp.run(module, PIPELINE)
        seconds = time.perf_counter() - start
        n0, n1 = ops(module), ops(out)
        diff = float(np.abs(numerics.execute(out, [ids])[0] - numerics.execute(module, [ids])[0]).max())
        removed = 100 * (n0 - n1) / n0
        bar = f" (bar >= 40%) {verdict(removed >= 40)}" if family == "llama" else ""
        print(f"{family:>5} {attn:<5}: {n0} -> {n1} ops, {removed:.1f}% removed{bar}; logits max diff {diff:.1e}"
              f" (bar <= 1e-6) {verdict(diff <= 1e-6)}; {seconds:.2f} s")


def big() -> None:
    path = module_path()
    module = ir.load(path)
    print(f"transformer: {ops(module)} ops ({path.name})")
    inproc = best_of(lambda: hp.run(module, PIPELINE))
    print(f"  {PIPELINE} in process: {inproc:.2f} s -> {ops(hp.run(module, PIPELINE))} ops")
    hlo_opt = Path(sys.executable).with_name("hlo-opt")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(hlo_opt), str(path), f"--pass-pipeline={PIPELINE}", "--timing", "-o", f"{tmp}/out.mlir"]

        def cli():
            subprocess.run(cmd, check=True, capture_output=True)

        wall = best_of(cli)
        table = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    print("  " + table.replace("\n", "\n  ").rstrip())
    print(f"  hlo-opt wall: {wall:.2f} s (bar < 3 s) {verdict(wall < 3)}")


if __name__ == "__main__":
    models()
    big()
