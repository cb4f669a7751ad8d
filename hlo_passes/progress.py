"""Progress of a long conversion: each stage (export, every pass, write) with its time and memory, then a summary.

Converting a real model takes minutes and gigabytes, and a silent terminal gives no clue which stage is slow
or which one holds the memory. `Progress` is an `Instrument` (so the pass manager reports every pass to it)
that also times the stages around the pipeline (`with progress.stage("export"): ...`):

- on a terminal (the stream is a tty) a live bar at the bottom, redrawn a few times a second by a daemon
  thread so that the elapsed time moves during a 5-minute export; finished stages scroll above it;
- in a log (not a tty) plain lines only, one per finished stage, and a line when a long stage starts,
  so a log that stops says what it stopped in.

Each finished stage line gives its wall time, the running total, the resident set after it and the stage's
own peak. The stage peak is exact on Linux: the kernel's high-water mark (VmHWM, which is also what
`ru_maxrss` reads) is reset at the start of each stage by writing 5 to /proc/self/clear_refs, and `Progress`
keeps the process peak itself (`peak_bytes`), since that reset loses it. Pass `reset_peak=False` where
something else in the process reads `ru_maxrss` (a test suite); then each line shows the peak so far.

The summary says what came out: ops per signature and composites by name (read from the `.tflite` when that
was written, else from the module), the output's size, and the process's peak memory, and the largest child
process's when there is one worth naming (the XLA worker that checks a torch export holds gigabytes of its own).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .pass_manager import Instrument

__all__ = ["Progress", "Stage", "children_peak_bytes", "human_bytes", "module_summary", "peak_rss_bytes", "rss_bytes",
           "tflite_summary"]

SLOW_START = 1.0  # plain mode: a stage still running after this long gets a "started" line (see _Ticker)


# ---------------------------------------------------------------------------------------------- memory

def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """The process's resident set now."""
    kb = _status_kb("VmRSS")
    return kb * 1024 if kb is not None else peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The kernel's high-water mark of the resident set (since start, or since the last reset)."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def children_peak_bytes() -> int:
    """The largest peak RSS among this process's child processes, live (their VmHWM: the XLA worker that
    checks exports stays alive) or waited for (ru_maxrss of RUSAGE_CHILDREN). Their memory is not in ours,
    but a conversion that needs it needs it."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return peak
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids = f.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) * 1024)
            except OSError:
                continue
    return peak


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0). False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}" if n < 100 else f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _seconds(s: float) -> str:
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:02.0f} s"


# ------------------------------------------------------------------------------------------- summaries

_STRUCTURAL = {"builtin.module", "func.func", "func.return", "stablehlo.return", "stablehlo.constant",
               "arith.constant", "tfl.pseudo_const", "tfl.no_value", "tfl.pseudo_qconst", "tfl.yield"}


def module_summary(module) -> tuple[dict[str, int], Counter]:
    """Ops per public function (constants, returns and the function itself not counted: what would become
    a kernel) and composites by name in those functions (not inside the composites' decompositions)."""
    from . import ir

    ops: dict[str, int] = {}
    composites: Counter = Counter()
    for fn in ir.module_ops(module):
        if fn.operation.name != "func.func":
            continue
        attrs = fn.attributes
        name = ir.mlir.StringAttr(attrs["sym_name"]).value
        public = "sym_visibility" not in attrs or ir.mlir.StringAttr(attrs["sym_visibility"]).value == "public"
        count = 0

        def visit(op):
            nonlocal count
            if op.name not in _STRUCTURAL:
                count += 1
            if op.name == "stablehlo.composite":
                composites[ir.mlir.StringAttr(op.attributes["name"]).value] += 1
            return ir.mlir.WalkResult.ADVANCE

        if public:
            fn.operation.walk(visit)
            ops[name] = count
    return ops, composites


def tflite_summary(path: str | Path) -> tuple[dict[str, int], Counter]:
    """Ops per signature (its subgraph's operators) and STABLEHLO_COMPOSITE ops by name in those subgraphs,
    read from a `.tflite` through the flatbuffer accessors on a memory map: the weights after the flatbuffer
    are never read, so this is cheap on a multi-GB model."""
    from ai_edge_litert import schema_py_generated as fb

    composite_code = fb.BuiltinOperator.STABLEHLO_COMPOSITE
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        model = fb.Model.GetRootAs(data, 0)
        codes = [max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
                 for i in range(model.OperatorCodesLength())]
        ops: dict[str, int] = {}
        composites: Counter = Counter()
        for s in range(model.SignatureDefsLength()):
            sig = model.SignatureDefs(s)
            sg = model.Subgraphs(sig.SubgraphIndex())
            ops[sig.SignatureKey().decode()] = sg.OperatorsLength()
            for i in range(sg.OperatorsLength()):
                op = sg.Operators(i)
                if codes[op.OpcodeIndex()] == composite_code and op.BuiltinOptions2() is not None:
                    table = op.BuiltinOptions2()
                    opts = fb.StableHLOCompositeOptions()
                    opts.Init(table.Bytes, table.Pos)
                    composites[(opts.Name() or b"?").decode()] += 1
        del model, sg, sig
    return ops, composites


# ------------------------------------------------------------------------------------------- the display

@dataclass
class Stage:
    name: str
    seconds: float
    rss: int  # after the stage
    peak: int  # during the stage (or the process peak so far, without resets)
    failed: bool = False


class Progress(Instrument):
    """Stages with elapsed time and memory, as a bar on a terminal or plain lines in a log; then a summary.

    `expect` names the stages outside the pipeline that will run (e.g. ("export", "write")), so the bar knows
    its length; passes are added when the pipeline starts. `bar=None` means: a bar iff `out` is a tty."""

    def __init__(self, prog: str = "hlo-opt", out: TextIO | None = None, *, bar: bool | None = None,
                 expect: tuple[str, ...] = (), reset_peak: bool = True):
        self.prog = prog
        self.out = out if out is not None else sys.stderr
        if bar is None:
            isatty = getattr(self.out, "isatty", None)
            bar = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self.bar = bar
        self.stages: list[Stage] = []
        self.expected = len(expect)
        self.n_passes = 0
        self.start = time.perf_counter()
        self.reset_peak = reset_peak
        self.peak_bytes = peak_rss_bytes()  # the process peak before we began (imports, the model itself)
        self._current: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._announced = False
        self._thread = threading.Thread(target=self._tick, name="hlo-progress", daemon=True)
        self._thread.start()

    # ---- stages
    def _begin(self, name: str) -> None:
        now_peak = peak_rss_bytes()
        self.peak_bytes = max(self.peak_bytes, now_peak)
        if self.reset_peak and not _reset_peak():
            self.reset_peak = False
        with self._lock:
            self._current = (name, time.perf_counter())
            self._announced = False
        self._draw()

    def _end(self, failed: bool = False) -> Stage | None:
        with self._lock:
            if self._current is None:
                return None
            name, t0 = self._current
            self._current = None
        peak = peak_rss_bytes()
        self.peak_bytes = max(self.peak_bytes, peak)
        stage = Stage(name, time.perf_counter() - t0, rss_bytes(), peak, failed)
        self.stages.append(stage)
        self._line(self.format_stage(stage))
        return stage

    @contextlib.contextmanager
    def stage(self, name: str):
        """Time and measure one stage outside the pipeline (`export`, `parse`, `write`)."""
        self._begin(name)
        try:
            yield self
        except BaseException:
            self._end(failed=True)
            raise
        self._end()

    def format_stage(self, s: Stage) -> str:
        peak = "peak" if self.reset_peak else "peak so far"
        total = time.perf_counter() - self.start
        return (f"{self.prog}: {s.name}{' FAILED' if s.failed else ''}: {_seconds(s.seconds)}"
                f" (total {_seconds(total)}; rss {human_bytes(s.rss)}, {peak} {human_bytes(s.peak)})")

    # ---- the pass manager's hooks
    def before_pipeline(self, module, passes):
        self.n_passes = len(passes)

    def before_pass(self, index, p, module):
        self._begin(f"pass {index}/{self.n_passes} {p.pass_name}")

    def after_pass(self, index, p, module, ctx, seconds):
        self._end()

    def after_failure(self, index, p, module, error):
        if self._current is not None:  # (a numerics rejection comes after after_pass ended the stage)
            self._end(failed=True)

    # ---- output
    def _line(self, text: str) -> None:
        with self._lock:
            if self.bar:
                self.out.write("\r\x1b[K")
            self.out.write(text + "\n")
            self.out.flush()
        self._draw()

    def _bar_text(self) -> str:
        done = len(self.stages)
        total = max(self.expected + self.n_passes, done + (self._current is not None), 1)
        width = 24
        filled = min(width, int(width * done / total))
        name, t0 = self._current if self._current else ("", time.perf_counter())
        return (f"{self.prog} [{'#' * filled}{'-' * (width - filled)}] {done}/{total} {name}"
                f" {_seconds(time.perf_counter() - t0)} | total {_seconds(time.perf_counter() - self.start)}"
                f" | rss {human_bytes(rss_bytes())}")

    def _draw(self) -> None:
        if not self.bar or self._stop.is_set():
            return
        with self._lock:
            if self._current is None:
                return
            self.out.write("\r\x1b[K" + self._bar_text())
            self.out.flush()

    def _tick(self) -> None:
        """The bar's clock; in plain mode, one `...` line for a stage that runs longer than SLOW_START."""
        while not self._stop.wait(0.25):
            if self.bar:
                self._draw()
                continue
            with self._lock:
                cur, said = self._current, self._announced
            if cur is not None and not said and time.perf_counter() - cur[1] > SLOW_START:
                with self._lock:
                    if self._current is cur:
                        self._announced = True
                        self.out.write(f"{self.prog}: {cur[0]} ...\n")
                        self.out.flush()

    def close(self) -> None:
        """Stop the clock thread and clear the bar (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=1)
        if self.bar:
            with self._lock:
                self.out.write("\r\x1b[K")
                self.out.flush()

    def summary(self, module=None, *, path: str | Path | None = None, size: int | None = None) -> str:
        """The closing line: ops per signature, composites by name, output size, peak memory, total time.
        A `.tflite` at `path` is read for ops and composites; otherwise `module` is."""
        self.peak_bytes = max(self.peak_bytes, peak_rss_bytes())
        ops, composites = ({}, Counter())
        if path is not None and str(path).endswith(".tflite") and Path(path).is_file():
            ops, composites = tflite_summary(path)
        elif module is not None:
            ops, composites = module_summary(module)
        if size is None and path is not None and Path(path).is_file():
            size = Path(path).stat().st_size
        parts = [f"{sum(ops.values())} ops" + (f" ({', '.join(f'{k} {v}' for k, v in ops.items())})" if ops else "")]
        parts.append(f"{sum(composites.values())} composites"
                     + (f" ({', '.join(f'{k} {v}' for k, v in sorted(composites.items()))})" if composites else ""))
        if size is not None:
            parts.append(f"{human_bytes(size)} written")
        children = children_peak_bytes()
        parts.append(f"peak memory {human_bytes(self.peak_bytes)}"
                     + (f" (and {human_bytes(children)} in a child process)" if children > 16 << 20 else ""))
        return f"{self.prog}: done in {_seconds(time.perf_counter() - self.start)}: " + "; ".join(parts)

    def finish(self, module=None, *, path=None, size=None) -> str:
        """Close the display and print the summary line (returned too)."""
        self.close()
        line = self.summary(module, path=path, size=size)
        self.out.write(line + "\n")
        self.out.flush()
        return line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
