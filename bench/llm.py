"""The example LLM converted by our pipeline and by litert-torch 0.10.0's generative API, side by side.

    .venv/bin/python bench/llm.py [--configs tiny,8x1024] [--runs 200] [--threads 1] [--keep DIR]

Same PyTorch model, same weights: `examples/llm_torch.py` at a config of `examples/llm_common.py`, with the
seeded random weights of `llm_common.random_weights`. Per config and per weight type (f32, int8):
- ours, in a child process of this venv: `from_torch` (prefill + decode) -> `optimize` ->
  [`quantize-int8-dynamic`] -> `inline-calls,legalize-tflite` -> the writer, under `hlo_passes.progress.Progress`
  so every stage's wall time and own peak RSS is recorded (and the XLA check's worker's peak). One child per
  (config, weight type), as for litert-torch, so that each peak is that conversion's. Each is written twice:
  with the KV caches as signature inputs/outputs (litert-torch's form) and, by the same writer rewritten with
  `tflite.variables.caches_as_variables` (no second conversion), with the caches as LiteRT resource
  variables (`hlo-export --kv-cache=variables`): the "vars" rows.
- litert-torch, in a child process of its own venv (.cache/litert-torch-venv, made on first use like
  bench/quant.py's): the same config as a `DecoderOnlyModel` of its generative layers (TinyLlama's layout),
  the same weights mapped by its `ModelLoader` (q/k/v fused), its logits checked against PyTorch's first,
  then `converter.convert_to_tflite(..., quantize="none" | "dynamic_int8")` with logits on prefill (as ours
  has). One child per (config, weight type), so its peak RSS is that conversion's.
Then every `.tflite` runs in LiteRT (same ai-edge-litert 2.3.0 as in that venv, XNNPACK, same thread count):
prefill and decode latency, each model in a fresh process of its own, alternated by round
(bench/litert_latency.py: the model a process loads first decodes slower), the median of the rounds'
medians; the max |logit difference| against PyTorch after a prefill of a fixed prompt and one decode step;
and greedy generation from that prompt (`hlo_passes.generate`): how many of PyTorch's 16 tokens it repeats.
The decode ratio is printed for both of our cache forms against litert-torch's (inputs/outputs).

litert-torch imports `tensorflow.lite.python.schema_py_generated` without declaring tensorflow; the child
installs stub `tensorflow`, `tensorflow.lite`, `tensorflow.lite.python` modules and aliases that name to
`ai_edge_litert.schema_py_generated` (the same flatc-generated module).

A benchmark, not a test: it prints the table and exits 0.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

VENV = ROOT / ".cache" / "litert-torch-venv"
PINS = ["litert-torch==0.10.0", "torch==2.13.0"]

# ------------------------------------------------------------------------------------------- litert-torch

THEIRS = r'''
import json, resource, sys, time, types, importlib.util
from pathlib import Path
import numpy as np

root, config_name, quant, out_dir, ref_path = sys.argv[1:6]
# litert-torch wants tensorflow.lite.python.schema_py_generated: ai_edge_litert ships the same module
from ai_edge_litert import schema_py_generated
import importlib.machinery
for name in ("tensorflow", "tensorflow.lite", "tensorflow.lite.python"):
    stub = types.ModuleType(name)
    stub.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)  # (find_spec asks for it)
    stub.__path__ = []
    sys.modules.setdefault(name, stub)
sys.modules["tensorflow.lite.python.schema_py_generated"] = schema_py_generated
sys.modules["tensorflow.lite.python"].schema_py_generated = schema_py_generated

import torch
import litert_torch.generative.layers.model_config as cfg
from litert_torch.generative.layers import kv_cache as kv_utils
from litert_torch.generative.utilities import converter, export_config, loader, model_builder

spec = importlib.util.spec_from_file_location("llm_common", Path(root) / "examples" / "llm_common.py")
common = sys.modules["llm_common"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(common)
c = common.config(config_name)

def model_config():
    attn = cfg.AttentionConfig(num_heads=c.heads, head_dim=c.head_dim, num_query_groups=c.kv_heads,
                               rotary_base=int(c.rope_base), rotary_percentage=1.0)
    ff = cfg.FeedForwardConfig(type=cfg.FeedForwardType.GATED, activation=cfg.ActivationConfig(cfg.ActivationType.SILU),
                               intermediate_size=c.ffn)
    norm = cfg.NormalizationConfig(type=cfg.NormalizationType.RMS_NORM, epsilon=c.eps)
    block = cfg.TransformerBlockConfig(attn_config=attn, ff_config=ff, pre_attention_norm_config=norm,
                                       post_attention_norm_config=norm)
    return cfg.ModelConfig(vocab_size=c.vocab, num_layers=c.layers, max_seq_len=c.kv_cache_max,
                           embedding_dim=c.dim, block_configs=block, final_norm_config=norm,
                           lm_head_share_weight_with_embedding=False)

HF = {"attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm", "wq": "self_attn.q_proj",
      "wk": "self_attn.k_proj", "wv": "self_attn.v_proj", "wo": "self_attn.o_proj", "w_gate": "mlp.gate_proj",
      "w_up": "mlp.up_proj", "w_down": "mlp.down_proj"}

def hf_state():
    """llm_common's weights under Hugging Face Llama names, which litert-torch's TinyLlama loader maps."""
    state = {}
    for k, v in common.random_weights(c, 0).items():
        if k.startswith("layers."):
            _, i, name = k.split(".")
            key = f"model.layers.{i}.{HF[name]}.weight"
        else:
            key = {"embed": "model.embed_tokens.weight", "norm": "model.norm.weight", "lm_head": "lm_head.weight"}[k]
        state[key] = torch.from_numpy(v)
    return state

def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) * 1024

base_rss = rss()  # after the imports, before the model exists
t_start = time.perf_counter()
model = model_builder.DecoderOnlyModel(model_config(), mask_cache_size=c.kv_cache_max)
names = model_builder.TENSOR_NAMES_WITH_SEPARATE_LM_HEAD
loader.ModelLoader("<in memory>", names, custom_loader=lambda _: hf_state()).load(model)
model.eval()
t_built = time.perf_counter()

# its logits against PyTorch's (the same model in examples/llm_torch.py, run by the parent)
ref = np.load(ref_path)
kv = kv_utils.KVCache.from_model_config(c.kv_cache_max, model.config)
with torch.no_grad():
    out = model(torch.from_numpy(ref["tokens"]).int(), torch.from_numpy(ref["input_pos"]).int(), kv)
    pre = out["logits"].numpy()
    out2 = model(torch.from_numpy(ref["decode_tokens"]).int(), torch.from_numpy(ref["decode_pos"]).int(),
                 out["kv_cache"])
    dec = out2["logits"].numpy()
torch_diff = max(float(np.abs(pre - ref["prefill_logits"]).max()), float(np.abs(dec - ref["decode_logits"]).max()))
del out, out2, kv
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

t0 = time.perf_counter()
path = converter.convert_to_tflite(model, output_path=out_dir, output_name_prefix=f"litert_torch_{config_name}",
                                   prefill_seq_len=c.prefill_len, kv_cache_max_len=c.kv_cache_max, quantize=quant,
                                   export_config=export_config.ExportConfig(output_logits_on_prefill=True))
t1 = time.perf_counter()
json.dump({"path": path, "convert_s": t1 - t0, "build_s": t_built - t_start, "torch_max_diff": torch_diff,
           "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak_before_convert": rss_before,
           "base_rss": base_rss},
          open(Path(out_dir) / f"theirs_{config_name}_{quant}.json", "w"))
'''


def litert_torch_python() -> Path | None:
    exe = VENV / "bin" / "python"
    stamp = VENV / ".pins"
    if exe.exists() and not stamp.exists():
        probe = "import litert_torch, torch; assert torch.__version__.startswith('2.13.0')"
        ok = subprocess.run([str(exe), "-c", probe],
                            capture_output=True, check=False)
        if ok.returncode == 0:
            stamp.write_text("\n".join(PINS))
    if not exe.exists() or not stamp.exists() or stamp.read_text() != "\n".join(PINS):
        print(f"making {VENV} ({', '.join(PINS)}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        done = subprocess.run([str(exe), "-m", "pip", "install", "-q", *PINS], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            print("  cannot install litert-torch:", done.stderr.strip().splitlines()[-1:])
            return None
        stamp.write_text("\n".join(PINS))
    return exe


def run_theirs(python: Path, config: str, quant: str, tmp: Path, ref: Path) -> dict | None:
    script = tmp / "theirs.py"
    script.write_text(THEIRS)
    t0 = time.perf_counter()
    done = subprocess.run([str(python), str(script), str(ROOT), config, quant, str(tmp), str(ref)],
                          capture_output=True, text=True, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - t0
    result_file = tmp / f"theirs_{config}_{quant}.json"
    if done.returncode != 0 or not result_file.exists():
        print(f"  litert-torch failed on {config}/{quant}:", done.stderr.strip().splitlines()[-3:])
        return None
    result = json.loads(result_file.read_text())
    result["process_s"] = wall
    return result


# ------------------------------------------------------------------------------------------------ ours

OURS = r'''
import json, os, sys, time, gc, warnings
warnings.simplefilter("ignore")
from pathlib import Path
root, config_name, kind, out_dir = sys.argv[1:5]
sys.path[:0] = [root, str(Path(root) / "examples")]
from hlo_passes.progress import Progress
prog = Progress("ours", out=sys.stderr, bar=False, expect=())
with prog.stage("import"):
    import hlo_passes as hp
    from hlo_passes import ir
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.variables import caches_as_variables
    from hlo_passes.frontends.signatures import from_torch
    import llm_torch, llm_common
    # the exporters' own imports, not counted in the export stage: litert-torch's start-up has them too
    # (importing its converter loads torch._dynamo and torch.export)
    import torch_mlir.fx, torch.export, torch._dynamo
    c = llm_common.config(config_name)
with prog.stage("build torch model"):
    model = llm_torch.build(c, 0)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    sigs = {s: llm_torch.example_args(c, s) for s in ("prefill", "decode")}
def probe(owner, attr, label):
    """--detail: time and measure one step of the export as a stage of its own."""
    fn = getattr(owner, attr)
    def wrapped(*args, **kwargs):
        with prog.stage(f"export: {label}"):
            return fn(*args, **kwargs)
    setattr(owner, attr, wrapped)

from hlo_passes import numerics
worker = {"VmHWM": 0}
_stop = numerics._stop_worker
def stop_worker():
    """from_torch stops the XLA check's worker itself: read its peak first (its memory is not in our RSS;
    /proc's VmHWM is the worker's own, RUSAGE_CHILDREN would count the RSS it was forked with)."""
    if numerics._worker is not None and numerics._worker.proc.poll() is None:
        status = open(f"/proc/{numerics._worker.proc.pid}/status").read().split("\n")
        hwm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
        worker["VmHWM"] = max(worker["VmHWM"], hwm)
    _stop()
numerics._stop_worker = stop_worker

if os.environ.get("BENCH_LLM_DETAIL"):
    import torch
    import torch_mlir.fx as tfx
    from hlo_passes.frontends import signatures as fsig
    from hlo_passes.progress import Stage, rss_bytes
    probe(torch.export, "export", "torch.export")
    probe(torch.export.ExportedProgram, "run_decompositions", "torch-mlir's decompositions")
    probe(tfx, "_module_lowering", "torch-mlir lowering to StableHLO")
    probe(ir, "parse", "parse")
    probe(fsig, "check_signatures", "check on XLA")
    probe(fsig, "bind_weights", "bind weights")
    probe(fsig, "share_weights", "share weights")
    first, t0 = len(prog.stages), time.perf_counter()
    module = from_torch(model, signatures=sigs)
    rest = time.perf_counter() - t0 - sum(s.seconds for s in prog.stages[first:])
    # the time between the probed steps (eager runs for names and the check, torch-mlir's import, gather
    # repair, merging); its peak is not measured separately: the RSS after it stands in
    prog.stages.append(Stage("export: the rest", rest, rss_bytes(), rss_bytes()))
else:
    with prog.stage("export"):
        module = from_torch(model, signatures=sigs)
numerics._stop_worker()  # (from_torch stops it itself; hlo-export makes sure too)
with prog.stage("free torch model"):
    del model, sigs
    gc.collect()
hp.run(module, "optimize", inplace=True, instruments=[prog])
result = {"weight_bytes": weight_bytes, "phases": {"shared": [2, len(prog.stages)]}, "base_rss": prog.stages[0].rss}
passes = "inline-calls,legalize-tflite" if kind == "f32" else "quantize-int8-dynamic,inline-calls,legalize-tflite"
hp.run(module, passes, inplace=True, instruments=[prog])
with prog.stage(f"{kind}: export"):  # (tensors and ops; the weights are read when written)
    writer = export(module)
with prog.stage(f"{kind}: write"):
    writer.write(Path(out_dir) / f"ours_{config_name}_{kind}.tflite")
result["phases"][kind] = [result["phases"]["shared"][1], len(prog.stages)]
# the same exported model with its KV caches as LiteRT variables: the writer that wrote the io file,
# rewritten (`caches_as_variables`) and written again; no second conversion
with prog.stage(f"{kind}: write, caches as variables"):
    caches_as_variables(writer)
    writer.write(Path(out_dir) / f"ours_{config_name}_{kind}_variables.tflite")
    del writer
result["phases"][f"{kind} variables"] = [len(prog.stages) - 1, len(prog.stages)]
prog.close()
result["stages"] = [[s.name, s.seconds, s.rss, s.peak] for s in prog.stages]
result["peak_rss"] = prog.peak_bytes
result["worker"] = worker
json.dump(result, open(Path(out_dir) / f"ours_{config_name}_{kind}.json", "w"))
'''


def run_ours(config: str, kind: str, tmp: Path, log) -> dict | None:
    script = tmp / "ours.py"
    script.write_text(OURS)
    done = subprocess.run([sys.executable, str(script), str(ROOT), config, kind, str(tmp)], capture_output=True,
                          text=True, check=False)
    log.write(done.stderr)
    if done.returncode != 0:
        print(f"  our pipeline failed on {config}/{kind}:", done.stderr.strip().splitlines()[-3:])
        return None
    return json.loads((tmp / f"ours_{config}_{kind}.json").read_text())


def our_variant(result: dict, kind: str, variables: bool = False) -> tuple[float, int, list]:
    """Wall time and peak of one weight type: the shared stages (export, optimize; building the torch model
    excluded, as litert-torch's figure is its convert call alone) plus the type's own (legalize, write; int8:
    quantize too). With `variables`: the model with its caches as variables, whose write (of the same
    exported model, rewritten) stands in for the io file's."""
    stages = []
    for phase in ("shared", kind):
        a, b = result["phases"][phase]
        stages += [s for s in result["stages"][a:b] if s[0] != "free torch model"
                   and not (variables and s[0] == f"{kind}: write")]
    if variables:
        a, b = result["phases"][f"{kind} variables"]
        stages += result["stages"][a:b]
    return sum(s[1] for s in stages), max(s[3] for s in stages), stages


# --------------------------------------------------------------------------------------------- running

def reference(config: str, path: Path) -> None:
    """PyTorch's logits after a prefill of a fixed prompt and one decode step (examples/llm_torch.py)."""
    import llm_common
    import llm_torch

    c = llm_common.config(config)
    model = llm_torch.build(c, 0)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, c.vocab, size=(1, c.prefill_len), dtype=np.int64)
    pos = np.arange(c.prefill_len, dtype=np.int64)
    step = llm_torch.step_fn(model)
    pre, cache = step(tokens, pos, llm_common.empty_cache(c))
    nxt = np.array([[int(np.argmax(pre[0, -1]))]], np.int64)
    dpos = np.array([c.prefill_len], np.int64)
    dec, _ = step(nxt, dpos, cache)
    greedy = llm_common.greedy(step, [int(t) for t in tokens[0]], GREEDY_STEPS, c)
    np.savez(path, tokens=tokens, input_pos=pos, prefill_logits=pre, decode_tokens=nxt, decode_pos=dpos,
             decode_logits=dec, greedy=np.asarray(greedy, np.int64))


def _prefill_key(model) -> str:
    return next(k for k in model.signatures if k.startswith("prefill"))


def _feed(model, key: str, tokens, pos, caches: dict | None) -> dict:
    spec = model.signatures[key]
    feed = {}
    for t in spec.inputs:
        if t.name == "tokens":
            feed[t.name] = np.asarray(tokens).astype(t.dtype).reshape(t.shape)
        elif t.name == "input_pos":
            feed[t.name] = np.asarray(pos).astype(t.dtype).reshape(t.shape)
        else:
            feed[t.name] = caches[t.name] if caches is not None else np.zeros(t.shape, t.dtype)
    return feed


GREEDY_STEPS = 16


def litert_figures(path: Path, ref: dict, runs: int, threads: int) -> dict:
    """Logit difference vs PyTorch (prefill, then one decode step on the returned caches; with caches as
    variables the interpreter keeps them), the feeds the latencies are timed with, and greedy generation
    (`hlo_passes.generate`) from the same prompt: how many of PyTorch's GREEDY_STEPS tokens it repeats."""
    from hlo_passes.diagnostics import HloError
    from hlo_passes.generate import Generator
    from hlo_passes.tflite.runtime import TFLiteModel

    model = TFLiteModel(path, xnnpack=True, threads=threads)
    pk = _prefill_key(model)
    out = model.run(pk, **_feed(model, pk, ref["tokens"], ref["input_pos"], None))
    caches = {k: v for k, v in out.items() if k != "logits"}
    diff = float(np.abs(out["logits"].reshape(ref["prefill_logits"].shape) - ref["prefill_logits"]).max())
    out2 = model.run("decode", **_feed(model, "decode", ref["decode_tokens"], ref["decode_pos"], caches))
    diff = max(diff, float(np.abs(out2["logits"].reshape(ref["decode_logits"].shape) - ref["decode_logits"]).max()))
    feeds = {pk: _feed(model, pk, ref["tokens"], ref["input_pos"], caches),
             "decode": _feed(model, "decode", ref["decode_tokens"], ref["decode_pos"], caches)}
    try:
        if "greedy" not in ref:  # (a reference made before the benchmark recorded it)
            raise HloError("no greedy reference")
        tokens = Generator(model).generate([int(t) for t in ref["tokens"][0]], GREEDY_STEPS).tokens
        want = [int(t) for t in ref["greedy"]]
        same = next((i for i, (a, b) in enumerate(zip(tokens, want)) if a != b), len(want))
    except HloError:  # (a model without the Generative API's cache names)
        tokens, same = None, None
    # (the model goes: latencies load it afresh)
    return {"feeds": feeds, "prefill": pk, "max_diff": diff, "greedy_same": same, "tokens": tokens}


def latencies(entries: dict, paths: dict, runs: int, threads: int, rounds: int = 5) -> None:
    """Median per-call latency of prefill and decode, each model timed in a fresh process of its own and the
    models alternated over `rounds` rounds (bench/litert_latency.py: in one process, the model loaded first
    decodes up to 1.3x slower whatever it is, which made ours-f32, loaded first, look 1.17x slower)."""
    from litert_latency import measure

    models = {k: (paths[k], e["feeds"], {e["prefill"]: max(3, runs // rounds // 4), "decode": max(5, runs // rounds)})
              for k, e in entries.items()}
    for k, by_sig in measure(models, rounds=rounds, threads=threads).items():
        entries[k]["prefill_s"], entries[k]["decode_s"] = by_sig[entries[k]["prefill"]], by_sig["decode"]


def _ms(s: float) -> str:
    return f"{s * 1e6:.0f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.1f} s"


def _mb(n: float) -> str:
    from hlo_passes.progress import human_bytes

    return human_bytes(n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="tiny,8x1024")
    ap.add_argument("--runs", type=int, default=200, help="decode calls per model (prefill: a quarter)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--keep", help="keep the .tflite files and logs in this folder")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: take the conversions already in that folder, measure LiteRT again")
    ap.add_argument("--detail", action="store_true",
                    help="split our export into its steps (torch-mlir, parse, check, share) in the stage table")
    args = ap.parse_args(argv)
    if args.detail:
        os.environ["BENCH_LLM_DETAIL"] = "1"
    from hlo_passes.progress import tflite_summary

    python = litert_torch_python()
    print("peak RSS: the process's; -base: above its RSS after imports (before the torch model exists);"
          " /weights: that over the f32 weight bytes. convert: ours = export + optimize + [quantize] + legalize +"
          " write; litert-torch = its convert_to_tflite call")
    print(f"load: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores; LiteRT {args.threads} thread(s), XNNPACK")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(args.keep) if args.keep else Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        for config in args.configs.split(","):
            print(f"\n== {config} ==", flush=True)
            ref_path = tmp / f"ref_{config}.npz"
            reused = args.reuse and all((tmp / f).exists() for f in (
                f"ref_{config}.npz", f"ours_{config}_f32.json", f"ours_{config}_int8.json",
                f"theirs_{config}_none.json", f"theirs_{config}_dynamic_int8.json"))
            if reused:  # (the process times of litert-torch are those of the run that converted)
                print(f"(conversions reused from {tmp})")
                ours = {k: json.loads((tmp / f"ours_{config}_{k}.json").read_text()) for k in ("f32", "int8")}
                theirs = {q: json.loads((tmp / f"theirs_{config}_{q}.json").read_text()) | {"process_s": float("nan")}
                          for q in ("none", "dynamic_int8")}
            else:
                reference(config, ref_path)
                ours = {}
                for kind in ("f32", "int8"):  # one process per weight type, as for litert-torch
                    with open(tmp / f"ours_{config}_{kind}.log", "w") as log:
                        ours[kind] = run_ours(config, kind, tmp, log)
                theirs = {q: run_theirs(python, config, q, tmp, ref_path) if python else None
                          for q in ("none", "dynamic_int8")}
            ref = dict(np.load(ref_path))
            ours = {k: r for k, r in ours.items() if r is not None}
            if not ours:
                continue
            weight_bytes = next(iter(ours.values()))["weight_bytes"]
            print(f"weights: {_mb(weight_bytes)} f32")
            entries, rows = {}, {}
            for kind, q in (("f32", "none"), ("int8", "dynamic_int8")):
                for variables in (False, True) if kind in ours else ():
                    wall, peak, stages = our_variant(ours[kind], kind, variables)
                    tail = "_variables" if variables else ""
                    rows[f"ours {kind}{' vars' if variables else ''}"] = {
                        "convert_s": wall, "peak_rss": peak, "path": tmp / f"ours_{config}_{kind}{tail}.tflite",
                        "stages": stages, "base_rss": ours[kind]["base_rss"]}
                if theirs.get(q):
                    t = theirs[q]
                    rows[f"litert-torch {kind}"] = {"convert_s": t["convert_s"], "peak_rss": t["peak_rss"],
                                                    "path": Path(t["path"]), "torch_diff": t["torch_max_diff"],
                                                    "process_s": t["process_s"], "base_rss": t["base_rss"]}
            for name, row in rows.items():
                entries[name] = litert_figures(row["path"], ref, args.runs, args.threads)
            latencies(entries, {k: r["path"] for k, r in rows.items()}, args.runs, args.threads)
            print(f"{'':22} {'convert':>9} {'peak RSS':>9} {'-base':>9} {'/weights':>8} {'.tflite':>9}"
                  f" {'ops prefill/decode':>19}"
                  f" {'prefill':>9} {'decode':>9} {'max |dlogit|':>12} {'greedy':>7}")
            for name, row in rows.items():
                e = entries[name]
                ops, _ = tflite_summary(row["path"])
                same = "n/a" if e["greedy_same"] is None else f"{e['greedy_same']}/{GREEDY_STEPS}"
                print(f"{name:22} {row['convert_s']:8.1f}s {_mb(row['peak_rss']):>9}"
                      f" {_mb(row['peak_rss'] - row['base_rss']):>9}"
                      f" {(row['peak_rss'] - row['base_rss']) / weight_bytes:7.2f}x"
                      f" {_mb(row['path'].stat().st_size):>9} {ops.get(e['prefill'], 0):>9}/{ops.get('decode', 0):<9}"
                      f" {_ms(e['prefill_s']):>9} {_ms(e['decode_s']):>9} {e['max_diff']:12.2e} {same:>7}")
            print("ops: a signature's operators (with caches as variables: + CALL_ONCE, a READ_VARIABLE and an"
                  " ASSIGN_VARIABLE per cache); greedy: how many of PyTorch's first greedy tokens it repeats")
            for kind in ("f32", "int8"):
                a, b = rows.get(f"ours {kind}"), rows.get(f"litert-torch {kind}")
                if a and b:
                    ea, eb = entries[f"ours {kind}"], entries[f"litert-torch {kind}"]
                    print(f"{kind}: conversion speed-up over litert-torch {b['convert_s'] / a['convert_s']:.2f}x"
                          " (goal >= 5x),"
                          f" peak above start-up {(a['peak_rss'] - a['base_rss']) / weight_bytes:.2f}x the weight"
                          f" bytes (goal <= 1.5x; theirs {(b['peak_rss'] - b['base_rss']) / weight_bytes:.2f}x),"
                          " decode latency ratio"
                          f" {ea['decode_s'] / eb['decode_s']:.2f} (goal <= 1.0), prefill ratio"
                          f" {ea['prefill_s'] / eb['prefill_s']:.2f}; litert-torch's torch model vs PyTorch"
                          f" {b['torch_diff']:.1e}, its whole process {b['process_s']:.1f} s")
                    if f"ours {kind} vars" in entries:
                        ev, av = entries[f"ours {kind} vars"], rows[f"ours {kind} vars"]
                        print(f"{kind}, caches as variables: decode latency ratio"
                              f" {ev['decode_s'] / eb['decode_s']:.2f}, prefill ratio"
                              f" {ev['prefill_s'] / eb['prefill_s']:.2f} (litert-torch keeps its"
                              " caches as inputs/outputs); its peak above start-up"
                              f" {(av['peak_rss'] - av['base_rss']) / weight_bytes:.2f}x; its greedy tokens"
                              f" {'==' if ev['tokens'] == ea['tokens'] else '!='} the io model's")
            for kind, result in ours.items():
                if result.get("worker"):
                    print(f"{kind}: the XLA check's worker process (from_torch's check, stopped after it): peak"
                          f" {_mb(result['worker'].get('VmHWM', 0))}")
                print(f"our {kind} process, stage by stage (wall, RSS after, the stage's own peak, the last two"
                      " above start-up in weight bytes):")
                base = result["base_rss"]
                for name, seconds, rss, peak in result["stages"]:
                    print(f"  {name:42} {seconds:8.2f} s {_mb(rss):>9} {_mb(peak):>9}"
                          f" {(rss - base) / weight_bytes:6.3f}x {(peak - base) / weight_bytes:6.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
