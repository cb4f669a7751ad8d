"""Reading inputs and writing outputs so that nothing is lost, damaged or left behind.

No MLIR here (the CLI sets its guards up with it before the heavy imports): only bytes and files.

- `read_input`: an input read exactly once (a pipe, a FIFO or `/dev/stdin` cannot be read twice), capped
  at `MAX_INPUT_BYTES` so that `/dev/zero` ends in an error instead of eating the machine's memory.
- `write_atomic`: a temporary file next to the target, then a rename, so a reader never sees half a file.
  The result gets the mode a plain `open()` would give it (0666 minus the umask, or the mode of the file
  it replaces, not mkstemp's 0600); a symlink is followed and its target replaced, not the link; a
  device or FIFO (`/dev/null`, `/dev/full`) is written through. Every OS failure (disk full, read-only
  folder, permission) is one `HloError`, and the temporary file is gone.
- `protect`: files that must never be written (the input): every write checks against them by device
  and inode, which sees through symlinks and hard links.
- `cleanup_on_signals`: SIGTERM, SIGHUP and SIGINT remove the temporary files in flight and end the run
  as `Terminated(signo)` (exit status 128 + signo), so an interrupted write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
from pathlib import Path

from .diagnostics import HloError

# 4 GiB: far above any real module, far below "read /dev/zero until OOM". The CLI's --max-input-size sets
# it for the run, so that every reader (ir.load included) applies the same cap.
MAX_INPUT_BYTES = 4 << 30
_CHUNK = 1 << 20

_temporaries: set[str] = set()  # temporary files being written right now (removed on a signal)
_protected: dict[tuple[int, int], str] = {}  # (st_dev, st_ino) -> the name the user gave


class Terminated(BaseException):
    """The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP). A BaseException, like
    KeyboardInterrupt, so that no `except Exception` in a pass swallows it."""

    def __init__(self, signo: int):
        super().__init__(signal.Signals(signo).name)
        self.signo = signo

    @property
    def exit_status(self) -> int:
        return 128 + self.signo


def file_error(path, error: OSError, verb: str = "read") -> HloError:
    """One message for a file that cannot be read (or written, with `verb="write"`)."""
    if verb == "read" and isinstance(error, FileNotFoundError):
        return HloError(f"no such file: {path}")
    if isinstance(error, IsADirectoryError):
        return HloError(f"is a directory, not a {'module' if verb == 'read' else 'file'}: {path}")
    return HloError(f"cannot {verb} {path}: {error.strerror or error}")


def parse_size(text: str) -> int:
    """`4G`, `512M`, `64k`, `1000`: a byte count (binary multiples), for `--max-input-size`."""
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = int(number) * units[unit]
    except ValueError:
        raise HloError(f"expected a size like 4G, 512M or 1000 (bytes), got '{text}'") from None
    if value <= 0:
        raise HloError(f"a size must be positive, got '{text}'")
    return value


def _too_large(name: str, limit: int) -> HloError:
    return HloError(f"input {name} is larger than {limit} bytes (raise the limit with --max-input-size)")


def regular_input(path: str, limit: int | None = None) -> bool:
    """True when `path` is a regular file (so it may be opened again by name, by C++) no larger than
    `limit` (default `MAX_INPUT_BYTES`); False for a FIFO, a device or a pipe, which must be read once
    with `read_input`."""
    limit = MAX_INPUT_BYTES if limit is None else limit
    try:
        st = os.stat(path)
    except OSError as e:
        raise file_error(path, e) from None
    if stat.S_ISDIR(st.st_mode):
        raise HloError(f"is a directory, not a module: {path}")
    if not stat.S_ISREG(st.st_mode):
        return False
    if st.st_size > limit:
        raise _too_large(path, limit)
    return True


def _read_capped(f, name: str, limit: int) -> bytes:
    buf = bytearray()
    while True:
        chunk = f.read(min(_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise _too_large(name, limit)


def read_input(path: str, limit: int | None = None, *, stdin=None) -> bytes:
    """Every byte of `path` ('-' is stdin), read once and at most `limit` (default `MAX_INPUT_BYTES`)."""
    limit = MAX_INPUT_BYTES if limit is None else limit
    if path == "-":
        if stdin is None:
            raise HloError("standard input is closed (give an input file)")
        return _read_capped(stdin, "<stdin>", limit)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode):  # one read into one buffer: no copy of a large file
                if st.st_size > limit:
                    raise _too_large(path, limit)
                data = f.read(limit + 1)
                if len(data) > limit:  # (it grew meanwhile)
                    raise _too_large(path, limit)
                return data
            return _read_capped(f, path, limit)
    except OSError as e:
        raise file_error(path, e) from None


# ---------------------------------------------------------------------------------------------- writing

def protect(path_or_fd: str | os.PathLike | int, name: str | None = None) -> None:
    """Never write over this file (by inode: symlinks and hard links to it are refused too)."""
    try:
        st = os.fstat(path_or_fd) if isinstance(path_or_fd, int) else os.stat(path_or_fd)
    except OSError:
        return  # nothing there to protect
    if stat.S_ISREG(st.st_mode):
        _protected[(st.st_dev, st.st_ino)] = name or str(path_or_fd)


def unprotect_all() -> None:
    _protected.clear()


def protected_by(path_or_fd: str | os.PathLike | int) -> str | None:
    """The protected input that `path_or_fd` is (the same file), or None."""
    try:
        st = os.fstat(path_or_fd) if isinstance(path_or_fd, int) else os.stat(path_or_fd)
    except OSError:
        return None
    return _protected.get((st.st_dev, st.st_ino))


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (setting it, even for a moment,
    would race with files that other threads create)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_all(f, data) -> None:
    """`data` is bytes, or an iterable of byte chunks (a model whose weights stream from their arrays)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        f.write(data)
    else:
        for chunk in data:
            f.write(chunk)


def write_atomic(path: str | os.PathLike, data) -> None:
    """Write `data` (bytes or an iterable of chunks) to `path` so that a reader sees the old file or the
    whole new one, never a part.

    Raises `HloError` (and leaves no temporary file) for anything the OS refuses."""
    if str(path) == "":
        raise HloError("cannot write a file with an empty name")
    shown = str(path)
    path = Path(path)
    owner = protected_by(path)
    if owner is not None:
        raise HloError(f"refusing to write {shown}: it is the input file {owner}")
    try:
        st = os.stat(path)  # (through symlinks: /dev/stdout is a link to a pipe)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise file_error(shown, e, "write") from None
    if (st is None or stat.S_ISREG(st.st_mode)) and path.is_symlink():
        path = Path(os.path.realpath(path))  # replace the link's target, keep the link
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise HloError(f"cannot write {shown}: it is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):  # /dev/null, /dev/full, a FIFO: write through
        try:
            with open(path, "wb") as f:
                _write_all(f, data)
        except OSError as e:
            raise file_error(shown, e, "write") from None
        return
    folder = path.parent
    if not folder.is_dir():
        raise HloError(f"cannot write {shown}: no such directory '{folder}'")
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, CLEANUP_SIGNALS)  # no signal between create and record
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        _temporaries.add(tmp)
    except OSError as e:
        raise file_error(shown, e, "write") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):  # keep the replaced file's owner where we may (root)
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)
            _write_all(f, data)
        os.replace(tmp, path)
    except BaseException as e:  # an OS error, or a signal mid-write: the temporary file goes either way
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise file_error(shown, e, "write") from None
        raise
    finally:
        _temporaries.discard(tmp)


_received: int | None = None  # the signal `cleanup_on_signals` caught, if any


def signalled() -> int | None:
    """The signal caught while `cleanup_on_signals` was active, or None."""
    return _received


def check_signals() -> None:
    """Raise `Terminated` again if a signal arrived. A signal that lands in a Python callback under C++
    (a rewrite pattern inside MLIR's greedy driver) comes back out as a RuntimeError: whoever is about to
    report an error calls this first, so that the run still ends as the interruption it was."""
    if _received is not None:
        raise Terminated(_received) from None


def remove_temporaries() -> None:
    for tmp in list(_temporaries):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _temporaries.discard(tmp)


CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def cleanup_on_signals():
    """While active, SIGINT/SIGTERM/SIGHUP remove temporary files and raise `Terminated` (a second signal
    during the unwinding exits at once). The previous handlers come back afterwards."""

    def first(signo, frame):
        global _received
        _received = signo
        for s in saved:
            signal.signal(s, second)
        remove_temporaries()
        raise Terminated(signo)

    def second(signo, frame):
        remove_temporaries()
        os._exit(128 + signo)

    # a signal ignored by whoever started us stays ignored (`nohup hlo-opt ...` must outlive the terminal)
    global _received
    _received = None
    saved = {s: signal.getsignal(s) for s in CLEANUP_SIGNALS if signal.getsignal(s) != signal.SIG_IGN}
    for s in saved:
        signal.signal(s, first)
    try:
        yield
    finally:
        _received = None
        for s, handler in saved.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
