"""hlo-opt: run hlo_passes pipelines on StableHLO modules from the command line.

    hlo-opt model.mlir --pass-pipeline='canonicalize,cse' -o out.mlir
    hlo-opt model.mlir --pass=cse --timing --statistics --check-numerics

Every error a user can cause ends in one `file:line:col: error: ...` message and exit status 1, never a
traceback (`--traceback` shows one for bugs in a pass); a bug of ours is one "internal error" line, exit 2.
Nothing is lost: the input is read once (pipes and FIFOs too) and never written over, by `-o`,
`--reproducer` or `--dump-dir`; outputs are written atomically; a signal (SIGINT, SIGTERM, SIGHUP) removes
the temporary file in flight and exits 128 + its number; a closed or broken stderr never stops the work.
"""

from __future__ import annotations

from hlo_passes.tools import startup  # (it imports nothing heavy)

startup.guard()  # a signal during the imports below ends the run with one line
import argparse  # noqa: E402 -- after the handlers above, on purpose
import contextlib  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import re
import sys
import time
import traceback
from pathlib import Path

try:
    from hlo_passes import files, ir
    from hlo_passes.diagnostics import HloError, did_you_mean
    from hlo_passes.instrumentation import (
        DumpDir, NumericsCheck, OpHistogram, PrintIR, Reproducer, Statistics, Timing, read_reproducer,
    )
    from hlo_passes.tools import debug_flags
    from hlo_passes.tools.streams import _Streams, _write_stdout
    from hlo_passes.pass_options import format_value
    from hlo_passes.pass_manager import (
        PassManager, load_plugin, loaded_plugin_files, parse_pipeline, registered_passes, registered_pipelines,
    )
finally:
    startup.release()

_SPLIT = re.compile(rb"^// -----[^\n]*$\n?", re.M)


class _Parser(argparse.ArgumentParser):
    """Usage errors are user errors like any other: one line and exit status 1, not 15 lines of usage."""

    def error(self, message):
        raise HloError(f"{message} (see hlo-opt --help)")

    def print_help(self, file=None):
        """`--help` is output like any other: a full disk or a closed stdout is an error, not a silent 0."""
        if file is not None:
            return super().print_help(file)
        return _write_stdout(self.format_help().encode())


class _AppendPipeline(argparse.Action):
    """--pass and --pass-pipeline share one list so that their order on the command line is kept."""

    def __call__(self, parser, namespace, values, option_string=None):
        parts = list(getattr(namespace, "pipeline_parts", None) or [])
        parts.append(values)
        namespace.pipeline_parts = parts


class _Once(argparse.Action):
    """An option that takes one value: giving it twice (`-o a -o b`) is an error, not "the last one wins"."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given", set())
        if self.dest in seen:
            parser.error(f"{'/'.join(self.option_strings)} given more than once")
        seen.add(self.dest)
        setattr(namespace, self.dest, values)


def _file_name(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("empty file name")
    return text


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got '{text}'")
    return value


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got '{text}'")
    return value


def _size(text: str) -> int:
    try:
        return files.parse_size(text)
    except HloError as e:
        raise argparse.ArgumentTypeError(e.message) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="hlo-opt", allow_abbrev=False,
        description="Run hlo_passes pipelines on StableHLO modules (MLIR text, bytecode or VHLO portable artifacts).")
    p.add_argument("input", nargs="?", default="-", type=_file_name,
                   help="input module; '-' (the default) reads stdin")
    g = p.add_argument_group("pipeline")
    g.add_argument("--pass", "-p", dest="pipeline_parts", action=_AppendPipeline, metavar="NAME[{opts}]",
                   help="append one pass (repeatable), e.g. --pass='fuse-sdpa{min-seq-len=2}'")
    g.add_argument("--pass-pipeline", dest="pipeline_parts", action=_AppendPipeline, metavar="TEXT",
                   help="append a comma-separated pipeline, e.g. 'canonicalize,cse'")
    g.add_argument("--load-pass-plugin", action="append", default=[], metavar="FILE", type=_file_name,
                   help="a Python file that registers passes (repeatable)")
    g.add_argument("--list-passes", action="store_true", help="list every pass and named pipeline, then exit")
    g.add_argument("--no-verify", action="store_true", help="do not run the verifier after each pass")
    g.add_argument("--debug-patterns", default="", metavar="NAMES", action=_Once, help=debug_flags.DEBUG_PATTERNS_HELP)
    g.add_argument("--split-input-file", action="store_true",
                   help="treat each '// -----'-separated chunk of the input as its own module")
    g.add_argument("--max-input-size", type=_size, default=4 << 30, action=_Once, metavar="SIZE",
                   help="refuse inputs larger than this (default 4G; suffixes K, M, G)")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", metavar="FILE", type=_file_name, action=_Once,
                   help="write here (atomically) instead of stdout ('-': stdout)")
    o.add_argument("--emit", choices=(*ir.FORMATS, "tflite"), default=None, action=_Once,
                   help="output format (default text; tflite when -o ends in .tflite: legalize-tflite is added to"
                        " the pipeline unless it has it)")
    o.add_argument("--target-version", default="current", action=_Once,
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
    d.add_argument("--dump-dir", metavar="DIR", type=_file_name, action=_Once,
                   help="write the IR before the pipeline and after each pass here")
    d.add_argument("--timing", action="store_true", help="print a per-pass wall-time table (stderr)")
    d.add_argument("--progress", action="store_true",
                   help="each stage (parse, every pass, write) with time and memory as it ends, then a summary"
                        " (stderr; a bar on a terminal)")
    d.add_argument("--statistics", action="store_true", help="print per-pass op deltas and pattern counters")
    d.add_argument("--op-histogram", action="store_true", help="print ops by name before and after the pipeline")
    d.add_argument("--check-numerics", action="store_true",
                   help="run the module on XLA CPU before the pipeline and after each pass; fail naming the"
                        " first pass that changed the results")
    d.add_argument("--check-composites", action="store_true",
                   help="after the pipeline, judge every composite against its written definition on XLA CPU"
                        " (hlo_passes/composites.py); fail naming the first that does not mean what it says")
    d.add_argument("--rtol", type=_tolerance, default=1e-5, action=_Once,
                   help="relative tolerance of --check-numerics")
    d.add_argument("--atol", type=_tolerance, default=1e-6, action=_Once,
                   help="absolute tolerance of --check-numerics")
    d.add_argument("--seed", type=_count, default=0, action=_Once, help="seed of --check-numerics' random inputs")
    d.add_argument("--numerics-timeout", type=_tolerance, default=None, action=_Once, metavar="SECONDS",
                   help="give up a --check-numerics run after this long (default $HLO_OPT_NUMERICS_TIMEOUT or 300)")
    d.add_argument("--numerics-inputs", choices=("typical", "edges", "float-edges"), default="edges", action=_Once,
                   help="--check-numerics' input sets: typical values, plus integer edges (default), plus float edges")
    t = p.add_argument_group("tflite")
    t.add_argument("--run-tflite", metavar="MODEL", type=_file_name, action=_Once,
                   help="run a .tflite in LiteRT: print its outputs and median latency, then exit")
    t.add_argument("--inspect", metavar="MODEL", type=_file_name, action=_Once,
                   help="print what a .tflite holds: signatures, ops, composites, quantization, buffers")
    t.add_argument("--signature", action=_Once, help="the signature --run-tflite calls (needed when there are several)")
    t.add_argument("--inputs", metavar="NPZ", type=_file_name, action=_Once,
                   help="inputs for --run-tflite, by name (default: seeded random ones)")
    t.add_argument("--save-outputs", metavar="NPZ", type=_file_name, action=_Once,
                   help="--run-tflite's outputs, as .npz")
    t.add_argument("--runs", type=_count, default=100, action=_Once, help="timed runs of --run-tflite (default 100)")
    t.add_argument("--threads", type=_count, default=1, action=_Once, help="LiteRT threads (default 1)")
    t.add_argument("--no-xnnpack", action="store_true", help="run LiteRT's builtin kernels, not XNNPACK")
    d.add_argument("--reproducer", metavar="FILE", type=_file_name, action=_Once,
                   help="where to write the reproducer of a failing pass (default: a temporary file)")
    d.add_argument("--run-reproducer", metavar="FILE", type=_file_name, action=_Once,
                   help="replay a reproducer written by a failed run")
    d.add_argument("--traceback", action="store_true", help="show Python tracebacks of passes that raise")
    debug_flags.add_flags(d)
    return p


def list_passes(out) -> None:
    out.write("Passes:\n")
    for name, info in registered_passes().items():
        origin = "" if info.origin == "hlo_passes" else f"  [{info.origin}]"
        out.write(f"  {name:<32} {info.summary}{origin}\n")
        for opt in info.options:
            default = "unset" if opt.default is None else format_value(opt.default)
            out.write(f"      {opt.name}=<{opt.type_name}>{'':<{max(1, 22 - len(opt.name) - len(opt.type_name))}}"
                      f"{opt.help} (default: {default})\n")
    out.write("Pipelines:\n")
    for name, info in registered_pipelines().items():
        out.write(f"  {name:<32} {info.summary}\n      = {info.text}\n")


# ------------------------------------------------------------------------------------------------ input

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


def _cpp_lines(text: str) -> list[str]:
    """What C++ printed while reading (`loc("-":0:0): error: invalid section ID`), as bare reasons."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^(loc\(.*?\):\s*)?(error|warning|note):\s*", "", line.strip())
        if line and line not in lines:
            lines.append(line)
    return lines


def _load(path: str | None, text: bytes, display: str):
    """Parse, with whatever C++ prints meanwhile (the VHLO reader reports only there) folded into the one
    error message rather than left as stray lines before it."""
    failure = None
    with ir.captured_stderr() as cpp:
        try:
            module = ir.load(path) if path is not None else ir.parse(text, filename=display)
        except HloError as err:
            failure = err
    if failure is not None:
        why = [line for line in _cpp_lines(cpp.text) if line not in failure.message]
        message = f"{failure.message} ({'; '.join(why)})" if why else failure.message
        raise HloError(message, failure.loc, failure.notes).with_filename(display)
    if cpp.text:
        sys.stderr.write(cpp.text + "\n")
    return module


def _load_plugin(path: str) -> None:
    """`load_plugin`, with anything it lets through (a file that is not Python, ...) as one error."""
    if Path(path).is_file() and Path(path).suffix != ".py":
        raise HloError(f"pass plugin {path} is not a Python file (expected FILE.py)")
    try:
        load_plugin(path)
    except HloError:
        raise
    except Exception as e:  # noqa: BLE001 -- reported as the user's plugin problem it is
        raise HloError(f"cannot load pass plugin {path}: {type(e).__name__}: {e}") from None


def _names(items) -> set[str]:
    return {n.strip() for item in items for n in item.split(",") if n.strip()}


class _Run:
    """One invocation: the options, the instruments they ask for, and what came out."""

    def __init__(self, args):
        self.args = args
        self.failed = False
        self.timing = Timing() if args.timing else None
        self.statistics = Statistics() if args.statistics else None
        self.histograms: list[OpHistogram] = []
        self.consulted: set = set()  # names the passes asked --debug-patterns about
        self.progress = None
        if args.progress:  # (hlo_passes/progress.py)
            from hlo_passes.progress import Progress

            self.progress = Progress("hlo-opt", expect=("parse", "write"))
        self.result = None  # the last module out of the pipeline, for --progress's summary

    def stage(self, name: str):
        return self.progress.stage(name) if self.progress else contextlib.nullcontext()

    def dump_folder(self, chunk_index: int, n_chunks: int) -> Path:
        folder = Path(self.args.dump_dir)
        return folder / f"chunk{chunk_index}" if n_chunks > 1 else folder

    def instruments(self, chunk_index: int, n_chunks: int):
        a = self.args
        numerics = NumericsCheck(a.rtol, a.atol, a.seed, timeout=a.numerics_timeout,
                                 input_mode=a.numerics_inputs) if a.check_numerics else None
        result = [] if a.run_reproducer else [Reproducer(a.reproducer, loaded_plugin_files, numerics)]
        result += [self.progress] if self.progress else []
        result += debug_flags.instruments(a, numerics)  # (a replay writes no second reproducer)
        result += [PrintIR(_names(a.print_ir_before), _names(a.print_ir_after), a.print_ir_before_all,
                          a.print_ir_after_all, a.print_ir_after_change, a.print_ir_after_failure,
                          a.print_debuginfo)]
        if a.dump_dir:
            result.append(DumpDir(self.dump_folder(chunk_index, n_chunks), a.print_debuginfo))
        if a.op_histogram:
            self.histograms.append(OpHistogram())
            result.append(self.histograms[-1])
        if numerics:
            result.append(numerics)
        if self.statistics:
            result.append(self.statistics)
        if self.timing:
            result.append(self.timing)  # last: its span is the pass alone
        return result

    def process(self, display: str, offset: int, text: bytes, pipeline, chunk_index: int, n_chunks: int,
                path: str | None) -> bytes | None:
        a = self.args
        t0 = time.perf_counter()
        with self.stage("parse"):
            if path is not None:
                module = _load(path, b"", display)
            else:
                padded = text if ir.is_binary(text) else b"\n" * offset + text
                module = _load(None, padded, display)
        if self.timing and chunk_index == 0:
            self.timing.extra.append(("parse", time.perf_counter() - t0))
        instruments = self.instruments(chunk_index, n_chunks)
        pm = PassManager(pipeline, verify=not a.no_verify, instruments=instruments,
                         debug=frozenset(x.strip() for x in a.debug_patterns.split(",") if x.strip()))
        try:
            result = pm.run(module, inplace=True)
        except HloError as err:
            self.consulted |= pm.consulted
            files.check_signals()  # a signal that C++ turned into a pass's RuntimeError: still a signal
            if a.traceback and err.__cause__ is not None:
                traceback.print_exception(err.__cause__, file=sys.stderr)
            raise self._with_notes(err, instruments).with_filename(display) from None
        self.consulted |= pm.consulted
        if a.check_composites:  # (the logic lives in hlo_passes/composite_check.py)
            from hlo_passes.composite_check import require_composites_ok

            sys.stderr.write(require_composites_ok(result, seed=a.seed, input_mode=a.numerics_inputs,
                                                   timeout=a.numerics_timeout, display=display))
        t1 = time.perf_counter()
        self.result = result if self.progress else None
        with self.stage("write"):
            if a.emit == "tflite":
                from hlo_passes.tflite.export import export

                data = export(result).to_bytes()
            else:
                data = ir.serialize(result, a.emit, target_version=a.target_version, debuginfo=a.print_debuginfo,
                                    generic=a.generic, verified=not a.no_verify)
        if self.timing and chunk_index == n_chunks - 1:
            self.timing.extra.append(("output", time.perf_counter() - t1))
        return data

    @staticmethod
    def _with_notes(err: HloError, instruments) -> HloError:
        """The pass's error, plus what was (or could not be) written about it: the reproducer note last."""
        notes = list(err.notes) + debug_flags.notes(instruments)
        for ins in instruments:
            if isinstance(ins, DumpDir) and ins.error:
                notes.append(f"the dump of the failing pass is missing: {ins.error}")
        rep = next((ins for ins in instruments if isinstance(ins, Reproducer)), Reproducer())  # (none: replaying)
        if rep.written:
            notes.append(f"reproducer written to {rep.written} (replay: hlo-opt --run-reproducer {rep.written})")
        elif rep.error:
            notes.append(f"no reproducer: {rep.error}")
        return HloError(err.message, err.loc, tuple(notes))


def _pipeline_from_args(args) -> tuple[str, list]:
    parts = list(getattr(args, "pipeline_parts", None) or [])
    text = ",".join(p.strip() for p in parts if p.strip())
    return text, parse_pipeline(text)


def _check_print_ir_names(args, pipeline) -> None:
    if not (args.print_ir_before or args.print_ir_after):
        return
    known = set(registered_passes()) | {p.pass_name for p in pipeline}
    for flag, items in (("--print-ir-before", args.print_ir_before), ("--print-ir-after", args.print_ir_after)):
        for name in sorted(_names(items)):
            if name not in known:
                raise HloError(f"{flag}: unknown pass '{name}'{did_you_mean(name, known)}"
                               " (hlo-opt --list-passes lists them)")


def _refuse_writes_over_input(args, pipeline, n_chunks: int, run: _Run) -> None:
    """Up front, before any work: no output of this run may be the input (symlinks and hard links too)."""
    if args.output and files.protected_by(args.output):
        raise HloError(f"refusing to write the output over the input file {files.protected_by(args.output)}")
    if not args.output and files.protected_by(1):  # `hlo-opt in.mlir >> in.mlir` (`>` has emptied it already)
        raise HloError(f"refusing to write the output over the input file {files.protected_by(1)}"
                       " (stdout is that file; use -o)")
    if args.reproducer and files.protected_by(args.reproducer):
        raise HloError(f"refusing to write the reproducer over the input file {files.protected_by(args.reproducer)}")
    if args.dump_dir:
        for i in range(n_chunks):
            for name in DumpDir.file_names(pipeline):
                owner = files.protected_by(run.dump_folder(i, n_chunks) / name)
                if owner:
                    raise HloError(f"refusing to dump into {args.dump_dir}: {name} there is the input file {owner}")


def _read_reproducer_head(path: str, limit: int, streams: _Streams) -> tuple[str | None, bytes | None, str]:
    """(path to reopen, or the bytes read once) of a reproducer, and its header text."""
    if path != "-" and files.regular_input(path, limit):
        try:
            with open(path, "rb") as f:
                return path, None, f.read(1 << 20).decode(errors="replace")
        except OSError as e:
            raise files.file_error(path, e) from None
    data = files.read_input(path, limit, stdin=streams.stdin() if path == "-" else None)
    return None, data, data[:1 << 20].decode(errors="replace")


def _main(argv, streams: _Streams) -> int:
    args = build_parser().parse_args(argv)
    if args.output == "-":  # as for the input, '-' is the standard stream
        args.output = None
    limit = files.MAX_INPUT_BYTES = args.max_input_size  # (main() puts the default back)
    for plugin in args.load_pass_plugin:
        _load_plugin(plugin)
    if args.list_passes:
        listing = io.StringIO()
        list_passes(listing)
        streams.write_stdout(listing.getvalue().encode())
        return 0
    if args.run_tflite or args.inspect:
        from hlo_passes.tools import tflite_cli

        if args.run_tflite and args.inspect:
            raise HloError("--run-tflite and --inspect: one at a time")
        if args.inspect:
            report = tflite_cli.inspect(args.inspect)
        else:
            report = tflite_cli.run_tflite(args.run_tflite, signature=args.signature, inputs=args.inputs,
                                           runs=args.runs, threads=max(args.threads, 1), xnnpack=not args.no_xnnpack,
                                           seed=args.seed, save=args.save_outputs)
        streams.write_stdout(report.encode())
        return 0
    if args.emit is None:
        args.emit = "tflite" if (args.output or "").endswith(".tflite") else "text"
    path = data = None
    if args.run_reproducer:
        if getattr(args, "pipeline_parts", None):
            raise HloError("--run-reproducer takes its pipeline from the reproducer; drop --pass/--pass-pipeline")
        if args.input != "-":
            raise HloError("--run-reproducer takes its module from the reproducer; drop the input file")
        path, data, head = _read_reproducer_head(args.run_reproducer, limit, streams)
        text, plugins = read_reproducer(head)
        debug_flags.replay_numerics(args, head)
        for plugin in plugins:
            if plugin not in loaded_plugin_files:
                _load_plugin(plugin)
        args.input, pipeline = args.run_reproducer, parse_pipeline(text)
    else:
        text, pipeline = _pipeline_from_args(args)
    if args.emit == "tflite" and not any(p.pass_name == "legalize-tflite" for p in pipeline):
        pipeline = [*pipeline, *parse_pipeline("legalize-tflite")]
    _check_print_ir_names(args, pipeline)
    debug_flags.check_flags(args)
    if args.split_input_file and args.emit != "text":
        raise HloError("--split-input-file writes text only (drop --emit)")
    if not args.output:
        streams.check_stdout()
        if args.emit != "text" and sys.stdout.isatty():
            raise HloError(f"refusing to write {args.emit} to a terminal (use -o FILE)")

    display = "<stdin>" if args.input == "-" else args.input
    if args.input == "-":
        files.protect(0, "<stdin>")  # `hlo-opt < in.mlir -o in.mlir` is writing over the input too
    else:
        files.protect(args.input)
    if path is None and data is None:  # (a reproducer was read already)
        if args.input != "-" and not args.split_input_file and files.regular_input(args.input, limit):
            path = args.input  # C++ reads a regular file by name: locations carry it
        else:  # a pipe, FIFO or device can be read only once: read it all now
            data = files.read_input(args.input, limit, stdin=streams.stdin() if args.input == "-" else None)
    if path is not None and args.split_input_file:
        data, path = files.read_input(path, limit), None
    run = _Run(args)
    chunks = _chunks(data if data is not None else b"", args.split_input_file)
    _refuse_writes_over_input(args, pipeline, len(chunks), run)
    outputs = []
    try:
        for i, (offset, chunk) in enumerate(chunks):
            try:
                outputs.append(run.process(display, offset, chunk, pipeline, i, len(chunks), path))
            except HloError as err:
                if len(chunks) == 1:
                    raise
                print(err.with_filename(display), file=sys.stderr)
                run.failed = True
    except HloError:
        _reports(run, pipeline)  # a failed run keeps its evidence: the reports come before the error
        raise
    result = b"\n// -----\n".join(o.rstrip(b"\n") + b"\n" for o in outputs) if args.split_input_file \
        else (outputs[0] if outputs else b"")
    if args.output:
        if not run.failed:
            files.write_atomic(args.output, result)
    else:
        streams.write_stdout(result)
    if run.progress:
        run.progress.finish(run.result, path=args.output if args.emit == "tflite" and not run.failed else None,
                            size=len(result))
    _reports(run, pipeline)
    return 1 if run.failed else 0


def _reports(run: _Run, pipeline) -> None:
    """What the run measured (stderr), whether or not it failed."""
    if run.progress:
        run.progress.close()  # (its clock thread; idempotent after the summary)
    for hist in run.histograms:
        sys.stderr.write(hist.report())
    if run.timing:
        sys.stderr.write(run.timing.report())
    if run.statistics:
        sys.stderr.write(run.statistics.report())
    if run.args.debug_patterns:
        debug_flags.warn_unknown_debug_names(run.args, run.consulted, pipeline)


def _report(argv, streams: _Streams) -> int:
    """`_main`, with every way it can end turned into one message and an exit status."""
    try:
        return _main(argv, streams)
    except HloError as err:
        files.check_signals()
        with contextlib.suppress(OSError, ValueError, AttributeError):  # (stdout may be closed: None)
            sys.stdout.flush()
        print(err if err.loc else f"hlo-opt: {err}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 -- a bug of ours: say so in one line, trace on request
        files.check_signals()
        if "--traceback" in argv:
            traceback.print_exc()
        site = traceback.extract_tb(e.__traceback__)[-1]
        print(f"hlo-opt: internal error: {type(e).__name__}: {e} (at {site.filename}:{site.lineno};"
              " --traceback shows more)", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    as_program = argv is None  # the console script and `python -m` give no argv
    argv = sys.argv[1:] if argv is None else list(argv)
    streams, default_limit = _Streams(), files.MAX_INPUT_BYTES
    try:
        with files.cleanup_on_signals():
            return _report(argv, streams)
    except files.Terminated as t:
        files.remove_temporaries()
        print("hlo-opt: interrupted" if t.signo == 2 else f"hlo-opt: terminated by {t}", file=sys.stderr)
        return t.exit_status
    except KeyboardInterrupt:  # a Ctrl-C just outside the handlers' reach
        files.remove_temporaries()
        print("hlo-opt: interrupted", file=sys.stderr)
        return 130
    finally:
        files.unprotect_all()
        files.MAX_INPUT_BYTES = default_limit
        streams.restore()
        if as_program:  # (a caller in the same process keeps its own handlers)
            startup.guard_exit()


if __name__ == "__main__":
    sys.exit(main())
