"""Greedy agreement of int8 weights on a TRAINED 8-layer, 512-wide, 8k-vocabulary Llama (issue 10's last bar).

    flock /tmp/bench.lock .venv/bin/python bench/quant_trained.py [--steps 90]      # from the repo root

Why a trained model: a random-init model's logits are nearly flat, so greedy agreement there measures the
flatness more than the quantizer (tests/trained_decoder.py says more). This trains the model in-process
(tests/trained_decoder.py: seeded Zipfian Markov-chain language, AdamW, fixed seeds), then prints: training time
and loss, the float model's held-out loss, top-1 accuracy and median top-1 logit margin, and for held-out
sentences of the language and uniformly random token prompts (16 x 32 tokens each), the greedy next-token
agreement with the float model of ours (`optimize,quantize-int8-dynamic`) on XLA CPU and in LiteRT/XNNPACK,
and of ai-edge-quantizer's `dynamic_wi8_afp32` recipe applied to our float `.tflite` (venv .cache/quantvenv, as
bench/quant.py makes it). A benchmark, not a test: it prints and exits 0; the slow test in tests/test_quantize.py
asserts the bars.
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
for sub in ("", "tests", "bench"):
    sys.path.insert(0, str(ROOT / sub))

import hlo_passes as hp  # noqa: E402
from hlo_passes import numerics  # noqa: E402
from hlo_passes.tflite.export import export  # noqa: E402
from hlo_passes.tflite.runtime import TFLiteModel  # noqa: E402
from quant import SCRIPT, quantizer_python  # noqa: E402
from test_quantize import _constant_bytes  # noqa: E402
from trained_decoder import held_out_prompts, trained_llama  # noqa: E402


def top1_stats(logits: np.ndarray, ids: np.ndarray) -> str:
    """Held-out loss and accuracy against the prompts' own next tokens, median top-1 margin, distinct argmaxes."""
    x = logits[:, :-1].astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    nll = np.log(np.exp(x).sum(-1)) - np.take_along_axis(x, ids[:, 1:, None], -1)[..., 0]
    top2 = np.sort(logits, -1)[..., -2:]
    return (f"loss {nll.mean():.2f}  top-1 accuracy {(logits[:, :-1].argmax(-1) == ids[:, 1:]).mean():.1%}  "
            f"median top-1 margin {np.median(top2[..., 1] - top2[..., 0]):.2f}  "
            f"distinct argmax {len(np.unique(logits.argmax(-1)))}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=90)
    args = ap.parse_args()
    from hlo_passes.frontends import torch as ft

    trained = trained_llama(steps=args.steps)
    losses = trained.losses
    print(f"trained {args.steps} steps in {trained.seconds:.1f} s; loss per 10 steps: "
          + " ".join(f"{np.mean(losses[i:i + 10]):.2f}" for i in range(0, len(losses), 10)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text, _, _ = ft.export_causal_lm(trained.model, seq_len=32, batch=8)
    fp = hp.run(hp.parse(text), "optimize")
    q = hp.run(fp, "quantize-int8-dynamic")
    tmp = Path(tempfile.mkdtemp())
    paths = {"float": tmp / "float.tflite", "ours": tmp / "ours.tflite", "ai-edge-quantizer": tmp / "aeq.tflite"}
    export(hp.run(fp, "legalize-tflite")).write(paths["float"])
    export(hp.run(q, "legalize-tflite")).write(paths["ours"])
    python = quantizer_python()
    if python is not None:
        (tmp / "aeq.py").write_text(SCRIPT)
        subprocess.run([str(python), str(tmp / "aeq.py"), str(paths["float"]), str(paths["ai-edge-quantizer"])],
                       capture_output=True, text=True)
    models = {k: TFLiteModel(str(p)) for k, p in paths.items() if p.exists()}
    size = paths["float"].stat().st_size
    print(f"weight bytes: ours {_constant_bytes(q) / _constant_bytes(fp):.3f}x the float module's; .tflite: "
          + ", ".join(f"{k} {paths[k].stat().st_size / size:.3f}x" for k in models if k != "float"))
    language = held_out_prompts(trained.language, 16, 32)
    uniform = np.random.default_rng(3).integers(0, trained.model.config.vocab_size, (16, 32))
    for name, ids in (("held-out language", language), ("uniform random", uniform)):
        f_xla = np.concatenate([numerics.execute(fp, [b])[0] for b in (ids[:8], ids[8:])])
        q_xla = np.concatenate([numerics.execute(q, [b])[0] for b in (ids[:8], ids[8:])])
        lite = {k: np.concatenate([next(iter(m.run(None, b).values())) for b in (ids[:8], ids[8:])])
                for k, m in models.items()}
        print(f"{name} prompts ({ids.size} positions), float model: {top1_stats(f_xla, ids)}")
        agree = [f"ours XLA {(q_xla.argmax(-1) == f_xla.argmax(-1)).mean():.1%}"]
        agree += [f"{k} LiteRT {(v.argmax(-1) == lite['float'].argmax(-1)).mean():.1%}"
                  for k, v in lite.items() if k != "float"]
        print("  greedy agreement with float: " + "  ".join(agree))
    return 0


if __name__ == "__main__":
    sys.exit(main())
