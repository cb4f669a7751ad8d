"""`fuse-layer-norm`: raise LayerNorm into `odml.layer_norm` composites (operands x, weight, bias; {epsilon}),
the name and form LiteRT's own code uses. The pass and its rules.

    y = (x - mean(x)) * rsqrt(var(x) + eps) * weight + bias        (over the last axis)

As exporters write it (straight from the exporter or after `inline-calls,fold-constants,simplify,cse`):
- torch `nn.LayerNorm` via torch-mlir: the mean in f32, the variance in f64 (mean((x' - mean(x'))^2) with
  x' = f64(x), converted back), `(x - mean) * rsqrt(var + eps) * w + b`; with fold-constants the weight and
  bias are constants of x's shape with equal rows;
- hand-written JAX: var = mean((x - m)^2), or E[x^2] - m^2 (clipped at 0, as flax writes it), the weight
  applied to the normalized x or folded into the rsqrt first (`(x - m) * (rsqrt(var + eps) * w) + b`);
- x / sqrt(var + eps) instead of x * rsqrt(...).
Without a bias the composite gets zeros, without a weight ones (the decomposition does not read them): one
composite form for LiteRT, whatever the model had. LayerNorm over more than the last axis is refused. Every
`where` checks what the template cannot: the sums are over the last axis and divided by its size, each row
statistic meets x as one value per row, weight and bias are one value per feature. Because fuse-rms-norm
would otherwise take `rms_norm(x - mean)` out of a LayerNorm (exact but surprising), `optimize` runs this
pass first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import chlo
from ..ir import stablehlo as hlo
from ..pass_manager import register_pass
from ..patterns import values as vals
from ..patterns.driver import PatternSet
from ..patterns.fusion import FusionPass, Operand, fusion
from ..patterns.template import Alt, Op, Opt, V
from ..patterns.vocabulary import (Mean, Plumbed, Scalar, check_mean, describe, float_bits, is_float, per_feature,
                                   per_row, row_adapter, scalar_of)

X = V("x", where=is_float)


def square(t):
    return Alt(Op(hlo.MulOp, t, t), Op(hlo.PowOp, t, Scalar(value=2)), Op(chlo.SquareOp, t))


MEAN_X = Plumbed(Alt(*[Op(o.cls, *o.operands, name="mean") for o in Mean(X, "m").options]))
CENTERED = Op(hlo.SubtractOp, X, MEAN_X, name="centered")                                     # x - mean(x)
VAR_CENTERED = Opt(hlo.ConvertOp, Mean(square(Op(hlo.SubtractOp, V("xv"), Plumbed(Mean(V("xv"), "vm")),
                                                  name="vcentered")), "v"))                   # mean((x - m)^2)
VAR_MOMENTS = Op(hlo.SubtractOp, Mean(square(X), "v"), square(MEAN_X))                       # E[x^2] - m^2
VAR = Alt(VAR_CENTERED, VAR_MOMENTS, Op(hlo.MaxOp, VAR_MOMENTS, Scalar(value=0)))
PLUS_EPS = Plumbed(Op(hlo.AddOp, Plumbed(VAR), V("eps")))  # eps checked in where: a clearer near-miss
INV = Plumbed(Op(hlo.RsqrtOp, PLUS_EPS, name="inv"))
NORMED = Alt(Op(hlo.MulOp, CENTERED, INV, name="norm"),                                      # (x - m) * rsqrt
             Op(hlo.DivOp, CENTERED, Plumbed(Op(hlo.SqrtOp, PLUS_EPS, name="inv")), name="norm"))  # (x - m) / sqrt
WEIGHTED = Alt(Op(hlo.MulOp, NORMED, V("wv"), name="weighted"),                              # normed * w
               Op(hlo.MulOp, CENTERED, Op(hlo.MulOp, INV, V("wv"), name="scale"), name="norm"))  # (x-m) * (r * w)


def _factor(m):
    """The x-shaped row statistic that meets (x - mean): rsqrt(var + eps) broadcast (or sqrt for a divide)."""
    if "scale" in m:
        scale = m.op("scale")
        return next(o for o in scale.operands if o != m["wv"])
    norm = m.op("norm")
    return next(o for o in norm.operands if o != m["centered"])


def _fusable(m) -> bool | str:
    x = m["x"]
    shape = vals.shape(x)
    if not shape:
        return "x is a scalar"
    for tag in ("m", "v", "vm"):
        if f"{tag}sum" in m and (ok := check_mean(m, shape, tag)) is not True:
            return ok
    if "xv" in m:  # the variance's own centered x: x, or x upcast (torch-mlir computes it in f64)
        xv = m["xv"]
        up = vals.defining_op(xv)
        if xv != x and not (up is not None and up.name == "stablehlo.convert" and up.operands[0] == x
                            and float_bits(xv) >= float_bits(x)):
            return f"the variance is not of x but of {describe(xv)}"
        if (ok := per_row(next(o for o in m.op("vcentered").operands if o != xv), m.op("vmsum"), shape)) is not True:
            return ok
    if (ok := per_row(next(o for o in m.op("centered").operands if o != x), m.op("msum"), shape)) is not True:
        return ok
    if (ok := per_row(_factor(m), m.op("vsum"), shape)) is not True:
        return ok
    if (eps := scalar_of(m["eps"])) is None or float(eps) < 0:
        return f"epsilon is not a non-negative constant but {describe(m['eps'])}"
    m.memo["eps"] = float(eps)
    m.memo["adapters"] = {}
    for key, name in (("wv", "w"), ("bv", "b")):
        if key in m:
            v, row, why = per_feature(m[key], shape)
            if v is None:
                return f"the {'weight' if key == 'wv' else 'bias'}: {why}"
            m.memo[name] = v
            if row is not None:
                m.memo["adapters"][name] = row_adapter(v, row)
    return True


INPUTS = ["x", Operand("w", missing=1.0), Operand("b", missing=0.0)]


def _attrs(m) -> dict:
    return {"epsilon": m.memo["eps"]}


def layer_norm_patterns() -> PatternSet:
    def rule(name, template, benefit):
        return fusion("odml.layer_norm", template, inputs=INPUTS, attrs=_attrs, where=_fusable, name=name,
                      benefit=benefit)

    return PatternSet([
        rule("layer-norm", Op(hlo.AddOp, WEIGHTED, V("bv")), 4),              # normed * w + b
        rule("layer-norm-no-bias", WEIGHTED, 3),                               # normed * w
        rule("layer-norm-no-weight", Op(hlo.AddOp, NORMED, V("bv")), 2),      # normed + b
        rule("layer-norm-plain", NORMED, 1),                                   # (x - m) * rsqrt(var + eps)
    ], name="fuse-layer-norm")


@register_pass
@dataclass(frozen=True)
class FuseLayerNorm(FusionPass):
    """Finds (x - mean) * rsqrt(var + eps) * w + b over the last axis as torch-mlir and JAX export it (see the
    module docstring) and outlines each into an `odml.layer_norm` composite with operands (x, w, b) and
    {epsilon}; a missing weight or bias is passed as ones or zeros."""

    name = "fuse-layer-norm"
    summary = "raises LayerNorm subgraphs into odml.layer_norm composites"

    def patterns(self) -> PatternSet:
        return layer_norm_patterns()
