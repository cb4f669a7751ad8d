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


def quantize(weight: np.ndarray, axis: int | None) -> Quantized:
    """Symmetric int8 quantization of `weight` per channel along `axis` (or per tensor with None)."""
    w = np.asarray(weight, np.float32)
    if not np.all(np.isfinite(w)):
        raise ValueError("the weight holds inf or NaN: it cannot be quantized")
    if axis is None:
        scale = _scales(np.abs(w).max(initial=0.0))
        q = np.clip(np.rint(w / scale), -QMAX, QMAX).astype(np.int8)
        return Quantized(q, np.asarray(scale, np.float32), None)
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    scale = _scales(np.abs(moved).max(axis=1, initial=0.0))
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -QMAX, QMAX).astype(np.int8)
    return Quantized(q, scale, axis)


def _scales(peak) -> np.ndarray:
    """max |w| / 127 per channel, in float32: 1 for an all-zero channel, and never 0 for a tiny one (a
    subnormal peak / 127 underflows to 0; the smallest float32 step keeps w / scale finite)."""
    peak = np.asarray(peak, np.float64)
    scale = (peak / QMAX).astype(np.float32)
    scale = np.where(scale > 0, scale, np.finfo(np.float32).smallest_subnormal)
    return np.where(peak > 0, scale, 1.0).astype(np.float32)


def relative_error(weight: np.ndarray, quantized: Quantized) -> float:
    """||w - dequant(q)|| / ||w|| (0 for an all-zero weight)."""
    w = np.asarray(weight, np.float64)
    norm = np.linalg.norm(w)
    return float(np.linalg.norm(w - quantized.dequantize()) / norm) if norm else 0.0
