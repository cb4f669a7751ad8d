"""Figures for the "Core" issue's done-when criteria, on a realistic ~20k-op transformer module.

    .venv/bin/python bench/core.py            # from the repo root; about half a minute

- load+save (`hlo_passes.ir.load` of a text file, `ir.save` as text) against the bindings' own
  `Module.parse` + `operation.print` of the same text: the bar is a ratio <= 2x;
- bytecode save and load, for reference;
- the whole `hlo-opt BIG.mlir --pass-pipeline=canonicalize,cse --timing -o OUT` as a subprocess: the bar
  is < 3 s wall.

Times are the best of 3. The module comes from examples/transformer.py and is cached in bench/.cache/
(keyed by that file's contents and the jax version). A benchmark, not a test: exit status 0 whatever the
figures, unless something crashes.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from hlo_passes import ir  # noqa: E402
from hlo_passes.instrumentation import op_histogram  # noqa: E402
from hlo_passes.ir import make_context, mlir  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
EXAMPLE = ROOT / "examples" / "transformer.py"
HLO_OPT = Path(sys.executable).with_name("hlo-opt")
PIPELINE = "canonicalize,cse"
REPEAT = 3
LOAD_SAVE_BAR = 2.0  # x the bindings' parse+print
CLI_BAR = 3.0  # seconds


def best_of(fn, n: int = REPEAT) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def module_path() -> Path:
    """The transformer module's text, generated once per version of examples/transformer.py."""
    import jax

    key = hashlib.sha256(EXAMPLE.read_bytes() + jax.__version__.encode()).hexdigest()[:12]
    path = CACHE / f"transformer-{key}.mlir"
    if path.exists():
        print(f"module: {path.relative_to(ROOT)} (cached)")
        return path
    sys.path.insert(0, str(EXAMPLE.parent))
    import transformer

    t0 = time.perf_counter()
    text = transformer.transformer_text(transformer.DEFAULT_LAYERS)
    CACHE.mkdir(parents=True, exist_ok=True)
    ir.write_atomic(path, text.encode())
    print(f"module: {path.relative_to(ROOT)} (generated, {transformer.DEFAULT_LAYERS} layers,"
          f" {time.perf_counter() - t0:.1f} s)")
    return path


def verdict(ok: bool) -> str:
    return "OK" if ok else "OVER BAR"


def main() -> int:
    path = module_path()
    text = path.read_bytes()
    ops = sum(op_histogram(ir.load(path)).values())
    print(f"ops: {ops}  ({len(text) / 1e6:.2f} MB of text)")

    # the bindings alone: parse the bytes, print to memory (context made outside the timing)
    ctx = make_context()

    def bindings():
        module = mlir.Module.parse(text, ctx)
        module.operation.print(file=io.StringIO())

    t_ctx = best_of(make_context)
    t_bind = best_of(bindings)

    with tempfile.TemporaryDirectory(prefix="bench-core-") as tmp:
        out_txt, out_bc, out_cli = Path(tmp, "out.mlir"), Path(tmp, "out.mlirbc"), Path(tmp, "cli.mlir")

        def load_save():
            ir.save(ir.load(path), out_txt)

        t_ours = best_of(load_save)
        t_load = best_of(lambda: ir.load(path))
        loaded = ir.load(path)
        t_save = best_of(lambda: ir.save(loaded, out_txt))
        ratio = t_ours / t_bind
        print(f"bindings parse+print: {t_bind:.3f} s  (make_context alone {t_ctx * 1000:.1f} ms, not included)")
        print(f"load+save: {t_ours:.3f} s  (bindings parse+print {t_bind:.3f} s, ratio {ratio:.2f}x,"
              f" bar <= {LOAD_SAVE_BAR:g}x) {verdict(ratio <= LOAD_SAVE_BAR)}")
        print(f"  of which load {t_load:.3f} s, save {t_save:.3f} s")

        t_bc_save = best_of(lambda: ir.save(loaded, out_bc, format="bytecode"))
        t_bc_load = best_of(lambda: ir.load(out_bc))
        same = ir.serialize(ir.load(out_bc)) == ir.serialize(loaded)
        print(f"bytecode: save {t_bc_save:.3f} s, load {t_bc_load:.3f} s  ({out_bc.stat().st_size / 1e6:.2f} MB,"
              f" text round trip {'identical' if same else 'DIFFERS'})")

        if not HLO_OPT.exists():
            print(f"hlo-opt CLI: not found at {HLO_OPT} (run with the venv's python); skipped")
            print(f"summary: {ops} ops; load+save {ratio:.2f}x bindings (bar <= {LOAD_SAVE_BAR:g}x)"
                  f" {verdict(ratio <= LOAD_SAVE_BAR)}; CLI not measured")
            return 0
        cmd = [str(HLO_OPT), str(path), f"--pass-pipeline={PIPELINE}", "--timing", "-o", str(out_cli)]
        runs, table, failed = [], "", None
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            runs.append(time.perf_counter() - t0)
            table = proc.stderr
            if proc.returncode != 0:
                failed = f"exit status {proc.returncode}"
                break
        t_cli = min(runs)
        t_start = best_of(lambda: subprocess.run([str(HLO_OPT), "--list-passes"], capture_output=True))
        cli_ops = sum(op_histogram(ir.load(out_cli)).values()) if failed is None else 0
        print(f"hlo-opt {Path(path).name} --pass-pipeline={PIPELINE} --timing (stderr of the last run):")
        print("  " + table.rstrip("\n").replace("\n", "\n  "))
        cli_ok = failed is None and t_cli < CLI_BAR
        print(f"hlo-opt CLI wall: {t_cli:.2f} s  (runs {', '.join(f'{t:.2f}' for t in runs)};"
              f" startup alone, --list-passes: {t_start:.2f} s; bar < {CLI_BAR:g} s)"
              f" {failed.upper() if failed else verdict(cli_ok)}")
        if failed is None:
            print(f"  ops after {PIPELINE}: {ops} -> {cli_ops}")

    print(f"summary: {ops} ops; load+save {ratio:.2f}x bindings (bar <= {LOAD_SAVE_BAR:g}x)"
          f" {verdict(ratio <= LOAD_SAVE_BAR)}; hlo-opt {t_cli:.2f} s (bar < {CLI_BAR:g} s) "
          f"{'FAILED' if failed else verdict(cli_ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
