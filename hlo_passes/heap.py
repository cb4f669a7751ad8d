"""Giving freed heap memory back to the system between the big steps of a conversion.

Why: glibc keeps the pages of freed small and mid-sized allocations resident (and, once a large block has
been freed, serves blocks up to that size from the heap too), so the garbage one step leaves (torch.export's
FX graphs and sympy shapes, torch-mlir's text, the writer's packed flatbuffer) stays in the process's RSS,
under every later step's peak, while the big arrays those later steps make (int8 weights, streamed buffers)
come from fresh mmaps. `malloc_trim(0)` hands the free pages back; it frees nothing that is in use.
Measured at 8x1024 (bench/llm.py's flow): 27 MB after `from_torch`, 11-20 MB after a write.
"""

from __future__ import annotations

import ctypes
import functools


@functools.lru_cache(maxsize=1)
def _trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # (the process's own symbols: libc's)
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def release_freed_heap() -> bool:
    """Return the heap's free pages to the system (glibc); False where there is no `malloc_trim`."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
