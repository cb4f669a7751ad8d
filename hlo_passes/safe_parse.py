"""Reading untrusted bytes without letting MLIR take the process down.

jaxlib's MLIR reader trusts its input more than a command-line tool can afford to:
- corrupted bytecode and VHLO artifacts can make it crash (SIGSEGV, "double free") after it has reported
  an error;
- a name that is not UTF-8 (`"stablehlo.a\\FFb"(...)`, raw 0xFF bytes in a quoted name) reaches Python
  inside a diagnostic or an op name, nanobind cannot convert it and the process aborts (exit 134);
- the text parser recurses once per nesting level and overflows an 8 MB stack near 2,000 regions.

What this module does about it, and what it costs:
- Text is checked in this process (`check_text`), in linear passes at C speed: not UTF-8 -> an error at
  the line and column of the first bad byte; a quoted string whose escapes spell bytes that are not
  UTF-8 (`"a\\FFb"`) -> an error at that string; nested deeper than `MAX_NESTING` brackets -> an error
  where the limit is crossed; cut off inside a string -> an error there (MLIR's resource-section reader
  SIGSEGVs on that). Text then parses on a thread with a large stack (`deep_stack`), so every depth under
  the limit is safe. Cost: ~40 ms for 2 MB of text (a 20k-op module; its parse takes 150-350 ms), ~80 ms
  for 134 MB of weights (the resource section is only searched with memchr-speed `bytes` methods).
- Binary inputs (bytecode, VHLO, jax.export wrappers) are first read in a forked child (`check_in_child`):
  parse, verify and print top-level op by op (to bytes: no string crosses into Python, and no weights
  are turned into hex), every printed string UTF-8, the printed form nested within the limit. Only if
  the child finishes cleanly does this process parse the same bytes; a child that dies becomes an error
  naming the signal. Cost: a fork (10-40 ms: jaxlib is already imported) plus the child's parse and
  print: ~20 ms for the examples, ~0.2-0.4 s for a 20k-op module, ~0.4 s for 134 MB of weights.

The limit: at most `MAX_NESTING` (4096) nested brackets `{ ( [ <` in text (binary inputs: in their
printed form). Real models nest a few dozen levels; what lies past 4,096 is a generated stress input.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

from .diagnostics import HloError, SourceLoc

MAX_NESTING = 4096
PARSE_STACK_BYTES = 1 << 30  # virtual: only the pages a deep parse touches are ever committed
CHILD_TIMEOUT = 30.0  # seconds for the child's check of an input, plus CHILD_TIMEOUT_PER_MB per megabyte
CHILD_TIMEOUT_PER_MB = 2.0  # (bytecode reads at well over 100 MB/s: a 1 GB module gets half an hour)

# Strings (escapes included) and comments hold brackets that do not nest, nor do `->` and `>=`.
_STRING_AT = re.compile(rb'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"')
_COMMENT = re.compile(rb"//[^\n]*")
_TOKENS = re.compile(rb'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"|//[^\n]*|->|>=|[{}()\[\]<>]')
_HIGH_ESCAPE = re.compile(rb'\\[89a-fA-F][0-9a-fA-F]')
_DELTA = np.zeros(256, np.int8)
_DELTA[list(b"{([<")] = 1
_DELTA[list(b"})]>")] = -1
_CHUNK = 1 << 24


def _line_col(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    return line, offset - (raw.rfind(b"\n", 0, offset) + 1) + 1


def check_utf8(raw: bytes, filename: str) -> None:
    """Text must be UTF-8: MLIR quotes source text in its messages and nanobind aborts on bad bytes."""
    if raw.isascii():
        return
    if b"\0" in raw[:64]:  # an executable, an image, a wrapper we do not know: no line is worth pointing at
        raise HloError("not a module: neither MLIR text (UTF-8), MLIR bytecode, a VHLO artifact nor a"
                       " jax.export artifact", SourceLoc(filename, 1, 1))
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(raw, e.start)
        raise HloError(f"input is not UTF-8 text (byte 0x{raw[e.start]:02X}); MLIR text must be UTF-8",
                       SourceLoc(filename, line, col)) from None


def trailer_start(raw: bytes) -> int:
    """Where the trailing `{-# ... #-}` section starts, or -1. Found from the last `{` (memrchr: a search
    for the three bytes would crawl back through hundreds of MB of hex), which lies inside the section."""
    last = raw.rfind(b"{")
    at = raw.rfind(b"{-#", 0, last + 3) if last >= 0 else -1
    if at > 0:  # not a trailer if it sits inside a string or a comment (neither spans lines)
        before = _STRING_AT.sub(b"", raw[raw.rfind(b"\n", 0, at) + 1:at])
        if b'"' in before or b"//" in before:
            return -1
    return at


def _without_strings(raw: bytes) -> bytes:
    """`raw` without its string literals and comments. Two passes, each a regex that starts with a literal
    (a fast search, unlike an alternation, which tries every byte). Strings first: one cannot span lines
    and a comment runs to the end of its line, so a quote inside a comment can only pair up within that
    comment, and a `//` inside a string is gone before comments are looked for."""
    if b'"' in raw:
        raw = _STRING_AT.sub(b"", raw)
    return _COMMENT.sub(b"", raw) if b"//" in raw else raw


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting of MLIR text, strings and comments left out. Linear, at C speed. The
    trailing `{-# ... #-}` section (hundreds of MB of weights as hex) is left out: its grammar is flat."""
    trailer = trailer_start(raw)
    body = raw[:trailer] if trailer >= 0 else raw
    data = np.frombuffer(_without_strings(body), np.uint8)
    deepest, level, n = 0, 0, data.size
    for start in range(0, n, _CHUNK):
        chunk = data[start:start + _CHUNK]
        steps = _DELTA[chunk]
        at = np.flatnonzero(chunk == 0x3E) + start  # a '>' of `->` or `>=` closes nothing
        if at.size:
            arrow = ((data[np.maximum(at - 1, 0)] == 0x2D) & (at > 0)) | \
                    ((data[np.minimum(at + 1, n - 1)] == 0x3D) & (at + 1 < n))
            steps[at[arrow] - start] = 0
        if not steps.any():
            continue
        levels = np.cumsum(steps, dtype=np.int32) + level  # |level| <= a chunk: no overflow
        deepest, level = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def check_nesting(raw: bytes, filename: str, limit: int = MAX_NESTING) -> None:
    """An error at the bracket that goes deeper than `limit`, before the recursive parser sees it."""
    if nesting_depth(raw) <= limit:
        return
    level = 0
    for m in _TOKENS.finditer(raw):  # only reached for an input over the limit: find where it crosses
        token = m.group()
        if len(token) == 1:
            level += 1 if token in b"{([<" else -1
            if level > limit:
                line, col = _line_col(raw, m.start())
                raise HloError(f"input nests deeper than {limit} levels of brackets (the limit of this tool:"
                               " MLIR's parser recurses once per level)", SourceLoc(filename, line, col))
    raise HloError(f"input nests deeper than {limit} levels of brackets", SourceLoc(filename, 1, 1))


_STRING = re.compile(rb'//[^\n]*|"([^"\\\n]*(?:\\[^\n][^"\\\n]*)*)"')  # comments: skipped
_ESCAPE = re.compile(rb'\\([0-9a-fA-F]{2}|[^\n])')
_SIMPLE = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\"}


def _unescape(body: bytes) -> bytes:
    """The bytes an MLIR string literal stands for (`\\XX` hex escapes, `\\n`, `\\t`, `\\"`, `\\\\`)."""
    def one(m):
        code = m.group(1)
        return bytes([int(code, 16)]) if len(code) == 2 else _SIMPLE.get(code, code)
    return _ESCAPE.sub(one, body)


def check_strings(text: bytes, filename: str, *, located: bool = True) -> None:
    """Every quoted string must spell UTF-8 once its escapes are read: a name or string attribute that is
    not UTF-8 aborts the process the moment Python reads it (nanobind cannot convert it). `text` is the
    input (`located`: report line:col) or the module as printed (the printer escapes every byte >= 0x80)."""
    if b"\\" not in text or _HIGH_ESCAPE.search(text) is None:  # (memchr first: the regex is slower)
        return
    for m in _STRING.finditer(text):
        body = m.group(1)
        if body is None or b"\\" not in body or _HIGH_ESCAPE.search(body) is None:
            continue
        try:
            _unescape(body).decode("utf-8")
        except UnicodeDecodeError:
            shown = body[:60].decode("ascii", "replace") + ("..." if len(body) > 60 else "")
            loc = SourceLoc(filename, *_line_col(text, m.start())) if located else SourceLoc(filename, 1, 1)
            raise HloError(f'string "{shown}" is not UTF-8 once its escapes are read (names and strings must'
                           " be UTF-8)", loc) from None


def check_end(raw: bytes, filename: str) -> None:
    """Text must not end inside a string literal: MLIR's reader of the resource section crashes (SIGSEGV)
    on `NAME: "0x0400` cut off at the end of the file. Strings cannot span lines, so the last line tells."""
    start = raw.rfind(b"\n") + 1
    last, pos = raw[start:], 0
    if b'"' not in last:
        return
    for m in [*_STRING.finditer(last), None]:
        gap = last[pos:m.start() if m else len(last)]
        if b'"' in gap:
            at = start + pos + gap.index(b'"')
            raise HloError("unterminated string: the input ends inside it",
                           SourceLoc(filename, *_line_col(raw, at)))
        pos = m.end() if m else pos


def check_text(raw: bytes, filename: str) -> None:
    """All of the in-process checks of MLIR text; raises HloError at the first problem."""
    check_utf8(raw, filename)
    check_nesting(raw, filename)
    check_strings(raw, filename)
    check_end(raw, filename)


def deep_stack(fn):
    """`fn()` on a thread with a `PARSE_STACK_BYTES` stack: MLIR's text parser recurses per nesting level."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 -- handed to the caller's thread as is
            box["error"] = e

    old = threading.stack_size()
    try:
        for size in (PARSE_STACK_BYTES, PARSE_STACK_BYTES // 8):  # (strict overcommit may refuse 1 GB)
            try:
                threading.stack_size(size)
                worker = threading.Thread(target=run, name="hlo-parse")
                worker.start()
                break
            except (RuntimeError, ValueError, MemoryError):
                worker = None
    finally:
        threading.stack_size(old)
    if worker is None:  # no thread at all: the main thread's stack still holds ~2,000 levels
        return fn()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


# ----------------------------------------------------------------------------------- the child's check

def _report(error: HloError | None) -> bytes:
    if error is None:
        return b'{"ok": true}'
    loc = [error.loc.file, error.loc.line, error.loc.col] if error.loc else None
    return json.dumps({"ok": False, "message": error.message, "loc": loc, "notes": list(error.notes)}).encode()


def _unreport(data: bytes) -> HloError | None:
    result = json.loads(data)
    if result["ok"]:
        return None
    loc = SourceLoc(*result["loc"]) if result["loc"] else None
    return HloError(result["message"], loc, tuple(result["notes"]))


def _quiet_stdio() -> None:
    """The child's stdout and stderr go nowhere: what it prints while dying is not the user's business."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    os.environ["LIBC_FATAL_STDERR_"] = "1"  # glibc's "double free" goes to stderr, not the terminal
    faulthandler.disable()  # (pytest, PYTHONFAULTHANDLER) it writes to its own copy of stderr
    for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the parent's handlers clean up *its*
        signal.signal(signo, signal.SIG_DFL)  # temporary files: a Ctrl-C simply ends the child


def _run_check(work) -> bytes:
    try:
        work()
        return _report(None)
    except HloError as e:
        return _report(e)
    except Exception as e:  # noqa: BLE001 -- anything the bindings raise on bad input is a read error
        return _report(HloError(f"cannot read the input: {type(e).__name__}: {e}"))


def _crashed(filename: str, how: str) -> HloError:
    why = "corrupt, or holds a name that is not UTF-8" if "SIGABRT" in how else "corrupt or not a module"
    return HloError(f"cannot read the input: MLIR's reader {how} on it (the file is {why})",
                    SourceLoc(filename, 1, 1))


def check_in_child(work, filename: str, *, spawn_args: list[str] | None = None, data: bytes = b"") -> None:
    """Run `work()` (parse and validate an input) in a forked child; raise its HloError, or one for its
    death. With a fork that never answers (a lock held by another thread at fork time), the check runs
    again in a fresh interpreter (`spawn_args`: `_child_main`'s arguments, `data` on its stdin)."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fork with threads" (Python, JAX): the child only parses
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        pid = os.fork()
    if pid == 0:  # the child: never returns to the caller's code
        status = 3
        try:
            os.close(read_fd)
            _quiet_stdio()
            result = _run_check(work)
            view = memoryview(result)
            while view:
                view = view[os.write(write_fd, view):]
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    timeout = CHILD_TIMEOUT + CHILD_TIMEOUT_PER_MB * len(data) / 1e6
    chunks, deadline, timed_out, busy, ended = [], time.monotonic() + timeout, False, True, False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                timed_out, busy = True, _cpu_seconds(pid) > 0.2 * timeout
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                ended = True
                break
            chunks.append(chunk)
    finally:  # also on Ctrl-C or SIGTERM in the parent: the child must not outlive the wait
        os.close(read_fd)
        if not ended and not timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        if not busy and spawn_args is not None:  # it waited, not worked: a lock held at fork time
            return _check_spawned(spawn_args, data, filename, timeout)
        raise HloError(f"cannot read the input: reading it took more than {timeout:.0f} s",
                       SourceLoc(filename, 1, 1))
    if os.WIFSIGNALED(status):
        raise _crashed(filename, f"crashed ({signal.Signals(os.WTERMSIG(status)).name})")
    if os.WEXITSTATUS(status) != 0 or not chunks:
        raise _crashed(filename, f"exited with status {os.WEXITSTATUS(status)}")
    error = _unreport(b"".join(chunks))
    if error is not None:
        raise error


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux); 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _check_spawned(args: list[str], data: bytes, filename: str, timeout: float) -> None:
    """The child check in a new interpreter (about a second: Python start and the jaxlib import)."""
    cmd = [sys.executable, "-c", "import sys; from hlo_passes.safe_parse import _child_main;"
                                 " sys.exit(_child_main(sys.argv[1:]))", *args]
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        raise HloError(f"cannot read the input: reading it took more than {timeout:.0f} s",
                       SourceLoc(filename, 1, 1)) from None
    if proc.returncode < 0:
        raise _crashed(filename, f"crashed ({signal.Signals(-proc.returncode).name})")
    if proc.returncode != 0 or not proc.stdout:
        raise _crashed(filename, f"exited with status {proc.returncode}")
    error = _unreport(proc.stdout)
    if error is not None:
        raise error


def _child_main(argv: list[str]) -> int:
    """`python -c ... FILENAME`: check the bytes on stdin as `ir.parse` would, print the JSON report."""
    from . import ir

    data, filename = sys.stdin.buffer.read(), argv[0]
    sys.stdout.buffer.write(_run_check(lambda: ir._check_binary(data, filename)))
    return 0


def check_module(module, filename: str) -> None:
    """The child's checks of a parsed binary input: it verifies (or fails to) and prints without dying, its
    strings are UTF-8 (checked on the printed bytes, where every byte >= 0x80 is an escape, before Python
    reads any name) and its text form nests at most `MAX_NESTING` deep, as text inputs must."""
    from . import ir

    top = ir.as_operation(module)
    buf = io.BytesIO()  # each print verifies first (an invalid op prints generic); large weights elided
    top.print(file=buf, binary=True, skip_regions=True)  # the module's own attributes
    for op in top.regions[0].blocks[0].operations:  # one by one: no resource section (hex of every weight)
        op.operation.print(file=buf, binary=True, use_local_scope=True, large_elements_limit=1024)
    text = buf.getvalue()
    check_strings(text, filename, located=False)
    if nesting_depth(text) > MAX_NESTING:
        raise HloError(f"input nests deeper than {MAX_NESTING} levels of brackets in its text form (the limit"
                       " of this tool)", SourceLoc(filename, 1, 1))
