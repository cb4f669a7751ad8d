"""lit configuration: every .mlir/.test file here is a test; `hlo-opt` and `FileCheck` are the ones
installed beside the Python that runs lit (the project's .venv), so tests never pick up a stray copy."""

import os
import sys

import lit.formats

config.name = "hlo_passes"
config.test_format = lit.formats.ShTest()  # lit 23: the internal shell (no execute_external)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)

bindir = os.path.dirname(sys.executable)
root = os.path.dirname(config.test_source_root)
config.substitutions += [
    ("%hlo-opt", os.path.join(bindir, "hlo-opt")),
    ("%FileCheck", os.path.join(bindir, "filecheck")),
    ("%python", sys.executable),
    ("%inputs", os.path.join(config.test_source_root, "Inputs")),
    ("%examples", os.path.join(root, "examples")),
]
config.environment["PATH"] = bindir + os.pathsep + config.environment.get("PATH", os.environ.get("PATH", ""))
config.environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
for var in ("HOME", "TMPDIR"):
    if var in os.environ:
        config.environment[var] = os.environ[var]
