"""bench/litert_latency.py, the fair LiteRT timing behind bench/llm.py's latency columns: every model runs in a
fresh child process of its own (in one process the model loaded first decodes up to 1.3x slower, which once
made our f32 decode look 1.17x slower than litert-torch's). These pin that the children get the given inputs,
time every signature asked for, and that a failing child is an error, not a silent number."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes.tflite.export import export

from conftest import func

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import litert_latency  # noqa: E402

TEXT = func("  %0 = stablehlo.add %a, %a : tensor<4xf32>\n  return %0 : tensor<4xf32>", "%a: tensor<4xf32>",
            "tensor<4xf32>")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lat") / "double.tflite"
    export(hp.run(hp.parse(TEXT), "legalize-tflite")).write(path)
    return path


def test_every_model_and_signature_is_timed_in_its_own_child(model):
    feeds = {"main": {"args_0": np.ones(4, np.float32)}}
    result = litert_latency.measure({"given": (model, feeds, {"main": 5}), "zeros": (model, None, {"main": 5})},
                                    rounds=2)
    assert set(result) == {"given", "zeros"}
    for by_sig in result.values():
        assert set(by_sig) == {"main"}
        assert 0 < by_sig["main"] < 0.1  # seconds per call of a 4-element add


def test_the_given_inputs_reach_the_child(model):
    bad = {"main": {"args_0": np.ones(5, np.float32)}}  # a child that ignored its feeds would time zeros and pass
    with pytest.raises(RuntimeError, match=r"timing .*double\.tflite failed:.*input 'args_0'"):
        litert_latency.measure({"m": (model, bad, {"main": 3})}, rounds=1)


def test_cli_prints_one_line_per_model(model, capsys):
    assert litert_latency.main([str(model), "--signatures", "main", "--runs", "3", "--rounds", "1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("main ") and out[0].endswith("double.tflite")
