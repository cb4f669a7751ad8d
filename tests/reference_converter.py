"""Google's StableHLO->TFLite converter (litert-converter 0.5.0) as a cross-check, in a venv of its own.

It cannot share our venv: it pins xdsl 0.28, whose typing-extensions pin breaks transformers. So the first
use makes `.cache/refvenv` (about 300 MB, a minute) and every conversion runs there as a subprocess, on
the very MLIR text we legalize ourselves. Used by tests/test_tflite_reference.py and bench/tflite.py;
never by hlo_passes itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "refvenv"
PINS = ["litert-converter==0.5.0", "ai-edge-litert==2.3.0", "numpy==2.4.6"]

SCRIPT = r"""
import sys
from litert_converter import converter_api_ext as c
from litert_converter.mlir import ir, passmanager
src, dst = sys.argv[1], sys.argv[2]
ctx = ir.Context()
c.prepare_mlir_context(ctx)
with ctx:
    module = ir.Module.parse(open(src).read())
    fn = [op for op in module.body.operations if op.operation.name == "func.func"
          and op.attributes["sym_name"].value == "main"][0]
    n_in, n_out = len(fn.regions[0].blocks[0].arguments), len(fn.type.results)
    c.set_signature(module.operation, signature_name="main", input_names=[f"args_{i}" for i in range(n_in)],
                    output_names=[f"output_{i}" for i in range(n_out)])
    c.run_convert_to_tfl_passes(module, passmanager.PassManager(), c.ConvertToTFLConfig())
    open(dst, "wb").write(c.export_flatbuffer_to_bytes(module.operation))
"""


class ConversionFailed(Exception):
    pass


def python() -> Path:
    """The reference venv's interpreter, made (once) if missing; raises if it cannot be installed."""
    exe = VENV / "bin" / "python"
    stamp = VENV / ".pins"
    if not exe.exists() or not stamp.exists() or stamp.read_text() != "\n".join(PINS):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        done = subprocess.run([str(exe), "-m", "pip", "install", "-q", *PINS], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"cannot install the reference converter ({', '.join(PINS)}): "
                               f"{done.stderr.strip().splitlines()[-1:]}")
        stamp.write_text("\n".join(PINS))
    return exe


def convert(mlir_text_path: Path, out: Path) -> None:
    """litert-converter's .tflite of a StableHLO module (its `main` as signature `main`, args_i/output_i)."""
    script = out.with_suffix(".convert.py")
    script.write_text(SCRIPT)
    done = subprocess.run([str(python()), str(script), str(mlir_text_path), str(out)], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if "error:" in ln.lower()]
        raise ConversionFailed((lines or done.stderr.strip().splitlines()[-1:] or ["(no message)"])[-1].strip())
