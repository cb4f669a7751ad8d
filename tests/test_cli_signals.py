"""hlo-opt stopped by a signal: SIGINT, SIGTERM or SIGHUP in the middle of writing a large output leaves no
temporary file and no partial output, the file it was replacing is untouched, and the run ends in one line
with exit status 128 + the signal's number; Ctrl-C during a pass is "hlo-opt: interrupted", 130.

The write is slowed down (1 KB at a time) in a child process so that the signal lands inside it for sure.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES

from hlo_passes import files

ATTENTION = EXAMPLES / "attention.mlir"

SLOW_WRITER = '''
import os, sys, time
from hlo_passes import files

_fdopen = os.fdopen

class Slow:
    """The temporary output file, written 1 KB per 20 ms; `ready` appears once writing has begun, and the
    write then waits (a loaded machine may deliver the test's signal late: the write must not finish first)."""
    def __init__(self, f):
        self.f = f
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.f.__exit__(*exc)
    def fileno(self):
        return self.f.fileno()
    def write(self, data):
        for i in range(0, len(data), 1024):
            self.f.write(data[i:i + 1024])
            self.f.flush()
            if i == 4096:  # mid-write: say so, then wait here for the test's signal (however late it comes)
                open(sys.argv[1], "w").close()
                time.sleep(30)
            time.sleep(0.02)

files.os.fdopen = lambda *a, **k: Slow(_fdopen(*a, **k))
from hlo_passes.tools.hlo_opt import main
sys.exit(main(sys.argv[2:]))
'''

SLEEPING_PLUGIN = '''
import time
from dataclasses import dataclass
from pathlib import Path
import hlo_passes as hp

@hp.register_pass
@dataclass(frozen=True)
class Sleep(hp.Pass):
    """Says it has started (a file), then takes its time."""
    name = "test-sleep"
    summary = "sleeps"
    marker: str = hp.option("", "file to create when the pass starts")

    def run(self, module, ctx):
        Path(self.marker).touch()
        time.sleep(60)
'''


def _default_signals() -> None:
    """In the child, before exec: the signals it is sent take their default course. A test run under
    `nohup` (or in a background job) would hand the child an ignored SIGHUP (or SIGINT), which hlo-opt
    rightly leaves ignored: then there would be nothing to test."""
    for signo in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(signo, signal.SIG_DFL)


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never got there"
        time.sleep(0.01)


def _message(signo: int) -> str:
    return "hlo-opt: interrupted" if signo == signal.SIGINT else f"hlo-opt: terminated by {signal.Signals(signo).name}"


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_during_a_large_write_leaves_nothing_behind(tmp_path, signo):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.mlir"
    out.write_text("ORIGINAL")
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, ready, ATTENTION, "--pass", "cse", "-o", out],
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    _wait_for(ready, proc)
    assert [p.name for p in out_dir.iterdir() if p.name.endswith(".tmp")]  # mid-write: a temporary exists
    proc.send_signal(signo)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signo, err
    assert err.strip() == _message(signo)
    assert [p.name for p in out_dir.iterdir()] == ["out.mlir"]  # no temporary, no second file
    assert out.read_text() == "ORIGINAL"


def test_ctrl_c_during_a_pass(tmp_path):
    plugin = tmp_path / "sleep.py"
    plugin.write_text(SLEEPING_PLUGIN)
    marker, out = tmp_path / "started", tmp_path / "out.mlir"
    proc = subprocess.Popen([sys.executable, "-m", "hlo_passes.tools.hlo_opt", ATTENTION, "--load-pass-plugin",
                             plugin, "--pass", f"test-sleep{{marker={marker}}}", "-o", out],
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "hlo-opt: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sleep.py", "started"]


def test_handlers_are_restored_and_temporaries_removed(tmp_path):
    """In-process: the cleanup handlers come and go with the context; a signal removes what is in flight."""
    before = signal.getsignal(signal.SIGTERM)
    tmp = tmp_path / ".x.tmp"
    tmp.write_text("partial")
    with pytest.raises(files.Terminated) as caught:
        with files.cleanup_on_signals():
            files._temporaries.add(str(tmp))
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
    assert caught.value.exit_status == 128 + signal.SIGTERM
    assert not tmp.exists() and not files._temporaries
    assert signal.getsignal(signal.SIGTERM) == before


def test_ignored_signals_stay_ignored():
    """`nohup hlo-opt ...`: a SIGHUP its parent told it to ignore must not end the run."""
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with files.cleanup_on_signals():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) != signal.SIG_DFL  # the others are handled
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


CALLBACK_PLUGIN = '''
import time
from dataclasses import dataclass
from pathlib import Path
import hlo_passes as hp
from hlo_passes import ir

@hp.register_pass
@dataclass(frozen=True)
class SlowPattern(hp.Pass):
    """A walk that takes its time: its callback runs in Python under MLIR's C++ walker."""
    name = "test-slow-pattern"
    summary = "a slow pattern"
    marker: str = hp.option("", "file to create when the pattern first runs")

    def run(self, module, ctx):
        def look(op):
            Path(self.marker).touch()
            time.sleep(0.5)
            return ir.mlir.WalkResult.ADVANCE
        module.walk(look)  # an exception in here comes out of C++ as "RuntimeError: Exception raised in callback"
'''


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_signal_inside_a_callback_under_cpp_is_still_a_signal(tmp_path, signo):
    """C++ turns an exception in a Python callback into a RuntimeError; the run must still end as the
    interruption it was (not "pass raised RuntimeError", exit 1, plus a reproducer of nothing)."""
    plugin = tmp_path / "slow.py"
    plugin.write_text(CALLBACK_PLUGIN)
    marker, out, repro, dump = (tmp_path / n for n in ("started", "out.mlir", "repro.mlir", "dump"))
    proc = subprocess.Popen([sys.executable, "-m", "hlo_passes.tools.hlo_opt", ATTENTION, "--load-pass-plugin",
                             plugin, "--pass", f"test-slow-pattern{{marker={marker}}}", "-o", out,
                             "--reproducer", repro, "--dump-dir", dump], stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    _wait_for(marker, proc)
    proc.send_signal(signo)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signo, err
    assert err.strip() == _message(signo)
    assert not out.exists() and not repro.exists()
    assert sorted(p.name for p in dump.iterdir()) == ["00-input.mlir"]  # no "failed" dump of an interruption


def test_ctrl_c_while_jaxlib_imports_is_one_line():
    """The first second of a run is spent importing jaxlib and numpy; a Ctrl-C there must not surface as
    numpy's ImportError traceback. (The first ~60 ms belong to Python's own start-up, before any of our
    code runs, and are not covered.)"""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    hlo_opt = str(Path(sys.executable).parent / "hlo-opt")
    for delay in (0.1, 0.2, 0.3):
        p = subprocess.Popen([hlo_opt, "--list-passes"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_default_signals)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=60)[1]
        if p.returncode in (0, -signal.SIGINT) and not err:  # done, or the signal hit the interpreter's exit
            continue
        assert p.returncode == 130, err
        assert err.strip() == "hlo-opt: interrupted"
