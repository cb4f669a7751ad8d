"""`--progress` (hlo_passes/progress.py): stage lines in logs, and a summary whose numbers are the output's.

The CLIs run in child processes: Progress resets the kernel's peak-RSS mark, which other tests of this
pytest process read through ru_maxrss.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest

from hlo_passes import ir
from hlo_passes.progress import Progress, human_bytes, module_summary, tflite_summary
from hlo_passes.tflite import schema
from hlo_passes.tflite.inspect import load_model

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STAGE = re.compile(r"^(hlo-export|hlo-opt): (.+?): ([\d.]+) s \(total ([\d.]+) s; rss ([\d.]+) (MB|GB), peak ([\d.]+) (MB|GB)\)$")


def _mb(value: str, unit: str) -> float:
    return float(value) * (1000 if unit == "GB" else 1)


def _stages(stderr: str) -> list[tuple[str, float, float, float]]:
    """(name, seconds, rss MB, peak MB) of each finished-stage line."""
    out = []
    for line in stderr.splitlines():
        m = STAGE.match(line)
        if m:
            out.append((m[2], float(m[3]), _mb(m[5], m[6]), _mb(m[7], m[8])))
    return out


def _summary(stderr: str, prog: str) -> re.Match:
    m = re.search(rf"^{prog}: done in [\d.]+ s: (\d+) ops \(([^)]*)\); (\d+) composites(?: \(([^)]*)\))?;"
                  r" ([\d.]+ (?:B|KB|MB|GB)) written; peak memory ([\d.]+) (MB|GB)"
                  r"(?: \(and ([\d.]+) (MB|GB) in a child process\))?$", stderr, re.MULTILINE)
    assert m, stderr
    return m


def _pairs(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (item.rsplit(" ", 1) for item in text.split(", "))} if text else {}


def _reference_counts(path: Path) -> tuple[dict[str, int], Counter]:
    """Ops per signature and composites, read with the object API (not the accessors the summary uses)."""
    _, model = load_model(path)
    codes = model.operatorCodes
    ops, composites = {}, Counter()
    for sig in model.signatureDefs:
        sg = model.subgraphs[sig.subgraphIndex]
        ops[sig.signatureKey.decode()] = len(sg.operators)
        for op in sg.operators:
            code = codes[op.opcodeIndex]
            if schema.op_name(max(code.builtinCode, code.deprecatedBuiltinCode)) == "STABLEHLO_COMPOSITE":
                composites[op.builtinOptions2.name.decode()] += 1
    return ops, composites


def test_hlo_export_progress_in_a_log(tmp_path):
    """The JAX tiny LLM to a .tflite with --progress into a pipe: a line per stage (export, each pass by name
    and index, write) with elapsed time and memory, and a summary that matches the written model."""
    out = tmp_path / "llm.tflite"
    done = subprocess.run([BIN / "hlo-export", "examples/llm_jax.py:export", "--set", "config=tiny", "-p", "optimize",
                           "-o", out, "--progress"], cwd=ROOT, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stderr and "\r" not in done.stderr  # a log gets plain lines, no bar
    stages = _stages(done.stderr)
    names = [s[0] for s in stages]
    n = len(names) - 2
    assert names[0] == "export" and names[-1] == "write"
    assert [re.sub(r" \S+$", "", s) for s in names[1:-1]] == [f"pass {i}/{n}" for i in range(1, n + 1)]
    passes = [s.rsplit(" ", 1)[1] for s in names[1:-1]]
    assert passes[-1] == "legalize-tflite" and "fuse-sdpa" in passes
    assert all(s[1] >= 0 for s in stages) and stages[0][1] > 0.1  # the export takes real time
    m = _summary(done.stderr, "hlo-export")
    ops, composites = _reference_counts(out)
    assert _pairs(m[2]) == ops and int(m[1]) == sum(ops.values())
    assert ops.keys() == {"prefill", "decode"}
    assert _pairs(m[4] or "") == dict(composites) == {"odml.scaled_dot_product_attention": 4}  # 2 layers x 2
    assert int(m[3]) == 4
    assert m[5] == human_bytes(out.stat().st_size)
    peak = _mb(m[6], m[7])
    assert peak >= max(s[3] for s in stages) - 0.5 and peak >= max(s[2] for s in stages) - 0.5
    assert peak > 50  # a process that imported jax and torch-mlir's friends


def test_progress_flag_defaults():
    """Unset, --progress follows the terminal (None); --no-progress turns it off even there."""
    from hlo_passes.frontends import cli

    assert cli.build_parser().parse_args(["x.py:f"]).progress is None
    assert cli.build_parser().parse_args(["x.py:f", "--no-progress"]).progress is False


def test_hlo_opt_progress_and_module_summary(tmp_path):
    """hlo-opt --progress on a text output: parse, each pass, write; the summary counts the module's ops
    per public function and its composites."""
    out = tmp_path / "a.mlir"
    done = subprocess.run([BIN / "hlo-opt", "examples/attention.mlir", "-p", "optimize", "--progress", "-o", out],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names = [s[0] for s in _stages(done.stderr)]
    assert names[0] == "parse" and names[-1] == "write" and names[1].startswith("pass 1/")
    m = _summary(done.stderr, "hlo-opt")
    module = ir.load(str(out))
    ops, composites = module_summary(module)
    text = out.read_text()
    main_body = text[text.index("@main"):]
    main_body = main_body[:main_body.index("\n  }")]
    listed = [line for line in main_body.splitlines()[1:]
              if "=" in line and "stablehlo.constant" not in line or "return" in line]
    assert ops == {"main": len(listed) - 1} == _pairs(m[2])  # every op line but the return
    assert composites == {"odml.scaled_dot_product_attention": 1} == Counter(_pairs(m[4]))
    assert m[5] == human_bytes(out.stat().st_size)


def test_per_stage_peak_is_the_stages_own(tmp_path):
    """With the kernel's mark reset per stage, a small stage after a big one reports its own (small) peak, and
    the summary keeps the process peak."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from hlo_passes.progress import Progress
        p = Progress("t", out=sys.stderr, bar=False)
        with p.stage("big"):
            a = np.ones(300_000_000 // 8); del a
        with p.stage("small"):
            b = np.ones(20_000_000 // 8); del b
        import subprocess
        subprocess.run([sys.executable, "-c", "a = bytearray(150_000_000); a[::4096] = b'x' * len(a[::4096])"])
        print(p.finish(size=1), file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = {m[1]: m for m in (re.match(r"t: (\w+): .* rss ([\d.]+) (MB|GB), peak ([\d.]+) (MB|GB)\)",
                                        line) for line in done.stderr.splitlines()) if m}
    big, small = (_mb(lines[k][4], lines[k][5]) for k in ("big", "small"))
    rss = _mb(lines["small"][2], lines["small"][3])
    assert big - small > 250  # the 300 MB array is the big stage's alone
    assert small - rss < 60  # the small stage peaked about 20 MB above where it ended
    peak = re.search(r"peak memory ([\d.]+) (MB|GB) \(and ([\d.]+) (MB|GB) in a child process\)", done.stderr)
    assert peak, done.stderr
    assert abs(_mb(peak[1], peak[2]) - big) < 1
    assert 150 <= _mb(peak[3], peak[4]) < 250  # the child's 150 MB, and its interpreter


def test_bar_mode_redraws_one_line_and_clears_it():
    """A bar (as on a terminal): lines are redrawn in place with \\r, finished stages are printed whole, and
    closing leaves no bar behind."""
    out = StringIO()
    p = Progress("t", out=out, bar=True, expect=("a",), reset_peak=False)
    with p.stage("a"):
        p._draw()
    p.close()
    text = out.getvalue()
    assert "t [" in text and "0/1 a" in text and "\r\x1b[K" in text
    assert re.search(r"\r\x1b\[Kt: a: [\d.]+ s \(total", text)
    assert text.endswith("\r\x1b[K")


def test_tflite_summary_matches_the_object_api(tmp_path):
    """The accessor reader (mmap, no unpacking) and the object API agree on a two-signature model."""
    out = tmp_path / "m.tflite"
    done = subprocess.run([BIN / "hlo-opt", "examples/attention.mlir", "-p", "optimize", "-o", out],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ops, composites = tflite_summary(out)
    assert (ops, composites) == _reference_counts(out)
    assert ops["main"] > 5 and composites == {"odml.scaled_dot_product_attention": 1}


@pytest.mark.parametrize("n, text", [(999, "999 B"), (209216, "209 KB"), (1_500_000, "1.5 MB"), (7.3e9, "7.3 GB")])
def test_human_bytes(n, text):
    assert human_bytes(n) == text


def test_a_failing_pass_is_a_failed_stage_and_one_error(tmp_path):
    """A pass that raises: its stage line says FAILED with its time, the error is still one line, exit 1,
    no summary and no output file."""
    out = tmp_path / "never.mlir"
    done = subprocess.run([BIN / "hlo-opt", "examples/attention.mlir", "--load-pass-plugin",
                           "lit_tests/Inputs/test_passes.py", "-p", "cse,test-raise", "--progress", "-o", out],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and not out.exists()
    assert re.search(r"^hlo-opt: pass 2/2 test-raise FAILED: [\d.]+ s \(total", done.stderr, re.MULTILINE)
    assert "Traceback" not in done.stderr and "done in" not in done.stderr
    assert "pass 'test-raise' raised ZeroDivisionError" in done.stderr
