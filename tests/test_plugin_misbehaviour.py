"""Plugins that misbehave, run through the real CLI: each ends in one clean error (exit 1, no traceback,
no output file), or, for a deliberate replacement, in a run that does what the plugin asked.

The table is the campaign: add a row for every new way a user's pass can go wrong."""

import subprocess
import sys
from pathlib import Path

import pytest

HLO_OPT = str(Path(sys.executable).parent / "hlo-opt")

MODULE = """func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.add %a, %a : tensor<4xf32>
  %1 = stablehlo.multiply %0, %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}
"""

HEAD = """
import sys
from dataclasses import dataclass
import hlo_passes as hp
from hlo_passes.ir import mlir

def first(module, name):
    found = []
    module.walk(lambda op: (found.append(op) if op.name == name else None) or mlir.WalkResult.ADVANCE)
    return found[0]

"""


def _pass(name: str, body: str, decorator: str = "@hp.register_pass") -> str:
    return HEAD + f"""
{decorator}
@dataclass(frozen=True)
class P(hp.Pass):
    name = {name!r}
    summary = "misbehaves"

    def run(self, module, ctx):
{body}
"""


# (id, plugin source, pipeline, expected exit code, text that stderr must contain)
CASES = [
    ("exit-0-in-pass", _pass("bad", "        sys.exit(0)"), "bad", 1, "called sys.exit(0)"),
    ("exit-3-in-pass", _pass("bad", "        raise SystemExit(3)"), "bad", 1, "called sys.exit(3)"),
    ("exit-at-import", HEAD + "sys.exit(0)\n", "cse", 1, "called sys.exit(0) while loading"),
    ("raises", _pass("bad", "        raise ValueError('boom')"), "bad", 1, "pass 'bad' raised ValueError: boom"),
    ("recursion", _pass("bad", "        def f(n): return f(n + 1)\n        f(0)"), "bad", 1, "RecursionError"),
    ("erase-used-op", _pass("bad", "        first(module, 'stablehlo.add').erase()"), "bad", 1,
     "cannot erase stablehlo.add"),
    ("invalid-ir", _pass("bad", "        op = first(module, 'stablehlo.multiply')\n"
                                "        op.operands[0] = op.result"),
     "bad", 1, "left an invalid module"),
    ("prints-to-stdout", _pass("chatty", "        print('hello from a pass')"), "chatty", 0, "hello from a pass"),
    ("replaces-cse", _pass("cse", "        pass"), "cse", 1, "'cse' is already registered as a pass"),
    ("replaces-optimize", HEAD + "hp.register_pipeline('optimize', 'cse', 'mine')\n", "cse", 1,
     "'optimize' is already registered as a named pipeline"),
    ("pass-named-like-a-pipeline", _pass("optimize", "        pass"), "cse", 1,
     "'optimize' is already registered as a named pipeline"),
    ("comma-in-name", _pass("a,b", "        pass"), "cse", 1, "cannot be used in a pipeline"),
    ("brace-in-name", _pass("a{b}", "        pass"), "cse", 1, "cannot be used in a pipeline"),
    ("space-in-name", _pass("a b", "        pass"), "cse", 1, "cannot be used in a pipeline"),
    ("syntax-error", "def (:\n", "cse", 1, "cannot load pass plugin"),
    ("import-error", "import no_such_module_anywhere\n", "cse", 1, "ModuleNotFoundError"),
    ("deliberate-replace", _pass("cse", "        print('my cse', file=sys.stderr)",
                                 decorator="@hp.register_pass(replace=True)"), "cse", 0, "my cse"),
]


@pytest.mark.parametrize("source,pipeline,code,says", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misbehaving_plugin(tmp_path, source, pipeline, code, says):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(source)
    src = tmp_path / "in.mlir"
    src.write_text(MODULE)
    out = tmp_path / "out.mlir"
    done = subprocess.run([HLO_OPT, str(src), "--load-pass-plugin", str(plugin), "--pass", pipeline, "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert out.exists() == (code == 0)
    assert src.read_text() == MODULE
    if code == 0:
        assert "func.func @main" in out.read_text() and "hello" not in out.read_text()


def test_plugin_output_on_stdout_stays_clean(tmp_path):
    """A pass that prints must not corrupt a module written to stdout."""
    plugin = tmp_path / "plugin.py"
    plugin.write_text(_pass("chatty", "        print('hello from a pass')"))
    done = subprocess.run([HLO_OPT, "-", "--load-pass-plugin", str(plugin), "--pass", "chatty"], input=MODULE,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "hello" not in done.stdout and "hello from a pass" in done.stderr
    assert done.stdout.lstrip().startswith("module")


def test_non_python_plugin_is_refused(tmp_path):
    src = tmp_path / "in.mlir"
    src.write_text(MODULE)
    done = subprocess.run([HLO_OPT, str(src), "--load-pass-plugin", str(src), "--pass", "cse"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "is not a Python file" in done.stderr
    assert "internal error" not in done.stderr
