"""The registry: built-ins come from one lazy table, imported per pass; the table and the modules agree."""

import importlib
import subprocess
import sys

import hlo_passes as hp
from hlo_passes.passes import BUILTIN_PASSES, BUILTIN_PIPELINES


def test_table_matches_what_the_modules_register():
    registered = hp.registered_passes()
    for name, module in BUILTIN_PASSES.items():
        assert name in registered, name
        info = registered[name]
        assert info.origin in ("hlo_passes", "mlir"), (name, info.origin)
        importlib.import_module(module)
    ours = {n for n, i in registered.items() if i.origin in ("hlo_passes", "mlir")}
    assert ours == set(BUILTIN_PASSES), "a built-in registers a pass the table does not list, or vice versa"
    for name, (text, _) in BUILTIN_PIPELINES.items():
        assert hp.registered_pipelines()[name].text == text
        hp.parse_pipeline(text)  # every pass of every built-in pipeline exists


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_pipeline_imports_only_its_passes():
    out = _fresh("import sys, hlo_passes as hp\n"
                 "hp.parse_pipeline('cse,inline-calls')\n"
                 "print(sorted(m for m in sys.modules if m.startswith('hlo_passes.passes.')))")
    assert "hlo_passes.passes.inline_calls" in out and "hlo_passes.passes.mlir_builtin" in out
    assert "fuse_sdpa" not in out and "fold_constants" not in out


def test_a_deliberate_replacement_survives_the_lazy_import():
    """A plugin replaces `simplify` before its module was imported; importing it later keeps the plugin's."""
    out = _fresh("""
from dataclasses import dataclass
import hlo_passes as hp

@hp.register_pass(replace=True)
@dataclass(frozen=True)
class Mine(hp.Pass):
    name = "simplify"
    summary = "mine"
    def run(self, module, ctx):
        pass

import hlo_passes.passes.simplify  # the built-in module, imported after the replacement
print(hp.registered_passes()["simplify"].summary)
""")
    assert out.strip() == "mine"


def test_taken_names_are_refused_before_their_module_is_imported():
    out = _fresh("""
from dataclasses import dataclass
import hlo_passes as hp
try:
    @hp.register_pass
    @dataclass(frozen=True)
    class Mine(hp.Pass):
        name = "fuse-sdpa"
        def run(self, module, ctx):
            pass
except hp.HloError as e:
    print(e)
""")
    assert "'fuse-sdpa' is already registered as a pass (hlo_passes)" in out
