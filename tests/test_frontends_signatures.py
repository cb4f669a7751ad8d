"""Several signatures -> one module (`from_jax`, `from_torch`), the `hlo-export` CLI and the errors of
`python -m hlo_passes.generate`, on small models: names, shared weights, numerics through LiteRT against the
framework, and one clear line (exit status 1, no traceback, no output file) for what a user gets wrong."""

import subprocess
import sys
import textwrap
import tomllib

import jax.numpy as jnp
import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.frontends.signatures import from_jax, from_torch, select_signature, weight_stats
from hlo_passes.tflite.export import export
from hlo_passes.tflite.runtime import TFLiteModel

from conftest import ROOT

W = np.random.default_rng(0).standard_normal((16, 32), dtype=np.float32)


def _sig(x, scale):
    return {"y": jnp.tanh(x @ W) * scale, "sum": jnp.sum(x, axis=-1)}


def test_from_jax_closure_weight_is_held_once_and_names_follow_the_pytrees():
    args = {"wide": (np.ones((4, 16), np.float32), np.float32(2)), "one": (np.ones((1, 16), np.float32), np.float32(3))}
    module = from_jax({"wide": _sig, "one": _sig}, args)
    stats = weight_stats(module)
    assert (stats["constants"], stats["distinct"], stats["bytes"]) == (2, 1, W.nbytes)
    assert "dense_resource" in ir.to_text(module)  # two functions' dense copies became one blob
    assert len(ir.to_bytecode(module)) < 1.5 * W.nbytes
    model = TFLiteModel(export(hp.run(module, "legalize-tflite")).to_bytes())
    assert set(model.signatures) == {"wide", "one"}
    for key, (x, s) in args.items():
        spec = model.signatures[key]
        assert [t.name for t in spec.inputs] == ["x", "scale"]
        assert sorted(t.name for t in spec.outputs) == ["sum", "y"]
        x = np.random.default_rng(1).standard_normal(x.shape, dtype=np.float32)
        got = model.run(key, x=x, scale=s)
        want = _sig(x, s)
        np.testing.assert_allclose(got["y"], want["y"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got["sum"], want["sum"], rtol=1e-5, atol=1e-5)


def test_from_jax_params_become_named_shared_blobs():
    params = {"w": W, "layers": [{"b": np.arange(32, dtype=np.float32)}]}

    def fn(p, x):
        return x @ p["w"] + p["layers"][0]["b"]

    module = from_jax({"a": fn, "b": fn}, {"a": (np.zeros((2, 16), np.float32),), "b": (np.zeros((5, 16), np.float32),)},
                      params=params)
    text = ir.to_text(module)
    assert "params.w:" in text and "params.layers.0.b:" in text  # one blob each, named by path
    assert text.count("dense_resource<params.w>") == 2
    for sig, rows in (("a", 2), ("b", 5)):
        x = np.random.default_rng(rows).standard_normal((rows, 16), dtype=np.float32)
        (out,) = numerics.execute(select_signature(module, sig), [x], isolate=False)
        np.testing.assert_allclose(out, x @ W + params["layers"][0]["b"], rtol=1e-5, atol=1e-5)


def test_from_jax_keeps_i64_ids():
    module = from_jax({"f": lambda ids: ids + 1}, {"f": (np.zeros((1, 4), np.int64),)})
    assert "tensor<1x4xi64>" in ir.to_text(module)


@pytest.mark.parametrize("functions, args, message", [
    ({}, {}, "no signatures"),
    ({"a b": _sig}, {"a b": (np.ones((1, 16), np.float32), np.float32(1))}, "signature name"),
    ({"a": _sig}, {}, "no example arguments for signature"),
    ({"a": lambda x: x @ np.ones((3, 3))}, {"a": (np.ones((2, 2), np.float32),)}, "jax cannot lower signature 'a'"),
])
def test_from_jax_errors(functions, args, message):
    with pytest.raises(hp.HloError, match=message):
        from_jax(functions, args)


def test_from_torch_two_signatures_non_persistent_buffer_and_dict_inputs():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(16, 16, bias=False)
            self.register_buffer("table", torch.linspace(0, 1, 64).reshape(4, 16), persistent=False)

        def forward(self, ids, state):
            x = self.lin(self.table[ids])
            return {"out": x, "state": {"s": state["s"] + x.sum()}}

    torch.manual_seed(0)
    net = Net().eval()
    sigs = {"long": (torch.tensor([[0, 1, 2]]), {"s": torch.zeros(2)}), "short": (torch.tensor([[3]]), {"s": torch.ones(2)})}
    module = from_torch(net, sigs)
    stats = weight_stats(module)
    assert stats["distinct"] == 2 and stats["constants"] == 4  # the linear weight and the buffer, once each
    model = TFLiteModel(export(hp.run(module, "optimize,legalize-tflite")).to_bytes())
    for key, (ids, state) in sigs.items():
        spec = model.signatures[key]
        assert [t.name for t in spec.inputs] == ["ids", "state_s"]
        assert [t.name for t in spec.outputs] == ["out", "state_s"]
        got = model.run(key, ids=ids.numpy(), state_s=state["s"].numpy())
        with torch.no_grad():
            want = net(ids, state)
        np.testing.assert_allclose(got["out"], want["out"].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got["state_s"], want["state"]["s"].numpy(), rtol=1e-5, atol=1e-5)
    assert net._non_persistent_buffers_set == {"table"}  # the caller's module is as it was


# ----------------------------------------------------------------------------------------------- the CLIs

FACTORY = textwrap.dedent('''
    import numpy as np
    import jax.numpy as jnp
    from hlo_passes.frontends.signatures import from_jax

    W = np.arange(64, dtype=np.float32).reshape(8, 8) / 64

    def forward(tokens, input_pos, cache):
        logits = jnp.eye(8, dtype=jnp.float32)[tokens] @ W
        logits = jnp.where(logits > 100, 0.0, logits)  # JAX calls a private @_where: hlo-export inlines it
        return {"logits": logits, "cache": cache + 1.0}

    def make(rows="4"):
        n = int(rows)
        args = {"prefill": (np.zeros((1, n), np.int64), np.arange(n), np.zeros((1, 6), np.float32)),
                "decode": (np.zeros((1, 1), np.int64), np.arange(1), np.zeros((1, 6), np.float32))}
        return from_jax({"prefill": forward, "decode": forward}, args)

    def broken():
        raise ValueError("no weights here")

    NOT_CALLABLE = 3
''')


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _one_line_error(result, *fragments):
    assert result.returncode == 1, result
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["hlo-export"].partition(":")
    import importlib

    assert callable(getattr(importlib.import_module(module), attr))


def test_hlo_export_writes_mlir_and_tflite(tmp_path):
    factory = tmp_path / "model.py"
    factory.write_text(FACTORY)
    out = tmp_path / "m.mlir"
    r = _run("-m", "hlo_passes.frontends.cli", f"{factory}:make", "--set", "rows=3", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "signatures prefill, decode" in r.stderr
    module = hp.load(out)
    assert weight_stats(module)["distinct"] == 1
    text = ir.to_text(module)
    assert "func.func public @prefill(%arg0: tensor<1x3xi64>" in text and "@decode(" in text
    tfl = tmp_path / "m.tflite"
    r = _run("-m", "hlo_passes.frontends.cli", "model:make", "-p", "optimize", "-o", str(tfl), "-q", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    model = TFLiteModel(tfl)
    assert set(model.signatures) == {"prefill", "decode"}
    got = model.run("decode", tokens=np.array([[5]]), input_pos=np.array([0]), cache=np.zeros((1, 6), np.float32))
    np.testing.assert_allclose(got["logits"][0, 0], np.arange(40, 48) / 64, rtol=1e-6)


@pytest.mark.parametrize("target, extra, fragments", [
    ("nowhere.py:make", [], ["no such file: nowhere.py"]),
    ("model.py", [], ["must be module:factory"]),
    ("model.py:missing", [], ["has no callable 'missing'"]),
    ("model.py:NOT_CALLABLE", [], ["has no callable 'NOT_CALLABLE'"]),
    ("model.py:broken", [], ["raised ValueError: no weights here"]),
    ("model.py:make", ["--set", "rows"], ["expected KEY=VALUE"]),
    ("model.py:make", ["--set", "rows=x"], ["raised ValueError"]),
    ("no_such_module:make", [], ["cannot import no_such_module"]),
    ("model.py:make", ["-p", "no-such-pass"], ["unknown pass or pipeline 'no-such-pass'"]),
    ("model.py:make", ["-o", "model.py"], ["refusing to write model.py"]),
    ("model.py:make", ["--kv-cache", "variables"], ["--kv-cache=variables is a .tflite's choice"]),
])
def test_hlo_export_errors_are_one_line(tmp_path, monkeypatch, capsys, target, extra, fragments):
    """In process (the entry point's `main`, as the console script calls it): same exit status and stderr."""
    from hlo_passes.frontends import cli

    (tmp_path / "model.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    argv = [target, *extra] + (["-o", "out.mlir"] if "-o" not in extra else [])
    status = cli.main(argv)
    err = capsys.readouterr().err
    _one_line_error(subprocess.CompletedProcess(argv, status, "", err), *fragments)
    assert not (tmp_path / "out.mlir").exists()
    assert (tmp_path / "model.py").read_text() == FACTORY


def test_generate_cli_and_its_errors(tmp_path):
    factory = tmp_path / "model.py"
    factory.write_text(FACTORY)
    tfl = tmp_path / "m.tflite"
    assert _run("-m", "hlo_passes.frontends.cli", f"{factory}:make", "-o", str(tfl), "-q").returncode == 0
    r = _run("-m", "hlo_passes.generate", str(tfl), "--prompt-ids", "1,2,3", "--max-new-tokens", "4")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "tokens: 7,7,7,7"  # W's last column is its largest
    assert lines[1].startswith("prefill: 3 tokens in") and "tokens/s" in lines[1]
    assert lines[2].startswith("decode: 3 tokens in") and "tokens/s" in lines[2]
    var = tmp_path / "var.tflite"  # the cache kept inside LiteRT: the same tokens
    assert _run("-m", "hlo_passes.frontends.cli", f"{factory}:make", "--kv-cache", "variables", "-o", str(var),
                "-q").returncode == 0
    assert {t.name for t in TFLiteModel(var).signatures["decode"].inputs} == {"tokens", "input_pos"}
    r = _run("-m", "hlo_passes.generate", str(var), "--prompt-ids", "1,2,3", "--max-new-tokens", "4")
    assert r.returncode == 0 and r.stdout.splitlines()[0] == "tokens: 7,7,7,7", r.stderr
    _one_line_error(_run("-m", "hlo_passes.generate", str(tmp_path / "none.tflite"), "--prompt-ids", "1"),
                    "no such model file")
    _one_line_error(_run("-m", "hlo_passes.generate", str(tfl), "--prompt-ids", "1", "--decode-signature", "step"),
                    "no 'step' signature", "prefill, decode")
    _one_line_error(_run("-m", "hlo_passes.generate", str(tfl), "--prompt-ids", "1,a"), "comma-separated integers")
    _one_line_error(_run("-m", "hlo_passes.generate", str(tfl), "--prompt-ids", "9", "--max-new-tokens", "2"),
                    "outside the vocabulary")
    garbage = tmp_path / "bad.tflite"
    garbage.write_bytes(b"not a model at all" * 10)
    _one_line_error(_run("-m", "hlo_passes.generate", str(garbage), "--prompt-ids", "1"), "error:")
