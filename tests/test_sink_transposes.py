"""sink-transposes: random layouts keep their values and never gain a transpose; the torch-mlir Llama, Qwen2 and
Mistral exports (sdpa) lose every transpose of their entry function under `optimize` and nothing else; the work
grows linearly with the module."""

import sys

import numpy as np
import pytest
from conftest import EXAMPLES, exported_lm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.frontends import torch as ft
from hlo_passes.instrumentation import op_histogram
from hlo_passes.passes import BUILTIN_PIPELINES
from hlo_passes.patterns.outline import decomposition_names
from hlo_passes.patterns.sink import (
    compose,
    inverse,
    keeps_element_order,
    sink_transposes,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
OPTIMIZE = BUILTIN_PIPELINES["optimize"][0]
WITHOUT = OPTIMIZE.replace("sink-transposes,", "")
assert WITHOUT != OPTIMIZE


def entry_histogram(module):
    """Ops by name in the functions that are not composite decompositions."""
    skip = decomposition_names(ir.as_operation(module))
    total = op_histogram(module)
    for fn in ir.module_ops(module):
        if ir.mlir.StringAttr(fn.attributes["sym_name"]).value in skip:
            total.subtract(op_histogram(fn))
    return +total


def transposes(module) -> int:
    return op_histogram(module)["stablehlo.transpose"]


# ------------------------------------------------------------------------------------------ the algebra

def test_permutation_helpers():
    p = [2, 0, 3, 1]
    assert compose(p, inverse(p)) == [0, 1, 2, 3] and compose(inverse(p), p) == [0, 1, 2, 3]
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    q = [1, 3, 0, 2]
    assert np.array_equal(x.transpose(p).transpose(q), x.transpose(compose(p, q)))


def _chain(shape, steps):
    """Module text: reshapes/transposes `steps` from an argument of `shape`; returns (text, op list)."""
    lines, cur, shape = [], "%x", list(shape)
    for i, (kind, arg) in enumerate(steps):
        src = "x".join(map(str, shape))
        if kind == "t":
            shape = [shape[d] for d in arg]
            lines.append(f"  %{i} = stablehlo.transpose {cur}, dims = {list(arg)} : (tensor<{src}xf32>) -> "
                         f"tensor<{'x'.join(map(str, shape))}xf32>")
        else:
            shape = list(arg)
            dst = "x".join(map(str, shape))
            lines.append(f"  %{i} = stablehlo.reshape {cur} : (tensor<{src}xf32>) -> tensor<{dst}xf32>")
        cur = f"%{i}"
    out = "x".join(map(str, shape))
    return (f"func.func @main(%x: tensor<2x3x4xf32>) -> tensor<{out}xf32> {{\n" + "\n".join(lines) +
            f"\n  return {cur} : tensor<{out}xf32>\n}}\n")


@pytest.mark.parametrize("steps,identity", [
    ([("r", (1, 2, 3, 4)), ("t", (0, 2, 1, 3)), ("r", (1, 3, 2, 4)), ("t", (0, 2, 1, 3)), ("r", (24,))], True),
    ([("t", (1, 0, 2)), ("t", (1, 0, 2))], True),
    ([("r", (6, 4)), ("t", (1, 0)), ("r", (4, 6)), ("t", (1, 0)), ("r", (2, 3, 4))], True),
    ([("r", (6, 4)), ("t", (1, 0))], False),
    ([("t", (0, 2, 1)), ("r", (2, 12))], False),
    ([("r", (2, 3, 2, 2)), ("t", (0, 1, 3, 2))], False),  # splits an axis and swaps its halves
])
def test_identity_chains_by_element_order(steps, identity):
    module = ir.parse(_chain((2, 3, 4), steps))
    fn = numerics.entry_function(module)
    ops = [op.operation for op in fn.regions[0].blocks[0].operations][:-1]
    assert keeps_element_order((2, 3, 4), ops) == identity
    out = hp.run(module, "sink-transposes")
    assert (transposes(out) == 0) == identity
    assert numerics.check_same(module, out, rtol=0, atol=0)


ELEMENTWISE = ["negate", "exponential", "tanh", "abs"]


@st.composite
def layouts(draw):
    rank = draw(st.integers(2, 4))
    shape = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    perm = draw(st.permutations(range(rank)))
    unary = draw(st.sampled_from(ELEMENTWISE))
    back = draw(st.sampled_from(["inverse", "other", "none"]))
    axis = draw(st.integers(0, rank - 1))
    return shape, list(perm), unary, back, axis, draw(st.integers(0, 2 ** 16))


def _t(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


def _layout_module(shape, perm, unary, back, axis, seed):
    """transpose(x, p) and transpose(y, p) meet through an elementwise op, a constant, a concatenate and a
    slice, then leave through a transpose by p^-1, by another permutation, or at the return."""
    tshape = [shape[d] for d in perm]
    const = np.random.default_rng(seed).standard_normal(tshape).astype(np.float32)
    doubled = [2 * n if d == axis else n for d, n in enumerate(tshape)]
    cut = [n + 1 if d == axis else n for d, n in enumerate(tshape)]  # the first half and one more row
    literal = np.array2string(const, separator=", ", threshold=10 ** 6, floatmode="unique")
    body = [
        f"  %c = stablehlo.constant dense<{literal}> : {_t(tshape)}",
        f"  %tx = stablehlo.transpose %x, dims = {perm} : ({_t(shape)}) -> {_t(tshape)}",
        f"  %ty = stablehlo.transpose %y, dims = {perm} : ({_t(shape)}) -> {_t(tshape)}",
        f"  %0 = stablehlo.{unary} %tx : {_t(tshape)}",
        f"  %1 = stablehlo.multiply %0, %c : {_t(tshape)}",
        f"  %2 = stablehlo.concatenate %1, %ty, dim = {axis} : ({_t(tshape)}, {_t(tshape)}) -> {_t(doubled)}",
        f"  %3 = stablehlo.slice %2 [{', '.join(f'0:{n}' for n in cut)}] : ({_t(doubled)}) -> {_t(cut)}",
    ]
    if back == "none":
        result = cut
        body.append(f"  return %3 : {_t(result)}")
    else:
        q = inverse(perm) if back == "inverse" else list(reversed(range(len(perm))))
        result = [cut[d] for d in q]
        body.append(f"  %4 = stablehlo.transpose %3, dims = {q} : ({_t(cut)}) -> {_t(result)}")
        body.append(f"  return %4 : {_t(result)}")
    return f"func.func @main(%x: {_t(shape)}, %y: {_t(shape)}) -> {_t(result)} {{\n" + "\n".join(body) + "\n}\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_random_layouts_keep_values_and_never_gain_transposes(case):
    module = ir.parse(_layout_module(*case))
    out = hp.run(module, "sink-transposes")
    assert transposes(out) <= transposes(module)
    if case[3] == "inverse" and case[1] != sorted(case[1]):
        assert transposes(out) == 0  # both entries meet the inverse: all three go
    assert numerics.check_same(module, out, rtol=0, atol=0)


@st.composite
def programs(draw):
    """Straight-line programs over two transposed arguments and one that is not: elementwise ops, constants,
    broadcasts, compare/select with a scalar or full predicate, slice+concatenate, and outputs that leave
    through a transpose (inverse or not) or directly."""
    rank = draw(st.integers(2, 4))
    shape = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    perm = list(draw(st.permutations(range(rank))))
    ts = [shape[d] for d in perm]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    lines = [f"  %v0 = stablehlo.transpose %x, dims = {perm} : ({_t(shape)}) -> {_t(ts)}",
             f"  %v1 = stablehlo.transpose %y, dims = {perm} : ({_t(shape)}) -> {_t(ts)}",
             f"  %v2 = stablehlo.add %z, %z : {_t(ts)}"]
    n = 3
    for _ in range(draw(st.integers(2, 7))):
        a, b = f"%v{draw(st.integers(0, n - 1))}", f"%v{draw(st.integers(0, n - 1))}"
        kind = draw(st.sampled_from(["unary", "binary", "const", "bcast", "select", "select0", "split"]))
        out = f"%v{n}"
        if kind == "unary":
            lines.append(f"  {out} = stablehlo.{draw(st.sampled_from(ELEMENTWISE))} {a} : {_t(ts)}")
        elif kind == "binary":
            op = draw(st.sampled_from(["add", "multiply", "maximum"]))
            lines.append(f"  {out} = stablehlo.{op} {a}, {b} : {_t(ts)}")
        elif kind == "const":
            c = rng.standard_normal(ts).astype(np.float32)
            lit = np.array2string(c, separator=", ", threshold=10 ** 6, floatmode="unique")
            lines.append(f"  %c{n} = stablehlo.constant dense<{lit}> : {_t(ts)}")
            lines.append(f"  {out} = stablehlo.subtract {a}, %c{n} : {_t(ts)}")
        elif kind == "bcast":  # the last dim of %w, broadcast along the others
            lines.append(f"  %b{n} = stablehlo.broadcast_in_dim %w{rank}, dims = [{rank - 1}] : "
                         f"(tensor<{ts[-1]}xf32>) -> {_t(ts)}")
            lines.append(f"  {out} = stablehlo.multiply {a}, %b{n} : {_t(ts)}")
        elif kind == "select":
            pred = _t(ts).replace("f32", "i1")
            lines.append(f"  %p{n} = stablehlo.compare GT, {a}, {b} : ({_t(ts)}, {_t(ts)}) -> {pred}")
            lines.append(f"  {out} = stablehlo.select %p{n}, {a}, {b} : {pred}, {_t(ts)}")
        elif kind == "select0":
            lines.append(f"  {out} = stablehlo.select %s, {a}, {b} : tensor<i1>, {_t(ts)}")
        else:  # the front of a and the back of b along one axis
            axis = draw(st.integers(0, rank - 1))
            cut = draw(st.integers(0, ts[axis]))
            head = [cut if d == axis else m for d, m in enumerate(ts)]
            tail = [m - cut if d == axis else m for d, m in enumerate(ts)]
            starts = [cut if d == axis else 0 for d in range(rank)]
            front = ", ".join(f"0:{c}" for c in head)
            back = ", ".join(f"{c}:{m}" for c, m in zip(starts, ts))
            lines.append(f"  %h{n} = stablehlo.slice {a} [{front}] : ({_t(ts)}) -> {_t(head)}")
            lines.append(f"  %t{n} = stablehlo.slice {b} [{back}] : ({_t(ts)}) -> {_t(tail)}")
            lines.append(f"  {out} = stablehlo.concatenate %h{n}, %t{n}, dim = {axis} : "
                         f"({_t(head)}, {_t(tail)}) -> {_t(ts)}")
        n += 1
    results, types = [], []
    for k in sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3)))):
        how = draw(st.sampled_from(["inverse", "other", "none"]))
        if how == "none":
            results.append(f"%v{k}")
            types.append(_t(ts))
            continue
        q = inverse(perm) if how == "inverse" else list(draw(st.permutations(range(rank))))
        rs = [ts[d] for d in q]
        lines.append(f"  %o{k} = stablehlo.transpose %v{k}, dims = {q} : ({_t(ts)}) -> {_t(rs)}")
        results.append(f"%o{k}")
        types.append(_t(rs))
    args = f"%x: {_t(shape)}, %y: {_t(shape)}, %z: {_t(ts)}, %w{rank}: tensor<{ts[-1]}xf32>, %s: tensor<i1>"
    return (f"func.func @main({args}) -> ({', '.join(types)}) {{\n" + "\n".join(lines) +
            f"\n  return {', '.join(results)} : {', '.join(types)}\n}}\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs_keep_values_and_never_gain_transposes(text):
    module = ir.parse(text)
    out = hp.run(module, "sink-transposes")
    assert transposes(out) <= transposes(module)
    assert numerics.check_same(module, out, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------- scaling

ROTARY_LAYER = """
  %t{i} = stablehlo.transpose %h{i}, dims = [0, 2, 1, 3] : (tensor<1x8x4x16xf32>) -> tensor<1x4x8x16xf32>
  %cos{i} = stablehlo.broadcast_in_dim %cos, dims = [0, 2, 3] : (tensor<1x8x16xf32>) -> tensor<1x4x8x16xf32>
  %sin{i} = stablehlo.broadcast_in_dim %sin, dims = [0, 2, 3] : (tensor<1x8x16xf32>) -> tensor<1x4x8x16xf32>
  %m{i} = stablehlo.multiply %t{i}, %cos{i} : tensor<1x4x8x16xf32>
  %a{i} = stablehlo.slice %t{i} [0:1, 0:4, 0:8, 0:8] : (tensor<1x4x8x16xf32>) -> tensor<1x4x8x8xf32>
  %b{i} = stablehlo.slice %t{i} [0:1, 0:4, 0:8, 8:16] : (tensor<1x4x8x16xf32>) -> tensor<1x4x8x8xf32>
  %n{i} = stablehlo.negate %b{i} : tensor<1x4x8x8xf32>
  %c{i} = stablehlo.concatenate %n{i}, %a{i}, dim = 3 : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x16xf32>
  %s{i} = stablehlo.multiply %c{i}, %sin{i} : tensor<1x4x8x16xf32>
  %r{i} = stablehlo.add %m{i}, %s{i} : tensor<1x4x8x16xf32>
  %u{i} = stablehlo.transpose %r{i}, dims = [0, 2, 1, 3] : (tensor<1x4x8x16xf32>) -> tensor<1x8x4x16xf32>
  %v{i} = stablehlo.transpose %h{i}, dims = [0, 2, 1, 3] : (tensor<1x8x4x16xf32>) -> tensor<1x4x8x16xf32>
  %d{i} = stablehlo.dot_general %v{i}, %wt, batching_dims = [0, 1] x [0, 1], contracting_dims = [3] x [2] : (tensor<1x4x8x16xf32>, tensor<1x4x16x16xf32>) -> tensor<1x4x8x16xf32>
  %e{i} = stablehlo.reshape %d{i} : (tensor<1x4x8x16xf32>) -> tensor<1x8x4x16xf32>
  %h{j} = stablehlo.add %u{i}, %e{i} : tensor<1x8x4x16xf32>
"""


def _layers(n: int) -> str:
    """n rotary blocks in a row. In each, the rotary region pays; a second transpose of the layer input feeds
    a dot, so growing from it does not pay (and must not be tried again and again)."""
    body = "".join(ROTARY_LAYER.format(i=i, j=i + 1) for i in range(n))
    return ("func.func @main(%h0: tensor<1x8x4x16xf32>, %cos: tensor<1x8x16xf32>, %sin: tensor<1x8x16xf32>, "
            "%wt: tensor<1x4x16x16xf32>) -> tensor<1x8x4x16xf32> {\n" + body +
            f"  return %h{n} : tensor<1x8x4x16xf32>\n}}\n")


def test_work_is_linear_in_the_layers():
    small, large = ir.parse(_layers(25)), ir.parse(_layers(100))
    counts = [sink_transposes([numerics.entry_function(m)]) for m in (small, large)]
    assert counts[0]["regions"] == 25 and counts[1]["regions"] == 100
    assert transposes(small) == 25 and transposes(large) == 100  # what is left: the dots' inputs
    assert counts[1]["ops examined"] <= 4 * counts[0]["ops examined"] + 10, counts
    check = ir.parse(_layers(3))
    assert numerics.check_same(check, hp.run(check, "sink-transposes"), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------------- models

def _model_case(family):
    if family == "mistral":
        return ft.export_causal_lm(ft.tiny_mistral())
    return exported_lm(family, "sdpa")[1:]  # shared with the other model tests


@pytest.mark.parametrize("family", ["llama", "qwen2", "mistral"])
def test_torch_decoders_lose_every_transpose_of_their_entry_function(family):
    text, ids, logits = _model_case(family)
    before = hp.run(ir.parse(text), WITHOUT)
    after = hp.run(before, OPTIMIZE[OPTIMIZE.index("sink-transposes"):])  # the rest of optimize
    hb, ha = entry_histogram(before), entry_histogram(after)
    assert hb["stablehlo.transpose"] == 12 and ha["stablehlo.transpose"] == 0  # 6 per layer, 2 layers
    assert hb["stablehlo.reshape"] - ha["stablehlo.reshape"] == 4  # the identity chains' middle reshapes
    for name in set(hb) | set(ha):  # nothing else changes
        if name not in ("stablehlo.transpose", "stablehlo.reshape"):
            assert ha[name] == hb[name], name
    assert np.abs(numerics.execute(after, [ids])[0] - logits).max() <= 1e-5  # torch's logits


def test_jax_decoder_keeps_no_transpose():
    sys.path.insert(0, str(EXAMPLES))
    from transformer import transformer_text

    module = ir.parse(transformer_text(2))
    out = hp.run(module, OPTIMIZE)
    fn = numerics.entry_function(out)
    found = []
    fn.operation.walk(lambda op: (found.append(op) if op.name == "stablehlo.transpose" else None)
                      or ir.mlir.WalkResult.ADVANCE)
    assert not found  # embed.T for the logits: simplify lets the LM-head dot read embed itself
    inputs = numerics.random_inputs(module, 0)
    assert numerics.check_same(module, out, inputs=inputs, rtol=1e-5, atol=1e-5)
