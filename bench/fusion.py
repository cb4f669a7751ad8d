"""Figures for the fusion issue: composites found in real exports, logits kept, and the speed of `optimize`.

    .venv/bin/python bench/fusion.py         # from the repo root; about a minute

- torch-mlir exports of tiny Hugging Face Llama, Qwen2 and GPT-2 (sdpa and eager attention): SDPA and
  RMSNorm composites found by `optimize` (bars: one SDPA per layer; two RMSNorms per layer plus the final
  one for Llama/Qwen2) and the largest logits difference on XLA CPU (bar: <= 1e-5);
- the JAX transformer of examples/transformer.py (2 layers, and the ~21.6k-op one of bench/core.py):
  the same counts, and the wall time of `hlo-opt BIG --pass-pipeline=optimize --timing` (bar: < 5 s).
A benchmark, not a test: it prints and exits 0.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # XLA INFO lines are noise in a report

import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("", "bench", "tests", "examples"):
    sys.path.insert(0, str(ROOT / sub))

from core import best_of, module_path, verdict  # noqa: E402

import hlo_passes as hp  # noqa: E402
from hlo_passes import ir, numerics  # noqa: E402

LAYERS = 2


def counts(module) -> tuple[int, int, int]:
    text = ir.to_text(module)
    return tuple(text.count(f'stablehlo.composite "{name}"')
                 for name in ("odml.scaled_dot_product_attention", "odml.rms_norm", "odml.update_kv_cache"))


def report(label, module, inputs, norms_per_layer, layers=LAYERS):
    out = hp.run(module, "optimize")
    sdpa, rms, _ = counts(out)
    diff = numerics.compare(numerics.execute(out, inputs), numerics.execute(module, inputs)).max_abs
    want_rms = norms_per_layer * layers + (1 if norms_per_layer else 0)
    ok = sdpa == layers and rms == want_rms and diff <= 1e-5
    print(f"{label:<22} sdpa {sdpa}/{layers}  rms_norm {rms}/{want_rms}  logits max diff {diff:.1e}  {verdict(ok)}")


def main():
    from conftest import exported_lm
    from transformer import DEFAULT_LAYERS, transformer_text

    for family, norms in (("llama", 2), ("qwen2", 2), ("gpt2", 0)):
        for attn in ("sdpa", "eager"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, text, ids, _ = exported_lm(family, attn)
            report(f"torch {family} {attn}", ir.parse(text), [ids], norms)
    small = ir.parse(transformer_text(LAYERS))
    report(f"jax transformer x{LAYERS}", small, numerics.random_inputs(small, 0), 2)

    path = module_path()
    sdpa, rms, _ = counts(hp.run(ir.load(path), "optimize"))
    ok = sdpa == DEFAULT_LAYERS and rms == 2 * DEFAULT_LAYERS + 1
    print(f"jax transformer x{DEFAULT_LAYERS}: sdpa {sdpa}, rms_norm {rms}  {verdict(ok)}")
    hlo_opt = Path(sys.executable).with_name("hlo-opt")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(hlo_opt), str(path), "--pass-pipeline=optimize", "--timing", "-o", f"{tmp}/out.mlir"]
        wall = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True))
        table = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    print("  " + table.replace("\n", "\n  ").rstrip())
    print(f"  hlo-opt --pass-pipeline=optimize wall: {wall:.2f} s (bar < 5 s) {verdict(wall < 5)}")


if __name__ == "__main__":
    main()
