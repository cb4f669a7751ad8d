"""Messages between `hlo_passes.numerics` and its XLA worker process: length-prefixed pickles whose arrays
travel out of band (pickle protocol 5), so that sending every weight of a model (the torch front end's export
check) makes no pickled copy of them, and the worker reads them into 64-byte aligned buffers that XLA CPU can
use in place.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import struct
import time

import numpy as np


def read_exactly(fd: int, n: int, deadline: float) -> bytes | None:
    """n bytes from fd, or None at EOF; TimeoutError past the deadline (time.monotonic)."""
    chunks, got = [], 0
    while got < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], None if math.isinf(remaining) else remaining)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send(stream, obj) -> None:
    """A length-prefixed pickle whose large arrays travel out of band (protocol 5): header (pickle size,
    buffer count), the buffers' sizes, the pickle, then each array's memory written straight from the array.
    Why: a plain pickle of an export check's request is one more copy of every weight in the sender (0.6 GB
    for the 8x1024 example LLM)."""
    buffers: list = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    stream.write(struct.pack(f"<QQ{len(views)}Q", len(data), len(views), *(v.nbytes for v in views)))
    stream.write(data)
    for view in views:
        stream.write(view)
    stream.flush()


def receive(read) -> object | None:
    """What `send` wrote, read through `read(n) -> bytes | None` (None at end of stream)."""
    head = read(16)
    if head is None or len(head) < 16:
        return None
    size, count = struct.unpack("<QQ", head)
    table = read(8 * count)
    if table is None or len(table) < 8 * count:
        return None
    sizes = struct.unpack(f"<{count}Q", table)
    data = read(size)
    buffers = [read(n) for n in sizes]
    if data is None or len(data) < size or any(b is None or len(b) < n for b, n in zip(buffers, sizes)):
        return None
    return pickle.loads(data, buffers=buffers)


def read_into(stream, n: int) -> np.ndarray | None:
    """n bytes from a blocking binary stream into one buffer (no list of chunks joined: one copy), or None at
    EOF. The buffer is writable and 64-byte aligned, so XLA CPU can take the arrays pickle builds on it
    without copying them again."""
    out = np.empty(n + 64, np.uint8)
    skip = -out.ctypes.data % 64
    out = out[skip:skip + n]
    view, got = memoryview(out), 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            return None
        got += k
    return out
