"""Figures for the fusion issue: composites found in real exports, logits kept, and the speed of `optimize`.

    .venv/bin/python bench/fusion.py         # from the repo root; about a minute

- torch-mlir exports of tiny Hugging Face Llama, Qwen2, Mistral, Falcon and GPT-2 (sdpa and eager
  attention): composites found by `optimize` by name (bars: one SDPA per layer, the norms and GELUs each
  family has), the semantic check (every composite against its written definition, hlo_passes/composites.py),
  transposes per layer left outside decompositions (bar: 0) and the logits' difference from torch's
  (bar: <= 1e-4);
- the JAX transformer of examples/transformer.py (2 layers, and the ~21.6k-op one of bench/core.py):
  the same counts, and the wall time of `hlo-opt BIG --pass-pipeline=optimize --timing` (bar: < 3 s).
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for sub in ("", "bench", "tests", "examples"):
    sys.path.insert(0, str(ROOT / sub))

from core import best_of, module_path, verdict  # noqa: E402

import hlo_passes as hp  # noqa: E402
from hlo_passes import ir, numerics  # noqa: E402

LAYERS = 2


NAMES = {"sdpa": "odml.scaled_dot_product_attention", "rms": "odml.rms_norm", "ln": "odml.layer_norm",
         "gelu": "odml.gelu", "kv": "odml.update_kv_cache"}


def counts(module) -> dict:
    text = ir.to_text(module)
    return {k: text.count(f'stablehlo.composite "{name}"') for k, name in NAMES.items()}


def transposes_outside_decompositions(module) -> int:
    from hlo_passes.instrumentation import op_histograms

    return op_histograms(module)[0]["stablehlo.transpose"]


def report(label, module, inputs, want: dict, layers=LAYERS, reference=None):
    """One row: composites found (bar: `want`), the semantic check (every composite against its written
    definition), transposes per layer left in the program (bar: 0), logits diff (vs torch when given)."""
    from hlo_passes.composite_check import check_composites

    out = hp.run(module, "optimize")
    found = counts(out)
    got = numerics.execute(out, inputs)
    if reference is not None:
        diff = float(np.max(np.abs(np.asarray(got[0]) - reference)))
        bar = 1e-4
    else:
        diff = numerics.compare(got, numerics.execute(module, inputs)).max_abs
        bar = 1e-5
    semantic = check_composites(out, inputs=inputs)
    sem = max([c.max_abs for c in semantic.composites] + [semantic.outputs.max_abs if semantic.outputs else 0.0])
    per_layer = transposes_outside_decompositions(out) / layers
    ok = all(found[k] == v for k, v in want.items()) and diff <= bar and semantic.ok and per_layer == 0
    shown = " ".join(f"{k} {found[k]}/{want.get(k, 0)}" for k in NAMES if found[k] or want.get(k))
    print(f"{label:<24} {shown:<34} semantic {'ok' if semantic.ok else 'FAIL'} {sem:.1e}  transposes/layer"
          f" {per_layer:.1f}  logits diff {diff:.1e}  {verdict(ok)}")


def main():
    from hlo_passes.frontends import torch as ft
    from transformer import DEFAULT_LAYERS, transformer_text

    families = {  # builder, composites per layer (+ final norms)
        "llama": (ft.tiny_llama, {"sdpa": 1, "rms": 2}, {"rms": 1}),
        "qwen2": (ft.tiny_qwen2, {"sdpa": 1, "rms": 2}, {"rms": 1}),
        "mistral": (ft.tiny_mistral, {"sdpa": 1, "rms": 2}, {"rms": 1}),
        "falcon": (ft.tiny_falcon, {"sdpa": 1, "ln": 1, "gelu": 1}, {"ln": 1}),
        "gpt2": (ft.tiny_gpt2, {"sdpa": 1, "ln": 2, "gelu": 1}, {"ln": 1}),
    }
    for family, (build, per_layer, final) in families.items():
        for attn in ("sdpa", "eager"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    model = build(attn_implementation=attn)
                    text, ids, logits = ft.export_causal_lm(model, seq_len=8)
                except Exception as e:  # noqa: BLE001 -- a family this transformers cannot build: say so
                    print(f"torch {family} {attn}: not measured ({type(e).__name__}: {str(e)[:80]})")
                    continue
            layers = model.config.num_hidden_layers
            want = {k: v * layers + final.get(k, 0) for k, v in per_layer.items()}
            report(f"torch {family} {attn}", ir.parse(text), [ids], want, layers, reference=logits)
    small = ir.parse(transformer_text(LAYERS))
    report(f"jax transformer x{LAYERS}", small, numerics.random_inputs(small, 0),
           {"sdpa": LAYERS, "rms": 2 * LAYERS + 1})

    path = module_path()
    found = counts(hp.run(ir.load(path), "optimize"))
    ok = found["sdpa"] == DEFAULT_LAYERS and found["rms"] == 2 * DEFAULT_LAYERS + 1
    print(f"jax transformer x{DEFAULT_LAYERS}: sdpa {found['sdpa']}, rms_norm {found['rms']}  {verdict(ok)}")
    hlo_opt = Path(sys.executable).with_name("hlo-opt")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(hlo_opt), str(path), "--pass-pipeline=optimize", "--timing", "-o", f"{tmp}/out.mlir"]
        wall = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True))
        table = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    print("  " + table.replace("\n", "\n  ").rstrip())
    print(f"  hlo-opt --pass-pipeline=optimize wall: {wall:.2f} s (bar < 3 s) {verdict(wall < 3)}")


if __name__ == "__main__":
    main()
