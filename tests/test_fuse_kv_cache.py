"""fuse-kv-cache-update on modules exported for real: JAX functions (jax.jit(...).lower(...)) and torch modules
(hlo_passes.frontends.torch.export_torch) that write a KV cache in every way they can.

For each: the number of `odml.update_kv_cache` composites, their attributes, the same results on XLA CPU
before and after for random caches, updates and random in-range positions, the same results again once
every composite is inlined back to its decomposition (which must be one dynamic_update_slice), and a second
run of the pass that changes nothing (no composite nested in a decomposition). Non-writes stay, with reasons.
"""

import functools

import numpy as np
import pytest

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.ir import mlir
from hlo_passes.pass_manager import PassContext
from hlo_passes.passes.fuse_kv_cache_update import FuseKvCacheUpdate
from hlo_passes.patterns import explain
from hlo_passes.patterns.kv_cache import NAME, kv_cache_patterns
from hlo_passes.patterns.outline import inline_block

pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")
B, S, N, H, T = 1, 16, 2, 4, 3


def ops_named(module, name):
    found = []
    ir.as_operation(module).walk(lambda op: (found.append(op) if op.name == name else None)
                                 or mlir.WalkResult.ADVANCE)
    return found


def composites(module):
    return [op for op in ops_named(module, "stablehlo.composite")
            if mlir.StringAttr(op.attributes["name"]).value == NAME]


def fuse(module, **options):
    """The pass on a copy; returns (module, composites created)."""
    out, ctx = ir.clone(module), PassContext()
    with out.context:
        FuseKvCacheUpdate(**options).run(out, ctx)
    out.verify()
    return out, ctx.statistics["composites created"]


def inline_composites(module):
    """A copy with every composite replaced by its decomposition's body: what a runtime without a kernel
    for the composite runs."""
    out = ir.clone(module)
    funcs = {mlir.StringAttr(f.attributes["sym_name"]).value: f for f in ir.module_ops(out)}
    for comp in ops_named(out, "stablehlo.composite"):
        body = funcs[mlir.FlatSymbolRefAttr(comp.attributes["decomposition"]).value].regions[0].blocks[0]
        with mlir.InsertionPoint(comp):
            results = inline_block(body, list(comp.operands))
        for old, new in zip(comp.results, results):
            old.replace_all_uses_with(new)
        comp.erase()
    out.verify()
    return out


def random_args(module, seed, position_args=(), room=T):
    """Seeded random inputs; the arguments in `position_args` get a random start in [0, S - room]."""
    args = numerics.random_inputs(module, seed)
    rng = np.random.default_rng(1000 + seed)
    for i in position_args:
        args[i] = np.full(args[i].shape, rng.integers(0, S - room + 1), args[i].dtype)
    return args


def check_fusion(text, expected, position_args=(), room=T, seeds=3, seq_dim=1):
    """The checks every positive case shares; returns the fused module."""
    module = ir.parse(text)
    fused, created = fuse(module)
    assert created == expected == len(composites(fused)), ir.to_text(fused)
    for comp in composites(fused):
        attrs = mlir.DictAttr(comp.attributes["composite_attributes"])
        assert mlir.IntegerAttr(attrs["kv_cache_max"]).value == S
        assert mlir.IntegerAttr(attrs["seq_dim"]).value == seq_dim
        assert len(comp.operands) == 3 and mlir.ShapedType(comp.operands[1].type).rank == 0  # cache, pos, update
    inlined = inline_composites(fused)
    assert not ops_named(inlined, "stablehlo.composite") and not ops_named(inlined, "stablehlo.scatter")
    assert len(ops_named(inlined, "stablehlo.dynamic_update_slice")) >= expected
    for seed in range(seeds):
        args = random_args(module, seed, position_args, room)
        (want, *rest) = numerics.execute(module, args)
        for candidate in (fused, inlined):
            got = numerics.execute(candidate, args)
            assert numerics.compare(got, [want, *rest], rtol=0, atol=0), f"seed {seed}"
    again, created_again = fuse(fused)
    assert created_again == 0 and ir.to_text(again) == ir.to_text(fused)
    for f in ir.module_ops(fused):  # decompositions hold a dynamic_update_slice, never a composite
        if mlir.StringAttr(f.attributes["sym_name"]).value.startswith(NAME):
            assert not ops_named(f, "stablehlo.composite") and ops_named(f, "stablehlo.dynamic_update_slice")
    return fused


# ---------------------------------------------------------------------------------------------------- JAX

def jax_text(fn, *shapes):
    import jax

    with jax.enable_x64(False):  # scoped: numerics needs x64 on for i64 inputs elsewhere in the process
        specs = [jax.ShapeDtypeStruct(s, d) for s, d in shapes]
        return jax.jit(fn).lower(*specs).as_text()


CACHE, NEW, POS = ((B, S, N, H), np.float32), ((B, T, N, H), np.float32), ((), np.int32)


def _jax_cases():
    import jax.numpy as jnp
    from jax import lax

    return {
        # name: (function, argument shapes, composites, position arguments, rows written, seq_dim)
        "lax.dynamic_update_slice": (lambda c, n, p: lax.dynamic_update_slice(c, n, (0, p, 0, 0)),
                                     (CACHE, NEW, POS), 1, [2], T, 1),
        "dynamic_update_slice_in_dim bnsh": (lambda c, n, p: lax.dynamic_update_slice_in_dim(c, n, p, axis=2),
                                             (((B, N, S, H), np.float32), ((B, N, T, H), np.float32), POS),
                                             1, [2], T, 2),
        ".at[:, 3:6].set": (lambda c, n: c.at[:, 3:3 + T].set(n), (CACHE, NEW), 1, [], T, 1),
        ".at[:, pos].set": (lambda c, r, p: c.at[:, p].set(r), (CACHE, ((B, N, H), np.float32), POS), 1, [2], 1, 1),
        ".at[:, pos + arange].set": (lambda c, n, p: c.at[:, p + jnp.arange(T)].set(n), (CACHE, NEW, POS),
                                     1, [2], T, 1),
        "k and v, bf16": (lambda k, v, kn, vn, p: (lax.dynamic_update_slice(k, kn, (0, p, 0, 0)),
                                                   v.at[:, p + jnp.arange(T)].set(vn)),
                          (((B, S, N, H), jnp.bfloat16),) * 2 + (((B, T, N, H), jnp.bfloat16),) * 2 + (POS,),
                          2, [4], T, 1),
        # K and V stacked, [2, B, S, N, H]: one write of both per layer
        "stacked k and v": (lambda c, n, p: lax.dynamic_update_slice(c, n, (0, 0, p, 0, 0)),
                            (((2, B, S, N, H), np.float32), ((2, B, T, N, H), np.float32), POS), 1, [2], T, 2),
        "stacked .at[:, :, pos + arange].set": (lambda c, n, p: c.at[:, :, p + jnp.arange(T)].set(n),
                                                (((2, B, S, N, H), np.float32), ((2, B, T, N, H), np.float32), POS),
                                                1, [2], T, 2),
    }


@pytest.mark.parametrize("case", list(_jax_cases()))
def test_jax_writes(case):
    fn, shapes, expected, positions, room, seq_dim = _jax_cases()[case]
    check_fusion(jax_text(fn, *shapes), expected, positions, room, seq_dim=seq_dim)


def test_jax_decode_step_with_attention():
    """A decode step as JAX code writes it: both caches updated at `pos`, then attention over them."""
    import jax
    import jax.numpy as jnp

    def step(k_cache, v_cache, q, k, v, pos):
        k_cache = jax.lax.dynamic_update_slice(k_cache, k, (0, pos, 0, 0))
        v_cache = jax.lax.dynamic_update_slice(v_cache, v, (0, pos, 0, 0))
        scores = jnp.einsum("bqnh,bsnh->bnqs", q, k_cache) / np.sqrt(H)
        mask = jnp.arange(S)[None, None, None, :] <= pos
        probs = jax.nn.softmax(jnp.where(mask, scores, -1e9), axis=-1)
        return jnp.einsum("bnqs,bsnh->bqnh", probs, v_cache), k_cache, v_cache

    one = ((B, 1, N, H), np.float32)
    check_fusion(jax_text(step, CACHE, CACHE, one, one, one, POS), 2, [5], room=1)


def test_dynamic_positions_option():
    """Without dynamic-positions only constant-position scatters (and every dynamic_update_slice) fuse."""
    cases = _jax_cases()
    for name, want in [(".at[:, pos + arange].set", 0), (".at[:, pos].set", 0), (".at[:, 3:6].set", 1),
                       ("lax.dynamic_update_slice", 1)]:
        fn, shapes, *_ = cases[name]
        _, created = fuse(ir.parse(jax_text(fn, *shapes)), dynamic_positions=False)
        assert created == want, name


# -------------------------------------------------------------------------------------------------- torch

@functools.lru_cache(maxsize=None)
def _torch_modules():
    import torch

    class IndexCopy(torch.nn.Module):
        def __init__(self, dim=1, inplace=False):
            super().__init__()
            self.dim, self.inplace = dim, inplace

        def forward(self, cache, new, pos):
            positions = pos + torch.arange(new.shape[self.dim])
            if self.inplace:
                cache = cache.clone()
                cache.index_copy_(self.dim, positions, new)
                return cache
            return cache.index_copy(self.dim, positions, new)

    class IndexPut(torch.nn.Module):
        def forward(self, cache, new, pos):
            cache = cache.clone()
            cache[:, pos + torch.arange(new.shape[1])] = new
            return cache

    class SliceAssign(torch.nn.Module):  # c[:, :, 5:8] = new on [B, N, S, H]
        def forward(self, cache, new):
            cache = cache.clone()
            cache[:, :, 5:5 + new.shape[2]] = new
            return cache

    class AtPositions(torch.nn.Module):  # the positions are an input: only provable for one position
        def forward(self, cache, new, positions):
            return cache.index_copy(1, positions, new)

    class Constant(torch.nn.Module):
        def __init__(self, positions, add=False):
            super().__init__()
            self.positions, self.add = positions, add

        def forward(self, cache, new):
            idx = torch.tensor(self.positions)
            return cache.index_add(1, idx, new) if self.add else cache.index_copy(1, idx, new)

    class KVBuffers(torch.nn.Module):  # a cache held by the module, as ai-edge-torch's KVCache did
        def __init__(self):
            super().__init__()
            self.register_buffer("k_cache", torch.zeros(B, S, N, H))
            self.register_buffer("v_cache", torch.zeros(B, S, N, H))

        def forward(self, k, v, pos):
            positions = pos + torch.arange(k.shape[1])
            return self.k_cache.index_copy(1, positions, k), self.v_cache.index_copy(1, positions, v)

    bsnh, bnsh = (torch.zeros(B, S, N, H), torch.ones(B, T, N, H)), (torch.zeros(B, N, S, H), torch.ones(B, N, T, H))
    pos = torch.tensor(2)
    return {  # name: (module, example args, composites, position arguments, rows written, seq_dim)
        "index_copy": (IndexCopy(), (*bsnh, pos), 1, [2], T, 1),
        "index_copy_ bnsh": (IndexCopy(2, inplace=True), (*bnsh, pos), 1, [2], T, 2),
        "index_copy batch 2": (IndexCopy(), (torch.zeros(2, S, N, H), torch.ones(2, T, N, H), pos), 1, [2], T, 1),
        "index_put": (IndexPut(), (*bsnh, pos), 1, [2], T, 1),
        "slice assignment": (SliceAssign(), bnsh, 1, [], T, 2),
        "constant positions": (Constant([4, 5, 6]), bsnh, 1, [], T, 1),
        "decode at an input position": (AtPositions(), (bsnh[0], torch.ones(B, 1, N, H), torch.tensor([3])),
                                        1, [2], 1, 1),
        "k and v buffers": (KVBuffers(), (torch.ones(B, T, N, H), torch.ones(B, T, N, H), pos), 2, [2], T, 1),
        # not cache writes, or not provably contiguous ones
        "non-contiguous": (Constant([5, 7, 6]), bsnh, 0, [], T, 1),
        "index_add": (Constant([4, 5, 6], add=True), bsnh, 0, [], T, 1),
        "runtime positions": (AtPositions(), (*bsnh, torch.tensor([3, 4, 5])), 0, [], T, 1),
    }


@functools.lru_cache(maxsize=None)
def torch_text(name):
    from hlo_passes.frontends.torch import export_torch

    module, args, *_ = _torch_modules()[name]
    return export_torch(module.eval(), *args)


POSITIVE = ["index_copy", "index_copy_ bnsh", "index_copy batch 2", "index_put", "slice assignment",
            "constant positions", "decode at an input position", "k and v buffers"]


@pytest.mark.parametrize("cleanup", ["", "fold-constants,simplify,cse"])
@pytest.mark.parametrize("name", POSITIVE)
def test_torch_writes(name, cleanup):
    """As torch-mlir writes them (a point scatter over iota/concatenate indices), and once cleaned up."""
    _, _, expected, positions, room, seq_dim = _torch_modules()[name]
    text = torch_text(name)
    if cleanup:
        text = ir.to_text(hp.run(ir.parse(text), cleanup))
    check_fusion(text, expected, positions, room, seq_dim=seq_dim)


@pytest.mark.parametrize("name,why", [
    ("non-contiguous", "not one contiguous increasing run (axis 1: [5, 7, 6])"),
    ("index_add", "combines, not overwrites"),
    ("runtime positions", "runtime tensor of shape [3]: nothing proves them contiguous"),
])
def test_torch_non_writes_stay(name, why):
    module = ir.parse(torch_text(name))
    fused, created = fuse(module)
    assert created == 0 and not composites(fused)
    assert ir.to_text(fused) == ir.to_text(module)
    scatter = kv_cache_patterns().patterns[1]
    assert any(why in line for line in explain(scatter, module)), explain(scatter, module)


def test_scatter_equals_dynamic_update_slice_everywhere_in_range():
    """The scatter-to-DUS proof, checked exhaustively: every start a 3-row write can have in the cache."""
    text = torch_text("index_copy")
    module = ir.parse(text)
    fused, _ = fuse(module)
    rng = np.random.default_rng(7)
    for start in range(S - T + 1):
        args = [rng.standard_normal((B, S, N, H)).astype(np.float32),
                rng.standard_normal((B, T, N, H)).astype(np.float32), np.array(start, np.int64)]
        assert numerics.compare(numerics.execute(fused, args), numerics.execute(module, args), rtol=0, atol=0)


def test_writes_inside_a_decode_loop_fuse():
    """optimize inlines JAX's loop body into a stablehlo.while; the fusion walk looks inside loops."""
    import jax

    def decode(cache, rows):
        def body(i, c):
            return jax.lax.dynamic_update_slice(c, rows[i][None, None], (0, i, 0, 0))
        return jax.lax.fori_loop(0, 4, body, cache)

    text = jax.jit(decode).lower(np.zeros((1, 8, 2, 4), np.float32), np.ones((4, 2, 4), np.float32)).as_text()
    module = ir.parse(text)
    out = hp.run(module, "optimize")
    assert ir.to_text(out).count('stablehlo.composite "odml.update_kv_cache"') == 1
    assert "stablehlo.while" in ir.to_text(out)
    assert numerics.check_same(module, out, rtol=0, atol=0)
