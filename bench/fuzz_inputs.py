"""Byte-level fuzzing of what `hlo-opt` reads: text, bytecode, VHLO and jax.export inputs, truncated at
random offsets, bit-flipped, with bytes replaced, inserted, deleted or duplicated.

    .venv/bin/python bench/fuzz_inputs.py                  # 10,000 cases, about ten minutes
    .venv/bin/python bench/fuzz_inputs.py --cases 500 --seed 7

Every case runs the real CLI code path, `hlo-opt CASE --pass-pipeline=optimize -o OUT` (tools/hlo_opt.py's
`main`), and must end in exit status 0 or 1, never a signal, never "Traceback" or "internal error" on
stderr; on failure no output (nor a temporary file) is left, on success the output parses. Many cases run
in one worker process (starting Python and jaxlib costs a second); a worker that dies is itself the
finding: the case it was running is saved under bench/.cache/fuzz-crashes/ and a new worker takes over
from the next case. Cases are a pure function of (seed, index), so any case can be replayed:
`--replay SEED INDEX` writes it to a file and prints the command.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

EXAMPLES = ROOT / "examples"
CRASHES = ROOT / "bench" / ".cache" / "fuzz-crashes"
PIPELINE = "optimize"

RESOURCES = b"""func.func @main(%a: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %c = stablehlo.constant dense_resource<weights> : tensor<2x2xf32>
  %0 = stablehlo.add %a, %c : tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
"""

LOOP = b"""func.func @main(%x: tensor<4xf32>, %p: tensor<i1>) -> tensor<4xf32> {
  %n = stablehlo.constant dense<3> : tensor<i32>
  %z = stablehlo.constant dense<0> : tensor<i32>
  %r:2 = stablehlo.while(%i = %z, %v = %x) : tensor<i32>, tensor<4xf32>
    cond {
      %c = stablehlo.compare LT, %i, %n : (tensor<i32>, tensor<i32>) -> tensor<i1>
      stablehlo.return %c : tensor<i1>
    } do {
      %one = stablehlo.constant dense<1> : tensor<i32>
      %j = stablehlo.add %i, %one : tensor<i32>
      %w = "stablehlo.if"(%p) ({
        %e = stablehlo.exponential %v : tensor<4xf32>
        stablehlo.return %e : tensor<4xf32>
      }, {
        %t = stablehlo.tanh %v : tensor<4xf32>
        stablehlo.return %t : tensor<4xf32>
      }) : (tensor<i1>) -> tensor<4xf32>
      stablehlo.return %j, %w : tensor<i32>, tensor<4xf32>
    }
  return %r#1 : tensor<4xf32>
}
"""


def seed_inputs() -> dict[str, bytes]:
    """The valid inputs every case starts from: each example, and each of three modules in each format."""
    from hlo_passes import ir

    result = {
        "attention.mlir": (EXAMPLES / "attention.mlir").read_bytes(),
        "attention.vhlo": (EXAMPLES / "attention.vhlo").read_bytes(),
        "attention.jax_exported": (EXAMPLES / "attention.jax_exported").read_bytes(),
        "resources.mlir": RESOURCES,
        "loop.mlir": LOOP,
    }
    for name in ("attention", "resources", "loop"):
        module = ir.parse(result[f"{name}.mlir"])
        result[f"{name}.mlirbc"] = ir.serialize(module, "bytecode")
        if name != "resources":  # dense_resource needs inlining for VHLO: the .mlirbc covers resources
            result[f"{name}.portable"] = ir.serialize(module, "portable")
    return result


_SPECIAL = [0x00, 0xFF, 0x80, 0x7F, 0xC3, ord("{"), ord("}"), ord("("), ord('"'), ord("\\"), ord("%"), ord("<")]


def _mutate_once(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    n = len(data)
    kind = rng.choice(["truncate", "truncate", "flip", "flip", "replace", "replace", "insert", "delete",
                       "duplicate", "splice_zero"])
    at = rng.randrange(n) if n else 0
    if kind == "truncate":
        return f"truncate@{at}", data[:at]
    if kind == "flip" and n:
        return f"flip@{at}", data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
    if kind == "replace" and n:
        value = rng.choice(_SPECIAL) if rng.random() < 0.5 else rng.randrange(256)
        return f"replace@{at}={value:#x}", data[:at] + bytes([value]) + data[at + 1:]
    if kind == "insert":
        junk = bytes(rng.choice(_SPECIAL) if rng.random() < 0.5 else rng.randrange(256)
                     for _ in range(rng.randint(1, 8)))
        return f"insert@{at}+{len(junk)}", data[:at] + junk + data[at:]
    if kind == "delete" and n:
        size = rng.randint(1, 16)
        return f"delete@{at}-{size}", data[:at] + data[at + size:]
    if kind == "duplicate" and n:
        size = rng.randint(1, 64)
        return f"duplicate@{at}x{size}", data[:at + size] + data[at:]
    size = rng.randint(1, 32)  # splice_zero (or any kind on empty data): a run of zeros or 0xFF
    fill = bytes([rng.choice([0x00, 0xFF])]) * size
    return f"fill@{at}x{size}", data[:at] + fill + data[at + size:]


def make_case(seed: int, index: int, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """Case `index` of campaign `seed`: a seed input and one to three mutations, as a description."""
    rng = random.Random(f"{seed}:{index}")
    name = rng.choice(sorted(seeds))
    data, steps = seeds[name], []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        step, data = _mutate_once(rng, data)
        steps.append(step)
    return f"{name}:{','.join(steps)}", data


def check_outcome(status: int, stderr: str, out: Path) -> str | None:
    """What is wrong with one run, or None. Exit 0 or 1 only; no traceback; output iff success."""
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    if status < 0 or status > 128:
        return f"killed by a signal (status {status})"
    if status not in (0, 1):
        return f"exit status {status}: {stderr.strip()[-300:]}"
    if "Traceback" in stderr or "internal error" in stderr:
        return f"traceback or internal error: {stderr.strip()[-300:]}"
    if leftovers:
        return f"temporary files left: {leftovers}"
    if status == 1:
        if out.exists():
            return "an output file was written although the run failed"
        if not stderr.strip():
            return "exit status 1 without a message"
        return None
    if not out.exists() or out.stat().st_size == 0:
        return "exit status 0 but no output file"
    from hlo_passes import HloError, ir
    try:
        ir.load(out)
    except HloError as e:
        return f"exit status 0 but the output does not parse: {e}"
    return None


def run_in_process(path: Path, out: Path, rep: Path) -> tuple[int, str]:
    """tools/hlo_opt.py's main on one input, in this process; (exit status, what it wrote to stderr)."""
    from tools import hlo_opt

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = hlo_opt.main([str(path), f"--pass-pipeline={PIPELINE}", "-o", str(out), "--reproducer", str(rep)])
    return status, err.getvalue()


def run_cli(path: Path, out: Path, rep: Path, timeout: float = 120) -> tuple[int, str]:
    """The installed `hlo-opt` on one input, as a separate process."""
    hlo_opt = Path(sys.executable).with_name("hlo-opt")
    proc = subprocess.run([str(hlo_opt), str(path), f"--pass-pipeline={PIPELINE}", "-o", str(out),
                           "--reproducer", str(rep)], capture_output=True, text=True, timeout=timeout,
                          errors="replace")
    return proc.returncode, proc.stderr


def worker(seed: int, start: int, count: int) -> int:
    """Run cases [start, start + count), one JSON line per case on stdout ("begin" first, so that the
    parent knows which case killed us)."""
    seeds = seed_inputs()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        for index in range(start, start + count):
            desc, data = make_case(seed, index, seeds)
            print(json.dumps({"begin": index}), flush=True)
            path, out, rep = folder / f"case{Path(desc.split(':')[0]).suffix}", folder / "out.mlir", folder / "rep.mlir"
            path.write_bytes(data)
            status, stderr = run_in_process(path, out, rep)
            problem = check_outcome(status, stderr, out)
            print(json.dumps({"index": index, "desc": desc, "status": status, "problem": problem}), flush=True)
            for p in (out, rep):
                p.unlink(missing_ok=True)
    return 0


def campaign(cases: int, seed: int = 0, batch: int = 1000, log=print, save_crashes: bool = True) -> dict:
    """Run `cases` cases in worker processes; the counts, and the problems found (description each)."""
    counts = {"cases": 0, "exit0": 0, "exit1": 0, "crashes": 0, "tracebacks": 0, "lost_or_partial_files": 0,
              "other": 0}
    problems: list[str] = []
    seeds = seed_inputs() if save_crashes else None
    index, t0 = 0, time.perf_counter()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--seed", str(seed)]
    while index < cases:
        count = min(batch, cases - index)
        proc = subprocess.Popen([*cmd, "--start", str(index), "--count", str(count)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        in_flight = None
        for line in proc.stdout:
            record = json.loads(line)
            if "begin" in record:
                in_flight = record["begin"]
                continue
            in_flight = None
            counts["cases"] += 1
            problem = record["problem"]
            if problem is None:
                counts["exit0" if record["status"] == 0 else "exit1"] += 1
                continue
            problems.append(f"case {record['index']} ({record['desc']}): {problem}")
            key = ("tracebacks" if "traceback" in problem else
                   "lost_or_partial_files" if "output" in problem or "temporary" in problem else
                   "crashes" if "signal" in problem else "other")
            counts[key] += 1
        status = proc.wait()
        if in_flight is not None or status != 0:  # the worker died: the case it was running crashed it
            dead = in_flight if in_flight is not None else index + count
            counts["cases"] += 1
            counts["crashes"] += 1
            desc = f"worker died with status {status}"
            if seeds is not None and in_flight is not None:
                name, data = make_case(seed, in_flight, seeds)
                CRASHES.mkdir(parents=True, exist_ok=True)
                saved = CRASHES / f"seed{seed}-case{in_flight}.bin"
                saved.write_bytes(data)
                desc += f" on {name} (saved as {saved})"
            problems.append(f"case {dead}: {desc}")
            index = dead + 1
        else:
            index += count
        log(f"  {counts['cases']} cases, {counts['crashes']} crashes, {len(problems)} problems,"
            f" {time.perf_counter() - t0:.0f} s")
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    return {"counts": counts, "problems": problems}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=1000, help="cases per worker process")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--replay", type=int, nargs=2, metavar=("SEED", "INDEX"), help="write one case to a file")
    args = p.parse_args()
    if args.worker:
        return worker(args.seed, args.start, args.count)
    if args.replay:
        desc, data = make_case(*args.replay, seed_inputs())
        path = Path(tempfile.gettempdir()) / f"fuzz-case-{args.replay[0]}-{args.replay[1]}"
        path.write_bytes(data)
        print(f"{desc}\nhlo-opt {path} --pass-pipeline={PIPELINE} -o /tmp/out.mlir")
        return 0
    print(f"fuzzing hlo-opt --pass-pipeline={PIPELINE}: {args.cases} cases, seed {args.seed}")
    result = campaign(args.cases, args.seed, args.batch)
    for problem in result["problems"][:50]:
        print("PROBLEM", problem)
    c = result["counts"]
    print(f"summary: {c['cases']} cases tried in {c['seconds']} s; exit 0: {c['exit0']}, exit 1: {c['exit1']};"
          f" crashes: {c['crashes']}, tracebacks/internal errors: {c['tracebacks']},"
          f" lost/partial files: {c['lost_or_partial_files']}, other: {c['other']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
