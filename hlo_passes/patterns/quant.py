"""Symmetric int8 weight quantization: the numbers, and the dequantization the IR carries.

A quantized weight is written in StableHLO as what it means:

    %q = stablehlo.constant dense<...> : tensor<NxKxi8>         # the int8 weight
    %s = stablehlo.constant dense<...> : tensor<Nxf32>          # one scale per output channel
    %f = stablehlo.convert %q : (tensor<NxKxi8>) -> tensor<NxKxf32>
    %b = stablehlo.broadcast_in_dim %s, dims = [0] : (tensor<Nxf32>) -> tensor<NxKxf32>
    %w = stablehlo.multiply %f, %b : tensor<NxKxf32>            # {hlo.dequantize}

XLA CPU runs that as it stands, so `--check-numerics` (with a tolerance) still works after quantization,
and the TFLite backend recognises the marked multiply and writes an INT8 weight tensor with per-channel
scales under a FULLY_CONNECTED or BATCH_MATMUL (LiteRT's hybrid kernels: int8 weights, float
activations). The `hlo.dequantize` unit attribute marks the multiply so that `fold-constants` does not fold
the int8 weight back into floats.

int4 weights in blocks (`dtype=int4`) add a reshape that splits the contracting axis into [blocks, block]
around the multiply (see `Blockwise`).

Scales: max |w| / 127 per channel (or per tensor), zero points 0. A channel of zeros gets scale 1 (its
values quantize to 0 exactly); non-finite weights are refused rather than turned into NaN scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEQUANTIZE_MARK = "hlo.dequantize"
QMAX = 127


@dataclass(frozen=True)
class Quantized:
    values: np.ndarray  # int8, the weight's shape
    scale: np.ndarray  # float32: [channels] (per channel along `axis`) or [] (per tensor)
    axis: int | None  # None: per tensor

    def dequantize(self) -> np.ndarray:
        if self.axis is None:
            return self.values.astype(np.float32) * self.scale
        shape = [1] * self.values.ndim
        shape[self.axis] = -1
        return self.values.astype(np.float32) * self.scale.reshape(shape)

    def dequantize_rows(self, rows: slice) -> np.ndarray:
        """Rows `rows` (along axis 0) of `dequantize()`, computed alike (float32, as XLA runs the IR's form)."""
        values = np.atleast_1d(self.values)[rows].astype(np.float32)
        if self.axis is None:
            return values * self.scale
        shape = [1] * self.values.ndim
        shape[self.axis] = -1
        scale = self.scale.reshape(shape)
        return values * (scale[rows] if self.axis == 0 else scale)


def quantize(weight: np.ndarray, axis: int | None) -> Quantized:
    """Symmetric int8 quantization of `weight` per channel along `axis` (or per tensor with None).

    Works in slabs of rows (`_slabs`): a whole-weight `w / scale`, `rint` and `clip` would each be another
    float32 copy of the weight (three times an LM head's 131 MB at once); slab by slab the only full-size
    array made is the int8 result."""
    w = np.asarray(weight, np.float32)
    if w.ndim == 0:
        w = w.reshape(1)
    for part in _slabs(w):
        if not np.all(np.isfinite(part)):
            raise ValueError("the weight holds inf or NaN: it cannot be quantized")
    if axis is None:
        peak = max((float(np.abs(part).max(initial=0.0)) for part in _slabs(w)), default=0.0)
        scale = _scales(peak)
        spread = scale
    else:
        others = tuple(d for d in range(w.ndim) if d != axis)
        parts = [np.abs(part).max(axis=others, initial=0.0) for part in _slabs(w)]
        if not parts:  # no rows at all
            peak = np.zeros(w.shape[axis], np.float32)
        else:
            peak = np.concatenate(parts) if axis == 0 else np.maximum.reduce(parts)
        scale = _scales(peak)
        shape = [1] * w.ndim
        shape[axis] = -1
        spread = scale.reshape(shape)
    q = np.empty(w.shape, np.int8)
    start = 0
    for part in _slabs(w):
        rows = slice(start, start + part.shape[0])
        s = spread[rows] if axis == 0 else spread
        q[rows] = np.clip(np.rint(part / s), -QMAX, QMAX)
        start = rows.stop
    if axis is None:
        return Quantized(q.reshape(np.shape(weight)), np.asarray(scale, np.float32), None)
    return Quantized(q, scale, axis)


_SLAB = 1 << 16  # elements per slab: 256 KB of float32, so that a slab's temporaries stay in cache


def _slabs(w: np.ndarray):
    """Consecutive slices of `w` along axis 0 of about `_SLAB` elements each (views, no copies)."""
    row = max(1, w[0].size) if w.shape[0] else 1
    step = max(1, _SLAB // row)
    for start in range(0, w.shape[0], step):
        yield w[start:start + step]


def _scales(peak) -> np.ndarray:
    """max |w| / 127 per channel, in float32: 1 for an all-zero channel, and never 0 for a tiny one (a
    subnormal peak / 127 underflows to 0; the smallest float32 step keeps w / scale finite)."""
    peak = np.asarray(peak, np.float64)
    scale = (peak / QMAX).astype(np.float32)
    scale = np.where(scale > 0, scale, np.finfo(np.float32).smallest_subnormal)
    return np.where(peak > 0, scale, 1.0).astype(np.float32)


def relative_error(weight: np.ndarray, quantized: "Quantized | Blockwise") -> float:
    """||w - dequant(q)|| / ||w|| (0 for an all-zero weight), slab by slab, in float32 with the sums of squares
    of each slab added in float64 (float64 throughout where a slab's squares overflow float32). Why not one
    float64 expression: it made four float64 copies of the weight (1 GB of temporaries for a 131 MB LM head)
    and took 6 of the 10 s the pass spent on an 8-layer model; this agrees to ~1e-7 and takes 0.04 s per
    LM head."""
    w = np.asarray(weight, np.float32)
    if w.ndim == 0:
        w = w.reshape(1)
    error = norm = 0.0
    start = 0
    for part in _slabs(w):
        rows = slice(start, start + part.shape[0])
        start = rows.stop
        exact, approx = part.reshape(-1), quantized.dequantize_rows(rows).reshape(-1)
        diff = exact - approx
        with np.errstate(over="ignore"):  # (an overflow is caught just below)
            e, n = float(np.dot(diff, diff)), float(np.dot(exact, exact))
        if not (np.isfinite(e) and np.isfinite(n)):  # huge weights: their squares need float64
            exact, diff = exact.astype(np.float64), exact.astype(np.float64) - approx.astype(np.float64)
            e, n = float(np.dot(diff, diff)), float(np.dot(exact, exact))
        error += e
        norm += n
    return float(np.sqrt(error) / np.sqrt(norm)) if norm else 0.0


# ------------------------------------------------------------------------------------ int4, block-wise

INT4_MAX = 7


@dataclass(frozen=True)
class Blockwise:
    """int4 values with one scale per `block` consecutive elements along `block_axis` (the weight's
    contracting axis): scale[..., j, ...] serves values[..., j*block:(j+1)*block, ...]. Scales are numbers
    that bfloat16 and float16 both hold exactly (kept in float32): LiteRT stores float16 scales and XNNPACK
    computes with them as bfloat16, so XLA then computes with exactly the weights LiteRT does."""

    values: np.ndarray  # ml_dtypes.int4, the weight's shape
    scale: np.ndarray  # float32: the weight's shape with block_axis divided by block
    block_axis: int
    block: int

    def dequantize(self) -> np.ndarray:
        spread = np.repeat(self.scale, self.block, axis=self.block_axis)
        return self.values.astype(np.float32) * spread

    def dequantize_rows(self, rows: slice) -> np.ndarray:
        """Rows `rows` (along axis 0) of `dequantize()`, computed alike."""
        if self.block_axis == 0:
            scale = self.scale[np.arange(rows.start, min(rows.stop, self.values.shape[0])) // self.block]
        else:
            scale = np.repeat(self.scale[rows], self.block, axis=self.block_axis)
        return self.values[rows].astype(np.float32) * scale


_F16_MIN_NORMAL, _F16_MAX = 2.0 ** -14, 65280.0  # 65280: the largest bfloat16 below float16's 65504


def _bf16_up(x: np.ndarray) -> np.ndarray:
    """The smallest bfloat16 value >= x (x positive, finite), as float32: keeps every |w| / scale <= 7."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0xFFFF) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def quantize_blockwise(weight: np.ndarray, block_axis: int, block: int) -> Blockwise:
    """Symmetric int4 (-7..7) quantization in blocks of `block` along `block_axis`: scale max |w| / 7 per
    block, rounded up to a bfloat16 value in float16's normal range."""
    import ml_dtypes

    w = np.asarray(weight, np.float32)
    if not np.all(np.isfinite(w)):
        raise ValueError("the weight holds inf or NaN: it cannot be quantized")
    k = w.shape[block_axis]
    if block <= 0 or k % block:
        raise ValueError(f"the contracting dimension ({k}) is not a multiple of the block size ({block})")
    moved = np.moveaxis(w, block_axis, -1)
    blocks = moved.reshape(*moved.shape[:-1], k // block, block)
    peak = np.abs(blocks).max(axis=-1)
    if peak.max(initial=0.0) / INT4_MAX > _F16_MAX:
        raise ValueError("the weight is too large for float16 block scales")
    scale = np.where(peak > 0, np.maximum(_bf16_up(peak / INT4_MAX), _F16_MIN_NORMAL), 1.0).astype(np.float32)
    q = np.clip(np.rint(blocks / scale[..., None]), -INT4_MAX, INT4_MAX)
    values = np.moveaxis(q.reshape(moved.shape), -1, block_axis).astype(ml_dtypes.int4)
    return Blockwise(values, np.moveaxis(scale, -1, block_axis), block_axis, block)
