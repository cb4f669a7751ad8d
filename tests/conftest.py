"""Shared helpers: small modules written as text, and the project's paths."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HLO_OPT = str(Path(sys.executable).parent / "hlo-opt")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def func(body: str, args: str, result: str, name: str = "main") -> str:
    """A one-function module: `func(body, "%a: tensor<4xf32>", "tensor<4xf32>")`."""
    return f"func.func @{name}({args}) -> {result} {{\n{body}\n}}\n"


@pytest.fixture
def attention_path():
    return EXAMPLES / "attention.mlir"
