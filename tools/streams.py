"""hlo-opt's standard streams, made safe whatever state they came in (closed, a broken pipe, a full disk):
the outcome of a run is its exit status and its output file, and neither may depend on whether someone is
still reading stderr."""

from __future__ import annotations

import contextlib
import os
import sys

from hlo_passes.diagnostics import HloError


class _Streams:
    """The process's standard streams, made safe to use whatever state they came in.

    A closed fd 0/1/2 (`>&-`) gets /dev/null in its place at once: otherwise the next file opened (a
    temporary output) would take that number and C++ diagnostics or `print` would write into it. stderr
    becomes a stream that never raises: a reader that went away (`2>&1 | head -1`) or a full disk must not
    stop the real work, whose outcome is the exit status and the output file.
    """

    def __init__(self):
        self.closed = set()
        for fd in (0, 1, 2):
            try:
                os.fstat(fd)
            except OSError:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
                self.closed.add(fd)
        self.saved_stderr = sys.stderr
        sys.stderr = _QuietStream(sys.stderr if 2 not in self.closed and sys.stderr is not None
                                  else open(os.devnull, "w"))

    def restore(self) -> None:
        sys.stderr.flush()
        sys.stderr = self.saved_stderr

    def stdin(self):
        if 0 in self.closed or sys.stdin is None:
            return None
        if sys.stdin.isatty():
            raise HloError("no input file given and stdin is a terminal (hlo-opt FILE, or pipe a module in)")
        return sys.stdin.buffer

    def check_stdout(self) -> None:
        if 1 in self.closed or sys.stdout is None:
            raise HloError("standard output is closed: give -o FILE")

    def write_stdout(self, data: bytes) -> None:
        self.check_stdout()
        _write_stdout(data)


def _write_stdout(data: bytes) -> None:
    """All of `data` on stdout; a reader that left early (`| head`) had what it wanted (exit 0)."""
    if sys.stdout is None:
        raise HloError("cannot write to standard output: it is closed")
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        _to_devnull(1)
    except OSError as e:
        _to_devnull(1)  # what is still buffered must not fail again at exit
        raise HloError(f"cannot write to standard output: {e.strerror}") from None


def _to_devnull(fd: int) -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


class _QuietStream:
    """A text stream that drops what it cannot write instead of raising (then points fd 2 at /dev/null,
    so that C++ writes and the interpreter's last flush are quiet too)."""

    def __init__(self, stream):
        self.stream = stream
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self.stream.write(text)
            except (OSError, ValueError):
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self._lose()

    def _lose(self) -> None:
        self.lost = True
        with contextlib.suppress(OSError, ValueError):
            if self.stream.fileno() == 2:
                _to_devnull(2)
                self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


