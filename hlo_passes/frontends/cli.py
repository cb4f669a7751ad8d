"""`hlo-export`: a model defined in Python -> one StableHLO module (or `.tflite`) with all its signatures.

    hlo-export examples/llm_torch.py:export --set config=tiny -o llm.mlirbc
    hlo-export examples.llm_jax:export -p optimize,quantize-int8-dynamic -o llm.tflite
    python -m hlo_passes.frontends.cli ...          (the same, without the console script)

TARGET is `package.module:factory` (imported) or `path/to/file.py:factory` (loaded from the file, with its
folder on sys.path as when running it as a script). The factory is called with the `--set key=value` pairs
as keyword arguments (strings; the factory converts) and returns either a module (`from_torch` /
`from_jax` already called: the factory says how its model is exported) or a pair `(torch.nn.Module,
{signature: example_args})`, which is handed to `from_torch`.

Why a factory rather than flags describing the model: example inputs of an LLM are pytrees (a dict KV cache)
with shapes tied to its config; the script that defines the model knows them, the command line does not.
The output follows `-o`'s suffix: `.tflite` (the pipeline, inline-calls and legalize-tflite, the writer), `.mlirbc`
(bytecode), else MLIR text; no `-o` prints text. Writes are atomic; the factory's own file is never
overwritten. Errors are one line and exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
import time
from pathlib import Path

from ..diagnostics import HloError

PROG = "hlo-export"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage dump is not one clear line
        raise HloError(f"{message} (see {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Export a PyTorch or JAX model with several signatures as one module.")
    p.add_argument("target", help="package.module:factory or path/to/file.py:factory")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument for the factory (repeatable)")
    p.add_argument("-p", "--passes", default="", metavar="PIPELINE",
                   help="run this pipeline on the module before writing it (e.g. optimize)")
    p.add_argument("-o", "--output", help="output: .tflite, .mlirbc (bytecode) or MLIR text (default: stdout)")
    p.add_argument("--kv-cache", choices=("io", "variables"), default="io",
                   help="a .tflite's KV caches: signature inputs and outputs (io, the default: the Generative"
                        " API's external cache) or LiteRT resource variables kept across calls (variables: the"
                        " signatures take tokens and input_pos only; see hlo_passes/tflite/variables.py)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="per-stage time and memory on stderr, then a summary (default: on when stderr is a"
                        " terminal and not -q; a bar there, plain lines in logs)")
    return p


def _factory(target: str):
    """The callable TARGET names."""
    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr:
        raise HloError(f"target '{target}' must be module:factory or file.py:factory")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise HloError(f"no such file: {where}")
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules.setdefault(path.stem, module)
        loader = lambda: spec.loader.exec_module(module)  # noqa: E731
    else:
        if "" not in sys.path and "." not in sys.path:
            sys.path.insert(0, "")  # `pkg.module` relative to the working directory, as `python -m` does
        module = None

        def loader():
            nonlocal module
            module = importlib.import_module(where)
    try:
        loader()
    except HloError:
        raise
    except SyntaxError as e:
        raise HloError(f"cannot import {where}: {e.msg}", _loc(e.filename, e.lineno, e.offset)) from None
    except Exception as e:  # noqa: BLE001 -- whatever the user's module raises while importing
        raise HloError(f"cannot import {where}: {type(e).__name__}: {_first_line(e)}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise HloError(f"{where} has no callable '{attr}'")
    return fn


def _loc(filename, line, col):
    from ..diagnostics import SourceLoc

    return SourceLoc(filename, line, col or 1) if filename and line else None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0]


def _kwargs(sets: list[str]) -> dict[str, str]:
    result = {}
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq or not key.isidentifier():
            raise HloError(f"--set {item!r}: expected KEY=VALUE with KEY a Python identifier")
        result[key] = value
    return result


def build_module(target: str, kwargs: dict[str, str]):
    """Call the factory and turn what it returns into one merged module."""
    from .. import ir

    fn = _factory(target)
    try:
        made = fn(**kwargs)
    except HloError:
        raise
    except Exception as e:  # noqa: BLE001 -- the factory is user code
        raise HloError(f"{target} raised {type(e).__name__}: {_first_line(e)}") from None
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[1], dict):
        from .signatures import from_torch

        return from_torch(made[0], signatures=made[1])
    if isinstance(made, ir.mlir.Module) or getattr(made, "name", None) == "builtin.module":
        return made
    raise HloError(f"{target} returned {type(made).__name__}: expected a module (from from_torch / from_jax)"
                   " or (torch.nn.Module, {signature: example_args})")


def _public_names(module) -> list[str]:
    from .. import ir

    names = []
    for f in ir.module_ops(module):
        if f.operation.name == "func.func" and ("sym_visibility" not in f.attributes or
                                                 ir.mlir.StringAttr(f.attributes["sym_visibility"]).value == "public"):
            names.append(ir.mlir.StringAttr(f.attributes["sym_name"]).value)
    return names


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from .. import files, ir
    from ..pass_manager import parse_pipeline, run

    out = args.output
    where = args.target.rpartition(":")[0]
    if where.endswith(".py"):
        files.protect(where)
    kind = "tflite" if out and out.endswith(".tflite") else "bytecode" if out and out.endswith(".mlirbc") else "text"
    if args.kv_cache != "io" and kind != "tflite":
        raise HloError("--kv-cache=variables is a .tflite's choice: give -o NAME.tflite")
    pipeline = parse_pipeline(args.passes) if args.passes.strip() else []
    if kind == "tflite" and not any(p.pass_name == "legalize-tflite" for p in pipeline):
        # (JAX exports call private helpers: inlined first, a no-op after `optimize`)
        pipeline = [*pipeline, *parse_pipeline("inline-calls,legalize-tflite")]
    from ..progress import Progress

    show = args.progress if args.progress is not None else (not args.quiet and sys.stderr.isatty())
    progress = Progress(PROG, expect=("export", "write")) if show else None  # (a failing stage clears its bar)
    stage = progress.stage if progress else (lambda name: contextlib.nullcontext())
    t0 = time.perf_counter()
    with stage("export"):
        module = build_module(args.target, _kwargs(args.sets))
    from .. import numerics

    numerics._stop_worker()  # (from_torch stops the worker that checked it; a factory may have run others)
    t1 = time.perf_counter()
    from .signatures import weight_stats

    stats = weight_stats(module)
    if pipeline:
        module = run(module, pipeline, inplace=True, instruments=[progress] if progress else [])
    t2 = time.perf_counter()
    with stage("write"):
        if kind == "tflite":
            from ..tflite.export import export

            writer = export(module)
            if args.kv_cache == "variables":
                from ..tflite.variables import caches_as_variables

                caches_as_variables(writer)
            writer.write(out)
            size = Path(out).stat().st_size
        else:
            data = ir.serialize(module, kind)
            if out:
                files.write_atomic(out, data)
            else:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            size = len(data)
    if progress:
        progress.close()
    if not args.quiet:
        sigs = ", ".join(_public_names(module))
        print(f"{PROG}: signatures {sigs}; {stats['distinct']} weights, {stats['bytes']} bytes (held once, used"
              f" {stats['constants']} times); export {t1 - t0:.1f} s, passes {t2 - t1:.1f} s; wrote"
              f" {size} bytes{' to ' + out if out else ''}", file=sys.stderr)
    if progress:
        progress.finish(module, path=out if kind == "tflite" else None, size=size)
    return 0


def main(argv=None) -> int:
    from .. import files

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with files.cleanup_on_signals():
            return _main(argv)
    except HloError as err:
        print(err if err.loc else f"{PROG}: {err}", file=sys.stderr)
        return 1
    except files.Terminated as t:
        files.remove_temporaries()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return t.exit_status
    except KeyboardInterrupt:
        files.remove_temporaries()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        files.unprotect_all()


if __name__ == "__main__":
    sys.exit(main())
