"""hlo-opt: run hlo_passes pipelines on StableHLO modules from the command line.

    hlo-opt model.mlir --pass-pipeline='canonicalize,cse' -o out.mlir
    hlo-opt model.mlir --pass=cse --timing --statistics --check-numerics

Every error a user can cause ends in one `file:line:col: error: ...` message and exit status 1, never a
traceback (`--traceback` shows one for bugs in a pass). Output files are written atomically and never
over the input.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import traceback
from pathlib import Path

from hlo_passes import ir
from hlo_passes.diagnostics import HloError
from hlo_passes.instrumentation import (
    DumpDir, NumericsCheck, OpHistogram, PrintIR, Reproducer, Statistics, Timing, read_reproducer,
)
from hlo_passes.pass_manager import (
    PassManager, load_plugin, loaded_plugin_files, parse_pipeline, pipeline_text, registered_passes,
    registered_pipelines,
)

_SPLIT = re.compile(rb"^// -----[^\n]*$\n?", re.M)


class _AppendPipeline(argparse.Action):
    """--pass and --pass-pipeline share one list so that their order on the command line is kept."""

    def __call__(self, parser, namespace, values, option_string=None):
        parts = list(getattr(namespace, "pipeline_parts", None) or [])
        parts.append(values)
        namespace.pipeline_parts = parts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hlo-opt", allow_abbrev=False,
        description="Run hlo_passes pipelines on StableHLO modules (MLIR text, bytecode or VHLO portable artifacts).")
    p.add_argument("input", nargs="?", default="-", help="input module; '-' (the default) reads stdin")
    g = p.add_argument_group("pipeline")
    g.add_argument("--pass", "-p", dest="pipeline_parts", action=_AppendPipeline, metavar="NAME[{opts}]",
                   help="append one pass (repeatable), e.g. --pass='fuse-sdpa{min-seq-len=2}'")
    g.add_argument("--pass-pipeline", dest="pipeline_parts", action=_AppendPipeline, metavar="TEXT",
                   help="append a comma-separated pipeline, e.g. 'canonicalize,cse'")
    g.add_argument("--load-pass-plugin", action="append", default=[], metavar="FILE",
                   help="a Python file that registers passes (repeatable)")
    g.add_argument("--list-passes", action="store_true", help="list every pass and named pipeline, then exit")
    g.add_argument("--no-verify", action="store_true", help="do not run the verifier after each pass")
    g.add_argument("--debug-patterns", default="", metavar="NAMES",
                   help="comma-separated pass/pattern names that explain their matches and near-misses")
    g.add_argument("--split-input-file", action="store_true",
                   help="treat each '// -----'-separated chunk of the input as its own module")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout")
    o.add_argument("--emit", choices=ir.FORMATS, default="text", help="output format (default text)")
    o.add_argument("--target-version", default="current",
                   help="StableHLO version of a portable artifact: X.Y.Z, 'current' or 'minimum'")
    o.add_argument("--generic", action="store_true", help="print ops in MLIR's generic form")
    d = p.add_argument_group("debugging")
    d.add_argument("--print-ir-before", action="append", default=[], metavar="PASS",
                   help="print the IR before each run of PASS (repeatable, or comma-separated)")
    d.add_argument("--print-ir-after", action="append", default=[], metavar="PASS",
                   help="print the IR after each run of PASS (repeatable, or comma-separated)")
    d.add_argument("--print-ir-before-all", action="store_true", help="print the IR before every pass")
    d.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass")
    d.add_argument("--print-ir-after-change", action="store_true",
                   help="print the IR after every pass that changed it")
    d.add_argument("--print-ir-after-failure", action="store_true", help="print the IR after a pass that failed")
    d.add_argument("--print-debuginfo", action="store_true", help="print locations in IR dumps and output")
    d.add_argument("--dump-dir", metavar="DIR", help="write the IR before the pipeline and after each pass here")
    d.add_argument("--timing", action="store_true", help="print a per-pass wall-time table (stderr)")
    d.add_argument("--statistics", action="store_true", help="print per-pass op deltas and pattern counters")
    d.add_argument("--op-histogram", action="store_true", help="print ops by name before and after the pipeline")
    d.add_argument("--check-numerics", action="store_true",
                   help="run the module on XLA CPU before the pipeline and after each pass; fail naming the"
                        " first pass that changed the results")
    d.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance of --check-numerics")
    d.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance of --check-numerics")
    d.add_argument("--seed", type=int, default=0, help="seed of --check-numerics' random inputs")
    d.add_argument("--reproducer", metavar="FILE",
                   help="where to write the reproducer of a failing pass (default: a temporary file)")
    d.add_argument("--run-reproducer", metavar="FILE", help="replay a reproducer written by a failed run")
    d.add_argument("--traceback", action="store_true", help="show Python tracebacks of passes that raise")
    return p


def list_passes(out) -> None:
    out.write("Passes:\n")
    for name, info in registered_passes().items():
        origin = "" if info.origin == "hlo_passes" else f"  [{info.origin}]"
        out.write(f"  {name:<32} {info.summary}{origin}\n")
        for opt in info.options:
            default = str(opt.default).lower() if isinstance(opt.default, bool) else opt.default
            out.write(f"      {opt.name}=<{opt.type.__name__}>{'':<{max(1, 22 - len(opt.name) - len(opt.type.__name__))}}"
                      f"{opt.help} (default: {default})\n")
    out.write("Pipelines:\n")
    for name, info in registered_pipelines().items():
        out.write(f"  {name:<32} {info.summary}\n      = {info.text}\n")


def _read_input(path: str) -> bytes:
    if path == "-":
        if sys.stdin.isatty():
            raise HloError("no input file given and stdin is a terminal (hlo-opt FILE, or pipe a module in)")
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ir.file_error(path, e) from None


def _chunks(data: bytes, split: bool) -> list[tuple[int, bytes]]:
    """(first line number - 1, text) of each chunk; the offset keeps diagnostics on the file's lines."""
    if not split:
        return [(0, data)]
    result, start, line = [], 0, 0
    for m in _SPLIT.finditer(data):
        result.append((line, data[start:m.start()]))
        line += data[start:m.end()].count(b"\n")
        start = m.end()
    result.append((line, data[start:]))
    return result


class _Run:
    """One invocation: the options, the instruments they ask for, and what came out."""

    def __init__(self, args):
        self.args = args
        self.failed = False
        self.timing = Timing() if args.timing else None
        self.statistics = Statistics() if args.statistics else None
        self.histograms: list[OpHistogram] = []

    def instruments(self, chunk_index: int, n_chunks: int):
        a = self.args
        names = lambda items: {n.strip() for item in items for n in item.split(",") if n.strip()}  # noqa: E731
        result = [Reproducer(a.reproducer, loaded_plugin_files),
                  PrintIR(names(a.print_ir_before), names(a.print_ir_after), a.print_ir_before_all,
                          a.print_ir_after_all, a.print_ir_after_change, a.print_ir_after_failure,
                          a.print_debuginfo)]
        if a.dump_dir:
            folder = Path(a.dump_dir) / f"chunk{chunk_index}" if n_chunks > 1 else Path(a.dump_dir)
            result.append(DumpDir(folder, a.print_debuginfo))
        if a.op_histogram:
            self.histograms.append(OpHistogram())
            result.append(self.histograms[-1])
        if a.check_numerics:
            result.append(NumericsCheck(a.rtol, a.atol, a.seed))
        if self.statistics:
            result.append(self.statistics)
        if self.timing:
            result.append(self.timing)  # last: its span is the pass alone
        return result

    def process(self, display: str, offset: int, text: bytes, pipeline, chunk_index: int, n_chunks: int,
                path: str | None) -> bytes | None:
        a = self.args
        t0 = time.perf_counter()
        if path is not None and n_chunks == 1:
            module = ir.load(path)
        else:
            padded = text if ir.is_binary(text) else b"\n" * offset + text
            module = ir.parse(padded, filename=display)
        if self.timing and chunk_index == 0:
            self.timing.extra.append(("parse", time.perf_counter() - t0))
        instruments = self.instruments(chunk_index, n_chunks)
        pm = PassManager(pipeline, verify=not a.no_verify, instruments=instruments,
                         debug=frozenset(x.strip() for x in a.debug_patterns.split(",") if x.strip()))
        try:
            result = pm.run(module, inplace=True)
        except HloError as err:
            if a.traceback and err.__cause__ is not None:
                traceback.print_exception(err.__cause__, file=sys.stderr)
            rep = instruments[0]
            if rep.written:
                raise HloError(err.message, err.loc, (*err.notes, f"reproducer written to {rep.written}"
                                                      f" (replay: hlo-opt --run-reproducer {rep.written})")) from None
            raise
        t1 = time.perf_counter()
        data = ir.serialize(result, a.emit, target_version=a.target_version, debuginfo=a.print_debuginfo,
                            generic=a.generic, verified=not a.no_verify)
        if self.timing and chunk_index == n_chunks - 1:
            self.timing.extra.append(("output", time.perf_counter() - t1))
        return data


def _pipeline_from_args(args) -> tuple[str, list]:
    parts = list(getattr(args, "pipeline_parts", None) or [])
    text = ",".join(p.strip() for p in parts if p.strip())
    return text, parse_pipeline(text)


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    for plugin in args.load_pass_plugin:
        load_plugin(plugin)
    if args.list_passes:
        list_passes(sys.stdout)
        return 0
    if args.run_reproducer:
        if getattr(args, "pipeline_parts", None):
            raise HloError("--run-reproducer takes its pipeline from the reproducer; drop --pass/--pass-pipeline")
        head = _read_input(args.run_reproducer).decode(errors="replace")
        text, plugins = read_reproducer(head)
        for plugin in plugins:
            if plugin not in loaded_plugin_files:
                load_plugin(plugin)
        args.input, pipeline = args.run_reproducer, parse_pipeline(text)
    else:
        text, pipeline = _pipeline_from_args(args)
    if args.split_input_file and args.emit != "text":
        raise HloError("--split-input-file writes text only (drop --emit)")
    if args.output and args.input != "-" and os.path.exists(args.output) and os.path.exists(args.input) \
            and os.path.samefile(args.output, args.input):
        raise HloError(f"refusing to write the output over the input file {args.input}")
    if not args.output and args.emit != "text" and sys.stdout.isatty():
        raise HloError(f"refusing to write {args.emit} to a terminal (use -o FILE)")

    display = "<stdin>" if args.input == "-" else args.input
    from_file = args.input != "-" and not args.split_input_file
    if from_file and not os.path.isfile(args.input):
        _read_input(args.input)  # raises the right error for a missing file or a directory
    data = b"" if from_file else _read_input(args.input)
    run = _Run(args)
    chunks = _chunks(data, args.split_input_file)
    outputs = []
    for i, (offset, chunk) in enumerate(chunks):
        try:
            out = run.process(display, offset, chunk, pipeline, i, len(chunks),
                              args.input if from_file else None)
            outputs.append(out)
        except HloError as err:
            if len(chunks) == 1:
                raise
            print(err.with_filename(display), file=sys.stderr)
            run.failed = True
    result = b"\n// -----\n".join(o.rstrip(b"\n") + b"\n" for o in outputs) if args.split_input_file \
        else (outputs[0] if outputs else b"")
    if args.output:
        if not run.failed:
            ir.write_atomic(args.output, result)
    else:
        sys.stdout.buffer.write(result)
        sys.stdout.flush()
    for hist in run.histograms:
        sys.stderr.write(hist.report())
    if run.timing:
        sys.stderr.write(run.timing.report())
    if run.statistics:
        sys.stderr.write(run.statistics.report())
    return 1 if run.failed else 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _main(argv)
    except HloError as err:
        sys.stdout.flush()
        print(err if err.loc else f"hlo-opt: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `hlo-opt ... | head`: the reader has what it wanted
        return 0
    except KeyboardInterrupt:
        print("hlo-opt: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 -- a bug of ours: say so in one line, trace on request
        if "--traceback" in argv:
            traceback.print_exc()
        site = traceback.extract_tb(e.__traceback__)[-1]
        print(f"hlo-opt: internal error: {type(e).__name__}: {e} (at {site.filename}:{site.lineno};"
              " --traceback shows more)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
