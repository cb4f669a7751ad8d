"""The backend half of the example LLM's conversion, stage by stage: the `optimize` output -> [quantize-int8-dynamic]
-> inline-calls -> legalize-tflite -> export (the writer filled) -> write, each with its wall time, the RSS after
it, its own peak, and the weight bytes it read (`ir.to_numpy` of arrays of >= 1 MB).

    .venv/bin/python bench/llm_backend.py [--config 8x1024] [--module FILE.mlirbc] [--keep DIR]

Why apart from bench/llm.py: that one runs torch, torch-mlir and litert-torch for minutes; this one starts from
a saved module (bytecode, written by the first run: DIR/optimized_<config>.mlirbc) and takes seconds, so the
passes after the export and the writer can be measured (and their peaks compared with the weight bytes, issue
12's <= 1.5x) on their own. Each weight type runs in a child process of its own: a fresh context and a fresh
peak, so one conversion's leftovers (MLIR never frees an attribute before its context) do not count against the
other's. The load stage's own peak (file bytes + parsed blobs) is shown but left out of the conversion's peak:
in a real conversion the module comes from the export, in memory.

A benchmark, not a test: it prints the table and exits 0. Heavy at 8x1024: run it under `flock /tmp/bench.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

_READ_MIN = 1 << 20


def _export(config: str, path: Path) -> None:
    """from_torch (prefill + decode) -> optimize -> bytecode at `path` (atomically, by ir.save)."""
    import gc

    import hlo_passes as hp
    import llm_common
    import llm_torch
    from hlo_passes import ir, numerics
    from hlo_passes.frontends.signatures import from_torch

    c = llm_common.config(config)
    model = llm_torch.build(c, 0)
    module = from_torch(model, signatures={s: llm_torch.example_args(c, s) for s in ("prefill", "decode")})
    if numerics._worker is not None:
        numerics._stop_worker()
    del model
    gc.collect()
    hp.run(module, "optimize", inplace=True)
    ir.save(module, path, format="bytecode")


def _child(kind: str, module_path: str, out: str) -> None:
    """One conversion, its stages measured; prints a JSON line."""
    from hlo_passes.progress import Progress, rss_bytes

    prog = Progress("backend", out=sys.stderr, bar=False, expect=())
    import hlo_passes as hp
    from hlo_passes import ir
    from hlo_passes.pass_manager import Instrument
    from hlo_passes.tflite.export import export

    reads: dict[str, int] = {}
    current = ["load"]
    real = ir.to_numpy

    def counting(attr, **kwargs):
        array = real(attr, **kwargs)
        if array.nbytes >= _READ_MIN:
            reads[current[0]] = reads.get(current[0], 0) + array.nbytes
        return array
    ir.to_numpy = counting

    class Names(Instrument):  # Progress names a pass's stage "pass i/n NAME": count its reads under NAME
        def before_pass(self, index, pass_, module):
            current[0] = f"pass {pass_.pass_name}"

    base = rss_bytes()
    with prog.stage("load"):
        module = ir.load(module_path)
    passes = ("quantize-int8-dynamic," if kind == "int8" else "") + "inline-calls,legalize-tflite"
    hp.run(module, passes, inplace=True, instruments=[prog, Names()])
    current[0] = "export"
    with prog.stage("export"):
        writer = export(module)
    current[0] = "write"
    with prog.stage("write"):
        writer.write(out)
    prog.close()
    stages = [{"name": s.name, "seconds": s.seconds, "rss": s.rss, "peak": s.peak} for s in prog.stages]
    for s in stages:
        key = s["name"] if not s["name"].startswith("pass ") else f"pass {s['name'].split()[-1]}"
        s["read"] = reads.get(key, 0)
    print(json.dumps({"base": base, "stages": stages, "size": os.path.getsize(out)}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="8x1024")
    ap.add_argument("--module", help="an optimized module (bytecode) to start from; default: export one")
    ap.add_argument("--keep", help="keep the saved module and the .tflite files here")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "MODULE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    import llm_common

    weight_bytes = llm_common.config(args.config).weight_count() * 4
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        module = Path(args.module) if args.module else folder / f"optimized_{args.config}.mlirbc"
        if not module.exists():
            print(f"exporting {args.config} and running optimize -> {module}", flush=True)
            _export(args.config, module)
        print(f"load {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores; weights {weight_bytes / 1e6:.0f} MB"
              f" f32; module {module.stat().st_size / 1e6:.0f} MB of bytecode")
        for kind in ("f32", "int8"):
            out = folder / f"backend_{args.config}_{kind}.tflite"
            done = subprocess.run([sys.executable, __file__, "--child", kind, str(module), str(out)],
                                  capture_output=True, text=True)
            if done.returncode:
                print(f"{kind}: failed\n{done.stderr[-2000:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            base = result["base"]
            print(f"\n{kind}: .tflite {result['size'] / 1e6:.0f} MB; RSS before load {base / 1e6:.0f} MB")
            print(f"  {'stage':32s} {'wall':>8s} {'RSS after':>10s} {'own peak':>9s} {'-base':>7s} {'/weights':>8s}"
                  f" {'weights read':>12s}")
            for s in result["stages"]:
                above = s["peak"] - base
                print(f"  {s['name']:32s} {s['seconds']:7.2f}s {s['rss'] / 1e6:8.0f}MB {s['peak'] / 1e6:7.0f}MB"
                      f" {above / 1e6:6.0f}MB {above / weight_bytes:7.2f}x {s['read'] / 1e6:10.0f}MB")
            rest = [s for s in result["stages"] if s["name"] != "load"]
            peak = max(s["peak"] for s in rest) - base
            print(f"  conversion (load excluded): {sum(s['seconds'] for s in rest):.2f} s, peak {peak / 1e6:.0f} MB"
                  f" above the RSS before load = {peak / weight_bytes:.2f}x the weight bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
