"""hlo-opt's signal handling outside `main`: while jaxlib and numpy import (a second or so), and while the
interpreter exits. Imported first by tools/hlo_opt.py; it imports nothing heavy.

    startup.guard()          # before the heavy imports
    ...imports...
    startup.release()        # after them: the handlers the process started with are back
    startup.guard_exit()     # when main, called as the program, is done
"""

from __future__ import annotations

import contextlib
import os
import signal

_STARTUP: dict = {}


def interrupted(signo, frame) -> None:
    """A signal where nothing is open or half-written: end at once with the one line every interruption
    gets. (A KeyboardInterrupt raised inside numpy's import would come out as numpy's ImportError and its
    traceback.)"""
    with contextlib.suppress(OSError, ValueError):
        os.write(2, b"hlo-opt: interrupted\n" if signo == signal.SIGINT else
                 f"hlo-opt: terminated by signal {signo}\n".encode())
    os._exit(128 + signo)


def guard() -> None:
    """SIGINT, SIGTERM and SIGHUP end the run at once (an ignored one stays ignored: nohup)."""
    _STARTUP.update({s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
                     if signal.getsignal(s) != signal.SIG_IGN})
    for s in _STARTUP:
        signal.signal(s, interrupted)


def release() -> None:
    """Give the signals back the handlers the process started with. They are blocked meanwhile: one landing
    between two of the calls would be a KeyboardInterrupt at module level, with its traceback; one still
    pending once the handlers are back ends the run as `interrupted` does."""
    mask = set(_STARTUP)
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        for s, h in _STARTUP.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        if pending := signal.sigpending() & mask:
            interrupted(min(pending), None)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def guard_exit() -> None:
    """For a process whose work is done: the interpreter's exit (threading's shutdown, atexit callbacks:
    logging's, jax's) still takes a moment, and a Ctrl-C there would print a KeyboardInterrupt traceback
    after the run. The signals go back to `interrupted` for that moment."""
    for s in _STARTUP:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(s, interrupted)
