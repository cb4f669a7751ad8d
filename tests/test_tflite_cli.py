"""The CLI's .tflite side: `-o model.tflite` (legalize-tflite added when the pipeline lacks it), `--inspect`,
`--run-tflite` with inputs and saved outputs, and failures that leave nothing behind."""

import subprocess
import sys
from pathlib import Path

import numpy as np

import hlo_passes as hp
from hlo_passes import numerics

from conftest import EXAMPLES

HLO_OPT = str(Path(sys.executable).parent / "hlo-opt")


def _run(*args, **kw):
    return subprocess.run([HLO_OPT, *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


def test_write_inspect_and_run_a_model(tmp_path):
    model = tmp_path / "attention.tflite"
    done = _run(EXAMPLES / "attention.mlir", "--pass-pipeline=optimize", "-o", model, "--statistics")
    assert done.returncode == 0, done.stderr
    import re  # legalize-tflite is added to the pipeline for a .tflite output: the last pass of the run

    passes = {int(n): name for name, n in re.findall(r"(\S+) \(#(\d+)\)", done.stderr)}
    assert passes and passes[max(passes)] == "legalize-tflite", passes
    report = _run("--inspect", model)
    assert report.returncode == 0 and "composite odml.scaled_dot_product_attention" in report.stdout
    module = hp.load(EXAMPLES / "attention.mlir")
    inputs = numerics.random_inputs(module, 3)
    np.savez(tmp_path / "in.npz", *inputs)
    ran = _run("--run-tflite", model, "--inputs", tmp_path / "in.npz", "--save-outputs", tmp_path / "out.npz",
               "--runs", 20)
    assert ran.returncode == 0, ran.stderr
    assert "latency:" in ran.stdout and "median of 20 runs" in ran.stdout
    with np.load(tmp_path / "out.npz") as out:
        got = [out[k] for k in out.files]
    assert numerics.compare(got, numerics.execute(module, inputs), rtol=1e-4, atol=1e-4).ok


def test_unsupported_op_writes_no_model(tmp_path):
    src = tmp_path / "bad.mlir"
    src.write_text("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                   "  %0 = stablehlo.custom_call @my_kernel(%a) : (tensor<4xf32>) -> tensor<4xf32>\n"
                   "  return %0 : tensor<4xf32>\n}\n")
    out = tmp_path / "bad.tflite"
    done = _run(src, "-o", out)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{src}:2:8: stablehlo.custom_call: no rule converts stablehlo.custom_call" in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_run_tflite_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 64)
    for args in (["--run-tflite", bad], ["--inspect", bad], ["--run-tflite", tmp_path / "missing.tflite"]):
        done = _run(*args)
        assert done.returncode == 1, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_numerics_flags_reach_the_check():
    done = _run(EXAMPLES / "attention.mlir", "--pass", "cse", "--check-numerics", "--numerics-inputs", "typical",
                "--numerics-timeout", "120", "-o", "/dev/null")
    assert done.returncode == 0, done.stderr
    assert "check-numerics: after cse (#1): same results" in done.stderr
    bad = _run(EXAMPLES / "attention.mlir", "--pass", "cse", "--check-numerics", "--numerics-timeout", "-1")
    assert bad.returncode == 1 and "expected a finite number >= 0" in bad.stderr


def test_jax_export_artifact_and_pass_through_outputs(tmp_path):
    """A serialized jax.export artifact converts like text; a function that returns an input, a constant or
    one value twice still gets distinct output tensors (copies)."""
    model = tmp_path / "from_artifact.tflite"
    assert _run(EXAMPLES / "attention.jax_exported", "--pass-pipeline=optimize", "-o", model).returncode == 0
    assert "composite odml.scaled_dot_product_attention" in _run("--inspect", model).stdout
    src = tmp_path / "passthrough.mlir"
    src.write_text("func.func @main(%a: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) {\n"
                   "  %c = stablehlo.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>\n"
                   "  return %a, %a, %c : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>\n}\n")
    out = tmp_path / "passthrough.tflite"
    done = _run(src, "-o", out)
    assert done.returncode == 0, done.stderr
    from hlo_passes.tflite.runtime import TFLiteModel

    x = np.array([4.0, 5.0, 6.0], np.float32)
    a, b, c = TFLiteModel(out).run(None, x).values()
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, x)
    np.testing.assert_array_equal(c, [1.0, 2.0, 3.0])


def test_damaged_models_are_errors_not_crashes(tmp_path):
    """Truncated and bit-flipped .tflite files through --inspect and --run-tflite's code: an HloError (one
    line, exit 1) or a run, never another exception (which the CLI would call an internal error)."""
    import random

    from hlo_passes.tools import tflite_cli

    model = tmp_path / "attention.tflite"
    assert _run(EXAMPLES / "attention.mlir", "--pass-pipeline=optimize", "-o", model).returncode == 0
    data = model.read_bytes()
    rng = random.Random(0)
    bad = tmp_path / "bad.tflite"
    for i in range(150):
        b = bytearray(data)
        if i % 3 == 0:
            b = b[:rng.randrange(len(b))]
        else:
            for _ in range(rng.randrange(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        bad.write_bytes(bytes(b))
        for call in (lambda: tflite_cli.inspect(str(bad)),
                     lambda: tflite_cli.run_tflite(str(bad), signature=None, inputs=None, runs=0, threads=1,
                                                   xnnpack=False, seed=0)):
            try:
                call()
            except hp.HloError:
                pass
