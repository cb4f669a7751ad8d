"""What a compiler engineer watches a pipeline with: IR dumps, timing, statistics, numerics, reproducers.

Each is an `Instrument` (hooks before/after each pass) so the CLI flags and the Python API are the same
objects: `run(module, "cse", instruments=[Timing(), PrintIR(after_all=True)])`.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from . import files, ir, numerics
from .diagnostics import HloError
from .pass_manager import CheckFailed, Instrument, Pass, PassContext, pipeline_text


def _header(when: str, index: int, p: Pass) -> str:
    return f"// -----// IR Dump {when} {p.pass_name} (#{index}) //----- //\n"


class PrintIR(Instrument):
    """`--print-ir-before/after=P`, `--print-ir-before-all/after-all/after-change/after-failure`."""

    def __init__(self, before=(), after=(), before_all=False, after_all=False, after_change=False,
                 after_failure=False, debuginfo=False, out: TextIO | None = None):
        self.before, self.after = set(before), set(after)
        self.before_all, self.after_all = before_all, after_all
        self.after_change, self.after_failure_ = after_change, after_failure
        self.debuginfo = debuginfo
        self.out = out
        self._last = None

    def _text(self, module) -> str:
        return ir.to_text(module, debuginfo=self.debuginfo)

    def _emit(self, text: str) -> None:
        out = self.out or sys.stderr
        out.write(text)
        out.flush()

    def before_pass(self, index, p, module):
        if self.after_change:
            self._last = self._text(module)
        if self.before_all or p.pass_name in self.before:
            self._emit(_header("Before", index, p) + self._text(module) + "\n")

    def after_pass(self, index, p, module, ctx, seconds):
        if self.after_all or p.pass_name in self.after:
            self._emit(_header("After", index, p) + self._text(module) + "\n")
        elif self.after_change:
            text = self._text(module)
            if text != self._last:
                self._emit(_header("After", index, p) + text + "\n")

    def after_failure(self, index, p, module, error):
        """Generic form when the pass raised (the module may be invalid); the usual form when it ran and a
        check (numerics) rejected its output: that module passed the verifier."""
        if self.after_failure_ and not files.signalled():  # (an interruption is not a failure to show)
            self._emit(_header("After Failure", index, p) + ir.to_text(
                module, debuginfo=self.debuginfo, generic=not isinstance(error, CheckFailed)) + "\n")


class PrintIRDiff(Instrument):
    """`--print-ir-diff`: after each pass that changed the module, a unified diff of its text (before ->
    after), so a one-line rewrite in a 20k-op module reads as one hunk, not two dumps to compare by eye."""

    def __init__(self, debuginfo: bool = False, out: TextIO | None = None, context: int = 3):
        self.debuginfo = debuginfo
        self.out = out
        self.context = context
        self._before = ""

    def before_pass(self, index, p, module):
        self._before = ir.to_text(module, debuginfo=self.debuginfo)

    def after_pass(self, index, p, module, ctx, seconds):
        after = ir.to_text(module, debuginfo=self.debuginfo)
        if after == self._before:
            return
        lines = difflib.unified_diff(self._before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"before {p.pass_name} (#{index})", f"after {p.pass_name} (#{index})",
                                     n=self.context)
        out = self.out or sys.stderr
        out.write(_header("Diff After", index, p) + "".join(line if line.endswith("\n") else line + "\n"
                                                            for line in lines))
        out.flush()


def _file_part(name: str) -> str:
    """A pass name as part of a file name (`func.func(cse)` has characters shells and lit dislike)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class DumpDir(Instrument):
    """`--dump-dir DIR`: the input and the module after every pass, one numbered file each.

    A dump that cannot be written fails the run (the user asked for it), except after a failing pass:
    then the pass's error is the one that matters, and `error` says why the dump is missing. A pass whose
    output --check-numerics rejects has that output in its usual `NN-name.mlir`; a pass that raised leaves
    `NN-name.failed.mlir`."""

    def __init__(self, folder: str | Path, debuginfo: bool = False):
        self.folder = Path(folder)
        self.debuginfo = debuginfo
        self.error: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HloError(f"cannot create dump directory {self.folder}: {e.strerror}") from None

    @staticmethod
    def file_names(passes) -> list[str]:
        """Every name a run of `passes` may write, so that the CLI can refuse up front to dump over an input."""
        names = ["00-input.mlir"]
        for index, p in enumerate(passes, 1):
            part = _file_part(p.pass_name)
            names += [f"{index:02d}-{part}.mlir", f"{index:02d}-{part}.failed.mlir"]
        return names

    def _dump(self, name: str, module) -> None:
        ir.write_atomic(self.folder / name, ir.to_text(module, debuginfo=self.debuginfo).encode())

    def before_pipeline(self, module, passes):
        self._dump("00-input.mlir", module)

    def after_pass(self, index, p, module, ctx, seconds):
        self._dump(f"{index:02d}-{_file_part(p.pass_name)}.mlir", module)

    def after_failure(self, index, p, module, error):
        if files.signalled() or isinstance(error, CheckFailed):  # an interruption; or dumped by after_pass
            return
        try:
            self._dump(f"{index:02d}-{_file_part(p.pass_name)}.failed.mlir", module)
        except HloError as e:
            self.error = e.message


class Timing(Instrument):
    """`--timing`: wall time per pass (verifier included), as a table."""

    def __init__(self):
        self.rows: list[tuple[str, float]] = []
        self._start = 0.0
        self.extra: list[tuple[str, float]] = []  # phases outside the pipeline: parse, output

    def before_pass(self, index, p, module):
        self._start = time.perf_counter()

    def after_pass(self, index, p, module, ctx, seconds):
        self.rows.append((f"{p.pass_name} (#{index})", time.perf_counter() - self._start))

    def after_failure(self, index, p, module, error):
        if isinstance(error, CheckFailed) and self.rows and self.rows[-1][0] == f"{p.pass_name} (#{index})":
            self.rows[-1] = (f"{p.pass_name} (#{index}, failed)", self.rows[-1][1])  # (timed by after_pass)
            return
        self.rows.append((f"{p.pass_name} (#{index}, failed)", time.perf_counter() - self._start))

    def report(self) -> str:
        rows = [*self.extra[:1], *self.rows, *self.extra[1:]]
        total = sum(s for _, s in rows) or 1e-12
        lines = ["===" + "-" * 73 + "===", " " * 25 + "... Execution time report ...",
                 "===" + "-" * 73 + "===", f"  Total Execution Time: {total:.4f} seconds", "",
                 "  ----Wall Time----  ----Name----"]
        lines += [f"  {s:8.4f} ({100 * s / total:5.1f}%)  {name}" for name, s in rows]
        lines.append(f"  {total:8.4f} (100.0%)  Total")
        return "\n".join(lines) + "\n"


def op_histogram(module) -> Counter:
    """How many ops of each name the module holds (the module op itself excluded)."""
    program, decompositions = op_histograms(module)
    return program + decompositions


def op_histograms(module) -> tuple[Counter, Counter]:
    """(ops of the program, ops of composite decompositions), by name. Why apart: a fusion moves ops into
    decompositions, and a count that mixes both says the fusion removed nothing."""
    from .patterns.outline import decomposition_names

    decomposed = decomposition_names(module)
    program: Counter = Counter()
    inside: Counter = Counter()
    for top in ir.module_ops(module):
        name = top.attributes["sym_name"] if "sym_name" in top.attributes else None
        counts = inside if name is not None and ir.mlir.StringAttr(name).value in decomposed else program

        def visit(op, counts=counts):
            counts[op.name] += 1
            return ir.mlir.WalkResult.ADVANCE

        top.operation.walk(visit)
    return program, inside


class OpHistogram(Instrument):
    """`--op-histogram`: ops by name in the input and in the result of the whole pipeline."""

    def __init__(self):
        self.before: Counter = Counter()
        self.after: Counter = Counter()

    inside_before = inside_after = 0  # ops in composite decompositions, counted apart

    def before_pipeline(self, module, passes):
        self.before, inside = op_histograms(module)
        self.inside_before = sum(inside.values())

    def after_pipeline(self, module):
        self.after, inside = op_histograms(module)
        self.inside_after = sum(inside.values())

    def after_failure(self, index, p, module, error):
        self.after_pipeline(module)
        self.failed = f"{p.pass_name} (#{index})"

    failed = ""

    def report(self) -> str:
        names = sorted(set(self.before) | set(self.after), key=lambda n: (-self.before[n], n))
        width = max([len(n) for n in names] + [10])
        lines = [f"  {'op':<{width}}  before   after"]
        lines += [f"  {n:<{width}}  {self.before[n]:6d}  {self.after[n]:6d}" for n in names]
        total0, total1 = sum(self.before.values()), sum(self.after.values())
        change = f"{100 * (total1 - total0) / total0:+.1f}%" if total0 else ""
        lines.append(f"  {'total':<{width}}  {total0:6d}  {total1:6d}  {change}")
        if self.inside_before or self.inside_after:
            lines.append(f"  {'(in composite decompositions, not above)':<{width}}  {self.inside_before:6d}"
                         f"  {self.inside_after:6d}")
        head = f"op histogram (after: as failing pass {self.failed} left it)" if self.failed else "op histogram"
        return head + ":\n" + "\n".join(lines) + "\n"


class Statistics(Instrument):
    """`--statistics`: per pass, ops added/removed by name and the pass's own counters (pattern hits)."""

    def __init__(self):
        self.sections: list[str] = []
        self._before: Counter = Counter()

    def before_pass(self, index, p, module):
        self._before, self._inside = op_histograms(module)

    _inside: Counter = Counter()

    def after_pass(self, index, p, module, ctx: PassContext, seconds):
        after, inside = op_histograms(module)
        n0, n1 = sum(self._before.values()), sum(after.values())
        lines = [f"{p.pass_name} (#{index})", f"  ops: {n0} -> {n1} ({n1 - n0:+d})"]
        d0, d1 = sum(self._inside.values()), sum(inside.values())
        if d0 or d1:  # the program's ops above; what went into (or out of) decompositions apart
            lines.append(f"  ops in composite decompositions: {d0} -> {d1} ({d1 - d0:+d})")
        delta = {k: after[k] - self._before[k] for k in set(after) | set(self._before)}
        for name, d in sorted(delta.items(), key=lambda kv: (-abs(kv[1]), kv[0])):
            if d:
                lines.append(f"    {d:+6d}  {name}")
        for key, n in sorted(ctx.statistics.items()):
            lines.append(f"  {key}: {n}")
        self.sections.append("\n".join(lines))

    def report(self) -> str:
        head = ["===" + "-" * 73 + "===", " " * 25 + "... Pass statistics report ...", "===" + "-" * 73 + "==="]
        return "\n".join(head + self.sections) + "\n"


LITERT_RTOL, LITERT_ATOL = 1e-4, 1e-5


def _signatures(module) -> list:
    """[None] when the module runs as it is (a `main`, or one public function); else the names of its public
    functions: a merged prefill/decode module is checked signature by signature."""
    funcs = [op for op in ir.module_ops(module) if op.operation.name == "func.func"]
    names = [ir.mlir.StringAttr(f.attributes["sym_name"]).value for f in funcs]
    public = [n for f, n in zip(funcs, names) if "sym_visibility" not in f.attributes
              or ir.mlir.StringAttr(f.attributes["sym_visibility"]).value != "private"]
    return [None] if "main" in names or len(public) <= 1 else public


def _select_signature(module, sig: str):
    from .frontends.signatures import select_signature

    return select_signature(module, sig)


class NumericsCheck(Instrument):
    """`--check-numerics`: run the module on XLA CPU before the pipeline and after every pass; the first
    pass whose results differ fails the run, by name. Floats may differ by rtol/atol, integers and
    booleans not at all. Each run uses the seeded input sets of `numerics.input_sets` (typical values,
    then integer edges when there are integer arguments) and stops after `timeout` seconds.

    Bad settings are HloErrors here, at construction, so the CLI reports them before any work."""

    def __init__(self, rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0, out: TextIO | None = None, *,
                 timeout: float | None = None, input_mode: str = "edges"):
        self.rtol = numerics.check_tolerance(rtol, "--rtol")
        self.atol = numerics.check_tolerance(atol, "--atol")
        self.seed = numerics.check_seed(seed, "--seed")
        self.timeout = numerics.check_timeout(timeout, "--numerics-timeout")
        self.input_mode = numerics.check_input_mode(input_mode, "--numerics-inputs")
        self.out = out
        self.sets: list[tuple[str, list]] = []
        self._owners: list = []  # the signature each input set belongs to
        self.inputs = self.reference = None  # the typical set and its outputs
        self._reference: list = []
        self.log: list[str] = []

    def _say(self, line: str) -> None:
        self.log.append(line)
        print(line, file=self.out or sys.stderr)

    signatures: list = [None]  # None: the module's entry; else each public function of a merged module

    def _run(self, module, when: str, in_litert: bool = False) -> list:
        """Outputs per input set. A module with several signatures (prefill and decode) runs each set on its
        own signature: on XLA as a copy whose `main` is that function, in LiteRT by signature name."""
        from .tflite.runtime import execute_sets

        results: dict = {}
        try:
            for sig in self.signatures:
                mine = [i for i, owner in enumerate(self._owners) if owner == sig]
                sets = [self.sets[i][1] for i in mine]
                if in_litert:
                    outs = execute_sets(module, sets, signature=sig)
                else:
                    runnable = module if sig is None else _select_signature(module, sig)
                    outs = numerics.execute_many(runnable, sets, timeout=self.timeout)
                results.update(zip(mine, outs))
        except HloError as e:  # a crash or a timeout: say which module it was
            raise HloError(f"check-numerics: running {when}: {e.message}", e.loc, e.notes) from None
        return [results[i] for i in range(len(self.sets))]

    @staticmethod
    def _in_litert(module) -> bool:
        """After legalize-tflite the module is TFL ops: it is written as a .tflite and run in LiteRT."""
        from .tflite.runtime import has_tfl_ops

        return has_tfl_ops(module)

    def _tolerances(self, in_litert: bool) -> tuple[float, float, str]:
        """LiteRT's kernels (XNNPACK) sum in other orders than XLA: across that boundary the check allows
        at least rtol 1e-4 / atol 1e-5, and says so."""
        if in_litert:
            rtol, atol = max(self.rtol, LITERT_RTOL), max(self.atol, LITERT_ATOL)
            return rtol, atol, f" in LiteRT (rtol {rtol:g}, atol {atol:g})"
        return self.rtol, self.atol, ""

    def before_pipeline(self, module, passes):
        self.signatures = _signatures(module)
        self.sets, self._owners = [], []
        for sig in self.signatures:
            runnable = module if sig is None else _select_signature(module, sig)
            for label, inputs in numerics.input_sets(runnable, self.seed, self.input_mode):
                self.sets.append((label if sig is None else f"{sig}: {label}", inputs))
                self._owners.append(sig)
        self._reference = self._run(module, "the input")
        self.inputs, self.reference = self.sets[0][1], self._reference[0]
        described = numerics.describe_inputs(self.input_mode if len(self.sets) > len(self.signatures) else "typical")
        if self.signatures != [None]:
            described += f"; each of the signatures {', '.join(self.signatures)}"
        self._say(f"check-numerics: reference run of the input, seed {self.seed}, {len(self.inputs)} inputs, "
                  f"{len(self.reference)} outputs ({described})")

    @property
    def settings(self) -> dict[str, str]:
        """What a reproducer records so that its replay checks the same way (`configure` reads it back)."""
        return {"seed": str(self.seed), "rtol": f"{self.rtol!r}", "atol": f"{self.atol!r}",
                "inputs": self.input_mode, "timeout": f"{self.timeout!r}"}

    def compare(self, module, what: str) -> tuple[numerics.Comparison, str, float, float]:
        """(comparison, where it ran, rtol, atol) of `module`'s results (got) against the reference's
        (expected). `--bisect` uses it on each of its trial runs."""
        in_litert = self._in_litert(module)
        rtol, atol, where = self._tolerances(in_litert)
        result = numerics.compare_sets(self._run(module, what, in_litert), self._reference,
                                       [label for label, _ in self.sets], rtol=rtol, atol=atol)
        return result, where, rtol, atol

    def after_pass(self, index, p, module, ctx, seconds):
        try:
            result, where, rtol, atol = self.compare(module, f"the result of pass '{p.pass_name}' (#{index})")
        except HloError as e:  # its output crashes XLA or never finishes: the pass's failure as well
            raise CheckFailed(e.message, e.loc, e.notes) from None
        if not result.ok:
            raise CheckFailed(f"check-numerics: pass '{p.pass_name}' (#{index}) changed the results{where}:"
                              f" {result.detail}", notes=(f"rtol={rtol:g} atol={atol:g}, seed {self.seed};"
                                                          f" {numerics.SIDES}",))
        self._say(f"check-numerics: after {p.pass_name} (#{index}): same results{where} "
                  f"(max abs diff {result.max_abs:.3g})")


REPRODUCER_MARK = "// hlo-opt reproducer"


class Reproducer(Instrument):
    """On a failing pass, write the module as it entered that pass plus the rest of the pipeline, to a file
    that `hlo-opt --run-reproducer FILE` replays (and that is itself valid MLIR input). With `numerics` (the
    run's --check-numerics) its seed, tolerances and input sets are recorded too, so the replay checks the
    same way and fails the same way."""

    def __init__(self, path: str | Path | None = None, plugins: list[str] = (), numerics=None):
        self.path = Path(path) if path else None
        self.plugins = list(plugins)
        self.numerics = numerics
        self.passes: list[Pass] = []
        self._entry = None
        self.written: Path | None = None
        self.error: str | None = None  # why the reproducer could not be written

    def before_pipeline(self, module, passes):
        self.passes = list(passes)

    def before_pass(self, index, p, module):
        self._entry = ir.clone(module)

    def after_failure(self, index, p, module, error):
        if files.signalled():  # the "failure" is an interruption that C++ turned into an exception
            return
        rest = pipeline_text(self.passes[index - 1:])
        head = [REPRODUCER_MARK, f"// pipeline: {rest}"]
        head += [f"// plugin: {f}" for f in self.plugins]
        if self.numerics is not None:
            head.append("// check-numerics: " + " ".join(f"{k}={v}" for k, v in self.numerics.settings.items()))
        head += [f"// failure: {line}" for line in str(error).splitlines()]
        body = ir.to_text(self._entry, debuginfo=True)
        path = self.path
        try:  # a reproducer that cannot be written must not hide the pass's own error: say why, later
            if path is None:
                fd, name = tempfile.mkstemp(prefix="hlo-opt-reproducer-", suffix=".mlir")
                os.close(fd)
                path = Path(name)
            ir.write_atomic(path, ("\n".join(head) + "\n" + body).encode())
            self.written = path
        except OSError as e:
            self.error = f"cannot create a temporary file in {tempfile.gettempdir()}: {e.strerror}"
        except HloError as e:
            self.error = e.message
            if self.path is None:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def reproducer_numerics(text: str) -> dict[str, str] | None:
    """The `// check-numerics:` settings of a reproducer's header (None when it has none)."""
    for line in text.splitlines()[1:]:
        if not line.startswith("// "):
            break
        if line.startswith("// check-numerics: "):
            return dict(item.partition("=")[::2] for item in line[len("// check-numerics: "):].split())
    return None


def read_reproducer(text: str) -> tuple[str, list[str]]:
    """(pipeline, plugin files) from a reproducer's header."""
    if not text.startswith(REPRODUCER_MARK):
        raise HloError(f"not an hlo-opt reproducer (its first line is not '{REPRODUCER_MARK}')")
    pipeline, plugins = None, []
    for line in text.splitlines()[1:]:
        if not line.startswith("// "):
            break
        key, _, value = line[3:].partition(": ")
        if key == "pipeline":
            pipeline = value
        elif key == "plugin":
            plugins.append(value)
    if pipeline is None:
        raise HloError("reproducer has no '// pipeline:' line")
    return pipeline, plugins
