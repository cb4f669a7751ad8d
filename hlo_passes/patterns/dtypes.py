"""What kind of number an element type holds, asked one way everywhere in folding and simplification.

numpy's `dtype.kind` is not enough: ml_dtypes' int4/uint4 and every sub-f32 float but f16 have kind
'V', so `kind == "i"` misses i4 and `np.iinfo` raises on it. `CLAIMED` lists the element types the
folder evaluates; everything else (complex, i2, f4, f8E8M0FNU, f8E4M3, f8E3M4, ...) is declined.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .. import ir
from ..diagnostics import Decline  # noqa: F401 -- the evaluators' refusal (one failure type for all)

# MLIR element type name -> numpy dtype, for the types the folder and the rules reason about
CLAIMED = {
    "f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
    "f8E4M3FN": ml_dtypes.float8_e4m3fn, "f8E5M2": ml_dtypes.float8_e5m2,
    "f8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz, "f8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "f8E4M3B11FNUZ": ml_dtypes.float8_e4m3b11fnuz,
    "i1": np.bool_, "i4": ml_dtypes.int4, "i8": np.int8, "i16": np.int16, "i32": np.int32, "i64": np.int64,
    "ui4": ml_dtypes.uint4, "ui8": np.uint8, "ui16": np.uint16, "ui32": np.uint32, "ui64": np.uint64,
}
_FLOATS = {np.dtype(v) for k, v in CLAIMED.items() if k[0] in "fb"}
_SIGNED = {np.dtype(v) for k, v in CLAIMED.items() if k[0] == "i" and k != "i1"}
_UNSIGNED = {np.dtype(v) for k, v in CLAIMED.items() if k[0] == "u"}
_BITS = {np.dtype(ml_dtypes.int4): 4, np.dtype(ml_dtypes.uint4): 4, np.dtype(np.bool_): 1}


_CLAIMED = frozenset(np.dtype(v) for v in CLAIMED.values())


def claimed(element_type) -> np.dtype | None:
    """The numpy dtype of an MLIR element type that the folder handles, else None (looked up as
    `ir.known_dtype` looks it up: by kind of type, not by printing it, which costs more than the rest of a
    fold's checks)."""
    found = ir.known_dtype(element_type)
    return found if found in _CLAIMED else None


def is_float(dtype) -> bool:
    return np.dtype(dtype) in _FLOATS


def is_int(dtype) -> bool:
    """A signed or unsigned integer (i4 ... ui64), not a bool."""
    d = np.dtype(dtype)
    return d in _SIGNED or d in _UNSIGNED


def is_signed(dtype) -> bool:
    return np.dtype(dtype) in _SIGNED


def is_unsigned(dtype) -> bool:
    return np.dtype(dtype) in _UNSIGNED


def is_bool(dtype) -> bool:
    return np.dtype(dtype) == np.bool_


def bits(dtype) -> int:
    d = np.dtype(dtype)
    return _BITS.get(d, d.itemsize * 8)


def int_range(dtype) -> tuple[int, int]:
    """(min, max) of an integer or bool type as Python ints."""
    if is_bool(dtype):
        return 0, 1
    n = bits(dtype)
    return (-(1 << (n - 1)), (1 << (n - 1)) - 1) if is_signed(dtype) else (0, (1 << n) - 1)


def finfo(dtype):
    return ml_dtypes.finfo(np.dtype(dtype))


def has_inf(dtype) -> bool:
    return bool(np.isinf(np.array(np.inf).astype(dtype)))


def has_nan(dtype) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(np.isnan(np.array(np.nan).astype(dtype).astype(np.float64)))


def has_negative_zero(dtype) -> bool:
    return bool(np.signbit(np.array(-0.0).astype(dtype).astype(np.float64)))


def wide(x: np.ndarray) -> np.ndarray:
    """An integer array as int64 (uint64 for ui64, whose values do not all fit): exact, so that numpy's
    ufuncs behave as on plain ints (on int4 some of them return unwrapped int8, others wrap)."""
    return x.astype(np.uint64 if np.dtype(x.dtype) == np.uint64 else np.int64)


def wrap(x: np.ndarray, dtype) -> np.ndarray:
    """Integers (any numpy int array) reduced modulo 2^bits into `dtype`, two's complement."""
    n = bits(dtype)
    if n >= 64:
        return x.astype(dtype)  # a C cast: modulo 2^64
    low = wide(x).astype(np.int64) & ((1 << n) - 1)
    if is_signed(dtype):
        low = np.where(low >= (1 << (n - 1)), low - (1 << n), low)
    return low.astype(dtype)


def as_unsigned(x: np.ndarray) -> np.ndarray:
    """The bits of an integer array read as an unsigned number (an int64 array, uint64 for 64-bit)."""
    n = bits(x.dtype)
    if n == 64:
        return x.view(np.uint64)
    return wide(x).astype(np.int64) & ((1 << n) - 1)


def as_signed(x: np.ndarray) -> np.ndarray:
    """The bits of an integer array read as a two's complement number (an int64 array)."""
    n = bits(x.dtype)
    if n == 64:
        return x.view(np.int64)
    u = as_unsigned(x)
    return np.where(u >= (1 << (n - 1)), u - (1 << n), u)

