"""LiteRT latency of several `.tflite` models, each measured in a fresh process of its own, alternated.

    .venv/bin/python bench/litert_latency.py A.tflite B.tflite [--signatures decode] [--runs 200] [--rounds 5]

Why not all models in one process: on this machine the model an interpreter process loads FIRST runs its
decode step markedly slower than models it loads later, whatever the model. Measured 2026-12-01 (8x1024 Llama,
f32, XNNPACK, 1 thread, four models loaded in one process and timed in alternation): the same `.tflite` loaded
four times ran 38.5 / 31.2 / 27.9 / 27.0 ms by load position, and reversing the order in which they were
timed changed nothing (28.5 / 25.3 / 23.0 / 20.5 ms); ours-then-litert-torch gave a ratio of 1.36 and
litert-torch-then-ours 1.35 against the model loaded first. The decode step reads the same packed weights
either way (`/proc/self/smaps` after `clear_refs`: 330 MB + 142 MB of XNNPACK's anonymous buffers, no file
pages), and `perf` shows 70% of the time in the same GEMM kernel for both converters' models, so the
difference lies in where the memory landed (the machine is a VM with a balloon device), not in the model.
bench/llm.py used to load ours-f32 first: that was its decode ratio of 1.17.
A model loaded again after its first instance was freed decodes faster than the first instance (8x1024
int8, fastest of 40 calls, three fresh processes each: 7.9-8.6 ms against 9.7-12.2 ms), so it is memory
that a process gets fresh from the system that is slow here, likely the VM's backing of it; not measured
further.

An application loads one model per process, so here every model is timed as the first and only model of a
fresh child process, the models alternated round by round (A, B, A, B, ...) so that load drift on a shared
machine hits all alike; a model's figure is the median of its rounds' medians. Inputs are the ones given
(bench/llm.py passes real prompts and caches) or zeros of the signature's shapes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _child(path: str, feeds_path: str, threads: int, runs: dict[str, int], stat: str = "median") -> dict:
    """In the child: load the one model, time each signature over `runs[sig]` calls after a warm-up; the
    median call, or with `stat="min"` the fastest (the figure least touched by other load on the machine)."""
    import time

    sys.path.insert(0, str(ROOT))
    from hlo_passes.tflite.runtime import TFLiteModel

    model = TFLiteModel(path, xnnpack=True, threads=threads)
    feeds: dict[str, dict] = {}
    if feeds_path:
        with np.load(feeds_path) as data:
            for key in data.files:
                sig, name = key.split("/", 1)
                feeds.setdefault(sig, {})[name] = data[key]
    result = {}
    for sig, n in runs.items():
        if stat == "median":
            result[sig] = model.latency(sig, feeds.get(sig), runs=n)
            continue
        model.latency(sig, feeds.get(sig), runs=1)  # (checks the inputs, warms up)
        runner = model._runner(sig)
        inputs = feeds.get(sig) or {t.name: np.zeros(t.shape, t.dtype) for t in model.signatures[sig].inputs}
        best = float("inf")
        for _ in range(n):
            t0 = time.perf_counter()
            runner(**inputs)
            best = min(best, time.perf_counter() - t0)
        result[sig] = best
    return result


def _save_feeds(feeds: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    np.savez(path, **{f"{sig}/{name}": np.asarray(v) for sig, inputs in feeds.items() for name, v in inputs.items()})


def measure(models: dict[str, tuple[Path, dict | None, dict[str, int]]], *, rounds: int = 5,
            threads: int = 1, times: dict | None = None, stat: str = "median") -> dict[str, dict[str, float]]:
    """`models`: name -> (path, feeds by signature or None for zeros, calls per signature per round).
    Returns name -> signature -> seconds (median over the rounds of each child's median); `times`, if given,
    receives every round's figure the same way (name -> signature -> list)."""
    times = {} if times is None else times
    times.update({name: {sig: [] for sig in m[2]} for name, m in models.items()})
    with tempfile.TemporaryDirectory() as tmp:
        feed_files = {}
        for i, (name, (_, feeds, _)) in enumerate(models.items()):
            feed_files[name] = ""
            if feeds:
                feed_files[name] = str(Path(tmp) / f"feeds{i}.npz")
                _save_feeds(feeds, Path(feed_files[name]))
        for _ in range(rounds):
            for name, (path, _, runs) in models.items():
                done = subprocess.run([sys.executable, __file__, "--child", str(path), feed_files[name],
                                       str(threads), json.dumps(runs), stat], capture_output=True, text=True,
                                      check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"timing {path} failed: {done.stderr.strip().splitlines()[-1:]}")
                for sig, seconds in json.loads(done.stdout.strip().splitlines()[-1]).items():
                    times[name][sig].append(seconds)
    return {name: {sig: statistics.median(ts) for sig, ts in by_sig.items()} for name, by_sig in times.items()}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        path, feeds_path, threads, runs, stat = argv[1:6]
        print(json.dumps(_child(path, feeds_path, int(threads), json.loads(runs), stat)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--signatures", default="decode", help="comma-separated signature keys to time")
    ap.add_argument("--runs", type=int, default=100, help="calls per signature per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="per child: the median call, or the fastest (least disturbed by other load)")
    args = ap.parse_args(argv)
    runs = {sig: args.runs for sig in args.signatures.split(",")}
    times: dict = {}
    result = measure({m: (Path(m), None, runs) for m in args.models}, rounds=args.rounds, threads=args.threads,
                     times=times, stat=args.stat)
    for name, by_sig in result.items():
        print("  ".join(f"{sig} {s * 1e3:8.3f} ms" for sig, s in by_sig.items()), name)
    if len(args.models) > 1:  # each round's ratio to the first model: shows whether a difference is steady
        first = times[args.models[0]]
        for name in args.models[1:]:
            for sig, ts in times[name].items():
                ratios = " ".join(f"{a / b:.2f}" for a, b in zip(first[sig], ts))
                print(f"{sig}: first / {Path(name).name} by round: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
