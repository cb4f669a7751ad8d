"""StableHLO -> TFL for vision-style ops: convolutions, pooling windows, padding, reversal.

StableHLO states layouts explicitly (`[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]` is torch's NCHW); TFL's
CONV_2D wants NHWC input and an OHWI filter. The rules transpose into TFL's layout and back (the clean-ups
cancel what cancels between consecutive layers), pad explicitly before a VALID window, and decline
anything TFL has no kernel for (1-D/3-D windows, grouped convolutions other than depthwise, base dilation)
with that reason.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..ir import mlir
from ..patterns.driver import Decline
from . import ops as T
from .legalize import _const_value, _dtype, _ints, _one, _shape, _ttype, reshape, transpose


def _pairs(attr, rank: int) -> list[list[int]]:
    if attr is None:
        return [[0, 0]] * rank
    flat = [int(x) for x in ir.to_numpy(attr).reshape(-1)]
    return [flat[2 * i:2 * i + 2] for i in range(rank)]


def _opt_ints(op, name: str, rank: int, default: int = 1) -> list[int]:
    return _ints(op.attributes[name]) if name in op.attributes else [default] * rank


def _pad(value, pads: list[list[int]], fill) -> mlir.Value:
    """Explicit padding (PADV2 with `fill`) unless there is none."""
    if not any(lo or hi for lo, hi in pads):
        return value
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise Decline("negative padding (cropping) in a window op has no TFL form here")
    shape = [d + lo + hi for d, (lo, hi) in zip(_shape(value), pads)]
    return _one("tfl.padv2", [value, T.const(np.asarray(pads, np.int32)),
                              T.const(np.asarray(fill, _dtype(value)))], _ttype(shape, value))


def _pad_op(op):
    x, fill = op.operands
    lo, hi = _ints(op.attributes["edge_padding_low"]), _ints(op.attributes["edge_padding_high"])
    if any(_ints(op.attributes["interior_padding"])):
        raise Decline("interior padding has no TFL form")
    if any(v < 0 for v in lo + hi):
        raise Decline("negative padding (cropping) converts as a slice; not done here yet")
    pads = np.asarray([[a, b] for a, b in zip(lo, hi)], np.int32)
    return _one("tfl.padv2", [x, T.const(pads), reshape(fill, [])], op.result.type)


def _reverse(op):
    return _one("tfl.reverse_v2", [op.operands[0], T.i32(_ints(op.attributes["dimensions"]))], op.result.type)


def _passthrough(op):
    return list(op.operands)


def _atan2(op):
    return _one("tfl.atan2", list(op.operands), op.result.type)


def _convolution(op):
    lhs, rhs = op.operands
    dn = ir.stablehlo.ConvDimensionNumbers(op.attributes["dimension_numbers"])
    spatial = list(dn.input_spatial_dimensions)
    if len(spatial) != 2:
        raise Decline(f"{len(spatial)}-D convolutions have no TFL kernel here (CONV_2D is 2-D)")
    if any(d != 1 for d in _opt_ints(op, "lhs_dilation", 2)):
        raise Decline("input (base) dilation is a transposed convolution: no CONV_2D form")
    if int(op.attributes["batch_group_count"].value) != 1:
        raise Decline("batch_group_count > 1 has no TFL form")
    groups = int(op.attributes["feature_group_count"].value)
    strides = _opt_ints(op, "window_strides", 2)
    dilation = _opt_ints(op, "rhs_dilation", 2)
    pads = _pairs(op.attributes["padding"] if "padding" in op.attributes else None, 2)
    x = transpose(lhs, [dn.input_batch_dimension, *spatial, dn.input_feature_dimension])  # NHWC
    x = _pad(x, [[0, 0], *pads, [0, 0]], 0)
    c_in = _shape(x)[3]
    ks = list(dn.kernel_spatial_dimensions)
    o_dim, i_dim = dn.kernel_output_feature_dimension, dn.kernel_input_feature_dimension
    c_out = _shape(rhs)[o_dim]
    common = dict(padding="VALID", stride_h=strides[0], stride_w=strides[1], dilation_h_factor=dilation[0],
                  dilation_w_factor=dilation[1], fused_activation_function="NONE")
    weight = _const_value(rhs)
    if groups == 1:
        order, name, extra = [o_dim, *ks, i_dim], "tfl.conv_2d", {}  # OHWI
    elif groups == c_in and _shape(rhs)[i_dim] == 1:
        order, name, extra = [i_dim, *ks, o_dim], "tfl.depthwise_conv_2d", {"depth_multiplier": c_out // c_in}
    else:
        raise Decline(f"grouped convolution ({groups} groups of {c_in // groups} channels) has no TFL kernel;"
                      " only plain and depthwise convolutions convert")
    quantized = T.qconst_parts(rhs)
    if quantized is not None:  # int8 filter: hybrid CONV_2D, scales along the output channels
        values, scale, axis = quantized
        values = np.ascontiguousarray(values.transpose(order))
        w = T.qconst(values, scale, None if axis is None else order.index(axis),
                     mlir.RankedTensorType.get(list(values.shape), mlir.RankedTensorType(rhs.type).element_type))
    elif weight is not None:  # the layout change goes into the constant: no TRANSPOSE at run time
        w = T.const(np.ascontiguousarray(ir.to_numpy(weight).transpose(order)))
    else:
        w = transpose(rhs, order)
    out_nhwc_shape = [_shape(op.result)[d] for d in (dn.output_batch_dimension, *dn.output_spatial_dimensions,
                                                      dn.output_feature_dimension)]
    bias = T.const(np.zeros(c_out, _dtype(op.result)))
    y = _one(name, [x, w, bias], _ttype(out_nhwc_shape, op.result), **common, **extra)
    order = [dn.output_batch_dimension, *dn.output_spatial_dimensions, dn.output_feature_dimension]
    back = [order.index(d) for d in range(4)]
    return transpose(y, back)


def _reduce_window(op):
    """2-D max pooling (max, init -inf) and sum pooling (add, init 0: an average pool times the window)."""
    if len(op.operands) != 2:
        raise Decline("a reduce_window over several tensors has no TFL form")
    x, init = op.operands
    body = list(op.regions[0].blocks[0].operations)
    kind = body[0].operation.name if len(body) == 2 else ""
    if kind not in ("stablehlo.maximum", "stablehlo.add"):
        raise Decline("only max and sum windows convert (MAX_POOL_2D, AVERAGE_POOL_2D)")
    rank = len(_shape(x))
    window = _ints(op.attributes["window_dimensions"])
    strides = _opt_ints(op, "window_strides", rank)
    if any(d != 1 for d in _opt_ints(op, "base_dilations", rank) + _opt_ints(op, "window_dilations", rank)):
        raise Decline("dilated windows have no TFL pooling form")
    pooled = [d for d in range(rank) if window[d] != 1 or strides[d] != 1]
    if rank != 4 or len(pooled) > 2:
        raise Decline("only 2-D pooling windows over rank-4 tensors convert")
    spatial = pooled if len(pooled) == 2 else sorted(set(pooled) | {d for d in (1, 2) if d not in pooled})[:2]
    rest = [d for d in range(4) if d not in spatial]
    perm = [rest[0], *spatial, rest[1]]  # NHWC with the pooled axes in the middle
    init_attr = _const_value(init)
    init_value = None if init_attr is None else ir.to_numpy(init_attr).reshape(())
    pads = _pairs(op.attributes["padding"] if "padding" in op.attributes else None, rank)
    if kind == "stablehlo.maximum":
        if init_value is None or not (np.isneginf(init_value) or init_value == np.finfo(_dtype(x)).min):
            raise Decline("a max window whose init is not -inf is not a MAX_POOL_2D")
        fill = -np.inf
    else:
        if init_value is None or init_value != 0:
            raise Decline("a sum window whose init is not 0 is not a pooling")
        fill = 0
    xt = _pad(transpose(x, perm), [pads[d] for d in perm], fill)
    out_shape = [_shape(op.result)[d] for d in perm]
    attrs = dict(padding="VALID", stride_h=strides[spatial[0]], stride_w=strides[spatial[1]],
                 filter_height=window[spatial[0]], filter_width=window[spatial[1]], fused_activation_function="NONE")
    if kind == "stablehlo.maximum":
        y = _one("tfl.max_pool_2d", [xt], _ttype(out_shape, x), **attrs)
    else:
        avg = _one("tfl.average_pool_2d", [xt], _ttype(out_shape, x), **attrs)
        count = math.prod([window[spatial[0]], window[spatial[1]]])
        y = _one("tfl.mul", [avg, T.const(np.asarray(count, _dtype(x)))], avg.type, fused_activation_function="NONE")
    return transpose(y, [perm.index(d) for d in range(4)])


RULES = {
    "stablehlo.convolution": _convolution, "stablehlo.reduce_window": _reduce_window, "stablehlo.pad": _pad_op,
    "stablehlo.reverse": _reverse, "stablehlo.optimization_barrier": _passthrough, "stablehlo.atan2": _atan2,
}
