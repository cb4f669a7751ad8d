"""Shared helpers: small modules written as text, and the project's paths."""

import functools
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HLO_OPT = str(Path(sys.executable).parent / "hlo-opt")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the long campaigns marked @pytest.mark.slow (fuzzers at full size)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long campaign; deselected unless --slow is given")


def pytest_collection_modifyitems(config, items):
    """Deselect (not skip) slow tests: the README's test command stays fast, and `--slow` runs them."""
    if config.getoption("--slow"):
        return
    slow = [it for it in items if it.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [it for it in items if not it.get_closest_marker("slow")]


def lit_inputs() -> list[tuple[str, str]]:
    """("file.mlir#k", text) of every chunk of the lit tests' inputs that parses (negative inputs left out):
    a few hundred small modules of every kind, for properties that must hold on all of them."""
    from hlo_passes import ir

    found = []
    for path in sorted((ROOT / "lit_tests").glob("*.mlir")):
        for k, chunk in enumerate(path.read_text().split("// -----")):
            try:
                ir.load(chunk.encode())
            except Exception:  # noqa: BLE001 -- negative inputs (parse errors) have nothing to rewrite
                continue
            found.append((f"{path.name}#{k}", chunk))
    return found


def func(body: str, args: str, result: str, name: str = "main") -> str:
    """A one-function module: `func(body, "%a: tensor<4xf32>", "tensor<4xf32>")`."""
    return f"func.func @{name}({args}) -> {result} {{\n{body}\n}}\n"


@pytest.fixture
def attention_path():
    return EXAMPLES / "attention.mlir"


@functools.lru_cache(maxsize=None)
def exported_lm(family: str, attn: str = "sdpa", seq_len: int = 8):
    """(model, MLIR text, input ids, torch logits) of a tiny Hugging Face causal LM exported with
    torch-mlir, once per session (an export takes a second or two)."""
    from hlo_passes.frontends import torch as ft

    builders = {"llama": ft.tiny_llama, "qwen2": ft.tiny_qwen2, "gpt2": ft.tiny_gpt2}
    model = builders[family](attn_implementation=attn)
    text, ids, logits = ft.export_causal_lm(model, seq_len=seq_len)
    return model, text, ids, logits


def composites_named(module, name: str) -> list:
    """Every `stablehlo.composite` op called `name` in `module` (decompositions included), in walk order."""
    from hlo_passes import ir

    found = []

    def visit(op):
        if op.name == "stablehlo.composite" and ir.mlir.StringAttr(op.attributes["name"]).value == name:
            found.append(op)
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return found
