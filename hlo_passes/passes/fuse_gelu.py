"""`fuse-gelu`: raise GELU into `odml.gelu` composites (operand x, {approximate}), the pass and its rules.

    gelu(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))      approximate = true
    gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2)))                             approximate = false

As exporters write them (after `inline-calls,fold-constants,simplify,cse` or straight from the exporter):
- JAX `jax.nn.gelu(approximate=True)`: x * (0.5 * (1 + tanh(c * (x + 0.044715 * (x * x * x)))));
- torch `F.gelu(approximate='tanh')` via torch-mlir: (1 + tanh(c * (x + 0.044715 * pow(x, 3)))) * (x * 0.5);
- JAX `jax.nn.gelu(approximate=False)`: (0.5 * x) * erfc(-x * (1/sqrt 2))   (erfc(-z) = 1 + erf(z));
- a hand-written erf form: 0.5 * x * (1 + chlo.erf(x / sqrt 2));
- torch `F.gelu()` via torch-mlir: erf is already a rational polynomial (XLA's f32 erf: z = clamp(-4, x/sqrt 2,
  4), clamp(-1, z * P(z^2) / Q(z^2), 1)); it is recognised by its structure and its coefficients.
The factors 0.5, x and (1 + ...) may be multiplied in any grouping; constants are compared within a few
units in the last place of their type (JAX rounds sqrt(2/pi) from f64, torch computes it in f32). Any other
erf polynomial (an f64 or bf16 one) is refused, naming the coefficient that differs. The decomposition is
the matched ops themselves, so inlining the composite gives back the original results bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir import chlo
from ..ir import stablehlo as hlo
from ..pass_manager import register_pass
from ..patterns.driver import PatternSet
from ..patterns.fusion import FusionPass, fusion
from ..patterns.template import Alt, Op, V
from ..patterns.vocabulary import Scalar, close_to, is_float, scalar_of

X = V("x", where=is_float)
SQRT_2_OVER_PI, SQRT_HALF, SQRT_2 = math.sqrt(2 / math.pi), math.sqrt(0.5), math.sqrt(2)


def half_x_times(t):
    """0.5 * x * t in any grouping (the matcher tries both operand orders of each multiply). `t` is written
    first: it is the distinctive part, so a multiply that is not a GELU fails at once."""
    half = Scalar(value=0.5)
    return Alt(Op(hlo.MulOp, t, Op(hlo.MulOp, X, half)),        # t * (x * 0.5)
               Op(hlo.MulOp, Op(hlo.MulOp, t, half), X),         # (t * 0.5) * x
               Op(hlo.MulOp, Op(hlo.MulOp, t, X), half))         # (t * x) * 0.5


# ---------------------------------------------------------------- tanh form
CUBE = Alt(Op(hlo.MulOp, Op(hlo.MulOp, X, X), X),                 # x * x * x
           Op(hlo.PowOp, X, Scalar(value=3)))                     # pow(x, 3)
INNER = Op(hlo.AddOp, X, Op(hlo.MulOp, Scalar(value=0.044715), CUBE))             # x + 0.044715 x^3
ONE_PLUS_TANH = Op(hlo.AddOp, Scalar(value=1),
                   Op(hlo.TanhOp, Op(hlo.MulOp, Scalar(value=SQRT_2_OVER_PI), INNER)))
GELU_TANH = half_x_times(ONE_PLUS_TANH)

# ---------------------------------------------------------------- erf form
SCALED = Alt(Op(hlo.MulOp, X, Scalar(value=SQRT_HALF)),           # x * (1/sqrt 2)
             Op(hlo.DivOp, X, Scalar(value=SQRT_2)))              # x / sqrt 2
NEG_SCALED = Alt(Op(hlo.MulOp, Op(hlo.NegOp, X), Scalar(value=SQRT_HALF)),  # -x * (1/sqrt 2)
                 Op(hlo.NegOp, SCALED),                                      # -(x / sqrt 2)
                 Op(hlo.MulOp, X, Scalar(value=-SQRT_HALF)))                # x * (-1/sqrt 2)

# XLA's f32 erf (torch-mlir writes it out): numerator and denominator coefficients of z^2, highest first
ERF_P = (-2.72614237e-10, 2.77068146e-08, -2.10102394e-06, -5.69250624e-05, -7.34990637e-04, -2.954600e-03,
         -1.60960332e-02)
ERF_Q = (-1.45660715e-05, -2.13374049e-04, -1.68282702e-03, -7.37332925e-03, -1.42647391e-02)


def horner(tag: str, n: int, z2):
    """((c0 * z2 + c1) * z2 + c2) ... + c(n-1), as the exporter nests it; the coefficients are captured as
    `{tag}0` ... and compared in `where` (`_erf_coefficients`), so a near-miss names the one that differs."""
    p = Op(hlo.MulOp, Scalar(f"{tag}0"), z2)
    for i in range(1, n):
        p = Op(hlo.AddOp, p, Scalar(f"{tag}{i}"))
        if i < n - 1:
            p = Op(hlo.MulOp, p, z2)
    return p


def _erf_coefficients(m) -> bool | str:
    """An erf polynomial must be XLA's f32 one, coefficient by coefficient (another one is another function,
    or the same one at another precision, and its error would be a different promise)."""
    for tag, want, what in (("p", ERF_P, "numerator"), ("q", ERF_Q, "denominator")):
        for i, c in enumerate(want):
            if f"{tag}{i}" in m and not close_to(got := scalar_of(m[f"{tag}{i}"]), c):
                return f"the erf polynomial's {what} coefficient {i} is {float(got):.9g}, not {c:.9g} (XLA's f32 erf)"
    return True


Z = Op(hlo.ClampOp, Scalar(value=-4), SCALED, Scalar(value=4), name="z")            # clamp(-4, x/sqrt 2, 4)
Z2 = Op(hlo.MulOp, V("z"), V("z"), name="z2")
ERF_POLY = Op(hlo.ClampOp, Scalar(value=-1),                                           # clamp(-1, z P / Q, 1)
              Op(hlo.DivOp, Op(hlo.MulOp, Z, horner("p", len(ERF_P), V("z2"))), horner("q", len(ERF_Q), Z2)),
              Scalar(value=1))
ONE_PLUS_ERF = Alt(Op(hlo.AddOp, Scalar(value=1), Alt(Op(chlo.ErfOp, SCALED), ERF_POLY)),  # 1 + erf(x/sqrt 2)
                   Op(chlo.ErfcOp, NEG_SCALED))                                           # erfc(-x/sqrt 2)
GELU_ERF = half_x_times(ONE_PLUS_ERF)


def gelu_patterns() -> PatternSet:
    return PatternSet([
        fusion("odml.gelu", GELU_TANH, inputs=["x"], attrs={"approximate": True}, name="gelu-tanh"),
        fusion("odml.gelu", GELU_ERF, inputs=["x"], attrs={"approximate": False}, name="gelu-erf",
               where=_erf_coefficients),
    ], name="fuse-gelu")


@register_pass
@dataclass(frozen=True)
class FuseGelu(FusionPass):
    """Finds GELU in its tanh and erf forms as JAX and torch-mlir export them (see the module docstring)
    and outlines each into an `odml.gelu` composite with operand x and {approximate}."""

    name = "fuse-gelu"
    summary = "raises GELU (tanh and erf forms) into odml.gelu composites"
    anchors = frozenset({"stablehlo.tanh", "chlo.erf", "chlo.erfc", "stablehlo.clamp"})

    def patterns(self) -> PatternSet:
        return gelu_patterns()
